"""Bearer commands that client libraries send besides the TCP/IP manual's
set: SAPBR, CNTP (reference 6, 8). CGDCONT and CGACT are in gprs.py."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..apps.bearer import Status
from ..parser import Command
from ..registry import DONE, PENDING, CommandError, F, Int, Outcome, Str, Value, command, text
from ..state import Ctx
from .dns import CONTEXT_UP

if TYPE_CHECKING:
    from ..modem import Modem

REF = "reference 6, 8"


def _sapbr(m: Modem, values: tuple[Value, ...], cmd: Command) -> Outcome | None:
    cmd_type, cid_value, tag, value = values
    cid = int(cid_value or 1)
    profile = m.bearers.profiles[cid]
    if cmd_type == 3:
        if tag is None or value is None or not m.bearers.set_param(cid, str(tag), str(value)):
            raise CommandError(3)
        return None
    if tag is not None or value is not None:
        raise CommandError(3)
    if cmd_type == 4:
        p = profile.params
        m.info(
            "+SAPBR:",
            *(f"{key}: {p[key]}" for key in ("CONTYPE", "APN", "PHONENUM", "USER", "PWD", "RATE")),
        )
        return None
    if cmd_type == 2:
        ip = m.local_ip if profile.status is Status.CONNECTED else "0.0.0.0"
        m.info(f'+SAPBR: {cid},{int(profile.status)},"{ip}"')
        return None
    if cmd_type == 1:
        if profile.status is not Status.CLOSED or not m.radio.gprs_registered:
            raise CommandError(3)
        profile.status = Status.CONNECTING

        def opened() -> None:
            profile.status = Status.CONNECTED
            m.radio.attached = True
            m.complete()

        m.start_timer(f"sapbr{cid}", m.delay("sapbr"), opened)
        return PENDING
    # 0: close
    if profile.status is not Status.CONNECTED:
        raise CommandError(3)
    profile.status = Status.CLOSING
    m.http.bearer_closed(cid)
    m.ftp.bearer_closed(cid)

    def closed() -> None:
        profile.status = Status.CLOSED
        m.complete()

    m.start_timer(f"sapbr{cid}", m.delay("sapbr"), closed)
    return PENDING


command(
    "+SAPBR", "Bearer profiles 1-3: 3 set a parameter, 4 show them, 1 open, 2 query "
    "(+SAPBR: <cid>,<status>,\"<ip>\"), 0 close; +SAPBR <cid>: DEACT when the context goes",
    "manual 9.2.1; reference 6, 8",
    test=F(text('+SAPBR: (0-4),(1-3),"ConParamTag","ConParamValue"')),
    write=F(_sapbr, sig=(Int(0, 4), Int(1, 3), Str(20, optional=True), Str(64, optional=True))),
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
    if not (m.bearers.any_open or m.ip.ctx in (Ctx.GPRSACT, Ctx.STATUS)) or not m.radio.gprs_registered:
        m.urc("+CNTP: 61")  # network error: no bearer
    else:
        m.ip.ntp_sync()
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
    m.ip.ping(
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
