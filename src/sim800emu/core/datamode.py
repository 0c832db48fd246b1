"""Transparent data mode (CIPMODE=1): the serial stream becomes the link.

Two rules live here and nowhere else:

* packing (CIPCCFG): bytes leave when ``SendSz`` have gathered, or after
  ``WaitTm`` x 200 ms without new bytes; a chunk already as large as
  ``SendSz`` leaves at once, whole (no per-byte work on the byte path);
* the escape: ``+++`` is only an escape when it comes after at least the
  guard time of silence, its ``+`` less than the guard time apart, and is
  followed by the guard time of silence; then the modem returns to command
  mode. Anything else is payload: held ``+`` are released in order, so
  nothing is lost and nothing waits longer than the guard time.

The detector works on whole chunks: only a chunk made of one to three ``+``
can start or continue an escape.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .config import ModemConfig
    from .settings import Settings


class StreamHost(Protocol):
    """What the stream needs of its owner (a ``Channel``, or the ``Modem``):
    the clock, the settings and timers."""

    @property
    def now(self) -> float: ...
    @property
    def config(self) -> ModemConfig: ...
    @property
    def settings(self) -> Settings: ...
    def start_timer(self, key: str, delay: float, action: Callable[[], None]) -> None: ...
    def cancel_timer(self, key: str) -> None: ...


class TransparentStream:
    def __init__(self, modem: StreamHost, send: Callable[[bytes], None], escape: Callable[[], None]):
        self._m = modem
        self._send = send  # hands a packet to the link
        self._on_escape = escape  # the modem switches to command mode
        self._tx = bytearray()
        self._plus_held = 0
        self._plus_time = 0.0
        self._last_in = 0.0

    def start(self) -> None:
        """Data mode begins (CONNECT): the pre-escape silence counts from now."""
        self._last_in = self._m.now

    def reset(self) -> None:
        """The link is gone: pending bytes can go nowhere."""
        self._tx.clear()
        self._plus_held = 0
        for key in ("pack", "esc", "esc-abort"):
            self._m.cancel_timer(key)

    def feed(self, chunk: bytes) -> None:
        m = self._m
        now = m.now
        guard = m.config.timing.escape_guard
        esc_on = m.settings.ccfg_esc == 1
        only_plus = not chunk.strip(b"+")
        if self._plus_held:
            if (
                esc_on
                and only_plus
                and self._plus_held + len(chunk) <= 3
                and now - self._plus_time < guard
            ):
                self._plus_held += len(chunk)
                self._plus_time = self._last_in = now
                self._arm_escape(guard)
                return
            self._release_plus()
        quiet = now - self._last_in >= guard
        self._last_in = now
        if esc_on and quiet and only_plus and len(chunk) <= 3:
            self._plus_held = len(chunk)
            self._plus_time = now
            self._arm_escape(guard)
            return
        self._queue(chunk)

    def flush(self) -> None:
        """Send what is gathered now (escape, packing timer)."""
        if self._tx:
            data = bytes(self._tx)
            self._tx.clear()
            self._send(data)
        self._m.cancel_timer("pack")

    def _arm_escape(self, guard: float) -> None:
        if self._plus_held == 3:
            self._m.cancel_timer("esc-abort")
            self._m.start_timer("esc", guard, self._escape)
        else:
            self._m.start_timer("esc-abort", guard, self._release_plus)

    def _release_plus(self) -> None:
        held, self._plus_held = self._plus_held, 0
        self._m.cancel_timer("esc")
        self._m.cancel_timer("esc-abort")
        if held:
            self._queue(b"+" * held)

    def _escape(self) -> None:
        self._plus_held = 0
        self._m.cancel_timer("esc-abort")
        self.flush()
        self._on_escape()

    def _queue(self, chunk: bytes) -> None:
        size = self._m.settings.ccfg_sendsz
        if not self._tx and len(chunk) >= size:
            self._send(chunk)
            self._m.cancel_timer("pack")
            return
        self._tx += chunk
        if len(self._tx) >= size:
            self.flush()
        else:
            self._m.start_timer("pack", self._m.settings.ccfg_waittm * 0.2, self.flush)
