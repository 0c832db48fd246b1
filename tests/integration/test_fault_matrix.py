"""The fault matrix (issue 10, deliverable 5): one end-to-end case per fault,
through the real pty (or the TCP serial transport where the fault is about
it), each asserting the exact bytes the host sees on the serial line and
that no byte is lost or reordered (SHA-256 of what was delivered before the
fault; data always before the ``CLOSED`` / ``+PDP: DEACT`` that ends it).

| fault | test |
|---|---|
| peer RST mid-transfer (SO_LINGER 0) | ``test_peer_reset_mid_transfer[push, rxget]`` |
| peer RST while the host is at the prompt | ``test_peer_reset_while_the_host_sends`` |
| peer half-close (FIN behind data in flight) | ``test_peer_half_close_delivers_everything_then_closed[push, rxget]`` |
| a peer that never reads | ``tests/integration/test_stalled_peers.py`` (``test_a_peer_that_never_reads_does_not_freeze_the_modem``, ``test_plus_plus_plus_escapes_with_a_stalled_peer``) |
| connect refused | ``test_connect_refused[single, multi]`` |
| connect timing out (a listener whose full backlog drops SYNs) | ``test_connect_timing_out`` |
| DNS down (``--dns-offline``, no host entry) | ``test_dns_down`` |
| DNS garbled (a server answering garbage) | ``test_dns_garbled`` |
| port busy (``AT+CIPSERVER`` on a port bound on the host) | ``test_cipserver_on_a_busy_port`` |
| pty re-open | ``test_pty_reopen_keeps_the_modem_and_its_buffered_data`` (manual read), ``test_pty_reopen_during_a_push_transfer`` |
| TCP serial client drop | ``test_tcp_serial_client_drop`` |
| SIGKILL during a save, restart | ``test_sigkill_during_saves_then_restart`` (planted leftovers: ``tests/integration/test_saves.py``) |
| fd exhaustion | ``test_no_descriptor_left_for_a_new_link``; accept storms and ``serve --count`` in ``tests/integration/test_fd_exhaustion.py`` |
| PDP loss (``ctl pdp-deact``) during a push transfer | ``test_pdp_loss_during_a_transfer[multi, transparent]`` |

The DNS server of ``test_dns_garbled`` listens on a high loopback port
(``serve --dns-port``), so no case needs root.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import resource
import select
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from serial_helpers import HOST, Conn, Emulator, MuxStream, TcpServer, free_port

from sim800emu.control import send as control_send

TIMEOUT = 20.0
# Data without CR (so a raw stream can be told from the URC that ends it).
PAYLOAD = bytes(
    random.Random(10).choices(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
                              k=1 << 20)
)
RXGET2 = re.compile(rb"\+CIPRXGET: 2,(?:\d,)?(\d+),(\d+)\r\n")


def sha(data: bytes | bytearray) -> str:
    return hashlib.sha256(data).hexdigest()


def assert_prefix(got: bytes, what: str) -> None:
    """``got`` is the start of PAYLOAD: nothing lost, nothing reordered."""
    assert sha(got) == sha(PAYLOAD[: len(got)]), (
        f"{what}: the {len(got)} bytes delivered are not the first {len(got)} bytes sent"
    )


def no_traceback(emu: Emulator) -> None:
    errors = emu.stderr_tail(1_000_000)
    assert "Traceback" not in errors, errors[:3000]


def open_link(mux: MuxStream, emu: Emulator, n: int, port: int) -> None:
    emu.send(f'AT+CIPSTART={n},"TCP","{HOST}",{port}')
    mux.wait_line(b"OK")
    mux.wait_line(f"{n}, CONNECT OK".encode(), timeout=TIMEOUT)


def rxget_all(emu: Emulator, link: int, size: int) -> tuple[bytes, bytes]:
    """Read ``size`` bytes of ``link`` with ``AT+CIPRXGET=2`` (multi-link);
    return them and everything else the host saw (URCs) between the reads."""
    data = bytearray()
    other = bytearray()
    while len(data) < size:
        emu.send(f"AT+CIPRXGET=2,{link},1460")
        head = emu.expect(RXGET2, timeout=TIMEOUT)
        m = RXGET2.search(head)
        assert m is not None
        before = head[: m.start()]
        assert before.endswith(b"\r\n"), head  # the response's own CR LF
        other += before[:-2]
        n = int(m.group(1))
        data += emu.read_exact(n, timeout=TIMEOUT)
        emu.expect_exact(b"\r\nOK\r\n", timeout=TIMEOUT)
        if n == 0:  # nothing buffered yet: wait for the module to say so
            other += emu.expect(f"+CIPRXGET: 1,{link}\r\n".encode(), timeout=TIMEOUT)
    return bytes(data), bytes(other)


# --------------------------------------------------------------------------- peer faults


@pytest.mark.parametrize("mode", ["push", "rxget"])
def test_peer_reset_mid_transfer(mode: str) -> None:
    """The peer sends 48,000 bytes, waits until the module's TCP has
    acknowledged every one, and resets the connection (RST) while the host
    has read none: the host still gets all of them, in order, then
    ``0, CLOSED`` once; the link is closed (CIPSEND refused) and can be
    opened again."""
    size = 48_000  # fits the module's and its kernel's receive buffers
    reset = threading.Event()

    def serve(conn: Conn) -> None:
        conn.send_all(PAYLOAD[:size])
        conn.wait_acknowledged(TIMEOUT)
        conn.reset()
        reset.set()

    with TcpServer(serve, read=False) as peer, Emulator() as emu:
        emu.init()
        emu.command("AT+CIPMUX=1")
        if mode == "rxget":
            emu.command("AT+CIPRXGET=1")
        mux = MuxStream(emu)
        open_link(mux, emu, 0, peer.port)
        assert reset.wait(TIMEOUT), "the peer never got its data acknowledged"
        peer.check()
        if mode == "push":
            data = mux.wait_received(0, size, timeout=TIMEOUT)
            closed = mux.wait_line(b"0, CLOSED", timeout=TIMEOUT)
            assert all(seq < closed.seq for seq, _, _ in mux.blocks), "data after CLOSED"
            assert mux.unexpected_lines() == []
        else:
            data, urcs = rxget_all(emu, 0, size)
            # the module read the socket up to the RST while the host read;
            # the rest of its buffer stays readable after CLOSED
            if b"0, CLOSED" not in urcs:
                urcs += emu.expect(b"\r\n0, CLOSED\r\n", timeout=TIMEOUT)
            assert urcs.replace(b"\r\n+CIPRXGET: 1,0\r\n", b"") == b"\r\n0, CLOSED\r\n", urcs
            assert emu.command("AT+CIPRXGET=4,0") == b"\r\n+CIPRXGET: 4,0,0\r\n\r\nOK\r\n"
        assert len(data) == size and sha(data) == sha(PAYLOAD[:size])
        assert emu.command("AT+CIPSEND=0,5", b"\r\nERROR\r\n") == b"\r\nERROR\r\n"
        emu.send("AT+CIPSTATUS=0")
        assert emu.expect(b"\r\nOK\r\n") == (
            f'\r\n+CIPSTATUS: 0,0,"TCP","{HOST}","{peer.port}","CLOSED"\r\n\r\nOK\r\n'.encode()
        )
        with TcpServer() as again:
            open_link(mux, emu, 0, again.port)
            mux.send(0, b"after")
            assert again.accept().wait_count(5) == b"after"
        no_traceback(emu)


def test_peer_reset_while_the_host_sends(tmp_path: Path) -> None:
    """The peer resets the connection while the host is at the ``> ``
    prompt: the data typed then answers ``SEND FAIL``, then ``CLOSED``;
    what was sent before reached the peer, the link is ``TCP CLOSED``."""
    control = tmp_path / "modem.ctl"
    with TcpServer(read=False) as peer, Emulator(
        "--control", str(control), workdir=tmp_path / "w"
    ) as emu:
        emu.init()
        emu.send(f'AT+CIPSTART="TCP","{HOST}",{peer.port}')
        emu.expect_exact(b"\r\nOK\r\n\r\nCONNECT OK\r\n", TIMEOUT)
        conn = peer.accept()
        emu.send("AT+CIPSEND=6")
        emu.expect_exact(b"\r\n> ")
        emu.write_all(PAYLOAD[:6])
        emu.expect_exact(b"\r\nSEND OK\r\n", TIMEOUT)
        conn.sock.settimeout(TIMEOUT)
        got = b""
        while len(got) < 6:
            got += conn.sock.recv(6 - len(got))
        assert got == PAYLOAD[:6]
        emu.send("AT+CIPSEND=10")
        emu.expect_exact(b"\r\n> ")
        conn.reset()
        # the module has seen the RST (the URC waits behind the prompt)
        deadline = time.monotonic() + TIMEOUT
        while "TCP CLOSED" not in control_send(control, "status"):
            assert time.monotonic() < deadline, control_send(control, "status")
            time.sleep(0.02)  # polling the modem's state
        emu.write_all(PAYLOAD[:10])
        emu.expect_exact(b"\r\nSEND FAIL\r\n\r\nCLOSED\r\n", TIMEOUT)
        assert emu.command("AT+CIPSTATUS", b"CLOSED\r\n") == b"\r\nOK\r\n\r\nSTATE: TCP CLOSED\r\n"
        emu.expect_silence(0.2)
        no_traceback(emu)


@pytest.mark.parametrize("mode", ["push", "rxget"])
def test_peer_half_close_delivers_everything_then_closed(mode: str) -> None:
    """The peer sends 256 KiB and shuts its side down (FIN) at once, while
    most of it is still in flight: the host gets every byte in order, then
    ``0, CLOSED``; the module then closes its side (the peer reads EOF)."""
    size = 256 * 1024
    sent = threading.Event()

    def serve(conn: Conn) -> None:
        conn.send_all(PAYLOAD[:size])
        conn.sock.shutdown(socket.SHUT_WR)
        sent.set()

    with TcpServer(serve) as peer, Emulator() as emu:
        emu.init()
        emu.command("AT+CIPMUX=1")
        if mode == "rxget":
            emu.command("AT+CIPRXGET=1")
        mux = MuxStream(emu)
        open_link(mux, emu, 0, peer.port)
        if mode == "push":
            data = mux.wait_received(0, size, timeout=TIMEOUT)
            closed = mux.wait_line(b"0, CLOSED", timeout=TIMEOUT)
            assert all(seq < closed.seq for seq, _, _ in mux.blocks), "data after CLOSED"
            assert mux.unexpected_lines() == []
        else:
            data, urcs = rxget_all(emu, 0, size)
            if b"0, CLOSED" not in urcs:
                urcs += emu.expect(b"\r\n0, CLOSED\r\n", timeout=TIMEOUT)
            assert urcs.replace(b"\r\n+CIPRXGET: 1,0\r\n", b"") == b"\r\n0, CLOSED\r\n", urcs
            assert emu.command("AT+CIPRXGET=4,0") == b"\r\n+CIPRXGET: 4,0,0\r\n\r\nOK\r\n"
        assert sent.is_set()
        assert len(data) == size and sha(data) == sha(PAYLOAD[:size])
        peer.accept().wait_eof(TIMEOUT)
        emu.expect_silence(0.2)
        no_traceback(emu)


# --------------------------------------------------------------------------- connecting


@pytest.mark.parametrize("links", ["single", "multi"])
def test_connect_refused(links: str) -> None:
    """Nothing listens: ``OK`` then ``STATE: TCP CLOSED`` and ``CONNECT
    FAIL`` (single link) or ``0, CONNECT FAIL``; the next CIPSTART works."""
    port = free_port()
    with Emulator() as emu:
        emu.init()
        if links == "single":
            emu.send(f'AT+CIPSTART="TCP","{HOST}",{port}')
            emu.expect_exact(b"\r\nOK\r\n\r\nSTATE: TCP CLOSED\r\n\r\nCONNECT FAIL\r\n", TIMEOUT)
            assert emu.command("AT+CIPSTATUS", b"STATE: TCP CLOSED\r\n") == (
                b"\r\nOK\r\n\r\nSTATE: TCP CLOSED\r\n"
            )
        else:
            emu.command("AT+CIPMUX=1")
            emu.send(f'AT+CIPSTART=0,"TCP","{HOST}",{port}')
            emu.expect_exact(b"\r\nOK\r\n\r\n0, CONNECT FAIL\r\n", TIMEOUT)
        with TcpServer() as peer:
            if links == "single":
                emu.send(f'AT+CIPSTART="TCP","{HOST}",{peer.port}')
                emu.expect_exact(b"\r\nOK\r\n\r\nCONNECT OK\r\n", TIMEOUT)
                emu.send("AT+CIPSEND=5")
                emu.expect_exact(b"\r\n> ")
                emu.write_all(b"again")
                emu.expect_exact(b"\r\nSEND OK\r\n", TIMEOUT)
            else:
                mux = MuxStream(emu)
                open_link(mux, emu, 0, peer.port)
                mux.send(0, b"again")
            assert peer.accept().wait_count(5) == b"again"
            emu.expect_silence(0.2)
        no_traceback(emu)


def _full_listener() -> tuple[socket.socket, list[socket.socket]]:
    """A listener (backlog 0, never accepting) whose queue is full: the
    kernel drops every further SYN, so a connect only times out."""
    lsock = socket.socket()
    lsock.bind((HOST, 0))
    lsock.listen(0)
    fillers: list[socket.socket] = []
    for _ in range(16):
        sock = socket.socket()
        sock.setblocking(False)
        fillers.append(sock)
        sock.connect_ex(lsock.getsockname())
        _, writable, _ = select.select([], [sock], [], 0.5)
        if not writable:  # this SYN went unanswered: the queue is full
            return lsock, fillers
    raise AssertionError("the listen queue never filled")


def test_connect_timing_out() -> None:
    """A destination that never answers the SYN: the modem keeps answering
    (``TCP CONNECTING``) and after ``--connect-timeout`` prints ``STATE: TCP
    CLOSED`` / ``CONNECT FAIL``; the next CIPSTART works."""
    lsock, fillers = _full_listener()
    try:
        with Emulator("--connect-timeout", "1") as emu:
            emu.init()
            emu.send(f'AT+CIPSTART="TCP","{HOST}",{lsock.getsockname()[1]}')
            emu.expect_exact(b"\r\nOK\r\n")
            started = time.monotonic()
            assert emu.command("AT+CIPSTATUS", b"CONNECTING\r\n") == (
                b"\r\nOK\r\n\r\nSTATE: TCP CONNECTING\r\n"
            )
            emu.expect_exact(b"\r\nSTATE: TCP CLOSED\r\n\r\nCONNECT FAIL\r\n", TIMEOUT)
            waited = time.monotonic() - started
            assert 0.8 <= waited < 5, f"CONNECT FAIL after {waited:.2f} s"
            with TcpServer() as peer:
                emu.send(f'AT+CIPSTART="TCP","{HOST}",{peer.port}')
                emu.expect_exact(b"\r\nOK\r\n\r\nCONNECT OK\r\n", TIMEOUT)
                peer.accept()
            no_traceback(emu)
    finally:
        for sock in fillers:
            sock.close()
        lsock.close()


# --------------------------------------------------------------------------- DNS


def test_dns_down() -> None:
    """``--dns-offline`` and a name not in the hosts table: ``+CDNSGIP: 0,8``
    and a CIPSTART by that name fails as a refused connection; a name in the
    table still works."""
    with TcpServer() as peer, Emulator() as emu:  # --dns-offline --host echo.test=...
        emu.init()
        emu.bring_up()
        emu.send('AT+CDNSGIP="nowhere.test"')
        emu.expect_exact(b"\r\nOK\r\n\r\n+CDNSGIP: 0,8\r\n", TIMEOUT)
        emu.send(f'AT+CIPSTART="TCP","nowhere.test",{peer.port}')
        emu.expect_exact(b"\r\nOK\r\n\r\nSTATE: TCP CLOSED\r\n\r\nCONNECT FAIL\r\n", TIMEOUT)
        emu.send(f'AT+CIPSTART="TCP","echo.test",{peer.port}')
        emu.expect_exact(b"\r\nOK\r\n\r\nCONNECT OK\r\n", TIMEOUT)
        peer.accept()
        no_traceback(emu)


class GarbageDns:
    """A UDP "DNS server" on loopback answering every datagram with
    garbage: random bytes, and the query's own ID followed by junk."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((HOST, 0))
        self.port: int = self.sock.getsockname()[1]
        self.queries = 0
        self._rng = random.Random(53)
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while True:
            try:
                data, addr = self.sock.recvfrom(4096)
            except OSError:
                return
            self.queries += 1
            junk = self._rng.randbytes(self._rng.randrange(1, 64))
            for answer in (junk, data[:2] + b"\x81\x80" + junk, data[:2]):
                self.sock.sendto(answer, addr)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def garbage_dns() -> Iterator[GarbageDns]:
    server = GarbageDns()
    yield server
    server.close()


def test_dns_garbled(garbage_dns: GarbageDns) -> None:
    """The DNS server answers garbage: the answers are ignored as a real
    resolver ignores them, the lookup times out as a network error
    (``+CDNSGIP: 0,3`` after ``--dns-timeout``), the modem answers
    meanwhile, and a CIPSTART by name fails as a refused connection."""
    with TcpServer() as peer, Emulator(
        "--dns-port", str(garbage_dns.port), "--dns-timeout", "1", dns=False
    ) as emu:
        emu.init()
        emu.bring_up()
        emu.command(f'AT+CDNSCFG="{HOST}"')
        emu.send('AT+CDNSGIP="device.example"')
        emu.expect_exact(b"\r\nOK\r\n")
        started = time.monotonic()
        assert emu.command("AT") == b"\r\nOK\r\n"  # answered while the lookup runs
        emu.expect_exact(b"\r\n+CDNSGIP: 0,3\r\n", TIMEOUT)
        assert 0.8 <= time.monotonic() - started < 5
        assert garbage_dns.queries >= 1
        emu.send(f'AT+CIPSTART="TCP","device.example",{peer.port}')
        emu.expect_exact(b"\r\nOK\r\n\r\nSTATE: TCP CLOSED\r\n\r\nCONNECT FAIL\r\n", TIMEOUT)
        emu.send(f'AT+CIPSTART="TCP","{HOST}",{peer.port}')
        emu.expect_exact(b"\r\nOK\r\n\r\nCONNECT OK\r\n", TIMEOUT)
        peer.accept()
        no_traceback(emu)


# --------------------------------------------------------------------------- server


def test_cipserver_on_a_busy_port() -> None:
    """A port another program listens on: ``OK`` then ``CONNECT FAIL``, no
    server (``+CIPSERVER: 0,0``, still ``IP STATUS``); once the port is free
    the same command gives ``SERVER OK`` and clients come in."""
    busy = socket.socket()
    busy.bind((HOST, 0))
    busy.listen()
    port = busy.getsockname()[1]
    try:
        with Emulator() as emu:
            emu.init()
            emu.command("AT+CIPMUX=1")
            emu.bring_up()
            emu.send(f"AT+CIPSERVER=1,{port}")
            emu.expect_exact(b"\r\nOK\r\n\r\nCONNECT FAIL\r\n", TIMEOUT)
            assert emu.command("AT+CIPSERVER?") == b"\r\n+CIPSERVER: 0,0\r\n\r\nOK\r\n"
            emu.send("AT+CIPSTATUS")
            assert emu.expect(b"\r\nSTATE: IP STATUS\r\n") == b"\r\nOK\r\n\r\nSTATE: IP STATUS\r\n"
            emu.expect(b'C: 5,,"","","","INITIAL"\r\n')
            assert "address already in use" in emu.stderr_tail()
            busy.close()
            emu.send(f"AT+CIPSERVER=1,{port}")
            emu.expect_exact(b"\r\nOK\r\n\r\nSERVER OK\r\n", TIMEOUT)
            client = socket.create_connection((HOST, port), timeout=TIMEOUT)
            try:
                emu.expect_exact(b"\r\n0, REMOTE IP: 127.0.0.1\r\n", TIMEOUT)
            finally:
                client.close()
            no_traceback(emu)
    finally:
        busy.close()


# --------------------------------------------------------------------------- serial line


def test_pty_reopen_keeps_the_modem_and_its_buffered_data() -> None:
    """The host closes the pty while a peer sends 20,000 bytes to a manual
    read (``AT+CIPRXGET=1``) link, and opens it again (and again between
    reads): the modem answers at once, keeps its settings and link, and
    every byte is read, in order."""
    size = 20_000
    with TcpServer() as peer, Emulator() as emu:
        emu.init()
        emu.command("AT+CIPRXGET=1")
        emu.send(f'AT+CIPSTART="TCP","{HOST}",{peer.port}')
        emu.expect_exact(b"\r\nOK\r\n\r\nCONNECT OK\r\n", TIMEOUT)
        conn = peer.accept()
        emu.close_line()
        conn.send_all(PAYLOAD[:size])
        conn.wait_acknowledged(TIMEOUT)
        emu.open_line()
        # what the modem printed while the line was closed waits in the pty
        emu.expect_exact(b"\r\n+CIPRXGET: 1\r\n", TIMEOUT)
        assert emu.command("AT") == b"\r\nOK\r\n"  # ATE0 still in force
        data = bytearray()
        reads = 0
        while len(data) < size:
            emu.send("AT+CIPRXGET=2,1460")
            head = emu.expect(re.compile(rb"\+CIPRXGET: 2,(\d+),(\d+)\r\n"), timeout=TIMEOUT)
            m = re.search(rb"\+CIPRXGET: 2,(\d+),(\d+)\r\n$", head)
            assert m is not None, head
            # a refill of the emptied buffer may be announced between reads
            assert head[: m.start()] in (b"\r\n", b"\r\n+CIPRXGET: 1\r\n\r\n"), head
            n = int(m.group(1))
            data += emu.read_exact(n, TIMEOUT)
            emu.expect_exact(b"\r\nOK\r\n", TIMEOUT)
            reads += 1
            if n == 0:
                emu.expect_exact(b"\r\n+CIPRXGET: 1\r\n", TIMEOUT)
            elif reads % 3 == 0:  # and again, between reads
                emu.close_line()
                emu.open_line()
        assert len(data) == size and sha(data) == sha(PAYLOAD[:size])
        emu.send("AT+CIPSEND=4")
        emu.expect_exact(b"\r\n> ")
        emu.write_all(b"back")
        emu.expect_exact(b"\r\nSEND OK\r\n", TIMEOUT)
        assert conn.wait_count(4) == b"back"
        emu.expect_silence(0.2)
        no_traceback(emu)


def test_pty_reopen_during_a_push_transfer() -> None:
    """The host closes the pty while a peer pushes 300,000 bytes
    (``+RECEIVE`` blocks) and opens it again, twice, the second time in
    the middle of the stream: every byte arrives, in order, in whole
    blocks, with nothing else on the line."""
    size = 300_000
    with TcpServer() as peer, Emulator() as emu:
        emu.init()
        emu.command("AT+CIPMUX=1")
        mux = MuxStream(emu)
        open_link(mux, emu, 0, peer.port)
        conn = peer.accept()
        emu.close_line()
        sender = threading.Thread(target=conn.send_all, args=(PAYLOAD[:size],), daemon=True)
        sender.start()
        emu.open_line()
        mux.wait_received(0, size // 3, timeout=TIMEOUT)
        emu.close_line(forget=False)  # the same program: it keeps what it read
        emu.open_line()
        data = mux.wait_received(0, size, timeout=TIMEOUT)
        sender.join(TIMEOUT)
        assert len(data) == size and sha(data) == sha(PAYLOAD[:size])
        assert mux.unexpected_lines() == []
        mux.send(0, b"back")
        assert conn.wait_count(4) == b"back"
        emu.expect_silence(0.2)
        no_traceback(emu)


def test_tcp_serial_client_drop() -> None:
    """``--transport tcp``: the serial client disconnects while a link is
    open; the link's peer gets what was sent and then EOF. A new connection
    is a fresh modem (echo on, ``IP INITIAL``, the next identity)."""
    with TcpServer() as peer, Emulator(transport="tcp") as emu:
        emu.init()
        emu.send("AT+GSN")
        first = emu.expect(b"\r\nOK\r\n")
        emu.send(f'AT+CIPSTART="TCP","{HOST}",{peer.port}')
        emu.expect_exact(b"\r\nOK\r\n\r\nCONNECT OK\r\n", TIMEOUT)
        emu.send("AT+CIPSEND=6")
        emu.expect_exact(b"\r\n> ")
        emu.write_all(b"before")
        emu.expect_exact(b"\r\nSEND OK\r\n", TIMEOUT)
        emu.close_line()
        conn = peer.accept()
        conn.wait_eof(TIMEOUT)
        assert bytes(conn.data) == b"before"
        emu.open_line()
        emu.send("AT")
        emu.expect_exact(b"AT\r\r\nOK\r\n", TIMEOUT)
        emu.init()
        assert emu.command("AT+CIPSTATUS", b"INITIAL\r\n") == b"\r\nOK\r\n\r\nSTATE: IP INITIAL\r\n"
        emu.send("AT+GSN")
        second = emu.expect(b"\r\nOK\r\n")
        assert re.fullmatch(rb"\r\n\d{15}\r\n\r\nOK\r\n", second) and second != first
        assert emu.proc.poll() is None
        no_traceback(emu)


# --------------------------------------------------------------------------- saves


def _count_oks(emu: Emulator, at_least: int) -> int:
    """Read until ``at_least`` OKs have come; return how many came in all."""
    while emu.buf.count(b"OK\r\n") < at_least:
        emu._fill(TIMEOUT)
    return emu.buf.count(b"OK\r\n")


BURST = 25  # saves per burst


def _save_burst(command: str) -> tuple[str, int]:
    """The commands of a burst of saves, each of new values; and the OKs
    per save. Save ``i`` (1..BURST) stores the values :func:`_saved_index`
    reads back as ``i``."""
    if command == "AT+CIPSCONT":  # the TCP/IP settings: the CIPATS timer is i
        return "".join(f"AT+CIPATS=1,{i}\r{command}\r" for i in range(1, BURST + 1)), 2
    # the user profile: CREG, CGREG and CMEE modes are the digits of i in base 3
    return "".join(
        f"AT+CREG={i // 9}\rAT+CGREG={i // 3 % 3}\rAT+CMEE={i % 3}\r{command}\r"
        for i in range(1, BURST + 1)
    ), 4


def _saved_index(emu: Emulator, command: str) -> int:
    """Which save of a burst the modem started with (0: its defaults)."""
    if command == "AT+CIPSCONT":
        got = emu.command("AT+CIPATS?")
        m = re.fullmatch(rb"\r\n\+CIPATS: (\d),(\d+)\r\n\r\nOK\r\n", got)
        assert m is not None, got
        return int(m.group(2))
    digits = []
    for query in ("AT+CREG?", "AT+CGREG?", "AT+CMEE?"):
        got = emu.command(query)
        m = re.fullmatch(rb"\r\n\+C\w+: (\d)[^\r]*\r\n\r\nOK\r\n", got)
        assert m is not None, got
        digits.append(int(m.group(1)))
    return digits[0] * 9 + digits[1] * 3 + digits[2]


@pytest.mark.parametrize("command", ["AT+CIPSCONT", "AT&W"])
def test_sigkill_during_saves_then_restart(tmp_path: Path, command: str) -> None:
    """A burst of saves, each of new values, SIGKILLed as soon as a few have
    answered ``OK`` (so mostly in the middle of the next one), three times,
    each time restarted with the same ``--state-dir``: every start answers
    with no traceback, leaves no temporary file, and starts with the values
    of the last save answered ``OK`` or of a later one of the burst (a save
    may finish before its OK is read), never older ones, never a mix of
    two saves, never a corrupt file."""
    state = tmp_path / "state"
    lines, per_save = _save_burst(command)
    acknowledged = 0  # the last save of the last burst answered OK
    for round_ in range(4):
        with Emulator("--state-dir", str(state), workdir=tmp_path / f"run{round_}") as emu:
            emu.init()
            index = _saved_index(emu, command)
            assert acknowledged <= index <= (BURST if round_ else 0), (index, acknowledged)
            names = sorted(os.listdir(state)) if state.exists() else []
            assert names == (["868183038764457.json"] if round_ else []), names
            if names:
                json.loads((state / names[0]).read_text())  # whole, never half
            assert "saved settings" not in emu.stderr_tail()  # nothing corrupt or dropped
            no_traceback(emu)
            if round_ == 3:
                break
            emu.init()  # ATE0 (a saved profile may have echo on)
            emu.write_all(lines.encode())
            oks = _count_oks(emu, per_save * (2 + 3 * round_))
            emu.proc.kill()
            emu.proc.wait(TIMEOUT)
            acknowledged = oks // per_save


# --------------------------------------------------------------------------- resources


def _lowest_free_fd(pid: int) -> int:
    used = {int(name) for name in os.listdir(f"/proc/{pid}/fd")}
    fd = 0
    while fd in used:
        fd += 1
    return fd


def test_no_descriptor_left_for_a_new_link() -> None:
    """The emulator's process has no file descriptor left: a new link ends
    in ``1, CONNECT FAIL``, while the open link keeps carrying data both ways, intact; once descriptors are
    back a new link works. (Accept storms and ``serve --count`` beyond the
    limit: ``tests/integration/test_fd_exhaustion.py``.)"""
    size = 100_000
    with TcpServer() as peer, Emulator() as emu:
        emu.init()
        emu.command("AT+CIPMUX=1")
        mux = MuxStream(emu)
        open_link(mux, emu, 0, peer.port)
        conn = peer.accept()
        pid = emu.proc.pid
        soft, hard = resource.prlimit(pid, resource.RLIMIT_NOFILE)
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (_lowest_free_fd(pid), hard))
        try:
            emu.send(f'AT+CIPSTART=1,"TCP","{HOST}",{peer.port}')
            mux.wait_line(b"OK")
            mux.wait_line(b"1, CONNECT FAIL", timeout=TIMEOUT)
            conn.send_all(PAYLOAD[:size])
            data = mux.wait_received(0, size, timeout=TIMEOUT)
            assert sha(data) == sha(PAYLOAD[:size])
            mux.send(0, b"still here")
            assert conn.wait_count(10) == b"still here"
        finally:
            resource.prlimit(pid, resource.RLIMIT_NOFILE, (soft, hard))
        open_link(mux, emu, 1, peer.port)
        mux.send(1, b"fds back")
        assert peer.accept(1).wait_count(8) == b"fds back"
        assert mux.unexpected_lines() == []
        no_traceback(emu)


# --------------------------------------------------------------------------- PDP loss


def ctl(sock: Path, *words: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "sim800emu", "ctl", str(sock), *words],
        capture_output=True, text=True, timeout=TIMEOUT,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout.strip()


@pytest.mark.parametrize("mode", ["multi", "transparent"])
def test_pdp_loss_during_a_transfer(tmp_path: Path, mode: str) -> None:
    """The network drops the context (``ctl pdp-deact``) while a peer
    pushes data: what reached the host is the start of what was sent, in
    order; then ``+PDP: DEACT`` (preceded by ``CLOSED`` in transparent
    mode) and nothing more; ``STATE: PDP DEACT``; the peer's connection
    ends; after ``AT+CIPSHUT`` a new link works."""
    control = tmp_path / "modem.ctl"
    stop = threading.Event()

    def stream(conn: Conn) -> None:
        view = memoryview(PAYLOAD)
        while view and not stop.is_set():
            try:
                n = conn.sock.send(view[:4096])
            except OSError:  # the module's end is gone
                return
            view = view[n:]

    with TcpServer(stream) as peer, Emulator(
        "--control", str(control), workdir=tmp_path / "w"
    ) as emu:
        emu.init()
        if mode == "multi":
            emu.command("AT+CIPMUX=1")
            mux = MuxStream(emu)
            open_link(mux, emu, 0, peer.port)
            mux.wait_received(0, 64 * 1024, timeout=TIMEOUT)
            assert ctl(control, "pdp-deact") == "ok 1 modem(s)"
            deact = mux.wait_line(b"+PDP: DEACT", timeout=TIMEOUT)
            data = bytes(mux.received[0])
            assert all(seq < deact.seq for seq, _, _ in mux.blocks), "data after +PDP: DEACT"
            assert mux.unexpected_lines() == []
        else:
            emu.command("AT+CIPMODE=1")
            emu.send(f'AT+CIPSTART="TCP","{HOST}",{peer.port}')
            emu.expect_exact(b"\r\nOK\r\n\r\nCONNECT\r\n", TIMEOUT)
            first = emu.read_exact(64 * 1024, TIMEOUT)
            assert ctl(control, "pdp-deact") == "ok 1 modem(s)"
            rest = emu.expect(b"\r\nCLOSED\r\n\r\n+PDP: DEACT\r\n", TIMEOUT)
            data = first + rest[: -len(b"\r\nCLOSED\r\n\r\n+PDP: DEACT\r\n")]
        assert len(data) >= 64 * 1024
        assert_prefix(data, "before +PDP: DEACT")
        peer.accept().wait_eof(TIMEOUT)
        stop.set()
        emu.expect_silence(0.2)
        emu.send("AT+CIPSTATUS")
        assert emu.expect(b"STATE: PDP DEACT\r\n") == b"\r\nOK\r\n\r\nSTATE: PDP DEACT\r\n"
        if mode == "multi":
            emu.expect(b'C: 5,,"","","","INITIAL"\r\n')
        assert emu.command("AT+CIPSHUT", b"\r\nSHUT OK\r\n") == b"\r\nSHUT OK\r\n"
        with TcpServer() as again:
            if mode == "multi":
                open_link(mux, emu, 0, again.port)
                mux.send(0, b"new link")
            else:
                emu.send(f'AT+CIPSTART="TCP","{HOST}",{again.port}')
                emu.expect_exact(b"\r\nOK\r\n\r\nCONNECT\r\n", TIMEOUT)
                emu.write_all(b"new link")
            assert again.accept().wait_count(8) == b"new link"
        no_traceback(emu)
