"""A transcript of the serial line: every chunk, both directions, as text and hex.

One entry per chunk as it was read from or written to the serial port::

    2026-11-26T10:00:00.123456 modem<-host 'AT+CSQ\\r' | 41 54 2b 43 53 51 0d
    2026-11-26T10:00:00.123789 modem->host '\\r\\n+CSQ: 24,0\\r\\n\\r\\nOK\\r\\n' | 0d 0a ...

``modem<-host`` is what the host (the firmware under test) sent to the modem,
``modem->host`` what the modem printed. Text is shown in single quotes with
``\\r``, ``\\n``, ``\\t``, ``\\\\``, ``\\'`` and ``\\xHH`` escapes for everything
that is not printable ASCII. A chunk longer than ``wrap`` bytes is written
as a header line followed by indented lines of ``wrap`` bytes each::

    2026-11-26T10:00:00.200000 modem->host 40 bytes
        0000 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' | 61 61 ...
        0020 'aaaaaaaa' | 61 61 ...

A tag (``[conn 3]``) follows the timestamp when several modems share a log.

In dial-up data mode each PPP frame is also decoded on a line of its own
(``core/ppp/describe.py``), after the chunk that completed it::

    2026-11-26T10:00:01.000000 modem->host PPP LCP Configure-Request id=1 asyncmap=0x000a0000 auth=pap pfc acfc
"""

from __future__ import annotations

import datetime
import sys
import threading
from typing import TextIO

from .core.ppp.describe import FrameLog

HOST_TO_MODEM = "modem<-host"
MODEM_TO_HOST = "modem->host"


def _build_table() -> list[str]:
    table = []
    for b in range(256):
        if b == 0x0D:
            table.append("\\r")
        elif b == 0x0A:
            table.append("\\n")
        elif b == 0x09:
            table.append("\\t")
        elif b == 0x5C:
            table.append("\\\\")
        elif b == 0x27:
            table.append("\\'")
        elif 0x20 <= b < 0x7F:
            table.append(chr(b))
        else:
            table.append(f"\\x{b:02x}")
    return table


_ESCAPES = _build_table()


def escape(data: bytes) -> str:
    """``data`` as readable text with escapes (without the quotes)."""
    if data.isascii() and data.isalnum():
        return data.decode("ascii")
    return "".join([_ESCAPES[b] for b in data])


def hexdump(data: bytes) -> str:
    return data.hex(" ")


def format_entry(
    when: datetime.datetime, direction: str, data: bytes, tag: str = "", wrap: int = 32
) -> str:
    """One log entry (one or more lines, each ending with a newline)."""
    stamp = when.isoformat(timespec="microseconds")
    head = f"{stamp} [{tag}] {direction}" if tag else f"{stamp} {direction}"
    if len(data) <= wrap:
        return f"{head} '{escape(data)}' | {hexdump(data)}\n"
    lines = [f"{head} {len(data)} bytes\n"]
    for off in range(0, len(data), wrap):
        piece = data[off : off + wrap]
        lines.append(f"    {off:04x} '{escape(piece)}' | {hexdump(piece)}\n")
    return "".join(lines)


class TrafficLog:
    """Writes entries to a text stream (a file opened by ``open``, or stderr).

    Thread-safe: the in-process transport may share one log between loops.
    """

    def __init__(self, stream: TextIO, *, close_stream: bool = False, wrap: int = 32) -> None:
        self._stream: TextIO | None = stream
        self._close_stream = close_stream
        self._wrap = wrap
        self._lock = threading.Lock()
        self._frames: dict[str, FrameLog] = {}  # per tag: PPP frames being read
        self._pending: dict[str, list[str]] = {}  # decoded output, after its chunk

    @classmethod
    def open(cls, target: str, *, wrap: int = 32) -> TrafficLog:
        """``-`` is stderr; anything else a file path (appended to)."""
        if target == "-":
            return cls(sys.stderr, wrap=wrap)
        f = open(target, "a", encoding="utf-8", buffering=1)  # noqa: SIM115 - closed by close()
        return cls(f, close_stream=True, wrap=wrap)

    def record(self, direction: str, data: bytes, tag: str = "") -> None:
        if not data:
            return
        entry = format_entry(datetime.datetime.now(), direction, data, tag, self._wrap)
        with self._lock:
            stream = self._stream
            if stream is None:
                return
            try:
                stream.write(entry)
                stream.flush()
            except (OSError, ValueError):
                # A full disk or a closed stderr must not take the modem down.
                self._stream = None

    def note(self, text: str, tag: str = "") -> None:
        """A decoded line (a CMUX frame) beside the raw chunks::

            2026-11-26T10:00:00.123456 cmux <- DLCI 1 UIH len 3 'AT\\r'
        """
        stamp = datetime.datetime.now().isoformat(timespec="microseconds")
        head = f"{stamp} [{tag}]" if tag else stamp
        with self._lock:
            stream = self._stream
            if stream is None:
                return
            try:
                stream.write(f"{head} {text}\n")
                stream.flush()
            except (OSError, ValueError):
                self._stream = None

    def host_to_modem(self, data: bytes, tag: str = "") -> None:
        self.record(HOST_TO_MODEM, data, tag)

    def modem_to_host(self, data: bytes, tag: str = "") -> None:
        self.record(MODEM_TO_HOST, data, tag)
        if not self._pending:
            return
        with self._lock:
            lines = self._pending.pop(tag, None)
        if lines:
            self._lines(MODEM_TO_HOST, lines, tag)

    def ppp(self, to_host: bool, data: bytes, tag: str = "") -> None:
        """PPP bytes as the modem's PPP session passed them: one line per
        complete frame (a dropped frame says why). The host's are written at
        once (after their chunk, already recorded); the modem's wait for the
        chunk they go out in."""
        with self._lock:
            frames = self._frames.get(tag)
            if frames is None:
                frames = self._frames[tag] = FrameLog()
            if to_host:
                self._pending.setdefault(tag, []).extend(frames.modem_to_host(data))
                return
            lines = frames.host_to_modem(data)
        self._lines(HOST_TO_MODEM, lines, tag)

    def _lines(self, direction: str, lines: list[str], tag: str) -> None:
        if not lines:
            return
        stamp = datetime.datetime.now().isoformat(timespec="microseconds")
        head = f"{stamp} [{tag}] {direction}" if tag else f"{stamp} {direction}"
        text = "".join(f"{head} PPP {line}\n" for line in lines)
        with self._lock:
            stream = self._stream
            if stream is None:
                return
            try:
                stream.write(text)
                stream.flush()
            except (OSError, ValueError):
                self._stream = None

    def close(self) -> None:
        with self._lock:
            stream, self._stream = self._stream, None
        if stream is not None and self._close_stream:
            stream.close()
