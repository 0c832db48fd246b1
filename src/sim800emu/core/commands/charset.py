"""AT+CSCS: the TE character set (manual V1.12 3.2.12). The rule itself
lives in ``core/charset.py``; this module only declares the command."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..charset import CHARSETS
from ..parser import Command
from ..registry import CommandError, F, Str, Value, command, text

if TYPE_CHECKING:
    from ..modem import Modem

MAN = "manual V1.12 3.2.12"


def _read(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    m.info(f'+CSCS: "{m.charset.name}"')


def _write(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    name = str(values[0]).upper()
    if name not in CHARSETS:
        # the manual's own example: AT+CSCS="TEST" -> +CME ERROR: invalid input value
        raise CommandError(765)
    m.charset.name = name


command(
    "+CSCS",
    "TE character set (IRA default; GSM, UCS2, HEX ...) for SMS, USSD and the phone book",
    MAN,
    test=F(text("+CSCS: (" + ",".join(f'"{c}"' for c in CHARSETS) + ")")),
    read=F(_read),
    write=F(_write, sig=(Str(16),)),
)
