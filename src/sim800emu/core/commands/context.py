"""The context and mode commands: CIPMUX, CIPMODE, CSTT, CIICR, CIFSR,
CIPSHUT, CIPSTATUS and the saved TCP/IP settings (manual 3.4-3.10, 3.17-3.22,
4.2.9)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..parser import Command
from ..registry import (
    DONE,
    PENDING,
    Choice,
    CommandError,
    F,
    Int,
    Outcome,
    Rule,
    Str,
    Value,
    command,
    ok,
    text,
)
from ..settings import TCPIP_KEYS
from ..state import Ctx, Link
from ._common import IP_INITIAL, MULTI, in_ctx, setting
from .basic import save

if TYPE_CHECKING:
    from ..modem import Modem


# ---------------------------------------------------------------- CIPMUX, CIPMODE


NOT_TRANSPARENT_FOR_MUX = Rule(
    "CIPMUX=1 needs CIPMODE=0", lambda m, v: v[0] == 0 or m.settings.cipmode == 0
)
SINGLE_FOR_TRANSPARENT = Rule(
    "CIPMODE=1 needs CIPMUX=0", lambda m, v: v[0] == 0 or m.settings.cipmux == 0
)
setting("+CIPMUX", "cipmux", 0, 1, "Single (0) or multi-link (1, links 0-5) mode",
        "manual 3.4.1", when=IP_INITIAL & NOT_TRANSPARENT_FOR_MUX)
setting("+CIPMODE", "cipmode", 0, 1, "Normal (0) or transparent (1) mode; single link only",
        "manual 3.21", test_text="(0-NORMAL MODE,1-TRANSPARENT MODE)",
        when=IP_INITIAL & SINGLE_FOR_TRANSPARENT)


# ---------------------------------------------------------------- CSTT, CIICR, CIFSR


def _cstt_write(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    s = m.settings
    s.apn = str(values[0] or "")
    s.user = str(values[1] or "")
    s.pwd = str(values[2] or "")
    m.ip.ctx = Ctx.START


def _cstt_exec(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    m.ip.ctx = Ctx.START


command(
    "+CSTT", "Start task: APN, user name, password (IP INITIAL -> IP START)", "manual 3.7",
    test=F(text('+CSTT: "APN","USER","PWD"')),
    read=F(lambda m, v, c: m.info(f'+CSTT: "{m.settings.apn}","{m.settings.user}","{m.settings.pwd}"')),
    write=F(_cstt_write, IP_INITIAL, (Str(50), Str(50, optional=True), Str(50, optional=True))),
    exec=F(_cstt_exec, IP_INITIAL),
)


def _ciicr(m: Modem, values: tuple[Value, ...], cmd: Command) -> Outcome:
    if not m.radio.gprs_registered:
        raise CommandError(3)
    m.ip.ctx = Ctx.CONFIG
    m.radio.attached = True  # the module attaches by itself (manual 4.1)

    def done() -> None:
        if m.ip.ctx is Ctx.CONFIG:
            m.ip.ctx = Ctx.GPRSACT
            m.complete()
        else:
            m.complete(CommandError(3))

    # with the PDP context already up (SAPBR, CGACT: TinyGSM) CIICR is quick
    # (reference 3: about 25 ms)
    delay = m.delay("ciicr")
    if m.bearers.any_open or m.pdp_active:
        delay = min(delay, 0.025)
    m.start_timer("ciicr", delay, done)
    return PENDING


command(
    "+CIICR", "Bring up the wireless link (IP START -> IP CONFIG -> IP GPRSACT)", "manual 3.8",
    test=F(ok), exec=F(_ciicr, in_ctx(Ctx.START)),
)

CIFSR_ALLOWED = Rule(
    "a context is active (IP GPRSACT, IP STATUS and every link state; SPEC)",
    lambda m, v: m.ip.ctx in (Ctx.GPRSACT, Ctx.STATUS) or m.ip.activating,
)


def _cifsr(m: Modem, values: tuple[Value, ...], cmd: Command) -> Outcome:
    if m.ip.ctx is Ctx.GPRSACT:
        m.ip.ctx = Ctx.STATUS
    m.info(m.local_ip)
    return DONE  # the address, and no OK (manual 3.9; reference 3)


command(
    "+CIFSR", "Local IP address, with no OK (IP GPRSACT -> IP STATUS)", "manual 3.9; SPEC",
    test=F(ok), exec=F(_cifsr, CIFSR_ALLOWED),
)


def _cifsrex(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    if m.ip.ctx is Ctx.GPRSACT:
        m.ip.ctx = Ctx.STATUS
    m.info(f"+CIFSREX: {m.local_ip}")


command(
    "+CIFSREX", "Local IP address with a prefix and OK", "reference 3 (AT+CIFSR)",
    test=F(ok), exec=F(_cifsrex, CIFSR_ALLOWED), read=F(_cifsrex, CIFSR_ALLOWED),
)


# ---------------------------------------------------------------- CIPSHUT, CIPSTATUS


def _cipshut(m: Modem, values: tuple[Value, ...], cmd: Command) -> Outcome:
    m.ip.shut()
    m.text_result("SHUT OK")
    return DONE


command(
    "+CIPSHUT", "Close every link and deactivate the context (-> IP INITIAL)", "manual 3.6.2",
    test=F(ok), exec=F(_cipshut),
)


def client_line(link: Link, lead: str) -> str:
    if not link.used:
        return f'{lead}{link.n},,"","","","INITIAL"'
    return (
        f'{lead}{link.n},0,"{link.proto}","{link.remote_ip}","{link.remote_port}",'
        f'"{link.client_state_text()}"'
    )


def _cipstatus(m: Modem, values: tuple[Value, ...], cmd: Command) -> Outcome:
    m.final("OK")
    m.info(f"STATE: {m.ip.state_text()}")
    if m.multi:
        lines = []
        if m.ip.server.on:
            state = m.ip.server.state.value
            lines.append(f'S: 0,0,"{m.ip.server.port}","{state}"')
        lines += [client_line(link, "C: ") for link in m.ip.links]
        m.info(*lines)
    return DONE  # no OK after the block


def _cipstatus_link(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    m.info(client_line(m.ip.links[int(values[0] or 0)], "+CIPSTATUS: "))


command(
    "+CIPSTATUS", "Connection status: OK, then STATE: (and the S:/C: lines in multi-link)",
    "manual 3.10; SPEC; reference 3",
    test=F(ok), exec=F(_cipstatus), write=F(_cipstatus_link, MULTI, (Int(0, 5),)),
)


# ---------------------------------------------------------------- saved settings


def _cipscont_read(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    s = m.settings
    if s.csgp_mode == 1:
        bearer = [
            "+CIPCSGP:1",
            f"Gprs Config APN:{s.csgp_apn}",
            f"Gprs Config UserId:{s.csgp_user}",
            f"Gprs Config Password:{s.csgp_pwd}",
        ]
    else:
        bearer = [
            "+CIPCSGP:0",
            f"Csd Config Dial Number:{s.csgp_dial}",
            f"Csd Config UserId:{s.csgp_user}",
            f"Csd Config Password:{s.csgp_pwd}",
            f"Csd Config Rate:{s.csgp_rate}",
        ]
    m.info(
        *bearer,
        f"+CLPORT:{s.clport_tcp},{s.clport_udp}",
        f"+CIPHEAD:{s.ciphead}",
        f"+CIPSHOWTP:{s.cipshowtp}",
        f"+CIPSRIPIP:{s.cipsrip}",
        f"+CIPATS:{s.cipats_mode},{s.cipats_time}",
        f"+CIPSPRT:{s.cipsprt}",
        f"+CIPMODE:{s.cipmode}",
        f"+CIPCCFG:{s.ccfg_retry},{s.ccfg_waittm},{s.ccfg_sendsz},{s.ccfg_esc}",
        f"+CIPMUX:{s.cipmux}",
        f"+CIPDPDP:{s.dpdp_mode},{s.dpdp_interval},{s.dpdp_timer}",
    )


def _cipscont_exec(m: Modem, values: tuple[Value, ...], cmd: Command) -> Outcome:
    return save(m, TCPIP_KEYS)


command(
    "+CIPSCONT", "Save the TCP/IP settings (they survive a restart); ? lists them",
    "manual 2.2, 4.2.9",
    read=F(_cipscont_read), exec=F(_cipscont_exec), test=F(ok),
)


def _csgp_read(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    s = m.settings
    if s.csgp_mode == 1:
        m.info(f'+CIPCSGP: 1,"{s.csgp_apn}","{s.csgp_user}","{s.csgp_pwd}"')
    else:
        m.info(f'+CIPCSGP: 0,"{s.csgp_dial}","{s.csgp_user}","{s.csgp_pwd}",{s.csgp_rate}')


def _csgp_write(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    s = m.settings
    mode, first, user, pwd, rate = values
    if mode == 1 and rate is not None:
        raise CommandError(None)
    s.csgp_mode = int(mode or 0)
    if mode == 1:
        s.csgp_apn = str(first or "")
    else:
        s.csgp_dial = str(first or "")
        s.csgp_rate = int(rate) if rate is not None else 2
    s.csgp_user = str(user or "")
    s.csgp_pwd = str(pwd or "")


command(
    "+CIPCSGP", "CSD (0) or GPRS (1) bearer and its parameters", "manual 3.18",
    test=F(text(
        "+CIPCSGP: 0-CSD,DIALNUMBER,USER NAME,PASSWORD,RATE(0-3)",
        "+CIPCSGP: 1-GPRS,APN,USER NAME,PASSWORD",
    )),
    read=F(_csgp_read),
    write=F(_csgp_write, sig=(Int(0, 1), Str(50), Str(50, optional=True),
                              Str(50, optional=True), Int(0, 3, optional=True))),
)


def _dpdp_write(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    s = m.settings
    s.dpdp_mode = int(values[0] or 0)
    if values[1] is not None:
        s.dpdp_interval = int(values[1])
    if values[2] is not None:
        s.dpdp_timer = int(values[2])


command(
    "+CIPDPDP", "Check the GPRS context every <interval> s; lost after <timer> failures",
    "manual 3.20; SPEC",
    test=F(text("+CIPDPDP: (0,1),(1-180),(1-10)")),
    read=F(lambda m, v, c: m.info(
        f"+CIPDPDP: {m.settings.dpdp_mode},{m.settings.dpdp_interval},{m.settings.dpdp_timer}")),
    write=F(_dpdp_write, sig=(Int(0, 1), Int(1, 180, optional=True), Int(1, 10, optional=True))),
)


def _ccfg_write(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    s = m.settings
    retry, wait, size, esc, rxmode, rxsize, rxtimer = values
    s.ccfg_retry, s.ccfg_waittm, s.ccfg_sendsz = int(retry or 0), int(wait or 0), int(size or 0)
    if esc is not None:
        s.ccfg_esc = int(esc)
    if rxmode is not None:
        s.ccfg_rxmode = int(rxmode)
    if rxsize is not None:
        s.ccfg_rxsize = int(rxsize)
    if rxtimer is not None:
        s.ccfg_rxtimer = int(rxtimer)


command(
    "+CIPCCFG", "Transparent mode: retries, wait time (x200 ms), send size, +++ escape",
    "manual 3.22; reference 3",
    test=F(text("+CIPCCFG: (NmRetry:3-8),(WaitTm:2-10),(SendSz:1-1460),(esc:0,1)")),
    read=F(lambda m, v, c: m.info(
        f"+CIPCCFG: {m.settings.ccfg_retry},{m.settings.ccfg_waittm},"
        f"{m.settings.ccfg_sendsz},{m.settings.ccfg_esc}")),
    write=F(_ccfg_write, sig=(
        Int(3, 8), Int(2, 10), Int(1, 1460), Int(0, 1, optional=True),
        Int(0, 1, optional=True), Int(50, 1460, optional=True), Int(20, 1000, optional=True))),
)


def _clport_write(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    if values[0] == "TCP":
        m.settings.clport_tcp = int(values[1] or 0)
    else:
        m.settings.clport_udp = int(values[1] or 0)


command(
    "+CLPORT", "Local port of the next client link (single link; 0 = any)", "manual 3.17",
    test=F(text('+CLPORT: ("TCP","UDP"),(0-65535)')),
    read=F(lambda m, v, c: m.info(f"TCP: {m.settings.clport_tcp}", f"UDP: {m.settings.clport_udp}")),
    write=F(_clport_write, sig=(Choice(("TCP", "UDP")), Int(0, 65535))),
)

setting("+CIPQSEND", "cipqsend", 0, 1,
        "Quick send: DATA ACCEPT instead of SEND OK", "reference 3 (AT+CIPQSEND)")
