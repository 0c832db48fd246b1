"""The narrow part of the modem that a family's subsystem (voice, USSD)
talks to: print unsolicited lines and result codes, start and cancel timers,
finish a pending command. ``Modem`` provides it; a subsystem's own tests can
give a fake one. Nothing here does I/O: timers are requests, output is queued.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from .charset import TeCharset
from .events import Request
from .registry import CommandError
from .settings import Settings


class Host(Protocol):
    charset: TeCharset
    settings: Settings  # read only: S0 (auto-answer) ...

    def urc(self, text: str) -> None:
        """An unsolicited line (held back while the line is busy)."""

    def urc_code(self, code: str) -> None:
        """An unsolicited result code (RING, NO CARRIER ...): like a final
        result code (digits with ATV0, nothing with ATQ1), held back like a URC."""

    def info(self, *lines: str) -> None:
        """Information text of the running (pending) command."""

    def complete(self, error: CommandError | None = None, code: str | None = None) -> None:
        """The pending command finished: ``code`` (BUSY, NO CARRIER ...) or
        ``error`` ends its line, else OK and the rest of the line runs."""

    def delay(self, name: str) -> float:
        """The simulated delay ``name`` (a ``Timing`` field; core/timing.py)."""

    def request(self, req: Request) -> None:
        """A request for the drivers (the call switch ...)."""

    def start_timer(self, key: str, delay: float, action: Callable[[], None]) -> None: ...

    def cancel_timer(self, key: str) -> None: ...
