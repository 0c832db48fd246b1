"""A serial line over raw file descriptors (a pty master, stdin/stdout).

Reads are non-blocking, in big chunks, driven by ``loop.add_reader``.
Writes go straight to the descriptor; what does not fit is kept in an output
buffer that ``loop.add_writer`` empties. Nothing here ever blocks the loop.

A regular file or ``/dev/null`` cannot be watched that way (epoll refuses
them) but never blocks either: such a descriptor is read (or written) from
``loop.call_soon`` callbacks instead, one chunk per loop turn, until the end
of the file, which ends the line like a hang-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os

from ..runtime import SerialSink

log = logging.getLogger(__name__)

READ_CHUNK = 64 * 1024
WRITE_CHUNK = 256 * 1024

# Errors that mean the other side is gone for good (a pty whose slave side
# nobody holds open answers EIO on Linux).
_GONE = (errno.EIO, errno.EPIPE, errno.ECONNRESET, errno.EBADF, errno.ENXIO)


class FdLine:
    """A ``SerialLine`` over a read descriptor and a write descriptor (which
    may be the same). The descriptors are set non-blocking for the line's
    life; ``close`` restores their flags and closes those it owns."""

    def __init__(
        self,
        read_fd: int,
        write_fd: int,
        *,
        loop: asyncio.AbstractEventLoop,
        owns_fds: bool = False,
        read_chunk: int = READ_CHUNK,
    ) -> None:
        self.loop = loop
        self.read_fd = read_fd
        self.write_fd = write_fd
        self._owns = owns_fds
        self._read_chunk = read_chunk
        self._sink: SerialSink | None = None
        self._buf = bytearray()
        self._reading = False
        self._paused = False
        self._writing = False
        self._closed = False
        self._eof = False
        self._drained: asyncio.Event | None = None
        # Set when the loop cannot watch the descriptor (a regular file):
        # the pending call_soon that stands in for add_reader/add_writer.
        self._read_soon: asyncio.Handle | None = None
        self._write_soon: asyncio.Handle | None = None
        self._unwatchable: set[int] = set()
        self._saved_blocking: dict[int, bool] = {}
        for fd in {read_fd, write_fd}:
            self._saved_blocking[fd] = os.get_blocking(fd)
            os.set_blocking(fd, False)

    # ---------------------------------------------------------- reading

    def attach(self, sink: SerialSink) -> None:
        self._sink = sink
        self._update_reader()

    def detach(self) -> None:
        self._sink = None
        self._update_reader()

    def pause_reading(self) -> None:
        self._paused = True
        self._update_reader()

    def resume_reading(self) -> None:
        self._paused = False
        self._update_reader()

    def _update_reader(self) -> None:
        want = self._sink is not None and not self._paused and not self._closed and not self._eof
        if want and not self._reading:
            self._reading = True
            if self._watch(self.read_fd, reader=True):
                return
            self._read_soon = self.loop.call_soon(self._read_file)
        elif not want and self._reading:
            self._reading = False
            if self._read_soon is not None:
                self._read_soon.cancel()
                self._read_soon = None
            elif self.read_fd not in self._unwatchable:
                self.loop.remove_reader(self.read_fd)

    def _watch(self, fd: int, reader: bool) -> bool:
        """``add_reader``/``add_writer``; False when the loop cannot watch
        ``fd`` (a regular file, /dev/null: always ready)."""
        if fd not in self._unwatchable:
            try:
                if reader:
                    self.loop.add_reader(fd, self._on_readable)
                else:
                    self.loop.add_writer(fd, self._on_writable)
                return True
            except PermissionError:
                self._unwatchable.add(fd)
        return False

    def _read_file(self) -> None:
        self._read_soon = None
        self._on_readable()
        if self._reading and self._read_soon is None:
            self._read_soon = self.loop.call_soon(self._read_file)

    # A pty hands over at most ~4 KiB per read: gather what is already there
    # (up to this many reads) so the modem sees big chunks and the loop wakes
    # up less often.
    reads_per_wakeup = 16

    def _on_readable(self) -> None:
        chunks: list[bytes] = []
        lost: tuple[BaseException | None] | None = None
        for _ in range(self.reads_per_wakeup):
            try:
                data = os.read(self.read_fd, self._read_chunk)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as exc:
                lost = (exc,)
                break
            if not data:
                lost = (None,)
                break
            chunks.append(data)
            if len(data) < 1024:
                break  # a short read: the writer is not streaming
        sink = self._sink
        if chunks and sink is not None:
            sink.serial_received(chunks[0] if len(chunks) == 1 else b"".join(chunks))
        if lost is not None:
            self._lost(lost[0])

    def _lost(self, exc: BaseException | None) -> None:
        self._eof = True
        self._update_reader()
        sink = self._sink
        if sink is not None:
            sink.serial_closed(exc)

    # ---------------------------------------------------------- writing

    def write(self, data: bytes) -> None:
        if self._closed or not data:
            return
        if self._buf:
            self._buf += data
            return
        try:
            n = os.write(self.write_fd, data)
        except (BlockingIOError, InterruptedError):
            n = 0
        except OSError as exc:
            self._write_failed(exc)
            return
        if n < len(data):
            self._buf += memoryview(data)[n:]
            self._start_writer()

    def write_backlog(self) -> int:
        return len(self._buf)

    def _start_writer(self) -> None:
        if not self._writing and not self._closed:
            self._writing = True
            if not self._watch(self.write_fd, reader=False):
                self._write_soon = self.loop.call_soon(self._write_file)

    def _stop_writer(self) -> None:
        if self._writing:
            self._writing = False
            if self._write_soon is not None:
                self._write_soon.cancel()
                self._write_soon = None
            elif self.write_fd not in self._unwatchable:
                self.loop.remove_writer(self.write_fd)

    def _write_file(self) -> None:
        self._write_soon = None
        self._on_writable()
        if self._writing and self._write_soon is None:
            self._write_soon = self.loop.call_soon(self._write_file)

    def _on_writable(self) -> None:
        try:
            with memoryview(self._buf) as view:
                n = os.write(self.write_fd, view[:WRITE_CHUNK])
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._write_failed(exc)
            return
        del self._buf[:n]
        if not self._buf:
            self._stop_writer()
            if self._drained is not None:
                self._drained.set()
        sink = self._sink
        if sink is not None:
            sink.serial_write_progress()

    def _write_failed(self, exc: OSError) -> None:
        if exc.errno in _GONE:
            log.debug("serial write failed: %s", exc)
        else:
            log.warning("serial write failed: %s", exc)
        self._buf.clear()
        self._stop_writer()
        if self._drained is not None:
            self._drained.set()

    async def drain(self, timeout: float) -> bool:
        """Wait until everything written left the buffer (``False`` on time-out)."""
        if not self._buf or self._closed:
            return True
        self._drained = asyncio.Event()
        try:
            async with asyncio.timeout(timeout):
                await self._drained.wait()
        except TimeoutError:
            return False
        finally:
            self._drained = None
        return True

    # ---------------------------------------------------------- closing

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._sink = None
        self._update_reader()
        self._stop_writer()
        self._buf.clear()
        for fd, blocking in self._saved_blocking.items():
            with contextlib.suppress(OSError):
                os.set_blocking(fd, blocking)
        if self._owns:
            for fd in {self.read_fd, self.write_fd}:
                with contextlib.suppress(OSError):
                    os.close(fd)

    @property
    def closed(self) -> bool:
        return self._closed
