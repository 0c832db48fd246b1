"""The SMS centre end to end: a fleet's modems text each other, ``ctl sms``
and ``ctl outbox`` from the command line, status reports, and the SIM's
messages surviving a restart (state directory, one file per ICCID)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import serial

from sim800emu.pytest_plugin import Sim800Process


def _ctl(sock: Path, *words: str) -> str:
    out = subprocess.run([sys.executable, "-m", "sim800emu", "ctl", str(sock), *words],
                         capture_output=True, text=True, timeout=20)
    assert out.returncode == 0, out.stderr + out.stdout
    return out.stdout


class Line:
    """A raw serial line with line-oriented reads (each with a deadline)."""

    def __init__(self, path: str) -> None:
        self.port = serial.Serial(path, 115200, timeout=0.1)
        self.buf = b""

    def at(self, cmd: str) -> None:
        self.port.write(cmd.encode() + b"\r")

    def expect(self, want: bytes, timeout: float = 10.0) -> bytes:
        deadline = time.monotonic() + timeout
        while want not in self.buf:
            if time.monotonic() > deadline:
                raise AssertionError(f"no {want!r} in {self.buf!r}")
            self.buf += self.port.read(4096)
        head, _, self.buf = self.buf.partition(want)
        return head + want

    def close(self) -> None:
        self.port.close()


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[tuple[list[Line], Path, Path]]:
    ctl, outbox = tmp_path / "ctl.sock", tmp_path / "outbox.jsonl"
    cmd = [sys.executable, "-m", "sim800emu", "serve", "--count", "2", "--link",
           str(tmp_path / "m{n}"), "--state-dir", str(tmp_path / "state"), "--control", str(ctl),
           "--sms-outbox", str(outbox), "--dns-offline", "-q"]
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL)
    lines: list[Line] = []
    try:
        deadline = time.monotonic() + 15
        while not (ctl.exists() and all(os.path.exists(tmp_path / f"m{n}") for n in (0, 1))):
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.02)
        lines = [Line(os.path.realpath(tmp_path / f"m{n}")) for n in (0, 1)]
        for line in lines:
            line.at("ATE0;+CMEE=1;+CMGF=1")
            line.expect(b"OK\r\n")
        yield lines, ctl, outbox
    finally:
        for line in lines:
            line.close()
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)


def test_fleet_modems_text_each_other_with_status_reports(fleet: Any) -> None:
    (a, b), ctl, outbox = fleet
    a.at("AT+CSMP=49,167,0,0;+CNMI=2,1,0,1,0")
    a.expect(b"OK\r\n")
    a.at('AT+CMGS="+8613800000002"')
    a.expect(b"> ")
    a.port.write(b"Meet at 8\x1a")
    assert a.expect(b"OK\r\n").endswith(b"+CMGS: 0\r\n\r\nOK\r\n")
    assert b'+CDS: 6,0,"+8613800000002",145,' in a.expect(b",0\r\n")
    assert b.expect(b'\r\n+CMTI: "SM",1\r\n')
    b.at("AT+CMGR=1")
    reply = b.expect(b"OK\r\n")
    assert b'+CMGR: "REC UNREAD","+8613800000001","",' in reply and b"\r\nMeet at 8\r\n" in reply

    [entry] = [json.loads(x) for x in _ctl(ctl, "outbox").splitlines()]
    assert (entry["from"], entry["to"], entry["text"]) == ("+8613800000001", "+8613800000002",
                                                           "Meet at 8")
    assert json.loads(outbox.read_text().splitlines()[0]) == entry
    assert _ctl(ctl, "@1", "outbox").strip() == ""  # modem 1 sent nothing

    assert _ctl(ctl, "@1", "sms", "+447700900123", "hello", "world").startswith("ok 1")
    b.expect(b'+CMTI: "SM",2\r\n')
    b.at("AT+CMGR=2")
    assert b"\r\nhello world\r\n" in b.expect(b"OK\r\n")


def _read_until(port: serial.Serial, want: bytes, poke: bytes = b"", timeout: float = 10.0) -> bytes:
    got = b""
    deadline = time.monotonic() + timeout
    while want not in got:
        assert time.monotonic() < deadline, f"no {want!r} in {got!r}"
        if poke:
            port.write(poke)
        got += port.read(200)
    return got


def test_sim_messages_survive_a_restart(tmp_path: Path) -> None:
    # Two processes, each in its own work directory (its own pty link and
    # control socket), sharing one state directory.
    state = ("--state-dir", str(tmp_path / "state"))
    first = Sim800Process(tmp_path / "first", state)
    try:
        first.send_sms("+447700900123", "still here")
        with first.serial(timeout=0.2) as port:
            _read_until(port, b'"SM",1,50', poke=b"AT+CPMS?\r")
    finally:
        first.stop()
    assert len(list((tmp_path / "state").glob("sim-*.json"))) == 1
    second = Sim800Process(tmp_path / "second", state)
    try:
        with second.serial(timeout=0.2) as port:
            port.write(b"ATE0;+CMGF=1;+CMGR=1\r")
            got = _read_until(port, b"OK\r\n")
            assert b'"REC UNREAD","+447700900123"' in got and b"\r\nstill here\r\n" in got
    finally:
        second.stop()


def test_python_api_in_process_port() -> None:
    from sim800emu.transports import register_url_handler

    register_url_handler()
    port = serial.serial_for_url("sim800://?dns-offline", timeout=0.2)
    try:
        port.write(b"ATE0;+CMGF=1\r")
        _read_until(port, b"OK\r\n")
        port.write(b'AT+CMGS="+8613912345678"\r')
        _read_until(port, b"> ")
        port.write(b"From the API\x1a")
        assert b"+CMGS: 0" in _read_until(port, b"OK\r\n")
        [entry] = port.outbox()
        assert (entry["to"], entry["text"], entry["parts"]) == ("+8613912345678", "From the API", 1)
        port.send_sms("+447700900123", "Back to you")
        _read_until(port, b'+CMTI: "SM",1\r\n')
        port.write(b"AT+CMGR=1\r")
        assert b"\r\nBack to you\r\n" in _read_until(port, b"OK\r\n")
    finally:
        port.close()


def test_status_reports_per_cnmi_ds_through_the_pty(fleet: Any) -> None:
    """<ds> 0: no report; 2: refused; 1 in PDU mode: +CDS <length> and the
    report's PDU naming the recipient (docs/sms.md, cmd-sms-status-report.txt)."""
    (a, b), _ctl_sock, _outbox = fleet
    a.at("AT+CSMP=49,167,0,0")
    a.expect(b"OK\r\n")
    a.at('AT+CMGS="+8613800000002"')
    a.expect(b"> ")
    a.port.write(b"one\x1a")
    assert a.expect(b"OK\r\n").endswith(b"+CMGS: 0\r\n\r\nOK\r\n")
    assert b.expect(b'\r\n+CMTI: "SM",1\r\n')
    a.at("AT+CNMI=2,1,0,2,0")
    assert a.expect(b"\r\n") + a.expect(b"\r\n") == b"\r\nERROR\r\n"  # no +CDS came before it
    a.at("AT+CNMI=2,1,0,1,0;+CMGF=0")
    a.expect(b"OK\r\n")
    submit = "0031000D91683108000000F20000A703EF7619"  # "one" to +8613800000002, TP-SRR set
    a.at(f"AT+CMGS={len(submit) // 2 - 1}")
    a.expect(b"> ")
    a.port.write(submit.encode() + b"\x1a")
    assert a.expect(b"OK\r\n").endswith(b"+CMGS: 1\r\n\r\nOK\r\n")
    head = a.expect(b"\r\n+CDS: 26\r\n")
    assert head == b"\r\n+CDS: 26\r\n"
    pdu = a.expect(b"\r\n")[:-2].decode()
    assert pdu.startswith("0891683108200005F0")  # the centre's address
    assert pdu[18:40] == "06010D91683108000000F2" and pdu.endswith("00")  # SR, MR 1, recipient
