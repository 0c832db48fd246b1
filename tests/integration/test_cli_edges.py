"""The edges of the command line a new user runs into (issue 10, problem 6),
each through the real CLI as a subprocess: owned --link and --control paths,
--control errors, stdio from /dev/null or a file, profile and option errors,
check --with, the control socket and ``sim800emu ctl``, ``sim800://?profile=``."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import serial

from sim800emu.pytest_plugin import Sim800Process

HERE = Path(__file__).parent
FAKE = (sys.executable, str(HERE / "fake_serve.py"))
REAL = (sys.executable, "-m", "sim800emu")
TIMEOUT = 20.0


def run(*args: str, launcher: tuple[str, ...] = REAL, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # type: ignore[call-overload, no-any-return]
        [*launcher, *args], capture_output=True, text=True, timeout=TIMEOUT, check=False,
        **kwargs,
    )


def one_error_line(result: subprocess.CompletedProcess[str], code: int = 1) -> str:
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def ctl(sock: Path, *words: str) -> subprocess.CompletedProcess[str]:
    return run("ctl", str(sock), *words)


# ------------------------------------------------------------- owned paths


def announced_serve(workdir: Path, link: Path, control: Path) -> tuple[subprocess.Popen[bytes], str]:
    """``serve`` (fake core) on ``link`` and ``control``, once it announced
    its port (printed after the link and the socket are in place: a stale
    link or socket there before says nothing)."""
    workdir.mkdir(parents=True, exist_ok=True)
    err = workdir / "stderr.txt"
    with open(err, "wb") as out:
        proc = subprocess.Popen(
            [*FAKE, "serve", "--link", str(link), "--control", str(control),
             "--state-dir", str(workdir / "state")],
            stdin=subprocess.DEVNULL, stdout=out, stderr=out,
        )
    deadline = time.monotonic() + TIMEOUT
    while "serial port" not in err.read_text():
        assert proc.poll() is None, err.read_text()
        assert time.monotonic() < deadline, err.read_text()
        time.sleep(0.01)  # polling the announcement
    line = next(x for x in err.read_text().splitlines() if "serial port" in x)
    return proc, line


def test_a_live_link_is_refused_and_a_stale_one_replaced(tmp_path: Path) -> None:
    first = Sim800Process(tmp_path / "a", launcher=FAKE)
    try:
        link = first.link
        line = one_error_line(run(
            "serve", "--link", str(link), "--state-dir", str(tmp_path / "s"), launcher=FAKE
        ))
        assert line == (
            f"sim800emu: error: cannot create the link {link}: "
            f"{link} is in use by a running emulator (pid {first.process.pid})"
        )
        assert os.path.realpath(link) == first.port  # untouched
        with first.serial() as port:
            port.write(b"AT\r")
            assert port.read_until(b"OK\r\n").endswith(b"OK\r\n")
        # the first dies without cleaning up: its link is stale now
        first.process.send_signal(signal.SIGKILL)
        first.process.wait(5)
        assert os.path.islink(link)
        second, announced = announced_serve(tmp_path / "b", link, first.control)
        try:
            assert announced.endswith(f"(linked at {link})")
            assert os.path.realpath(link) == announced.split()[3]
        finally:
            second.terminate()
            assert second.wait(30) == 0
        assert not os.path.lexists(link)
        assert not (link.parent / f".{link.name}.lock").exists()
    finally:
        first.stop()


def test_a_live_control_socket_is_refused_and_a_stale_one_replaced(tmp_path: Path) -> None:
    first = Sim800Process(tmp_path / "a", launcher=FAKE)
    try:
        sock = first.control
        line = one_error_line(run(
            "serve", "--link", str(tmp_path / "other"), "--control", str(sock),
            "--state-dir", str(tmp_path / "s"), launcher=FAKE,
        ))
        assert line == f"sim800emu: error: --control {sock} is in use by a running emulator"
        assert not os.path.lexists(tmp_path / "other")  # nothing left behind
        assert ctl(sock, "status").returncode == 0  # still the first one's
        first.process.send_signal(signal.SIGKILL)
        first.process.wait(5)
        assert sock.is_socket()  # stale
        second, _ = announced_serve(tmp_path / "b", first.link, sock)
        try:
            assert ctl(sock, "status").returncode == 0
        finally:
            second.terminate()
            assert second.wait(30) == 0
        assert not sock.exists()
    finally:
        first.stop()


@pytest.mark.parametrize("case", ["missing-directory", "a-file", "too-long"])
def test_control_path_errors_are_one_line(tmp_path: Path, case: str) -> None:
    if case == "missing-directory":
        path, expected = tmp_path / "nowhere" / "m.ctl", "no such directory"
    elif case == "a-file":
        path, expected = tmp_path / "m.ctl", "exists and is not a socket"
        path.write_text("keep me")
    else:
        path, expected = tmp_path / ("x" * 120), "--control"
    line = one_error_line(run(
        "serve", "--link", str(tmp_path / "modem"), "--control", str(path),
        "--state-dir", str(tmp_path / "s"),
    ))
    assert line.startswith(f"sim800emu: error: --control {path}") and expected in line, line
    assert not os.path.lexists(tmp_path / "modem")
    if case == "a-file":
        assert path.read_text() == "keep me"


# ------------------------------------------------------------- stdio


def test_stdio_from_dev_null_ends_cleanly(tmp_path: Path) -> None:
    result = run(
        "serve", "--transport", "stdio", "--state-dir", str(tmp_path), stdin=subprocess.DEVNULL
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert "Traceback" not in result.stderr and "ERROR" not in result.stderr


def test_stdio_from_a_file_answers_every_line(tmp_path: Path) -> None:
    script = tmp_path / "script.txt"
    script.write_bytes(b"ATE0\rAT\rAT+CSQ\r")
    out = tmp_path / "out.txt"
    with open(script, "rb") as stdin, open(out, "wb") as stdout:
        result = subprocess.run(
            [*REAL, "serve", "--transport", "stdio", "--state-dir", str(tmp_path / "s")],
            stdin=stdin, stdout=stdout, stderr=subprocess.PIPE, timeout=TIMEOUT, check=False,
        )
    assert result.returncode == 0, result.stderr
    assert b"Traceback" not in result.stderr
    assert out.read_bytes() == b"ATE0\r\r\nOK\r\n\r\nOK\r\n\r\n+CSQ: 24,0\r\n\r\nOK\r\n"


# ------------------------------------------------------------- options


def test_an_argument_error_is_one_line_and_a_hint(tmp_path: Path) -> None:
    result = run("serve", "--transport", "serial")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "sim800emu serve: error: argument --transport: invalid choice: 'serial' "
        "(choose from 'pty', 'tcp', 'stdio', 'tcp-client') (see sim800emu serve --help)",
    ]
    assert "usage:" not in result.stderr


def test_a_profile_transport_is_checked(tmp_path: Path) -> None:
    profile = tmp_path / "p.toml"
    profile.write_text('transport = "serial"\n')
    result = run("serve", "--profile", str(profile))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"sim800emu serve: error: --profile {profile}: transport: 'serial' is not one of "
        "pty, tcp, stdio, tcp-client (see sim800emu serve --help)"
    ]


def test_check_with_an_option_alone(tmp_path: Path) -> None:
    script = tmp_path / "t.txt"
    script.write_text("> ATE0\n<< ATE0\\r\n< OK\n> AT+CDNSGIP=\"x.test\"\n< ERROR\n")
    result = subprocess.run(
        [*REAL, "check", str(script), "--with", "--dns-offline"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"PASS {script}" in result.stdout


# ------------------------------------------------------------- control socket and ctl


class Fleet:
    def __init__(self, workdir: Path, count: int) -> None:
        self.control = workdir / "fleet.ctl"
        self.process = subprocess.Popen(
            [*REAL, "serve", "--count", str(count), "--link", str(workdir / "modem{n}"),
             "--control", str(self.control), "--state-dir", str(workdir / "state")],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + TIMEOUT
        while not self.control.exists():
            assert self.process.poll() is None and time.monotonic() < deadline
            time.sleep(0.01)  # polling for the socket file

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Fleet]:
    proc = Fleet(tmp_path, 3)
    yield proc
    proc.stop()


def test_ctl_errors_go_to_stderr_with_a_failure_code(tmp_path: Path) -> None:
    with Sim800Process(tmp_path) as emu:
        for words, message in [
            (("signal", "40"), "error: signal takes 0-31 or 99, not 40"),
            (("signal", "32"), "error: signal takes 0-31 or 99, not 32"),
            (("drop", "4"), "error: link 4 is not open"),
            (("bogus",), "error: unknown or malformed command 'bogus'"),
        ]:
            result = ctl(emu.control, *words)
            assert result.returncode == 1, words
            assert result.stdout == "", words
            assert result.stderr.startswith(message), (words, result.stderr)
        ok = ctl(emu.control, "signal", "99")
        assert (ok.returncode, ok.stdout.strip(), ok.stderr) == (0, "ok 1 modem(s)", "")
        with emu.serial() as port:
            port.write(b"AT+CSQ\r")
            assert b"+CSQ: 99," in port.read_until(b"OK\r\n")
    gone = ctl(emu.control, "status")
    assert gone.returncode == 1 and gone.stdout == ""
    assert gone.stderr.startswith(f"sim800emu: error: cannot reach {emu.control}: ")
    assert len(gone.stderr.strip().splitlines()) == 1


def test_status_says_a_powered_off_modem_is_off(tmp_path: Path) -> None:
    with Sim800Process(tmp_path) as emu:
        assert ctl(emu.control, "power-off").returncode == 0
        result = ctl(emu.control, "status")
        assert result.stdout == "modem: powered off (power-on boots it)\n"
        assert ctl(emu.control, "power-on").returncode == 0
        assert ctl(emu.control, "status").stdout == "modem: IP INITIAL\n"


def test_a_fleets_status_is_one_line_per_modem(fleet: Fleet) -> None:
    result = ctl(fleet.control, "status")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f"modem {n}: IP INITIAL" for n in range(3)]
    assert ctl(fleet.control, "@1", "status").stdout == "modem 1: IP INITIAL\n"


def test_an_oversized_control_line_is_an_error_answer(tmp_path: Path) -> None:
    with Sim800Process(tmp_path) as emu:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(10)
            sock.connect(str(emu.control))
            sock.sendall(b"status " + b"x" * 200_000 + b"\n")
            answer = b""
            while not answer.endswith(b"\n"):
                chunk = sock.recv(4096)
                if not chunk:
                    break
                answer += chunk
        assert answer == b"error: command longer than 4096 bytes\n"
        assert ctl(emu.control, "status").returncode == 0  # still serving
        assert "Traceback" not in emu.stderr() and "ValueError" not in emu.stderr()


def test_drop_on_a_closed_link_of_a_fleet(fleet: Fleet) -> None:
    result = ctl(fleet.control, "@2", "drop", "0")
    assert result.returncode == 1 and result.stderr.startswith("error: link 0 is not open")


# ------------------------------------------------------------- sim800:// URL


def test_url_profile_is_honoured_and_a_missing_one_is_an_error(tmp_path: Path) -> None:
    from sim800emu.transports import register_url_handler

    register_url_handler()
    profile = tmp_path / "bench.toml"
    profile.write_text('imei = "123456789012345"\ndns-offline = true\n')
    with serial.serial_for_url(f"sim800://?profile={profile}", timeout=2) as port:
        port.write(b"ATE0\rAT+GSN\r")
        assert port.read_until(b"OK\r\n\r\nOK\r\n").endswith(b"\r\n123456789012345\r\n\r\nOK\r\n")
    # the URL's own options still win over the profile
    with serial.serial_for_url(f"sim800://?profile={profile}&imei=111111111111111", timeout=2) as port:
        port.write(b"ATE0\rAT+GSN\r")
        assert b"111111111111111" in port.read_until(b"OK\r\n\r\nOK\r\n")
    with pytest.raises(serial.SerialException, match=r"missing\.toml"):
        serial.serial_for_url(f"sim800://?profile={tmp_path / 'missing.toml'}")
