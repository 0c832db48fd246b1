"""Client links: CIPSTART, CIPSEND, CIPCLOSE and the receive/send options
(manual 3.5, 3.6, 3.13-3.15, 3.19, 3.23; reference 3 for CIPRXGET, CIPACK,
CIPSSL)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..parser import Command
from ..registry import (
    DONE,
    Choice,
    CommandError,
    F,
    Int,
    Outcome,
    Rule,
    Signature,
    Str,
    Value,
    alias,
    bind,
    command,
    ok,
    syntax_error,
    text,
)
from ..state import Ctx, Link, LinkState
from ._common import MULTI, SINGLE, setting

if TYPE_CHECKING:
    from ..modem import Modem

MAX_SEND = 1460


def link_of(m: Modem, values: tuple[Value, ...]) -> Link:
    """The link a command names: ``<n>`` first in multi-link mode, link 0
    in single-link mode."""
    return m.ip.links[int(values[0] or 0)] if m.multi else m.ip.links[0]


# ---------------------------------------------------------------- CIPSTART

CAN_OPEN = Rule(
    "IP INITIAL (single-step), IP STATUS, IP CLOSE, TCP/UDP CLOSED, IP PROCESSING",
    lambda m, v: m.ip.ctx in (Ctx.INITIAL, Ctx.STATUS) or m.ip.activating,
)
PORT = Int(1, 65535, name="port")
MODE = Choice(("TCP", "UDP"), name="mode")
HOST = Str(255, name="address")


def _cipstart_sig(m: Modem) -> Signature:
    return (Int(0, 5, name="n"), MODE, HOST, PORT) if m.multi else (MODE, HOST, PORT)


def _cipstart(m: Modem, values: tuple[Value, ...], cmd: Command) -> Outcome | None:
    link = link_of(m, values)
    proto, host, port = values[-3:]
    if not host:
        raise syntax_error()
    if link.active:
        if m.multi:
            m.final("OK")
            m.text_result(f"{link.n}, ALREADY CONNECT")
            return DONE
        m.fail(CommandError(3))
        m.text_result("ALREADY CONNECT")
        return DONE
    if not m.multi and m.ip.server.on:
        raise CommandError(3)
    m.ip.open_link(link, "UDP" if proto == "UDP" else "TCP", str(host), int(port or 0))
    return None


command(
    "+CIPSTART", "Open a TCP or UDP link (single: =<mode>,<addr>,<port>; multi: =<n>,...)",
    "manual 3.5.1; SPEC",
    test=F(lambda m, v, c: m.info(
        '+CIPSTART: (0-5),("TCP","UDP"),("(0-255).(0-255).(0-255).(0-255)"),(1-65535)',
        '+CIPSTART: (0-5),("TCP","UDP"),("DOMAIN NAME"),(1-65535)',
    ) if m.multi else m.info(
        '+CIPSTART: ("TCP","UDP"),("(0-255).(0-255).(0-255).(0-255)"),(1-65535)',
        '+CIPSTART: ("TCP","UDP"),("DOMAIN NAME"),(1-65535)',
    )),
    write=F(_cipstart, CAN_OPEN, _cipstart_sig),
)


# ---------------------------------------------------------------- CIPSEND


def _connected(m: Modem, values: tuple[Value, ...]) -> bool:
    if m.transparent:
        return False
    return link_of(m, values).state is LinkState.CONNECTED


LINK_CONNECTED = Rule("the link is connected (not in transparent mode)", _connected)
# A peer that does not read fills the link's send buffer: AT+CIPSEND? shows
# 0 for it and a send is refused until the peer reads (docs/buffers.md).
SEND_ROOM = Rule(
    "its send buffer has room (AT+CIPSEND? > 0)", lambda m, v: not link_of(m, v).congested
)


def _cipsend_sig(m: Modem) -> Signature:
    if m.multi:
        return (Int(0, 5, name="n"), Int(1, MAX_SEND, optional=True, name="length"))
    return (Int(1, MAX_SEND, name="length"),)


def _cipsend_write(m: Modem, values: tuple[Value, ...], cmd: Command) -> Outcome:
    length = values[-1] if m.multi else values[0]
    return m.begin_send(link_of(m, values), None if length is None else int(length))


def _cipsend_exec(m: Modem, values: tuple[Value, ...], cmd: Command) -> Outcome:
    return m.begin_send(m.ip.links[0], None)


def _cipsend_read(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    def size(link: Link) -> int:
        return MAX_SEND if link.state is LinkState.CONNECTED and not link.congested else 0

    if m.multi:
        m.info(*(f"+CIPSEND: {link.n},{size(link)}" for link in m.ip.links))
    else:
        m.info(f"+CIPSEND: {size(m.ip.links[0])}")


command(
    "+CIPSEND", "Send data: prompt '> ', Ctrl-Z sends, ESC cancels; =<len> fixed length",
    "manual 3.6.1; reference 3",
    test=F(lambda m, v, c: m.info(
        "+CIPSEND: (0-5),(1-1460)" if m.multi else "+CIPSEND: (1-1460)")),
    read=F(_cipsend_read),
    write=F(_cipsend_write, LINK_CONNECTED & SEND_ROOM, _cipsend_sig),
    exec=F(_cipsend_exec, SINGLE & LINK_CONNECTED & SEND_ROOM),
)


# ---------------------------------------------------------------- CIPCLOSE

LINK_OPEN = Rule(
    "the link is connecting or connected",
    lambda m, v: link_of(m, v).state in (LinkState.CONNECTING, LinkState.CONNECTED),
)


def _cipclose_sig(m: Modem) -> Signature:
    if m.multi:
        return (Int(0, 5, name="n"), Int(0, 1, optional=True, name="quick"))
    return (Int(0, 1, name="quick"),)


def _cipclose(m: Modem, values: tuple[Value, ...], cmd: Command) -> Outcome:
    link = link_of(m, values)
    quick = (values[-1] if m.multi else values[0]) == 1 if values else False
    m.ip.close_link(link, quick)
    m.text_result(f"{m.ip.prefix(link)}CLOSE OK")
    return DONE  # no OK (manual 3.6.1)


command(
    "+CIPCLOSE", "Close a link (CLOSE OK / <n>, CLOSE OK; optional quick-close flag)",
    "manual 3.6.1; SPEC",
    test=F(ok),
    exec=F(_cipclose, SINGLE & LINK_OPEN),
    write=F(_cipclose, LINK_OPEN, _cipclose_sig),
)


# ---------------------------------------------------------------- receive and send options

setting("+CIPHEAD", "ciphead", 0, 1, "Prefix received data with +IPD,<len>: (single link)",
        "manual 3.13")
setting("+CIPSHOWTP", "cipshowtp", 0, 1, "With CIPHEAD=1: +IPD,<len>,<TCP/UDP>: (single link)",
        "manual 3.23")
setting("+CIPSRIP", "cipsrip", 0, 1, "Print RECV FROM:<ip>:<port> before received data",
        "manual 3.19; SPEC")
# The manual's command list spells it AT+CIPSRIPIP (a typo, SPEC): firmware
# written from that list still reaches the command.
alias("+CIPSRIPIP", "+CIPSRIP")
setting("+CIPSPRT", "cipsprt", 0, 2, "CIPSEND: 0 no '>' but SEND OK; 1 both; 2 neither",
        "manual 3.15")
setting("+CIPSSL", "cipssl", 0, 1, "TLS for the next TCP CIPSTART", "reference 3 (AT+CIPSSL)")


def _cipats_write(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    mode, time = values
    if mode == 1 and time is None:
        raise syntax_error()
    m.settings.cipats_mode = int(mode or 0)
    if time is not None:
        m.settings.cipats_time = int(time)


command(
    "+CIPATS", "Send the data typed after '>' automatically after <time> s", "manual 3.14",
    test=F(text("+CIPATS: (0,1),(1-100)")),
    read=F(lambda m, v, c: m.info(
        f"+CIPATS: {m.settings.cipats_mode},{m.settings.cipats_time}")),
    write=F(_cipats_write, sig=(Int(0, 1), Int(1, 100, optional=True))),
)


# ---------------------------------------------------------------- CIPRXGET


def _rxget_link_ok(m: Modem, link: Link) -> None:
    """Readable: connected, or closed by the peer with data possibly left."""
    if m.settings.ciprxget != 1 or link.state not in (LinkState.CONNECTED, LinkState.CLOSED):
        raise CommandError(3)


def _ciprxget_write(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    args = cmd.args
    if not args:
        raise syntax_error()
    mode = Int(0, 4).convert(args[0])
    if mode in (0, 1):
        bind((Int(0, 1),), args)
        m.settings.ciprxget = mode
        return
    link_param = (Int(0, 5, name="n"),) if m.multi else ()
    if mode == 4:
        vals = bind((Int(4, 4), *link_param), args)
        link = m.ip.links[int(vals[1] or 0)] if m.multi else m.ip.links[0]
        _rxget_link_ok(m, link)
        where = f"{link.n}," if m.multi else ""
        m.info(f"+CIPRXGET: 4,{where}{len(link.rx)}")
        return
    limit = MAX_SEND if mode == 2 else MAX_SEND // 2
    vals = bind((Int(mode, mode), *link_param, Int(1, limit, name="length")), args)
    link = m.ip.links[int(vals[1] or 0)] if m.multi else m.ip.links[0]
    _rxget_link_ok(m, link)
    data = m.ip.take_rx(link, int(vals[-1] or 0))
    where = f"{link.n}," if m.multi else ""
    m.info(f"+CIPRXGET: {mode},{where}{len(data)},{len(link.rx)}")
    m.raw_output(data if mode == 2 else data.hex().upper().encode())


command(
    "+CIPRXGET", "Manual receive: 1 on, 2 read, 3 read as hex, 4 how many bytes wait",
    "reference 3 (AT+CIPRXGET), 8",
    test=F(lambda m, v, c: m.info(
        "+CIPRXGET: (0-4),(0-5),(1-1460)" if m.multi else "+CIPRXGET: (0-4),(1-1460)")),
    read=F(lambda m, v, c: m.info(f"+CIPRXGET: {m.settings.ciprxget}")),
    write=F(_ciprxget_write, sig=None),
)


# ---------------------------------------------------------------- CIPACK


def _cipack(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    link = link_of(m, values)
    if not link.used:
        raise CommandError(3)
    m.info(f"+CIPACK: {link.sent},{link.sent},0")


command(
    "+CIPACK", "Bytes sent, acknowledged, not acknowledged on a link", "reference 3 (AT+CIPACK)",
    test=F(ok), exec=F(_cipack, SINGLE), write=F(_cipack, MULTI, (Int(0, 5),)),
)
