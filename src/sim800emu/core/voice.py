"""Voice calls without audio: the call table of 3GPP TS 27.007 (AT+CLCC
states) and every transition of a call, with the result codes and URCs the
module prints on the way (manual V1.12 2.2.2 ATA, 2.2.3 ATD, 2.2.8 ATH,
3.2.6 CCWA, 3.2.7 CEER, 3.2.14 CHLD, 3.2.16 CLCC, 3.2.18 CLIP, 3.2.21 COLP,
3.2.31 CRC, 3.2.37 VTS, 6.2.14 CDRIND, 6.2.29 MORING, 15.2.1 DDET).

Theory of operation
-------------------
The module holds up to seven calls (ids 1-7, the lowest free one for a new
call): at most one being set up (DIALING / ALERTING) or ringing (INCOMING),
one waiting (WAITING), and any number of ACTIVE and HELD calls; two or more
calls in the same state (ACTIVE or HELD) form the multiparty call (<mpty> 1
in +CLCC, at most five parties).

Outgoing (``ATD<number>;``, with no call or only held calls)::

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

Incoming (``ctl SOCK ring FROM``) without another call: INCOMING; ``RING``
(``+CRING: VOICE`` with AT+CRC=1) followed, with AT+CLIP=1, by
``+CLIP: "<number>",<type>,"",0,"",0``, at once and then every
``ring_interval`` seconds until ATA (ACTIVE) or ATH / AT+CHUP (released) or
the caller gives up (``ctl SOCK hangup``: NO CARRIER). With ATS0=<n> (n > 0)
the module answers by itself after the n-th RING.

Incoming while the module has active or held calls only (call waiting, the
network's service on, AT+CCWA=<n>,1/0): WAITING, ``+CCWA: "<number>",<type>,1``
once with AT+CCWA=1; AT+CHLD accepts it (1: releasing the active calls; 2:
holding them) or rejects it (0: the caller hears busy). A waiting call left
alone (the other calls ended) rings as an ordinary incoming call. Any other
incoming call finds the module busy (nothing printed).

Between modems of one process (a ``--count`` fleet, TCP connections): ATD
also asks the call switch (``CallOut`` with the call's ``ref``); when the
number is another modem's, that modem rings or gets a waiting call with this
one's number (``FarEndRinging`` here instead of the simulated set-up), its
answer answers this call (``FarEndAnswered``), a modem that cannot take the
call makes this one BUSY (``FarEndBusy``), and either side's end of the call
(``CallEnded``) is the other's NO CARRIER. Every event of the switch names
its call by ``ref``.

Ending: ATH / AT+CHUP end every call quietly (OK only; with AT+CVHU=1 ATH is
ignored); AT+CHLD=1x one of them. The far end hanging up gives ``NO CARRIER``.
AT+CEER reports why the last call ended; AT+CDRIND=1 adds ``+CDRIND: 0`` and
AT+CLCC=1 lists the calls (a released one in state 6) after every change.
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
    CallTransfer,
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
MAX_CALLS = 7  # <idx> 1..7 of +CLCC (manual 3.2.16)
MAX_PARTIES = 5  # a multiparty call (3GPP TS 22.084)

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


SETUP = (CallState.DIALING, CallState.ALERTING)


def number_type(number: str) -> int:
    """<type> of a number: 145 international (leading +), else 129."""
    return 145 if number.startswith("+") else 129


@dataclass(slots=True)
class Call:
    id: int
    mo: bool  # mobile originated (ATD) or terminated (RING)
    number: str
    state: CallState
    ref: int = 0  # the call switch's name of the call (0: a simulated far end only)
    switched: bool = False  # put through to another modem of the process

    def clcc(self, mpty: bool = False) -> str:
        return (
            f"+CLCC: {self.id},{0 if self.mo else 1},{int(self.state)},0,{int(mpty)},"
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
        "_refs",
        "_rings",
        "calls",
        "cause",
        "ccwa",
        "ccwa_classes",
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
        self.calls: list[Call] = []  # in the order they came
        self.cause = NO_CAUSE  # AT+CEER: why the last call ended
        self.last_dialed = ""  # ATDL
        self._atd_pending = False  # ATD waits for the outcome (COLP=1)
        self._rings = 0  # RINGs of the incoming call so far (ATS0)
        self._refs = 0  # the last ``ref`` drawn for an outgoing call
        # the classes the network's call waiting service is active for (a
        # subscription of the SIM at the network: a reboot keeps it)
        self.ccwa_classes = 1
        self._defaults()

    def _defaults(self) -> None:
        self.clip = 0
        self.colp = 0
        self.crc = 0
        self.clcc = 0
        self.ccwa = 0
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
        """Power cycle (AT+CFUN=1,1, power loss): the calls are gone without a
        word (the far ends of switched calls hear the line drop) and the
        settings are back to their defaults."""
        self._host.cancel_timer("call")
        self._host.cancel_timer("ring")
        for call in self.calls:
            if call.ref:
                self._host.request(CallEnded(call.ref))
        self.calls = []
        self._atd_pending = False
        self._defaults()

    # ------------------------------------------------------------ state

    def _find(self, *states: CallState) -> Call | None:
        for call in self.calls:
            if call.state in states:
                return call
        return None

    def _all(self, state: CallState) -> list[Call]:
        return [call for call in self.calls if call.state is state]

    def _by_ref(self, ref: int, *states: CallState) -> Call | None:
        """The call the switch names ``ref``; with ref 0 the first call in
        one of ``states`` (events of a simulated far end)."""
        for call in self.calls:
            if (call.ref == ref if ref else call.state in states):
                return call
        return None

    @property
    def call(self) -> Call | None:
        """The newest call (None without one)."""
        return self.calls[-1] if self.calls else None

    @property
    def busy(self) -> bool:
        return bool(self.calls)

    @property
    def ringing(self) -> bool:
        """An incoming call waits to be answered (the RI line)."""
        return self._find(CallState.INCOMING) is not None

    @property
    def activity(self) -> int:
        """<pas> of AT+CPAS: 0 ready, 3 ringing, 4 a call in progress."""
        if not self.calls:
            return 0
        return 3 if all(c.state is CallState.INCOMING for c in self.calls) else 4

    @property
    def active(self) -> bool:
        return self._find(CallState.ACTIVE) is not None

    @property
    def can_dial(self) -> bool:
        """ATD may set up a call: none yet, or only held ones."""
        return len(self.calls) < MAX_CALLS and all(c.state is CallState.HELD for c in self.calls)

    @property
    def can_take_call(self) -> bool:
        """An incoming call would ring or wait (else the caller hears busy)."""
        if not self.calls:
            return True
        return (self.ccwa_classes & 1 == 1 and len(self.calls) < MAX_CALLS
                and all(c.state in (CallState.ACTIVE, CallState.HELD) for c in self.calls))

    def _mpty(self, call: Call) -> bool:
        if call.state not in (CallState.ACTIVE, CallState.HELD):
            return False
        return len(self._all(call.state)) >= 2

    def list_calls(self) -> list[str]:
        return [call.clcc(self._mpty(call)) for call in sorted(self.calls, key=lambda c: c.id)]

    def ceer_report(self) -> str:
        if self.ceer == 1:
            return f"+CEER: Cause:{self.cause}"
        return f"+CEER: {CAUSE_TEXT.get(self.cause, 'normal, unspecified')}"

    def _changed(self, released: Call | None = None) -> None:
        """AT+CLCC=1: the list of calls after a change (a released call in
        state 6 among them, once)."""
        if self.clcc != 1:
            return
        calls = sorted([*self.calls, *([released] if released else [])], key=lambda c: c.id)
        for call in calls:
            self._host.urc(call.clcc(self._mpty(call)))

    def _new_id(self) -> int:
        used = {call.id for call in self.calls}
        return min(i for i in range(1, MAX_CALLS + 1) if i not in used)

    # ------------------------------------------------------------ outgoing

    def outcome(self, number: str) -> str:
        return self._outcomes.get(number, "answer")

    def dial(self, number: str) -> bool:
        """ATD<number>; accepted (``can_dial``): the call is being set up.
        True when ATD stays pending until the outcome (AT+COLP=1)."""
        self.last_dialed = number
        self._refs += 1
        call = Call(self._new_id(), True, number, CallState.DIALING, ref=self._refs)
        self.calls.append(call)
        self._atd_pending = self.colp == 1
        self._changed()
        self._host.request(CallOut(number, call.ref))
        self._host.start_timer("call", self._host.delay("call_setup"), self._far_end_reached)
        return self._atd_pending

    def _far_end_reached(self, outcome: str = "") -> None:
        call = self._find(CallState.DIALING)
        if call is None:
            return
        outcome = outcome or self.outcome(call.number)
        if outcome == "busy":
            self._end(call, USER_BUSY, "BUSY")
            return
        if outcome == "no-carrier":
            self._end(call, UNASSIGNED, "NO CARRIER")
            return
        call.state = CallState.ALERTING
        self._changed()
        if self.moring == 1:
            self._host.urc("MO RING")
        if outcome == "no-answer":
            self._host.start_timer(
                "call", self._host.delay("no_answer"),
                lambda: self._end_setup(NO_ANSWER_CAUSE, "NO ANSWER"),
            )
        else:
            self._host.start_timer("call", self._host.delay("call_answer"), self._far_end_answered)

    def _end_setup(self, cause: int, code: str) -> None:
        call = self._find(*SETUP)
        if call is not None:
            self._end(call, cause, code)

    def _far_end_answered(self) -> None:
        call = self._find(CallState.ALERTING)
        if call is None:
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

    def ring(self, number: str, ref: int = 0) -> bool:
        """A call from ``number`` arrives: it rings, or waits while the
        module has active or held calls. False when the module cannot take
        it (the caller hears busy; nothing is printed)."""
        if not self.can_take_call:
            if ref:
                self._host.request(CallEnded(ref, busy=True))
            return False
        waiting = bool(self.calls)
        state = CallState.WAITING if waiting else CallState.INCOMING
        call = Call(self._new_id(), False, number, state, ref=ref, switched=ref != 0)
        self.calls.append(call)
        self._changed()
        if waiting:
            if self.ccwa == 1:
                self._host.urc(f'+CCWA: "{number}",{number_type(number)},1')
        else:
            self._rings = 0
            self._alert()
        return True

    def _alert(self) -> None:
        call = self._find(CallState.INCOMING)
        if call is None:
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
        """ATA: True when a ringing call was answered (a waiting call is
        taken with AT+CHLD)."""
        call = self._find(CallState.INCOMING)
        if call is None:
            return False
        self._host.cancel_timer("ring")
        self._connect(call)
        return True

    def _connect(self, call: Call) -> None:
        call.state = CallState.ACTIVE
        self._changed()
        self._host.request(CallAnswered(call.ref))

    def _settle(self) -> None:
        """A waiting call left alone rings as an incoming call."""
        if len(self.calls) == 1 and self.calls[0].state is CallState.WAITING:
            self.calls[0].state = CallState.INCOMING
            self._changed()
            self._rings = 0
            self._alert()

    # ------------------------------------------------------------ AT+CHLD

    def chld(self, n: str) -> bool:
        """AT+CHLD=<n> (manual 3.2.14; "0", "1", "1x", "2", "2x", "3", "4"):
        False when the calls do not allow it (``+CME ERROR: 3``)."""
        active = self._all(CallState.ACTIVE)
        held = self._all(CallState.HELD)
        waiting = self._find(CallState.WAITING)
        if self._find(*SETUP, CallState.INCOMING) is not None and len(n) == 1:
            return False  # a call being set up or ringing: ATH, ATA or AT+CHLD=1x
        if n == "0":  # release the held calls, or reject the waiting one (UDUB)
            if waiting is not None:
                self._end(waiting, NORMAL, None, busy=True)
            elif held:
                for call in held:
                    self._end(call, NORMAL, None)
            else:
                return False
        elif n == "1":  # release the active calls, take the waiting or held one
            if not (active or held or waiting):
                return False
            for call in active:
                self._end(call, NORMAL, None)
            if waiting is not None:
                self._connect(waiting)
            else:
                self._set(held, CallState.ACTIVE)
        elif n == "2":  # hold the active calls, take the waiting or held one
            if waiting is not None:
                if active and held:
                    return False  # no room: a held call already
                self._set(active, CallState.HELD, quiet=True)
                self._connect(waiting)
            elif active or held:
                self._set(active, CallState.HELD, quiet=True)
                self._set(held, CallState.ACTIVE, quiet=True)
                self._changed()
            else:
                return False
        elif n == "3":  # join the held calls to the conversation
            if not (active and held) or len(active) + len(held) > MAX_PARTIES:
                return False
            self._set(held, CallState.ACTIVE)
        elif n == "4":  # explicit call transfer: the two far ends talk on
            if len(active) != 1 or len(held) != 1:
                return False
            self._host.request(CallTransfer(active[0].ref, held[0].ref))
            self._end(active[0], NORMAL, None, far_end=True)
            self._end(held[0], NORMAL, None, far_end=True)
        else:
            chosen = next((c for c in self.calls if c.id == int(n[1:])), None)
            if chosen is None:
                return False
            if n[0] == "1":  # release call x
                self._end(chosen, NORMAL, None)
            elif not self._private(chosen, active, held):
                return False
        self._settle()
        return True

    def _private(self, call: Call, active: list[Call], held: list[Call]) -> bool:
        """AT+CHLD=2x: every active call but x on hold; x active (a split
        from the multiparty call, or the held call x taken back)."""
        if call.state is CallState.ACTIVE:
            if len(active) >= 2 and held:
                return False  # the others would join a held call
            self._set([c for c in active if c is not call], CallState.HELD)
            return True
        if call.state is CallState.HELD and len(held) == 1:
            self._set(active, CallState.HELD, quiet=True)
            self._set(held, CallState.ACTIVE)
            return True
        return False

    def _set(self, calls: list[Call], state: CallState, quiet: bool = False) -> None:
        for call in calls:
            call.state = state
        if calls and not quiet:
            self._changed()

    # ------------------------------------------------------------ ending

    def hang_up(self) -> None:
        """ATH / AT+CHUP: end every call from this side (no result code but OK)."""
        for call in list(self.calls):
            self._end(call, NORMAL, None)

    def far_end_hangs_up(self, ref: int = 0, number: str = "") -> None:
        """The other party of a call hangs up (or gives up ringing): NO
        CARRIER. The call: ``ref`` of the switch, else the one with
        ``number``, else the newest."""
        if ref:
            call = self._by_ref(ref)
        elif number:
            call = next((c for c in self.calls if c.number == number), None)
        else:
            call = self.call
        if call is not None:
            self._end(call, NORMAL, "NO CARRIER", far_end=True)
            self._settle()

    def handle(self, event: CallEvent) -> None:
        """An event of the network side (``ctl``, the call switch)."""
        if isinstance(event, IncomingCall):
            self.ring(event.number, event.ref)
        elif isinstance(event, CallerHangup):
            self.far_end_hangs_up(event.ref, event.number)
        elif isinstance(event, CallerDtmf):
            self.far_end_keys(event.keys)
        elif isinstance(event, FarEndRinging):
            call = self._by_ref(event.ref, CallState.DIALING)
            if call is None or call.state is not CallState.DIALING:
                if event.ref:  # the call ended before the switch answered
                    self._host.request(CallEnded(event.ref))
                return
            call.switched = True
            self._host.cancel_timer("call")
            # the other modem rings until it answers or the network gives up
            self._far_end_reached("no-answer")
        elif isinstance(event, FarEndBusy):
            call = self._by_ref(event.ref, *SETUP)
            if call is not None and call.state in SETUP:
                self._end(call, USER_BUSY, "BUSY", far_end=True)
                self._settle()
        elif isinstance(event, FarEndAnswered):
            call = self._by_ref(event.ref, CallState.ALERTING)
            if call is not None and call.switched:
                self._far_end_answered()

    def _end(self, call: Call, cause: int, code: str | None, far_end: bool = False,
             busy: bool = False) -> None:
        if call not in self.calls:
            return
        if not far_end:
            self._host.request(CallEnded(call.ref, busy=busy))
        if call.state in SETUP:
            self._host.cancel_timer("call")
        elif call.state is CallState.INCOMING:
            self._host.cancel_timer("ring")
        self.cause = cause
        self.calls.remove(call)
        state, call.state = call.state, CallState.DISCONNECT
        self._changed(call)
        if self._atd_pending and state in SETUP:
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
