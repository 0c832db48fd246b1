"""Call waiting and hold between the modems of one process (serve --count 3)
through the real ptys: modem B in a call with A gets C's call waiting
(+CCWA), holds A and talks to C (AT+CHLD=2), lists both (AT+CLCC), transfers
them to each other (AT+CHLD=4: A's hang-up is C's NO CARRIER), and rejects a
waiting call (AT+CHLD=0: the caller hears BUSY). callswitch.py,
docs/voice-ussd.md."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
import serial

from sim800emu.core.config import ModemConfig, nth_config


def _clcc(idx: int, mo: bool, stat: int, number: str) -> bytes:
    return f'+CLCC: {idx},{0 if mo else 1},{stat},0,0,"{number}",145,""\r\n'.encode()


@pytest.mark.timeout(60)
def test_waiting_call_hold_transfer_and_reject(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "sim800emu", "serve", "--count", "3", "--link",
         str(tmp_path / "modem{n}"), "--state-dir", str(tmp_path / "state"), "--dns-offline"],
        stderr=subprocess.PIPE,
    )  # fmt: skip
    num = [nth_config(ModemConfig(), n).identity.msisdn for n in range(3)]
    try:
        links = [tmp_path / f"modem{n}" for n in range(3)]
        deadline = time.monotonic() + 15
        while not all(p.exists() for p in links):
            assert time.monotonic() < deadline, "the fleet did not come up"
            time.sleep(0.05)
        ports = [serial.Serial(str(p), timeout=10) for p in links]
        a, b, c = ports
        try:

            def ask(port: serial.Serial, line: bytes) -> bytes:
                port.write(line + b"\r")
                return bytes(port.read_until(b"OK\r\n"))

            for port in ports:
                assert ask(port, b"ATE0").endswith(b"OK\r\n")
                assert ask(port, b"AT+MORING=1") == b"\r\nOK\r\n"
            assert ask(b, b"AT+CCWA=1") == b"\r\nOK\r\n"
            # A calls B, B answers
            assert ask(a, f"ATD{num[1]};".encode()) == b"\r\nOK\r\n"
            assert b.read_until(b"RING\r\n") == b"\r\nRING\r\n"
            assert ask(b, b"ATA") == b"\r\nOK\r\n"
            assert a.read_until(b"MO CONNECTED\r\n").endswith(b"MO CONNECTED\r\n")
            # C calls B: it waits
            assert ask(c, f"ATD{num[1]};".encode()) == b"\r\nOK\r\n"
            ccwa = f'+CCWA: "{num[2]}",145,1\r\n'.encode()
            assert b.read_until(ccwa) == b"\r\n" + ccwa
            assert c.read_until(b"MO RING\r\n") == b"\r\nMO RING\r\n"
            # B holds A and takes C
            assert ask(b, b"AT+CHLD=2") == b"\r\nOK\r\n"
            assert c.read_until(b"MO CONNECTED\r\n") == b"\r\nMO CONNECTED\r\n"
            assert ask(b, b"AT+CLCC") == (
                b"\r\n" + _clcc(1, False, 1, num[0]) + _clcc(2, False, 0, num[2]) + b"\r\nOK\r\n"
            )
            # B transfers: A and C talk on, B has no call; A's hang-up reaches C
            assert ask(b, b"AT+CHLD=4") == b"\r\nOK\r\n"
            assert ask(b, b"AT+CLCC") == b"\r\nOK\r\n"
            assert ask(a, b"AT+CLCC") == b"\r\n" + _clcc(1, True, 0, num[1]) + b"\r\nOK\r\n"
            assert ask(a, b"ATH") == b"\r\nOK\r\n"
            assert c.read_until(b"NO CARRIER\r\n") == b"\r\nNO CARRIER\r\n"
            # a waiting call rejected: the caller hears busy
            assert ask(a, f"ATD{num[1]};".encode()) == b"\r\nOK\r\n"
            assert b.read_until(b"RING\r\n") == b"\r\nRING\r\n"
            assert ask(b, b"ATA") == b"\r\nOK\r\n"
            assert ask(c, f"ATD{num[1]};".encode()) == b"\r\nOK\r\n"
            assert b.read_until(ccwa) == b"\r\n" + ccwa
            assert ask(b, b"AT+CHLD=0") == b"\r\nOK\r\n"
            assert c.read_until(b"BUSY\r\n").endswith(b"\r\nBUSY\r\n")
            assert ask(b, b"AT+CLCC") == b"\r\n" + _clcc(1, False, 0, num[0]) + b"\r\nOK\r\n"
            assert ask(b, b"AT+CHUP") == b"\r\nOK\r\n"
            assert a.read_until(b"NO CARRIER\r\n").endswith(b"\r\nNO CARRIER\r\n")
        finally:
            for port in ports:
                port.close()
    finally:
        proc.terminate()
        assert proc.wait(15) == 0
        assert proc.stderr is not None
        proc.stderr.close()
