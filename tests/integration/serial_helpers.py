"""A small harness for end-to-end tests against the real emulator.

* :class:`Emulator` starts ``python -m sim800emu serve`` in a subprocess
  with its own link and state directory (extra CLI arguments allowed), waits
  for the ``--link`` symlink, opens the pty raw and non-blocking, and stops
  the process with SIGTERM (SIGKILL after a grace period). With
  ``transport="tcp"`` the serial line is a connection to ``serve
  --transport tcp`` instead; :meth:`Emulator.close_line` /
  :meth:`Emulator.open_line` close and reopen the line as a host program
  does (the pty again, or a new TCP connection: a new modem).
* Reading is select-based and happens in the caller's thread:
  :meth:`Emulator.expect` (bytes or a compiled regex), :meth:`Emulator.read_exact`,
  :meth:`Emulator.read_stream` (hash a long stream without keeping it) and
  :meth:`Emulator.expect_silence`.  Everything read is consumed from one
  buffer; :attr:`Emulator.log` keeps the tail for failure messages.
  :meth:`Emulator.write_all` may run in another thread at the same time
  (one reader thread and one writer thread on the same fd is safe).
* :class:`TcpServer` / :class:`UdpServer`: local peers on 127.0.0.1 with
  ephemeral ports, each connection served by background threads that
  record what arrives (or only hash it, for bulk transfers);
  :meth:`Conn.wait_acknowledged` waits until the modem's TCP has
  acknowledged all that was sent, :meth:`Conn.reset` closes with RST.
* :class:`MuxStream` parses multi-link output into events
  (``+RECEIVE`` blocks, lines, ``> `` prompts).

Nothing sleeps for luck: every wait is on a condition with a deadline.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.util
import os
import re
import select
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sim800emu.transports.pty import make_raw

HOST = "127.0.0.1"
START_TIMEOUT = 15.0
STOP_TIMEOUT = 5.0
DEFAULT_TIMEOUT = 10.0
LOG_TAIL = 600


HAVE_UVLOOP = importlib.util.find_spec("uvloop") is not None
LOOPS = [
    pytest.param("asyncio"),
    pytest.param("uvloop", marks=pytest.mark.skipif(
        not HAVE_UVLOOP, reason="uvloop is not installed (pip install 'sim800emu[uvloop]')")),
]
"""``serve --loop`` values to run a test under: ``@pytest.mark.parametrize("loop", LOOPS)``."""


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A port that was free on 127.0.0.1 a moment ago."""
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


class Emulator:
    """One ``sim800emu serve`` subprocess and its serial line."""

    def __init__(
        self,
        *args: str,
        workdir: Path | None = None,
        dns: bool = True,
        transport: str = "pty",
    ) -> None:
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if workdir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="sim800e2e-")
            workdir = Path(self._tmp.name)
        workdir.mkdir(parents=True, exist_ok=True)
        self.workdir = workdir
        self.transport = transport
        self.link = workdir / "modem"
        self.tcp_port = 0  # the serial server's port (transport "tcp")
        self.stderr_path = workdir / "stderr.txt"
        cmd = [sys.executable, "-m", "sim800emu", "serve"]
        if transport == "tcp":
            cmd += ["--transport", "tcp"]
        else:
            cmd += ["--link", str(self.link)]
        cmd += ["--state-dir", str(workdir / "state")]
        if dns:
            cmd += ["--dns-offline", "--host", "echo.test=127.0.0.1"]
        cmd += list(args)
        self.cmd = cmd
        self._stderr = open(self.stderr_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=self._stderr, stderr=self._stderr
        )
        self.fd = -1
        self.buf = bytearray()
        self.log = bytearray()  # the tail of everything read, for messages
        self.total_read = 0
        try:
            if transport == "tcp":
                self._wait_for_tcp_port()
            else:
                self._wait_for_link()
            self.open_line()
        except BaseException:
            self.stop()
            raise

    # ------------------------------------------------------------ lifecycle

    def __enter__(self) -> Emulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _wait_for_link(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while not self.link.exists():
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"the emulator exited with {self.proc.returncode} before creating "
                    f"its link:\n{self.stderr_tail()}"
                )
            if time.monotonic() > deadline:
                raise RuntimeError(f"no {self.link} after {START_TIMEOUT} s:\n{self.stderr_tail()}")
            time.sleep(0.01)  # polling a file system condition

    def _wait_for_tcp_port(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            m = re.search(r"serial port tcp://[^\s]+:(\d+)", self.stderr_tail(100_000))
            if m:
                self.tcp_port = int(m.group(1))
                return
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"the emulator exited with {self.proc.returncode} before listening:\n"
                    f"{self.stderr_tail()}"
                )
            if time.monotonic() > deadline:
                raise RuntimeError(f"no serial port after {START_TIMEOUT} s:\n{self.stderr_tail()}")
            time.sleep(0.01)  # polling the emulator's stderr file

    def open_line(self) -> None:
        """Open the serial line: the pty (raw, non-blocking) or, with the TCP
        transport, a new connection (a new modem)."""
        assert self.fd < 0, "the serial line is open"
        if self.transport == "tcp":
            sock = socket.create_connection((HOST, self.tcp_port), timeout=START_TIMEOUT)
            sock.setblocking(False)
            self.fd = sock.detach()  # os.read/os.write/select work on the descriptor
        else:
            self.fd = os.open(self.link, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
            make_raw(self.fd)

    def close_line(self, forget: bool = True) -> None:
        """Close the serial line (the emulator goes on). With ``forget`` what
        was read and not yet consumed is dropped, as when the host program
        exits; without, it stays (the same program opens the port again)."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        if forget:
            self.buf.clear()

    def stop(self) -> int | None:
        """Close the serial fd, SIGTERM the emulator (SIGKILL after a grace period)."""
        if self.fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = -1
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(STOP_TIMEOUT)
        if not self._stderr.closed:
            self._stderr.close()
        if self._tmp is not None:
            with contextlib.suppress(OSError):
                self._tmp.cleanup()
            self._tmp = None
        return self.proc.returncode

    def stderr_tail(self, limit: int = 3000) -> str:
        with contextlib.suppress(OSError):
            self._stderr.flush()
        try:
            text = self.stderr_path.read_text(errors="replace")
        except OSError as exc:
            return f"(no stderr: {exc})"
        return text[-limit:]

    def rss_kib(self) -> int:
        """The emulator's resident set size (VmRSS) in KiB."""
        with open(f"/proc/{self.proc.pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise RuntimeError("no VmRSS line")

    # ------------------------------------------------------------ writing

    def write_all(self, data: bytes, timeout: float = DEFAULT_TIMEOUT) -> None:
        """Write every byte (waiting for the pty to take them); safe from another thread."""
        view = memoryview(data)
        deadline = time.monotonic() + timeout
        while view:
            try:
                n = os.write(self.fd, view[:65536])
            except (BlockingIOError, InterruptedError):
                n = 0
            if n:
                view = view[n:]
                continue
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(
                    f"the pty did not take {len(view)} more bytes within {timeout} s"
                )
            select.select([], [self.fd], [], min(left, 0.5))

    def send(self, line: str | bytes, timeout: float = DEFAULT_TIMEOUT) -> None:
        """A command line: ``send("AT")`` writes ``AT\\r``."""
        data = line.encode() if isinstance(line, str) else line
        self.write_all(data + b"\r", timeout)

    # ------------------------------------------------------------ reading

    def _fill(self, timeout: float, limit: int = 1 << 20) -> int:
        """Read what is there (waiting at most ``timeout``); return the byte count."""
        ready, _, _ = select.select([self.fd], [], [], max(0.0, timeout))
        if not ready:
            return 0
        try:
            data = os.read(self.fd, limit)
        except (BlockingIOError, InterruptedError):
            return 0
        except OSError as exc:
            raise EOFError(f"serial line: {exc}\n{self.stderr_tail()}") from exc
        if not data:
            raise EOFError(f"serial line closed\n{self.stderr_tail()}")
        self.buf += data
        self.total_read += len(data)
        self.log += data[-LOG_TAIL:]
        if len(self.log) > 4 * LOG_TAIL:
            del self.log[: -LOG_TAIL]
        return len(data)

    def _context(self) -> str:
        return (
            f"unread buffer ({len(self.buf)} bytes): {bytes(self.buf[-LOG_TAIL:])!r}\n"
            f"last bytes read: {bytes(self.log[-LOG_TAIL:])!r}\n"
            f"emulator stderr:\n{self.stderr_tail(1500)}"
        )

    def expect(
        self, what: bytes | re.Pattern[bytes], timeout: float = DEFAULT_TIMEOUT
    ) -> bytes:
        """Wait for ``what`` (bytes or a compiled regex) and consume the buffer up
        to the end of the match; return the consumed bytes (including what
        came before the match)."""
        deadline = time.monotonic() + timeout
        while True:
            if isinstance(what, bytes):
                at = self.buf.find(what)
                end = at + len(what) if at >= 0 else -1
            else:
                m = what.search(self.buf)
                end = m.end() if m else -1
            if end >= 0:
                got = bytes(self.buf[:end])
                del self.buf[:end]
                return got
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(
                    f"timed out after {timeout} s waiting for {what!r}\n{self._context()}"
                )
            self._fill(left)

    def expect_exact(self, data: bytes, timeout: float = DEFAULT_TIMEOUT) -> None:
        """The next bytes must be exactly ``data``."""
        got = self.read_exact(len(data), timeout)
        assert got == data, f"expected {data!r}, got {got!r}\n{self._context()}"

    def read_exact(self, n: int, timeout: float = DEFAULT_TIMEOUT) -> bytes:
        deadline = time.monotonic() + timeout
        while len(self.buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(
                    f"timed out after {timeout} s: {len(self.buf)} of {n} bytes\n"
                    f"{self._context()}"
                )
            self._fill(left)
        got = bytes(self.buf[:n])
        del self.buf[:n]
        return got

    def read_stream(
        self,
        n: int,
        sink: Callable[[bytes], None],
        timeout: float = DEFAULT_TIMEOUT,
        idle_timeout: float = 10.0,
    ) -> None:
        """Feed exactly ``n`` bytes to ``sink`` in chunks, without keeping them.
        Fails after ``timeout`` in all or ``idle_timeout`` without progress."""
        deadline = time.monotonic() + timeout
        if self.buf:
            take = bytes(self.buf[:n])
            del self.buf[: len(take)]
            sink(take)
            n -= len(take)
        last = time.monotonic()
        while n > 0:
            now = time.monotonic()
            if now > deadline or now - last > idle_timeout:
                raise AssertionError(
                    f"stream stalled: {n} bytes still missing "
                    f"({'total' if now > deadline else 'idle'} timeout)\n{self._context()}"
                )
            ready, _, _ = select.select([self.fd], [], [], 0.5)
            if not ready:
                continue
            try:
                data = os.read(self.fd, min(n, 1 << 20))
            except (BlockingIOError, InterruptedError):
                continue
            if not data:
                raise EOFError("serial line closed")
            self.total_read += len(data)
            last = time.monotonic()
            sink(data)
            n -= len(data)

    def read_some(self, timeout: float) -> bytes:
        """Whatever is unread, waiting at most ``timeout`` for something
        (a byte pipe for protocol peers such as tests/integration/cmuxpeer.py)."""
        if not self.buf:
            self._fill(timeout)
        got = bytes(self.buf)
        self.buf.clear()
        return got

    def expect_silence(self, seconds: float) -> None:
        """Nothing may arrive for ``seconds`` (and nothing may be unread now)."""
        deadline = time.monotonic() + seconds
        assert not self.buf, f"unexpected bytes {bytes(self.buf)!r}"
        while (left := deadline - time.monotonic()) > 0:
            self._fill(left)
            assert not self.buf, f"unexpected bytes {bytes(self.buf)!r}\n{self._context()}"

    def drain(self, seconds: float = 0.0) -> bytes:
        """Read whatever arrives within ``seconds``; return and clear the buffer."""
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if not self._fill(max(0.0, left)) and left <= 0:
                break
        got = bytes(self.buf)
        self.buf.clear()
        return got

    # ------------------------------------------------------------ commands

    def command(self, line: str, expect: bytes = b"\r\nOK\r\n", timeout: float = DEFAULT_TIMEOUT) -> bytes:
        """Send a command line and wait for ``expect``; return the consumed bytes."""
        self.send(line)
        return self.expect(expect, timeout)

    def init(self, echo: bool = False) -> None:
        """``ATE0`` (its echo ``ATE0\\r`` still comes) and OK."""
        self.send("ATE0")
        self.expect(b"\r\nOK\r\n")
        if echo:
            self.command("ATE1")

    def bring_up(self) -> str:
        """CSTT / CIICR / CIFSR; return the IP CIFSR printed."""
        self.command('AT+CSTT="CMNET","",""')
        self.command("AT+CIICR", timeout=30)
        self.send("AT+CIFSR")
        got = self.expect(re.compile(rb"\r\n(\d+\.\d+\.\d+\.\d+)\r\n"))
        m = re.search(rb"(\d+\.\d+\.\d+\.\d+)\r\n$", got)
        assert m, got
        return m.group(1).decode()

    def listen(self, port: int) -> None:
        """A fresh modem as a server: ``ATE0``, multi-link, the context up,
        ``AT+CIPSERVER=1,port``."""
        self.init()
        self.command("AT+CIPMUX=1")
        self.bring_up()
        self.command(f"AT+CIPSERVER=1,{port}", b"SERVER OK\r\n")

    def escape(self, guard: float = 1.2) -> float:
        """``+++`` with guard times; waits for OK and returns the seconds from
        the last ``+`` to the OK."""
        wait_quiet(guard)
        self.write_all(b"+++")
        sent = time.monotonic()
        self.expect(b"\r\nOK\r\n", timeout=guard + 5)
        return time.monotonic() - sent


def wait_quiet(seconds: float) -> None:
    """A guard time: the escape sequence needs silence on the line (not luck)."""
    time.sleep(seconds)


# --------------------------------------------------------------------------- fleet


@dataclass
class Fleet:
    """A running ``serve --count N``: its ptys (open), links and control socket."""

    proc: subprocess.Popen[bytes]
    ctl: Path
    links: list[Path]
    fds: list[int]
    err: str = ""  # the process's stderr, after the stop (with ``stderr=subprocess.PIPE``)


@contextlib.contextmanager
def fleet(tmp_path: Path, count: int, stderr: int = subprocess.DEVNULL) -> Iterator[Fleet]:
    """``serve --count COUNT`` with the links ``tmp_path/modem{n}`` and the
    control socket ``tmp_path/fleet.ctl``, once every link and the socket are
    there, each pty open raw and non-blocking. Afterwards the ptys are closed
    and the process, terminated, must exit with status 0."""
    ctl = tmp_path / "fleet.ctl"
    proc = subprocess.Popen(
        [sys.executable, "-m", "sim800emu", "serve", "--count", str(count), "--link",
         str(tmp_path / "modem{n}"), "--state-dir", str(tmp_path / "state"), "--dns-offline",
         "--control", str(ctl)],
        stderr=stderr,
    )  # fmt: skip
    running = Fleet(proc, ctl, [tmp_path / f"modem{n}" for n in range(count)], [])
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not (all(p.exists() for p in running.links) and ctl.exists()):
            assert time.monotonic() < deadline, "the fleet did not come up"
            time.sleep(0.05)
        try:
            for link in running.links:
                running.fds.append(os.open(link, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK))
                make_raw(running.fds[-1])
            yield running
        finally:
            for fd in running.fds:
                os.close(fd)
    finally:
        proc.terminate()
        assert proc.wait(15) == 0
        if proc.stderr is not None:
            running.err = proc.stderr.read().decode()
            proc.stderr.close()


@contextlib.contextmanager
def tcp_serve(tmp_path: Path, *args: str) -> Iterator[int]:
    """``serve --transport tcp`` (every connection a modem of its own; extra
    ``args`` after): its port, read from the line it prints first.
    Afterwards it is terminated."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "sim800emu", "serve", "--transport", "tcp", "--state-dir",
         str(tmp_path / "state"), "--dns-offline", *args],
        stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline().decode()
        m = re.search(r"tcp://127\.0\.0\.1:(\d+)", line)
        assert m, line
        yield int(m.group(1))
    finally:
        proc.terminate()
        proc.wait(15)
        if proc.stderr is not None:
            proc.stderr.close()


# --------------------------------------------------------------------------- multi-link


@dataclass
class Event:
    kind: str  # "line" or "prompt"
    seq: int
    data: bytes = b""


RECEIVE_RE = re.compile(rb"\+RECEIVE,(\d),(\d+):\r\n")


class MuxStream:
    """Parses multi-link serial output: ``\\r\\n+RECEIVE,<n>,<len>:\\r\\n<data>``
    blocks (length-delimited, so any data), ``\\r\\n> `` prompts and lines.
    Received data is gathered per link in :attr:`received`; other events
    queue up in :attr:`events` for :meth:`wait_line` / :meth:`wait_prompt`."""

    def __init__(self, emu: Emulator) -> None:
        self.emu = emu
        self.received: dict[int, bytearray] = {n: bytearray() for n in range(6)}
        self.blocks: list[tuple[int, int, int]] = []  # (seq, link, length) per +RECEIVE
        self.events: deque[Event] = deque()  # lines and prompts not yet waited for
        self.seq = 0  # position of every parsed item in the output
        self.lines: list[bytes] = []  # every line seen, for messages

    def _parse(self) -> bool:
        """Parse one item from the buffer; False if more bytes are needed."""
        buf = self.emu.buf
        while buf[:2] == b"\r\n":
            del buf[:2]
        if not buf:
            return False
        if len(buf) < 9 and b"+RECEIVE,".startswith(bytes(buf)):
            return False  # maybe the start of a +RECEIVE header
        if buf.startswith(b"+RECEIVE,"):
            m = RECEIVE_RE.match(buf)
            if m is None:
                if len(buf) > 40 or b"\r\n" in buf:
                    raise AssertionError(f"malformed +RECEIVE header: {bytes(buf[:60])!r}")
                return False
            n, length = int(m.group(1)), int(m.group(2))
            if len(buf) < m.end() + length:
                return False
            self.received[n] += buf[m.end() : m.end() + length]
            self.seq += 1
            self.blocks.append((self.seq, n, length))
            del buf[: m.end() + length]
            return True
        if buf.startswith(b"> "):
            del buf[:2]
            self.seq += 1
            self.events.append(Event("prompt", self.seq))
            return True
        if buf[:1] == b">":
            return False
        end = buf.find(b"\r\n")
        if end < 0:
            return False
        line = bytes(buf[:end])
        del buf[: end + 2]
        self.lines.append(line)
        self.seq += 1
        self.events.append(Event("line", self.seq, line))
        return True

    def pump(self, timeout: float) -> None:
        """Parse everything buffered, then read once more (waiting up to ``timeout``)."""
        while self._parse():
            pass
        if self.emu._fill(timeout):
            while self._parse():
                pass

    def _take(self, match: Callable[[Event], bool], what: str, timeout: float) -> Event:
        deadline = time.monotonic() + timeout
        while True:
            for i, ev in enumerate(self.events):
                if match(ev):
                    del self.events[i]
                    return ev
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(
                    f"timed out waiting for {what}; pending events "
                    f"{[(e.kind, e.data) for e in self.events]}\n"
                    f"last lines {self.lines[-10:]}\n{self.emu._context()}"
                )
            self.pump(left)

    def wait_line(self, line: bytes, timeout: float = DEFAULT_TIMEOUT) -> Event:
        return self._take(lambda e: e.kind == "line" and e.data == line, repr(line), timeout)

    def wait_line_re(self, pattern: re.Pattern[bytes], timeout: float = DEFAULT_TIMEOUT) -> bytes:
        ev = self._take(
            lambda e: e.kind == "line" and pattern.fullmatch(e.data) is not None,
            pattern.pattern.decode(errors="replace"),
            timeout,
        )
        return ev.data

    def wait_prompt(self, timeout: float = DEFAULT_TIMEOUT) -> Event:
        return self._take(lambda e: e.kind == "prompt", "the '> ' prompt", timeout)

    def wait_received(self, n: int, length: int, timeout: float = DEFAULT_TIMEOUT) -> bytes:
        deadline = time.monotonic() + timeout
        while len(self.received[n]) < length:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(
                    f"link {n}: {len(self.received[n])} of {length} bytes received\n"
                    f"{self.emu._context()}"
                )
            self.pump(left)
        return bytes(self.received[n])

    def unexpected_lines(self) -> list[bytes]:
        """Lines not consumed by a wait (URCs nobody asked for)."""
        return [e.data for e in self.events if e.kind == "line"]

    def send(self, n: int, data: bytes, timeout: float = DEFAULT_TIMEOUT) -> None:
        """``AT+CIPSEND=<n>,<len>``, the prompt, the data, ``<n>, SEND OK``;
        no ``+RECEIVE`` block may come between the prompt and SEND OK (a URC
        never lands inside a response or a data block)."""
        self.emu.send(f"AT+CIPSEND={n},{len(data)}")
        prompt = self.wait_prompt(timeout)
        self.emu.write_all(data)
        done = self.wait_line(f"{n}, SEND OK".encode(), timeout)
        inside = [b for b in self.blocks if prompt.seq < b[0] < done.seq]
        assert not inside, (
            f"+RECEIVE blocks (seq, link, len) {inside} between the '> ' prompt of "
            f"link {n} and its SEND OK"
        )


# --------------------------------------------------------------------------- peers


class Conn:
    """One accepted (or connected) TCP socket with a background reader.

    With ``read=False`` nothing reads the socket (a peer that never reads);
    :meth:`start_reading` starts the reader later.  With ``hash_only`` the
    reader only hashes and counts (bulk transfers)."""

    def __init__(self, sock: socket.socket, *, read: bool = True, hash_only: bool = False) -> None:
        self.sock = sock
        self.cond = threading.Condition()
        self.data = bytearray()
        self.count = 0
        self.sha = hashlib.sha256()
        self.hash_only = hash_only
        self.eof = False
        self.error: BaseException | None = None
        self.arrivals: list[tuple[float, int]] = []  # (monotonic time, bytes) per recv
        self._reader: threading.Thread | None = None
        if read:
            self.start_reading()

    def start_reading(self) -> None:
        if self._reader is None:
            self._reader = threading.Thread(target=self._read_loop, daemon=True)
            self._reader.start()

    def _read_loop(self) -> None:
        try:
            while True:
                chunk = self.sock.recv(1 << 20)
                with self.cond:
                    if not chunk:
                        self.eof = True
                        self.cond.notify_all()
                        return
                    self.count += len(chunk)
                    self.arrivals.append((time.monotonic(), len(chunk)))
                    if self.hash_only:
                        self.sha.update(chunk)
                    else:
                        self.data += chunk
                    self.cond.notify_all()
        except OSError as exc:
            with self.cond:
                self.error = exc
                self.eof = True
                self.cond.notify_all()

    def wait_count(self, n: int, timeout: float = DEFAULT_TIMEOUT) -> bytes:
        """Wait until ``n`` bytes have arrived; return them (not in hash_only mode)."""
        with self.cond:
            ok = self.cond.wait_for(lambda: self.count >= n or self.eof, timeout)
            if self.count < n:
                raise AssertionError(
                    f"peer got {self.count} of {n} bytes "
                    f"({'EOF' if self.eof else 'timeout' if not ok else ''}; {self.error})"
                    f"; tail {bytes(self.data[-80:])!r}"
                )
            return bytes(self.data[:n])

    def wait_eof(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        with self.cond:
            assert self.cond.wait_for(lambda: self.eof, timeout), "no EOF from the modem"

    def send_all(self, data: bytes) -> None:
        self.sock.sendall(data)

    def unsent(self) -> int:
        """Bytes in this socket's send queue the other side has not acknowledged."""
        raw = fcntl.ioctl(self.sock.fileno(), termios.TIOCOUTQ, b"\0\0\0\0")  # SIOCOUTQ
        count: int = struct.unpack("i", raw)[0]
        return count

    def wait_acknowledged(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        """Wait until the other side's TCP has acknowledged every byte sent."""
        deadline = time.monotonic() + timeout
        while (left := self.unsent()) > 0:
            assert time.monotonic() < deadline, f"{left} bytes still unacknowledged"
            time.sleep(0.005)  # polling a kernel counter

    def reset(self) -> None:
        """Close abortively: SO_LINGER 0 makes the kernel send RST, not FIN.
        Only for a ``read=False`` connection: a thread blocked in ``recv``
        would keep the socket alive past ``close``."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()


def echo(conn: Conn) -> None:
    """A :class:`TcpServer` handler (with ``read=False``): send back what
    arrives until the modem closes (then ``conn.wait_eof()`` returns)."""
    with contextlib.suppress(OSError):
        while data := conn.sock.recv(65536):
            conn.sock.sendall(data)
    with conn.cond:
        conn.eof = True
        conn.cond.notify_all()


def connect(port: int, timeout: float = DEFAULT_TIMEOUT, **kwargs: bool) -> Conn:
    """A TCP client of the module's own server."""
    sock = socket.create_connection((HOST, port), timeout=timeout)
    sock.settimeout(None)
    return Conn(sock, **kwargs)


class TcpServer:
    """A listening socket on 127.0.0.1 (ephemeral port) with an accept thread.

    ``on_accept(conn)`` (optional) runs in its own thread for each
    connection; accepted :class:`Conn` objects also queue for :meth:`accept`.
    With ``accept=False`` nothing ever accepts (the kernel still completes
    up to ``backlog`` handshakes)."""

    def __init__(
        self,
        on_accept: Callable[[Conn], None] | None = None,
        *,
        read: bool = True,
        hash_only: bool = False,
        accept: bool = True,
        backlog: int = 8,
        rcvbuf: int | None = None,
    ) -> None:
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if rcvbuf is not None:
            self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.listener.bind((HOST, 0))
        self.listener.listen(backlog)
        self.port: int = self.listener.getsockname()[1]
        self.on_accept = on_accept
        self.read = read
        self.hash_only = hash_only
        self.conns: list[Conn] = []
        self.errors: list[BaseException] = []
        self.cond = threading.Condition()
        self._threads: list[threading.Thread] = []
        self._closed = False
        if accept:
            t = threading.Thread(target=self._accept_loop, daemon=True)
            t.start()
            self._threads.append(t)

    def __enter__(self) -> TcpServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _accept_loop(self) -> None:
        while True:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            conn = Conn(sock, read=self.read, hash_only=self.hash_only)
            with self.cond:
                self.conns.append(conn)
                self.cond.notify_all()
            if self.on_accept is not None:
                t = threading.Thread(target=self._serve, args=(conn,), daemon=True)
                t.start()
                self._threads.append(t)

    def _serve(self, conn: Conn) -> None:
        assert self.on_accept is not None
        try:
            self.on_accept(conn)
        except BaseException as exc:  # reported by check()
            with self.cond:
                self.errors.append(exc)
                self.cond.notify_all()

    def accept(self, index: int = 0, timeout: float = DEFAULT_TIMEOUT) -> Conn:
        """The ``index``-th accepted connection (waiting for it)."""
        with self.cond:
            assert self.cond.wait_for(lambda: len(self.conns) > index, timeout), (
                f"no connection #{index} on port {self.port}"
            )
            return self.conns[index]

    def check(self) -> None:
        """Re-raise the first error of an ``on_accept`` handler."""
        with self.cond:
            if self.errors:
                raise self.errors[0]

    def join(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        """Wait for the ``on_accept`` handlers to finish; re-raise their errors."""
        deadline = time.monotonic() + timeout
        for t in self._threads[1:]:
            t.join(max(0.0, deadline - time.monotonic()))
            assert not t.is_alive(), "a server handler did not finish"
        self.check()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        with self.cond:
            conns = list(self.conns)
        for conn in conns:
            conn.close()


class UdpServer:
    """A UDP socket on 127.0.0.1 (ephemeral port) recording datagrams."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((HOST, 0))
        self.port: int = self.sock.getsockname()[1]
        self.cond = threading.Condition()
        self.datagrams: list[bytes] = []
        self.peer: tuple[str, int] | None = None
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def __enter__(self) -> UdpServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _loop(self) -> None:
        while True:
            try:
                data, addr = self.sock.recvfrom(65536)
            except OSError:
                return
            with self.cond:
                self.datagrams.append(data)
                self.peer = addr
                self.cond.notify_all()

    def wait_bytes(self, n: int, timeout: float = DEFAULT_TIMEOUT) -> bytes:
        """Wait until the datagrams hold ``n`` bytes in all; return them joined."""
        with self.cond:
            self.cond.wait_for(lambda: sum(map(len, self.datagrams)) >= n, timeout)
            got = b"".join(self.datagrams)
        assert len(got) >= n, f"UDP peer got {len(got)} of {n} bytes: {got[-80:]!r}"
        return got

    def sendto_peer(self, data: bytes) -> None:
        assert self.peer is not None, "no datagram from the modem yet"
        self.sock.sendto(data, self.peer)

    def close(self) -> None:
        self.sock.close()


@contextlib.contextmanager
def servers(count: int, **kwargs: object) -> Iterator[list[TcpServer]]:
    """``count`` :class:`TcpServer` objects, all closed afterwards."""
    made: list[TcpServer] = []
    try:
        for _ in range(count):
            made.append(TcpServer(**kwargs))  # type: ignore[arg-type]
        yield made
    finally:
        for s in made:
            s.close()
