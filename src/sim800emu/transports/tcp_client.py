"""The modem as the device behind a simulator's serial socket.

``--transport tcp-client --connect HOST:PORT`` connects *out* to a TCP server
that a machine simulator offers for one of its UARTs (QEMU's
``-serial tcp:HOST:PORT,server=on,wait=off``, Renode's
``emulation CreateServerSocketTerminal``). The byte stream is the serial
line, unchanged.

The modem is one device for the life of the process, as the module on a
board is: when the simulator goes away (restarted, crashed), the line goes
quiet, what the modem says meanwhile is lost (no one listens on the UART),
and the line connects again as soon as the simulator is back, retrying with
a growing pause (0.1 s to 2 s). The modem keeps its state across it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from typing import cast

from ..runtime import SerialSink

log = logging.getLogger(__name__)

RETRY_MIN = 0.1
RETRY_MAX = 2.0


def parse_address(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[v6]:PORT`` too) → (host, port); ValueError if not."""
    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(f"{text!r} is not HOST:PORT (e.g. 127.0.0.1:4444)")
    return host, int(port)


class _Connection(asyncio.Protocol):
    def __init__(self, line: TcpClientLine) -> None:
        self.line = line
        self.transport: asyncio.Transport | None = None
        self.lost: asyncio.Future[Exception | None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # not isinstance(): uvloop's transports do not derive from asyncio's classes
        transport = cast(asyncio.Transport, transport)
        self.transport = transport
        transport.set_write_buffer_limits(high=64 * 1024, low=16 * 1024)
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.line.reading_paused:
            transport.pause_reading()
        # the line writes here from now on: on uvloop the first bytes (and the
        # modem's answer) can come before create_connection() returns
        self.line.connection_made(self)

    def data_received(self, data: bytes) -> None:
        sink = self.line.sink
        if sink is not None:
            sink.serial_received(data)

    def resume_writing(self) -> None:
        sink = self.line.sink
        if sink is not None:
            sink.serial_write_progress()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.lost.done():
            self.lost.set_result(exc)


class TcpClientLine:
    """A ``SerialLine`` that connects to ``host:port`` and keeps doing so."""

    def __init__(self, loop: asyncio.AbstractEventLoop, host: str, port: int) -> None:
        self.loop = loop
        self.host = host
        self.port = port
        self.sink: SerialSink | None = None
        self.reading_paused = False
        self.connections = 0  # how many times it got through (for status and tests)
        self.connected = asyncio.Event()
        self._conn: _Connection | None = None
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    # ---------------------------------------------------------- life cycle

    def start(self) -> None:
        if self._task is None:
            self._task = self.loop.create_task(self._keep_connected())

    async def _keep_connected(self) -> None:
        pause = RETRY_MIN
        announced = False
        while not self._closed:
            try:
                _, conn = await self.loop.create_connection(
                    lambda: _Connection(self), self.host, self.port
                )
            except OSError as exc:
                if not announced:
                    log.info("cannot reach %s:%s (%s); retrying", self.host, self.port, exc)
                    announced = True
                await asyncio.sleep(pause)
                pause = min(pause * 2, RETRY_MAX)
                continue
            pause, announced = RETRY_MIN, False  # (self._conn: set in connection_made)
            self.connections += 1
            self.connected.set()
            log.info("serial line connected to %s:%s", self.host, self.port)
            why = await conn.lost
            self._conn = None
            self.connected.clear()
            if not self._closed:
                log.info("serial line to %s:%s lost (%s); reconnecting", self.host, self.port,
                         why or "closed by the simulator")

    async def aclose(self) -> None:
        self._closed = True
        conn, self._conn = self._conn, None
        if conn is not None and conn.transport is not None:
            conn.transport.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def connection_made(self, conn: _Connection) -> None:
        self._conn = conn

    # ---------------------------------------------------------- SerialLine

    def attach(self, sink: SerialSink) -> None:
        self.sink = sink

    def detach(self) -> None:
        self.sink = None

    def write(self, data: bytes) -> None:
        conn = self._conn
        if conn is not None and conn.transport is not None and not conn.transport.is_closing():
            conn.transport.write(data)
        # else: nobody listens on the UART; the bytes are gone, as on a board

    def write_backlog(self) -> int:
        conn = self._conn
        if conn is None or conn.transport is None:
            return 0
        return conn.transport.get_write_buffer_size()

    def pause_reading(self) -> None:
        self.reading_paused = True
        conn = self._conn
        if conn is not None and conn.transport is not None and not conn.transport.is_closing():
            conn.transport.pause_reading()

    def resume_reading(self) -> None:
        self.reading_paused = False
        conn = self._conn
        if conn is not None and conn.transport is not None and not conn.transport.is_closing():
            conn.transport.resume_reading()
