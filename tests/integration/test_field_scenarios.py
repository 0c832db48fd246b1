"""Scenario files (issue 13, item 3): validation with the line and the key,
the shipped examples, a byte-identical transcript for the same seed, and
each kind of trigger and action seen through the real pty."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from serial_helpers import Emulator, TcpServer

from sim800emu.scenario import ScenarioError, load, parse

OK = b"\r\nOK\r\n"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "scenarios"


# ------------------------------------------------------------ the files


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[step]]\nat = "1s"\ndo = "reboot"\n', "scenario:3: key 'do': unknown action 'reboot'"),
        ('[[step]]\nat = "soon"\ndo = "signal 3"\n', "scenario:2: key 'at': 'soon' is not a duration"),
        ('[[step]]\ndo = "signal 3"\n', "scenario:1: needs exactly one of at, every, after, when"),
        ('[[step]]\nat = "1s"\ndo = "hangup"\n\n[[step]]\nwhen = "state IP STATUS"\n'
         'colour = "red"\ndo = "hangup"\n', "scenario:7: key 'colour': unknown key"),
        ('[[step]]\nafter = "CIPSEND"\ndo = "drop 0"\n', "scenario:2: key 'after': 'CIPSEND': expected"),
        ('[[step]]\nat = "1s"\ndo = "signal 300"\n', "scenario:3: key 'do': "),
        ('[[step]]\nat = "1s"\ndelay = "later"\ndo = "signal 3"\n', "scenario:3: key 'delay'"),
        ('[[step]\nat = 1\n', "scenario: not valid TOML"),
        ('title = "x"\n', "scenario:1: key 'title': unknown key"),
    ],
)
def test_errors_name_the_line_and_the_key(text: str, message: str) -> None:
    with pytest.raises(ScenarioError) as err:
        parse(text)
    assert str(err.value).startswith(message), str(err.value)
    assert "\n" not in str(err.value)


def test_every_example_loads() -> None:
    names = sorted(p.name for p in EXAMPLES.glob("*.toml"))
    assert names == ["carrier-idle-timeout.toml", "dns-outage.toml", "flaky-rural-gprs.toml",
                     "reboot-loop.toml"]
    for path in EXAMPLES.glob("*.toml"):
        assert load(path).steps


def test_triggers_are_understood() -> None:
    steps = parse(
        '[[step]]\nevery = "600s±60s"\ndo = "pdp-deact"\n'
        '[[step]]\nafter = "3rd CIPSEND on link 0"\ndelay = "200ms"\ndo = "drop 0"\n'
        '[[step]]\nwhen = "CIPSTART to API.example.com"\ndo = "refuse api.example.com"\n'
        '[[step]]\nwhen = "state IP STATUS"\ntimes = 2\ndo = "freeze 5s"\n'
        '[[step]]\nwhen = "data mode"\ndo = "ring +4912345"\n'
    ).steps
    assert (steps[0].time, steps[0].spread) == (600.0, 60.0)
    assert (steps[1].count, steps[1].what, steps[1].link, steps[1].delay) == (
        3, "cmd:+CIPSEND", 0, 0.2)
    assert steps[2].what == "to:api.example.com"
    assert (steps[3].what, steps[3].times) == ("state:IP STATUS", 2)
    assert steps[4].what == "data"


def test_a_bad_scenario_fails_at_start_with_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[step]]\nat = "1s"\ndo = "explode"\n')
    proc = subprocess.run(
        [sys.executable, "-m", "sim800emu", "serve", "--scenario", str(bad)],
        capture_output=True, text=True, timeout=30,
    )
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and f"{bad}:3: key 'do': unknown action 'explode'" in lines[0]


# ------------------------------------------------------------ repeatable


def flaky_transcript(seed: str) -> bytes:
    """The flaky rural GPRS example at 1/100 of its pace: registration
    changes, a command's answer, the line's noise, as the host reads them."""
    scenario = str(EXAMPLES / "flaky-rural-gprs.toml")
    with Emulator("--scenario", scenario, "--seed", seed, "--time-scale", "0.01") as emu:
        start = time.monotonic()
        seen = bytearray()
        emu.send("ATE0")
        seen += emu.expect(OK)
        seen += emu.command("AT+CREG=1")
        seen += emu.expect(b"+CREG: 5\r\n", timeout=5)  # 2 at 0.6 s, 5 at 0.75 s
        seen += emu.command("AT+CSQ")
        seen += emu.drain(max(0.0, 3.3 - (time.monotonic() - start)))  # the noise at ~2 s
    return bytes(seen)


def test_same_seed_same_transcript_byte_for_byte() -> None:
    first = flaky_transcript("2")
    second = flaky_transcript("2")
    assert first == second
    assert b"\r\n+CREG: 2\r\n\r\n+CREG: 5\r\n" in first
    assert b"+CSQ: 9,0" in first  # the signal of 20 s (0.2 s here)
    assert len(first) > len(b"\r\nOK\r\n" * 3) + 6
    other = flaky_transcript("6")
    assert other != first  # other noise


# ------------------------------------------------------------ through the pty


def scenario_file(tmp_path: Path, text: str) -> str:
    path = tmp_path / "s.toml"
    path.write_text(text)
    return str(path)


def test_freeze_slip_garbage_under_voltage(tmp_path: Path) -> None:
    path = scenario_file(tmp_path, """
[[step]]
after = "1st CGMR"
do = "freeze 800ms"

[[step]]
after = "1st CSQ"
do = "slip +CREG: 2"

[[step]]
after = "1st GSN"
do = "garbage 16"

[[step]]
after = "1st CGMI"
do = "under-voltage"

[[step]]
after = "1st CCID"
do = "under-voltage-off"
""")
    with Emulator("--scenario", path) as emu:
        emu.init()
        start = time.monotonic()
        emu.command("AT+CGMR")
        assert time.monotonic() - start >= 0.75  # no answer while frozen, then it recovers
        assert emu.command("AT+CSQ").endswith(b"+CSQ: 24,0\r\n\r\n+CREG: 2\r\n\r\nOK\r\n")
        emu.send("AT+GSN")  # 16 bytes of noise before the answer
        got = emu.expect(OK)
        assert len(got) >= 16 + len(b"\r\n868183038764457\r\n\r\nOK\r\n")
        assert emu.command("AT+CGMI").endswith(OK)
        emu.expect(b"\r\nUNDER-VOLTAGE WARNNING\r\n")
        emu.send("AT+CCID")
        emu.expect(b"\r\nUNDER-VOLTAGE POWER DOWN\r\n")
        emu.send("AT")
        emu.expect_silence(0.5)  # switched off


def test_network_faults_on_triggers(tmp_path: Path) -> None:
    with TcpServer() as srv:
        path = scenario_file(tmp_path, """
[[step]]
after = "1st CDNSGIP"
do = "dns-outage 1s"

[[step]]
after = "1st CIPSTART to echo.test"
do = "refuse echo.test"

[[step]]
after = "2nd CIPSEND"
delay = "100ms"
do = "drop 0"

[[step]]
when = "state IP STATUS"
times = 1
do = "signal 11"
""")
        with Emulator("--scenario", path, "--host", "echo.test=127.0.0.1") as emu:
            emu.init()
            emu.bring_up()
            emu.command("AT+CSQ", b"+CSQ: 11,0\r\n\r\nOK\r\n")  # on reaching IP STATUS
            emu.command('AT+CDNSGIP="echo.test"')
            emu.expect(b"+CDNSGIP: 0,8\r\n")  # the outage
            time.sleep(1.0)  # the outage lasts 1 s: a time in the scenario, not luck
            emu.command('AT+CDNSGIP="echo.test"')
            emu.expect(b'+CDNSGIP: 1,"echo.test","127.0.0.1"\r\n')
            emu.command(f'AT+CIPSTART="TCP","echo.test",{srv.port}')
            emu.expect(b"CONNECT FAIL\r\n")  # refused once
            emu.command("AT+CIPCLOSE", b"\r\n")
            emu.command("AT+CIPSHUT", b"SHUT OK\r\n")
            emu.bring_up()
            emu.command(f'AT+CIPSTART="TCP","echo.test",{srv.port}')
            emu.expect(b"CONNECT OK\r\n")
            for _ in range(2):
                emu.command("AT+CIPSEND=2", b"> ")
                emu.write_all(b"hi")
                emu.expect(b"SEND OK\r\n")
            emu.expect(b"\r\nCLOSED\r\n")  # dropped 100 ms after the 2nd CIPSEND


def test_carrier_nat_forgets_idle_links(tmp_path: Path) -> None:
    path = scenario_file(tmp_path, '[[step]]\nat = "0s"\ndo = "nat-idle 500ms"\n')
    with TcpServer() as srv, Emulator("--scenario", path) as emu:
        emu.init()
        emu.bring_up()
        emu.command(f'AT+CIPSTART="TCP","127.0.0.1",{srv.port}')
        emu.expect(b"CONNECT OK\r\n")
        peer = srv.accept()
        emu.command("AT+CIPSEND=2", b"> ")
        emu.write_all(b"hi")
        emu.expect(b"SEND OK\r\n")
        peer.wait_count(2)
        time.sleep(0.8)  # idle longer than the NAT keeps the mapping (the scenario's time)
        emu.command("AT+CIPSEND=2", b"> ")
        emu.write_all(b"yo")
        got = emu.expect(re.compile(rb"CLOSED\r\n"))
        assert b"SEND OK" in got
        peer.wait_eof()  # the server saw the connection go
        assert peer.wait_count(2) == b"hi"


@pytest.mark.sim800(scenario=str(EXAMPLES / "reboot-loop.toml"), seed=3, time_scale=0.01)
def test_the_pytest_marker_takes_a_scenario(sim800: object) -> None:
    """The reboot-loop example through the plugin's fixture: the warning, the
    power-down and the module coming back, a hundred times faster."""
    port = sim800.serial(timeout=5)  # type: ignore[attr-defined]
    got = port.read_until(b"SMS Ready\r\n")
    assert b"\r\nUNDER-VOLTAGE POWER DOWN\r\n" in got
    assert got.endswith(b"SMS Ready\r\n")  # it came back by itself
    port.close()


def test_data_mode_trigger(tmp_path: Path) -> None:
    """when = "data mode": fires as the line enters transparent mode (here the
    signal drops; an incoming call or SMS would use ring/sms)."""
    path = scenario_file(tmp_path, '[[step]]\nwhen = "data mode"\ndo = "signal 3"\n')
    with TcpServer() as srv, Emulator("--scenario", path) as emu:
        emu.init()
        emu.command("AT+CIPMODE=1")
        emu.command("AT+CSQ", b"+CSQ: 24,0\r\n\r\nOK\r\n")
        emu.bring_up()
        emu.send(f'AT+CIPSTART="TCP","127.0.0.1",{srv.port}')
        emu.expect(b"\r\nCONNECT\r\n")
        emu.escape()
        emu.command("AT+CSQ", b"+CSQ: 3,0\r\n\r\nOK\r\n")


def test_ctl_takes_the_scenario_actions(tmp_path: Path) -> None:
    ctl = tmp_path / "m.ctl"

    def run(*words: str) -> str:
        proc = subprocess.run([sys.executable, "-m", "sim800emu", "ctl", str(ctl), *words],
                              capture_output=True, text=True, timeout=20)
        return (proc.stdout + proc.stderr).strip()

    with Emulator("--control", str(ctl), workdir=tmp_path / "w") as emu:
        emu.init()
        emu.bring_up()
        assert run("dns-outage", "10s") == "ok 1 modem(s)"
        emu.command('AT+CDNSGIP="echo.test"')
        emu.expect(b"+CDNSGIP: 0,8\r\n")
        assert run("slip", "+CGREG: 2") == "ok 1 modem(s)"
        assert emu.command("AT").endswith(b"\r\n+CGREG: 2\r\n\r\nOK\r\n")
        start = time.monotonic()  # the freeze starts after this, while ctl runs
        assert run("freeze", "600ms") == "ok 1 modem(s)"
        emu.command("AT")
        assert time.monotonic() - start >= 0.6
        assert run("freeze", "soon").startswith("error:")
