"""DNS: CDNSCFG, CDNSGIP (manual 3.11, 3.12; SPEC; reference 3)."""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

from ..parser import Command
from ..registry import DONE, F, Outcome, Rule, Str, Value, command, ok, syntax_error, text
from ..state import Ctx

if TYPE_CHECKING:
    from ..modem import Modem


def _ipv4(value: Value) -> str:
    try:
        return str(ipaddress.IPv4Address(str(value)))
    except ValueError:
        raise syntax_error() from None


def _cdnscfg_write(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    primary = _ipv4(values[0])
    secondary = _ipv4(values[1]) if values[1] else m.dns[1]
    m.dns = (primary, secondary)


command(
    "+CDNSCFG", "Primary and secondary DNS servers (really queried by CDNSGIP and CIPSTART)",
    "manual 3.11",
    test=F(text('+CDNSCFG: ("Primary DNS"),("Secondary DNS")')),
    read=F(lambda m, v, c: m.info(f"PrimaryDns: {m.dns[0]}", f"SecondaryDns: {m.dns[1]}")),
    write=F(_cdnscfg_write, sig=(Str(15), Str(15, optional=True))),
)

CONTEXT_UP = Rule(
    "an active context (IP GPRSACT, IP STATUS, IP PROCESSING, links)",
    lambda m, v: m.ip.ctx in (Ctx.GPRSACT, Ctx.STATUS),
)


def _cdnsgip(m: Modem, values: tuple[Value, ...], cmd: Command) -> Outcome:
    name = str(values[0])
    if not name:
        raise syntax_error()
    m.final("OK")
    try:
        ipaddress.ip_address(name)
    except ValueError:
        m.ip.resolve(name)
    else:
        m.urc(f'+CDNSGIP: 1,"{name}","{name}"')  # SPEC: an address answers as resolved
    return DONE


command(
    "+CDNSGIP", "Resolve a name: OK, then +CDNSGIP: 1,\"<name>\",\"<ip>\"[,\"<ip2>\"] or "
    "+CDNSGIP: 0,<err>", "manual 3.12; SPEC",
    test=F(ok),
    write=F(_cdnsgip, CONTEXT_UP, (Str(255),)),
)
