"""27.007 odds and ends (manual V1.12 chapter 3) that belong to no other
family: phone activity, service reporting, radio link protocol, type of
address, supplementary service notifications, and AT+CLAC, the list of
every command (from the registry)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..parser import Command
from ..registry import REGISTRY, F, Int, Value, command, ok, syntax_error, text

if TYPE_CHECKING:
    from ..modem import Modem

MAN = "manual V1.12 "


def command_names() -> list[str]:
    """Every command line name the registry accepts (aliases included), as
    AT+CLAC lists them: extended commands first, then the basic ones, each
    group sorted. docs/commands.md is generated from the same registry."""
    names = sorted(REGISTRY, key=lambda n: (not n.startswith("+"), n))
    return ["AT" + n for n in names]


def _clac(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    m.info(*command_names())


command("+CLAC", "List every command this module accepts, one per line",
        "3GPP TS 27.007 8.37 (not in the SIM800 manual); SPEC issue 11",
        exec=F(_clac), test=F(ok))


def _cpas(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    m.info(f"+CPAS: {m.voice.activity}")


command("+CPAS", "Phone activity: 0 ready, 3 ringing, 4 a call in progress", MAN + "3.2.23",
        test=F(text("+CPAS: (0,2,3,4)")), exec=F(_cpas))


def _switch(name: str, hi: int, default: int, what: str, section: str) -> None:
    """A setting kept in ``m.switches`` (not saved by AT&W)."""
    key = name[1:].lower()

    def write(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
        m.switches[key] = int(values[0] or 0)

    command(name, what, MAN + section,
            test=F(text(f"{name}: (0,1)" if hi == 1 else f"{name}: (0-{hi})")),
            read=F(lambda m, v, c: m.info(f"{name}: {m.switches.get(key, default)}")),
            write=F(write, sig=(Int(0, hi, optional=True),)))


_switch("+CR", 1, 0, "Service reporting (+CR: GPRS before CONNECT; kept)", "3.2.30")
_switch("+CCWE", 1, 0, "Call meter maximum event (kept; no calls are charged)", "3.2.51")


def _crlp_write(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    s = m.settings
    for attr, value in zip(("crlp_iws", "crlp_mws", "crlp_t1", "crlp_n2"), values, strict=False):
        if value is not None:
            setattr(s, attr, int(value))


command("+CRLP", "Radio link protocol parameters of non-transparent data calls (kept)",
        MAN + "3.2.33",
        test=F(text("+CRLP: (0-61),(0-61),(44-255),(1-255),(7)")),
        read=F(lambda m, v, c: m.info(
            f"+CRLP: {m.settings.crlp_iws},{m.settings.crlp_mws},"
            f"{m.settings.crlp_t1},{m.settings.crlp_n2},7")),
        write=F(_crlp_write, sig=(Int(0, 61), Int(0, 61, optional=True), Int(44, 255, optional=True),
                                  Int(1, 255, optional=True), Int(7, 7, optional=True))))

TYPES = (129, 145, 161, 177)


def _csta_write(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    if values[0] not in TYPES:
        raise syntax_error()
    m.switches["csta"] = int(values[0] or 0)


command("+CSTA", "Type of address for dialling: 129, 145, 161, 177", MAN + "3.2.13",
        test=F(text("+CSTA: (" + ",".join(map(str, TYPES)) + ")")),
        read=F(lambda m, v, c: m.info(f"+CSTA: {m.switches.get('csta', 129)}")),
        write=F(_csta_write, sig=(Int(0, 255),)))


def _cssn_write(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    m.switches["cssn_n"] = int(values[0] or 0)
    if values[1] is not None:
        m.switches["cssn_m"] = int(values[1])


command("+CSSN", "Supplementary service notifications (+CSSI, +CSSU switches; kept)",
        MAN + "3.2.54",
        test=F(text("+CSSN: (0,1),(0,1)")),
        read=F(lambda m, v, c: m.info(
            f"+CSSN: {m.switches.get('cssn_n', 0)},{m.switches.get('cssn_m', 0)}")),
        write=F(_cssn_write, sig=(Int(0, 1), Int(0, 1, optional=True))))
