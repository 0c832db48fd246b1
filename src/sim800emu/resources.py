"""Running out of operating-system resources (file descriptors, buffers,
memory) without a storm on stderr.

When the process reaches its open-files limit, asyncio's accept loop reports
every failed ``accept()`` of every listener (``AT+CIPSERVER``, the TCP serial
transport, the control socket) to the loop's exception handler, with a
traceback, up to a hundred times a second. :class:`ResourceErrorLog` is that
handler: such a condition is logged as **one line**, again at most every
``interval`` seconds (with the number of repeats in between), and the
emulator keeps running; asyncio retries the accept a second later, so
connections are accepted again as soon as descriptors are free. Anything
else goes to the default handler unchanged.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import resource  # up front: imported when needed, it would need a descriptor there is none of
import time
from collections.abc import Callable
from typing import Any

__all__ = [
    "RESOURCE_ERRNOS",
    "ResourceErrorLog",
    "describe",
    "is_resource_error",
    "open_files_limit",
]

_log = logging.getLogger("sim800emu")

RESOURCE_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
"""The errors that mean "out of a system resource", not "something is wrong"."""

REPEAT_INTERVAL = 10.0
"""Seconds between two log lines about the same condition."""


def is_resource_error(exc: BaseException | None) -> bool:
    return isinstance(exc, OSError) and exc.errno in RESOURCE_ERRNOS


def open_files_limit() -> int | None:
    """The soft limit on open files (``ulimit -n``), ``None`` if unlimited."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return None if soft == resource.RLIM_INFINITY else int(soft)


def describe(exc: OSError) -> str:
    """``exc`` in one line, with the open-files limit when that is the cause."""
    text = exc.strerror or str(exc)
    if exc.errno == errno.EMFILE:
        limit = open_files_limit()
        if limit is not None:
            text += f" (the open-files limit is {limit}; raise it with ulimit -n)"
    return text


class ResourceErrorLog:
    """A loop exception handler (``loop.set_exception_handler``) that turns
    resource exhaustion into rate-limited one-line log messages."""

    def __init__(
        self,
        interval: float = REPEAT_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
        logger: logging.Logger = _log,
    ) -> None:
        self._interval = interval
        self._clock = clock
        self._logger = logger
        # condition -> (time of its last line, repeats not logged since)
        self._seen: dict[tuple[str, int, str], tuple[float, int]] = {}

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        if not is_resource_error(exc):
            loop.default_exception_handler(context)
            return
        assert isinstance(exc, OSError)
        self.report(str(context.get("message") or "I/O"), exc, _where(context))

    def report(self, what: str, exc: OSError, where: str = "") -> None:
        """Log ``exc`` for ``what`` unless the same condition was logged
        less than ``interval`` seconds ago (then only count it)."""
        key = (what, exc.errno or 0, where)
        now = self._clock()
        last = self._seen.get(key)
        if last is not None and now - last[0] < self._interval:
            self._seen[key] = (last[0], last[1] + 1)
            return
        repeats = f"; {last[1]} more since the last report" if last and last[1] else ""
        place = f" on {where}" if where else ""
        self._logger.error("%s%s: %s%s", what, place, describe(exc), repeats)
        self._seen[key] = (now, 0)


def _where(context: dict[str, Any]) -> str:
    sock = context.get("socket")
    try:
        name = sock.getsockname() if sock is not None else None
    except OSError:
        return ""
    if isinstance(name, tuple) and len(name) >= 2:
        return f"{name[0]}:{name[1]}"
    return str(name) if name else ""

