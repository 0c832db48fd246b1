"""--ussd / --dial (options and profile lists) and the control channel's
call commands (ring, hangup, dtmf) end to end through the pty.
docs/voice-ussd.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cli_helpers import assert_one_line_error, example_profile_defaults, serve_args

from sim800emu.cli import build_modem_config, build_parser
from sim800emu.control import parse
from sim800emu.core.events import CallerDtmf, CallerHangup, IncomingCall


def test_options_fill_the_services() -> None:
    parser = build_parser()
    args = parser.parse_args([
        "serve", "--ussd", "*100#=Balance 5", "--ussd", "*111#>1=a=b\\nc",
        "--dial", "+49 30,111=busy", "--dial", "0301=no-carrier",
    ])  # fmt: skip
    services = build_modem_config(args).services
    assert services.ussd == (("*100#", "Balance 5"), ("*111#>1", "a=b\nc"))
    assert services.dial == (("+4930111", "busy"), ("0301", "no-carrier"))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--ussd", "*100#"], "--ussd: '*100#': a USSD entry is CODE=REPLY"),
        (["--ussd", "=x"], "--ussd: '=x': a USSD entry is CODE=REPLY"),
        (["--ussd", '*1#=say "hi"'], "the reply must be printable text"),
        (["--dial", "123=maybe"], "--dial: '123=maybe': a dial entry is NUMBER=OUTCOME"),
        (["--dial", "xyz=busy"], "--dial: 'xyz=busy'"),
    ],
)
def test_bad_entries_are_one_line_errors(args: list[str], message: str) -> None:
    assert_one_line_error(args, message)


def test_profile_lists(tmp_path: Path) -> None:
    profile = tmp_path / "p.toml"
    profile.write_text('ussd = ["*100#=Balance 5", "*101#=Bonus"]\ndial = ["112=busy"]\n')
    args = serve_args(profile, "--ussd", "*102#=More")
    assert [code for code, _ in args.ussd] == ["*100#", "*101#", "*102#"]
    assert args.dial == [("112", "busy")]


def test_example_profile_has_calls_and_ussd() -> None:
    defaults = example_profile_defaults()
    assert ("*111#", "1 Balance\n2 Bonus") in defaults["ussd"]  # type: ignore[operator]


def test_control_parse() -> None:
    assert parse("ring +4915112345678") == IncomingCall("+4915112345678")
    assert parse("ring 0301234") == IncomingCall("0301234")
    assert parse("hangup") == CallerHangup()
    assert parse("dtmf 12*#A") == CallerDtmf("12*#A")
    for bad in ("ring", "ring abc", "ring 1 2", "hangup now", "dtmf", "dtmf E"):
        with pytest.raises(ValueError):
            parse(bad)


@pytest.mark.timeout(60)
@pytest.mark.sim800("--dial", "+4930111=busy")
def test_calls_through_the_pty_and_the_plugin(sim800: Any) -> None:
    with sim800.serial(timeout=10) as port:

        def command(line: bytes, until: bytes = b"OK\r\n") -> bytes:
            port.write(line + b"\r")
            return bytes(port.read_until(until))

        assert command(b"ATE0").endswith(b"OK\r\n")
        assert command(b"AT+CLIP=1;+DDET=1") == b"\r\nOK\r\n"
        sim800.ring("+4915112345678")
        assert port.read_until(b',0,"",0\r\n') == (
            b'\r\nRING\r\n\r\n+CLIP: "+4915112345678",145,"",0,"",0\r\n'
        )
        assert command(b"ATA") == b"\r\nOK\r\n"
        sim800.dtmf("42")
        assert port.read_until(b"+DTMF: 2\r\n") == b"\r\n+DTMF: 4\r\n\r\n+DTMF: 2\r\n"
        sim800.hangup()
        assert port.read_until(b"NO CARRIER\r\n") == b"\r\nNO CARRIER\r\n"
        assert command(b"ATD+4930111;") == b"\r\nOK\r\n"
        assert port.read_until(b"BUSY\r\n") == b"\r\nBUSY\r\n"
        assert command(b"AT+CEER") == b"\r\n+CEER: user busy\r\n\r\nOK\r\n"


def test_in_process_port_plays_the_far_end() -> None:
    import serial

    from sim800emu.transports import register_url_handler

    register_url_handler()
    port = serial.serial_for_url("sim800://?dns-offline&ussd=*100%23=Balance 5", timeout=5)
    try:
        port.write(b"ATE0\r")
        port.read_until(b"OK\r\n")
        port.write(b"AT+CLIP=1\r")
        assert port.read_until(b"OK\r\n") == b"\r\nOK\r\n"
        assert port.ri is False
        port.ring("+4915112345678")
        assert port.read_until(b',0,"",0\r\n') == (
            b'\r\nRING\r\n\r\n+CLIP: "+4915112345678",145,"",0,"",0\r\n'
        )
        assert port.ri is True
        port.hangup()
        assert port.read_until(b"NO CARRIER\r\n") == b"\r\nNO CARRIER\r\n"
        assert port.ri is False
        port.write(b'AT+CUSD=1,"*100#"\r')
        assert port.read_until(b",15\r\n") == b'\r\nOK\r\n\r\n+CUSD: 0,"Balance 5",15\r\n'
    finally:
        port.close()


def test_in_process_port_plays_a_waiting_call_and_hangs_up_by_number() -> None:
    """Call waiting on the in-process port (docs/voice-ussd.md): a second
    ring during a call is +CCWA, ``port.hangup(number)`` ends that caller's
    call only, and the waiting call left alone rings (RI on again)."""
    import serial

    from sim800emu.transports import register_url_handler

    register_url_handler()
    port = serial.serial_for_url("sim800://?dns-offline", timeout=5)
    try:
        port.write(b"ATE0\r")
        port.read_until(b"OK\r\n")
        port.write(b"AT+CCWA=1\r")
        assert port.read_until(b"OK\r\n") == b"\r\nOK\r\n"
        port.ring("+4915112345678")
        assert port.read_until(b"RING\r\n") == b"\r\nRING\r\n"
        port.write(b"ATA\r")
        assert port.read_until(b"OK\r\n") == b"\r\nOK\r\n"
        port.ring("0301234567")
        assert port.read_until(b",1\r\n") == b'\r\n+CCWA: "0301234567",129,1\r\n'
        assert port.ri is False  # a waiting call does not ring
        port.hangup("+4915112345678")
        assert port.read_until(b"RING\r\n") == b"\r\nNO CARRIER\r\n\r\nRING\r\n"
        assert port.ri is True
        port.write(b"AT+CLCC\r")
        assert port.read_until(b"OK\r\n") == b'\r\n+CLCC: 2,1,4,0,0,"0301234567",129,""\r\n\r\nOK\r\n'
    finally:
        port.close()


@pytest.mark.timeout(60)
def test_plugin_hangs_up_one_of_two_calls(sim800: Any) -> None:
    with sim800.serial(timeout=10) as port:

        def command(line: bytes, until: bytes = b"OK\r\n") -> bytes:
            port.write(line + b"\r")
            return bytes(port.read_until(until))

        assert command(b"ATE0").endswith(b"OK\r\n")
        sim800.ring("+4915112345678")
        assert port.read_until(b"RING\r\n") == b"\r\nRING\r\n"
        assert command(b"ATA") == b"\r\nOK\r\n"
        sim800.ring("+4930777")
        assert command(b"AT+CHLD=2") == b"\r\nOK\r\n"
        sim800.hangup("+4930777")
        assert port.read_until(b"NO CARRIER\r\n") == b"\r\nNO CARRIER\r\n"
        assert command(b"AT+CLCC") == b'\r\n+CLCC: 1,1,1,0,0,"+4915112345678",145,""\r\n\r\nOK\r\n'
