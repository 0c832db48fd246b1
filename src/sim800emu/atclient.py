"""A small AT client: the host side of a serial line, as device firmware sees it.

It speaks to any connected stream socket (the host end of an in-process
modem, ``sim800emu.transports.inprocess``): under Locust that socket is a
gevent socket, so every wait is cooperative; in plain Python it is an
ordinary blocking socket. No threads, no asyncio: the client only reads when
asked to, and keeps what it read but was not asked for (URCs, pushed data)
for later.

    client = AtClient(sock)
    client.at("ATE0")
    client.at('AT+CIPSTART="TCP","127.0.0.1",5000', expect="CONNECT OK")
    client.send(b"hello")              # AT+CIPSEND=5, '>', data, SEND OK
    client.receive(until=b"\\n")        # +IPD,<n>: pushes (AT+CIPHEAD=1)

Every command (or group of commands in ``phase``) can be reported to an
observer with its name, duration, size and error: the Locust user
(``sim800emu.locust``) turns these into Locust request events.
"""

from __future__ import annotations

import contextlib
import re
import socket
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

# final result lines that end a command in failure
FAILURES = (
    "ERROR",
    "+CME ERROR",
    "+CMS ERROR",
    "CONNECT FAIL",
    "SEND FAIL",
    "ALREADY CONNECT",
    "NO CARRIER",
    "BUSY",
    "NO ANSWER",
    "NO DIALTONE",
)
MAX_SEND = 1460  # AT+CIPSEND's largest block (AT+CIPSEND? answers 1460)

_IPD = re.compile(rb"\+(?:IPD|RECEIVE),(?:(\d+),)?(\d+)(?:,[^:\r\n]*)?:")
_RXGET2 = re.compile(rb"\+CIPRXGET: 2,(?:\d+,)?(\d+),(\d+)\r\n")

# lines that end a command themselves (no OK follows them)
_TERMINAL = re.compile(r"(\d+, )?(OK|CONNECT OK|SEND OK|CLOSE OK|SHUT OK|DATA ACCEPT|CONNECT)")
_NO_OK = {"AT+CIFSR"}  # answers its address alone

Expect = str | re.Pattern[str]
# observer(name, seconds, size, error or None)
Observer = Callable[[str, float, int, "BaseException | None"], None]


class AtError(Exception):
    """A command failed: an error result, an unexpected answer or a timeout."""

    def __init__(self, command: str, message: str, lines: list[str] | None = None) -> None:
        super().__init__(f"{command}: {message}")
        self.command = command
        self.lines = lines or []


class AtTimeout(AtError):
    pass


@dataclass
class _Phase:
    name: str
    start: float
    size: int = 0


@dataclass
class AtClient:
    """Firmware's view of the modem: commands, prompts, data and URCs."""

    sock: socket.socket
    timeout: float = 10.0  # default wait for an answer, seconds
    observer: Observer | None = None
    urcs: deque[str] = field(default_factory=deque)  # lines seen but not asked for
    data: bytearray = field(default_factory=bytearray)  # +IPD payloads not yet received
    _buf: bytearray = field(default_factory=bytearray)
    _phase: _Phase | None = None

    # ------------------------------------------------------------ reading

    def _fill(self, deadline: float, command: str) -> None:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AtTimeout(command, "no answer in time")
        self.sock.settimeout(left)
        try:
            chunk = self.sock.recv(65536)
        except TimeoutError:
            raise AtTimeout(command, "no answer in time") from None
        except OSError as exc:
            raise AtError(command, f"serial line failed: {exc}") from None
        if not chunk:
            raise AtError(command, "the serial line closed")
        if self._phase is not None:
            self._phase.size += len(chunk)
        self._buf += chunk

    def _take_pushed(self) -> bool:
        """Move a complete ``+IPD,<n>:<data>`` at the head of the buffer to
        ``data``. True if it did."""
        m = _IPD.match(self._buf)
        if m is None:
            return False
        n = int(m.group(2))
        if len(self._buf) < m.end() + n:
            return False
        self.data += self._buf[m.end():m.end() + n]
        del self._buf[:m.end() + n]
        return True

    def _line(self, deadline: float, command: str, *, prompt: bool = False) -> str:
        """The next line (without CRLF, blank lines skipped); ``prompt``: a
        ``>`` prompt counts as a line. Pushed data goes to ``data``."""
        while True:
            while self._buf[:2] == b"\r\n":
                del self._buf[:2]
            if self._buf.startswith((b"+IPD,", b"+RECEIVE,")):
                if _IPD.match(self._buf) is not None:
                    if not self._take_pushed():
                        self._fill(deadline, command)
                    continue
                if b"\r\n" not in self._buf and b":" not in self._buf:
                    self._fill(deadline, command)
                    continue
            if prompt and self._buf.startswith(b"> "):
                del self._buf[:2]
                return ">"
            end = self._buf.find(b"\r\n")
            if end >= 0:
                line = self._buf[:end].decode("latin-1").rstrip("\r")
                del self._buf[:end + 2]
                return line
            self._fill(deadline, command)

    # ------------------------------------------------------------ commands

    def write(self, data: bytes) -> None:
        if self._phase is not None:
            self._phase.size += len(data)
        self.sock.sendall(data)

    def at(
        self,
        command: str,
        expect: Expect = "OK",
        *,
        timeout: float | None = None,
        phase: str | None = None,
    ) -> list[str]:
        """Send ``command`` and wait for a line matching ``expect`` (a prefix,
        or a regular expression matched from the line's start). Returns the
        lines before it (echo left out) and the matching line last. An error
        result (``FAILURES``) raises ``AtError``; so does a timeout. Lines the
        command does not explain (URCs) go to ``urcs``."""
        with self._report(phase):
            self.write(command.encode("latin-1") + b"\r")
            return self._until(command, expect, timeout)

    def _until(self, command: str, expect: Expect, timeout: float | None) -> list[str]:
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        lines: list[str] = []
        matched: str | None = None
        while True:
            line = self._line(deadline, command)
            if line == command:  # echo (ATE1)
                continue
            lines.append(line)
            if matched is None and _matches(line, expect):
                matched = line
                if "OK" in lines or _TERMINAL.match(line) or command.upper() in _NO_OK:
                    return lines
                continue  # an information line: its OK follows
            if matched is not None and line == "OK":
                lines.remove(matched)
                lines.append(matched)  # the matching line last
                return lines
            if line.startswith(FAILURES):
                raise AtError(command, f"failed with {line!r}", lines)

    def expect(self, expect: Expect, *, timeout: float | None = None,
               phase: str | None = None) -> str:
        """Wait for a line (a URC: ``+HTTPACTION:``, ``+CMTI:``, ``CLOSED``)
        matching ``expect``; one already seen is taken from ``urcs``."""
        with self._report(phase):
            for line in self.urcs:
                if _matches(line, expect):
                    self.urcs.remove(line)
                    return line
            deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
            while True:
                line = self._line(deadline, f"waiting for {_text(expect)}")
                if _matches(line, expect):
                    return line
                self.urcs.append(line)

    # ------------------------------------------------------------ data

    def send(self, data: bytes, *, link: int | None = None, timeout: float | None = None,
             phase: str | None = "send") -> None:
        """Send ``data`` on the connection (``link`` with AT+CIPMUX=1) in
        blocks of at most 1460 bytes, each ``AT+CIPSEND=<n>``, ``>``, the
        bytes, ``SEND OK`` (or ``DATA ACCEPT`` with AT+CIPQSEND=1)."""
        with self._report(phase):
            for start in range(0, max(len(data), 1), MAX_SEND):
                block = data[start:start + MAX_SEND]
                command = (f"AT+CIPSEND={len(block)}" if link is None
                           else f"AT+CIPSEND={link},{len(block)}")
                self.write(command.encode() + b"\r")
                deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
                while True:
                    line = self._line(deadline, command, prompt=True)
                    if line == ">":
                        break
                    if line == command:
                        continue
                    if line.startswith(FAILURES):
                        raise AtError(command, f"failed with {line!r}", [line])
                    self.urcs.append(line)
                self.write(block)
                ok = re.compile(r"(\d+, )?(SEND OK|DATA ACCEPT)")
                self._until(command, ok, timeout)

    def receive(self, *, size: int | None = None, until: bytes | None = None,
                timeout: float | None = None, phase: str | None = "receive") -> bytes:
        """Pushed data (``+IPD,<n>:``, AT+CIPHEAD=1; ``+RECEIVE,<link>,<n>:``
        with AT+CIPMUX=1): wait until ``size`` bytes, or bytes ending with
        ``until``, or (neither given) any data, arrived; return them."""
        with self._report(phase):
            deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
            while True:
                got = self._ready(size, until)
                if got is not None:
                    return got
                while self._buf[:2] == b"\r\n":
                    del self._buf[:2]
                if self._buf.startswith((b"+IPD,", b"+RECEIVE,")) and self._take_pushed():
                    continue
                end = self._buf.find(b"\r\n")
                if end >= 0 and not self._buf.startswith((b"+IPD,", b"+RECEIVE,")):
                    self.urcs.append(self._buf[:end].decode("latin-1"))
                    del self._buf[:end + 2]
                    continue
                self._fill(deadline, "receive")

    def _ready(self, size: int | None, until: bytes | None) -> bytes | None:
        if size is not None:
            n = size if len(self.data) >= size else -1
        elif until is not None:
            i = self.data.find(until)
            n = i + len(until) if i >= 0 else -1
        else:
            n = len(self.data) or -1
        if n < 0:
            return None
        out = bytes(self.data[:n])
        del self.data[:n]
        return out

    def read(self, size: int = 1460, *, link: int | None = None,
             timeout: float | None = None, phase: str | None = "receive") -> bytes:
        """Manual reading (AT+CIPRXGET=1): wait for ``+CIPRXGET: 1``, then
        fetch up to ``size`` bytes with AT+CIPRXGET=2."""
        with self._report(phase):
            self.expect("+CIPRXGET: 1", timeout=timeout)
            command = f"AT+CIPRXGET=2,{size}" if link is None else f"AT+CIPRXGET=2,{link},{size}"
            self.write(command.encode() + b"\r")
            deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
            while True:
                while self._buf[:2] == b"\r\n":
                    del self._buf[:2]
                m = _RXGET2.match(self._buf)
                if m is not None:
                    n = int(m.group(1))
                    if len(self._buf) >= m.end() + n:
                        out = bytes(self._buf[m.end():m.end() + n])
                        del self._buf[:m.end() + n]
                        self._until(command, "OK", timeout)
                        return out
                elif self._buf.startswith(command.encode()) or (
                    b"\r\n" in self._buf and not self._buf.startswith(b"+CIPRXGET: 2")
                ):
                    line = self._line(deadline, command)
                    if line.startswith(FAILURES):
                        raise AtError(command, f"failed with {line!r}", [line])
                    if line != command:
                        self.urcs.append(line)
                    continue
                self._fill(deadline, command)

    def at_data(self, command: str, data: bytes, *, prompt: str = ">",
                expect: Expect = "OK", timeout: float | None = None,
                phase: str | None = None) -> list[str]:
        """A command that asks for data after a prompt: ``AT+HTTPDATA=<n>,<ms>``
        (prompt ``DOWNLOAD``), ``AT+CMGS="<da>"`` (``>``; end the text with
        Ctrl-Z, ``\x1a``). Returns the lines after the data, up to ``expect``."""
        with self._report(phase):
            self.write(command.encode("latin-1") + b"\r")
            deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
            while True:
                line = self._line(deadline, command, prompt=prompt == ">")
                if line == prompt:
                    break
                if line == command:
                    continue
                if line.startswith(FAILURES):
                    raise AtError(command, f"failed with {line!r}", [line])
                self.urcs.append(line)
            self.write(data)
            return self._until(command, expect, timeout)

    def at_read(self, command: str, header: re.Pattern[str], *,
                timeout: float | None = None, phase: str | None = None) -> bytes:
        """A command answering a header that gives a length, that many raw
        bytes, then ``OK``: ``AT+HTTPREAD`` (``+HTTPREAD: (\\d+)``),
        ``AT+FTPGET=2,<n>``. ``header``'s first group is the length."""
        with self._report(phase):
            self.write(command.encode("latin-1") + b"\r")
            deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
            while True:
                line = self._line(deadline, command)
                if line == command:
                    continue
                m = header.match(line)
                if m is not None:
                    break
                if line.startswith(FAILURES):
                    raise AtError(command, f"failed with {line!r}", [line])
                self.urcs.append(line)
            n = int(m.group(1))
            while len(self._buf) < n:
                self._fill(deadline, command)
            out = bytes(self._buf[:n])
            del self._buf[:n]
            self._until(command, "OK", timeout)
            return out

    # ------------------------------------------------------------ reporting

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Report everything inside as one step ``name`` (the commands in it
        are not reported on their own)."""
        with self._report(name):
            yield

    @contextlib.contextmanager
    def _report(self, name: str | None) -> Iterator[None]:
        if name is None or self._phase is not None or self.observer is None:
            yield
            return
        current = self._phase = _Phase(name, time.perf_counter())
        error: BaseException | None = None
        try:
            yield
        except Exception as exc:
            error = exc
            raise
        finally:
            self._phase = None
            self.observer(name, time.perf_counter() - current.start, current.size, error)


def _matches(line: str, expect: Expect) -> bool:
    if isinstance(expect, str):
        return line.startswith(expect)
    return expect.match(line) is not None


def _text(expect: Expect) -> str:
    return expect if isinstance(expect, str) else expect.pattern
