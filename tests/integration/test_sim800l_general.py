"""Acceptance (issue 11): the PyPI client sim800l-gsm-module against the
real pty, for the general command set: ``setup()`` (its start-up line
``AT+CLIP=1;+CMGF=0;+CLTS=1;+CSCLK=0;+CSCS="HEX"``) returns True, and
the SIM, MSISDN, date, temperature, operator, signal, battery, identity
and net-light calls parse the emulator's answers; ``send_sms`` (PDU mode)
reaches the SMS centre's outbox and ``read_sms`` reads a message sent with
``ctl sms``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

MSISDN = "+8613800000001"  # the emulator's default --msisdn
SKIP = "pip install --no-build-isolation sim800l-gsm-module (make does)"


@pytest.fixture
def module(sim800_factory: Any) -> Iterator[Any]:
    sim800l = pytest.importorskip("sim800l", reason=SKIP)
    emu = sim800_factory("--timezone", "+08:00")
    gsm = sim800l.SIM800L(emu.port, baudrate=115200, timeout=3.0)
    assert gsm.ser is not None
    try:
        yield gsm
    finally:
        gsm.ser.close()


@pytest.mark.timeout(60)
def test_setup_and_the_general_calls(module: Any) -> None:
    gsm = module
    assert gsm.setup() is True  # PDU mode: CLIP, CMGF=0, CLTS, CSCLK, CSCS="HEX"
    assert gsm.check_sim() is True  # AT+CSMINS?
    assert gsm.get_temperature() == "25.0"  # AT+CMTE?
    assert gsm.get_msisdn() == MSISDN  # AT+CNUM with the alpha in HEX
    date = gsm.get_date()  # AT+CCLK?
    assert isinstance(date, dt.datetime)
    assert gsm.is_registered() is True  # AT+CREG?
    assert gsm.get_operator() == "China mobile"  # the library capitalizes
    assert gsm.get_service_provider() == "CHINA MOBILE"  # AT+CSPN?
    assert gsm.get_signal_strength() > 0  # AT+CSQ
    assert gsm.get_battery_voltage() == pytest.approx(4.087)  # AT+CBC
    assert gsm.get_ccid() == "89445018101802445400"
    assert gsm.get_imsi() == "460001234567890"
    assert gsm.get_serial_number() == "868183038764457"
    assert gsm.get_netlight() == 1  # AT+CNETLIGHT?
    assert gsm.get_flash_id().startswith("Device Name:")  # AT+CDEVICE?


@pytest.mark.timeout(60)
def test_setup_in_hex_mode_without_the_net_light(sim800_factory: Any) -> None:
    # HEX mode: AT+CLIP=1;+CMGF=1;+CLTS=1;+CSCLK=0;+CSCS="HEX", after AT+CNETLIGHT=0
    sim800l = pytest.importorskip("sim800l", reason=SKIP)
    emu = sim800_factory()
    gsm = sim800l.SIM800L(emu.port, baudrate=115200, timeout=3.0, mode="HEX")
    try:
        assert gsm.setup(disable_netlight=True) is True
        assert gsm.get_netlight() == 0
        assert gsm.get_msisdn() == MSISDN
        assert gsm.get_operator() == "China mobile"
    finally:
        gsm.ser.close()


@pytest.mark.timeout(60)
def test_sms_send_and_read(sim800_factory: Any, tmp_path: Any) -> None:
    # the library's SMS calls in PDU mode, through the emulator's SMS centre
    sim800l = pytest.importorskip("sim800l", reason=SKIP)
    outbox = tmp_path / "outbox.jsonl"
    emu = sim800_factory("--sms-outbox", str(outbox))
    gsm = sim800l.SIM800L(emu.port, baudrate=115200, timeout=3.0)
    try:
        assert gsm.setup() is True
        assert gsm.send_sms("+8613912345678", "Hello from the library") is True
        sent = emu.outbox()
        assert [(m["to"], m["text"]) for m in sent] == [("+8613912345678", "Hello from the library")]
        assert emu.send_sms("+8613900000009", "Reply").startswith("ok")
        message = gsm.read_sms(1)  # stored (SM 1) before ctl answered
        assert message is not None
        assert message[0] == "+8613900000009" and message[-1] == "Reply"
    finally:
        gsm.ser.close()
