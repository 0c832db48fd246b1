"""A raw TCP serial server: every accepted connection is its own modem.

The byte stream of a connection is the serial line, unchanged (no telnet,
no RFC 2217). Connect with ``socat - TCP:127.0.0.1:PORT`` or pyserial's
``socket://127.0.0.1:PORT``. It binds 127.0.0.1 unless told otherwise.
Closing the connection stops that modem (its links are closed).

``StreamLine`` (an asyncio protocol) is the ``SerialLine`` of any stream
socket; the in-process transport uses it too.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import socket
import threading
from collections.abc import Callable
from typing import cast

from ..resources import is_resource_error
from ..runtime import ModemRunner, ModemSpec, SerialSink
from ..writebatch import defer

log = logging.getLogger(__name__)


READ_SIZE = 64 * 1024  # the largest single read from the serial socket
_scratch = threading.local()  # one read buffer per thread (its reads never interleave)


def _read_buffer() -> memoryview:
    buf: memoryview | None = getattr(_scratch, "buf", None)
    if buf is None:
        buf = _scratch.buf = memoryview(bytearray(READ_SIZE))
    return buf


class StreamLine(asyncio.BufferedProtocol):
    """A ``SerialLine`` over an asyncio stream transport.

    Buffered: a plain ``Protocol`` has asyncio allocate 256 KiB for every
    read, above malloc's mmap threshold, so every command a host sends
    mapped and unmapped a quarter megabyte (15 us of a send and receive
    that take 3 us; bench/README.md, "Scale"). The reads go to one buffer
    per thread instead (asyncio calls ``get_buffer``, reads and calls
    ``buffer_updated`` at once, so no two reads ever share it) and are
    copied out at their size.
    """

    # The transport's own limits only decide when we hear that its buffer
    # shrank (``resume_writing``); the runner applies its own thresholds.
    write_high = 64 * 1024
    write_low = 16 * 1024

    # one per modem of a fleet (bench/fleet_memory.py): no __dict__
    __slots__ = ("_lost", "_lost_exc", "_on_connected", "_out", "_paused", "_pending",
                 "_sink", "peer", "transport")

    def __init__(self, on_connected: Callable[[StreamLine], None] | None = None) -> None:
        self.transport: asyncio.Transport | None = None
        self.peer: str = ""
        self._sink: SerialSink | None = None
        self._on_connected = on_connected
        self._pending = bytearray()  # bytes that came before a sink attached
        self._paused = False
        self._lost = False
        self._lost_exc: BaseException | None = None
        self._out: bytearray | None = None  # written this loop turn, not yet sent

    # ------------------------------------------------------ asyncio protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # not isinstance(): uvloop's transports do not derive from asyncio's classes
        transport = cast(asyncio.Transport, transport)
        self.transport = transport
        transport.set_write_buffer_limits(high=self.write_high, low=self.write_low)
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple) and len(peer) >= 2:
            self.peer = f"{peer[0]}:{peer[1]}"
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self._on_connected is not None:
            self._on_connected(self)

    def get_buffer(self, sizehint: int) -> memoryview:
        return _read_buffer()

    def buffer_updated(self, nbytes: int) -> None:
        data = bytes(_read_buffer()[:nbytes])
        sink = self._sink
        if sink is not None:  # (every command a host sends: one call less)
            sink.serial_received(data)
        else:
            self.data_received(data)

    def data_received(self, data: bytes) -> None:
        sink = self._sink
        if sink is None:
            self._pending += data
            if self.transport is not None and len(self._pending) > 64 * 1024:
                self.transport.pause_reading()
            return
        sink.serial_received(data)

    def eof_received(self) -> bool | None:
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        self._lost_exc = exc
        sink = self._sink
        if sink is not None:
            sink.serial_closed(exc)

    def pause_writing(self) -> None:
        pass

    def resume_writing(self) -> None:
        sink = self._sink
        if sink is not None:
            sink.serial_write_progress()

    # ------------------------------------------------------ SerialLine

    def attach(self, sink: SerialSink) -> None:
        self._sink = sink
        if self._pending:
            data = bytes(self._pending)
            self._pending.clear()
            sink.serial_received(data)
        if self._lost:
            sink.serial_closed(self._lost_exc)
        elif self.transport is not None and not self._paused:
            self.transport.resume_reading()

    def detach(self) -> None:
        self._sink = None

    def write(self, data: bytes) -> None:
        out = self._out
        if out is not None:
            out += data
            return
        t = self.transport
        if t is None or t.is_closing():
            return
        self._out = bytearray(data)
        defer(self._send_out)  # with every other line's, once per loop turn

    def _send_out(self) -> None:
        out, self._out = self._out, None
        t = self.transport
        if out and t is not None and not t.is_closing():
            t.write(out)

    def write_backlog(self) -> int:
        t = self.transport  # (asked after every write: kept lean)
        if t is None:
            return 0
        out = self._out
        return t.get_write_buffer_size() + (len(out) if out is not None else 0)

    def pause_reading(self) -> None:
        self._paused = True
        if self.transport is not None and not self.transport.is_closing():
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        self._paused = False
        if self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()

    def close(self) -> None:
        if self.transport is not None:
            self._send_out()
            self.transport.close()


class TcpSerialServer:
    """Listens on ``host:port``; each connection gets a runner from ``spec``."""

    def __init__(self, spec: ModemSpec, host: str = "127.0.0.1", port: int = 0) -> None:
        self.spec = spec
        self.host = host
        self.port = port
        self.runners: set[ModemRunner] = set()
        self._lines: dict[ModemRunner, StreamLine] = {}
        self._server: asyncio.Server | None = None
        self._ids = itertools.count(1)
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._server = await self._loop.create_server(
            lambda: StreamLine(self._connected), self.host, self.port, backlog=1024
        )
        sock = self._server.sockets[0]
        self.port = sock.getsockname()[1]

    @property
    def address(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"tcp://{host}:{self.port}"

    def _connected(self, line: StreamLine) -> None:
        assert self._loop is not None
        index = next(self._ids)
        name = f"conn {index}"
        log.info("[%s] serial client %s connected: a new modem", name, line.peer)
        # every connection is its own device: its own IMEI, ICCID, IP, settings
        spec = self.spec.nth(index - 1)
        try:
            runner = spec.create_runner(line, self._loop, name=name, on_closed=self._finished)
        except OSError as exc:  # no descriptor left to read its settings: no modem
            if not is_resource_error(exc):
                raise
            self._loop.call_exception_handler({"message": "cannot start a modem", "exception": exc})
            line.close()
            return
        self._lines[runner] = line
        self.runners.add(runner)
        runner.start()

    def _finished(self, runner: ModemRunner) -> None:
        self.runners.discard(runner)
        line = self._lines.pop(runner, None)
        if line is not None:
            line.close()
        log.info("[%s] modem stopped", runner.name)

    async def aclose(self) -> None:
        """Stop listening and stop every modem (closing their connections)."""
        if self._server is not None:
            self._server.close()
        runners = list(self.runners)
        await asyncio.gather(*(r.aclose() for r in runners), return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None
