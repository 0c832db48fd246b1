"""AT+CUSD: USSD requests and the network's replies (manual V1.12 3.2.53).
The session and the reply encoding live in ``core/ussd.py``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..parser import Command
from ..registry import CommandError, F, Int, Rule, Str, Value, command, text

if TYPE_CHECKING:
    from ..modem import Modem

MAN = "manual V1.12 3.2.53; 3GPP TS 27.007 7.15"
MAX_USSD = 182  # characters of one USSD string (160 octets of packed GSM 7-bit)

IDLE = Rule(
    "no USSD request waiting for the network's reply",
    lambda m, v: not (v[0] == 1 and v[1] is not None and m.ussd.pending),
)


def _read(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    m.info(f"+CUSD: {m.ussd.presentation}")


def _write(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    n, typed = values[0], values[1]
    if n == 2:
        m.ussd.cancel()
        return
    m.ussd.presentation = int(n or 0)
    if typed is None:
        return
    request = m.ussd.decode_request(str(typed))
    if len(request) > MAX_USSD:
        raise CommandError(24, "text string too long")
    reachable = m.radio.registered
    m.ussd.request(request, reachable)


command(
    "+CUSD",
    "USSD: send a code (AT+CUSD=1,\"*100#\"); the reply comes as +CUSD: <m>,\"<str>\",<dcs>",
    MAN,
    needs_sim=True,
    test=F(text("+CUSD: (0-2)")),
    read=F(_read),
    write=F(_write, IDLE, (Int(0, 2), Str(MAX_USSD * 4, optional=True), Int(0, 255, optional=True))),
)
