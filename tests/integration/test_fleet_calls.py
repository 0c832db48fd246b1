"""Voice calls between the modems of one process (serve --count 2): modem 0
dials modem 1's number, modem 1 rings with modem 0's number, answers, and
either side's hang-up is the other's NO CARRIER (callswitch.py,
docs/voice-ussd.md)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
import serial

from sim800emu.core.config import ModemConfig, nth_config


@pytest.mark.timeout(60)
def test_modem_calls_modem(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "sim800emu", "serve", "--count", "2", "--link",
         str(tmp_path / "modem{n}"), "--state-dir", str(tmp_path / "state"), "--dns-offline"],
        stderr=subprocess.PIPE,
    )  # fmt: skip
    a_number = ModemConfig().identity.msisdn
    b_number = nth_config(ModemConfig(), 1).identity.msisdn
    try:
        links = [tmp_path / f"modem{n}" for n in range(2)]
        deadline = time.monotonic() + 15
        while not all(p.exists() for p in links):
            assert time.monotonic() < deadline, "the fleet did not come up"
            time.sleep(0.05)
        with serial.Serial(str(links[0]), timeout=10) as a, serial.Serial(str(links[1]), timeout=10) as b:

            def ask(port: serial.Serial, line: bytes) -> bytes:
                port.write(line + b"\r")
                return bytes(port.read_until(b"OK\r\n"))

            for port in (a, b):
                assert ask(port, b"ATE0").endswith(b"OK\r\n")
            assert ask(a, b"AT+MORING=1") == b"\r\nOK\r\n"
            assert ask(b, b"AT+CLIP=1") == b"\r\nOK\r\n"
            assert ask(a, b"ATD" + b_number.encode() + b";") == b"\r\nOK\r\n"
            clip = f'+CLIP: "{a_number}",145,"",0,"",0\r\n'.encode()
            assert b.read_until(clip) == b"\r\nRING\r\n\r\n" + clip
            assert a.read_until(b"MO RING\r\n") == b"\r\nMO RING\r\n"
            assert ask(b, b"ATA") == b"\r\nOK\r\n"
            assert a.read_until(b"MO CONNECTED\r\n") == b"\r\nMO CONNECTED\r\n"
            assert ask(a, b"AT+CLCC") == (
                f'\r\n+CLCC: 1,0,0,0,0,"{b_number}",145,""\r\n\r\nOK\r\n'.encode()
            )
            assert ask(b, b"ATH") == b"\r\nOK\r\n"
            assert a.read_until(b"NO CARRIER\r\n") == b"\r\nNO CARRIER\r\n"
            # the other way round, and busy while in a call
            assert ask(b, b"ATD" + a_number.encode() + b";") == b"\r\nOK\r\n"
            assert a.read_until(b"RING\r\n") == b"\r\nRING\r\n"
            assert ask(a, b"ATA") == b"\r\nOK\r\n"
            assert ask(a, b"AT+CHUP") == b"\r\nOK\r\n"
            assert b.read_until(b"NO CARRIER\r\n") == b"\r\nNO CARRIER\r\n"
    finally:
        proc.terminate()
        assert proc.wait(15) == 0
        assert proc.stderr is not None
        proc.stderr.close()
