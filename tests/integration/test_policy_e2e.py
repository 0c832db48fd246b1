"""--allow/--deny on canonical destinations, end to end through the pty.

Every spelling of the host itself (0.0.0.0, ::, 127.1, 0x7f.0.0.1,
2130706433, 017700000001, ::ffff:127.0.0.1, a hosts-table name or a DNS
answer that is 0.0.0.0, a route to 0.0.0.0) must be refused by
``--deny 127.0.0.0/8 --deny ::1/128`` the way a denied address always was:
``OK`` then ``CONNECT FAIL`` for CIPSTART (TCP and UDP), ``ERROR`` for
CIPPING, ``+CNTP: 61`` for CNTP, error 3 for a DNS server. A listener on
127.0.0.1 and ::1 proves nothing got through; the same spellings without the
policy connect, so the test would see a bypass.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from dnsserver import DnsServer
from ntpserver import SntpServer
from serial_helpers import Emulator

DENY = ("--deny", "127.0.0.0/8", "--deny", "::1/128")

SPELLINGS = [
    "0.0.0.0",
    "::",
    "0",
    "127.1",
    "0x7f.0.0.1",
    "2130706433",
    "017700000001",
    "::ffff:127.0.0.1",
    "::ffff:0.0.0.0",
    "[::1]",
    "zero.test",  # hosts table: 0.0.0.0
    "mapped.test",  # hosts table: ::ffff:127.0.0.1
]


class Loopback:
    """A TCP listener and a UDP socket on the same port of 127.0.0.1 and ::1,
    counting what reaches them."""

    def __init__(self) -> None:
        self.accepted = 0
        self.datagrams = 0
        self.lock = threading.Lock()
        self.socks: list[socket.socket] = []
        for _attempt in range(20):
            try:
                self._bind_all()
                break
            except OSError:
                self._close_socks()
        else:
            raise RuntimeError("no port free on both 127.0.0.1 and ::1")
        for sock in self.socks:
            threading.Thread(target=self._serve, args=(sock,), daemon=True).start()

    def _bind_all(self) -> None:
        first = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socks.append(first)
        first.bind(("127.0.0.1", 0))
        self.port: int = first.getsockname()[1]
        first.listen(8)
        for family, kind, host in (
            (socket.AF_INET6, socket.SOCK_STREAM, "::1"),
            (socket.AF_INET, socket.SOCK_DGRAM, "127.0.0.1"),
            (socket.AF_INET6, socket.SOCK_DGRAM, "::1"),
        ):
            sock = socket.socket(family, kind)
            self.socks.append(sock)
            sock.bind((host, self.port))
            if kind == socket.SOCK_STREAM:
                sock.listen(8)

    def _serve(self, sock: socket.socket) -> None:
        while True:
            try:
                if sock.type == socket.SOCK_STREAM:
                    conn, _ = sock.accept()
                    conn.close()
                    with self.lock:
                        self.accepted += 1
                else:
                    sock.recv(65536)
                    with self.lock:
                        self.datagrams += 1
            except OSError:
                return

    def _close_socks(self) -> None:
        for sock in self.socks:
            sock.close()
        self.socks.clear()

    def close(self) -> None:
        for sock in self.socks:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self._close_socks()


@pytest.fixture
def loopback() -> Iterator[Loopback]:
    target = Loopback()
    yield target
    target.close()


def _emulator(*extra: str) -> Emulator:
    return Emulator(
        "--host", "zero.test=0.0.0.0", "--host", "mapped.test=::ffff:127.0.0.1", *extra
    )


def _start(emu: Emulator, proto: str, host: str, port: int) -> bytes:
    """CIPSTART and its outcome line; the link is shut afterwards."""
    emu.send(f'AT+CIPSTART="{proto}","{host}",{port}')
    emu.expect_exact(b"\r\nOK\r\n")
    got = emu.expect(re.compile(rb"CONNECT (OK|FAIL)\r\n"), timeout=15)
    emu.command("AT+CIPSHUT", b"\r\nSHUT OK\r\n")
    emu.command('AT+CSTT="CMNET"')
    emu.command("AT+CIICR", timeout=30)
    emu.send("AT+CIFSR")
    emu.expect(re.compile(rb"\r\n\d+\.\d+\.\d+\.\d+\r\n"))
    return got


def test_without_a_policy_every_spelling_reaches_the_host(loopback: Loopback) -> None:
    with _emulator() as emu:
        emu.init()
        emu.bring_up()
        for host in SPELLINGS:
            assert _start(emu, "TCP", host, loopback.port) == b"\r\nCONNECT OK\r\n", host
            assert _start(emu, "UDP", host, loopback.port) == b"\r\nCONNECT OK\r\n", host
        assert _wait(lambda: loopback.accepted == len(SPELLINGS))


@pytest.mark.parametrize("proto", ["TCP", "UDP"])
def test_deny_covers_every_spelling_of_the_host(loopback: Loopback, proto: str) -> None:
    with _emulator(*DENY) as emu:
        emu.init()
        emu.bring_up()
        for host in SPELLINGS:
            assert _start(emu, proto, host, loopback.port) == (
                f"\r\nSTATE: {proto} CLOSED\r\n\r\nCONNECT FAIL\r\n".encode()
            ), host
        # a denied link never opened, so nothing can be sent on it
        emu.command("AT+CIPSEND=1", b"\r\nERROR\r\n")
        assert emu.stderr_tail(100_000).count("denied by policy") == len(SPELLINGS)
    assert (loopback.accepted, loopback.datagrams) == (0, 0)


def test_deny_in_multi_link_mode(loopback: Loopback) -> None:
    with _emulator(*DENY) as emu:
        emu.init()
        emu.command("AT+CIPMUX=1")
        emu.bring_up()
        emu.send(f'AT+CIPSTART=2,"TCP","0.0.0.0",{loopback.port}')
        emu.expect_exact(b"\r\nOK\r\n\r\n2, CONNECT FAIL\r\n", timeout=15)
        emu.send(f'AT+CIPSTART=3,"UDP","::",{loopback.port}')
        emu.expect_exact(b"\r\nOK\r\n\r\n3, CONNECT FAIL\r\n", timeout=15)
    assert (loopback.accepted, loopback.datagrams) == (0, 0)


class _DnsOn(DnsServer):
    """The test DNS server on a given loopback address (127.0.0.2: denying
    127.0.0.1 leaves it reachable)."""

    def __init__(self, records: dict[str, str], host: str) -> None:
        super().__init__(records)
        self.host = host

    async def start(self) -> DnsServer:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: self, local_addr=(self.host, 0)
        )
        self._transport = transport
        self.port = int(transport.get_extra_info("sockname")[1])
        return self


@contextlib.contextmanager
def _dns_thread(records: dict[str, str], host: str = "127.0.0.2") -> Iterator[DnsServer]:
    loop = asyncio.new_event_loop()
    server = _DnsOn(records, host)
    started = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(server.start())
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert started.wait(5)
    try:
        yield server
    finally:
        loop.call_soon_threadsafe(server.close)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


def test_a_dns_answer_of_0_0_0_0_is_denied(loopback: Loopback) -> None:
    with _dns_thread({"zero.example": "0.0.0.0", "mapped.example": "127.0.0.1"}) as dns, Emulator(
        "--dns-port", str(dns.port), "--deny", "127.0.0.1/32", dns=False
    ) as emu:
        emu.init()
        emu.bring_up()
        emu.command('AT+CDNSCFG="127.0.0.2"')
        for name in ("zero.example", "mapped.example"):
            for proto in ("TCP", "UDP"):
                assert _start(emu, proto, name, loopback.port) == (
                    f"\r\nSTATE: {proto} CLOSED\r\n\r\nCONNECT FAIL\r\n".encode()
                ), name
        assert ("zero.example", "A") in dns.queries
    assert (loopback.accepted, loopback.datagrams) == (0, 0)


def test_a_dns_server_routed_to_0_0_0_0_is_not_queried() -> None:
    with _dns_thread({"device.example": "10.1.2.3"}, "127.0.0.1") as dns:
        route = ("--route", f"10.9.9.9:53=0.0.0.0:{dns.port}")
        # without a policy the route reaches the server on 127.0.0.1
        with Emulator(*route, dns=False) as emu:
            emu.init()
            emu.bring_up()
            emu.command('AT+CDNSCFG="10.9.9.9"')
            emu.send('AT+CDNSGIP="device.example"')
            emu.expect_exact(
                b'\r\nOK\r\n\r\n+CDNSGIP: 1,"device.example","10.1.2.3"\r\n', timeout=15
            )
        asked = dns.count
        assert asked >= 1
        # --deny 127.0.0.0/8: the server behind 0.0.0.0 is the host's: not asked
        with Emulator(*route, *DENY, dns=False) as emu:
            emu.init()
            emu.bring_up()
            emu.command('AT+CDNSCFG="10.9.9.9"')
            emu.send('AT+CDNSGIP="device.example"')
            emu.expect_exact(b"\r\nOK\r\n\r\n+CDNSGIP: 0,3\r\n", timeout=15)
        assert dns.count == asked


def test_cipping_and_cntp_obey_the_canonical_policy() -> None:
    with SntpServer() as sntp, _emulator(
        *DENY, "--route", f"ntp.test:123=0.0.0.0:{sntp.port}"
    ) as emu:
        emu.init()
        emu.bring_up()
        for host in ("0.0.0.0", "127.1", "::ffff:127.0.0.1", "zero.test"):
            emu.send(f'AT+CIPPING="{host}",1,32,10')
            emu.expect_exact(b"\r\nERROR\r\n", timeout=10)
        emu.command('AT+SAPBR=3,1,"APN","CMNET"')
        emu.command("AT+SAPBR=1,1", timeout=30)
        emu.command("AT+CNTPCID=1")
        for server in ("ntp.test", "0.0.0.0", "2130706433"):
            emu.command(f'AT+CNTP="{server}",0')
            emu.send("AT+CNTP")
            emu.expect_exact(b"\r\nOK\r\n\r\n+CNTP: 61\r\n", timeout=15)
        assert sntp.queries == 0


def _wait(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)  # polling a counter another thread bumps
    return True
