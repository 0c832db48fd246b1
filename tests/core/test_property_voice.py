"""Property: whatever mix of call and USSD commands, far-end events (ring,
hang-up, keys) and elapsed time, the core never raises, prints only CR LF
framed lines, keeps the call table sound (at most seven calls, one being
set up or ringing, one waiting, five in a multiparty call), and once the line is settled (ATH,
AT+CUSD=2, timers run) the module is idle and ``AT`` answers OK.

Runs are derandomized (fixed examples), so CI is deterministic.
"""

from __future__ import annotations

import re

from harness import OK, Harness
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim800emu.core.config import ModemConfig, Services
from sim800emu.core.events import CallerDtmf, CallerHangup, Fault, IncomingCall, Result
from sim800emu.core.voice import Call, CallState

SERVICES = Services(
    ussd=(("*100#", "Balance 5"), ("*111#", "1 A, 2 B"), ("*111#>1", "A"), ("*9#", "Баланс")),
    dial=(("1", "busy"), ("2", "no-answer"), ("3", "no-carrier")),
)
COMMANDS = [
    "ATD1;", "ATD2;", "ATD3;", "ATD+4930999;", "ATD*100#;", "ATD0301234", "ATDL;", "ATD;", "ATDxyz;",
    "ATA", "ATH", "AT+CHUP", "AT+CLCC", "AT+CLCC=1", "AT+CLCC=0", "AT+CLIP=1", "AT+CRC=1",
    "AT+COLP=1", "AT+COLP=0", "AT+MORING=1", "AT+CDRIND=1", "AT+CVHU=1", "AT+CVHU=0",
    "AT+CEER", "AT+CEER=1", "AT+VTS=1", 'AT+VTS="1,{2,5}"', 'AT+VTS="{"', "AT+DDET=1,0,1",
    'AT+CUSD=1,"*100#"', 'AT+CUSD=1,"*111#"', 'AT+CUSD=1,"1"', 'AT+CUSD=1,"*9#"', "AT+CUSD=2",
    'AT+CUSD=0,"*100#"', 'AT+CSCS="HEX"', 'AT+CSCS="UCS2"', 'AT+CSCS="IRA"', "ATV0", "ATV1",
    "AT+CMEE=2", "ATS0=2", "ATS0=0", "AT+CPAS", "ATD1;+CLCC", "ATA;H", "AT+CLIP=1;+CLCC;+CUSD=1,\"*100#\"",
    "AT+CHLD=0", "AT+CHLD=1", "AT+CHLD=2", "AT+CHLD=3", "AT+CHLD=4", "AT+CHLD=11", "AT+CHLD=12",
    "AT+CHLD=21", "AT+CHLD=22", "AT+CCWA=1", "AT+CCWA=0,0", "AT+CCWA=1,1", "AT+CHLD=2;D+4930999;",
]
EVENTS: list[Result] = [
    IncomingCall("+4915112345678"), IncomingCall("0301"), CallerHangup(), CallerDtmf("12#"),
    Fault("register", 2), Fault("register", 1), IncomingCall("+4930777"),
    CallerHangup(number="0301"),
]

Step = tuple[str, object]
steps = st.lists(
    st.one_of(
        st.tuples(st.just("at"), st.sampled_from(COMMANDS)),
        st.tuples(st.just("event"), st.sampled_from(range(len(EVENTS)))),
        st.tuples(st.just("wait"), st.sampled_from([0.0, 0.5, 1.0, 2.0, 3.0, 7.0])),
    ),
    max_size=40,
)
FRAMED = re.compile(rb"(\r\n[^\r\n]*\r\n)*")
DIGITS = re.compile(rb"([^\r\n]*\r\n|\d\r)*")  # ATV0: information lines and digit codes


def _sound(calls: list[Call]) -> None:
    states = [c.state for c in calls]
    assert len(calls) <= 7 and len({c.id for c in calls}) == len(calls)
    assert sum(s in (CallState.DIALING, CallState.ALERTING, CallState.INCOMING) for s in states) <= 1
    assert states.count(CallState.WAITING) <= 1
    assert states.count(CallState.ACTIVE) <= 5 and states.count(CallState.HELD) <= 5
    if CallState.INCOMING in states:
        assert len(calls) == 1  # a call rings only on an idle module; else it waits


@settings(derandomize=True, max_examples=250, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(steps)
def test_calls_and_ussd_never_break_the_line(script: list[Step]) -> None:
    h = Harness(config=ModemConfig(services=SERVICES))
    for kind, what in script:
        if kind == "at":
            out = h.at(str(what))
        elif kind == "event":
            out = h.handle(EVENTS[int(str(what))])
        else:
            out = h.advance(float(str(what)))
        if h.m.settings.verbose:
            assert FRAMED.fullmatch(out), out
        else:
            assert DIGITS.fullmatch(out), out
        _sound(h.m.voice.calls)
    # settle: no pending command, no call, no USSD on its way
    h.run_timers()
    h.at("ATV1")
    h.at("AT+CVHU=0")
    h.at("ATH")
    h.at("AT+CUSD=2")
    h.run_timers()
    assert not h.m.voice.busy
    assert not h.m.ussd.pending
    assert h.at("AT") == OK
