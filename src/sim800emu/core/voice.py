"""Voice calls without audio: the call table of 3GPP TS 27.007 (AT+CLCC
states) and every transition of a call, with the result codes and URCs the
module prints on the way (manual V1.12 2.2.2 ATA, 2.2.3 ATD, 2.2.8 ATH,
3.2.7 CEER, 3.2.16 CLCC, 3.2.18 CLIP, 3.2.21 COLP, 3.2.31 CRC, 3.2.37 VTS,
6.2.14 CDRIND, 6.2.29 MORING, 15.2.1 DDET).

Theory of operation
-------------------
The module has at most one call (no hold, no waiting call, no conference);
its id is 1.

Outgoing (``ATD<number>;``)::

    DIALING --call_setup--> ALERTING --call_answer--> ACTIVE
        |                       |
        +-- busy: BUSY          +-- no-answer (after no_answer): NO ANSWER
        +-- no-carrier: NO CARRIER

The outcome per number comes from ``--dial NUMBER=OUTCOME`` (default
answer); the delays are ``Timing`` fields read through ``Host.delay``. With AT+COLP=0 (the default) ATD answers OK at once and the
outcome follows as an unsolicited result code (BUSY, NO ANSWER, NO CARRIER;
nothing when the far end answers, unless AT+MORING=1 gives ``MO RING`` and
``MO CONNECTED``). With AT+COLP=1 ATD stays pending until the outcome: it
ends with ``+COLP: "<number>",<type>,"",0,""`` and OK, or with BUSY /
NO ANSWER / NO CARRIER as its final result (manual 2.2.3, "Responses
returned after dialing with ATD").

Incoming (``ctl SOCK ring FROM``): INCOMING; ``RING`` (``+CRING: VOICE``
with AT+CRC=1) followed, with AT+CLIP=1, by ``+CLIP: "<number>",<type>,"",0,"",0``,
at once and then every ``ring_interval`` seconds until ATA (ACTIVE) or ATH /
AT+CHUP (released) or the caller gives up (``ctl SOCK hangup``: NO CARRIER).
With ATS0=<n> (n > 0) the module answers by itself after the n-th RING.

Between modems of one process (a ``--count`` fleet, TCP connections): ATD
also asks the call switch (``CallOut``); when the number is another modem's,
that modem rings with this one's number (``FarEndRinging`` here instead of
the simulated set-up), its ATA answers this call (``FarEndAnswered``), a
call it already has makes this one BUSY (``FarEndBusy``), and either side's
hang-up (``CallEnded``) is the other's NO CARRIER.

Ending: ATH / AT+CHUP end the call quietly (OK only; with AT+CVHU=1 ATH is
ignored). The far end hanging up gives ``NO CARRIER``. AT+CEER reports why
the last call ended; AT+CDRIND=1 adds ``+CDRIND: 0`` and AT+CLCC=1 lists the
call (state 6 on release) after every change.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum

from .events import (
    CallAnswered,
    CallEnded,
    CallerDtmf,
    CallerHangup,
    CallEvent,
    CallOut,
    FarEndAnswered,
    FarEndBusy,
    FarEndRinging,
    IncomingCall,
)
from .host import Host

DIAL_CHARS = frozenset("0123456789*#+ABCabc")
IGNORED_MODIFIERS = frozenset(",TtPp!Ww@ ")
GSM_MODIFIERS = frozenset("IiGg")
DTMF_KEYS = frozenset("0123456789*#ABCD")

# AT+CEER causes (manual 3.2.7) that the emulator produces.
NO_CAUSE, UNASSIGNED, NORMAL, USER_BUSY, NO_ANSWER_CAUSE = 0, 1, 16, 17, 19
CAUSE_TEXT = {
    NO_CAUSE: "No cause",
    UNASSIGNED: "unassigned (unallocated) number",
    NORMAL: "normal call clearing",
    USER_BUSY: "user busy",
    NO_ANSWER_CAUSE: "user alerting, no answer",
}


class CallState(IntEnum):
    """<stat> of +CLCC (manual 3.2.16)."""

    ACTIVE = 0
    HELD = 1
    DIALING = 2
    ALERTING = 3
    INCOMING = 4
    WAITING = 5
    DISCONNECT = 6


def number_type(number: str) -> int:
    """<type> of a number: 145 international (leading +), else 129."""
    return 145 if number.startswith("+") else 129


@dataclass(slots=True)
class Call:
    id: int
    mo: bool  # mobile originated (ATD) or terminated (RING)
    number: str
    state: CallState
    switched: bool = False  # put through to another modem of the process

    def clcc(self) -> str:
        return (
            f"+CLCC: {self.id},{0 if self.mo else 1},{int(self.state)},0,0,"
            f'"{self.number}",{number_type(self.number)},""'
        )


def parse_dial(text: str) -> str | None:
    """The number of a dial string (manual 2.2.3 <n>): V.25ter modifiers
    (, T P ! W @) dropped, trailing GSM modifiers (I i G g) dropped; None if
    a character is not a dialling digit or nothing is left."""
    end = len(text)
    while end > 0 and text[end - 1] in GSM_MODIFIERS:
        end -= 1
    digits = "".join(c for c in text[:end] if c not in IGNORED_MODIFIERS)
    if not digits or any(c not in DIAL_CHARS for c in digits) or "+" in digits[1:]:
        return None
    return digits


class Voice:
    """The call table and the call-related settings of one module."""

    __slots__ = (
        "_atd_pending",
        "_host",
        "_outcomes",
        "_rings",
        "call",
        "cause",
        "cdrind",
        "ceer",
        "clcc",
        "clip",
        "colp",
        "crc",
        "cvhu",
        "ddet",
        "ddet_interval",
        "ddet_report",
        "ddet_ssdet",
        "last_dialed",
        "moring",
        "vtd",
    )

    def __init__(self, host: Host, outcomes: Iterable[tuple[str, str]]) -> None:
        self._host = host
        self._outcomes = {key.strip(): value for key, value in outcomes}
        self.call: Call | None = None
        self.cause = NO_CAUSE  # AT+CEER: why the last call ended
        self.last_dialed = ""  # ATDL
        self._atd_pending = False  # ATD waits for the outcome (COLP=1)
        self._rings = 0  # RINGs of the incoming call so far (ATS0)
        self._defaults()

    def _defaults(self) -> None:
        self.clip = 0
        self.colp = 0
        self.crc = 0
        self.clcc = 0
        self.cvhu = 0
        self.moring = 0
        self.cdrind = 0
        self.ceer = 0
        self.ddet = 0
        self.ddet_interval = 0
        self.ddet_report = 0
        self.ddet_ssdet = 0
        self.vtd = 1  # AT+VTD: tone duration in 1/10 s

    def reset(self) -> None:
        """Power cycle (AT+CFUN=1,1, power loss): the call is gone without a
        word and the settings are back to their defaults."""
        self._host.cancel_timer("call")
        self._host.cancel_timer("ring")
        self.call = None
        self._atd_pending = False
        self._defaults()

    # ------------------------------------------------------------ state

    @property
    def busy(self) -> bool:
        return self.call is not None

    @property
    def ringing(self) -> bool:
        """An incoming call waits to be answered."""
        return self.call is not None and self.call.state is CallState.INCOMING

    @property
    def activity(self) -> int:
        """<pas> of AT+CPAS: 0 ready, 3 ringing, 4 a call in progress."""
        if self.call is None:
            return 0
        return 3 if self.call.state is CallState.INCOMING else 4

    @property
    def active(self) -> bool:
        return self.call is not None and self.call.state is CallState.ACTIVE

    def list_calls(self) -> list[str]:
        return [self.call.clcc()] if self.call is not None else []

    def ceer_report(self) -> str:
        if self.ceer == 1:
            return f"+CEER: Cause:{self.cause}"
        return f"+CEER: {CAUSE_TEXT.get(self.cause, 'normal, unspecified')}"

    def _changed(self) -> None:
        if self.clcc == 1 and self.call is not None:
            self._host.urc(self.call.clcc())

    # ------------------------------------------------------------ outgoing

    def outcome(self, number: str) -> str:
        return self._outcomes.get(number, "answer")

    def dial(self, number: str) -> bool:
        """ATD<number>; accepted: the call is being set up. True when ATD
        stays pending until the outcome (AT+COLP=1)."""
        self.last_dialed = number
        self.call = Call(1, True, number, CallState.DIALING)
        self._atd_pending = self.colp == 1
        self._changed()
        self._host.request(CallOut(number))
        self._host.start_timer("call", self._host.delay("call_setup"), self._far_end_reached)
        return self._atd_pending

    def _far_end_reached(self, outcome: str = "") -> None:
        call = self.call
        if call is None or call.state is not CallState.DIALING:
            return
        outcome = outcome or self.outcome(call.number)
        if outcome == "busy":
            self._end(USER_BUSY, "BUSY")
            return
        if outcome == "no-carrier":
            self._end(UNASSIGNED, "NO CARRIER")
            return
        call.state = CallState.ALERTING
        self._changed()
        if self.moring == 1:
            self._host.urc("MO RING")
        if outcome == "no-answer":
            self._host.start_timer(
                "call", self._host.delay("no_answer"),
                lambda: self._end(NO_ANSWER_CAUSE, "NO ANSWER"),
            )
        else:
            self._host.start_timer("call", self._host.delay("call_answer"), self._far_end_answered)

    def _far_end_answered(self) -> None:
        call = self.call
        if call is None or call.state is not CallState.ALERTING:
            return
        self._host.cancel_timer("call")
        call.state = CallState.ACTIVE
        self._changed()
        if self._atd_pending:
            self._atd_pending = False
            self._host.info(f'+COLP: "{call.number}",{number_type(call.number)},"",0,""')
            self._host.complete()
        if self.moring == 1:
            self._host.urc("MO CONNECTED")

    # ------------------------------------------------------------ incoming

    def ring(self, number: str) -> bool:
        """A call from ``number`` arrives. False when the module already has
        a call (the caller hears busy; nothing is printed)."""
        if self.call is not None:
            return False
        self.call = Call(1, False, number, CallState.INCOMING)
        self._rings = 0
        self._changed()
        self._alert()
        return True

    def _alert(self) -> None:
        call = self.call
        if call is None or call.state is not CallState.INCOMING:
            return
        if self.crc == 1:
            self._host.urc("+CRING: VOICE")
        else:
            self._host.urc_code("RING")
        if self.clip == 1:
            self._host.urc(f'+CLIP: "{call.number}",{number_type(call.number)},"",0,"",0')
        self._rings += 1
        auto = self._host.settings.s0
        if 0 < auto <= self._rings:
            self.answer()  # ATS0: answered without a word (no command, no OK)
            return
        self._host.start_timer("ring", self._host.delay("ring_interval"), self._alert)

    def answer(self) -> bool:
        """ATA: True when a ringing call was answered."""
        call = self.call
        if call is None or call.state is not CallState.INCOMING:
            return False
        self._host.cancel_timer("ring")
        call.state = CallState.ACTIVE
        self._changed()
        self._host.request(CallAnswered())
        return True

    # ------------------------------------------------------------ ending

    def hang_up(self) -> None:
        """ATH / AT+CHUP: end the call from this side (no result code but OK)."""
        if self.call is not None:
            self._end(NORMAL, None)

    def far_end_hangs_up(self) -> None:
        """The other party hangs up (or gives up ringing): NO CARRIER."""
        if self.call is not None:
            self._end(NORMAL, "NO CARRIER", far_end=True)

    def handle(self, event: CallEvent) -> None:
        """An event of the network side (``ctl``, the call switch)."""
        call = self.call
        if isinstance(event, IncomingCall):
            self.ring(event.number)
        elif isinstance(event, CallerHangup):
            self.far_end_hangs_up()
        elif isinstance(event, CallerDtmf):
            self.far_end_keys(event.keys)
        elif call is None or not call.mo:
            return
        elif isinstance(event, FarEndBusy):
            self._far_end_reached("busy")
        elif isinstance(event, FarEndRinging):
            call.switched = True
            self._host.cancel_timer("call")
            # the other modem rings until it answers or the network gives up
            self._far_end_reached("no-answer")
        elif isinstance(event, FarEndAnswered) and call.switched:
            self._far_end_answered()

    def _end(self, cause: int, code: str | None, far_end: bool = False) -> None:
        call = self.call
        if call is None:
            return
        if not far_end:
            self._host.request(CallEnded())
        self._host.cancel_timer("call")
        self._host.cancel_timer("ring")
        self.cause = cause
        call.state = CallState.DISCONNECT
        self._changed()
        self.call = None
        if self._atd_pending:
            self._atd_pending = False
            self._host.complete(code=code or "NO CARRIER")
        elif code is not None:
            self._host.urc_code(code)
        if self.cdrind == 1:
            self._host.urc("+CDRIND: 0")

    # ------------------------------------------------------------ DTMF

    def far_end_keys(self, keys: str) -> None:
        """The other party presses keys: +DTMF with AT+DDET=1, in a call."""
        if not self.active or self.ddet != 1:
            return
        for key in keys.upper():
            if key in DTMF_KEYS:
                self._host.urc(f"+DTMF: {key},100" if self.ddet_report == 1 else f"+DTMF: {key}")
