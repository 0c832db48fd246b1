"""GPRS commands (manual V1.12 chapter 7): attach, PDP context definition
and activation, addresses, quality of service, class, event reporting.
The context's APN and activation belong to the IP stack (``m.pdp_apn``,
``m.pdp_active``); the rest is ``core/gprs.py`` (``m.gprs``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..gprs import CIDS, CLASSES, DEFAULT_QOS
from ..lazy import made
from ..parser import Command
from ..registry import (
    PENDING,
    CommandError,
    F,
    Int,
    Outcome,
    Str,
    Value,
    command,
    syntax_error,
    text,
)
from ..state import Ctx

if TYPE_CHECKING:
    from ..modem import Modem

MAN = "manual V1.12 "
REF = "reference 6, 8"


def _cgatt_read(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    m.info(f"+CGATT: {1 if m.radio.attached else 0}")


def _cgatt_write(m: Modem, values: tuple[Value, ...], cmd: Command) -> Outcome | None:
    radio = m.radio
    if values[0] == 0:
        was = radio.attached
        m.ip.lose_context()  # detach tears the PDP context down (+PDP: DEACT)
        radio.attached = False
        m.pdp_active = False
        if was and m.gprs.cgerep:
            m.urc("+CGEV: ME DETACH")
        return None
    if not radio.registered:
        raise CommandError(100)
    delay = m.delay("cgatt")
    if radio.attached or delay <= 0:
        radio.attached = True
        return None

    def done() -> None:
        radio.attached = True
        m.complete()

    m.start_timer("cgatt", delay, done)
    return PENDING


command("+CGATT", "Attach to (1) or detach from (0) GPRS; detach tears the context down",
        MAN + "7.2.1", test=F(text("+CGATT: (0,1)")), read=F(_cgatt_read),
        write=F(_cgatt_write, sig=(Int(0, 1),)), needs_sim=True)


def _cgdcont_write(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    if values[1] is not None and str(values[1]).upper() != "IP":
        raise syntax_error()
    cid = int(values[0] or 1)
    if cid == 1:
        m.pdp_apn = str(values[2] or "")
    elif all(v is None for v in values[1:]):
        m.gprs.apns.pop(cid, None)  # AT+CGDCONT=<cid>: undefined again (27.007 10.1.1)
    else:
        m.gprs.apns[cid] = str(values[2] or "")


def _cgdcont_read(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    apns = {1: m.pdp_apn, **m.gprs.apns}
    m.info(*(f'+CGDCONT: {cid},"IP","{apn}","0.0.0.0",0,0' for cid, apn in sorted(apns.items())))


command(
    "+CGDCONT", "Define the PDP context (type IP; the APN is kept; context 1 is always "
    "defined, 2 and 3 once written)", MAN + "7.2.2; " + REF,
    test=F(text('+CGDCONT: (1-3),"IP",,,(0,1),(0,1)')),
    read=F(_cgdcont_read),
    write=F(_cgdcont_write, sig=(Int(1, 3), Str(10, optional=True), Str(64, optional=True),
                                 Str(20, optional=True), Int(0, 1, optional=True),
                                 Int(0, 1, optional=True))),
)


def _cgact_write(m: Modem, values: tuple[Value, ...], cmd: Command) -> Outcome | None:
    if values[0] == 1 and not m.pdp_active:
        wait = m.delay("cgact")  # the network takes its time to activate (2-7 s)
        if wait > 0:

            def done() -> None:
                m.pdp_active = m.radio.attached = True
                m.complete()

            m.start_timer("cgact", wait, done)
            return PENDING
    if values[0] == 0 and made(m, "ppp"):
        m.ppp.context_lost("AT+CGACT=0")  # a held dial-up call ends (NO CARRIER)
    m.pdp_active = values[0] == 1
    if m.pdp_active:
        m.radio.attached = True
    return None


command(
    "+CGACT", "Activate or deactivate the PDP context", MAN + "7.2.5; " + REF,
    test=F(text("+CGACT: (0,1)")),
    read=F(lambda m, v, c: m.info(f"+CGACT: 1,{1 if m.pdp_active else 0}")),
    write=F(_cgact_write, sig=(Int(0, 1), Int(1, 3, optional=True))),
)


def _address(m: Modem) -> str:
    up = m.pdp_active or m.bearers.any_open or m.ip.ctx in (Ctx.GPRSACT, Ctx.STATUS)
    return m.local_ip if up else "0.0.0.0"


def _cgpaddr(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    m.info(f'+CGPADDR: 1,"{_address(m)}"')


command("+CGPADDR", "PDP address of context 1 (0.0.0.0 while inactive)", MAN + "7.2.7",
        test=F(text("+CGPADDR: (1)")), write=F(_cgpaddr, sig=(Int(1, 1),)), exec=F(_cgpaddr))


def _qos(name: str, attr: str, section: str, what: str) -> None:
    """CGQREQ and CGQMIN: one profile per context."""

    def read(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
        table: dict[int, tuple[int, ...]] = getattr(m.gprs, attr)
        lines = [f"{name}: {cid}," + ",".join(map(str, q)) for cid, q in sorted(table.items())]
        if lines:
            m.info(*lines)

    def write(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
        table: dict[int, tuple[int, ...]] = getattr(m.gprs, attr)
        cid = int(values[0] or 0)
        if all(v is None for v in values[1:]):
            table.pop(cid, None)  # the profile is no longer present
            return
        base = DEFAULT_QOS if name == "+CGQREQ" else (0, 0, 0, 0, 0)
        table[cid] = tuple(base[i] if v is None else int(v) for i, v in enumerate(values[1:]))

    command(name, what, MAN + section,
            test=F(text(f'{name}: "IP",(0-3),(0-4),(0-5),(0-9),(0-18,31)')),
            read=F(read),
            write=F(write, sig=(Int(min(CIDS), max(CIDS)), Int(0, 3, optional=True),
                                Int(0, 4, optional=True), Int(0, 5, optional=True),
                                Int(0, 9, optional=True), Int(0, 31, optional=True))))


_qos("+CGQREQ", "qos_req", "7.2.4, 19.8", "Requested quality of service per context (kept)")
_qos("+CGQMIN", "qos_min", "7.2.3", "Minimum acceptable quality of service per context (kept)")


def _cgclass_write(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    cls = str(values[0]).upper()
    if cls not in CLASSES:
        raise syntax_error()
    m.gprs.mobile_class = cls


command("+CGCLASS", "GPRS mobile class (B, CG, CC; kept)", MAN + "7.2.8, 19.8",
        test=F(text("+CGCLASS: (" + ",".join(f'"{c}"' for c in CLASSES) + ")")),
        read=F(lambda m, v, c: m.info(f"+CGCLASS: {m.gprs.mobile_class}")),
        write=F(_cgclass_write, sig=(Str(2),)))


def _cgerep_write(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    m.gprs.cgerep = int(values[0] or 0)


command("+CGEREP", "GPRS event reporting (+CGEV: ME DETACH on AT+CGATT=0)", MAN + "7.2.9",
        test=F(text("+CGEREP: (0,1)")),
        read=F(lambda m, v, c: m.info(f"+CGEREP: {m.gprs.cgerep}")),
        write=F(_cgerep_write, sig=(Int(0, 1),)))


def _cgsms_write(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    m.gprs.cgsms = int(values[0] or 0)


command("+CGSMS", "Service for outgoing SMS (kept; the SMS centre ignores it)", MAN + "7.2.11",
        test=F(text("+CGSMS: (0-3)")),
        read=F(lambda m, v, c: m.info(f"+CGSMS: {m.gprs.cgsms}")),
        write=F(_cgsms_write, sig=(Int(0, 3),)))
