"""The AT client (sim800emu.atclient) against an in-process modem and a loopback echo server.

No Locust here: importing Locust monkey-patches the standard library for the
whole pytest process; the Locust user is tested in a subprocess
(test_locust_run.py)."""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Iterator

import pytest

from sim800emu.atclient import AtClient, AtError, AtTimeout
from sim800emu.transports.inprocess import InProcessModem
from sim800emu.transports.url_handler import spec_for_url


@pytest.fixture
def echo_server() -> Iterator[int]:
    srv = socket.create_server(("127.0.0.1", 0))
    port = srv.getsockname()[1]

    def serve() -> None:
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            with conn:
                while data := conn.recv(4096):
                    conn.sendall(b"ack:" + data)

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    yield port
    srv.close()


@pytest.fixture
def client() -> Iterator[tuple[AtClient, list[tuple[str, int, str | None]]]]:
    modem = InProcessModem(spec_for_url("sim800://?host=echo.test=127.0.0.1"))
    sock = modem.open()
    seen: list[tuple[str, int, str | None]] = []

    def observe(name: str, seconds: float, size: int, error: BaseException | None) -> None:
        assert seconds >= 0
        seen.append((name, size, None if error is None else type(error).__name__))

    yield AtClient(sock, timeout=5.0, observer=observe), seen
    modem.close()


def test_commands_echo_and_errors(client: tuple[AtClient, list[tuple[str, int, str | None]]]) -> None:
    m, seen = client
    assert m.at("AT") == ["OK"]  # echo on: the echo is left out
    assert m.at("ATE0") == ["OK"]
    assert m.at("AT+CGSN")[-2:] == ["868183038764457", "OK"]
    assert m.at("AT+CGATT?", expect="+CGATT:", phase="attach") == ["OK", "+CGATT: 1"]
    with pytest.raises(AtError) as info:
        m.at("AT+NOSUCH", phase="bad")
    assert info.value.lines == ["ERROR"]
    m.at("AT+CMEE=2")
    with pytest.raises(AtError, match=r"\+CM[ES] ERROR"):
        m.at("AT+CMGR=999")
    assert ("bad", len(b"AT+NOSUCH\r") + len(b"\r\nERROR\r\n"), "AtError") in seen


def test_tcp_session(client: tuple[AtClient, list[tuple[str, int, str | None]]],
                     echo_server: int) -> None:
    m, seen = client
    m.at("ATE0")
    m.at("AT+CIPHEAD=1")
    with m.phase("bearer"):
        m.at('AT+CSTT="internet"')
        m.at("AT+CIICR")
        m.at("AT+CIFSR", expect=re.compile(r"\d+\.\d+\.\d+\.\d+$"))
    line = m.at('AT+CDNSGIP="echo.test"', expect="+CDNSGIP:", phase="dns")[-1]
    assert line == '+CDNSGIP: 1,"echo.test","127.0.0.1"'
    m.at(f'AT+CIPSTART="TCP","127.0.0.1",{echo_server}', expect="CONNECT OK", phase="connect")
    m.send(b"hello\n")
    assert m.receive(until=b"\n") == b"ack:hello\n"
    big = bytes(range(256)) * 12  # 3072 bytes: three CIPSENDs of at most 1460
    m.send(big)
    want = b"".join(b"ack:" + big[i:i + 1460] for i in range(0, len(big), 1460))
    got = m.receive(size=len(want), timeout=5)
    assert got.count(b"ack:") >= 1 and got.replace(b"ack:", b"") == big
    m.at("AT+CIPCLOSE", expect="CLOSE OK")
    with pytest.raises(AtTimeout):
        m.receive(size=1, timeout=0.3)
    names = [name for name, _, _ in seen]
    assert names == ["bearer", "dns", "connect", "send", "receive", "send", "receive", "receive"]
    assert seen[-1][2] == "AtTimeout"
    assert seen[3][1] > 6  # the command, the prompt, the data, SEND OK


def test_manual_read_and_urcs(client: tuple[AtClient, list[tuple[str, int, str | None]]],
                              echo_server: int) -> None:
    m, _ = client
    m.at("ATE0")
    m.at("AT+CIPRXGET=1")
    m.at(f'AT+CIPSTART="TCP","127.0.0.1",{echo_server}', expect="CONNECT OK")
    m.send(b"x" * 10, phase=None)
    assert m.read(100) == b"ack:" + b"x" * 10
    m.at("AT+CIPCLOSE", expect="CLOSE OK")
    m.at(f'AT+CIPSTART="TCP","127.0.0.1",{echo_server}', expect="CONNECT OK")
    m.at("AT+CIPSTATUS", expect="STATE:")
    m.at("AT+CIPSHUT", expect="SHUT OK")


def test_locust_is_not_imported_into_the_test_process() -> None:
    """Importing Locust monkey-patches the standard library (gevent) and
    breaks every asyncio test after it: the fleet tests use it only in
    subprocesses. (Collection has imported every test module by now.)"""
    import sys

    assert "locust" not in sys.modules
    assert "gevent.monkey" not in sys.modules
