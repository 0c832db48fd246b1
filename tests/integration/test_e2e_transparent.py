"""Transparent mode end to end (issue 4): pty <-> real emulator <-> local peers.

Every test starts its own ``sim800emu serve`` (``serial_helpers.Emulator``)
and talks to it through the real pty; the peers are real sockets on
127.0.0.1.  Waits are on conditions with deadlines; the only fixed waits are
the ``+++`` guard times (``wait_quiet``), which the protocol itself demands.
"""

from __future__ import annotations

import hashlib
import os
import random
import threading
import time

import pytest
from serial_helpers import (
    Emulator,
    TcpServer,
    UdpServer,
    connect,
    free_port,
    wait_quiet,
)

OK = b"\r\nOK\r\n"
CONNECT = b"\r\nCONNECT\r\n"
GUARD = 1.2  # > the 1 s guard time of +++


def open_transparent(emu: Emulator, port: int, proto: str = "TCP", end: bytes = b"\r") -> None:
    """ATE0, CIPMODE=1, CSTT/CIICR/CIFSR, CIPSTART -> OK, CONNECT (data mode)."""
    emu.init()
    emu.command("AT+CIPMODE=1")
    emu.bring_up()
    emu.write_all(f'AT+CIPSTART="{proto}","127.0.0.1",{port}'.encode() + end)
    emu.expect_exact(OK)
    emu.expect_exact(CONNECT)


def pattern(size: int, seed: int) -> bytes:
    """Deterministic binary data (every byte value, no special casing)."""
    return random.Random(seed).randbytes(size)


# --------------------------------------------------------------------------- (a) bulk


@pytest.mark.slow
def test_64_mib_each_way_concurrently() -> None:
    """64 MiB from the pty to the TCP peer and 64 MiB back, at the same time;
    SHA-256 checked on both far sides; the pty is read while it is written."""
    size = 64 << 20
    up = os.urandom(size)
    down = os.urandom(size)
    with Emulator() as emu, TcpServer(hash_only=True) as srv:
        open_transparent(emu, srv.port)
        peer = srv.accept()
        errors: list[BaseException] = []

        def guarded(fn: object) -> threading.Thread:
            def run() -> None:
                try:
                    fn()  # type: ignore[operator]
                except BaseException as exc:
                    errors.append(exc)

            t = threading.Thread(target=run, daemon=True)
            t.start()
            return t

        start = time.monotonic()
        writer = guarded(lambda: emu.write_all(up, timeout=90))
        sender = guarded(lambda: peer.send_all(down))
        got = hashlib.sha256()
        emu.read_stream(size, got.update, timeout=90)
        down_done = time.monotonic()
        peer.wait_count(size, timeout=90)
        up_done = time.monotonic()
        writer.join(10)
        sender.join(10)
        assert not errors, errors
        assert got.hexdigest() == hashlib.sha256(down).hexdigest(), "network -> pty corrupted"
        assert peer.sha.hexdigest() == hashlib.sha256(up).hexdigest(), "pty -> network corrupted"
        print(
            f"\n64 MiB each way: network->pty {size / (down_done - start) / 1e6:.1f} MB/s, "
            f"pty->network {size / (up_done - start) / 1e6:.1f} MB/s"
        )
        # The link is still usable afterwards: the escape works.
        emu.escape()
        emu.command("AT+CIPSTATUS", b"\r\nOK\r\n\r\nSTATE: CONNECT OK\r\n")


# --------------------------------------------------------------------------- (b) +++ handling


def test_plus_signs_in_stream_and_guarded_escape() -> None:
    with Emulator() as emu, TcpServer() as srv:
        # CIPSTART ends in CR LF written at once: the LF belongs to the
        # command line, it is not payload (SPEC, line ends).
        open_transparent(emu, srv.port, end=b"\r\n")
        peer = srv.accept()
        # Lone +, ++, +++ inside the stream, in separate writes and inside
        # chunks, with no guard times: all payload, intact and in order.
        pieces = [b"a+b", b"+", b"c", b"++", b"d", b"+++", b"e+++f", b"+", b"+", b"+", b"g"]
        expected = bytearray()
        for piece in pieces:
            emu.write_all(piece)
            expected += piece
        assert peer.wait_count(len(expected)) == bytes(expected)

        # +++ after a leading guard but followed at once by data: payload.
        wait_quiet(GUARD)
        emu.write_all(b"+++")
        emu.write_all(b"tail")
        expected += b"+++tail"
        assert peer.wait_count(len(expected)) == bytes(expected)

        # ++ (only two) with guards on both sides: payload, released after
        # the guard time, and no OK.
        wait_quiet(GUARD)
        emu.write_all(b"++")
        expected += b"++"
        assert peer.wait_count(len(expected), timeout=5) == bytes(expected)
        emu.expect_silence(0.3)

        # The real escape: +++ with 1 s of silence before and after -> OK,
        # not before the trailing guard time, and the link stays up.
        took = emu.escape(GUARD)
        assert took >= 0.9, f"OK came {took:.2f} s after +++ (trailing guard time is 1 s)"
        emu.command("AT+CIPSTATUS", b"\r\nOK\r\n\r\nSTATE: CONNECT OK\r\n")
        emu.command("ATO", CONNECT)
        emu.write_all(b"again")
        expected += b"again"
        # +++ itself was never forwarded.
        assert peer.wait_count(len(expected)) == bytes(expected)
        peer.send_all(b"world+++\r\nOK\r\n")
        emu.expect_exact(b"world+++\r\nOK\r\n")
        assert not emu.buf
        # The escape with the three + written apart (< 1 s between them).
        wait_quiet(GUARD)
        for _ in range(3):
            emu.write_all(b"+")
            wait_quiet(0.3)
        emu.expect_exact(OK, timeout=5)
        assert not emu.buf
        emu.command("AT+CIPCLOSE", b"\r\nCLOSE OK\r\n")
        peer.wait_eof()
        assert peer.count == len(expected)


# --------------------------------------------------------------------------- (c) remote close


def test_remote_close_in_data_mode_loses_nothing() -> None:
    block = pattern(300_000, 3) + b"last bytes before the close"
    with Emulator() as emu, TcpServer() as srv:
        open_transparent(emu, srv.port)
        peer = srv.accept()
        emu.write_all(b"ping")
        assert peer.wait_count(4) == b"ping"
        peer.send_all(block)
        peer.close()
        assert emu.read_exact(len(block)) == block
        emu.expect_exact(b"\r\nCLOSED\r\n")
        # Back in command mode.
        emu.command("AT", OK)
        emu.command("AT+CIPSTATUS", b"\r\nOK\r\n\r\nSTATE: TCP CLOSED\r\n")


def test_remote_close_behind_a_slow_serial_reader_loses_nothing() -> None:
    """The peer sends 8 MiB and closes at once while the pty is not read
    (backpressure): every byte still comes, then CLOSED."""
    block = os.urandom(8 << 20)
    with Emulator() as emu, TcpServer() as srv:
        open_transparent(emu, srv.port)
        peer = srv.accept()
        sent = threading.Event()

        def push() -> None:
            peer.send_all(block)
            peer.close()
            sent.set()

        threading.Thread(target=push, daemon=True).start()
        # A slow consumer: the pty is not read for 1 s.
        assert not sent.wait(1.0), "8 MiB were taken while the pty was not read"
        got = hashlib.sha256()
        emu.read_stream(len(block), got.update, timeout=60)
        assert got.digest() == hashlib.sha256(block).digest()
        emu.expect_exact(b"\r\nCLOSED\r\n")
        emu.command("AT", OK)


def test_escape_while_the_peer_streams_loses_nothing() -> None:
    """+++ while data keeps arriving from the network: OK comes, command mode
    shows no data, ATO prints CONNECT and then everything that arrived in the
    meantime; the bytes on the serial line are exactly the peer's bytes."""
    with Emulator() as emu, TcpServer() as srv:
        open_transparent(emu, srv.port)
        peer = srv.accept()
        stop = threading.Event()
        sent = bytearray()

        def stream() -> None:
            i = 0
            while not stop.is_set():
                chunk = bytes([97 + i % 26]) * 1000  # never contains CR, LF, OK
                peer.send_all(chunk)
                sent.extend(chunk)
                i += 1
                stop.wait(0.01)  # a peer sending 100 kB/s

        streamer = threading.Thread(target=stream, daemon=True)
        streamer.start()
        try:
            wait_quiet(GUARD)  # the serial side is quiet; the network side is not
            emu.write_all(b"+++")
            serial = bytearray(emu.expect(OK, timeout=5)[: -len(OK)])
            # Command mode: the link is up and no data is printed.
            emu.command("AT+CIPSTATUS", b"\r\nOK\r\n\r\nSTATE: CONNECT OK\r\n")
            emu.command("AT", OK)
            emu.send("ATO")
            emu.expect_exact(CONNECT)
        finally:
            stop.set()
            streamer.join(5)
        rest = len(sent) - len(serial)
        serial += emu.read_exact(rest)
        assert bytes(serial) == bytes(sent)
        emu.expect_silence(0.2)


# --------------------------------------------------------------------------- (d) CIPCCFG


def test_cipccfg_packing_send_size_and_wait_time() -> None:
    """SendSz=10, WaitTm=5 (1 s): 10 bytes go at once, 3 bytes wait ~1 s."""
    wait_tm = 5
    with Emulator() as emu, TcpServer() as srv:
        emu.init()
        emu.command(f"AT+CIPCCFG=3,{wait_tm},10,1")
        emu.command("AT+CIPCCFG?", f"\r\n+CIPCCFG: 3,{wait_tm},10,1\r\n\r\nOK\r\n".encode())
        emu.command("AT+CIPMODE=1")
        emu.bring_up()
        emu.send(f'AT+CIPSTART="TCP","127.0.0.1",{srv.port}')
        emu.expect_exact(OK)
        emu.expect_exact(CONNECT)
        peer = srv.accept()

        # SendSz bytes: sent promptly (well before WaitTm x 200 ms = 1 s).
        sent = time.monotonic()
        emu.write_all(b"0123456789")
        assert peer.wait_count(10, timeout=5) == b"0123456789"
        prompt = time.monotonic() - sent
        assert prompt < 0.5, f"10 bytes (= SendSz) took {prompt:.2f} s"

        # More than SendSz at once: at least SendSz of it promptly.
        sent = time.monotonic()
        emu.write_all(b"abcdefghijklmnopqrstuvwxy")  # 25
        assert peer.wait_count(20, timeout=5)[10:20] == b"abcdefghij"
        prompt = time.monotonic() - sent
        assert prompt < 0.5, f"the first 10 of 25 bytes took {prompt:.2f} s"
        assert peer.wait_count(35, timeout=5)[10:] == b"abcdefghijklmnopqrstuvwxy"

        # Less than SendSz: held until WaitTm x 200 ms of silence.
        sent = time.monotonic()
        emu.write_all(b"xyz")
        assert peer.wait_count(38, timeout=5)[35:] == b"xyz"
        waited = time.monotonic() - sent
        assert 0.8 <= waited <= 2.5, f"3 bytes arrived after {waited:.2f} s, expected ~1 s"
        # Whatever the peer got in one piece before the short write came in
        # pieces of at least SendSz (a remainder may follow after WaitTm).
        with peer.cond:
            arrivals = list(peer.arrivals)
        early = [n for t, n in arrivals if t < sent]
        assert sum(early) == 35, arrivals
        assert early[0] == 10 and early[1] >= 10, f"arrival sizes {early}"
        assert arrivals[-1][1] == 3, f"arrival sizes {[n for _, n in arrivals]}"
        emu.escape(GUARD)
        emu.command("AT+CIPCLOSE", b"\r\nCLOSE OK\r\n")


def test_cipccfg_esc_off_makes_plus_plus_plus_data() -> None:
    with Emulator() as emu, TcpServer() as srv:
        emu.init()
        # The longer write form of later firmware (Rxmode, RxSize, Rxtimer);
        # the read form keeps the manual's four fields.
        emu.command("AT+CIPCCFG=3,2,1024,0,0,1460,50")
        emu.command("AT+CIPCCFG?", b"\r\n+CIPCCFG: 3,2,1024,0\r\n\r\nOK\r\n")
        emu.command("AT+CIPMODE=1")
        emu.bring_up()
        emu.send(f'AT+CIPSTART="TCP","127.0.0.1",{srv.port}')
        emu.expect_exact(OK)
        emu.expect_exact(CONNECT)
        peer = srv.accept()
        emu.write_all(b"before")
        assert peer.wait_count(6) == b"before"
        wait_quiet(GUARD)
        emu.write_all(b"+++")
        # No OK: still in data mode, and the +++ reaches the peer.
        assert peer.wait_count(9, timeout=5) == b"before+++"
        emu.expect_silence(GUARD)
        emu.write_all(b"AT\r")
        assert peer.wait_count(12) == b"before+++AT\r"
        emu.expect_silence(0.3)
        peer.send_all(b"bye")
        emu.expect_exact(b"bye")
        peer.close()
        emu.expect_exact(b"\r\nCLOSED\r\n")


# --------------------------------------------------------------------------- (e) UDP


def test_transparent_udp_link() -> None:
    with Emulator() as emu, UdpServer() as srv:
        open_transparent(emu, srv.port, proto="UDP")
        emu.write_all(b"hello over udp")
        assert srv.wait_bytes(14) == b"hello over udp"
        srv.sendto_peer(b"\x00reply\x1a\r\n+++")
        emu.expect_exact(b"\x00reply\x1a\r\n+++")
        emu.escape(GUARD)
        emu.command("AT+CIPSTATUS", b"\r\nOK\r\n\r\nSTATE: CONNECT OK\r\n")
        emu.command("ATO", CONNECT)
        emu.write_all(b"more")
        assert srv.wait_bytes(18) == b"hello over udpmore"
        emu.escape(GUARD)
        emu.command("AT+CIPCLOSE", b"\r\nCLOSE OK\r\n")


# --------------------------------------------------------------------------- (f) server


def test_transparent_server() -> None:
    port = free_port()
    with Emulator() as emu:
        emu.init()
        emu.command("AT+CIPMODE=1")
        emu.bring_up()
        emu.command(f"AT+CIPSERVER=1,{port}", b"\r\nOK\r\n")
        emu.expect_exact(b"\r\nSERVER OK\r\n")
        client = connect(port)
        try:
            # REMOTE IP announces the client, CONNECT enters data mode.
            before = emu.expect(CONNECT)
            assert before in (CONNECT, b"\r\nREMOTE IP: 127.0.0.1\r\n" + CONNECT), before
            emu.write_all(b"to the client \x00\x1a\x1b")
            assert client.wait_count(17) == b"to the client \x00\x1a\x1b"
            client.send_all(b"to the serial line\r\n")
            emu.expect_exact(b"to the serial line\r\n")
            emu.escape(GUARD)
            emu.command("ATO", CONNECT)
            client.send_all(b"after ATO")
            emu.expect_exact(b"after ATO")
            client.close()
            emu.expect_exact(b"\r\nCLOSED\r\n")
            emu.command("AT", OK)
        finally:
            client.close()


# --------------------------------------------------------------------------- (g) backpressure


RSS_LIMIT_KIB = 200 * 1024


def test_backpressure_network_faster_than_serial() -> None:
    """The peer pushes 32 MiB while the pty is read slowly at first: the
    emulator stops reading the socket (the sender stalls), its memory stays
    bounded, and every byte arrives in order."""
    size = 32 << 20
    data = os.urandom(size)
    with Emulator() as emu, TcpServer() as srv:
        open_transparent(emu, srv.port)
        peer = srv.accept()
        progress = [0]
        done = threading.Event()

        def push() -> None:
            view = memoryview(data)
            while view:
                n = peer.sock.send(view[: 1 << 16])
                progress[0] += n
                view = view[n:]
            done.set()

        sender = threading.Thread(target=push, daemon=True)
        sender.start()
        peak = emu.rss_kib()
        # Nobody reads the pty for 2 s: the sender must stall well short of
        # the end, and the emulator must not swallow the stream into memory.
        stall_end = time.monotonic() + 2.0
        while time.monotonic() < stall_end:
            done.wait(0.1)
            peak = max(peak, emu.rss_kib())
        assert not done.is_set(), "the whole 32 MiB was taken while the pty was not read"
        stalled_at = progress[0]
        assert stalled_at < size // 2, f"{stalled_at} bytes taken while the pty was not read"

        got = hashlib.sha256()
        # Then a slow reader: 100 reads of 4 KiB, 10 ms apart.
        for _ in range(100):
            emu.read_stream(4096, got.update)
            peak = max(peak, emu.rss_kib())
            time.sleep(0.01)  # pacing a slow consumer, not waiting for a condition
        # Then full speed for the rest, sampling RSS as we go.
        left = size - 100 * 4096
        while left:
            step = min(left, 4 << 20)
            emu.read_stream(step, got.update, timeout=60)
            left -= step
            peak = max(peak, emu.rss_kib())
        sender.join(10)
        assert done.is_set()
        assert got.hexdigest() == hashlib.sha256(data).hexdigest(), "bytes lost or reordered"
        assert peak < RSS_LIMIT_KIB, f"emulator RSS peaked at {peak} KiB"
        print(f"\nnet->pty backpressure: sender stalled at {stalled_at} bytes; peak RSS {peak} KiB")


def test_backpressure_serial_faster_than_network() -> None:
    """The pty side writes 32 MiB while the peer does not read at first: the
    emulator stops reading the pty (the writer stalls), memory stays bounded,
    and the peer gets every byte in order."""
    size = 32 << 20
    data = os.urandom(size)
    with Emulator() as emu, TcpServer(read=False, hash_only=True) as srv:
        open_transparent(emu, srv.port)
        peer = srv.accept()
        progress = [0]
        done = threading.Event()
        errors: list[BaseException] = []

        def write() -> None:
            try:
                view = memoryview(data)
                while view:
                    chunk = view[: 1 << 16]
                    emu.write_all(chunk, timeout=60)
                    progress[0] += len(chunk)
                    view = view[len(chunk) :]
            except BaseException as exc:
                errors.append(exc)
            done.set()

        writer = threading.Thread(target=write, daemon=True)
        writer.start()
        peak = emu.rss_kib()
        stall_end = time.monotonic() + 2.0
        while time.monotonic() < stall_end:
            done.wait(0.1)
            peak = max(peak, emu.rss_kib())
        assert not done.is_set(), f"the writer finished while the peer did not read: {errors}"
        stalled_at = progress[0]
        assert stalled_at < size // 2, f"{stalled_at} bytes taken while the peer did not read"
        peer.start_reading()
        deadline = time.monotonic() + 60
        while not done.is_set() or peer.count < size:
            assert time.monotonic() < deadline, f"peer got {peer.count} of {size}"
            with peer.cond:
                peer.cond.wait_for(lambda: peer.count >= size or peer.eof, 0.2)
            peak = max(peak, emu.rss_kib())
            assert not peer.eof
        writer.join(10)
        assert not errors, errors
        assert peer.sha.hexdigest() == hashlib.sha256(data).hexdigest(), "bytes lost or reordered"
        assert peak < RSS_LIMIT_KIB, f"emulator RSS peaked at {peak} KiB"
        print(f"\npty->net backpressure: writer stalled at {stalled_at} bytes; peak RSS {peak} KiB")
