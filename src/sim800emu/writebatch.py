"""Writes gathered per turn of the event loop.

What the modems of a process write during one turn of the loop (answers on
their serial lines, data on their links) is handed to the kernel at the
start of the next turn, all together. On loopback most of what a small
send costs is waking the reader: under load a reader is then woken once
per turn instead of once per write (bench/README.md, "Scale"). With one
event per turn nothing changes but a few microseconds.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

_local = threading.local()  # (loop, flushes due): one loop per thread


def defer(flush: Callable[[], None]) -> None:
    """Call ``flush`` at the start of the running loop's next turn, after the
    flushes deferred before it; at once when no loop runs in this thread."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        flush()
        return
    state: tuple[asyncio.AbstractEventLoop, list[Callable[[], None]]] | None = getattr(
        _local, "state", None
    )
    if state is None or state[0] is not loop:  # (a loop that ended left its list behind)
        state = _local.state = (loop, [])
    due = state[1]
    if not due:
        loop.call_soon(_flush_all, due)
    due.append(flush)


def _flush_all(due: list[Callable[[], None]]) -> None:
    batch = due[:]
    due.clear()
    for flush in batch:
        try:
            flush()
        except Exception:  # one line's failure must not keep the others' bytes
            log.exception("deferred write failed")
