"""python-gsmmodem-new (PyPI, module ``gsmmodem``) against the real pty:
``sendUssd()`` returns the text configured with ``--ussd`` (and a menu
session continues with ``Ussd.reply``), an incoming call made with
``ctl ring`` reaches ``incomingCallCallbackFunc`` with the caller's number
(RING and +CLIP in one notification, +CRING: VOICE after its AT+CRC=1), is
answered (ATA) and hung up (ATH); a call the caller ends gives NO CARRIER.

``test_gsmmodem_connect_ussd_and_calls`` is the issue's acceptance test and
goes through ``GsmModem.connect()``; ``test_gsmmodem_ussd_and_calls_after_setup``
drives the same library code after doing only the call and USSD part of
connect() (ATE0, AT+CMEE=1, AT+CLIP=1, AT+CRC=1), so that this family is
checked whatever the rest of connect() needs.
"""

from __future__ import annotations

import queue
import time
from typing import Any

import pytest

gsmmodem = pytest.importorskip("gsmmodem.modem")

CALLER = "+4915112345678"
USSD_ARGS = (
    "--ussd", "*100#=Balance: 5.00 EUR, valid until 31.12.",
    "--ussd", "*111#=1 Balance\n2 Bonus",
    "--ussd", "*111#>2=Bonus: 100 MB",
)


def _wait(predicate: Any, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return bool(predicate())


def _exercise(sim800: Any, modem: Any, calls: queue.Queue[Any]) -> None:
    # USSD: a plain reply, then a menu session
    reply = modem.sendUssd("*100#")
    assert reply.message == "Balance: 5.00 EUR, valid until 31.12."
    assert reply.sessionActive is False
    menu = modem.sendUssd("*111#")
    assert menu.sessionActive is True
    assert menu.message == "1 Balance\n2 Bonus"
    bonus = menu.reply("2")
    assert bonus.message == "Bonus: 100 MB"
    assert bonus.sessionActive is False

    # an incoming call, answered and hung up by the library
    sim800.ring(CALLER)
    call = calls.get(timeout=10)
    assert call.number == CALLER
    assert call.ton == "145"
    assert call.type == 0  # +CRING: VOICE
    call.answer()
    assert modem.write("AT+CLCC")[0] == f'+CLCC: 1,1,0,0,0,"{CALLER}",145,""'
    call.hangup()
    assert modem.write("AT+CLCC") == ["OK"]
    assert modem.activeCalls == {}

    # a call the caller ends before it is answered
    sim800.ring("+4930901820")
    second = calls.get(timeout=10)
    while second.number == CALLER:  # a repeated RING of the first call, if the host was slow
        second = calls.get(timeout=10)
    assert second.number == "+4930901820"
    sim800.hangup()
    assert _wait(lambda: modem.write("AT+CLCC") == ["OK"])


def _open(sim800: Any, calls: queue.Queue[Any]) -> Any:
    return gsmmodem.GsmModem(sim800.port, 115200, incomingCallCallbackFunc=calls.put)


@pytest.mark.timeout(90)
@pytest.mark.sim800(*USSD_ARGS)
def test_gsmmodem_connect_ussd_and_calls(sim800: Any) -> None:
    calls: queue.Queue[Any] = queue.Queue()
    modem = _open(sim800, calls)
    try:
        modem.connect()
        _exercise(sim800, modem, calls)
    finally:
        modem.close()


@pytest.mark.timeout(90)
@pytest.mark.sim800(*USSD_ARGS)
def test_gsmmodem_ussd_and_calls_after_setup(sim800: Any) -> None:
    calls: queue.Queue[Any] = queue.Queue()
    modem = _open(sim800, calls)
    from gsmmodem.serial_comms import SerialComms

    SerialComms.connect(modem)
    try:
        for command in ("ATE0", "AT+CMEE=1", "AT+CLIP=1", "AT+CRC=1", "AT+CVHU=0"):
            modem.write(command)
        modem._callingLineIdentification = True
        modem._extendedIncomingCallIndication = True
        _exercise(sim800, modem, calls)
    finally:
        modem.close()
