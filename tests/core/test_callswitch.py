"""The call switch (callswitch.py) with fake runners: who rings, who is
busy, what each side hears when the other answers or hangs up."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from sim800emu.callswitch import CallSwitch
from sim800emu.core.events import (
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


class Loop:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, Any]] = []

    def call_soon(self, fn: Any, arg: Any) -> None:
        self.calls.append((fn, arg))

    def run(self) -> None:
        calls, self.calls = self.calls, []
        for fn, arg in calls:
            fn(arg)


@dataclass(eq=False)
class Runner:
    msisdn: str
    loop: Loop
    got: list[object] = field(default_factory=list)
    closing: bool = False
    busy: bool = False  # the modem's voice cannot take another call

    @property
    def modem(self) -> Any:
        return SimpleNamespace(config=SimpleNamespace(identity=SimpleNamespace(msisdn=self.msisdn)),
                               voice=SimpleNamespace(can_take_call=not self.busy))

    def deliver(self, result: object) -> None:
        self.got.append(result)


def fleet(*numbers: str) -> tuple[CallSwitch, Loop, list[Runner]]:
    loop = Loop()
    switch = CallSwitch()
    runners = [Runner(n, loop) for n in numbers]
    for r in runners:
        switch.register(r)  # type: ignore[arg-type]
    return switch, loop, runners


def handle(switch: CallSwitch, runner: Runner, req: object) -> None:
    switch.handle(runner, req)  # type: ignore[arg-type]
    runner.loop.run()


def test_a_call_between_two_modems() -> None:
    switch, _loop, (a, b) = fleet("+8613800000001", "+8613800000002")
    handle(switch, a, CallOut("8613800000002", 1))
    assert b.got == [IncomingCall("+8613800000001", -1)]  # the switch names b's end
    assert a.got == [FarEndRinging(1)]
    handle(switch, b, CallAnswered(-1))
    assert a.got[-1] == FarEndAnswered(1)
    handle(switch, b, CallEnded(-1))
    assert a.got[-1] == CallerHangup(1)
    handle(switch, a, CallEnded(1))  # a's end after the NO CARRIER
    assert b.got == [IncomingCall("+8613800000001", -1)]  # nothing more for b


def test_busy_unknown_and_closing() -> None:
    switch, _loop, (_a, b, c) = fleet("+1001", "+1002", "+1003")
    b.busy = True
    handle(switch, c, CallOut("+1002", 4))
    assert c.got == [FarEndBusy(4)] and b.got == []
    handle(switch, c, CallOut("+9999", 5))  # not a modem: left alone
    assert c.got == [FarEndBusy(4)]
    c.closing = True
    handle(switch, b, CallOut("+1003", 1))  # a closing modem is no longer found
    assert b.got == [] and c.got == [FarEndBusy(4)]


def test_the_callee_rejects_the_call() -> None:
    switch, _loop, (a, b) = fleet("+1001", "+1002")
    handle(switch, a, CallOut("+1002", 3))
    handle(switch, b, CallEnded(-1, busy=True))  # AT+CHLD=0 on a waiting call
    assert a.got == [FarEndRinging(3), FarEndBusy(3)]


def test_a_waiting_call_and_a_transfer() -> None:
    switch, _loop, (a, b, c) = fleet("+1001", "+1002", "+1003")
    handle(switch, a, CallOut("+1002", 1))
    handle(switch, b, CallAnswered(-1))
    handle(switch, c, CallOut("+1002", 1))  # b is in a call: its voice takes a waiting call
    assert b.got == [IncomingCall("+1001", -1), IncomingCall("+1003", -2)]
    assert c.got == [FarEndRinging(1)]
    handle(switch, b, CallAnswered(-2))
    assert c.got[-1] == FarEndAnswered(1)
    handle(switch, b, CallTransfer(-1, -2))  # AT+CHLD=4: a and c talk to each other
    handle(switch, a, CallEnded(1))
    assert c.got[-1] == CallerHangup(1)
    assert len(b.got) == 2


def test_a_modem_that_goes_away_hangs_up_its_calls() -> None:
    switch, loop, (a, b, c) = fleet("+1001", "+1002", "+1003")
    handle(switch, a, CallOut("+1002", 1))
    handle(switch, c, CallOut("+1002", 2))
    switch.unregister(b)  # type: ignore[arg-type]
    loop.run()
    assert a.got[-1] == CallerHangup(1) and c.got[-1] == CallerHangup(2)
