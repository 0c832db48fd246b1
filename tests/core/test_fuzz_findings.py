"""Regressions for what the core fuzzer found in the line discipline
(docs/fuzzing.md); the inputs themselves are replayed by
tests/integration/test_fuzz_smoke.py."""

from __future__ import annotations

from harness import OK, Harness

from sim800emu.core.events import Fault


def test_power_loss_while_a_command_is_pending_leaves_the_line_usable() -> None:
    """ATD with AT+COLP=1 waits for the far end; the supply fails meanwhile.
    After power-on the modem answers again (it stayed deaf for ever: the
    pending command's busy flag survived the reboot)."""
    h = Harness()
    assert h.at("AT+COLP=1") == OK
    h.at("ATD+4930999;")
    assert h.m.line.busy  # the dial waits for the far end
    h.handle(Fault("power-off"))
    assert h.at("AT") == b""  # powered down: silence, as before
    h.handle(Fault("power-on"))
    h.run_timers()
    h.take()
    h.m.settings.echo = False  # the boot brought the saved profile back (echo on)
    assert h.at("AT") == OK


def test_cpuc_currency_that_is_not_hex_under_ucs2_is_an_error() -> None:
    """AT+CPUC's currency under AT+CSCS="UCS2" must be hex; "EUR" raised out
    of the dispatcher (found by the core fuzzer, 2026-12-07)."""
    h = Harness()
    assert h.at('AT+CMEE=2;+CSCS="UCS2"') == OK
    assert h.at('AT+CPUC="EUR","0.10"') == b"\r\n+CME ERROR: invalid characters in text string\r\n"
    assert h.at("AT") == OK
