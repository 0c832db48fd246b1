"""serve --count N: N modems in one process, each on its own pty with its own
identity, and the control channel aiming at one of them."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from serial_helpers import LOOPS, fleet, tcp_serve

from sim800emu.core.config import ModemConfig, luhn_digit, nth_config


def test_nth_config_counts_identities_up() -> None:
    base = ModemConfig()
    assert nth_config(base, 0) is base
    seen = set()
    for n in range(1, 50):
        c = nth_config(base, n)
        imei = c.identity.imei
        assert len(imei) == 15 and luhn_digit(imei[:14]) == imei[14]
        assert len(c.identity.iccid) == len(base.identity.iccid)
        seen.add((imei, c.identity.iccid, c.identity.imsi, c.radio.local_ip))
    assert len(seen) == 49


def _ask(fd: int, line: bytes, timeout: float = 5.0) -> bytes:
    os.write(fd, line)
    buf = b""
    deadline = time.monotonic() + timeout
    while not buf.endswith(b"OK\r\n") and time.monotonic() < deadline:
        try:
            buf += os.read(fd, 4096)
        except BlockingIOError:
            time.sleep(0.01)
    return buf


def test_three_modems_on_three_ptys(tmp_path: Path) -> None:
    with fleet(tmp_path, 3, stderr=subprocess.PIPE) as modems:
        fds, ctl = modems.fds, modems.ctl
        imeis = []
        for fd in fds:
            _ask(fd, b"ATE0\r")
            m = re.search(rb"\r\n(\d{15})\r\n\r\nOK\r\n", _ask(fd, b"AT+GSN\r"))
            assert m
            imeis.append(m.group(1))
        assert len(set(imeis)) == 3
        for fd in fds:
            _ask(fd, b"AT+CREG=1\r")
        answer = subprocess.run(
            [sys.executable, "-m", "sim800emu", "ctl", str(ctl), "@1", "register", "5"],
            capture_output=True, text=True, timeout=20,
        )
        assert answer.stdout.strip() == "ok 1 modem(s)"
        assert _ask(fds[1], b"AT+CREG?\r").endswith(b"+CREG: 5\r\n\r\n+CREG: 1,5\r\n\r\nOK\r\n")
        assert _ask(fds[0], b"AT+CREG?\r") == b"\r\n+CREG: 1,1\r\n\r\nOK\r\n"
    assert "modem 2: serial port" in modems.err
    assert not any((tmp_path / f"modem{n}").exists() for n in range(3))


def test_live_status_line(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "sim800emu", "serve", "--count", "2", "--link",
         str(tmp_path / "m{n}"), "--state-dir", str(tmp_path / "state"), "--dns-offline",
         "--status", "0.1"],
        stderr=subprocess.PIPE,
    )
    assert proc.stderr is not None
    try:
        deadline = time.monotonic() + 15
        lines = []
        while time.monotonic() < deadline:
            line = proc.stderr.readline().decode()
            lines.append(line)
            if "modem(s):" in line:
                break
        assert any(
            "2 modem(s): 2 IP INITIAL; 0 link(s) open; serial 0 B in, 0 B out" in x
            for x in lines
        ), lines
    finally:
        proc.terminate()
        proc.wait(15)
        proc.stderr.close()


@pytest.mark.parametrize("loop", LOOPS)
def test_every_tcp_connection_is_its_own_device(tmp_path: Path, loop: str) -> None:
    import socket

    with tcp_serve(tmp_path, "--loop", loop) as port:
        imeis = []
        conns = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(3)]
        try:
            for conn in conns:
                conn.sendall(b"ATE0\rAT+GSN\r")
                buf = b""
                while buf.count(b"OK\r\n") < 2:
                    buf += conn.recv(4096)
                found = re.search(rb"\r\n(\d{15})\r\n", buf)
                assert found, buf
                imeis.append(found.group(1))
        finally:
            for conn in conns:
                conn.close()
        assert len(set(imeis)) == 3
        assert imeis[0] == b"868183038764457"  # the first connection is the base identity
