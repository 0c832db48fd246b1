"""``--timing realistic``, ``--seed`` and ``--time-scale`` through the real pty
(issue 13, item 2): what a client sees changes with each setting."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from serial_helpers import HOST, Emulator, TcpServer

OK = b"\r\nOK\r\n"


def timed(emu: Emulator, line: str, expect: bytes, timeout: float = 15.0) -> float:
    start = time.monotonic()
    emu.command(line, expect, timeout=timeout)
    return time.monotonic() - start


def test_realistic_tenth_scale_ciicr_connect_and_send_ok() -> None:
    """At 0.1 scale: CIICR 0.2-0.7 s, CIPSTART -> CONNECT OK 0.1-0.3 s beyond
    the real connect, SEND OK 0.02-0.15 s after the last byte."""
    with Emulator("--timing", "realistic", "--time-scale", "0.1", "--seed", "3") as emu, \
            TcpServer() as srv:
        emu.init()
        emu.command('AT+CSTT="CMNET"')
        ciicr = timed(emu, "AT+CIICR", OK)
        assert 0.2 <= ciicr <= 0.7 + 0.3, ciicr
        emu.command("AT+CIFSR", b"\r\n", timeout=5)
        emu.expect(b"\r\n")
        connect = timed(emu, f'AT+CIPSTART="TCP","{HOST}",{srv.port}', b"CONNECT OK\r\n")
        assert 0.1 <= connect <= 0.3 + 0.3, connect
        emu.command("AT+CIPSEND=4", b"> ")
        start = time.monotonic()
        emu.write_all(b"ping")
        emu.expect(b"SEND OK\r\n")
        send_ok = time.monotonic() - start
        assert 0.02 <= send_ok <= 0.15 + 0.2, send_ok
        srv.accept().wait_count(4)


def test_fast_default_answers_at_host_speed() -> None:
    with Emulator() as emu:
        emu.init()
        emu.command('AT+CSTT="CMNET"')
        assert timed(emu, "AT+CIICR", OK) < 0.5


def test_hundredth_scale_realistic_session_takes_under_a_second() -> None:
    """The realistic profile at --time-scale 0.01: a whole bring-up, a
    connect and a send in well under a second, each step still slower than
    at host speed by its scaled delay."""
    with Emulator("--timing", "realistic", "--time-scale", "0.01", "--seed", "4") as emu, \
            TcpServer() as srv:
        start = time.monotonic()
        emu.init()
        emu.command('AT+CSTT="CMNET"')
        assert timed(emu, "AT+CIICR", OK) >= 0.02
        emu.send("AT+CIFSR")
        emu.expect(b"\r\n10.")
        emu.expect(b"\r\n")
        assert timed(emu, "AT+CGACT=1,1", OK) >= 0.02
        emu.command('AT+SAPBR=3,1,"APN","internet"')
        assert timed(emu, "AT+SAPBR=1,1", OK) >= 0.011
        assert timed(emu, f'AT+CIPSTART="TCP","{HOST}",{srv.port}', b"CONNECT OK\r\n") >= 0.01
        emu.command("AT+CIPSEND=2", b"> ")
        emu.write_all(b"hi")
        emu.expect(b"SEND OK\r\n")
        assert time.monotonic() - start < 1.0


def test_plain_commands_take_16_to_60_ms() -> None:
    with Emulator("--timing", "realistic") as emu:
        emu.init()
        start = time.monotonic()
        for _ in range(10):
            emu.command("AT")
        each = (time.monotonic() - start) / 10
        assert 0.016 <= each <= 0.060 + 0.03, each


@pytest.mark.parametrize(
    ("option", "value", "words"),
    [
        ("--timing", "slow", "invalid choice"),
        ("--time-scale", "0", "time scale"),
        ("--seed", "-3", "seed"),
    ],
)
def test_bad_values_fail_at_start_with_one_line(option: str, value: str, words: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "sim800emu", "serve", option, value],
        capture_output=True, text=True, timeout=30,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and option in lines[0] and words in lines[0], proc.stderr
