"""The network driver against real sockets on 127.0.0.1 (never any other
address: every test that names another address routes it to loopback or
expects it refused before any packet is sent)."""

from __future__ import annotations

import asyncio
import functools
import logging
import socket
import ssl
import subprocess
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar, cast

import pytest
from dnsserver import DnsServer

from sim800emu.core.events import (
    Accepted,
    Close,
    Connect,
    Connected,
    ConnectFailed,
    Listen,
    ListenFailed,
    Listening,
    PauseReading,
    PeerClosed,
    PortUnreachable,
    Received,
    Request,
    Resolve,
    Resolved,
    Result,
    ResumeReading,
    Send,
    SendFailed,
    StartTimer,
    StopListen,
)
from sim800emu.net.config import NetConfig, parse_network, parse_route
from sim800emu.net.driver import NetDriver
from sim800emu.net.resolver import host_dns_servers

TIMEOUT = 10.0
LOCAL = "127.0.0.1"

T = TypeVar("T")


def aio(fn: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an async test in a fresh event loop, with an overall time limit."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        asyncio.run(asyncio.wait_for(fn(*args, **kwargs), TIMEOUT))

    return wrapper


def free_port(kind: socket.SocketKind = socket.SOCK_STREAM) -> int:
    """A port nothing listens on right now."""
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind((LOCAL, 0))
        return int(s.getsockname()[1])


class Harness:
    """A driver plus a record of everything it delivered."""

    def __init__(self, config: NetConfig | None = None) -> None:
        self.results: list[Result] = []
        self.counts: dict[int, int] = {}  # bytes received per sock
        self.sync_deliveries = 0
        self._in_submit = False
        self._changed = asyncio.Event()
        self.on_result: Callable[[Result], None] | None = None  # runs inside deliver
        self.driver = NetDriver(config or NetConfig(), self._deliver)

    def _deliver(self, result: Result) -> None:
        if self._in_submit:
            self.sync_deliveries += 1
        self.results.append(result)
        if isinstance(result, Received):
            self.counts[result.sock] = self.counts.get(result.sock, 0) + len(result.data)
        self._changed.set()
        if self.on_result is not None:
            self.on_result(result)

    def submit(self, req: Request) -> None:
        self._in_submit = True
        try:
            self.driver.submit(req)
        finally:
            self._in_submit = False

    async def __aenter__(self) -> Harness:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.driver.aclose()
        assert self.sync_deliveries == 0, "deliver was called from inside submit()"

    async def until(self, cond: Callable[[], bool], timeout: float = 5.0) -> None:
        """Wait until ``cond()`` is true (checked after every delivery)."""
        async with asyncio.timeout(timeout):
            while not cond():
                self._changed.clear()
                await self._changed.wait()

    async def wait(self, pred: Callable[[Result], bool], timeout: float = 5.0) -> Result:
        """The first result (delivered so far or next) that ``pred`` accepts."""
        async with asyncio.timeout(timeout):
            while (found := next((r for r in self.results if pred(r)), None)) is None:
                self._changed.clear()
                await self._changed.wait()
        return found

    async def first(self, kind: type[T], sock: int | None = None, timeout: float = 5.0) -> T:
        result = await self.wait(
            lambda r: isinstance(r, kind) and (sock is None or getattr(r, "sock", None) == sock),
            timeout,
        )
        assert isinstance(result, kind)
        return result

    async def answer(self, query: int, timeout: float = 5.0) -> Resolved:
        result = await self.wait(lambda r: isinstance(r, Resolved) and r.query == query, timeout)
        assert isinstance(result, Resolved)
        return result

    def of(self, sock: int) -> list[Result]:
        return [r for r in self.results if getattr(r, "sock", None) == sock]

    def data(self, sock: int) -> bytes:
        return b"".join(r.data for r in self.results if isinstance(r, Received) and r.sock == sock)


async def poll(cond: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait for a condition the driver does not report (server side state)."""
    async with asyncio.timeout(timeout):
        while not cond():
            await asyncio.sleep(0.005)


ServerHandler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def tcp_server(handler: ServerHandler, **kwargs: Any) -> tuple[asyncio.Server, int]:
    server = await asyncio.start_server(handler, LOCAL, 0, **kwargs)
    return server, int(server.sockets[0].getsockname()[1])


async def echo_handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Echo everything; on ``QUIT`` answer ``BYE`` and close."""
    try:
        while data := await reader.read(65536):
            if data.endswith(b"QUIT"):
                writer.write(data[:-4] + b"BYE")
                await writer.drain()
                break
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


class UdpEcho(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.seen: list[tuple[bytes, tuple[str, int]]] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.seen.append((data, addr))
        assert self.transport is not None
        self.transport.sendto(b"echo:" + data, addr)


async def udp_echo() -> tuple[UdpEcho, int]:
    loop = asyncio.get_running_loop()
    transport, proto = await loop.create_datagram_endpoint(UdpEcho, local_addr=(LOCAL, 0))
    return proto, int(transport.get_extra_info("sockname")[1])


# ------------------------------------------------------------------ TCP client


@aio
async def test_tcp_echo_results_in_order_and_peer_close() -> None:
    server, port = await tcp_server(echo_handler)
    async with server, Harness() as h:
        h.submit(Connect(1, "TCP", LOCAL, port))
        assert h.results == []  # nothing synchronously
        connected = await h.first(Connected, 1)
        assert (connected.remote_ip, connected.remote_port) == (LOCAL, port)
        assert connected.local_port > 0
        payload = bytes(range(256)) * 400
        h.submit(Send(1, payload))
        await h.until(lambda: len(h.data(1)) >= len(payload))
        assert h.data(1) == payload
        h.submit(Send(1, b"lastQUIT"))
        await h.first(PeerClosed, 1)
        results = h.of(1)
        assert isinstance(results[0], Connected)
        assert isinstance(results[-1], PeerClosed)
        assert all(isinstance(r, Received) for r in results[1:-1])
        assert sum(isinstance(r, PeerClosed) for r in results) == 1
        assert h.data(1) == payload + b"lastBYE"
        received = [r for r in results if isinstance(r, Received)]
        assert {(r.from_ip, r.from_port) for r in received} == {(LOCAL, port)}
        # The link is gone: sending fails, and the failure is not synchronous.
        h.submit(Send(1, b"late"))
        assert not any(isinstance(r, SendFailed) for r in h.results)
        await h.first(SendFailed, 1)


@aio
async def test_connect_refused() -> None:
    async with Harness() as h:
        h.submit(Connect(2, "TCP", LOCAL, free_port()))
        failed = await h.first(ConnectFailed, 2)
        assert failed.reason
        assert h.of(2) == [failed]


@aio
async def test_send_to_unknown_sock_fails_later() -> None:
    async with Harness() as h:
        h.submit(Send(5, b"x"))
        h.submit(StartTimer("t", 0.0))  # not the network's: ignored
        assert h.results == []
        assert await h.first(SendFailed) == SendFailed(5)


@aio
async def test_local_port_is_bound() -> None:
    peers: list[int] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peers.append(writer.get_extra_info("peername")[1])
        writer.close()

    server, port = await tcp_server(handler)
    local = free_port()
    async with server, Harness() as h:
        h.submit(Connect(1, "TCP", LOCAL, port, local_port=local))
        connected = await h.first(Connected, 1)
        assert connected.local_port == local
        await poll(lambda: bool(peers))
        assert peers == [local]


@aio
async def test_connect_timeout() -> None:
    # A server that accepts and never answers the TLS handshake.
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()
        writer.close()

    server, port = await tcp_server(silent)
    async with server, Harness(NetConfig(connect_timeout=0.3)) as h:
        h.submit(Connect(1, "TCP", LOCAL, port, tls=True))
        failed = await h.first(ConnectFailed, 1)
        assert failed.reason == "time-out"


# ---------------------------------------------------------------- names, DNS


@aio
async def test_connect_by_name_from_hosts_table() -> None:
    server, port = await tcp_server(echo_handler)
    config = NetConfig(hosts={"Echo.Test": LOCAL}, dns_offline=True)
    async with server, Harness(config) as h:
        h.submit(Connect(1, "TCP", "ECHO.test.", port))
        connected = await h.first(Connected, 1)
        assert connected.remote_ip == LOCAL
        h.submit(Resolve(9, "echo.TEST"))
        assert await h.first(Resolved) == Resolved(9, (LOCAL,))


@aio
async def test_dns_offline_sends_no_query() -> None:
    async with DnsServer({"device.example": LOCAL}) as dns_server:
        config = NetConfig(dns_offline=True, dns_port=dns_server.port, default_dns=(LOCAL,))
        async with Harness(config) as h:
            h.submit(Resolve(1, "device.example", dns=(LOCAL,)))
            assert await h.first(Resolved) == Resolved(1, (), error=8)
            h.submit(Connect(2, "TCP", "device.example", 80, dns=(LOCAL,)))
            await h.first(ConnectFailed, 2)
            h.submit(Resolve(3, "10.1.2.3"))  # IP literals need no DNS
            await h.wait(lambda r: r == Resolved(3, ("10.1.2.3",)))
        assert dns_server.count == 0


@aio
async def test_real_dns_query() -> None:
    records = {
        "device.example": LOCAL,
        "multi.example": ["10.1.1.1", "10.1.1.2", "10.1.1.3"],
    }
    echo, port = await tcp_server(echo_handler)
    async with DnsServer(records) as dns_server, echo:
        config = NetConfig(dns_port=dns_server.port, dns_timeout=2.0)
        async with Harness(config) as h:
            servers = ("0.0.0.0", LOCAL)  # unset entries are skipped
            h.submit(Resolve(1, "Device.Example", dns=servers))
            h.submit(Resolve(2, "multi.example", dns=servers))
            h.submit(Resolve(3, "nosuch.example", dns=servers))
            answers = {query: await h.answer(query) for query in (1, 2, 3)}
            assert answers[1] == Resolved(1, (LOCAL,))
            assert len(answers[2].addresses) == 2  # at most two, in the server's order
            assert set(answers[2].addresses) <= set(records["multi.example"])
            assert answers[3] == Resolved(3, (), error=8)
            assert dns_server.count == 3
            assert ("device.example", "A") in dns_server.queries
            # A name in CIPSTART goes through the same servers.
            h.submit(Connect(4, "TCP", "device.example", port, dns=servers))
            connected = await h.first(Connected, 4)
            assert connected.remote_ip == LOCAL
            assert dns_server.count == 4
        # No modem servers: NetConfig.default_dns is used.
        async with Harness(NetConfig(dns_port=dns_server.port, default_dns=(LOCAL,))) as h:
            h.submit(Resolve(5, "device.example", dns=("0.0.0.0", "0.0.0.0")))
            assert await h.first(Resolved) == Resolved(5, (LOCAL,))
            assert dns_server.count == 5


@aio
async def test_dns_network_errors() -> None:
    dead = free_port(socket.SOCK_DGRAM)  # nothing answers there
    async with Harness(NetConfig(dns_port=dead, dns_timeout=0.3)) as h:
        h.submit(Resolve(1, "device.example", dns=(LOCAL,)))
        assert await h.first(Resolved) == Resolved(1, (), error=3)
        h.submit(Resolve(2, "device.example"))  # no server at all
        assert await h.answer(2) == Resolved(2, (), error=3)


@aio
async def test_host_resolver_fallback() -> None:
    async with Harness(NetConfig(use_host_resolver=True)) as h:
        h.submit(Resolve(1, "localhost"))
        resolved = await h.first(Resolved)
        assert resolved.error == 0
        assert resolved.addresses and resolved.addresses[0].startswith("127.")


def test_host_dns_servers(tmp_path: Path) -> None:
    conf = tmp_path / "resolv.conf"
    conf.write_text("# comment\nsearch example.com\nnameserver 10.0.0.53\nnameserver ::1\n")
    assert host_dns_servers(conf) == ("10.0.0.53", "::1")
    assert host_dns_servers(tmp_path / "missing") == ()
    (tmp_path / "empty").write_text("search x\n")
    assert host_dns_servers(tmp_path / "empty") == ()


# ------------------------------------------------------------- routes, policy

ONLY_LOOPBACK = (parse_network("127.0.0.0/8"),)


@aio
async def test_route_rewrites_ip_and_port() -> None:
    server, port = await tcp_server(echo_handler)
    config = NetConfig(routes=(parse_route(f"10.99.0.1:80={LOCAL}:{port}"),), allow=ONLY_LOOPBACK)
    async with server, Harness(config) as h:
        h.submit(Connect(1, "TCP", "10.99.0.1", 80))
        connected = await h.first(Connected, 1)
        # The core is told what the firmware asked for.
        assert (connected.remote_ip, connected.remote_port) == ("10.99.0.1", 80)
        h.submit(Send(1, b"hello"))
        received = await h.first(Received, 1)
        assert (received.data, received.from_ip, received.from_port) == (b"hello", "10.99.0.1", 80)
        # Another port of that address is not routed, so it is refused by policy.
        h.submit(Connect(2, "TCP", "10.99.0.1", 81))
        assert (await h.first(ConnectFailed, 2)).reason == "denied by policy"


@aio
async def test_route_by_name_needs_no_dns() -> None:
    server, port = await tcp_server(echo_handler)
    async with DnsServer({}) as dns_server, server:
        config = NetConfig(
            routes=(parse_route(f"API.example.com:80={LOCAL}:{port}"),),
            dns_port=dns_server.port,
            allow=ONLY_LOOPBACK,
        )
        async with Harness(config) as h:
            h.submit(Connect(1, "TCP", "api.example.com", 80, dns=(LOCAL,)))
            connected = await h.first(Connected, 1)
            assert (connected.remote_ip, connected.remote_port) == (LOCAL, 80)
        assert dns_server.count == 0


@aio
async def test_route_by_resolved_ip_all_ports() -> None:
    server, port = await tcp_server(echo_handler)
    config = NetConfig(
        hosts={"fw.example": "10.99.0.2"},
        routes=(parse_route(f"10.99.0.2={LOCAL}"),),
        allow=ONLY_LOOPBACK,
    )
    async with server, Harness(config) as h:
        h.submit(Connect(1, "TCP", "fw.example", port))
        connected = await h.first(Connected, 1)
        assert (connected.remote_ip, connected.remote_port) == ("10.99.0.2", port)


@aio
async def test_deny_list_refuses(caplog: pytest.LogCaptureFixture) -> None:
    server, port = await tcp_server(echo_handler)
    caplog.set_level(logging.WARNING, logger="sim800emu.net")
    async with server, DnsServer({"device.example": LOCAL}) as dns_server:
        config = NetConfig(deny=(parse_network("127.0.0.0/8"),), dns_port=dns_server.port)
        async with Harness(config) as h:
            h.submit(Connect(1, "TCP", LOCAL, port))
            assert (await h.first(ConnectFailed, 1)).reason == "denied by policy"
            # A DNS server that is not permitted is not asked.
            h.submit(Resolve(2, "device.example", dns=(LOCAL,)))
            assert await h.first(Resolved) == Resolved(2, (), error=3)
        assert dns_server.count == 0
    assert "denied by policy" in caplog.text
    config = NetConfig(allow=(parse_network("192.0.2.0/24"),))
    async with Harness(config) as h:
        h.submit(Connect(1, "UDP", LOCAL, 9))
        assert (await h.first(ConnectFailed, 1)).reason == "denied by policy"


# ----------------------------------------------------------------------- UDP


@aio
async def test_udp_client_round_trip_with_route() -> None:
    echo, port = await udp_echo()
    config = NetConfig(routes=(parse_route(f"10.99.0.3:7={LOCAL}:{port}"),), allow=ONLY_LOOPBACK)
    async with Harness(config) as h:
        h.submit(Connect(1, "UDP", LOCAL, port))
        h.submit(Connect(2, "UDP", "10.99.0.3", 7))
        c1 = await h.first(Connected, 1)
        assert (c1.remote_ip, c1.remote_port) == (LOCAL, port)
        c2 = await h.first(Connected, 2)
        assert (c2.remote_ip, c2.remote_port) == ("10.99.0.3", 7)
        h.submit(Send(1, b"one"))
        r1 = await h.first(Received, 1)
        assert (r1.data, r1.from_ip, r1.from_port) == (b"echo:one", LOCAL, port)
        h.submit(Send(2, b"two"))
        r2 = await h.first(Received, 2)
        assert (r2.data, r2.from_ip, r2.from_port) == (b"echo:two", "10.99.0.3", 7)
        assert [d for d, _ in echo.seen] == [b"one", b"two"]
    assert echo.transport is not None
    echo.transport.close()


@aio
async def test_udp_port_unreachable_is_reported_when_asked() -> None:
    """A closed UDP port answers ICMP port unreachable (ECONNREFUSED on the
    connected socket): ``PortUnreachable`` for a link that asked (PPP), and
    nothing for one that did not (CIP); both links stay open."""
    port = free_port(socket.SOCK_DGRAM)
    async with Harness() as h:
        h.submit(Connect(1, "UDP", LOCAL, port, icmp_errors=True))
        h.submit(Connect(2, "UDP", LOCAL, port))
        await h.first(Connected, 1)
        await h.first(Connected, 2)
        h.submit(Send(2, b"to nobody"))
        h.submit(Send(1, b"to nobody"))
        assert (await h.first(PortUnreachable, 1)).sock == 1
        h.submit(Send(2, b"again"))
        h.submit(Send(1, b"again"))
        await h.until(lambda: len([r for r in h.results if isinstance(r, PortUnreachable)]) == 2)
        assert not [r for r in h.of(2) if not isinstance(r, Connected)]
        assert not [r for r in h.of(1) if isinstance(r, (PeerClosed, SendFailed))]


# ------------------------------------------------------------------ servers


@aio
async def test_tcp_listener_accept_data_and_stop() -> None:
    port = free_port()
    async with Harness() as h:
        h.submit(Listen(7, "TCP", port))
        assert await h.first(Listening) == Listening(7, "127.0.0.1", port)
        reader, writer = await asyncio.open_connection(LOCAL, port)
        accepted = await h.first(Accepted)
        assert accepted.server == 7 and accepted.sock == -1
        assert (accepted.remote_ip, accepted.remote_port) == writer.get_extra_info("sockname")
        writer.write(b"from client")
        received = await h.first(Received, -1)
        assert received.data == b"from client"
        assert (received.from_ip, received.from_port) == (accepted.remote_ip, accepted.remote_port)
        h.submit(Send(-1, b"from modem"))
        assert await reader.readexactly(10) == b"from modem"
        # A second client gets the next id; the core may refuse it.
        reader2, writer2 = await asyncio.open_connection(LOCAL, port)
        second = await h.wait(lambda r: isinstance(r, Accepted) and r.sock == -2)
        assert isinstance(second, Accepted)
        h.submit(Close(-2))
        assert await reader2.read() == b""
        writer2.close()
        # Stop listening: new clients are refused, the accepted link lives on.
        h.submit(StopListen(7))
        await poll(lambda: _refused(port))
        writer.write(b"still here")
        await h.until(lambda: h.data(-1) == b"from clientstill here")
        h.submit(Send(-1, b"me too"))
        assert await reader.readexactly(6) == b"me too"
        writer.close()
        await h.first(PeerClosed, -1)
        assert isinstance(h.of(-1)[-1], PeerClosed)


def _refused(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex((LOCAL, port)) != 0


@aio
async def test_udp_listener_virtual_links() -> None:
    port = free_port(socket.SOCK_DGRAM)
    loop = asyncio.get_running_loop()
    async with Harness() as h:
        h.submit(Listen(3, "UDP", port))
        await h.first(Listening)
        clients = []
        for _ in range(2):
            transport, proto = await loop.create_datagram_endpoint(
                UdpEcho, remote_addr=(LOCAL, port)
            )
            clients.append((transport, proto))
        clients[0][0].sendto(b"a1")
        first = await h.first(Accepted)
        clients[1][0].sendto(b"b1")
        second = await h.wait(lambda r: isinstance(r, Accepted) and r.sock == -2)
        assert isinstance(second, Accepted)
        clients[0][0].sendto(b"a2")
        await h.until(lambda: h.data(-1) == b"a1a2" and h.data(-2) == b"b1")
        assert first.sock == -1 and first.server == 3
        assert first.remote_port == clients[0][0].get_extra_info("sockname")[1]
        results = h.of(-1)
        assert isinstance(results[0], Accepted) and len(results) == 3
        # Send to a virtual link goes to that remote only (it echoes back).
        h.submit(Send(-2, b"to b"))
        await poll(lambda: bool(clients[1][1].seen))
        assert clients[1][1].seen[0][0] == b"to b"
        assert clients[0][1].seen == []
        # After StopListen, known remotes still talk, new ones are ignored.
        h.submit(StopListen(3))
        h.submit(Send(-1, b"to a"))
        await poll(lambda: bool(clients[0][1].seen))
        await h.until(lambda: h.data(-1).endswith(b"echo:to a"))
        for transport, _ in clients:
            transport.close()


@aio
async def test_listen_failure_when_port_in_use(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="sim800emu.net")
    with socket.socket() as busy:
        busy.bind((LOCAL, 0))
        busy.listen()
        port = busy.getsockname()[1]
        async with Harness() as h:
            h.submit(Listen(1, "TCP", port))
            failed = await h.first(ListenFailed)
            assert failed.sock == 1 and failed.reason
    assert f"cannot listen on 127.0.0.1:{port}" in caplog.text


@aio
async def test_listen_map() -> None:
    host_port = free_port()
    async with Harness(NetConfig(listen_map={5555: host_port})) as h:
        h.submit(Listen(1, "TCP", 5555))
        await h.first(Listening)
        _, writer = await asyncio.open_connection(LOCAL, host_port)
        accepted = await h.first(Accepted)
        assert accepted.server == 1
        writer.close()


# ----------------------------------------------------------------------- TLS


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for secure.test and 127.0.0.1."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec",
            "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", str(key), "-out", str(cert), "-days", "2",
            "-subj", "/CN=secure.test",
            "-addext", "subjectAltName=DNS:secure.test,IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


@aio
async def test_tls_client(certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    server, port = await tcp_server(echo_handler, ssl=context)
    hosts = {"secure.test": LOCAL, "other.test": LOCAL}
    async with server:
        async with Harness(NetConfig(hosts=hosts)) as h:  # verification off
            h.submit(Connect(1, "TCP", LOCAL, port, tls=True))
            await h.first(Connected, 1)
            h.submit(Send(1, b"secret"))
            assert (await h.first(Received, 1)).data == b"secret"
        verify = NetConfig(hosts=hosts, tls_verify=True, tls_ca=str(cert))
        async with Harness(verify) as h:
            h.submit(Connect(1, "TCP", "secure.test", port, tls=True))
            await h.first(Connected, 1)
            h.submit(Send(1, b"checked"))
            assert (await h.first(Received, 1)).data == b"checked"
            h.submit(Connect(2, "TCP", "other.test", port, tls=True))  # wrong name
            assert "certificate" in (await h.first(ConnectFailed, 2)).reason.lower()
        # The firmware's name is checked even when the route rewrites it.
        routed = NetConfig(
            tls_verify=True,
            tls_ca=str(cert),
            dns_offline=True,
            routes=(parse_route(f"secure.test:443={LOCAL}:{port}"),),
        )
        async with Harness(routed) as h:
            h.submit(Connect(1, "TCP", "secure.test", 443, tls=True))
            await h.first(Connected, 1)
        async with Harness(NetConfig(hosts=hosts, tls_verify=True)) as h:  # system CAs only
            h.submit(Connect(1, "TCP", "secure.test", port, tls=True))
            assert "certificate" in (await h.first(ConnectFailed, 1)).reason.lower()


# -------------------------------------------------------- flow control, close


@aio
async def test_pause_all_backpressure_then_resume_in_order() -> None:
    total = 16 * 1024 * 1024
    chunk = 64 * 1024
    blob = bytes(i % 251 for i in range(total + chunk))
    go = asyncio.Event()
    sent = 0

    async def sender(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal sent
        await go.wait()
        for offset in range(0, total, chunk):
            writer.write(blob[offset : offset + chunk])
            await writer.drain()
            sent = offset + chunk
        writer.close()

    server, port = await tcp_server(sender)
    async with server, Harness() as h:
        h.submit(Connect(1, "TCP", LOCAL, port))
        await h.first(Connected, 1)
        h.driver.pause_all()
        go.set()
        # The server gets stuck: the kernel buffers fill up and stay full.
        previous = -1
        while sent != previous:
            previous = sent
            await asyncio.sleep(0.1)
        assert 0 < sent < total, "the server was never held back"
        assert h.data(1) == b""
        h.driver.resume_all()
        await h.until(lambda: h.counts.get(1, 0) >= total)
        assert h.data(1) == blob[:total]
        await h.first(PeerClosed, 1)


@aio
async def test_pause_reading_per_sock_and_all_combine() -> None:
    release = asyncio.Event()

    async def talker(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for i in range(3):
            if i:
                await release.wait()
                release.clear()
            writer.write(b"tick")
            await writer.drain()
        writer.close()

    server, port = await tcp_server(talker)
    async with server, Harness() as h:
        h.submit(Connect(1, "TCP", LOCAL, port))
        h.submit(PauseReading(1))  # before it is even connected
        await h.first(Connected, 1)
        h.driver.pause_all()
        h.driver.resume_all()
        release.set()
        await asyncio.sleep(0.2)  # nothing may arrive while paused (negative check)
        assert h.data(1) == b""
        h.driver.pause_all()
        h.submit(ResumeReading(1))
        await asyncio.sleep(0.1)
        assert h.data(1) == b""
        h.driver.resume_all()
        await h.until(lambda: h.data(1).startswith(b"ticktick"))
        release.set()
        await h.first(PeerClosed, 1)
        assert h.data(1) == b"tick" * 3
        assert isinstance(h.of(1)[-1], PeerClosed)


@aio
async def test_no_received_after_pause_even_if_already_read() -> None:
    writers: list[asyncio.StreamWriter] = []
    both = asyncio.Event()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        if len(writers) == 2:
            both.set()
        await reader.read()

    server, port = await tcp_server(handler)
    async with server, Harness() as h:
        paused_by: list[int] = []

        def pause_on_first_data(result: Result) -> None:
            # As the runtime does when the serial side backs up. The other
            # link's data, read in the same loop iteration, is already on its
            # way and must be held back.
            if isinstance(result, Received) and not paused_by:
                paused_by.append(result.sock)
                h.driver.pause_all()

        h.on_result = pause_on_first_data
        h.submit(Connect(1, "TCP", LOCAL, port))
        h.submit(Connect(2, "TCP", LOCAL, port))
        await h.first(Connected, 1)
        await h.first(Connected, 2)
        await asyncio.wait_for(both.wait(), 5)
        for writer in writers:  # both readable in the same select()
            writer.write(b"data")
        for writer in writers:
            writer.write(b"more")
            writer.close()
        await h.until(lambda: bool(paused_by))
        await asyncio.sleep(0.1)  # negative check: nothing more may come
        received = [r for r in h.results if isinstance(r, Received)]
        assert len(received) == 1 and received[0].sock == paused_by[0]
        assert not any(isinstance(r, PeerClosed) for r in h.results)
        h.driver.resume_all()
        await h.first(PeerClosed, 1)
        await h.first(PeerClosed, 2)
        for sock in (1, 2):
            assert h.data(sock) == b"datamore"
            assert isinstance(h.of(sock)[-1], PeerClosed)


@aio
async def test_write_backlog() -> None:
    received = 0
    start = asyncio.Event()

    async def slow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal received
        await start.wait()
        while data := await reader.read(1 << 20):
            received += len(data)
        writer.close()

    size = 32 * 1024 * 1024
    server, port = await tcp_server(slow)
    async with server, Harness() as h:
        assert h.driver.write_backlog() == 0
        h.submit(Connect(1, "TCP", LOCAL, port))
        await h.first(Connected, 1)
        h.submit(Send(1, bytes(size)))
        assert 0 < h.driver.write_backlog() <= size
        start.set()
        await poll(lambda: h.driver.write_backlog() == 0)
        await poll(lambda: received == size)
        # A graceful close still delivers what was sent, but the core no
        # longer has that link: it no longer counts as backlog.
        h.submit(Send(1, bytes(size)))
        assert h.driver.write_backlog() > 0
        h.submit(Close(1))
        assert h.driver.write_backlog() == 0
        await poll(lambda: received == 2 * size)


@aio
async def test_close_stops_results() -> None:
    stop = asyncio.Event()

    async def flood(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while not stop.is_set():
                writer.write(b"z" * 4096)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            stop.set()
            writer.close()

    server, port = await tcp_server(flood)
    async with server, Harness() as h:
        h.submit(Connect(1, "TCP", LOCAL, port))
        await h.first(Received, 1)
        h.submit(Close(1, quick=True))
        count = len(h.of(1))
        await asyncio.wait_for(stop.wait(), 5)  # the server saw the reset
        # Close while connecting: nothing at all is reported for that link.
        h.submit(Connect(2, "TCP", LOCAL, port))
        h.submit(Close(2))
        # A later link on the same id works and proves the loop moved on.
        h.submit(Connect(2, "TCP", LOCAL, port))
        connected = await h.first(Connected, 2)
        assert len(h.of(1)) == count
        assert h.of(2)[0] is connected
        assert not any(isinstance(r, ConnectFailed) for r in h.results)


@aio
async def test_close_all() -> None:
    server, port = await tcp_server(echo_handler)
    listen_port = free_port()
    async with server, Harness() as h:
        h.submit(Connect(1, "TCP", LOCAL, port))
        h.submit(Listen(2, "TCP", listen_port))
        await h.first(Connected, 1)
        await h.first(Listening)
        h.submit(Send(1, b"echo me"))
        h.submit(Connect(3, "TCP", LOCAL, port))
        h.driver.close_all()
        count = len(h.results)
        await poll(lambda: _refused(listen_port))
        # The driver is still usable after close_all().
        h.submit(Connect(4, "TCP", LOCAL, port))
        await h.first(Connected, 4)
        assert len(h.results) == count + 1
