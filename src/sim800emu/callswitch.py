"""The call switch of one ``serve`` process: voice calls between its modems
(a ``--count`` fleet, or the TCP transport's connections).

A modem that dials (``CallOut``) the number of another live modem of the
process is put through to it: that modem gets ``IncomingCall`` with the
caller's number and rings (or, in a call already, gets a waiting call:
AT+CCWA, AT+CHLD); the caller gets ``FarEndRinging`` (MO RING ...) or, when
the other modem cannot take the call, ``FarEndBusy`` (BUSY). The callee
answering (``CallAnswered``) is the caller's ``FarEndAnswered``; either side
ending the call (``CallEnded``) is the other's ``CallerHangup`` (NO
CARRIER), or ``FarEndBusy`` when the callee rejected it (``busy``). A modem
transferring its two calls (``CallTransfer``, AT+CHLD=4) leaves their far
ends connected to each other. Calls to any other number are left to the
modem's own simulated outcome (``--dial``).

A call has a name on each side, its ``ref``: the caller draws its own
(positive) in ``CallOut``, the switch draws the callee's (negative), so a
modem with several calls (held, waiting) knows which one an event is about.
The switch keeps both ends of every call it put through, ``(runner, ref)``
to ``(runner, ref)``; a modem that goes away (``unregister``) hangs up its
calls.

Everything is handed to the runners from the event loop (``call_soon``),
never from inside the runner step that produced the request.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .core.events import (
    CallAnswered,
    CallEnded,
    CallerHangup,
    CallOut,
    CallTransfer,
    FarEndAnswered,
    FarEndBusy,
    FarEndRinging,
    IncomingCall,
)
from .smscentre import msisdn_of

if TYPE_CHECKING:
    from .runtime import ModemRunner

CallRequest = CallOut | CallAnswered | CallEnded | CallTransfer
End = tuple["ModemRunner", int]


def _digits(number: str) -> str:
    return number[1:] if number.startswith("+") else number


class CallSwitch:
    def __init__(self) -> None:
        # every live modem (the runner's close unregisters it): a dict, so
        # that a fleet's thousands of reconnections each cost O(1)
        self._runners: dict[ModemRunner, None] = {}
        self._peer: dict[End, End] = {}  # both directions of each call
        self._refs = 0  # the callee's refs: -1, -2, ...

    def register(self, runner: ModemRunner) -> None:
        self._runners[runner] = None

    def unregister(self, runner: ModemRunner) -> None:
        self._runners.pop(runner, None)
        for end in [end for end in self._peer if end[0] is runner]:
            self._hang_up(end, CallerHangup)

    def _find(self, number: str, caller: ModemRunner) -> ModemRunner | None:
        for runner in self._runners:
            if not runner.closing and runner is not caller and _digits(msisdn_of(runner)) == _digits(number):
                return runner
        return None

    def _unlink(self, end: End) -> End | None:
        peer = self._peer.pop(end, None)
        if peer is not None and self._peer.get(peer) == end:
            del self._peer[peer]
        return peer

    def _hang_up(self, end: End, kind: type[CallerHangup] | type[FarEndBusy]) -> None:
        peer = self._unlink(end)
        if peer is not None:
            runner, ref = peer
            runner.loop.call_soon(runner.deliver, kind(ref))

    def handle(self, runner: ModemRunner, req: CallRequest) -> None:
        loop = runner.loop
        if isinstance(req, CallOut):
            callee = self._find(req.number, runner)
            if callee is None:
                return
            voice = getattr(callee.modem, "voice", None)
            if voice is not None and not voice.can_take_call:
                loop.call_soon(runner.deliver, FarEndBusy(req.ref))
                return
            self._refs -= 1
            caller_end, callee_end = (runner, req.ref), (callee, self._refs)
            self._peer[caller_end] = callee_end
            self._peer[callee_end] = caller_end
            loop.call_soon(callee.deliver, IncomingCall(msisdn_of(runner), self._refs))
            loop.call_soon(runner.deliver, FarEndRinging(req.ref))
        elif isinstance(req, CallAnswered):
            peer = self._peer.get((runner, req.ref))
            if peer is not None:
                loop.call_soon(peer[0].deliver, FarEndAnswered(peer[1]))
        elif isinstance(req, CallTransfer):
            one = self._unlink((runner, req.ref))
            other = self._unlink((runner, req.other))
            if one is not None and other is not None:
                self._peer[one] = other
                self._peer[other] = one
            # a far end transferred to a simulated party stays in its call
        else:
            self._hang_up((runner, req.ref), FarEndBusy if req.busy else CallerHangup)
