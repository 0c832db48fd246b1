"""The call switch of one ``serve`` process: voice calls between its modems
(a ``--count`` fleet, or the TCP transport's connections).

A modem that dials (``CallOut``) the number of another live modem of the
process is put through to it: that modem gets ``IncomingCall`` with the
caller's number and rings; the caller gets ``FarEndRinging`` (MO RING ...)
or, when the other modem already has a call, ``FarEndBusy`` (BUSY). The
callee answering (``CallAnswered``) is the caller's ``FarEndAnswered``;
either side ending the call (``CallEnded``) is the other's ``CallerHangup``
(NO CARRIER). Calls to any other number are left to the modem's own
simulated outcome (``--dial``).

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
    FarEndAnswered,
    FarEndBusy,
    FarEndRinging,
    IncomingCall,
)
from .smscentre import msisdn_of

if TYPE_CHECKING:
    from .runtime import ModemRunner

CallRequest = CallOut | CallAnswered | CallEnded


def _digits(number: str) -> str:
    return number[1:] if number.startswith("+") else number


class CallSwitch:
    def __init__(self) -> None:
        # every live modem (the runner's close unregisters it): a dict, so
        # that a fleet's thousands of reconnections each cost O(1)
        self._runners: dict[ModemRunner, None] = {}
        self._peer: dict[ModemRunner, ModemRunner] = {}  # both directions of each call

    def register(self, runner: ModemRunner) -> None:
        self._runners[runner] = None

    def unregister(self, runner: ModemRunner) -> None:
        self._runners.pop(runner, None)

    def _find(self, number: str, caller: ModemRunner) -> ModemRunner | None:
        for runner in self._runners:
            if not runner.closing and runner is not caller and _digits(msisdn_of(runner)) == _digits(number):
                return runner
        return None

    def handle(self, runner: ModemRunner, req: CallRequest) -> None:
        loop = runner.loop
        if isinstance(req, CallOut):
            self._end(runner)  # a call that was still paired is over
            callee = self._find(req.number, runner)
            if callee is None:
                return
            voice = getattr(callee.modem, "voice", None)
            if callee in self._peer or (voice is not None and voice.busy):
                loop.call_soon(runner.deliver, FarEndBusy())
                return
            self._peer[runner] = callee
            self._peer[callee] = runner
            loop.call_soon(callee.deliver, IncomingCall(msisdn_of(runner)))
            loop.call_soon(runner.deliver, FarEndRinging())
        elif isinstance(req, CallAnswered):
            peer = self._peer.get(runner)
            if peer is not None:
                loop.call_soon(peer.deliver, FarEndAnswered())
        else:
            peer = self._end(runner)
            if peer is not None:
                loop.call_soon(peer.deliver, CallerHangup())

    def _end(self, runner: ModemRunner) -> ModemRunner | None:
        peer = self._peer.pop(runner, None)
        if peer is not None and self._peer.get(peer) is runner:
            del self._peer[peer]
        return peer
