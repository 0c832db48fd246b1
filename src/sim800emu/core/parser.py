"""AT command lines → commands.

A line is what follows the ``AT`` prefix. It holds basic commands chained
without separators (``E0&W``, ``&FZE0``) and extended commands (``+CSQ``)
separated by ``;`` — ``AT+CIFSR;E0`` is one extended and one basic command.
Names are case-insensitive; arguments keep their case.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from enum import Enum


class Form(Enum):
    TEST = "test"  # AT+X=?
    READ = "read"  # AT+X?
    WRITE = "write"  # AT+X=<args>
    EXEC = "exec"  # AT+X

    # Members are singletons: hash by identity (Enum's own hashes the name in
    # Python, on every lookup of a command's form).
    __hash__ = object.__hash__


@dataclass(frozen=True, slots=True)
class Arg:
    """One comma-separated argument: its text and whether it was quoted."""

    text: str
    quoted: bool = False


@dataclass(frozen=True, slots=True)
class Command:
    name: str  # "+CIPSTART", "E", "&W"
    form: Form
    args: tuple[Arg, ...] = ()
    raw: str = ""  # the argument text as typed (after "=")


class ParseError(Exception):
    """The line is not well formed: the whole line answers ERROR."""


_BASIC_WITH_VALUE = set("EVQZIOHXLMPTD&")


def split_args(text: str) -> tuple[Arg, ...]:
    """Split ``a,"b,c",d`` on commas outside quotes. An unterminated quote is
    an error; an empty field is an empty unquoted Arg."""
    args: list[Arg] = []
    i, n = 0, len(text)
    while True:
        # skip blanks before a field
        while i < n and text[i] == " ":
            i += 1
        if i < n and text[i] == '"':
            end = text.find('"', i + 1)
            if end < 0:
                raise ParseError("unterminated string")
            args.append(Arg(text[i + 1 : end], quoted=True))
            i = end + 1
            while i < n and text[i] == " ":
                i += 1
            if i < n and text[i] != ",":
                raise ParseError("text after a quoted string")
        else:
            end = text.find(",", i)
            if end < 0:
                end = n
            args.append(Arg(text[i:end].strip()))
            i = end
        if i >= n:
            return tuple(args)
        i += 1  # the comma


def _extended_end(body: str, i: int) -> int:
    """Index of the ';' ending the extended command starting at i (quotes
    respected), or len(body)."""
    in_quote = False
    for j in range(i, len(body)):
        c = body[j]
        if c == '"':
            in_quote = not in_quote
        elif c == ";" and not in_quote:
            return j
    return len(body)


@functools.lru_cache(maxsize=1024)
def parse_line(body: str) -> tuple[Command, ...]:
    """Parse what follows ``AT`` on a command line. Cached: firmware sends
    the same few lines over and over (a fleet's modems share the cache;
    commands are immutable)."""
    cmds: list[Command] = []
    i, n = 0, len(body)
    while i < n:
        c = body[i]
        if c in " ;":
            i += 1
            continue
        if c in "+*#^$":
            end = _extended_end(body, i)
            cmds.append(_parse_extended(body[i:end]))
            i = end + 1
            continue
        if c.isalpha() or c == "&":
            i = _parse_basic(body, i, cmds)
            continue
        raise ParseError(f"unexpected {c!r}")
    return tuple(cmds)


def _parse_extended(text: str) -> Command:
    j = 1
    while j < len(text) and (text[j].isalnum() or text[j] in "_"):
        j += 1
    name = text[:j].upper()
    if len(name) < 2:
        raise ParseError("empty command name")
    rest = text[j:]
    if rest == "":
        return Command(name, Form.EXEC)
    if rest.strip() == "?":
        return Command(name, Form.READ)
    if rest.startswith("="):
        value = rest[1:]
        if value.strip() == "?":
            return Command(name, Form.TEST)
        return Command(name, Form.WRITE, split_args(value), value)
    raise ParseError(f"bad suffix {rest!r}")


def _parse_basic(body: str, i: int, out: list[Command]) -> int:
    start = i
    if body[i] == "&":
        i += 1
        if i >= len(body) or not body[i].isalpha():
            raise ParseError("bad & command")
    letter_end = i + 1
    name = body[start:letter_end].upper()
    i = letter_end
    if name == "S":
        # S-register: Sn? or Sn=v
        j = i
        while j < len(body) and body[j].isdecimal():
            j += 1
        reg = body[i:j]
        if not reg:
            raise ParseError("S without register")
        if j < len(body) and body[j] == "?":
            out.append(Command("S" + reg, Form.READ))
            return j + 1
        if j < len(body) and body[j] == "=":
            k = j + 1
            while k < len(body) and body[k].isdecimal():
                k += 1
            out.append(Command("S" + reg, Form.WRITE, (Arg(body[j + 1 : k]),), body[j + 1 : k]))
            return k
        raise ParseError("bad S register command")
    if name == "D":
        # dial: takes the rest of the line
        out.append(Command("D", Form.WRITE, (Arg(body[i:].rstrip(";")),), body[i:]))
        return len(body)
    j = i
    while j < len(body) and body[j].isdecimal():
        j += 1
    value = body[i:j]
    if value:
        out.append(Command(name, Form.WRITE, (Arg(value),), value))
    else:
        out.append(Command(name, Form.EXEC))
    return j
