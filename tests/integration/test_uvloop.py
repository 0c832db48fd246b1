"""``serve --loop uvloop`` (docs/uvloop.md) end to end: real modems on
``serve --transport tcp`` driven over their serial connections, on uvloop
and, as the control, on asyncio (``LOOPS``: the uvloop cases are skipped
with the reason where uvloop is not installed).

AT; a TCP link to a local echo server (CIPSEND, SEND OK, the echoed +IPD);
UDP both ways; names through a local DNS server; AT+CNTP against a local
SNTP server and AT+CIPPING (where the host allows an ICMP socket);
transparent mode and its escape; many modems at once; a serial connection
nobody reads while a peer pushes (backpressure); the descriptor limit;
SIGTERM. Elsewhere, over both loops: tests/integration/test_fleet.py (every
connection its own device), test_stalled_peers.py (a peer that never reads),
test_field_baud.py (pacing), test_field_tcp_client.py (the tcp-client
transport), test_ppp_transports.py (PPP per connection).
"""

from __future__ import annotations

import calendar
import contextlib
import os
import re
import resource
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from dnsserver import DnsThread
from ntpserver import SntpServer
from serial_helpers import HOST, LOOPS, Conn, Emulator, TcpServer, UdpServer, echo, free_port

from sim800emu.net import ping

OK = b"\r\nOK\r\n"
TIMEOUT = 10.0


@pytest.fixture(params=LOOPS)
def loop(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


def serve(loop: str, *args: str, dns: bool = True) -> Emulator:
    """``serve --transport tcp --loop LOOP``, and its first modem's line."""
    return Emulator("--loop", loop, *args, transport="tcp", dns=dns)


def link_up(emu: Emulator, proto: str, host: str, port: int) -> None:
    """ATE0, the context, +IPD headers, CIPSTART -> CONNECT OK."""
    emu.init()
    emu.bring_up()
    emu.command("AT+CIPHEAD=1")
    emu.send(f'AT+CIPSTART="{proto}","{host}",{port}')
    emu.expect_exact(b"\r\nOK\r\n\r\nCONNECT OK\r\n")


def cipsend(emu: Emulator, data: bytes) -> None:
    emu.send(f"AT+CIPSEND={len(data)}")
    emu.expect_exact(b"\r\n> ")
    emu.write_all(data)
    emu.expect_exact(b"\r\nSEND OK\r\n")


class Line:
    """A modem of the same ``serve``: one more connection to its port."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection((HOST, port), timeout=TIMEOUT)
        self.sock.setblocking(False)
        self.buf = bytearray()

    def send(self, data: bytes) -> None:
        self.sock.setblocking(True)
        self.sock.sendall(data)
        self.sock.setblocking(False)

    def expect(self, what: bytes, timeout: float = TIMEOUT) -> bytes:
        deadline = time.monotonic() + timeout
        while (at := self.buf.find(what)) < 0:
            left = deadline - time.monotonic()
            assert left > 0, f"no {what!r}; got {bytes(self.buf[-200:])!r}"
            if select.select([self.sock], [], [], left)[0]:
                data = self.sock.recv(65536)
                assert data, f"the serial connection closed; got {bytes(self.buf)!r}"
                self.buf += data
        got = bytes(self.buf[: at + len(what)])
        del self.buf[: at + len(what)]
        return got

    def close(self) -> None:
        self.sock.close()


# ------------------------------------------------------------------ the modems


def test_at_and_a_tcp_echo_round_trip(loop: str) -> None:
    with TcpServer(echo, read=False) as peer, serve(loop) as emu:
        emu.init()
        assert emu.command("AT") == OK
        link_up(emu, "TCP", "echo.test", peer.port)  # the name from the hosts table
        for n in range(20):
            data = b"round trip %02d" % n
            cipsend(emu, data)
            emu.expect_exact(b"\r\n+IPD,%d:%s" % (len(data), data))
        emu.command("AT+CIPCLOSE", b"\r\nCLOSE OK\r\n")


def test_udp_both_ways(loop: str) -> None:
    with UdpServer() as peer, serve(loop) as emu:
        link_up(emu, "UDP", HOST, peer.port)
        cipsend(emu, b"reading 1")
        assert peer.wait_bytes(9) == b"reading 1"
        peer.sendto_peer(b"ack 1")
        emu.expect_exact(b"\r\n+IPD,5:ack 1")


def test_names_through_a_local_dns_server(loop: str) -> None:
    dns = DnsThread({"device.example": "127.0.0.1"})
    try:
        with TcpServer() as target, serve(loop, "--dns-port", str(dns.server.port), dns=False) as emu:
            emu.init()
            emu.bring_up()
            emu.command('AT+CDNSCFG="127.0.0.1"')
            emu.send('AT+CDNSGIP="device.example"')
            emu.expect_exact(b'\r\nOK\r\n\r\n+CDNSGIP: 1,"device.example","127.0.0.1"\r\n')
            emu.send('AT+CDNSGIP="nowhere.example"')
            emu.expect_exact(b"\r\nOK\r\n\r\n+CDNSGIP: 0,8\r\n")
            emu.send(f'AT+CIPSTART="TCP","device.example",{target.port}')
            emu.expect_exact(b"\r\nOK\r\n\r\nCONNECT OK\r\n")
            target.accept()
            assert ("device.example", "A") in dns.server.queries
            assert ("nowhere.example", "A") in dns.server.queries
    finally:
        dns.close()


def test_ntp_at_a_local_server(loop: str) -> None:
    when = calendar.timegm((2031, 5, 17, 12, 34, 56))
    with (
        SntpServer(fixed_unix_time=when) as sntp,
        serve(loop, "--route", f"pool.ntp.org:123={HOST}:{sntp.port}") as emu,
    ):
        emu.init()
        emu.command('AT+SAPBR=3,1,"Contype","GPRS"')
        emu.command("AT+SAPBR=1,1")
        emu.command("AT+CNTPCID=1")
        emu.command('AT+CNTP="pool.ntp.org",0')
        emu.send("AT+CNTP")
        emu.expect_exact(OK)
        emu.expect_exact(b"\r\n+CNTP: 1\r\n")
        assert sntp.queries == 1
        assert b'+CCLK: "31/05/17,12:3' in emu.command("AT+CCLK?")


def test_ping_the_host(loop: str) -> None:
    if ping._open(64) is None:
        pytest.skip("this host allows no ICMP socket (not root, ping_group_range closed)")
    with serve(loop) as emu:
        emu.init()
        emu.bring_up()
        emu.send('AT+CIPPING="echo.test",2,32,50')
        got = emu.expect(OK)
        lines = [x for x in got.decode().split("\r\n") if x]
        assert len(lines) == 3, lines
        for seq, line in enumerate(lines[:2], start=1):
            assert re.fullmatch(rf'\+CIPPING: {seq},"127\.0\.0\.1",\d+,\d+', line), line


def _transparent_link(emu: Emulator, srv: TcpServer) -> Conn:
    """A fresh modem in transparent mode, connected to ``srv``: the peer."""
    emu.init()
    emu.command("AT+CIPMODE=1")
    emu.bring_up()
    emu.send(f'AT+CIPSTART="TCP","{HOST}",{srv.port}')
    emu.expect_exact(b"\r\nOK\r\n\r\nCONNECT\r\n")
    return srv.accept()


def test_transparent_mode_and_its_escape(loop: str) -> None:
    up = os.urandom(200_000)
    down = os.urandom(200_000)
    with TcpServer() as srv, serve(loop, "--escape-guard", "0.2") as emu:
        peer = _transparent_link(emu, srv)
        emu.write_all(up)
        assert peer.wait_count(len(up)) == up
        peer.send_all(down)
        assert emu.read_exact(len(down)) == down
        emu.escape(guard=0.3)
        emu.command("AT+CIPSTATUS", b"\r\nOK\r\n\r\nSTATE: CONNECT OK\r\n")
        emu.command("AT+CIPCLOSE", b"\r\nCLOSE OK\r\n")
        peer.wait_eof()


def test_many_modems_at_once(loop: str) -> None:
    count, rounds = 60, 10
    with TcpServer(echo, read=False, backlog=128) as peer, serve(loop) as emu:
        lines = [Line(emu.tcp_port) for _ in range(count)]
        try:
            steps = [
                (b"ATE0\r", b"OK\r\n"),
                (b"AT+GSN\r", b"OK\r\n"),
                (b'AT+CSTT="CMNET"\r', b"OK\r\n"),
                (b"AT+CIICR\r", b"OK\r\n"),
                (b"AT+CIFSR\r", b"\r\n"),
                (b"AT+CIPHEAD=1\r", b"OK\r\n"),
                (f'AT+CIPSTART="TCP","{HOST}",{peer.port}\r'.encode(), b"CONNECT OK\r\n"),
            ]
            imeis = set()
            for command, answer in steps:
                for line in lines:  # every modem has it before any answer is read
                    line.send(command)
                for line in lines:
                    got = line.expect(answer)
                    if command == b"AT+GSN\r":
                        imeis.add(got.split()[0])
            assert len(imeis) == count  # every connection its own device
            for r in range(rounds):
                data = [b"%03d:%03d!" % (n, r) for n in range(count)]
                for line, chunk in zip(lines, data, strict=True):
                    line.send(b"AT+CIPSEND=%d\r" % len(chunk))
                for line in lines:
                    line.expect(b"> ")
                for line, chunk in zip(lines, data, strict=True):
                    line.send(chunk)
                for line, chunk in zip(lines, data, strict=True):
                    line.expect(b"SEND OK\r\n")
                    line.expect(b"+IPD,%d:%s" % (len(chunk), chunk))
        finally:
            for line in lines:
                line.close()


def test_a_serial_connection_nobody_reads_holds_the_peer_back(loop: str) -> None:
    """The host stops reading its serial connection while a peer pushes:
    the peer's sends block (the link stops being read, the emulator's memory
    stays bounded) and nothing is lost once the host reads again."""
    total = 64 << 20
    with TcpServer(read=False) as srv, serve(loop, "--escape-guard", "0.2") as emu:
        peer = _transparent_link(emu, srv)
        peer.sock.setblocking(False)
        data = os.urandom(total)
        before = emu.rss_kib()
        sent, stalled_since = 0, None
        while sent < total:
            try:
                sent += peer.sock.send(data[sent : sent + 65536])
                stalled_since = None
            except BlockingIOError:
                now = time.monotonic()
                stalled_since = stalled_since or now
                if now - stalled_since > 1.0:
                    break
                select.select([], [peer.sock], [], 0.05)
        assert sent < total, f"the peer sent all {sent} bytes to a host that reads nothing"
        grown = emu.rss_kib() - before
        assert grown < 32 * 1024, f"RSS grew by {grown} KiB"
        assert emu.read_exact(sent, timeout=30) == data[:sent]


def test_at_the_descriptor_limit_the_modems_keep_answering(loop: str) -> None:
    """No descriptor left: new serial connections get no modem (asyncio
    leaves them in the listen backlog and logs one line; libuv closes them
    at once, silently), the modems there go on; once descriptors are free a
    new connection is a modem again."""
    with serve(loop) as emu:
        emu.init()
        pid = emu.proc.pid
        soft, hard = resource.prlimit(pid, resource.RLIMIT_NOFILE)
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (len(os.listdir(f"/proc/{pid}/fd")), hard))
        extra = []
        try:
            for _ in range(5):
                sock = socket.create_connection((HOST, emu.tcp_port), timeout=TIMEOUT)
                sock.sendall(b"AT\r")
                extra.append(sock)
                assert emu.command("AT", timeout=5) == OK
            if loop == "uvloop":  # libuv closed them at once, unanswered
                for sock in extra:
                    with contextlib.suppress(ConnectionResetError):
                        assert sock.recv(100) == b""
            else:  # they wait in the backlog; asyncio says so once
                deadline = time.monotonic() + TIMEOUT
                while "Too many open files" not in emu.stderr_tail():
                    assert time.monotonic() < deadline, emu.stderr_tail()
                    time.sleep(0.05)  # polling the emulator's stderr file
        finally:
            for sock in extra:
                sock.close()
            resource.prlimit(pid, resource.RLIMIT_NOFILE, (soft, hard))
        late = Line(emu.tcp_port)
        try:
            late.send(b"AT\r")
            late.expect(b"AT\r\r\nOK\r\n", timeout=TIMEOUT)
        finally:
            late.close()
        errors = emu.stderr_tail(1_000_000)
        assert "Traceback" not in errors, errors
        assert len(errors.splitlines()) <= 3, errors


def test_cipserver_at_the_descriptor_limit_accepts_again_once_freed(loop: str) -> None:
    """AT+CIPSERVER with no descriptor left: a client gets no link (it waits
    in the backlog on asyncio, libuv closes it at once), the modem answers
    meanwhile, and once descriptors are free a client is a link again."""
    port = free_port()
    with serve(loop) as emu:
        emu.listen(port)
        pid = emu.proc.pid
        soft, hard = resource.prlimit(pid, resource.RLIMIT_NOFILE)
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (len(os.listdir(f"/proc/{pid}/fd")), hard))
        try:
            refused = socket.create_connection((HOST, port), timeout=TIMEOUT)
            refused.sendall(b"hello")
            assert emu.command("AT", timeout=5) == OK
            if loop == "uvloop":
                with contextlib.suppress(ConnectionResetError):
                    assert refused.recv(100) == b""
            refused.close()
        finally:
            resource.prlimit(pid, resource.RLIMIT_NOFILE, (soft, hard))
        late = socket.create_connection((HOST, port), timeout=TIMEOUT)
        try:
            emu.expect(b"REMOTE IP: 127.0.0.1\r\n")
        finally:
            late.close()
        assert emu.command("AT").endswith(OK)
        assert "Traceback" not in emu.stderr_tail(1_000_000)


def test_sigterm_stops_every_modem_and_closes_their_links(loop: str) -> None:
    with TcpServer() as srv, serve(loop) as emu:
        lines = [Line(emu.tcp_port) for _ in range(3)]
        try:
            link_up(emu, "TCP", HOST, srv.port)
            for line in lines:
                line.send(f'ATE0\rAT+CSTT\rAT+CIICR\rAT+CIFSR\rAT+CIPSTART="TCP","{HOST}",{srv.port}\r'.encode())
                line.expect(b"CONNECT OK\r\n")
            peers = [srv.accept(n) for n in range(4)]
            emu.proc.send_signal(signal.SIGTERM)
            assert emu.proc.wait(TIMEOUT) == 0
            for peer in peers:
                peer.wait_eof()
            for line in lines:
                line.sock.setblocking(True)
                line.sock.settimeout(TIMEOUT)
                while line.sock.recv(65536):
                    pass  # whatever it said last, then the end of the connection
        finally:
            for line in lines:
                line.close()
        errors = emu.stderr_tail()
        assert "Traceback" not in errors and "ERROR" not in errors, errors


# ------------------------------------------------------------------ the option


def test_loop_uvloop_without_uvloop_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "uvloop.py").write_text("raise ImportError('not installed here')\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path])}
    result = subprocess.run(
        [sys.executable, "-m", "sim800emu", "serve", "--transport", "tcp", "--loop", "uvloop"],
        capture_output=True, text=True, timeout=30, env=env,
    )  # fmt: skip
    assert result.returncode == 2
    (error,) = result.stderr.strip().splitlines()
    assert error == (
        "sim800emu serve: error: --loop uvloop needs uvloop: pip install 'sim800emu[uvloop]' "
        "(see sim800emu serve --help)"
    )


def test_help_says_what_the_loop_is_for() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sim800emu", "serve", "--help"],
        capture_output=True, text=True, timeout=30, env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    assert "--loop {asyncio,uvloop}" in result.stdout
    assert "pip install 'sim800emu[uvloop]'" in result.stdout
