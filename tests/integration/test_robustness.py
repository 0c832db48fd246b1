"""Whatever arrives on the serial line, the modem keeps answering: random
binary at full speed, an endless line, thousands of commands in one write.
Through the real pty and process, with memory watched."""

from __future__ import annotations

import random
import threading
import time

from serial_helpers import Emulator

RSS_LIMIT_KIB = 150 * 1024


def recover(emu: Emulator) -> None:
    """The documented way back to a known line state (SPEC; issue 2 item 9)."""
    emu.write_all(b"\x1b\r")
    emu.drain(0.3)
    emu.write_all(b"AT&F\rATE0V1Q0\r")
    emu.drain(0.5)
    emu.send("AT")
    emu.expect(b"\r\nOK\r\n", timeout=5)


def test_random_binary_at_full_speed() -> None:
    rng = random.Random(800)
    with Emulator() as emu:
        emu.init()
        blob = rng.randbytes(8 * 1024 * 1024)
        done = threading.Event()

        def read_all() -> None:
            while not done.is_set():
                emu.drain(0.05)

        reader = threading.Thread(target=read_all, daemon=True)
        reader.start()
        try:
            for i in range(0, len(blob), 65536):
                emu.write_all(blob[i : i + 65536])
        finally:
            done.set()
            reader.join(10)
        assert emu.proc.poll() is None, emu.stderr_tail()
        assert emu.rss_kib() < RSS_LIMIT_KIB
        recover(emu)


def test_an_endless_line_then_commands() -> None:
    with Emulator() as emu:
        emu.init()
        emu.write_all(b"Z" * (4 * 1024 * 1024))  # no AT, no line end: ignored
        emu.write_all(b"\r")
        emu.expect_silence(0.3)
        emu.write_all(b"AT" + b"+CSQ;" * 300_000 + b"\r")  # far over 556 characters
        emu.expect(b"\r\nERROR\r\n")
        assert emu.rss_kib() < RSS_LIMIT_KIB
        assert emu.command("AT") == b"\r\nOK\r\n"


def test_ten_thousand_commands_in_one_write() -> None:
    with Emulator() as emu:
        emu.init()
        n = 10_000
        start = time.monotonic()
        emu.write_all(b"AT\r" * n)
        got = emu.expect(b"\r\nOK\r\n" * n, timeout=60)
        assert got.count(b"OK") == n  # none lost, none merged
        emu.expect_silence(0.3)
        assert time.monotonic() - start < 30
