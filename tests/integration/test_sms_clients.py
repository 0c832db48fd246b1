"""Acceptance (issue 11): real SMS clients from PyPI against the real pty.

* python-gsmmodem-new: ``GsmModem.connect()`` (its whole start-up sequence,
  PDU mode), ``sendSms()`` (AT+CMGS=<length> with a PDU; the message lands
  in the SMS centre's outbox) and an incoming message sent with ``ctl sms``
  reaching its ``smsReceivedCallback`` (+CMTI, AT+CMGR in PDU mode, AT+CMGD);
  the same in its text mode (AT+CMGF=1).
* Adafruit CircuitPython FONA: ``send_sms``, ``num_sms``, ``read_sms`` and
  ``delete_sms`` (text mode, AT+CSDH=1, the +CMGR length field).
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from test_fona_acceptance import ResetPin, SerialUART, _import_fona

# The SMS calls only wait for short answers; the library's fixed polling
# waits are shortened (no byte on the line changes). The download test in
# test_fona_acceptance.py runs at the library's real pace.
FONA_TIME_SCALE = float(os.environ.get("SIM800EMU_FONA_TIME_SCALE", "0.25"))


class _ScaledTime:
    """The ``time`` module as ``adafruit_fona.adafruit_fona`` sees it: sleeps scaled."""

    def __init__(self, scale: float) -> None:
        self._scale = scale

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds * self._scale)

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)

MSISDN = "+8613800000001"  # the emulator's default --msisdn


def _wait(cond: Any, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.02)
    return bool(cond())


@pytest.mark.timeout(60)
def test_python_gsmmodem_connect_send_and_receive(sim800_factory: Any, tmp_path: Path) -> None:
    from gsmmodem.modem import GsmModem

    outbox = tmp_path / "outbox.jsonl"
    emu = sim800_factory("--sms-outbox", str(outbox))
    received: list[Any] = []
    arrived = threading.Event()

    def on_sms(sms: Any) -> None:
        received.append(sms)
        arrived.set()

    modem = GsmModem(emu.port, 115200, smsReceivedCallbackFunc=on_sms)
    try:
        modem.connect()
        assert modem.smsTextMode is False  # PDU mode, the library's default
        sent = modem.sendSms("+8613912345678", "Hello from python-gsmmodem")
        assert sent.reference == 0
        [line] = outbox.read_text(encoding="utf-8").splitlines()
        entry = json.loads(line)
        assert entry["from"] == MSISDN and entry["to"] == "+8613912345678"
        assert entry["text"] == "Hello from python-gsmmodem"
        assert (entry["encoding"], entry["parts"], entry["reference"]) == ("gsm7", 1, 0)
        assert emu.outbox() == [entry]

        emu.send_sms("+8613900000009", "Incoming: 5 €, naïve ünïcode")
        assert arrived.wait(10), emu.stderr()
        sms = received[0]
        assert sms.number == "+8613900000009"
        assert sms.text == "Incoming: 5 €, naïve ünïcode"
        # the callback's message was deleted by the library (AT+CMGD=<index>,0)
        # from its notification thread: let it finish before asking ourselves
        assert _wait(_notifications_done)
        assert _stored(modem) == 0
    finally:
        modem.close()


@pytest.mark.timeout(60)
def test_python_gsmmodem_text_mode(sim800: Any) -> None:
    from gsmmodem.modem import GsmModem

    received: list[Any] = []
    arrived = threading.Event()

    def on_sms(sms: Any) -> None:
        received.append(sms)
        arrived.set()

    modem = GsmModem(sim800.port, 115200, smsReceivedCallbackFunc=on_sms)
    try:
        modem.connect()
        modem.smsTextMode = True  # AT+CMGF=1: AT+CMGS="<number>", the text, Ctrl-Z
        modem.sendSms("+8613912345678", "Text mode hello")
        assert sim800.outbox()[-1]["text"] == "Text mode hello"
        sim800.send_sms("+8613900000009", "Incoming in text mode")
        assert arrived.wait(10), sim800.stderr()
        sms = received[0]  # read with its text-mode +CMGR regex
        assert (sms.number, sms.text) == ("+8613900000009", "Incoming in text mode")
        assert _wait(_notifications_done)  # its AT+CMGD before the port closes
    finally:
        modem.close()


def _notifications_done() -> bool:
    return not any("HandleModemNotification" in t.name for t in threading.enumerate())


def _stored(modem: Any) -> int:
    line = next(x for x in modem.write("AT+CPMS?") if x.startswith("+CPMS:"))
    return int(line.split(",")[1])


class _LineBuffer(bytes):
    """The FONA's line buffer as CircuitPython treats it: ``send_sms`` asks
    ``"+CMGS" in self._buf`` with a ``str``, which CPython's ``bytes``
    refuses (TypeError) and CircuitPython's answers."""

    def __contains__(self, item: object) -> bool:
        if isinstance(item, str):
            item = item.encode()
        return bytes.__contains__(self, item)  # type: ignore[operator]


@pytest.mark.timeout(90)
def test_adafruit_fona_sms(sim800: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    fona_mod, _network, _sockets = _import_fona()
    monkeypatch.setattr(fona_mod, "time", _ScaledTime(FONA_TIME_SCALE))
    read_line = fona_mod.FONA._read_line

    def read_line_circuitpython(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = read_line(self, *args, **kwargs)
        if type(self._buf) is bytes:
            self._buf = _LineBuffer(self._buf)
        return result

    monkeypatch.setattr(fona_mod.FONA, "_read_line", read_line_circuitpython)
    port = sim800.serial(timeout=5.0)
    fona = fona_mod.FONA(SerialUART(port), ResetPin())

    assert fona.send_sms(8613912345678, "Alert: door open")
    [entry] = sim800.outbox()
    assert (entry["to"], entry["text"]) == ("+8613912345678", "Alert: door open")

    # Stored quietly (AT+CNMI=2,0): a +CMTI would land in the library's next reply.
    fona.enable_sms_notification = False
    assert fona.num_sms() == 0
    sim800.send_sms("+447700900123", "Temperature 21C")
    sim800.send_sms("+447700900124", "Second message")
    assert _wait(lambda: fona.num_sms() == 2)
    assert fona.read_sms(1) == ("+447700900123", "Temperature 21C")
    assert fona.read_sms(2) == ("+447700900124", "Second message")
    assert fona.delete_sms(1)
    assert fona.num_sms() == 1
    assert fona.delete_all_sms()
    assert fona.num_sms() == 0

    # With notifications (AT+CNMI=2,1) the library polls for +CMTI, reads and deletes.
    fona.enable_sms_notification = True
    sim800.send_sms("+447700900125", "Notified")
    got: list[Any] = []
    assert _wait(lambda: got.append(fona.receive_sms()) or got[-1] != (False, False))
    assert got[-1] == ("+447700900125", "Notified")
    assert fona.num_sms() == 0
