"""Peers that stop reading, and hosts that stop reading (issues 9 and 10),
end to end through the real pty.

* A peer that never reads fills only its own link's send buffer: the modem
  keeps answering, ``AT+CIPSEND?`` shows 0 for that link, a send to it is
  refused, other links carry on, and ``+++`` still leaves transparent mode.
* A host that never reads (neither ``AT+CIPRXGET=2`` nor its serial line)
  while a peer pushes 100 MiB: the peer's send blocks (the TCP window
  closes) and the emulator's memory stays bounded.
"""

from __future__ import annotations

import re
import socket
import threading
import time

import pytest
from serial_helpers import HOST, LOOPS, Emulator, MuxStream, TcpServer, echo, free_port

from sim800emu.core.config import RX_BUFFER

TIMEOUT = 30.0
BLOCK = b"s" * 1460


@pytest.mark.parametrize("loop", LOOPS)
def test_a_peer_that_never_reads_does_not_freeze_the_modem(loop: str) -> None:
    with (
        TcpServer(read=False, rcvbuf=4096) as sink,
        TcpServer(echo, read=False) as echoing,
        Emulator("--dns-offline", "--loop", loop) as emu,
    ):
        emu.init()
        emu.command("AT+CIPMUX=1")
        mux = MuxStream(emu)
        for n, port in ((0, sink.port), (1, echoing.port)):
            emu.send(f'AT+CIPSTART={n},"TCP","{HOST}",{port}')
            mux.wait_line(b"OK")
            mux.wait_line(f"{n}, CONNECT OK".encode(), timeout=TIMEOUT)
        # Send to the stalled link until the module refuses (bounded: the
        # kernel's buffers plus the link's own; far below 64 MiB).
        refused = False
        for _ in range(64 * 1024 * 1024 // len(BLOCK)):
            emu.send("AT+CIPSEND=0,1460")
            got = emu.expect(re.compile(rb"> |ERROR\r\n"), timeout=TIMEOUT)
            if got.endswith(b"ERROR\r\n"):
                refused = True
                break
            emu.write_all(BLOCK)
            emu.expect(b"0, SEND OK\r\n", timeout=TIMEOUT)
        assert refused, "the stalled link never filled"
        # Everything else keeps working at once.
        assert emu.command("AT", timeout=5) == b"\r\nOK\r\n"
        emu.send("AT+CIPSEND?")
        got = emu.expect(b"\r\nOK\r\n", timeout=5)
        assert b"+CIPSEND: 0,0\r\n" in got and b"+CIPSEND: 1,1460\r\n" in got, got
        emu.send("AT+CIPSEND=1,5")
        mux.wait_prompt(timeout=5)
        emu.write_all(b"hello")
        mux.wait_line(b"1, SEND OK", timeout=5)
        assert mux.wait_received(1, 5, timeout=5) == b"hello"
        emu.send("AT+CIPCLOSE=0")
        mux.wait_line(b"0, CLOSE OK", timeout=5)
        emu.send("AT+CIPSHUT")
        mux.wait_line(b"SHUT OK", timeout=5)


def test_plus_plus_plus_escapes_with_a_stalled_peer() -> None:
    with TcpServer(read=False, rcvbuf=4096) as sink, Emulator("--dns-offline") as emu:
        emu.init()
        emu.command("AT+CIPMODE=1")
        emu.send(f'AT+CIPSTART="TCP","{HOST}",{sink.port}')
        emu.expect(b"\r\nOK\r\n")
        emu.expect(b"\r\nCONNECT\r\n", timeout=TIMEOUT)
        # The host writes far more than the peer and every buffer take; the
        # writes block for a while (flow control), then the module drops
        # what it cannot send, as a module without flow control does.
        chunk = b"t" * 65536
        written = 0
        deadline = time.monotonic() + TIMEOUT
        while written < 16 * 1024 * 1024:
            assert time.monotonic() < deadline, f"the line stayed blocked after {written} bytes"
            emu.write_all(chunk, timeout=TIMEOUT)
            written += len(chunk)
        # +++ with its guard times still leaves data mode, the link stays up.
        emu.escape()
        assert emu.command("AT", timeout=5) == b"\r\nOK\r\n"
        emu.send("AT+CIPSTATUS")
        emu.expect(b"STATE: CONNECT OK\r\n", timeout=5)
        emu.send("AT+CIPCLOSE")
        emu.expect(b"CLOSE OK\r\n", timeout=5)


def _push_until_blocked(port: int, total: int) -> tuple[int, bool]:
    """Send up to ``total`` bytes to the modem's server without blocking;
    return what the kernel took and whether the send would block."""
    sock = socket.create_connection((HOST, port), timeout=TIMEOUT)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
    sock.setblocking(False)
    block = b"p" * 65536
    sent = 0
    blocked_since: float | None = None
    try:
        while sent < total:
            try:
                sent += sock.send(block)
                blocked_since = None
            except BlockingIOError:
                now = time.monotonic()
                if blocked_since is None:
                    blocked_since = now
                elif now - blocked_since > 1.0:  # no room for a whole second
                    return sent, True
                threading.Event().wait(0.01)
        return sent, False
    finally:
        sock.close()


def test_host_that_never_reads_bounds_memory_and_blocks_the_peer() -> None:
    with Emulator("--dns-offline") as emu:
        emu.init()
        emu.command("AT+CIPMUX=1")
        emu.bring_up()
        port = free_port()
        emu.send(f"AT+CIPSERVER=1,{port}")
        emu.expect(b"\r\nSERVER OK\r\n", timeout=TIMEOUT)
        before = emu.rss_kib()
        # Push mode: +RECEIVE blocks towards a serial line nobody reads.
        sent, blocked = _push_until_blocked(port, 100 * 1024 * 1024)
        assert blocked, f"the peer sent all {sent} bytes"
        grown = emu.rss_kib() - before
        assert grown < 32 * 1024, f"RSS grew by {grown} KiB"


def test_ciprxget_host_that_never_reads_blocks_the_peer() -> None:
    with Emulator("--dns-offline") as emu:
        emu.init()
        emu.command("AT+CIPMUX=1")
        emu.command("AT+CIPRXGET=1")
        emu.bring_up()
        port = free_port()
        emu.send(f"AT+CIPSERVER=1,{port}")
        emu.expect(b"\r\nSERVER OK\r\n", timeout=TIMEOUT)
        before = emu.rss_kib()
        sent, blocked = _push_until_blocked(port, 100 * 1024 * 1024)
        assert blocked, f"the peer sent all {sent} bytes"
        assert emu.rss_kib() - before < 16 * 1024
        emu.send("AT+CIPRXGET=4,0")
        got = emu.expect(re.compile(rb"\+CIPRXGET: 4,0,(\d+)\r\n\r\nOK\r\n"), timeout=5)
        m = re.search(rb"4,0,(\d+)", got)
        assert m is not None and int(m.group(1)) == RX_BUFFER
