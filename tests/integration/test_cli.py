"""``sim800emu serve`` as a user runs it: a subprocess, a real pty, signals.

Most tests run the real CLI, transports and runtime with the fake modem
core (``fake_serve.py``), so they test this layer whatever the state of the
core; the ones marked xfail need the real core to answer ``AT``.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import serial

from sim800emu.cli import build_parser
from sim800emu.pytest_plugin import Sim800Process

HERE = Path(__file__).parent
PY = sys.executable
FAKE = (PY, str(HERE / "fake_serve.py"))
REAL = (PY, "-m", "sim800emu")
TIMEOUT = 10.0


def cli(*args: str, launcher: tuple[str, ...] = REAL) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*launcher, *args], capture_output=True, text=True, timeout=TIMEOUT, check=False
    )


def at(port: serial.Serial, line: bytes, expect: bytes = b"OK\r\n") -> bytes:
    port.write(line)
    out = port.read_until(expect)
    assert out.endswith(expect), out
    return out


def wait_for(cond: object, timeout: float = TIMEOUT) -> None:
    assert callable(cond)
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {cond}"
        time.sleep(0.005)


# ------------------------------------------------------------------ options


def test_serve_help_explains_every_option() -> None:
    result = cli("serve", "--help")
    assert result.returncode == 0
    text = result.stdout
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    serve = sub.choices["serve"]  # type: ignore[index]
    for action in serve._actions:
        assert action.help, f"{action.option_strings} has no help"
        for opt in action.option_strings:
            assert opt in text
    for opt in (
        "--link", "--state-dir", "--host", "--dns-offline", "--host-resolver", "--dns-port",
        "--route", "--allow", "--deny", "--listen-host", "--listen-map", "--connect-timeout",
        "--tls-verify", "--tls-ca", "--imei", "--iccid", "--imsi", "--local-ip", "--operator",
        "--csq", "--firmware", "--cold-boot", "--transport", "--tcp-host", "--tcp-port",
        "--loop", "--log", "--quiet", "--verbose",
    ):  # fmt: skip
        assert opt in text, opt


def test_version() -> None:
    from sim800emu import __version__

    assert cli("--version").stdout.strip() == f"sim800emu {__version__}"
    assert cli("version").stdout.strip() == f"sim800emu {__version__}"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--csq", "77"], "--csq: signal must be 0..31 or 99"),
        (["--imei", "12ab"], "--imei: IMEI must be 15 digits"),
        (["--host", "nonsense"], "--host: host entry 'nonsense'"),
        (["--route", "x"], "--route: route 'x'"),
        (["--allow", "10.0.0.0/33"], "--allow:"),
        (["--listen-map", "5555"], "--listen-map: listen map"),
        (["--tcp-port", "70000"], "--tcp-port: not a port number"),
        (["--transport", "serial"], "--transport: invalid choice"),
        (["--loop", "libev"], "--loop: invalid choice"),
        (["--link", "/tmp/x", "--transport", "tcp"], "--link needs --transport pty"),
        (["--connect-timeout", "-1"], "--connect-timeout: expected a positive number"),
    ],
)
def test_bad_options_are_one_line_errors(args: list[str], message: str) -> None:
    result = cli("serve", *args)
    assert result.returncode == 2
    # one useful line with a hint, no usage block
    (error,) = result.stderr.strip().splitlines()
    assert error.startswith("sim800emu serve: error: "), result.stderr
    assert message in error
    assert error.endswith(" (see sim800emu serve --help)")
    assert "Traceback" not in result.stderr


def test_unusable_state_dir_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = cli("serve", "--state-dir", str(blocker / "state"), "--link", str(tmp_path / "m"))
    assert result.returncode == 1
    assert result.stderr.startswith("sim800emu: error: cannot use the state directory")
    assert len(result.stderr.strip().splitlines()) == 1
    assert not os.path.lexists(tmp_path / "m")


def test_no_command_prints_help() -> None:
    result = cli()
    assert result.returncode == 2
    assert "serve" in result.stderr


# ------------------------------------------------------------------ the pty server (fake core)


def test_link_appears_answers_and_sigterm_cleans_up(tmp_path: Path) -> None:
    emu = Sim800Process(tmp_path, launcher=FAKE)
    try:
        assert os.path.realpath(emu.link) == emu.port
        assert emu.port.startswith("/dev/pts/")
        wait_for(lambda: "serial port" in emu.stderr())
        assert f"sim800emu: serial port {emu.port} (linked at {emu.link})" in emu.stderr()
        for _ in range(3):  # open, talk, close, again
            with serial.Serial(str(emu.link), timeout=TIMEOUT) as port:
                assert at(port, b"AT\r") == b"\r\nOK\r\n"
    finally:
        code = emu.stop()
    assert code == 0, emu.stderr()
    assert not os.path.lexists(emu.link)


def test_sigint_is_a_clean_exit_too(tmp_path: Path) -> None:
    emu = Sim800Process(tmp_path, launcher=FAKE)
    with serial.Serial(emu.port, timeout=TIMEOUT) as port:
        at(port, b"AT\r")
    emu.process.send_signal(signal.SIGINT)
    assert emu.process.wait(TIMEOUT) == 0, emu.stderr()
    assert not os.path.lexists(emu.link)
    assert "Traceback" not in emu.stderr()


def test_port_is_announced_only_once_the_link_exists(tmp_path: Path) -> None:
    link = tmp_path / "modem"
    proc = subprocess.Popen(
        [*FAKE, "serve", "--link", str(link), "--state-dir", str(tmp_path / "s")],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        assert os.path.islink(link), "announced before the link existed"
        assert re.fullmatch(r"sim800emu: serial port /dev/pts/\d+ \(linked at .*\)\n", line)
    finally:
        proc.terminate()
        proc.wait(TIMEOUT)
        if proc.stderr is not None:
            proc.stderr.close()
    assert proc.returncode == 0


def test_stale_link_is_replaced_and_a_file_is_refused(tmp_path: Path) -> None:
    os.symlink("/dev/pts/nonexistent", tmp_path / "modem")
    with Sim800Process(tmp_path, launcher=FAKE) as emu:
        assert emu.port != "/dev/pts/nonexistent"
    (tmp_path / "file").write_text("x")
    result = cli(
        "serve", "--link", str(tmp_path / "file"), "--state-dir", str(tmp_path / "s"), launcher=FAKE
    )
    assert result.returncode == 1
    assert "cannot create the link" in result.stderr
    assert (tmp_path / "file").read_text() == "x"


def test_settings_survive_a_restart_per_identity(tmp_path: Path) -> None:
    with Sim800Process(tmp_path, launcher=FAKE) as emu:
        with emu.serial() as port:
            at(port, b"SAVE apn=internet\r")
        imei = "868183038764457"
        assert (emu.state_dir / f"{imei}.json").is_file()
    with Sim800Process(tmp_path, launcher=FAKE) as emu, emu.serial() as port:
        assert b"SAVED: {'apn': 'internet'}" in at(port, b"SAVED?\r")
    other = ("--imei", "111111111111111")
    with Sim800Process(tmp_path, other, launcher=FAKE) as emu, emu.serial() as port:
        assert b"SAVED: None" in at(port, b"SAVED?\r")


def test_state_dir_is_created(tmp_path: Path) -> None:
    with Sim800Process(tmp_path, launcher=FAKE) as emu:
        assert emu.state_dir.is_dir()


def test_traffic_log_option(tmp_path: Path) -> None:
    log = tmp_path / "traffic.log"
    with Sim800Process(tmp_path, ("--log", str(log)), launcher=FAKE) as emu, emu.serial() as port:
        at(port, b"AT\r")
    text = log.read_text()
    assert "modem<-host 'AT\\r' | 41 54 0d" in text
    assert "modem->host '\\r\\nOK\\r\\n' | 0d 0a 4f 4b 0d 0a" in text


# ------------------------------------------------------------------ other transports (fake core)


def test_tcp_transport(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [*FAKE, "serve", "--transport", "tcp", "--state-dir", str(tmp_path)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        m = re.match(r"sim800emu: serial port tcp://127\.0\.0\.1:(\d+) ", line)
        assert m, line
        port = int(m.group(1))
        a = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        b = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        for s in (a, b):
            s.sendall(b"AT\r")
            data = b""
            while not data.endswith(b"OK\r\n"):
                chunk = s.recv(100)
                assert chunk
                data += chunk
            assert data == b"\r\nOK\r\n"
        a.close()
    finally:
        proc.terminate()
        proc.wait(TIMEOUT)
        if proc.stderr is not None:
            proc.stderr.close()
    assert proc.returncode == 0
    b.settimeout(TIMEOUT)
    assert b.recv(100) == b""  # the server closed it on exit
    b.close()


def test_stdio_transport(tmp_path: Path) -> None:
    result = subprocess.run(
        [*FAKE, "serve", "--transport", "stdio", "--state-dir", str(tmp_path)],
        input=b"AT\rTIMER t 0.01\r",
        capture_output=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    # end of input ends the run: the timer never gets to fire, output is only the modem's
    assert result.stdout == b"\r\nOK\r\n\r\nOK\r\n"
    assert b"serial line on stdin/stdout" in result.stderr


# ------------------------------------------------------------------ with the real core


def test_real_serve_as_the_conformance_harness_runs_it(tmp_path: Path) -> None:
    link = tmp_path / "modem"
    state = tmp_path / "state"
    args = ("--host", "echo.test=127.0.0.1")
    with Sim800Process(tmp_path, args, launcher=REAL) as emu:
        assert emu.link == link
        assert state.is_dir()
        with emu.serial() as port:
            at(port, b"ATE0\r")
            assert at(port, b"AT\r") == b"\r\nOK\r\n"
        code = emu.stop()
        assert code == 0, emu.stderr()
    assert not os.path.lexists(link)


@pytest.mark.sim800("--imei", "123456789012345")
def test_pytest_plugin_fixture(sim800: Sim800Process) -> None:
    assert "--imei" in sim800.command
    port = sim800.serial()
    at(port, b"ATE0\r")
    assert b"123456789012345" in at(port, b"AT+GSN\r")


def test_pytest_plugin_factory_makes_independent_modems(sim800_factory: object) -> None:
    assert callable(sim800_factory)
    a = sim800_factory()
    b = sim800_factory("--cold-boot")
    assert a.port != b.port
    for emu in (a, b):
        with emu.serial() as port:
            port.write(b"AT\r")
            assert port.read_until(b"OK\r\n").endswith(b"OK\r\n")


def test_profile_gives_defaults_and_the_command_line_wins(tmp_path: Path) -> None:
    from sim800emu.cli import _subparser, build_parser, load_profile

    profile = tmp_path / "p.toml"
    profile.write_text(
        'imei = "111111111111116"\nhost = ["a.test=127.0.0.1"]\ndns-offline = true\n'
        "latency = 250\ncsq = 9\n"
    )
    parser = build_parser()
    serve = _subparser(parser, "serve")
    defaults = load_profile(serve, profile)
    assert defaults["imei"] == "111111111111116"
    assert defaults["dns_offline"] is True
    assert defaults["latency"] == 0.25
    serve.set_defaults(**defaults)
    args = parser.parse_args(["serve", "--csq", "20", "--host", "b.test=127.0.0.2"])
    assert args.csq == 20 and args.imei == "111111111111116"
    assert [h[0] for h in args.hosts] == ["a.test", "b.test"]


def test_profile_errors_are_clear(tmp_path: Path) -> None:
    for text, what in (
        ("nonsense = 1\n", "unknown option 'nonsense'"),
        ('csq = "loud"\n', "csq"),
        ("dns-offline = 3\n", "must be true or false"),
        ("imei = [", "--profile"),
    ):
        profile = tmp_path / "bad.toml"
        profile.write_text(text)
        proc = subprocess.run(
            [sys.executable, "-m", "sim800emu", "serve", "--profile", str(profile)],
            capture_output=True, text=True, timeout=30,
        )
        assert proc.returncode == 2, proc.stderr
        assert what in proc.stderr, proc.stderr


def test_example_profile_loads() -> None:
    from sim800emu.cli import _subparser, build_parser, load_profile

    parser = build_parser()
    example = Path(__file__).parents[2] / "docs" / "profile.example.toml"
    assert load_profile(_subparser(parser, "serve"), example)["dns_offline"] is True


def test_plugin_fault_injection(sim800: object) -> None:
    with sim800.serial(timeout=0.2) as port:  # type: ignore[attr-defined]
        port.write(b"ATE0\r")
        port.read_until(b"OK\r\n")
        port.write(b"AT+CREG=1\r")
        port.read_until(b"OK\r\n")
        assert sim800.fault("register", "5") == "ok 1 modem(s)"  # type: ignore[attr-defined]
        assert port.read_until(b"+CREG: 5\r\n").endswith(b"\r\n+CREG: 5\r\n")


def test_activation_delay_is_what_ciicr_takes(tmp_path: Path) -> None:
    from serial_helpers import Emulator

    with Emulator("--activation-delay", "0.6", workdir=tmp_path / "w") as emu:
        emu.init()
        emu.command("AT+CSTT")
        start = time.monotonic()
        emu.send("AT+CIICR")
        emu.expect_silence(0.4)
        emu.expect(b"\r\nOK\r\n", timeout=5)
        assert 0.55 <= time.monotonic() - start < 3


def test_check_plays_user_transcripts(tmp_path: Path) -> None:
    good = tmp_path / "good.txt"
    good.write_text(
        "> ATE0\n<< ATE0\\r\n< OK\n@ echo tcp S\n"
        '> AT+CIPSTART="TCP","api.test",{S}\n< OK\n< CONNECT OK\n'
        "> AT+CIPSEND=4\n<< \\r\\n> \n>> ping\n< SEND OK\n<< ping\n"
    )
    bad = tmp_path / "bad.txt"
    bad.write_text(good.read_text().replace("< CONNECT OK", "< CONNECT OKAY"))
    proc = subprocess.run(
        [sys.executable, "-m", "sim800emu", "check", str(good), str(bad), "--jobs", "2",
         "--with", "--host api.test=127.0.0.1 --dns-offline"],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert f"PASS {good}" in proc.stdout
    assert f"FAIL {bad}" in proc.stdout
    assert f"{bad}:7: wrong line" in proc.stdout
    assert proc.stdout.rstrip().endswith("1 passed, 1 failed")
    broken = tmp_path / "broken.txt"
    broken.write_text("> AT\n<x nonsense\n")
    proc = subprocess.run(
        [sys.executable, "-m", "sim800emu", "check", str(broken)],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 1 and "broken.txt:2" in proc.stderr
