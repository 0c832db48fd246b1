"""``--transport tcp-client --connect HOST:PORT`` (issue 13, item 4): the
emulator is the device behind a simulator's UART socket. A local TCP server
plays the simulator (QEMU's ``-serial tcp:...,server``), including a restart
of it: the modem connects again and keeps its state."""

from __future__ import annotations

import contextlib
import select
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from serial_helpers import HOST, LOOPS, free_port

OK = b"\r\nOK\r\n"


class Simulator:
    """The simulator's side: a listening socket; one board connection."""

    def __init__(self, port: int) -> None:
        self.server = socket.socket()
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.server.bind((HOST, port))
        self.server.listen(1)
        self.conn: socket.socket | None = None
        self.buf = b""

    def accept(self, timeout: float = 10.0) -> None:
        self.server.settimeout(timeout)
        self.conn, _ = self.server.accept()

    def send(self, data: bytes) -> None:
        assert self.conn is not None
        self.conn.sendall(data)

    def expect(self, what: bytes, timeout: float = 10.0) -> bytes:
        assert self.conn is not None
        deadline = time.monotonic() + timeout
        while what not in self.buf:
            left = deadline - time.monotonic()
            assert left > 0, f"no {what!r}; got {self.buf!r}"
            ready, _, _ = select.select([self.conn], [], [], left)
            if ready:
                data = self.conn.recv(4096)
                assert data, f"the modem hung up; got {self.buf!r}"
                self.buf += data
        at = self.buf.index(what) + len(what)
        got, self.buf = self.buf[:at], self.buf[at:]
        return got

    def close(self) -> None:
        for sock in (self.conn, self.server):
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.close()


@pytest.mark.parametrize("loop", LOOPS)
def test_attaches_to_a_simulator_and_survives_its_restart(loop: str) -> None:
    port = free_port()
    sim = Simulator(port)
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.Popen(
            [sys.executable, "-m", "sim800emu", "serve", "--transport", "tcp-client",
             "--connect", f"{HOST}:{port}", "--state-dir", str(Path(tmp) / "state"), "-v",
             "--loop", loop],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        try:
            sim.accept()
            sim.send(b"ATE0\r")
            sim.expect(OK)
            sim.send(b"AT+CSQ\r")
            assert sim.expect(OK) == b"\r\n+CSQ: 24,0\r\n\r\nOK\r\n"
            # the simulator restarts: its socket goes, then listens again
            sim.close()
            time.sleep(0.3)  # the simulator is down for a while (what is tested)
            sim = Simulator(port)
            sim.accept()
            sim.send(b"AT\r")
            assert sim.expect(OK) == OK  # no echo: the modem kept ATE0 across it
        finally:
            sim.close()
            proc.terminate()
            _, err = proc.communicate(timeout=10)
    text = err.decode()
    assert text.count("serial line connected to") == 2, text
    assert "reconnecting" in text


def test_waits_for_a_simulator_that_is_not_there_yet() -> None:
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.Popen(
            [sys.executable, "-m", "sim800emu", "serve", "--transport", "tcp-client",
             "--connect", f"{HOST}:{port}", "--state-dir", str(Path(tmp) / "state")],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        sim: Simulator | None = None
        try:
            time.sleep(0.5)  # the simulator starts later than the modem (what is tested)
            sim = Simulator(port)
            sim.accept()
            sim.send(b"AT\r")
            sim.expect(b"AT\r\r\nOK\r\n")
        finally:
            if sim is not None:
                sim.close()
            proc.terminate()
            proc.wait(10)


def test_connect_and_transport_go_together() -> None:
    for args in (["--transport", "tcp-client"], ["--connect", "127.0.0.1:4444"],
                 ["--transport", "tcp-client", "--connect", "nowhere"]):
        proc = subprocess.run(
            [sys.executable, "-m", "sim800emu", "serve", *args],
            capture_output=True, text=True, timeout=30,
        )
        assert proc.returncode == 2
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
