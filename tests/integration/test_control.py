"""Fault injection through the control channel (serve --control, sim800emu ctl),
end to end: the faults reach the modem and it prints what a SIM800 prints."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from serial_helpers import Emulator

from sim800emu.control import parse
from sim800emu.core.events import CallerHangup, Fault


def ctl(sock: Path, *words: str) -> tuple[int, str]:
    proc = subprocess.run(
        [sys.executable, "-m", "sim800emu", "ctl", str(sock), *words],
        capture_output=True, text=True, timeout=20,
    )
    return proc.returncode, proc.stdout.strip() + proc.stderr.strip()


@pytest.fixture
def emu(tmp_path: Path) -> Iterator[tuple[Emulator, Path]]:
    sock = tmp_path / "modem.ctl"
    with Emulator("--control", str(sock), workdir=tmp_path / "w") as e:
        e.init()
        yield e, sock


@pytest.fixture
def server() -> Iterator[int]:
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen()
    conns: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        lsock.settimeout(0.2)
        while not stop.is_set():
            try:
                conns.append(lsock.accept()[0])
            except TimeoutError:
                continue
            except OSError:
                return

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    yield lsock.getsockname()[1]
    stop.set()
    t.join()
    for c in conns:
        c.close()
    lsock.close()


def test_parse() -> None:
    assert parse("pdp-deact") == Fault("pdp-deact")
    assert parse("register 5") == Fault("register", 5)
    assert parse("drop 3") == Fault("drop-link", 3)
    assert parse(" status ") == "status"
    assert parse("hangup") == CallerHangup()
    assert parse("hangup +4930777") == CallerHangup(number="+4930777")
    for bad in ("", "register", "register 9", "drop x", "explode", "pdp-deact now", "hangup a b"):
        with pytest.raises(ValueError):
            parse(bad)


def test_registration_urcs_and_signal(emu: tuple[Emulator, Path]) -> None:
    e, sock = emu
    e.command("AT+CREG=1")
    e.command("AT+CGREG=2")
    assert ctl(sock, "register", "5") == (0, "ok 1 modem(s)")
    e.expect_exact(b'\r\n+CREG: 5\r\n\r\n+CGREG: 5,"1A2B","3C4D"\r\n')
    assert e.command("AT+CREG?").endswith(b"\r\n+CREG: 1,5\r\n\r\nOK\r\n")
    assert ctl(sock, "signal", "7")[0] == 0
    assert e.command("AT+CSQ") == b"\r\n+CSQ: 7,0\r\n\r\nOK\r\n"
    assert ctl(sock, "register", "0")[0] == 0
    e.expect_exact(b"\r\n+CREG: 0\r\n\r\n+CGREG: 0\r\n")
    assert e.command("AT+CSQ") == b"\r\n+CSQ: 99,99\r\n\r\nOK\r\n"
    code, text = ctl(sock, "bogus")
    assert code == 1 and text.startswith("error:")


def test_pdp_deact_and_drop(emu: tuple[Emulator, Path], server: int) -> None:
    e, sock = emu
    e.command("AT+CIPMUX=1")
    e.bring_up()
    e.command(f'AT+CIPSTART=0,"TCP","127.0.0.1",{server}', b"\r\n0, CONNECT OK\r\n")
    e.command(f'AT+CIPSTART=1,"TCP","127.0.0.1",{server}', b"\r\n1, CONNECT OK\r\n")
    code, status = ctl(sock, "status")
    assert code == 0 and "IP PROCESSING" in status and "link 1 TCP" in status, status
    assert ctl(sock, "drop", "1")[0] == 0
    e.expect_exact(b"\r\n1, CLOSED\r\n")
    assert b'+CIPSTATUS: 1,0,"TCP","127.0.0.1"' in e.command("AT+CIPSTATUS=1")
    assert ctl(sock, "pdp-deact")[0] == 0
    e.expect_exact(b"\r\n+PDP: DEACT\r\n")
    e.send("AT+CIPSTATUS")
    e.expect(b"\r\nOK\r\n\r\nSTATE: PDP DEACT\r\n")
    assert e.command("AT+CIPSTART=2,\"TCP\",\"127.0.0.1\",1", b"\r\nERROR\r\n")
    assert e.command("AT+CIPSHUT", b"\r\nSHUT OK\r\n")


def test_cipdpdp_loses_the_context_after_failed_checks(emu: tuple[Emulator, Path]) -> None:
    e, sock = emu
    e.command("AT+CIPDPDP=1,1,1")
    e.bring_up()
    assert ctl(sock, "register", "2")[0] == 0
    e.expect_silence(0.5)  # checked every 1 s, lost after 1 failure
    e.expect(b"\r\n+PDP: DEACT\r\n", timeout=5)


def test_power_off_and_on(emu: tuple[Emulator, Path]) -> None:
    e, sock = emu
    assert ctl(sock, "power-off")[0] == 0
    e.send("AT")
    e.expect_silence(0.5)
    assert ctl(sock, "power-on")[0] == 0
    e.expect(b"\r\nSMS Ready\r\n", timeout=5)
    e.send("AT")
    e.expect(b"AT\r\r\nOK\r\n")  # echo is back on after the boot
