"""Bearer and PDP commands that client libraries send besides the manual's
set: SAPBR, CGDCONT, CGACT, CNTP (reference 6, 8)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..parser import Command
from ..registry import DONE, PENDING, CommandError, F, Int, Outcome, Str, Value, command, text
from ..state import Ctx
from .dns import CONTEXT_UP

if TYPE_CHECKING:
    from ..modem import Modem

REF = "reference 6, 8"


def _sapbr(m: Modem, values: tuple[Value, ...], cmd: Command) -> Outcome | None:
    cmd_type, cid, tag, value = values
    if cid != 1:
        raise CommandError(3)
    if cmd_type == 3:
        if tag is None:
            raise CommandError(None)
        m.bearer_params[str(tag).upper()] = str(value or "")
        return None
    if cmd_type == 4:
        params = m.bearer_params
        m.info(
            "+SAPBR:",
            f"CONTYPE: {params.get('CONTYPE', 'GPRS')}",
            f"APN: {params.get('APN', '')}",
            f"USER: {params.get('USER', '')}",
            f"PWD: {params.get('PWD', '')}",
        )
        return None
    if cmd_type == 2:
        if m.bearer_open:
            m.info(f'+SAPBR: 1,1,"{m.local_ip}"')
        else:
            m.info('+SAPBR: 1,3,"0.0.0.0"')
        return None
    if cmd_type == 1:
        if m.bearer_open:
            raise CommandError(3)
        if m.cfun != 1 or m.cgreg_stat not in (1, 5):
            raise CommandError(3)

        def opened() -> None:
            m.bearer_open = True
            m.attached = True
            m.complete()

        m.start_timer("sapbr", m.config.timing.sapbr, opened)
        return PENDING
    # 0: close
    if not m.bearer_open:
        raise CommandError(3)
    m.bearer_open = False
    return None


command(
    "+SAPBR", "Bearer profile: 3 set, 1 open, 2 query (+SAPBR: 1,1,\"<ip>\"), 0 close",
    REF,
    test=F(text('+SAPBR: (0-4),(1-3),"ConParamTag","ConParamValue"')),
    write=F(_sapbr, sig=(Int(0, 4), Int(1, 3), Str(20, optional=True), Str(64, optional=True))),
)


def _cgdcont_write(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    m.pdp_apn = str(values[2] or "")


command(
    "+CGDCONT", "Define the PDP context", REF,
    test=F(text('+CGDCONT: (1-3),"IP",,,(0,1),(0,1)')),
    read=F(lambda m, v, c: m.info(f'+CGDCONT: 1,"IP","{m.pdp_apn}","0.0.0.0",0,0')),
    write=F(_cgdcont_write, sig=(Int(1, 3), Str(10, optional=True), Str(64, optional=True),
                                 Str(20, optional=True), Int(0, 1, optional=True),
                                 Int(0, 1, optional=True))),
)


def _cgact_write(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    m.pdp_active = values[0] == 1
    if m.pdp_active:
        m.attached = True


command(
    "+CGACT", "Activate or deactivate the PDP context", REF,
    test=F(text("+CGACT: (0,1)")),
    read=F(lambda m, v, c: m.info(f"+CGACT: 1,{1 if m.pdp_active else 0}")),
    write=F(_cgact_write, sig=(Int(0, 1), Int(1, 3, optional=True))),
)

command(
    "+CNTPCID", "Bearer profile used by NTP", REF,
    test=F(text("+CNTPCID: (1-3)")),
    read=F(lambda m, v, c: m.info(f"+CNTPCID: {m.switches.get('cntpcid', 1)}")),
    write=F(lambda m, v, c: m.switches.__setitem__("cntpcid", int(v[0] or 1)), sig=(Int(1, 3),)),
)


def _cntp_write(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    m.ntp_server = str(values[0])
    if values[1] is not None:
        m.ntp_tz = int(values[1])


def _cntp_exec(m: Modem, values: tuple[Value, ...], cmd: Command) -> Outcome:
    m.final("OK")
    if not (m.bearer_open or m.ctx in (Ctx.GPRSACT, Ctx.STATUS)) or not m.radio_up:
        m.urc("+CNTP: 61")  # network error: no bearer
    else:
        m.ntp_sync()
    return DONE


command(
    "+CNTP", "Synchronise the clock by a real SNTP query; +CNTP: 1 or an error code",
    REF,
    test=F(text('+CNTP: "SERVER",(-47-48),(0-1)')),
    read=F(lambda m, v, c: m.info(f'+CNTP: "{m.ntp_server}",{m.ntp_tz}')),
    write=F(_cntp_write, sig=(Str(64), Int(-47, 48, optional=True), Int(0, 1, optional=True))),
    exec=F(_cntp_exec),
)


# ---------------------------------------------------------------- CIPPING


def _cipping(m: Modem, values: tuple[Value, ...], cmd: Command) -> Outcome:
    host, retry, size, timeout, ttl = values
    if not host:
        raise CommandError(None)
    m.ping(
        str(host),
        count=int(retry) if retry is not None else 4,
        size=int(size) if size is not None else 32,
        timeout=(int(timeout) if timeout is not None else 100) / 10.0,
        ttl=int(ttl) if ttl is not None else 64,
    )
    return PENDING  # one +CIPPING line per echo, then OK


command(
    "+CIPPING", "Ping a host (real ICMP): +CIPPING: <n>,\"<ip>\",<ms>,<ttl> per echo, then OK",
    "reference 3 (AT+CIPPING)",
    test=F(text('+CIPPING: "host",(1-100),(0-1024),(1-600),(1-255)')),
    write=F(_cipping, CONTEXT_UP, (Str(255), Int(1, 100, optional=True),
                                   Int(0, 1024, optional=True), Int(1, 600, optional=True),
                                   Int(1, 255, optional=True))),
)
