"""A DLC of the multiplexer as a pty of its own: a tiny gsm0710muxd.

:class:`MuxRelay` owns the host's side of the serial line (a
:class:`cmuxpeer.Peer` over an :class:`serial_helpers.Emulator`) in a
background thread: what arrives on DLC ``dlci`` is written to a new pty,
what a program writes to that pty goes out in UIH frames on the DLC. So an
unchanged serial program (``pppbridge.py``: chat, then PPP) runs on one DLC
while the test drives the others with :meth:`MuxRelay.at`, as esp_modem runs
PPP on DLCI 1 and AT on DLCI 2. The relay is the only reader of the serial
line; frames are written whole under one lock.
"""

from __future__ import annotations

import contextlib
import os
import select
import threading
import time
import tty

from cmuxpeer import Peer


class MuxRelay:
    def __init__(self, fd: int, peer: Peer, dlci: int = 1) -> None:
        self.fd = fd  # the serial line (the emulator's pty, our end)
        self.peer = peer
        self.dlci = dlci
        self.master, slave = os.openpty()
        tty.setraw(slave)
        self.path = os.ttyname(slave)
        self._slave = slave  # kept open so the pty stays up between users
        self._write_lock = threading.Lock()
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self.error: BaseException | None = None
        self.to_pty = 0  # bytes of DLC ``dlci`` relayed each way
        self.from_pty = 0
        self._raw_write = peer.write
        peer.write = self._write  # every writer goes through the lock
        peer.keep_uih = False  # a long transfer: do not keep every data frame
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _write(self, data: bytes) -> None:
        with self._write_lock:
            self._raw_write(data)

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                ready, _, _ = select.select([self.fd, self.master], [], [], 0.1)
                if self.fd in ready:
                    with self._cond:
                        self.peer.pump(0)
                        data = self.peer.text.pop(self.dlci, None)
                        self._cond.notify_all()
                    if data:
                        view = memoryview(bytes(data))
                        while view and not self._stop.is_set():
                            n = os.write(self.master, view)
                            view = view[n:]
                        self.to_pty += len(data)
                if self.master in ready:
                    try:
                        data = os.read(self.master, 4096)
                    except OSError:
                        data = b""
                    if data:
                        self.from_pty += len(data)
                        self.peer.send(self.dlci, data)
        except BaseException as exc:  # reported by at() and stop()
            self.error = exc
            with self._cond:
                self._cond.notify_all()

    def at(self, dlci: int, line: str, expect: bytes = b"\r\nOK\r\n", timeout: float = 10.0) -> bytes:
        """A command line on another DLC; its answer up to ``expect``."""
        assert dlci != self.dlci
        self.peer.send(dlci, line.encode() + b"\r")
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                if self.error is not None:
                    raise AssertionError(f"the relay failed: {self.error!r}")
                buf = self.peer.text.setdefault(dlci, bytearray())
                at = buf.find(expect)
                if at >= 0:
                    got = bytes(buf[: at + len(expect)])
                    del buf[: at + len(expect)]
                    return got
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"DLCI {dlci}: no {expect!r} in {timeout} s; have {bytes(buf)!r}")
                self._cond.wait(min(left, 0.2))

    def stop(self) -> None:
        """The relay ends; the peer is the caller's again (unlocked writes)."""
        self._stop.set()
        self._thread.join(5)
        self.peer.write = self._raw_write
        self.peer.keep_uih = True
        for fd in (self.master, self._slave):
            with contextlib.suppress(OSError):
                os.close(fd)
        if self.error is not None:
            raise AssertionError(f"the relay failed: {self.error!r}")
