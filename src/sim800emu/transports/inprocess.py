"""Modems inside the calling process, for the ``sim800://`` pyserial URL.

All in-process modems share one background thread running one asyncio loop
(no thread per modem). Each modem's serial line is a socketpair: the loop
holds one end (a ``StreamLine``), the caller gets the other end as a plain
blocking socket.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import socket
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from ..core.events import Result
from ..runtime import ModemRunner, ModemSpec
from .tcp import StreamLine

T = TypeVar("T")


class BackgroundLoop:
    """One daemon thread running an event loop, started on first use."""

    _instance: BackgroundLoop | None = None
    _lock = threading.Lock()

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._run, name="sim800emu-inprocess", daemon=True
        )
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    @classmethod
    def get(cls) -> BackgroundLoop:
        with cls._lock:
            if cls._instance is None or not cls._instance._thread.is_alive():
                cls._instance = cls()
            return cls._instance

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = 10.0) -> T:
        """Run ``coro`` on the loop and wait for its result from another thread."""
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError("cannot wait for the in-process loop from inside it")
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError("the in-process modem did not answer in time") from None


class InProcessModem:
    """One modem on the background loop; ``open`` returns the host's end of
    its serial line (a connected, blocking ``socket.socket``)."""

    def __init__(self, spec: ModemSpec, name: str = "") -> None:
        self.spec = spec
        self.name = name
        self.runner: ModemRunner | None = None
        self._line: StreamLine | None = None
        self._bg = BackgroundLoop.get()
        self._host_end: socket.socket | None = None
        self._closed = False

    def open(self) -> socket.socket:
        host_end, modem_end = socket.socketpair()
        try:
            self._bg.run(self._start(modem_end))
        except BaseException:
            host_end.close()
            modem_end.close()
            raise
        self._host_end = host_end
        _live.add(self)
        return host_end

    async def _start(self, sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        line = StreamLine()
        await loop.connect_accepted_socket(lambda: line, sock)
        runner = self.spec.create_runner(line, loop, name=self.name)
        self._line = line
        self.runner = runner
        runner.start()

    def close(self, timeout: float = 5.0) -> None:
        if self._closed:
            return
        self._closed = True
        _live.discard(self)
        if self.runner is not None or self._line is not None:
            with contextlib.suppress(TimeoutError, RuntimeError):
                self._bg.run(self._stop(), timeout)
        if self._host_end is not None:
            self._host_end.close()
            self._host_end = None

    def deliver(self, result: Result) -> None:
        """Give the modem a network event (a call, a fault) from any thread."""
        runner = self.runner
        if runner is None or self._closed:
            raise RuntimeError("the in-process modem is not running")
        self._bg.loop.call_soon_threadsafe(runner.deliver, result)

    @property
    def ringing(self) -> bool:
        """Is an incoming call ringing (the RI line of a real module is low)?"""
        voice = getattr(self.runner.modem, "voice", None) if self.runner is not None else None
        return bool(voice is not None and voice.ringing)

    async def _stop(self) -> None:
        if self.runner is not None:
            await self.runner.aclose()
        if self._line is not None:
            self._line.close()


_live: set[InProcessModem] = set()


@atexit.register
def _close_all() -> None:  # pragma: no cover - interpreter exit
    for modem in list(_live):
        modem.close(timeout=1.0)
