"""Parser for the golden-transcript language (transcripts/README.md, sections 2.1-2.4).

A transcript file becomes a :class:`Transcript`: the file's timeout and its
:class:`Step` objects, each with its line number and its argument kept
*literally* (leading and trailing spaces included).  Steps are not
interpreted at parse time, because ``{NAME}`` substitution depends on the
variables that earlier steps define when they *run* (section 2.3);
:meth:`Step.resolve` does substitution, unescaping and the interpretation of
the argument, given the variables defined so far, and returns an action
object the player executes.

The parser still checks every step statically (bad markers, malformed ``@``
steps, bad numbers, invalid regexes, peers used before they are created) by
resolving it against placeholder values for the variables that earlier steps
define, so a broken transcript fails at load time with ``file:line``.
"""

from __future__ import annotations

import enum
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

__all__ = [
    "DEFAULT_TIMEOUT",
    "Accept",
    "Action",
    "Close",
    "Connect",
    "Control",
    "Expect",
    "ExpectSilence",
    "Listen",
    "Marker",
    "PeerSend",
    "Read",
    "ReadLine",
    "ReadRegex",
    "ReservePort",
    "Step",
    "Transcript",
    "TranscriptSyntaxError",
    "Wait",
    "Write",
    "load",
    "parse",
    "substitute",
    "unescape",
]

DEFAULT_TIMEOUT = 5.0
"""Seconds a waiting step may wait when the file has no ``# timeout:``."""

Proto = Literal["tcp", "udp"]


class TranscriptSyntaxError(ValueError):
    """A transcript that does not follow the language; the message starts with file:line."""

    def __init__(self, path: str, line: int, message: str, source: str | None = None) -> None:
        text = f"{path}:{line}: {message}"
        if source is not None:
            text += f"\n    {source!r}"
        super().__init__(text)
        self.path = path
        self.line = line


class Marker(enum.Enum):
    """Step markers.  The value is the marker as written in the file."""

    WRITE_LINE = ">"
    WRITE_RAW = ">>"
    READ_LINE = "<"
    READ_REGEX = "<~"
    READ_SKIP = "<>"
    READ_EXACT = "<<"
    SILENCE = "<!"
    WAIT = "~"
    PEER = "@"


# Section 2.1: two-character markers take precedence over '>' and '<'.  Each
# marker must be followed by exactly one space, which is not part of the argument.
_MARKER_ORDER: tuple[Marker, ...] = (
    Marker.WRITE_RAW,
    Marker.READ_REGEX,
    Marker.READ_SKIP,
    Marker.READ_EXACT,
    Marker.SILENCE,
    Marker.WRITE_LINE,
    Marker.READ_LINE,
    Marker.WAIT,
    Marker.PEER,
)

# Kinds whose argument is unescaped (section 2.4); for '@' only send/expect.
_ESCAPED_MARKERS = frozenset({Marker.WRITE_RAW, Marker.READ_SKIP, Marker.READ_EXACT})

_TIMEOUT_RE = re.compile(r"#[ \t]*timeout:[ \t]*(\d+(?:\.\d+)?)(?![\d.])")
_SERVE_RE = re.compile(r"#[ \t]*serve:[ \t]*(.*)")
_DECIMAL_RE = re.compile(r"\d+(?:\.\d+)?|\.\d+")
_ESCAPE_RE = re.compile(r"\\(?:([rn\\])|x([0-9A-Fa-f]{2}))")
_VARIABLE_RE = re.compile(r"\{([^\s{}]+)\}")
_ESCAPE_CHARS = {"r": "\r", "n": "\n", "\\": "\\"}
_RESERVED_PEER_NAMES = frozenset({"listen", "echo", "port", "connect", "ctl"})
_PLACEHOLDER_PORT = "1"


# --------------------------------------------------------------------------- helpers


def unescape(text: str) -> bytes:
    r"""Apply section 2.4: ``\r``, ``\n``, ``\\`` and ``\xHH``; any other backslash stays.

    Each remaining character is one byte (ISO-8859-1).
    """

    def repl(match: re.Match[str]) -> str:
        simple, hexdigits = match.group(1), match.group(2)
        if simple is not None:
            return _ESCAPE_CHARS[simple]
        return chr(int(hexdigits, 16))

    return _ESCAPE_RE.sub(repl, text).encode("latin-1")


def substitute(text: str, variables: Mapping[str, str]) -> str:
    """Replace ``{NAME}`` by the value of a *defined* variable; other braces stay (2.3).

    One pass, left to right: a substituted value is not scanned again.
    """
    if "{" not in text:
        return text
    return _VARIABLE_RE.sub(lambda m: variables.get(m.group(1), m.group(0)), text)


def _to_bytes(text: str) -> bytes:
    # Section 2.1: one character is one byte (ISO-8859-1).
    return text.encode("latin-1")


# --------------------------------------------------------------------------- actions


@dataclass(frozen=True)
class Write:
    """``>`` (text + CR) and ``>>`` (unescaped bytes): write to the modem."""

    data: bytes


@dataclass(frozen=True)
class ReadLine:
    """``<``: read one line (section 2.6) and compare it exactly."""

    expected: bytes


@dataclass(frozen=True)
class ReadRegex:
    """``<~``: read one line and ``fullmatch`` it against ``pattern``."""

    pattern: re.Pattern[bytes]


@dataclass(frozen=True)
class Read:
    """``<<`` (``skip_line_ends`` false) and ``<>`` (true): exact bytes."""

    expected: bytes
    skip_line_ends: bool


@dataclass(frozen=True)
class ExpectSilence:
    """``<!``: the receive buffer must be empty after ``seconds``."""

    seconds: float


@dataclass(frozen=True)
class Wait:
    """``~``: do nothing for ``seconds``."""

    seconds: float


@dataclass(frozen=True)
class Listen:
    """``@ listen tcp|udp NAME`` and ``@ echo tcp|udp NAME``."""

    proto: Proto
    name: str
    echo: bool


@dataclass(frozen=True)
class ReservePort:
    """``@ port NAME``."""

    name: str


@dataclass(frozen=True)
class Connect:
    """``@ connect tcp|udp NAME PORT``."""

    proto: Proto
    name: str
    port: int


@dataclass(frozen=True)
class Accept:
    """``@ NAME accept``."""

    name: str


@dataclass(frozen=True)
class PeerSend:
    """``@ NAME send TEXT``."""

    name: str
    data: bytes


@dataclass(frozen=True)
class Expect:
    """``@ NAME expect TEXT``."""

    name: str
    data: bytes


@dataclass(frozen=True)
class Close:
    """``@ NAME close``."""

    name: str


@dataclass(frozen=True)
class Control:
    """``@ ctl COMMAND``: a control-channel command (``sim800emu ctl``)."""

    command: str


Action = (
    Write
    | ReadLine
    | ReadRegex
    | Read
    | ExpectSilence
    | Wait
    | Listen
    | ReservePort
    | Connect
    | Accept
    | PeerSend
    | Expect
    | Close
    | Control
)


class StepError(ValueError):
    """A step argument that cannot be interpreted (raised by :meth:`Step.resolve`)."""


# --------------------------------------------------------------------------- steps


@dataclass(frozen=True)
class Step:
    """One step line of a transcript.

    ``arg`` is everything after the marker and its single space, literally.
    """

    path: str
    line: int
    marker: Marker
    arg: str

    @property
    def source(self) -> str:
        """The step line as written in the file."""
        return f"{self.marker.value} {self.arg}"

    @property
    def where(self) -> str:
        """``path:line``."""
        return f"{self.path}:{self.line}"

    def resolved_source(self, variables: Mapping[str, str]) -> str:
        """The step line after ``{NAME}`` substitution."""
        return f"{self.marker.value} {substitute(self.arg, variables)}"

    def resolve(self, variables: Mapping[str, str]) -> Action:
        """Substitute the defined variables, then interpret the argument.

        Raises :class:`StepError` if the argument is not valid for the marker.
        """
        arg = substitute(self.arg, variables)
        marker = self.marker
        if marker is Marker.WRITE_LINE:
            return Write(_to_bytes(arg) + b"\r")
        if marker is Marker.WRITE_RAW:
            return Write(unescape(arg))
        if marker is Marker.READ_LINE:
            return ReadLine(_to_bytes(arg))
        if marker is Marker.READ_REGEX:
            try:
                return ReadRegex(re.compile(_to_bytes(arg)))
            except re.error as exc:
                raise StepError(f"invalid regular expression: {exc}") from exc
        if marker in _ESCAPED_MARKERS:
            return Read(unescape(arg), skip_line_ends=marker is Marker.READ_SKIP)
        if marker is Marker.SILENCE:
            return ExpectSilence(_seconds(arg))
        if marker is Marker.WAIT:
            return Wait(_seconds(arg))
        return _resolve_peer(arg)


def _seconds(arg: str) -> float:
    if not _DECIMAL_RE.fullmatch(arg):
        raise StepError(f"expected a decimal number of seconds, got {arg!r}")
    return float(arg)


def _name(word: str) -> str:
    if not word:
        raise StepError("empty name (the words of an '@' step are separated by single spaces)")
    return word


def _proto(word: str) -> Proto:
    if word == "tcp":
        return "tcp"
    if word == "udp":
        return "udp"
    raise StepError(f"expected 'tcp' or 'udp', got {word!r}")


def _port(word: str) -> int:
    if not word.isdigit() or not word.isascii():
        raise StepError(f"expected a port number, got {word!r}")
    port = int(word)
    if not 1 <= port <= 65535:
        raise StepError(f"port {port} out of range 1-65535")
    return port


def _resolve_peer(arg: str) -> Action:
    """Interpret the argument of an ``@`` step (section 2.8)."""
    words = arg.split(" ")
    head = words[0]
    if head == "ctl":
        command = arg.split(" ", 1)[1] if len(words) > 1 else ""
        if not command.strip():
            raise StepError("expected '@ ctl COMMAND' (e.g. '@ ctl ring +4915112345678')")
        return Control(command)
    if head in ("listen", "echo"):
        if len(words) != 3:
            raise StepError(f"expected '@ {head} tcp|udp NAME'")
        return Listen(_proto(words[1]), _peer_name(words[2]), echo=head == "echo")
    if head == "port":
        if len(words) != 2:
            raise StepError("expected '@ port NAME'")
        return ReservePort(_name(words[1]))
    if head == "connect":
        if len(words) != 4:
            raise StepError("expected '@ connect tcp|udp NAME PORT'")
        return Connect(_proto(words[1]), _peer_name(words[2]), _port(words[3]))
    name = _peer_name(head)
    if len(words) < 2:
        raise StepError("expected '@ NAME accept|send TEXT|expect TEXT|close'")
    verb = words[1]
    if verb in ("accept", "close"):
        if len(words) != 2:
            raise StepError(f"'@ NAME {verb}' takes nothing after {verb!r}")
        return Accept(name) if verb == "accept" else Close(name)
    if verb in ("send", "expect"):
        if len(words) < 3:
            raise StepError(f"expected '@ NAME {verb} TEXT' (one space after {verb!r})")
        text = unescape(arg.split(" ", 2)[2])
        return PeerSend(name, text) if verb == "send" else Expect(name, text)
    raise StepError(f"unknown peer operation {verb!r} (accept, send, expect, close)")


def _peer_name(word: str) -> str:
    name = _name(word)
    if name in _RESERVED_PEER_NAMES:
        raise StepError(f"{name!r} cannot be a peer name")
    return name


# --------------------------------------------------------------------------- files


@dataclass(frozen=True)
class Transcript:
    """A parsed transcript file."""

    path: str
    steps: tuple[Step, ...]
    timeout: float = DEFAULT_TIMEOUT
    """Seconds each waiting step may wait (last ``# timeout:`` directive, else 5)."""
    serve_options: tuple[str, ...] = ()
    """Extra ``serve`` options of this file (every ``# serve:`` directive, in order)."""

    @property
    def uses_control(self) -> bool:
        """Does a step talk to the control channel (``@ ctl``)?"""
        return any(s.marker is Marker.PEER and s.arg.startswith("ctl ") for s in self.steps)

    @property
    def name(self) -> str:
        return Path(self.path).name


def _marker_of(line: str) -> tuple[Marker, str] | None:
    for marker in _MARKER_ORDER:
        prefix = marker.value + " "
        if line.startswith(prefix):
            return marker, line[len(prefix) :]
    return None


def parse(text: str, path: str = "<transcript>") -> Transcript:
    """Parse transcript text (already decoded as ISO-8859-1)."""
    steps: list[Step] = []
    timeout = DEFAULT_TIMEOUT
    serve_options: list[str] = []
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the LF that ends the last line
    for number, line in enumerate(lines, start=1):
        if "\r" in line:
            raise TranscriptSyntaxError(
                path, number, "CR byte in the file (line ends must be LF only; CRLF file?)"
            )
        stripped = line.lstrip(" \t")
        if not stripped:
            continue
        if stripped.startswith("#"):
            directive = _TIMEOUT_RE.match(line)
            if directive is not None:
                timeout = float(directive.group(1))
            serve = _SERVE_RE.match(line)
            if serve is not None:
                try:
                    serve_options += shlex.split(serve.group(1))
                except ValueError as exc:
                    raise TranscriptSyntaxError(path, number, f"bad serve options: {exc}", line) from None
            continue
        found = _marker_of(line)
        if found is None:
            raise TranscriptSyntaxError(
                path,
                number,
                "not a step: a step starts in column 1 with one of "
                + " ".join(repr(m.value + " ") for m in _MARKER_ORDER),
                line,
            )
        steps.append(Step(path, number, found[0], found[1]))
    _check(path, steps)
    return Transcript(
        path=path, steps=tuple(steps), timeout=timeout, serve_options=tuple(serve_options)
    )


def load(path: str | Path, display_path: str | None = None) -> Transcript:
    """Read and parse a transcript file (bytes decoded as ISO-8859-1).

    ``display_path`` is the name used in messages (default: ``path`` as given).
    """
    data = Path(path).read_bytes()
    return parse(data.decode("latin-1"), display_path or str(path))


def _check(path: str, steps: list[Step]) -> None:
    """Static checks: every step resolves, names are defined before use, never twice."""
    variables: dict[str, str] = {}
    peers: set[str] = set()
    for step in steps:
        try:
            action = step.resolve(variables)
        except StepError as exc:
            raise TranscriptSyntaxError(path, step.line, str(exc), step.source) from None

        def fail(message: str, step: Step = step) -> TranscriptSyntaxError:
            return TranscriptSyntaxError(path, step.line, message, step.source)

        if isinstance(action, Listen | Connect):
            if action.name in peers:
                raise fail(f"peer {action.name!r} already exists")
            peers.add(action.name)
        if isinstance(action, Listen | ReservePort) and action.name in variables:
            raise fail(f"variable {{{action.name}}} is already defined")
        elif isinstance(action, Accept | PeerSend | Expect | Close) and action.name not in peers:
            raise fail(f"peer {action.name!r} is used before it is created")
        if isinstance(action, Listen | ReservePort):
            variables[action.name] = _PLACEHOLDER_PORT
