"""Nothing a command left pending survives a power loss or a reboot: a
``SEND OK`` still waiting on its simulated delay (``send_ok``) is never
printed after the boot URCs (the module that printed it lost power)."""

from __future__ import annotations

from harness import OK, Harness

from sim800emu.core.config import ModemConfig, Timing
from sim800emu.core.events import Fault


def sending() -> Harness:
    h = Harness(ModemConfig(timing=Timing(send_ok=2.0)))
    h.at("AT+CSTT")
    h.at("AT+CIICR")
    h.run_timers()
    h.at("AT+CIFSR")
    h.feed(b'AT+CIPSTART="TCP","127.0.0.1",80\r')
    h.connected()
    h.take()
    h.feed(b"AT+CIPSEND=2\r")
    h.feed(b"hi")
    assert h.sent(1) == b"hi"
    assert b"SEND OK" not in h.take()  # it waits for send_ok
    return h


def test_send_ok_waiting_is_lost_with_the_power() -> None:
    h = sending()
    h.handle(Fault("power-off"))
    h.advance(5.0)  # the delay runs out while the module is off
    h.handle(Fault("power-on"))
    out = h.run_timers()
    assert b"SEND OK" not in out
    assert h.feed(b"AT\r").endswith(OK)


def test_send_ok_waiting_is_lost_when_the_power_comes_back_at_once() -> None:
    h = sending()
    h.handle(Fault("power-off"))
    h.handle(Fault("power-on"))  # back before the delay ran out
    out = h.run_timers()
    assert b"SEND OK" not in out
    assert h.feed(b"AT\r").endswith(OK)
