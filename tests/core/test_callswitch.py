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
    busy: bool = False

    @property
    def modem(self) -> Any:
        return SimpleNamespace(config=SimpleNamespace(identity=SimpleNamespace(msisdn=self.msisdn)),
                               voice=SimpleNamespace(busy=self.busy))

    def deliver(self, result: object) -> None:
        self.got.append(result)


def fleet(*numbers: str) -> tuple[CallSwitch, Loop, list[Runner]]:
    loop = Loop()
    switch = CallSwitch()
    runners = [Runner(n, loop) for n in numbers]
    for r in runners:
        switch.register(r)  # type: ignore[arg-type]
    return switch, loop, runners


def test_a_call_between_two_modems() -> None:
    switch, loop, (a, b) = fleet("+8613800000001", "+8613800000002")
    switch.handle(a, CallOut("8613800000002"))  # type: ignore[arg-type]
    loop.run()
    assert b.got == [IncomingCall("+8613800000001")]
    assert a.got == [FarEndRinging()]
    switch.handle(b, CallAnswered())  # type: ignore[arg-type]
    loop.run()
    assert a.got[-1] == FarEndAnswered()
    switch.handle(b, CallEnded())  # type: ignore[arg-type]
    loop.run()
    assert a.got[-1] == CallerHangup()
    switch.handle(a, CallEnded())  # type: ignore[arg-type]  (a's end after the NO CARRIER)
    loop.run()
    assert b.got[-1] == IncomingCall("+8613800000001")  # nothing more for b


def test_busy_unknown_and_closing() -> None:
    switch, loop, (a, b, c) = fleet("+1001", "+1002", "+1003")
    switch.handle(a, CallOut("+1002"))  # type: ignore[arg-type]
    switch.handle(c, CallOut("+1002"))  # type: ignore[arg-type]
    loop.run()
    assert c.got == [FarEndBusy()]
    switch.handle(c, CallOut("+9999"))  # type: ignore[arg-type]  (not a modem: left alone)
    loop.run()
    assert c.got == [FarEndBusy()]
    c.closing = True
    switch.handle(a, CallEnded())  # type: ignore[arg-type]
    switch.handle(b, CallOut("+1003"))  # type: ignore[arg-type]
    loop.run()
    assert b.got == [IncomingCall("+1001"), CallerHangup()]


def test_a_modem_in_a_simulated_call_is_busy() -> None:
    switch, loop, (a, b) = fleet("+1001", "+1002")
    b.busy = True
    switch.handle(a, CallOut("+1002"))  # type: ignore[arg-type]
    loop.run()
    assert a.got == [FarEndBusy()] and b.got == []
