"""Serial pacing: a UART at N bit/s between the host and the modem.

``PacedLine`` wraps any ``SerialLine`` (a pty, a TCP connection, stdio) and
lets bytes cross it, both ways, no faster than a UART at ``bps`` bit/s with
10 bits per byte (start bit, 8 data bits, stop bit) would carry them.

Timing is computed from the loop clock, never from per-byte sleeps: a run of
bytes that starts at ``t0`` has its k-th byte complete at
``t0 + (k + 1) * 10 / bps``; the line wakes up about every ``TICK`` seconds
and releases every byte whose time has come. Late wake-ups do not
accumulate: the next release is computed from ``t0`` again, so a 10 s
transfer is as accurate as the loop's clock.

* **modem → host**: what the runner writes is queued here and handed to the
  real line at the pace. ``write_backlog`` counts the queue, so the runner's
  flow control (``pause_all`` of the network) works against the paced line.
* **host → modem**: bytes read from the real line are delivered to the
  modem at the pace. Only a few milliseconds' worth is read ahead; beyond
  that the real line is not read, so the host's writes block in the kernel,
  as they do on a real UART. ``pause_reading`` (the core's ``HoldSerial``)
  stops delivery as well.

``set_rate`` changes the rate (``AT+IPR``); bytes already released keep
their times, the next ones use the new rate.
"""

from __future__ import annotations

import asyncio
import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .runtime import SerialLine, SerialSink

BITS_PER_BYTE = 10
TICK = 0.01  # seconds between releases (about)
READ_AHEAD = 0.02  # seconds of input read from the real line before it stops being read
BAUD_RANGE = (300, 4_000_000)


class _Lane:
    """One direction: bytes waiting and the time base of the current run."""

    __slots__ = ("buf", "done", "handle", "t0")

    def __init__(self) -> None:
        self.buf = bytearray()
        self.t0 = 0.0  # when the current run of bytes started on the wire
        self.done = 0  # bytes of the current run already released
        self.handle: asyncio.TimerHandle | None = None

    def free_at(self, byte_time: float) -> float:
        """When the wire is free after what was released so far."""
        return self.t0 + self.done * byte_time

    def due(self, now: float, byte_time: float) -> int:
        """How many waiting bytes have completed by ``now``."""
        total = math.floor((now - self.t0) / byte_time + 1e-9)
        return max(0, min(len(self.buf), total - self.done))

    def cancel(self) -> None:
        if self.handle is not None:
            self.handle.cancel()
            self.handle = None


class PacedLine:
    """A ``SerialLine`` at ``bps`` bit/s over another ``SerialLine``."""

    def __init__(self, inner: SerialLine, loop: asyncio.AbstractEventLoop, bps: int) -> None:
        self.inner = inner
        self.loop = loop
        self._sink: SerialSink | None = None
        self._tx = _Lane()
        self._rx = _Lane()
        self._paused = False  # the runner asked us not to deliver input
        self._inner_paused = False
        self._closed = False
        self.bps = bps
        self._byte_time = BITS_PER_BYTE / bps
        self._pending_rate = 0  # set_rate waiting for the output to leave

    # ---------------------------------------------------------- the rate

    @property
    def pending_rate(self) -> int:
        """The rate set to apply once the output has left (0: none)."""
        return self._pending_rate

    @property
    def bytes_per_second(self) -> float:
        return self.bps / BITS_PER_BYTE

    def set_rate(self, bps: int) -> None:
        """Run at ``bps`` once what waits for the host has left (an answer
        is sent at the rate it was given at; what was released keeps its
        time)."""
        if self._tx.buf:
            self._pending_rate = bps
            return
        self._pending_rate = 0
        if bps == self.bps:
            return
        for lane in (self._tx, self._rx):
            lane.t0 = lane.free_at(self._byte_time)  # the next byte starts there
            lane.done = 0
        self.bps = bps
        self._byte_time = BITS_PER_BYTE / bps
        if self._tx.buf:
            self._tx.cancel()
            self._schedule(self._tx, self._pump_tx)
        if self._rx.buf and not self._paused:
            self._rx.cancel()
            self._schedule(self._rx, self._pump_rx)

    def _batch(self, lane: _Lane) -> int:
        return max(1, min(len(lane.buf), int(self.bytes_per_second * TICK)))

    def _start(self, lane: _Lane) -> None:
        """A run starts: when the wire is next free, not before now."""
        lane.t0 = max(self.loop.time(), lane.free_at(self._byte_time))
        lane.done = 0

    def _schedule(self, lane: _Lane, pump: object) -> None:
        assert callable(pump)
        at = lane.t0 + (lane.done + self._batch(lane)) * self._byte_time
        lane.handle = self.loop.call_at(at, pump)

    # ---------------------------------------------------------- modem -> host

    def write(self, data: bytes) -> None:
        if self._closed or not data:
            return
        tx = self._tx
        if not tx.buf and tx.handle is None:
            self._start(tx)
        tx.buf += data
        if tx.handle is None:
            self._schedule(tx, self._pump_tx)

    def _pump_tx(self) -> None:
        tx = self._tx
        tx.handle = None
        n = tx.due(self.loop.time(), self._byte_time)
        if n:
            chunk = bytes(tx.buf[:n])
            del tx.buf[:n]
            tx.done += n
            self.inner.write(chunk)
        if tx.buf:
            self._schedule(tx, self._pump_tx)
        elif self._pending_rate:
            self.set_rate(self._pending_rate)
        if n and self._sink is not None:
            self._sink.serial_write_progress()

    def write_backlog(self) -> int:
        return len(self._tx.buf) + self.inner.write_backlog()

    # ---------------------------------------------------------- host -> modem

    def attach(self, sink: SerialSink) -> None:
        self._sink = sink
        self.inner.attach(self)

    def detach(self) -> None:
        self._sink = None
        self._tx.cancel()
        self._rx.cancel()
        self.inner.detach()

    def pause_reading(self) -> None:
        self._paused = True
        self._rx.cancel()
        self._update_inner()

    def resume_reading(self) -> None:
        if not self._paused:
            return
        self._paused = False
        if self._rx.buf:
            self._start(self._rx)
            self._schedule(self._rx, self._pump_rx)
        self._update_inner()

    def _read_ahead(self) -> int:
        return max(16, int(self.bytes_per_second * READ_AHEAD))

    def _update_inner(self) -> None:
        want_paused = self._paused or len(self._rx.buf) >= self._read_ahead()
        if want_paused != self._inner_paused:
            self._inner_paused = want_paused
            if want_paused:
                self.inner.pause_reading()
            else:
                self.inner.resume_reading()

    # the real line's SerialSink side

    def serial_received(self, data: bytes) -> None:
        if self._closed or not data:
            return
        rx = self._rx
        if not rx.buf and rx.handle is None:
            self._start(rx)
        rx.buf += data
        if rx.handle is None and not self._paused:
            self._schedule(rx, self._pump_rx)
        self._update_inner()

    def _pump_rx(self) -> None:
        rx = self._rx
        rx.handle = None
        if self._paused:
            return
        n = rx.due(self.loop.time(), self._byte_time)
        if n:
            chunk = bytes(rx.buf[:n])
            del rx.buf[:n]
            rx.done += n
        if rx.buf:
            self._schedule(rx, self._pump_rx)
        self._update_inner()
        if n and self._sink is not None:
            self._sink.serial_received(chunk)

    def serial_write_progress(self) -> None:
        if self._sink is not None:
            self._sink.serial_write_progress()

    def serial_closed(self, exc: BaseException | None) -> None:
        if self._sink is not None:
            self._sink.serial_closed(exc)


def parse_baud(text: str) -> int:
    """A ``--baud`` value: bits per second (``0``: not paced)."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value != 0 and not BAUD_RANGE[0] <= value <= BAUD_RANGE[1]:
        raise ValueError(
            f"{text!r} is not a baud rate ({BAUD_RANGE[0]}-{BAUD_RANGE[1]} bit/s, or 0 for "
            "host speed)"
        )
    return value
