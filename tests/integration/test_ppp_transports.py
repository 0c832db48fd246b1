"""Dial-up data on every transport the modem has (issue 16, "it works
everywhere the modem does"): the TCP serial server, where each connection
is a modem of its own with its own PPP (and its own address: a fleet counts
the local IP up), and a ``--count`` fleet of ptys. The client is the
test-side PPP client (``pppclient.py``, independent of the emulator's PPP
code): LCP, PAP and IPCP up to the addresses it was given.
"""

from __future__ import annotations

import os
import select
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from pppclient import PppClient
from serial_helpers import LOOPS, fleet, tcp_serve

TIMEOUT = 20.0


class Line:
    """A serial line on a file descriptor (a TCP connection or a pty)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.buf = bytearray()

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            select.select([], [self.fd], [], TIMEOUT)
            try:
                n = os.write(self.fd, view)
            except BlockingIOError:
                continue
            view = view[n:]

    def read(self, timeout: float) -> bytes:
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return b""
        try:
            return os.read(self.fd, 65536)
        except BlockingIOError:
            return b""

    def expect(self, needle: bytes) -> bytes:
        deadline = time.monotonic() + TIMEOUT
        while needle not in self.buf:
            assert time.monotonic() < deadline, f"no {needle!r}; have {bytes(self.buf)!r}"
            self.buf += self.read(0.2)
        at = self.buf.index(needle) + len(needle)
        got = bytes(self.buf[:at])
        del self.buf[:at]
        return got


def dial_and_negotiate(line: Line) -> PppClient:
    """ATE0, ATD*99#, CONNECT, then the client up to IPCP opened."""
    line.write(b"ATE0\r")
    line.expect(b"OK\r\n")
    line.write(b"ATD*99#\r")
    line.expect(b"\r\nCONNECT\r\n")
    client = PppClient()
    client.on_output = line.write
    client.start()
    client.feed(bytes(line.buf))
    line.buf.clear()
    deadline = time.monotonic() + TIMEOUT
    while not client.opened:
        assert time.monotonic() < deadline, f"IPCP did not open: {client.counts}"
        wait = client.next_timeout()
        client.feed(line.read(0.2 if wait is None else min(0.2, wait)))
        client.tick()
    return client


def dial_on_pyserial(port: Any) -> tuple[PppClient, float]:
    """ATD*99#, CONNECT, then the client up to IPCP opened on a pyserial
    port (with a read timeout); the client and the deadline it met."""
    port.write(b"ATD*99#\r")
    assert port.read_until(b"CONNECT\r\n").endswith(b"CONNECT\r\n")
    client = PppClient()
    client.on_output = port.write
    client.start()
    deadline = time.monotonic() + TIMEOUT
    while not client.opened:
        assert time.monotonic() < deadline, f"IPCP did not open: {client.counts}"
        client.feed(port.read(4096))
        client.tick()
    return client, deadline


def hang_up(line: Line, client: PppClient) -> None:
    """The client terminates LCP: the modem answers and says NO CARRIER."""
    client.close()
    deadline = time.monotonic() + TIMEOUT
    while b"NO CARRIER" not in line.buf:
        assert time.monotonic() < deadline, bytes(line.buf)
        data = line.read(0.2)
        client.feed(data)
        line.buf += data
        client.tick()
    line.buf.clear()
    line.write(b"AT\r")
    line.expect(b"OK\r\n")


@pytest.mark.parametrize("loop", LOOPS)
def test_each_tcp_connection_dials_its_own_ppp(tmp_path: Path, loop: str) -> None:
    with tcp_serve(tmp_path, "--loop", loop) as port:
        conns = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(2)]
        try:
            lines = []
            for conn in conns:
                conn.setblocking(False)
                lines.append(Line(conn.fileno()))
            clients = [dial_and_negotiate(line) for line in lines]
            addresses = [c.settings.local for c in clients if c.settings is not None]
            assert addresses == ["10.78.245.128", "10.78.245.129"], addresses
            for line, client in zip(lines, clients, strict=True):
                hang_up(line, client)
        finally:
            for conn in conns:
                conn.close()


def test_a_fleet_of_ptys_each_with_its_own_ppp(tmp_path: Path) -> None:
    with fleet(tmp_path, 2) as modems:
        lines = [Line(fd) for fd in modems.fds]
        clients = [dial_and_negotiate(line) for line in lines]
        addresses = [c.settings.local for c in clients if c.settings is not None]
        assert addresses == ["10.78.245.128", "10.78.245.129"], addresses
        answer = subprocess.run(
            [sys.executable, "-m", "sim800emu", "ctl", str(modems.ctl), "status"],
            capture_output=True, text=True, timeout=20,
        )
        assert answer.stdout.count("IPCP opened") == 2, answer.stdout
        for line, client in zip(lines, clients, strict=True):
            hang_up(line, client)


def test_in_process_url_port() -> None:
    """``sim800://`` (pyserial, no pty): the same dial and negotiation."""
    import serial

    from sim800emu.transports import register_url_handler

    register_url_handler()
    port = serial.serial_for_url("sim800://?dns-offline&ppp-restart=1", timeout=0.2)
    try:
        port.write(b"ATE0\r")
        assert b"OK" in port.read_until(b"OK\r\n")
        client, _ = dial_on_pyserial(port)
        assert client.settings is not None and client.settings.local == "10.78.245.128"
    finally:
        port.close()


def test_stdio_transport_dials_ppp(tmp_path: Path) -> None:
    """``serve --transport stdio``: the serial line is the process's stdin
    and stdout (a firmware simulator piping to it); the same dial, the same
    negotiation, then the client's LCP Terminate ends it with NO CARRIER."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "sim800emu", "serve", "--transport", "stdio",
         "--state-dir", str(tmp_path), "--dns-offline", "--ppp-restart", "1"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdin is not None and proc.stdout is not None
    try:
        os.set_blocking(proc.stdout.fileno(), False)
        line = Line(proc.stdout.fileno())

        def write(data: bytes) -> None:
            assert proc.stdin is not None
            proc.stdin.write(data)
            proc.stdin.flush()

        line.write = write  # type: ignore[method-assign]
        client = dial_and_negotiate(line)
        assert client.settings is not None and client.settings.local == "10.78.245.128"
        hang_up(line, client)
    finally:
        proc.stdin.close()  # end of input ends the run
        assert proc.wait(15) == 0, proc.stderr.read() if proc.stderr else b""


def test_pytest_plugin_fixture_dials_ppp(sim800: Any) -> None:
    """The ``sim800`` fixture's pyserial port dials up like any other, and
    ``sim800.hangup()`` (ctl hangup) ends the call from the network's side:
    the client gets LCP Terminate-Request, the modem then says NO CARRIER."""
    with sim800.serial(timeout=0.2) as port:
        port.write(b"ATE0\r")
        assert port.read_until(b"OK\r\n").endswith(b"OK\r\n")
        client, deadline = dial_on_pyserial(port)
        sim800.hangup()
        seen = bytearray()
        while b"NO CARRIER" not in seen:
            assert time.monotonic() < deadline + TIMEOUT, bytes(seen)
            data = port.read(4096)
            seen += data
            client.feed(data)
            client.tick()
        port.write(b"AT\r")
        assert port.read_until(b"OK\r\n").endswith(b"OK\r\n")
