"""AT+CIPPING end to end: a real ICMP echo from the host, through the pty."""

from __future__ import annotations

import re
import time

import pytest

from sim800emu.net import ping


def _read_until(port: object, marker: bytes, timeout: float = 10.0) -> bytes:
    import serial

    assert isinstance(port, serial.Serial)
    buf = b""
    deadline = time.monotonic() + timeout
    while marker not in buf and time.monotonic() < deadline:
        buf += port.read(port.in_waiting or 1)
    return buf


@pytest.mark.sim800("--host", "echo.test=127.0.0.1", "--dns-offline")
def test_cipping_loopback(sim800: object) -> None:
    if ping._open(64) is None:
        pytest.skip("this host allows no ICMP socket (not root, ping_group_range closed)")
    with sim800.serial(timeout=0.1) as port:  # type: ignore[attr-defined]
        port.write(b"ATE0\r")
        _read_until(port, b"OK\r\n")
        port.write(b'AT+CIPPING="echo.test",2\r')
        assert _read_until(port, b"\r\nERROR\r\n") == b"\r\nERROR\r\n"  # no context yet
        for cmd in (b"AT+CSTT\r", b"AT+CIICR\r"):
            port.write(cmd)
            assert _read_until(port, b"OK\r\n").endswith(b"\r\nOK\r\n")
        port.write(b'AT+CIPPING="echo.test",2,32,50\r')
        out = _read_until(port, b"OK\r\n")
        lines = [x for x in out.decode().split("\r\n") if x]
        assert lines[-1] == "OK"
        assert len(lines) == 3
        for seq, line in enumerate(lines[:2], start=1):
            assert re.fullmatch(rf'\+CIPPING: {seq},"127\.0\.0\.1",\d+,\d+', line), line
        port.write(b'AT+CIPPING="nx.test",1\r')
        assert _read_until(port, b"ERROR\r\n").endswith(b"\r\nERROR\r\n")
