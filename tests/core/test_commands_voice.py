"""Voice calls without audio on the fake clock (manual V1.12 2.2.2 ATA,
2.2.3 ATD, 2.2.8 ATH, 3.2.7 CEER, 3.2.16 CLCC, 3.2.18 CLIP, 3.2.21 COLP,
3.2.31 CRC, 3.2.37 VTS, 6.2.14 CDRIND, 6.2.29 MORING, 15.2.1 DDET):
outgoing calls per --dial outcome, incoming calls (ctl ring), hang-ups from
either side, the settings' forms and bad input. docs/voice-ussd.md;
cmd-calls.txt, cmd-calls-forms.txt.
"""

from __future__ import annotations

import pytest
from harness import ERROR, OK, Harness, block, crlf

from sim800emu.core.config import ModemConfig, Services, Timing
from sim800emu.core.events import CallerDtmf, CallerHangup, Fault, IncomingCall

DIAL = (("+4930111", "busy"), ("+4930222", "no-answer"), ("+4930333", "no-carrier"))
CALLER = "+4915112345678"
RING_CLIP = crlf("RING", f'+CLIP: "{CALLER}",145,"",0,"",0')


def modem(echo: bool = False) -> Harness:
    timing = Timing(call_setup=1.0, call_answer=2.0, no_answer=6.0, ring_interval=3.0)
    return Harness(config=ModemConfig(services=Services(dial=DIAL), timing=timing), echo=echo)


def clcc(stat: int, number: str = CALLER, mo: bool = False) -> str:
    kind = 145 if number.startswith("+") else 129
    return f'+CLCC: 1,{0 if mo else 1},{stat},0,0,"{number}",{kind},""'


# ---------------------------------------------------------------- outgoing


def test_dial_answered_with_colp_0_ok_at_once() -> None:
    h = modem()
    assert h.at("ATD+4930999;") == OK
    assert h.at("AT+CLCC") == block(clcc(2, "+4930999", mo=True)) + OK
    assert h.advance(1.0) == b""
    assert h.at("AT+CLCC") == block(clcc(3, "+4930999", mo=True)) + OK
    assert h.advance(2.0) == b""  # answered: nothing printed with COLP=0, MORING=0
    assert h.at("AT+CLCC") == block(clcc(0, "+4930999", mo=True)) + OK
    assert h.at("ATH") == OK
    assert h.at("AT+CLCC") == OK
    assert h.at("AT+CEER") == block("+CEER: normal call clearing") + OK


def test_dial_with_moring_shows_mo_ring_and_mo_connected() -> None:
    h = modem()
    assert h.at("AT+MORING=1") == OK
    assert h.at("ATD0301234;") == OK
    assert h.advance(1.0) == crlf("MO RING")
    assert h.advance(2.0) == crlf("MO CONNECTED")
    assert h.at("AT+CLCC") == block(clcc(0, "0301234", mo=True)) + OK


def test_dial_with_colp_1_waits_for_the_answer() -> None:
    h = modem()
    assert h.at("AT+COLP=1") == OK
    assert h.at("ATD+4930999;") == b""
    assert h.advance(1.0) == b""
    assert h.advance(2.0) == block('+COLP: "+4930999",145,"",0,""') + OK


@pytest.mark.parametrize(
    ("number", "code", "after", "cause"),
    [("+4930111", "BUSY", 1.0, 17), ("+4930222", "NO ANSWER", 7.0, 19),
     ("+4930333", "NO CARRIER", 1.0, 1)],
)
def test_dial_outcomes_with_colp_0_are_unsolicited(number: str, code: str, after: float,
                                                     cause: int) -> None:
    h = modem()
    assert h.at(f"ATD{number};") == OK
    assert h.advance(after - 0.01) == b""
    assert h.advance(0.01) == crlf(code)
    assert h.at("AT+CLCC") == OK
    assert h.at("AT+CEER=1") == OK
    assert h.at("AT+CEER") == block(f"+CEER: Cause:{cause}") + OK


@pytest.mark.parametrize(
    ("number", "code", "after"),
    [("+4930111", "BUSY", 1.0), ("+4930222", "NO ANSWER", 7.0), ("+4930333", "NO CARRIER", 1.0)],
)
def test_dial_outcomes_with_colp_1_end_the_command(number: str, code: str, after: float) -> None:
    h = modem()
    h.at("AT+COLP=1")
    assert h.at(f"ATD{number};") == b""
    assert h.advance(after) == crlf(code)


def test_colp_1_rest_of_line_runs_after_the_answer() -> None:
    h = modem()
    h.at("AT+COLP=1")
    assert h.at("ATD+4930999;") == b""
    assert h.run_timers() == block('+COLP: "+4930999",145,"",0,""') + OK


def test_far_end_hangs_up_an_answered_call() -> None:
    h = modem()
    h.at("ATD+4930999;")
    h.run_timers()
    assert h.handle(CallerHangup()) == crlf("NO CARRIER")
    assert h.at("AT+CLCC") == OK


def test_data_dial_no_carrier_gprs_dial_connects() -> None:
    h = modem()
    assert h.at("ATD+4930999") == crlf("NO CARRIER")
    assert h.at("ATD*98#") == crlf("NO CARRIER")  # only the GPRS service codes 99, 88
    assert h.at("ATD*99***1#").startswith(crlf("CONNECT"))  # dial-up PPP: test_ppp_session.py


def test_dial_string_modifiers_and_redial() -> None:
    h = modem()
    assert h.at("ATD+49 30,999T;") == OK
    assert h.at("AT+CLCC") == block(clcc(2, "+4930999", mo=True)) + OK
    h.at("ATH")
    assert h.at("ATD0301234i;") == OK
    h.at("ATH")
    assert h.at("ATDL;") == OK
    assert h.at("AT+CLCC") == block(clcc(2, "0301234", mo=True)) + OK


@pytest.mark.parametrize("line", ["ATD;", "ATDxyz;", "ATD12+3;", "ATD>1;", 'ATD>"Bob";'])
def test_bad_dial_strings_answer_error_whatever_cmee(line: str) -> None:
    h = modem()
    for cmee in (0, 1, 2):
        h.at(f"AT+CMEE={cmee}")
        assert h.at(line) == ERROR


def test_redial_without_a_last_number_is_an_error() -> None:
    assert modem().at("ATDL;") == ERROR
    assert modem().at("ATDL") == ERROR


def test_atdl_without_semicolon_redials_the_last_voice_call() -> None:
    # TinyGSM callNumber("last") sends ATDL
    h = modem()
    h.at("ATD0301234;")
    h.at("ATH")
    assert h.at("ATDL") == OK
    assert h.at("AT+CLCC") == block(clcc(2, "0301234", mo=True)) + OK


def test_vtd_forms() -> None:
    h = modem()
    assert h.at("AT+VTD=?") == block("+VTD: (1-255)") + OK
    assert h.at("AT+VTD?") == block("+VTD: 1") + OK
    assert h.at("AT+VTD=5") == OK
    assert h.at("AT+VTD?") == block("+VTD: 5") + OK
    for bad in ("0", "256", "x", ""):
        assert h.at(f"AT+VTD={bad}") == ERROR


def test_second_call_is_refused_per_cmee() -> None:
    h = modem()
    h.at("ATD+4930999;")
    assert h.at("ATD+4930998;") == ERROR
    h.at("AT+CMEE=1")
    assert h.at("ATD+4930998;") == crlf("+CME ERROR: 3")
    h.at("AT+CMEE=2")
    assert h.at("ATD+4930998;") == crlf("+CME ERROR: operation not allowed")


def test_dial_without_network_is_no_carrier() -> None:
    h = modem()
    h.handle(Fault("register", 2))
    assert h.at("ATD+4930999;") == crlf("NO CARRIER")
    h.handle(Fault("register", 5))
    assert h.at("ATD+4930999;") == OK


# ---------------------------------------------------------------- incoming


def test_incoming_call_rings_with_clip_until_answered() -> None:
    h = modem()
    assert h.at("AT+CLIP=1") == OK
    assert h.handle(IncomingCall(CALLER)) == RING_CLIP
    assert h.at("AT+CLCC") == block(clcc(4)) + OK
    assert h.advance(2.9) == b""
    assert h.advance(0.1) == RING_CLIP
    assert h.advance(3.0) == RING_CLIP
    assert h.at("ATA") == OK
    assert h.advance(10.0) == b""
    assert h.at("AT+CLCC") == block(clcc(0)) + OK
    assert h.at("ATH") == OK
    assert h.at("AT+CLCC") == OK


def test_incoming_call_without_clip_and_with_crc() -> None:
    h = modem()
    assert h.handle(IncomingCall("0301234")) == crlf("RING")
    h.at("ATH")
    h.at("AT+CRC=1;+CLIP=1")
    assert h.handle(IncomingCall("0301234")) == crlf("+CRING: VOICE", '+CLIP: "0301234",129,"",0,"",0')


def test_ring_in_v0_is_the_digit_2() -> None:
    h = modem()
    h.at("ATV0")
    assert h.handle(IncomingCall(CALLER)) == b"2\r"
    h.handle(CallerHangup())
    assert h.take() == b""  # already read: NO CARRIER was "3\r"


def test_caller_gives_up_no_carrier() -> None:
    h = modem()
    h.handle(IncomingCall(CALLER))
    assert h.handle(CallerHangup()) == crlf("NO CARRIER")
    assert h.advance(5.0) == b""
    assert h.at("AT+CLCC") == OK


def test_hangup_without_a_call_and_second_ring_are_ignored() -> None:
    h = modem()
    assert h.handle(CallerHangup()) == b""
    h.handle(IncomingCall(CALLER))
    assert h.handle(IncomingCall("+4930999")) == b""
    assert h.at("AT+CLCC") == block(clcc(4)) + OK


def test_ata_without_a_ringing_call_is_no_carrier_and_ends_the_line() -> None:
    h = modem()
    assert h.at("ATA") == crlf("NO CARRIER")
    h.handle(IncomingCall(CALLER))
    assert h.at("ATA;+CLCC") == OK  # the rest of the line is ignored (2.2.2 note 1)
    assert h.at("ATA") == crlf("NO CARRIER")


def test_ring_is_held_back_while_a_command_runs() -> None:
    h = modem(echo=True)
    assert h.feed(b"AT+CLI") == b"AT+CLI"
    assert h.handle(IncomingCall(CALLER)) == b""  # RING waits for the half-typed line
    assert h.feed(b"P=1\r") == b"P=1\r\r\nOK\r\n\r\nRING\r\n"


def test_chup_and_cvhu() -> None:
    h = modem()
    h.handle(IncomingCall(CALLER))
    assert h.at("AT+CVHU=1") == OK
    assert h.at("ATH") == OK
    assert h.at("AT+CLCC") == block(clcc(4)) + OK  # ATH ignored with CVHU=1
    assert h.at("AT+CHUP") == OK
    assert h.at("AT+CLCC") == OK
    assert h.advance(5.0) == b""


def test_clcc_1_reports_every_change_and_cdrind() -> None:
    h = modem()
    h.at("AT+CLCC=1;+CDRIND=1")
    assert h.handle(IncomingCall(CALLER)) == crlf(clcc(4), "RING")
    # a change a command makes is listed after its result code (URCs wait for it)
    assert h.at("ATA") == OK + crlf(clcc(0))
    assert h.handle(CallerHangup()) == crlf(clcc(6), "NO CARRIER", "+CDRIND: 0")
    assert h.at("ATD+4930999;") == OK + crlf(clcc(2, "+4930999", mo=True))
    assert h.advance(1.0) == crlf(clcc(3, "+4930999", mo=True))
    assert h.advance(2.0) == crlf(clcc(0, "+4930999", mo=True))
    assert h.at("ATH") == OK + crlf(clcc(6, "+4930999", mo=True), "+CDRIND: 0")


def test_reboot_drops_the_call_quietly() -> None:
    h = modem()
    h.at("AT+CLIP=1")
    h.handle(IncomingCall(CALLER))
    h.m.reboot()
    h.m.settings.echo = False
    out = h.run_timers()
    assert b"RING" not in out and b"NO CARRIER" not in out
    assert h.at("AT+CLCC") == OK
    assert h.at("AT+CLIP?") == block("+CLIP: 0,1") + OK


# ---------------------------------------------------------------- DTMF


def test_vts_needs_an_active_call() -> None:
    h = modem()
    assert h.at("AT+VTS=1") == ERROR
    h.at("AT+CMEE=2")
    assert h.at("AT+VTS=1") == crlf("+CME ERROR: operation not allowed")
    h.handle(IncomingCall(CALLER))
    h.at("ATA")
    assert h.at("AT+VTS=1") == OK
    assert h.at('AT+VTS="1,2,#,*,A,D"') == OK
    assert h.at('AT+VTS="{5,10},3"') == OK


@pytest.mark.parametrize(
    "line", ["AT+VTS=E", 'AT+VTS="12"', 'AT+VTS="1,"', 'AT+VTS="{1,0}"', 'AT+VTS="{1,256}"',
             'AT+VTS=""', 'AT+VTS="' + "1," * 10 + '1"', "AT+VTS"],
)
def test_vts_bad_strings(line: str) -> None:
    h = modem()
    h.handle(IncomingCall(CALLER))
    h.at("ATA")
    for cmee in (0, 2):
        h.at(f"AT+CMEE={cmee}")
        assert h.at(line) == ERROR


def test_ddet_reports_the_far_end_keys_in_a_call() -> None:
    h = modem()
    assert h.at("AT+DDET=1") == OK
    assert h.at("AT+DDET?") == block("+DDET: 1,0,0,0") + OK
    h.handle(IncomingCall(CALLER))
    assert h.handle(CallerDtmf("1")) == b""  # not answered yet
    h.at("ATA")
    assert h.handle(CallerDtmf("1#")) == crlf("+DTMF: 1", "+DTMF: #")
    assert h.at("AT+DDET=1,100,1") == OK
    assert h.at("AT+DDET?") == block("+DDET: 1,100,1,0") + OK
    assert h.handle(CallerDtmf("5")) == crlf("+DTMF: 5,100")
    h.at("AT+DDET=0")
    assert h.handle(CallerDtmf("5")) == b""


# ---------------------------------------------------------------- forms


@pytest.mark.parametrize(
    ("name", "test", "read"),
    [("+CLIP", "(0,1)", "0,1"), ("+COLP", "(0,1)", "0,1"), ("+CRC", "(0,1)", "0"),
     ("+CVHU", "(0,1)", "0"), ("+MORING", "(0,1)", "0"), ("+CDRIND", "(0,1)", "0"),
     ("+CLCC", "(0,1)", "0"), ("+CEER", "(0,1)", "0")],
)
def test_setting_forms(name: str, test: str, read: str) -> None:
    h = modem()
    assert h.at(f"AT{name}=?") == block(f"{name}: {test}") + OK
    assert h.at(f"AT{name}?") == block(f"{name}: {read}") + OK
    assert h.at(f"AT{name}=1") == OK
    assert h.at(f"AT{name}?") == block(f"{name}: 1{read[1:]}") + OK
    for bad in ("2", "-1", "x", "1,1"):
        for cmee in (0, 1, 2):
            h.at(f"AT+CMEE={cmee}")
            assert h.at(f"AT{name}={bad}") == ERROR, (name, bad)
        h.at("AT+CMEE=0")


def test_crc_omitted_keeps_the_value() -> None:
    h = modem()
    h.at("AT+CRC=1")
    assert h.at("AT+CRC=") == OK
    assert h.at("AT+CRC?") == block("+CRC: 1") + OK


def test_other_forms() -> None:
    h = modem()
    assert h.at("AT+CHUP=?") == OK
    assert h.at("AT+CHUP") == OK
    assert h.at("ATH0") == OK
    assert h.at("ATH1") == ERROR
    assert h.at("AT+CLCC") == OK
    assert h.at("AT+CEER") == block("+CEER: No cause") + OK
    assert h.at("AT+VTS=?") == block("+VTS: (0-9,*,#,A,B,C,D),(1-255)") + OK
    assert h.at("AT+DDET=?") == block("+DDET: (0,1),(0-10000),(0,1),(0,1)") + OK
    assert h.at("AT+DDET=2") == ERROR
    assert h.at("AT+DDET=1,10001") == ERROR
    assert h.at("AT+CHUP?") == ERROR


# ---------------------------------------------------------------- ATS0, AT+CPAS


def test_ats0_answers_after_the_nth_ring() -> None:
    h = modem()
    assert h.at("ATS0=2") == OK
    h.at("AT+CLIP=1")
    assert h.handle(IncomingCall(CALLER)) == RING_CLIP
    assert h.at("AT+CPAS") == block("+CPAS: 3") + OK
    assert h.advance(3.0) == RING_CLIP  # the second RING: answered, nothing else printed
    assert h.at("AT+CLCC") == block(clcc(0)) + OK
    assert h.at("AT+CPAS") == block("+CPAS: 4") + OK
    assert h.advance(10.0) == b""
    assert h.handle(CallerHangup()) == crlf("NO CARRIER")
    assert h.at("AT+CPAS") == block("+CPAS: 0") + OK


def test_ats0_zero_never_answers() -> None:
    h = modem()
    h.handle(IncomingCall(CALLER))
    h.advance(30.0)
    assert h.at("AT+CLCC") == block(clcc(4)) + OK


def test_cpas_during_an_outgoing_call() -> None:
    h = modem()
    h.at("ATD+4930999;")
    assert h.at("AT+CPAS") == block("+CPAS: 4") + OK


def test_realistic_profile_call_delays_are_drawn_in_their_ranges() -> None:
    from dataclasses import replace

    from sim800emu.core.config import REALISTIC

    for seed in range(3):
        h = Harness(config=ModemConfig(timing=replace(REALISTIC, seed=seed)))
        h.m.settings.echo = False
        h.at("AT+MORING=1")
        assert h.advance(0.06) == OK  # the realistic command delay
        h.at("ATD+4930999;")
        assert h.advance(0.06) == OK
        dialled = h.now
        rang = _until(h, b"MO RING")
        assert 2.0 <= rang - dialled <= 6.0  # call_setup
        answered = _until(h, b"MO CONNECTED")
        assert 3.0 <= answered - rang <= 10.0  # call_answer


def _until(h: Harness, text: bytes, limit: float = 20.0) -> float:
    """Advance in small steps until ``text`` is printed; the time it was."""
    end = h.now + limit
    while h.now < end:
        if text in h.advance(0.02):
            return h.now
    raise AssertionError(f"{text!r} not printed within {limit} s")


# ---------------------------------------------------------------- calls between modems (the switch)


def test_dial_asks_the_switch_and_follows_the_other_modem() -> None:
    from sim800emu.core.events import (
        CallAnswered,
        CallEnded,
        CallOut,
        FarEndAnswered,
        FarEndRinging,
    )

    h = modem()
    h.at("AT+MORING=1")
    assert h.at("ATD+8613800000002;") == OK
    assert CallOut("+8613800000002", 1) in h.requests
    assert h.handle(FarEndRinging(1)) == crlf("MO RING")
    assert h.advance(5.0) == b""  # no simulated answer: the other modem decides
    assert h.at("AT+CLCC") == block(clcc(3, "+8613800000002", mo=True)) + OK
    assert h.handle(FarEndAnswered(1)) == crlf("MO CONNECTED")
    assert h.at("ATH") == OK
    assert CallEnded(1) in h.requests
    # the answering side tells the switch, naming the call as the switch did
    h.handle(IncomingCall("+8613800000002", -7))
    h.at("ATA")
    assert CallAnswered(-7) in h.requests


def test_switch_busy_and_no_answer() -> None:
    from sim800emu.core.events import CallEnded, FarEndBusy, FarEndRinging

    h = modem()
    h.at("ATD+8613800000002;")
    assert h.handle(FarEndBusy(1)) == crlf("BUSY")
    h.at("ATD+8613800000002;")
    h.handle(FarEndRinging(2))
    before = len(h.requests)
    assert h.advance(6.0) == crlf("NO ANSWER")  # the network gives up: the callee is told
    assert CallEnded(2) in h.requests[before:]


def test_far_end_hangup_is_not_reported_back() -> None:
    from sim800emu.core.events import CallEnded

    h = modem()
    h.handle(IncomingCall(CALLER))
    h.at("ATA")
    before = len(h.requests)
    assert h.handle(CallerHangup()) == crlf("NO CARRIER")
    assert CallEnded() not in h.requests[before:]
