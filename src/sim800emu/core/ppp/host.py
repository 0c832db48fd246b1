"""What the PPP objects need from the modem that holds them.

``Modem`` satisfies it; tests give a fake with a fake clock.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from ..events import Request, Result


class PppHost(Protocol):
    now: float  # monotonic seconds, advanced by the driver

    def start_timer(self, key: str, delay: float, action: Callable[[], None]) -> None:
        """Call ``action`` after ``delay`` s; a running ``key`` is replaced."""

    def cancel_timer(self, key: str) -> None: ...

    def new_sock(self) -> int:
        """A fresh socket id for a ``Connect`` request."""

    def own_sock(self, sock: int, owner: Callable[[Result], None]) -> None:
        """Results about ``sock`` go to ``owner``."""

    def disown_sock(self, sock: int) -> None: ...

    def new_query(self) -> int:
        """A fresh query id for ``Resolve`` / ``Ping``."""

    def own_query(self, query: int, owner: Callable[[Result], None]) -> None:
        """The answers to ``query`` go to ``owner``."""

    def disown_query(self, query: int) -> None: ...

    def request(self, req: Request) -> None:
        """Hand a request (``Connect``, ``Send``, ``Close``, ``ReadCredit``,
        ``Resolve``, ``Ping`` ...) to the drivers."""
