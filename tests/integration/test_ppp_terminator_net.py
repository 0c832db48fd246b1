"""The PPP terminator driven by the real network driver (NetDriver) to
servers on 127.0.0.1: the client's TCP, UDP and DNS go through real host
sockets, policy included. The client is the test-side one of
tests/core/ppp_ip_fakes.py; the clock is the event loop's."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "core"))

from ppp_ip_fakes import Client, Wire, udp_packet
from runtime_fakes import RecordingNet

from sim800emu.core.events import (
    Close,
    Connect,
    Connected,
    PeerClosed,
    Received,
    Request,
    Result,
    Send,
    SendFailed,
    Shutdown,
)
from sim800emu.core.ppp.terminator import Terminator
from sim800emu.net.config import NetConfig, parse_network
from sim800emu.net.driver import NetDriver

MiB = 1 << 20
ALIAS = "10.0.2.2"


def aio(fn: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        asyncio.run(asyncio.wait_for(fn(*args, **kwargs), 30.0))

    return wrapper


class LoopHost:
    """``PppHost`` on a real event loop and the real network driver."""

    def __init__(self, config: NetConfig) -> None:
        self.loop = asyncio.get_running_loop()
        self.driver = NetDriver(config, self._deliver, self.loop)
        self.timers: dict[str, asyncio.TimerHandle] = {}
        self.socks: dict[int, Callable[[Result], None]] = {}
        self.queries: dict[int, Callable[[Result], None]] = {}
        self.requests: list[Request] = []
        self._ids = 0
        self.changed = asyncio.Event()

    @property
    def now(self) -> float:
        return self.loop.time()

    def start_timer(self, key: str, delay: float, action: Callable[[], None]) -> None:
        self.cancel_timer(key)
        self.timers[key] = self.loop.call_later(delay, self._fire, key, action)

    def _fire(self, key: str, action: Callable[[], None]) -> None:
        self.timers.pop(key, None)
        action()
        self.changed.set()

    def cancel_timer(self, key: str) -> None:
        handle = self.timers.pop(key, None)
        if handle is not None:
            handle.cancel()

    def new_sock(self) -> int:
        self._ids += 1
        return self._ids

    new_query = new_sock

    def own_sock(self, sock: int, owner: Callable[[Result], None]) -> None:
        self.socks[sock] = owner

    def disown_sock(self, sock: int) -> None:
        self.socks.pop(sock, None)

    def own_query(self, query: int, owner: Callable[[Result], None]) -> None:
        self.queries[query] = owner

    def disown_query(self, query: int) -> None:
        self.queries.pop(query, None)

    def request(self, req: Request) -> None:
        self.requests.append(req)
        self.driver.submit(req)

    def _deliver(self, res: Result) -> None:
        owner = self.socks.get(getattr(res, "sock", 0)) or self.queries.get(
            getattr(res, "query", 0)
        )
        if owner is not None:
            owner(res)
        self.changed.set()

    async def until(
        self, cond: Callable[[], bool], pump: Callable[[], object], t: float = 20.0
    ) -> None:
        async with asyncio.timeout(t):
            while True:
                pump()
                if cond():
                    return
                self.changed.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.changed.wait(), 0.05)


def setup(config: NetConfig) -> tuple[LoopHost, Terminator, Wire]:
    host = LoopHost(config)
    term = Terminator(host, client_ip="10.64.1.2", dns_servers=("10.64.0.1",))  # type: ignore[arg-type]
    return host, term, Wire(term)


def recording_driver() -> tuple[
    NetDriver, list[Result], Callable[[Callable[[], bool]], Awaitable[None]]
]:
    """The real network driver, the results it delivers (in order) and a
    wait for a condition on them (10 s at the most)."""
    results: list[Result] = []
    changed = asyncio.Event()

    def deliver(res: Result) -> None:
        results.append(res)
        changed.set()

    async def until(cond: Callable[[], bool]) -> None:
        async with asyncio.timeout(10):
            while not cond():
                changed.clear()
                await changed.wait()

    return NetDriver(NetConfig(), deliver), results, until


@contextlib.asynccontextmanager
async def local_server(
    serve: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
) -> AsyncIterator[int]:
    """A TCP server on 127.0.0.1 serving each connection with ``serve``: its port."""
    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


@aio
async def test_download_and_upload_through_real_sockets() -> None:
    payload = bytes(range(256)) * (MiB // 256)
    uploaded = bytearray()
    upload_done = asyncio.Event()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        command = await reader.readexactly(4)
        if command == b"GET ":
            writer.write(payload)
            await writer.drain()
            writer.close()
        else:
            while chunk := await reader.read(65536):
                uploaded.extend(chunk)
            upload_done.set()
            writer.close()

    async with local_server(serve) as port:
        host, term, wire = setup(NetConfig())
        try:
            down = Client(host, term, wire, dst=ALIAS, dport=port, window=16384, mss=1460)  # type: ignore[arg-type]
            down.syn()
            await host.until(lambda: down.peer_mss > 0, down.pump)
            down.send(b"GET ")
            await host.until(lambda: down.fin, down.pump)
            down.close()
            assert hashlib.sha256(down.received).digest() == hashlib.sha256(payload).digest()

            up = Client(host, term, wire, sport=40001, dst=ALIAS, dport=port)  # type: ignore[arg-type]
            up.syn()
            await host.until(lambda: up.peer_mss > 0, up.pump)
            data = b"PUT " + payload
            sent = 0

            def push() -> None:
                nonlocal sent
                up.pump()
                sent += up.send(data[sent:])

            await host.until(lambda: sent == len(data) and up.snd_una == up.snd_nxt, push)
            up.close()
            await host.until(upload_done.is_set, up.pump)
            assert bytes(uploaded) == payload[:]  # after the 4-byte command
            await host.until(lambda: up.fin, up.pump)
            # the upload is gone (LAST-ACK), the download waits in TIME-WAIT
            await host.until(
                lambda: [c.state.value for c in term.connections()] == ["time-wait"], up.pump
            )
        finally:
            term.close_all()
            await host.driver.aclose()


@aio
async def test_refused_and_denied_get_rst() -> None:
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()  # nothing listens there now
    host, term, wire = setup(NetConfig())
    try:
        c = Client(host, term, wire, dst=ALIAS, dport=port)  # type: ignore[arg-type]
        c.syn()
        await host.until(lambda: c.reset, c.pump)
    finally:
        await host.driver.aclose()
    host, term, wire = setup(NetConfig(deny=(parse_network("127.0.0.0/8"),)))
    try:
        c = Client(host, term, wire, dst=ALIAS, dport=80)  # type: ignore[arg-type]
        c.syn()
        await host.until(lambda: c.reset, c.pump)
        assert term.stats["tcp_refused"] == 1
    finally:
        await host.driver.aclose()


@aio
async def test_udp_echo_and_dns_through_real_sockets() -> None:
    loop = asyncio.get_running_loop()

    class Echo(asyncio.DatagramProtocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = transport

        def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
            self.transport.sendto(b"echo:" + data, addr)  # type: ignore[attr-defined]

    transport, _ = await loop.create_datagram_endpoint(Echo, local_addr=("127.0.0.1", 0))
    port = transport.get_extra_info("sockname")[1]
    host, term, wire = setup(NetConfig(hosts={"svc.test": "127.0.0.1"}, dns_offline=True))
    try:
        term.packet(udp_packet(5555, port, b"hi", dst=ALIAS))
        await host.until(lambda: any(o.udp for o in wire.out), lambda: None)
        (out,) = wire.take()
        assert out.udp is not None and out.udp.payload == b"echo:hi" and out.udp.sport == port
        import dns.message

        for name, rcode in (("svc.test", 0), ("nope.test", 3)):
            q = dns.message.make_query(name, "A")
            term.packet(udp_packet(5353, 53, q.to_wire(), dst="10.64.0.1"))
            await host.until(lambda: bool(wire.out), lambda: None)
            (out,) = wire.take()
            assert out.udp is not None
            reply = dns.message.from_wire(out.udp.payload)
            assert reply.rcode() == rcode
            if rcode == 0:
                assert [r.address for r in reply.answer[0]] == ["10.0.2.2"]  # the alias
    finally:
        term.close_all()
        await host.driver.aclose()
        transport.close()


@aio
async def test_driver_shutdown_is_a_half_close() -> None:
    """``Shutdown``: the far end reads EOF, still answers, and the answer
    comes; a later Send fails."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        data = await reader.read()  # until EOF
        writer.write(b"got " + data)
        await writer.drain()
        writer.close()

    async with local_server(serve) as port:
        driver, results, until = recording_driver()
        try:
            driver.submit(Connect(1, "TCP", "127.0.0.1", port))
            await until(lambda: any(isinstance(r, Connected) for r in results))
            driver.submit(Send(1, b"question"))
            driver.submit(Shutdown(1))
            await until(lambda: any(isinstance(r, PeerClosed) for r in results))
            got = b"".join(r.data for r in results if isinstance(r, Received))
            assert got == b"got question"
            driver.submit(Send(1, b"late"))
            await until(lambda: any(isinstance(r, SendFailed) for r in results))
            driver.submit(Close(1))
        finally:
            await driver.aclose()


@aio
async def test_client_half_close_gets_the_answer() -> None:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        data = await reader.read()  # until the client's FIN
        writer.write(b"got " + data)
        await writer.drain()
        writer.close()

    async with local_server(serve) as port:
        host, term, wire = setup(NetConfig())
        try:
            c = Client(host, term, wire, dst=ALIAS, dport=port)  # type: ignore[arg-type]
            c.syn()
            await host.until(lambda: c.peer_mss > 0, c.pump)
            c.send(b"question")
            c.close()
            await host.until(lambda: c.fin, c.pump)
            assert c.received == b"got question"
            await host.until(lambda: term.flows == 0, c.pump)
        finally:
            term.close_all()
            await host.driver.aclose()


@aio
async def test_far_end_half_close_then_the_client_still_sends() -> None:
    """The far end says its piece and shuts down its side (FIN) but reads
    on: what the client sends after the FIN still reaches it."""
    heard = bytearray()
    done = asyncio.Event()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"hello, then my FIN")
        await writer.drain()
        writer.write_eof()
        heard.extend(await reader.read())  # until the client's FIN
        done.set()
        writer.close()

    async with local_server(serve) as port:
        host, term, wire = setup(NetConfig())
        try:
            c = Client(host, term, wire, dst=ALIAS, dport=port)  # type: ignore[arg-type]
            c.syn()
            await host.until(lambda: c.fin, c.pump)
            assert c.received == b"hello, then my FIN"
            c.send(b"and my answer after it")
            c.close()
            await host.until(done.is_set, c.pump)
            assert bytes(heard) == b"and my answer after it"
            await host.until(lambda: term.flows == 1, c.pump)  # TIME_WAIT
        finally:
            term.close_all()
            await host.driver.aclose()


@aio
async def test_driver_without_half_close_ends_the_link_at_the_peer_fin() -> None:
    """CIP links (half_close False) keep the old behaviour: a Send after
    the peer's FIN fails."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write_eof()
        await reader.read()
        writer.close()

    async with local_server(serve) as port:
        driver, results, until = recording_driver()
        try:
            for sock, half in ((1, False), (2, True)):
                driver.submit(Connect(sock, "TCP", "127.0.0.1", port, half_close=half))
            await until(lambda: {r.sock for r in results if isinstance(r, PeerClosed)} == {1, 2})
            driver.submit(Send(2, b"after"))
            driver.submit(Send(1, b"after"))
            # results come in order (call_soon): sock 2's failure would be first
            await until(lambda: any(isinstance(r, SendFailed) for r in results))
            failed = [r.sock for r in results if isinstance(r, SendFailed)]
            assert failed == [1]
        finally:
            await driver.aclose()


@aio
async def test_nat_forgets_a_half_closed_link_and_later_sends_fail() -> None:
    """The field fault nat-idle: the first Send after the idle time brings
    PeerClosed (as before); on a half-close link (PPP) the client may send
    on, and those Sends fail (SendFailed: the terminator resets)."""
    from sim800emu.net.shaping import Shape, ShapedNet

    loop = asyncio.get_running_loop()


    got: list[Result] = []
    net = ShapedNet(RecordingNet, got.append, loop, Shape())  # type: ignore[arg-type]
    net.faults.nat_idle = 0.01
    net.submit(Connect(1, "TCP", "127.0.0.1", 9, half_close=True))
    net.inner.deliver(Connected(1, "127.0.0.1", 9))  # type: ignore[attr-defined]
    await asyncio.sleep(0.05)  # idle longer than the NAT keeps the mapping
    net.submit(Send(1, b"a"))
    net.submit(Send(1, b"b"))
    async with asyncio.timeout(5):
        while not any(isinstance(r, SendFailed) for r in got):
            await asyncio.sleep(0.01)
    kinds = [type(r).__name__ for r in got]
    assert kinds == ["Connected", "PeerClosed", "SendFailed"]
    await net.aclose()
