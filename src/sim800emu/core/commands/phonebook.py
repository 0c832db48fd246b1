"""The phone book: AT+CPBS, AT+CPBR, AT+CPBW, AT+CPBF (manual V1.12
3.2.24-3.2.27, examples 19.2). Storages and rules are ``core/phonebook.py``
on the SIM (``m.sim``); texts are spelled per AT+CSCS; every change is
saved with the SIM's data."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ..charset import CharsetError
from ..parser import Command
from ..phonebook import NLENGTH, TLENGTH, TYPES, Entry, PhoneBookError
from ..registry import CommandError, F, Int, Outcome, Str, Value, command, syntax_error, text
from ..sim import BOOKS
from .sim import persist

if TYPE_CHECKING:
    from ..modem import Modem

MAN = "manual V1.12 "
INVALID_TEXT_CHARS = 25
INVALID_INPUT_VALUE = 765
INCORRECT_PASSWORD = 16  # manual 19.1: AT+CSCS="TEST" with CMEE=2


# manual 3.2.27: in a text, backslash, the string delimiter, backspace and
# GSM null are written \5C, \22, \08 and \00 (the character sets that
# spell characters as themselves; HEX and UCS2 need no escapes)
ESCAPED = {"\\": "\\5C", '"': "\\22", "\b": "\\08", "\0": "\\00"}
PLAIN_SETS = ("IRA", "GSM", "PCCP", "PCDN", "8859-1")


ESCAPE = re.compile(r"(\\[0-9A-Fa-f]{2})")


def _spell(m: Modem, text_: str) -> str:
    """A stored text as the module prints it under AT+CSCS."""
    if m.charset.name not in PLAIN_SETS:
        return m.charset.encode(text_)
    return "".join(ESCAPED.get(ch) or m.charset.encode(ch) for ch in text_)


def _read(m: Modem, typed: str) -> str:
    """A text as the host typed it under AT+CSCS (escapes resolved)."""
    try:
        if m.charset.name not in PLAIN_SETS:
            return m.charset.decode(typed)
        return "".join(
            chr(int(piece[1:], 16)) if ESCAPE.fullmatch(piece) else m.charset.decode(piece)
            for piece in ESCAPE.split(typed)
        )
    except CharsetError:
        raise CommandError(INVALID_TEXT_CHARS) from None


def _line(m: Modem, name: str, index: int, e: Entry) -> str:
    return f'{name}: {index},"{e.number}",{e.type},"{_spell(m, e.text)}"'


def _cpbs_write(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    name = str(values[0]).upper()
    if name not in BOOKS:
        raise CommandError(INVALID_INPUT_VALUE)
    if values[1] is not None and str(values[1]) != m.sim.pin2:
        raise CommandError(INCORRECT_PASSWORD)  # 27.007: the FD book's PIN2
    m.sim.current = name


def _cpbs_read(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    book = m.sim.book
    m.info(f'+CPBS: "{book.name}",{book.used},{book.size}')


command("+CPBS", 'Phone book storage: "SM" (250), "ME" (100), "ON" (own number), "FD" (10)',
        MAN + "3.2.26, 19.2",
        test=F(text("+CPBS: (" + ",".join(f'"{b}"' for b in BOOKS) + ")")),
        read=F(_cpbs_read), write=F(_cpbs_write, sig=(Str(4), Str(8, optional=True))),
        needs_sim=True)


def _cpbr_write(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    first = int(values[0] or 0)
    last = int(values[1]) if values[1] is not None else first
    try:
        found = m.sim.book.read(first, last)
    except PhoneBookError as err:
        raise CommandError(err.cme) from None
    if found:
        m.info(*(_line(m, "+CPBR", i, e) for i, e in found))


command("+CPBR", "Read phone book entries index1[..index2]", MAN + "3.2.25, 19.2",
        test=F(lambda m, v, c: m.info(f"+CPBR: (1-{m.sim.book.size}),{NLENGTH},{TLENGTH}")),
        write=F(_cpbr_write, sig=(Int(0, 65535), Int(0, 65535, optional=True))),
        needs_sim=True)


def _cpbw_write(m: Modem, values: tuple[Value, ...], cmd: Command) -> Outcome:
    index, number, type_, txt = values
    book = m.sim.book
    try:
        if number is None:
            if index is None or type_ is not None or txt is not None:
                raise syntax_error()
            book.delete(int(index))
        else:
            if type_ is not None and type_ not in TYPES:
                raise syntax_error()
            decoded = _read(m, str(txt or ""))
            book.write(None if index is None else int(index), str(number),
                       None if type_ is None else int(type_), decoded)
    except PhoneBookError as err:
        raise CommandError(err.cme) from None
    if book.name == "ON":
        m.sim.own_number_changed()
    return persist(m)


command("+CPBW", "Write (or with only an index delete) a phone book entry; no index: first free",
        MAN + "3.2.27, 19.2",
        test=F(lambda m, v, c: m.info(
            f"+CPBW: (1-{m.sim.book.size}),{NLENGTH},({','.join(map(str, TYPES))}),{TLENGTH}")),
        write=F(_cpbw_write, sig=(Int(0, 65535, optional=True), Str(255, optional=True),
                                  Int(0, 255, optional=True), Str(255, optional=True))),
        needs_sim=True)


def _cpbf_write(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    wanted = _read(m, str(values[0] or ""))
    found = m.sim.book.find(wanted)
    if found:
        m.info(*(_line(m, "+CPBF", i, e) for i, e in found))


command("+CPBF", "Find phone book entries whose text contains findtext (case-insensitive)",
        MAN + "3.2.24, 19.2",
        test=F(text(f"+CPBF: {NLENGTH},{TLENGTH}")),
        write=F(_cpbf_write, sig=(Str(255, optional=True),)), needs_sim=True)
