"""End to end through the pty: DNS really queried at the servers AT+CDNSCFG
sets (a real DNS server on a high loopback port), and the client libraries'
1 s waits (prompt, DATA ACCEPT, OK) kept with six busy links."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
from dnsserver import DnsServer, DnsThread
from serial_helpers import Conn, Emulator, TcpServer


@pytest.fixture
def dns_server() -> Iterator[DnsServer]:
    t = DnsThread({"device.example": ["127.0.0.1", "127.0.0.2"], "api.example": "127.0.0.1"})
    yield t.server
    t.close()


def test_cdnsgip_and_cipstart_query_the_configured_server(dns_server: DnsServer) -> None:
    with TcpServer() as target, Emulator(
        "--dns-port", str(dns_server.port), "--deny", "127.0.0.3/32", dns=False
    ) as emu:
        emu.init()
        emu.bring_up()
        emu.command('AT+CDNSCFG="127.0.0.1","127.0.0.1"')
        assert emu.command("AT+CDNSCFG?") == (
            b"\r\nPrimaryDns: 127.0.0.1\r\nSecondaryDns: 127.0.0.1\r\n\r\nOK\r\n"
        )
        emu.send('AT+CDNSGIP="device.example"')
        emu.expect_exact(b"\r\nOK\r\n")
        line = emu.expect(re.compile(rb"\r\n\+CDNSGIP: [^\r]*\r\n"))
        # both addresses on one line (SPEC); servers may rotate their order
        assert line in (
            b'\r\n+CDNSGIP: 1,"device.example","127.0.0.1","127.0.0.2"\r\n',
            b'\r\n+CDNSGIP: 1,"device.example","127.0.0.2","127.0.0.1"\r\n',
        ), line
        assert ("device.example", "A") in dns_server.queries
        emu.send("AT+CDNSGIP=nowhere.example")
        emu.expect_exact(b"\r\nOK\r\n\r\n+CDNSGIP: 0,8\r\n")
        assert ("nowhere.example", "A") in dns_server.queries
        # a name in CIPSTART goes through the same server
        emu.send(f'AT+CIPSTART="TCP","api.example",{target.port}')
        emu.expect_exact(b"\r\nOK\r\n\r\nCONNECT OK\r\n")
        assert ("api.example", "A") in dns_server.queries
        conn = target.accept()
        emu.send("AT+CIPSEND=5")
        emu.expect_exact(b"\r\n> ")
        emu.write_all(b"hello")
        emu.expect_exact(b"\r\nSEND OK\r\n")
        assert conn.wait_count(5) == b"hello"
        # a DNS server the policy forbids is never queried: network error
        before = dns_server.count
        emu.command('AT+CDNSCFG="127.0.0.3","127.0.0.3"')
        emu.send('AT+CDNSGIP="device.example"')
        emu.expect_exact(b"\r\nOK\r\n\r\n+CDNSGIP: 0,3\r\n")
        assert dns_server.count == before


def _stream_forever(conn: Conn) -> None:
    chunk = b"x" * 4096
    try:
        while True:
            conn.send_all(chunk)
    except OSError:
        return


def test_prompt_and_results_come_quickly_with_six_busy_links() -> None:
    """Reference 7: TinyGSM waits 1 s for '>' and DATA ACCEPT. Six links
    receive continuously (CIPRXGET=1, as TinyGSM and FONA run) while one of
    them sends; every wait must end well inside 1 s."""
    servers = [TcpServer(on_accept=_stream_forever) for _ in range(6)]
    try:
        with Emulator() as emu:
            emu.init()
            for line in ("AT+CIPMUX=1", "AT+CIPQSEND=1", "AT+CIPRXGET=1"):
                emu.command(line)
            emu.bring_up()
            for n, server in enumerate(servers):
                emu.command(f'AT+CIPSTART={n},"TCP","127.0.0.1",{server.port}',
                            f"\r\n{n}, CONNECT OK\r\n".encode())
            worst = 0.0
            for i in range(60):
                n = i % 6
                start = time.monotonic()
                emu.send(f"AT+CIPSEND={n},100")
                emu.expect(b"\r\n> ", timeout=1)
                prompt = time.monotonic() - start
                start = time.monotonic()
                emu.write_all(bytes([65 + n]) * 100)
                emu.expect(f"\r\nDATA ACCEPT:{n},100\r\n".encode(), timeout=1)
                accept = time.monotonic() - start
                start = time.monotonic()
                got = emu.command(f"AT+CIPRXGET=4,{n}", timeout=1)
                ok = time.monotonic() - start
                assert re.search(rb"\+CIPRXGET: 4,%d,\d+\r\n\r\nOK\r\n$" % n, got), got
                worst = max(worst, prompt, accept, ok)
            assert worst < 0.5, f"slowest answer {worst:.3f} s"
            for n, server in enumerate(servers):
                server.accept().wait_count(100 * 10)
                assert server.accept().data[:1000] == bytes([65 + n]) * 1000
    finally:
        for server in servers:
            server.close()
