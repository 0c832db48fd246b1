"""Call waiting, hold and multiparty on the fake clock (manual V1.12 3.2.6
AT+CCWA, 3.2.14 AT+CHLD, 3.2.16 AT+CLCC with several calls): a second call
waits (+CCWA), AT+CHLD takes, holds, swaps, joins, splits, releases and
transfers calls, the ids and states AT+CLCC lists, and the refusals.
docs/voice-ussd.md; cmd-calls-waiting.txt.
"""

from __future__ import annotations

import pytest
from harness import ERROR, OK, Harness, block, crlf

from sim800emu.core.config import ModemConfig, Services, Timing
from sim800emu.core.events import (
    CallAnswered,
    CallEnded,
    CallerHangup,
    CallTransfer,
    FarEndAnswered,
    FarEndRinging,
    Fault,
    IncomingCall,
)

A = "+4930999"  # dialled by the module
B = "+4915112345678"  # calls in
C = "0301234567"  # calls in too
CME3 = crlf("+CME ERROR: 3")


def modem() -> Harness:
    timing = Timing(call_setup=1.0, call_answer=2.0, no_answer=6.0, ring_interval=3.0)
    h = Harness(config=ModemConfig(services=Services(dial=((("+4930111", "busy"),))),
                                   timing=timing))
    h.m.settings.echo = False
    h.at("AT+CMEE=1")
    return h


def line(idx: int, stat: int, number: str, mo: bool = False, mpty: int = 0) -> str:
    kind = 145 if number.startswith("+") else 129
    return f'+CLCC: {idx},{0 if mo else 1},{stat},0,{mpty},"{number}",{kind},""'


def in_call(h: Harness) -> None:
    """An answered outgoing call to A (id 1)."""
    assert h.at(f"ATD{A};") == OK
    h.advance(3.0)
    assert h.at("AT+CLCC") == block(line(1, 0, A, mo=True)) + OK


def waiting(h: Harness, number: str = B) -> bytes:
    return h.handle(IncomingCall(number))


# ---------------------------------------------------------------- AT+CCWA


def test_ccwa_forms() -> None:
    h = modem()
    assert h.at("AT+CCWA=?") == block("+CCWA: (0,1)") + OK
    assert h.at("AT+CCWA?") == block("+CCWA: 0") + OK
    assert h.at("AT+CCWA=1") == OK
    assert h.at("AT+CCWA?") == block("+CCWA: 1") + OK
    # the network's service: voice on from the start; mode 2 lists the active classes
    assert h.at("AT+CCWA=1,2") == block("+CCWA: 1,1") + OK
    assert h.at("AT+CCWA=1,1,3") == OK
    assert h.at("AT+CCWA=1,2") == block("+CCWA: 1,1", "+CCWA: 1,2") + OK
    assert h.at("AT+CCWA=1,0") == OK  # class omitted: 7, every class off
    assert h.at("AT+CCWA=1,2") == block("+CCWA: 0,7") + OK
    for bad in ("", "2", "0,3", "1,1,0", "1,1,8", "x", "1,1,1,1"):
        assert h.at(f"AT+CCWA={bad}") == ERROR, bad


def test_ccwa_asks_the_network() -> None:
    h = modem()
    h.handle(Fault("register", 2))
    assert h.at("AT+CCWA=1,2") == crlf("+CME ERROR: 30")
    assert h.at("AT+CCWA=1") == OK  # the URC setting alone needs no network


def test_ccwa_service_survives_a_reboot_but_n_does_not() -> None:
    h = modem()
    h.at("AT+CCWA=1,0,1")
    h.m.voice.reset()
    assert h.at("AT+CCWA?") == block("+CCWA: 0") + OK
    assert h.at("AT+CCWA=0,2") == block("+CCWA: 0,7") + OK


# ---------------------------------------------------------------- a waiting call


def test_second_call_waits_with_the_ccwa_urc() -> None:
    h = modem()
    h.at("AT+CCWA=1;+CLIP=1")
    in_call(h)
    assert waiting(h) == crlf(f'+CCWA: "{B}",145,1')  # no RING: the line is in use
    assert h.advance(10.0) == b""  # shown once
    assert h.at("AT+CLCC") == block(line(1, 0, A, mo=True), line(2, 5, B)) + OK
    assert h.at("AT+CPAS") == block("+CPAS: 4") + OK
    assert h.at("ATA") == crlf("NO CARRIER")  # ATA answers a ringing call only
    waiting(h, C)  # a third caller: busy
    assert h.at("AT+CLCC") == block(line(1, 0, A, mo=True), line(2, 5, B)) + OK


def test_waiting_without_the_urc_and_without_the_service() -> None:
    h = modem()
    in_call(h)
    assert waiting(h) == b""  # AT+CCWA=0: the call waits silently
    assert h.at("AT+CLCC") == block(line(1, 0, A, mo=True), line(2, 5, B)) + OK
    assert h.at("AT+CHLD=0") == OK  # rejected
    h.at("AT+CCWA=1,0")
    assert waiting(h) == b""  # the service is off: the caller hears busy
    assert h.at("AT+CLCC") == block(line(1, 0, A, mo=True)) + OK


def test_a_ringing_or_dialling_module_is_busy() -> None:
    h = modem()
    h.at("AT+CCWA=1")
    waiting(h)
    assert waiting(h, C) == b""
    assert h.at("AT+CLCC") == block(line(1, 4, B)) + OK
    h.at("ATH")
    h.at(f"ATD{A};")
    assert waiting(h, C) == b""
    assert h.at("AT+CLCC") == block(line(1, 2, A, mo=True)) + OK


def test_waiting_call_rings_when_left_alone() -> None:
    h = modem()
    h.at("AT+CCWA=1;+CLIP=1")
    in_call(h)
    waiting(h)
    assert h.handle(CallerHangup(number=A)) == crlf("NO CARRIER", "RING", f'+CLIP: "{B}",145,"",0,"",0')
    assert h.at("AT+CLCC") == block(line(2, 4, B)) + OK
    assert h.at("ATA") == OK
    assert h.at("AT+CLCC") == block(line(2, 0, B)) + OK


def test_caller_of_the_waiting_call_gives_up() -> None:
    h = modem()
    in_call(h)
    waiting(h)
    assert h.handle(CallerHangup()) == crlf("NO CARRIER")  # the newest call
    assert h.at("AT+CLCC") == block(line(1, 0, A, mo=True)) + OK


# ---------------------------------------------------------------- AT+CHLD


def test_chld_test_form_and_bad_values() -> None:
    h = modem()
    assert h.at("AT+CHLD=?") == block("+CHLD: (0,1,1x,2,2x,3,4)") + OK
    for bad in ("", "5", "10", "18", "28", "30", "x", "1,1", '"1"', "-1", "111"):
        assert h.at(f"AT+CHLD={bad}") == ERROR, bad
    assert h.at("AT+CHLD") == ERROR
    assert h.at("AT+CHLD?") == ERROR
    for n in ("0", "1", "2", "3", "4", "11", "21"):
        assert h.at(f"AT+CHLD={n}") == CME3, n  # no call to act on


def test_chld_2_holds_the_active_call_and_takes_the_waiting_one() -> None:
    h = modem()
    in_call(h)
    waiting(h)
    assert h.at("AT+CHLD=2") == OK
    assert CallAnswered(0) in h.requests
    assert h.at("AT+CLCC") == block(line(1, 1, A, mo=True), line(2, 0, B)) + OK
    assert h.at("AT+CHLD=2") == OK  # swap
    assert h.at("AT+CLCC") == block(line(1, 0, A, mo=True), line(2, 1, B)) + OK
    assert h.at("AT+VTS=1") == OK  # an active call
    assert h.at("AT+CHLD=3") == OK  # join: the multiparty call
    assert h.at("AT+CLCC") == block(line(1, 0, A, mo=True, mpty=1), line(2, 0, B, mpty=1)) + OK
    assert h.at("AT+CHLD=22") == OK  # a private call with 2, 1 on hold
    assert h.at("AT+CLCC") == block(line(1, 1, A, mo=True), line(2, 0, B)) + OK
    assert h.at("AT+CHLD=21") == OK  # take back the held call 1
    assert h.at("AT+CLCC") == block(line(1, 0, A, mo=True), line(2, 1, B)) + OK
    assert h.at("AT+CHLD=0") == OK  # release the held calls
    assert h.at("AT+CLCC") == block(line(1, 0, A, mo=True)) + OK
    assert h.at("AT+CHLD=2") == OK  # hold the only call
    assert h.at("AT+CLCC") == block(line(1, 1, A, mo=True)) + OK
    assert h.at("AT+VTS=1") == CME3  # nothing active
    assert h.at("AT+CHLD=2") == OK  # and take it back
    assert h.at("AT+CLCC") == block(line(1, 0, A, mo=True)) + OK


def test_chld_1_releases_the_active_call_and_takes_the_waiting_one() -> None:
    h = modem()
    in_call(h)
    waiting(h)
    assert h.at("AT+CHLD=1") == OK  # no NO CARRIER for a call this side ends
    assert CallEnded(1) in h.requests and CallAnswered(0) in h.requests
    assert h.at("AT+CLCC") == block(line(2, 0, B)) + OK
    assert h.at("AT+CHLD=1") == OK  # the last active call: released
    assert h.at("AT+CLCC") == OK
    assert h.at("AT+CEER") == block("+CEER: normal call clearing") + OK


def test_chld_1_takes_back_the_held_call() -> None:
    h = modem()
    in_call(h)
    h.at("AT+CHLD=2")
    assert h.at("AT+CHLD=1") == OK
    assert h.at("AT+CLCC") == block(line(1, 0, A, mo=True)) + OK


def test_chld_0_rejects_the_waiting_call_as_busy() -> None:
    h = modem()
    in_call(h)
    h.handle(IncomingCall(B, -3))  # put through by the call switch
    assert h.at("AT+CHLD=0") == OK
    assert CallEnded(-3, busy=True) in h.requests
    assert h.at("AT+CLCC") == block(line(1, 0, A, mo=True)) + OK


def test_chld_1x_releases_one_call() -> None:
    h = modem()
    in_call(h)
    waiting(h)
    assert h.at("AT+CHLD=12") == OK  # the waiting call
    assert h.at("AT+CLCC") == block(line(1, 0, A, mo=True)) + OK
    assert h.at("AT+CHLD=12") == CME3  # no call 2 any more
    assert h.at("AT+CHLD=11") == OK
    assert h.at("AT+CLCC") == OK


def test_second_outgoing_call_beside_a_held_call() -> None:
    h = modem()
    in_call(h)
    assert h.at("ATD+4930555;") == CME3  # an active call: hold it first
    assert h.at("AT+CHLD=2") == OK
    assert h.at("ATD+4930555;") == OK
    assert h.at("AT+CLCC") == block(line(1, 1, A, mo=True), line(2, 2, "+4930555", mo=True)) + OK
    assert h.at("AT+CHLD=2") == CME3  # not while a call is being set up
    h.advance(3.0)
    assert h.at("AT+CLCC") == block(line(1, 1, A, mo=True), line(2, 0, "+4930555", mo=True)) + OK
    assert h.at("AT+CHLD=3") == OK
    assert h.at("AT+CLCC") == block(
        line(1, 0, A, mo=True, mpty=1), line(2, 0, "+4930555", mo=True, mpty=1)) + OK
    # a call waiting beside the multiparty call: CHLD=2 holds the conference
    waiting(h)
    assert h.at("AT+CHLD=2") == OK
    assert h.at("AT+CLCC") == block(
        line(1, 1, A, mo=True, mpty=1), line(2, 1, "+4930555", mo=True, mpty=1), line(3, 0, B)) + OK
    assert h.at("AT+CHLD=21") == CME3  # not out of a held multiparty call
    waiting(h, C)  # held and active calls: it may still wait
    assert h.at("AT+CHLD=2") == CME3  # no room for a second held call
    assert h.at("AT+CHLD=1") == OK  # the active call 3 goes, C (4) is taken
    assert h.at("AT+CLCC") == block(
        line(1, 1, A, mo=True, mpty=1), line(2, 1, "+4930555", mo=True, mpty=1), line(4, 0, C)) + OK


def test_busy_second_call_ends_beside_the_held_call() -> None:
    h = modem()
    in_call(h)
    h.at("AT+CHLD=2")
    assert h.at("ATD+4930111;") == OK
    assert h.advance(1.0) == crlf("BUSY")
    assert h.at("AT+CLCC") == block(line(1, 1, A, mo=True)) + OK


def test_chld_4_transfers_and_leaves_both_calls() -> None:
    h = modem()
    in_call(h)
    h.handle(IncomingCall(B, -5))
    h.at("AT+CHLD=2")
    assert h.at("AT+CHLD=4") == OK
    assert CallTransfer(-5, 1) in h.requests
    assert not any(isinstance(r, CallEnded) for r in h.requests)  # the far ends talk on
    assert h.at("AT+CLCC") == OK
    assert h.at("AT+CHLD=4") == CME3


def test_chld_refused_while_ringing_or_dialling() -> None:
    h = modem()
    waiting(h)
    for n in ("0", "1", "2", "3", "4"):
        assert h.at(f"AT+CHLD={n}") == CME3, n
    assert h.at("AT+CHLD=11") == OK  # releasing the ringing call is allowed
    assert h.at("AT+CLCC") == OK


def test_multiparty_has_at_most_five_parties() -> None:
    h = modem()
    in_call(h)
    for i in range(2, 7):
        h.at("AT+CHLD=2")
        assert h.at(f"ATD+49300{i};") == OK
        h.advance(3.0)
        result = h.at("AT+CHLD=3")
        assert result == (OK if i <= 5 else CME3), i
    assert len(h.m.voice.calls) == 6


@pytest.mark.parametrize("cvhu", [0, 1])
def test_ath_and_chup_end_every_call(cvhu: int) -> None:
    h = modem()
    h.at(f"AT+CVHU={cvhu}")
    in_call(h)
    waiting(h)
    h.at("AT+CHLD=2")
    waiting(h, C)
    assert h.at("ATH") == OK
    assert len(h.m.voice.calls) == (3 if cvhu else 0)
    assert h.at("AT+CHUP") == OK
    assert h.at("AT+CLCC") == OK


def test_clcc_1_lists_every_call_after_each_change() -> None:
    h = modem()
    in_call(h)
    h.at("AT+CLCC=1")
    assert waiting(h) == crlf(line(1, 0, A, mo=True), line(2, 5, B))
    assert h.at("AT+CHLD=2") == OK + crlf(line(1, 1, A, mo=True), line(2, 0, B))
    assert h.handle(CallerHangup(number=A)) == crlf(
        line(1, 6, A, mo=True), line(2, 0, B), "NO CARRIER")


def test_switched_waiting_call_answered_and_hung_up_by_ref() -> None:
    h = modem()
    h.at("AT+CCWA=1")
    in_call(h)
    assert h.handle(IncomingCall("+8613800000003", -2)) == crlf('+CCWA: "+8613800000003",145,1')
    h.at("AT+CHLD=2")
    assert CallAnswered(-2) in h.requests
    assert h.handle(CallerHangup(-2)) == crlf("NO CARRIER")
    assert h.at("AT+CLCC") == block(line(1, 1, A, mo=True)) + OK


def test_busy_modem_refuses_a_switched_call() -> None:
    h = modem()
    h.handle(IncomingCall(B))
    h.handle(IncomingCall("+8613800000003", -4))
    assert CallEnded(-4, busy=True) in h.requests


def test_late_switch_answer_for_a_call_already_ended() -> None:
    h = modem()
    h.at("ATD+8613800000002;")
    h.at("ATH")
    h.handle(FarEndRinging(1))  # the switch answers after ATH: tell it the call is over
    assert h.requests[-1] == CallEnded(1)
    assert h.handle(FarEndAnswered(1)) == b""
    assert h.at("AT+CLCC") == OK


def test_reboot_drops_switched_calls_with_word_to_the_switch() -> None:
    h = modem()
    h.handle(IncomingCall("+8613800000003", -9))
    h.at("ATA")
    before = len(h.requests)
    h.at("AT+CFUN=1,1")
    assert CallEnded(-9) in h.requests[before:]
    h.advance(10.0)
    assert h.at("AT+CLCC").endswith(b"\r\nOK\r\n")  # echo is on again after the reboot
    assert h.m.voice.calls == []
