"""Plays a parsed transcript against a modem's serial line (transcripts/README.md, 2.5-2.8).

Design:

* One background I/O thread (:class:`_Reactor`, a ``selectors`` loop) reads
  the serial fd into the receive buffer and serves every network peer
  (accepting, receiving, echoing, flushing queued sends, closing).  All
  shared state is guarded by one :class:`threading.Condition`; the thread
  notifies it on every change, and the steps, which run in the caller's
  thread, wait on it with deadlines.  Nothing polls and nothing sleeps
  except ``~`` / ``<!`` (whose duration the transcript gives) and the retry
  cadence of ``@ connect tcp`` on a refused connection.
* Everything the modem ever sent is kept in ``_log``; the receive buffer is
  ``_log[_pos:]``, so a failure can show the last bytes the modem sent and
  which of them steps had already read.
* A failing step raises :class:`TranscriptFailure` (an ``AssertionError``)
  whose message names ``file:line``, the step, expected and actual bytes,
  the modem's recent output, the peers' state and the previous steps.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import select
import selectors
import socket
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn, TypeVar

from sim800emu.transports.pty import make_raw

from .language import (
    Accept,
    Action,
    Close,
    Connect,
    Control,
    Expect,
    ExpectSilence,
    Listen,
    PeerSend,
    Read,
    ReadLine,
    ReadRegex,
    ReservePort,
    Step,
    StepError,
    Transcript,
    Wait,
    Write,
)

__all__ = ["Player", "TranscriptFailure", "make_raw"]

T = TypeVar("T")

HOST = "127.0.0.1"
CONNECTION_WAIT = 10.0
"""Seconds ``@ NAME send`` waits for the peer's connection (section 2.8)."""
CONTEXT_BYTES = 300
"""How many of the modem's most recent bytes a failure message shows."""
FAILURE_GRACE = 0.3
"""On a mismatch, at most this long is spent collecting a little more context."""
_CONNECT_RETRY = 0.02
_LINE_END = b"\r\n"
_CR_LF = frozenset(b"\r\n")


class TranscriptFailure(AssertionError):
    """A step failed; ``str()`` is the full diagnostic."""


# --------------------------------------------------------------------------- reactor


class _Reactor:
    """A selector loop in one daemon thread; other threads hand it work with :meth:`call`."""

    def __init__(self, on_error: Callable[[str], None]) -> None:
        self._on_error = on_error
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._calls: deque[tuple[Callable[[], object], Future[object]]] = deque()
        self._lock = threading.Lock()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="transcript-io", daemon=True)
        self._thread.start()

    # Only from the reactor thread (handlers and functions passed to call()).
    def set_interest(self, fileobj: int | socket.socket, events: int, handler: object) -> None:
        """Register, modify or (``events == 0``) unregister ``fileobj``."""
        try:
            key = self._selector.get_key(fileobj)
        except (KeyError, ValueError):
            key = None
        if events == 0:
            if key is not None:
                self._selector.unregister(fileobj)
        elif key is None:
            self._selector.register(fileobj, events, handler)
        elif key.events != events or key.data is not handler:
            self._selector.modify(fileobj, events, handler)

    def call(self, fn: Callable[[], T], timeout: float = 10.0) -> T:
        """Run ``fn`` in the reactor thread and return its result."""
        if threading.current_thread() is self._thread:
            return fn()
        if not self._thread.is_alive():
            raise RuntimeError("the transcript I/O thread is not running")
        future: Future[object] = Future()
        with self._lock:
            self._calls.append((fn, future))
        with contextlib.suppress(BlockingIOError):
            os.write(self._wake_w, b"x")
        return future.result(timeout)  # type: ignore[return-value]

    def stop(self) -> None:
        if self._thread.is_alive():

            def stop() -> None:
                self._stopping = True

            with contextlib.suppress(Exception):
                self.call(stop, timeout=5.0)
            self._thread.join(5.0)
        if not self._thread.is_alive():
            self._selector.close()
            for fd in (self._wake_r, self._wake_w):
                with contextlib.suppress(OSError):
                    os.close(fd)

    def _run(self) -> None:
        while not self._stopping:
            try:
                events = self._selector.select()
            except Exception:
                self._on_error(traceback.format_exc())
                return
            for key, mask in events:
                if key.data is None:
                    self._run_calls()
                    continue
                try:
                    key.data(mask)
                except Exception:
                    self._on_error(traceback.format_exc())
                    with contextlib.suppress(Exception):
                        self._selector.unregister(key.fileobj)

    def _run_calls(self) -> None:
        with contextlib.suppress(BlockingIOError):
            while os.read(self._wake_r, 4096):
                pass
        while True:
            with self._lock:
                if not self._calls:
                    return
                fn, future = self._calls.popleft()
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn())
            except BaseException as exc:
                future.set_exception(exc)


# --------------------------------------------------------------------------- peers


@dataclass(eq=False)
class _Peer:
    name: str
    proto: str
    role: str  # "listen", "echo" or "connect"
    where: str
    echo: bool = False
    listener: socket.socket | None = None
    sock: socket.socket | None = None
    connected: bool = False
    remote: tuple[str, int] | None = None
    received: bytearray = field(default_factory=bytearray)
    matched: int = 0
    outq: deque[tuple[bytes, tuple[str, int] | None]] = field(default_factory=deque)
    eof: bool = False  # TCP: the modem closed (or reset) its side
    closing: bool = False
    closed: bool = False
    notes: list[str] = field(default_factory=list)

    def describe(self) -> str:
        state: list[str] = [f"{self.proto} {self.role} (created at line {self.where})"]
        if self.closed:
            state.append("closed")
        elif self.connected:
            state.append(
                f"connected to {self.remote[0]}:{self.remote[1]}" if self.remote else "connected"
            )
        else:
            state.append("no connection yet")
        if self.eof:
            state.append("the modem closed the connection")
        state.append(f"received {len(self.received)} bytes, {self.matched} matched by expect")
        unmatched = bytes(self.received[self.matched :])
        if unmatched:
            state.append(f"unmatched {_tail(unmatched)}")
        state.extend(self.notes[-3:])
        return f"{self.name}: " + "; ".join(state)


def _tail(data: bytes, limit: int = 120) -> str:
    if len(data) <= limit:
        return repr(data)
    return f"... {data[-limit:]!r} (last {limit} of {len(data)})"


# --------------------------------------------------------------------------- player


class Player:
    """Executes a transcript against the serial fd of a modem.

    ``fd`` must be open, non-blocking and raw; the player never closes it.
    Use as a context manager (or call :meth:`close`) so peers and the I/O
    thread are cleaned up, pass or fail.
    """

    def __init__(
        self,
        fd: int,
        transcript: Transcript,
        *,
        connection_wait: float = CONNECTION_WAIT,
        context_bytes: int = CONTEXT_BYTES,
        control: Path | None = None,
    ) -> None:
        self.fd = fd
        self.control = control  # the emulator's --control socket (for '@ ctl')
        self.transcript = transcript
        self.connection_wait = connection_wait
        self.context_bytes = context_bytes
        self.variables: dict[str, str] = {}
        self._cond = threading.Condition()
        self._log = bytearray()  # everything the modem sent
        self._pos = 0  # the receive buffer is _log[_pos:]
        self._serial_closed: str | None = None
        self._io_errors: list[str] = []
        self._peers: dict[str, _Peer] = {}
        self._cancelled: str | None = None
        self._cancel_event = threading.Event()
        self._done: list[Step] = []
        self._started = time.monotonic()
        self._step_started = self._started
        self._closed = False
        self._reactor = _Reactor(self._record_io_error)
        self._reactor.call(self._register_serial)

    # ------------------------------------------------------------ public

    def __enter__(self) -> Player:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def run(self) -> None:
        """Play every step in order; raise :class:`TranscriptFailure` at the first failure."""
        for step in self.transcript.steps:
            self.run_step(step)

    def run_step(self, step: Step) -> None:
        self._step_started = time.monotonic()
        self._check_cancelled(step)
        try:
            action = step.resolve(self.variables)
        except StepError as exc:
            self._fail(step, f"cannot interpret the step: {exc}")
        self._execute(step, action)
        self._done.append(step)

    def cancel(self, reason: str) -> None:
        """Make the running (or next) step fail at once; safe from any thread."""
        with self._cond:
            self._cancelled = reason
            self._cond.notify_all()
        self._cancel_event.set()

    def received(self) -> bytes:
        """Everything the modem has sent so far."""
        with self._cond:
            return bytes(self._log)

    def close(self) -> None:
        """Close every peer and stop the I/O thread (not the serial fd)."""
        if self._closed:
            return
        self._closed = True
        for peer in list(self._peers.values()):
            with contextlib.suppress(Exception):
                self._reactor.call(functools.partial(self._finish_close, peer), timeout=5.0)
        with contextlib.suppress(Exception):
            self._reactor.call(lambda: self._reactor.set_interest(self.fd, 0, None), timeout=5.0)
        self._reactor.stop()
        for peer in self._peers.values():  # only if the I/O thread could not do it
            for sock in (peer.sock, peer.listener):
                if sock is not None and sock.fileno() >= 0:
                    sock.close()

    # ------------------------------------------------------------ dispatch

    def _execute(self, step: Step, action: Action) -> None:
        timeout = self.transcript.timeout
        deadline = self._step_started + timeout
        if isinstance(action, Write):
            self._write(step, action.data, deadline)
        elif isinstance(action, ReadLine):
            line = self._read_line(step, deadline, expected=action.expected)
            if line != action.expected:
                self._fail(step, "wrong line", expected=action.expected, actual=line)
        elif isinstance(action, ReadRegex):
            line = self._read_line(step, deadline, expected=None)
            if action.pattern.fullmatch(line) is None:
                self._fail(
                    step,
                    f"line does not match the regex {action.pattern.pattern!r} (full match)",
                    actual=line,
                )
        elif isinstance(action, Read):
            self._read_exact(step, action.expected, deadline, skip=action.skip_line_ends)
        elif isinstance(action, ExpectSilence):
            self._expect_silence(step, action.seconds)
        elif isinstance(action, Wait):
            self._sleep(step, action.seconds)
        elif isinstance(action, Listen):
            self._listen(step, action)
        elif isinstance(action, ReservePort):
            self.variables[action.name] = str(_free_tcp_port())
        elif isinstance(action, Connect):
            self._connect(step, action, deadline)
        elif isinstance(action, Accept):
            self._accept(step, self._peer(step, action.name), deadline)
        elif isinstance(action, PeerSend):
            self._peer_send(step, self._peer(step, action.name), action.data)
        elif isinstance(action, Expect):
            self._expect(step, self._peer(step, action.name), action.data, deadline)
        elif isinstance(action, Close):
            self._close_peer(step, self._peer(step, action.name), deadline)
        elif isinstance(action, Control):
            self._control(step, action.command, deadline)
        else:  # pragma: no cover - exhaustive
            raise TypeError(action)

    # ------------------------------------------------------------ serial

    def _control(self, step: Step, command: str, deadline: float) -> None:
        """``@ ctl COMMAND``: send it on the emulator's control socket; the
        answer must be ``ok ...``. The socket may appear after the pty link."""
        from ..control import send

        if self.control is None:
            self._fail(step, "this player has no control socket (the emulator runs without --control)")
        while True:
            try:
                answer = send(self.control, command, timeout=max(0.1, deadline - time.monotonic()))
                break
            except OSError as exc:
                if time.monotonic() >= deadline:
                    self._fail(step, f"cannot reach the control socket {self.control}: {exc}")
                self._sleep(step, 0.02)
        if not answer.startswith("ok"):
            self._fail(step, f"the control channel refused {command!r}: {answer}")

    def _register_serial(self) -> None:
        self._reactor.set_interest(self.fd, selectors.EVENT_READ, self._on_serial)

    def _on_serial(self, _mask: int) -> None:
        try:
            data = os.read(self.fd, 65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            reason = (
                "the serial line was hung up (EIO: the modem closed its end or exited)"
                if exc.errno == errno.EIO
                else f"reading the serial line failed ({exc})"
            )
            self._serial_eof(reason)
            return
        if not data:
            self._serial_eof("the serial line was closed (EOF: the modem closed its end or exited)")
            return
        with self._cond:
            self._log += data
            self._cond.notify_all()

    def _serial_eof(self, reason: str) -> None:
        self._reactor.set_interest(self.fd, 0, None)
        with self._cond:
            self._serial_closed = reason
            self._cond.notify_all()

    def _write(self, step: Step, data: bytes, deadline: float) -> None:
        view = memoryview(data)
        while view:
            try:
                written = os.write(self.fd, view)
            except (BlockingIOError, InterruptedError):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self._fail(
                        step,
                        f"timed out writing to the serial line: {len(data) - len(view)} of "
                        f"{len(data)} bytes written (is the modem reading?)",
                        expected=data,
                    )
                select.select([], [self.fd], [], min(remaining, 0.5))
                continue
            except OSError as exc:
                self._fail(step, f"writing to the serial line failed: {exc}", expected=data)
            view = view[written:]

    def _skip_line_ends(self) -> None:
        log, pos = self._log, self._pos
        while pos < len(log) and log[pos] in _CR_LF:
            pos += 1
        self._pos = pos

    def _read_line(self, step: Step, deadline: float, expected: bytes | None) -> bytes:
        """Section 2.6 ``<``: skip CR/LF at the front (also while waiting), read up to CR LF.

        With ``expected`` given, fail early once the partial line can no longer
        become ``expected`` (the outcome is the same, only sooner).
        """
        with self._cond:
            while True:
                self._skip_line_ends()
                end = self._log.find(_LINE_END, self._pos)
                if end >= 0:
                    line = bytes(self._log[self._pos : end])
                    self._pos = end + 2
                    return line
                if expected is not None:
                    partial = bytes(self._log[self._pos :])
                    if partial.endswith(b"\r"):
                        partial = partial[:-1]  # that CR may begin the CR LF
                    if not expected.startswith(partial):
                        self._await(
                            lambda: self._log.find(_LINE_END, self._pos) >= 0, FAILURE_GRACE
                        )
                        end = self._log.find(_LINE_END, self._pos)
                        actual = bytes(self._log[self._pos : end if end >= 0 else len(self._log)])
                        self._fail(
                            step,
                            "wrong line" + ("" if end >= 0 else " (no CR LF after it yet)"),
                            expected=expected,
                            actual=actual,
                        )
                self._wait_or_fail(
                    step,
                    deadline,
                    "waiting for a line (CR LF)",
                    expected=expected,
                )

    def _read_exact(self, step: Step, expected: bytes, deadline: float, *, skip: bool) -> None:
        """Section 2.6 ``<<`` / ``<>``: compare as soon as enough bytes are there."""
        size = len(expected)
        with self._cond:
            while True:
                if skip:
                    self._skip_line_ends()
                have = bytes(self._log[self._pos : self._pos + size])
                if not expected.startswith(have):
                    # Already a mismatch: it fails whatever comes; wait briefly for context.
                    self._await(lambda: len(self._log) - self._pos >= size, FAILURE_GRACE)
                    self._fail(
                        step,
                        "wrong bytes",
                        expected=expected,
                        actual=bytes(self._log[self._pos : self._pos + size]),
                    )
                if len(have) == size:
                    self._pos += size
                    return
                self._wait_or_fail(
                    step,
                    deadline,
                    f"waiting for {size} bytes (have {len(have)})",
                    expected=expected,
                    actual=have,
                )

    def _expect_silence(self, step: Step, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        with self._cond:
            already = len(self._log) - self._pos
            while True:
                self._check_cancelled(step)
                if len(self._log) > self._pos:
                    self._await(lambda: False, min(FAILURE_GRACE, deadline - time.monotonic()))
                    unread = bytes(self._log[self._pos :])
                    note = (
                        f"; {already} of them were already unread when the step began"
                        if already
                        else ""
                    )
                    self._fail(
                        step,
                        f"expected nothing from the modem for {seconds:g} s, "
                        f"but it sent {len(unread)} bytes{note}",
                        actual=unread,
                    )
                if self._serial_closed is not None:
                    self._fail(step, self._serial_closed)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return
                self._cond.wait(remaining)

    def _sleep(self, step: Step, seconds: float) -> None:
        if self._cancel_event.wait(seconds):
            self._check_cancelled(step)

    # ------------------------------------------------------------ waiting helpers

    def _await(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """With the lock held: wait up to ``timeout`` for ``predicate`` (no failure)."""
        deadline = time.monotonic() + max(timeout, 0.0)
        while not predicate():
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self._cancelled is not None:
                return False
            self._cond.wait(remaining)
        return True

    def _wait_or_fail(
        self,
        step: Step,
        deadline: float,
        waiting_for: str,
        *,
        expected: bytes | None = None,
        actual: bytes | None = None,
    ) -> None:
        """With the lock held: wait for any change, or fail on timeout / EOF / cancel.

        ``waiting_for`` reads like "waiting for a line (CR LF)".
        """
        self._check_cancelled(step)
        if self._serial_closed is not None:
            self._fail(
                step,
                f"{self._serial_closed}, {waiting_for}",
                expected=expected,
                actual=actual,
            )
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            self._fail(
                step,
                f"timed out {waiting_for} after {self.transcript.timeout:g} s",
                expected=expected,
                actual=actual,
            )
        self._cond.wait(remaining)

    def _check_cancelled(self, step: Step) -> None:
        if self._cancelled is not None:
            self._fail(step, f"cancelled: {self._cancelled}")

    # ------------------------------------------------------------ peers (caller's thread)

    def _peer(self, step: Step, name: str) -> _Peer:
        peer = self._peers.get(name)
        if peer is None:
            self._fail(step, f"no peer named {name!r}")
        return peer

    def _add_peer(self, step: Step, peer: _Peer) -> None:
        if peer.name in self._peers:
            self._fail(step, f"peer {peer.name!r} already exists")
        self._peers[peer.name] = peer

    def _listen(self, step: Step, action: Listen) -> None:
        role = "echo" if action.echo else "listen"
        peer = _Peer(action.name, action.proto, role, str(step.line), echo=action.echo)
        if action.proto == "tcp":
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listener.bind((HOST, 0))
            listener.listen(8)
            listener.setblocking(False)
            peer.listener = listener
            port = listener.getsockname()[1]
            self._add_peer(step, peer)
            self._reactor.call(
                lambda: self._reactor.set_interest(
                    listener, selectors.EVENT_READ, lambda _m: self._on_accept(peer)
                )
            )
        else:
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.bind((HOST, 0))
            sock.setblocking(False)
            peer.sock = sock
            port = sock.getsockname()[1]
            self._add_peer(step, peer)
            self._reactor.call(lambda: self._update_interest(peer))
        self.variables[action.name] = str(port)

    def _connect(self, step: Step, action: Connect, deadline: float) -> None:
        peer = _Peer(action.name, action.proto, "connect", str(step.line))
        address = (HOST, action.port)
        if action.proto == "udp":
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.connect(address)
        else:
            attempts = 0
            while True:
                attempts += 1
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                sock.settimeout(max(deadline - time.monotonic(), 0.01))
                try:
                    sock.connect(address)
                    break
                except ConnectionRefusedError:
                    sock.close()
                    if time.monotonic() + _CONNECT_RETRY >= deadline:
                        self._fail(
                            step,
                            f"connection to {HOST}:{action.port} refused "
                            f"({attempts} attempts in {self.transcript.timeout:g} s)",
                        )
                    self._sleep(step, _CONNECT_RETRY)
                except OSError as exc:
                    sock.close()
                    self._fail(step, f"connecting to {HOST}:{action.port} failed: {exc!r}")
        sock.setblocking(False)
        peer.sock = sock
        peer.connected = True
        peer.remote = address
        self._add_peer(step, peer)
        self._reactor.call(lambda: self._update_interest(peer))

    def _accept(self, step: Step, peer: _Peer, deadline: float) -> None:
        with self._cond:
            while not peer.connected:
                if peer.closed:
                    self._fail(step, f"peer {peer.name} is closed")
                self._wait_or_fail(
                    step,
                    deadline,
                    "waiting for a connection"
                    if peer.proto == "tcp"
                    else "waiting for the first datagram",
                )

    def _peer_send(self, step: Step, peer: _Peer, data: bytes) -> None:
        deadline = time.monotonic() + self.connection_wait
        with self._cond:
            while not peer.connected:
                if peer.closed:
                    self._fail(step, f"peer {peer.name} is closed")
                self._check_cancelled(step)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self._fail(
                        step,
                        f"peer {peer.name} has no connection after {self.connection_wait:g} s"
                        + (
                            " (a UDP listener can only send after a datagram came in)"
                            if peer.proto == "udp"
                            else ""
                        ),
                        expected=data,
                    )
                self._cond.wait(remaining)
            if peer.closed or peer.closing:
                self._fail(step, f"peer {peer.name} is closed", expected=data)
            address = peer.remote if peer.proto == "udp" and peer.role != "connect" else None
        self._reactor.call(lambda: self._queue(peer, data, address))

    def _expect(self, step: Step, peer: _Peer, expected: bytes, deadline: float) -> None:
        size = len(expected)
        with self._cond:
            while True:
                have = bytes(peer.received[peer.matched : peer.matched + size])
                if not expected.startswith(have):
                    self._await(lambda: len(peer.received) - peer.matched >= size, FAILURE_GRACE)
                    self._fail(
                        step,
                        f"peer {peer.name} received wrong bytes",
                        expected=expected,
                        actual=bytes(peer.received[peer.matched : peer.matched + size]),
                    )
                if len(have) == size:
                    peer.matched += size
                    return
                if peer.eof or peer.closed:
                    why = "the modem closed the connection" if peer.eof else "the peer is closed"
                    self._fail(
                        step,
                        f"peer {peer.name} got only {len(have)} of {size} bytes and {why}",
                        expected=expected,
                        actual=have,
                    )
                self._wait_or_fail(
                    step,
                    deadline,
                    f"waiting for peer {peer.name} to receive {size} bytes (it has {len(have)})",
                    expected=expected,
                    actual=have,
                )

    def _close_peer(self, step: Step, peer: _Peer, deadline: float) -> None:
        self._reactor.call(lambda: self._begin_close(peer))
        with self._cond:
            while not peer.closed:
                self._check_cancelled(step)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
        if not peer.closed:
            pending = sum(len(d) for d, _ in peer.outq)
            self._reactor.call(lambda: self._finish_close(peer))
            self._fail(
                step, f"peer {peer.name}: {pending} queued bytes could not be sent before closing"
            )

    # ------------------------------------------------------------ peers (reactor thread)

    def _update_interest(self, peer: _Peer) -> None:
        sock = peer.sock
        if sock is None or peer.closed:
            return
        events = 0
        if not peer.eof:
            events |= selectors.EVENT_READ
        if peer.outq:
            events |= selectors.EVENT_WRITE
        self._reactor.set_interest(sock, events, lambda mask: self._on_peer_io(peer, mask))

    def _on_accept(self, peer: _Peer) -> None:
        listener = peer.listener
        assert listener is not None
        try:
            conn, address = listener.accept()
        except (BlockingIOError, InterruptedError):
            return
        conn.setblocking(False)
        # Only the first connection is served: stop accepting.
        self._reactor.set_interest(listener, 0, None)
        with self._cond:
            peer.sock = conn
            peer.remote = address
            peer.connected = True
            self._cond.notify_all()
        self._update_interest(peer)

    def _on_peer_io(self, peer: _Peer, mask: int) -> None:
        if mask & selectors.EVENT_READ:
            self._peer_receive(peer)
        if mask & selectors.EVENT_WRITE or peer.outq:
            self._flush(peer)
        self._update_interest(peer)

    def _peer_receive(self, peer: _Peer) -> None:
        sock = peer.sock
        assert sock is not None
        address: tuple[str, int] | None = None
        try:
            if peer.proto == "tcp":
                data = sock.recv(65536)
            else:
                data, address = sock.recvfrom(65536)
        except (BlockingIOError, InterruptedError):
            return
        except ConnectionRefusedError:
            # UDP: an ICMP port unreachable for an earlier datagram.
            with self._cond:
                peer.notes.append("a datagram was refused (ICMP port unreachable)")
            return
        except OSError as exc:
            with self._cond:
                peer.eof = True
                peer.notes.append(f"receive error: {exc!r}")
                self._cond.notify_all()
            return
        with self._cond:
            if not data and peer.proto == "tcp":
                peer.eof = True
            else:
                peer.received += data
                if address is not None and peer.role != "connect":
                    peer.remote = address
                    peer.connected = True
            self._cond.notify_all()
        if data and peer.echo:
            self._queue(peer, data, address)

    def _queue(self, peer: _Peer, data: bytes, address: tuple[str, int] | None) -> None:
        if peer.closed:
            return
        peer.outq.append((data, address))
        self._flush(peer)
        self._update_interest(peer)

    def _flush(self, peer: _Peer) -> None:
        sock = peer.sock
        while peer.outq and sock is not None:
            data, address = peer.outq[0]
            try:
                sent = sock.sendto(data, address) if address is not None else sock.send(data)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as exc:
                with self._cond:
                    peer.notes.append(
                        f"send error: {exc!r}; {sum(len(d) for d, _ in peer.outq)} bytes dropped"
                    )
                    peer.outq.clear()
                    self._cond.notify_all()
                break
            if peer.proto == "tcp" and sent < len(data):
                peer.outq[0] = (data[sent:], address)
            else:
                peer.outq.popleft()
        if peer.closing and not peer.outq:
            self._finish_close(peer)

    def _begin_close(self, peer: _Peer) -> None:
        peer.closing = True
        self._flush(peer)

    def _finish_close(self, peer: _Peer) -> None:
        if peer.closed:
            return
        sock, listener = peer.sock, peer.listener
        if sock is not None:
            self._reactor.set_interest(sock, 0, None)
            if peer.proto == "tcp":
                # Read what is pending so close() does not turn into a reset.
                with contextlib.suppress(OSError):
                    while chunk := sock.recv(65536):
                        with self._cond:
                            peer.received += chunk
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        if listener is not None:
            self._reactor.set_interest(listener, 0, None)
            listener.close()
        with self._cond:
            peer.closed = True
            peer.outq.clear()
            self._cond.notify_all()

    def _record_io_error(self, text: str) -> None:
        with self._cond:
            self._io_errors.append(text)
            self._cond.notify_all()

    # ------------------------------------------------------------ failure messages

    def _fail(
        self,
        step: Step,
        problem: str,
        *,
        expected: bytes | None = None,
        actual: bytes | None = None,
    ) -> NoReturn:
        raise TranscriptFailure(self.describe_failure(step, problem, expected, actual))

    def describe_failure(
        self,
        step: Step,
        problem: str,
        expected: bytes | None = None,
        actual: bytes | None = None,
    ) -> str:
        now = time.monotonic()
        lines = [f"{step.where}: {problem}", f"  step:     {step.source}"]
        resolved = step.resolved_source(self.variables)
        if resolved != step.source:
            lines.append(f"  resolved: {resolved}")
        if expected is not None:
            lines.append(f"  expected: {expected!r}")
        if actual is not None:
            lines.append(f"  actual:   {actual!r}")
            if expected is not None:
                lines.append(f"            {_first_difference(expected, actual)}")
        lines.append(
            f"  time:     {now - self._step_started:.2f} s into the step, "
            f"{now - self._started:.2f} s into the transcript "
            f"(step timeout {self.transcript.timeout:g} s)"
        )
        with self._cond:
            log = bytes(self._log)
            pos = self._pos
            serial_closed = self._serial_closed
            io_errors = list(self._io_errors)
            peers = [peer.describe() for peer in self._peers.values()]
        start = max(0, len(log) - self.context_bytes)
        lines.append(
            f"  modem output: {len(log)} bytes in all, {len(log) - pos} unread; "
            f"last {len(log) - start} bytes:"
        )
        if start < pos:
            lines.append(f"    read:   {log[start:pos]!r}")
        lines.append(f"    unread: {log[max(start, pos) :]!r}")
        if serial_closed is not None:
            lines.append(f"  serial line: {serial_closed}")
        if peers:
            lines.append("  peers:")
            lines.extend(f"    {text}" for text in peers)
        if self.variables:
            values = ", ".join(f"{{{k}}}={v}" for k, v in self.variables.items())
            lines.append(f"  variables: {values}")
        if self._done:
            lines.append("  previous steps:")
            lines.extend(f"    {s.line:4d}  {s.source}" for s in self._done[-6:])
        for text in io_errors:
            lines.append("  I/O thread error:")
            lines.extend(f"    {row}" for row in text.rstrip().splitlines())
        return "\n".join(lines)


def _first_difference(expected: bytes, actual: bytes) -> str:
    for index, (a, b) in enumerate(zip(expected, actual, strict=False)):
        if a != b:
            return (
                f"(first difference at byte {index}: expected {expected[index : index + 1]!r}, "
                f"got {actual[index : index + 1]!r})"
            )
    if len(actual) < len(expected):
        return f"(actual is a {len(actual)}-byte prefix of the {len(expected)} expected)"
    if len(actual) > len(expected):
        return f"(actual has {len(actual) - len(expected)} bytes more than expected)"
    return "(equal)"


def _free_tcp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port
