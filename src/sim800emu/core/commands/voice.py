"""Voice calls without audio: ATD, ATA, ATH, AT+CHUP, AT+CLCC, AT+CCWA,
AT+CHLD, AT+CLIP, AT+COLP, AT+CRC, AT+CVHU, AT+VTS, AT+DDET, AT+CEER,
AT+MORING, AT+CDRIND (manual V1.12 chapters 2, 3, 6 and 15). The calls and their transitions live
in ``core/voice.py``; this module parses, checks and calls it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..parser import Command
from ..registry import (
    FAILED,
    PENDING,
    CommandError,
    F,
    Int,
    Outcome,
    Value,
    command,
    ok,
    syntax_error,
    text,
)
from ..voice import DTMF_KEYS, parse_dial
from .ppp import gprs_dial

if TYPE_CHECKING:
    from ..modem import Modem

V25 = "manual V1.12 2.2"


def _network(m: Modem) -> bool:
    """Can a call be set up: full functionality, SIM ready, registered."""
    return m.radio.registered and m.radio.sim_ready


def _ussd_code(number: str) -> bool:
    return number[:1] in ("*", "#") and number.endswith("#")


# ---------------------------------------------------------------- ATD


def _data_dial(m: Modem, dial: str) -> Outcome | None:
    """ATD without ';': the GPRS dial (``*99#``, ``*99***<cid>#``) that a
    PPP session starts with (commands/ppp.py), or a data call (CSD), which
    is not offered: NO CARRIER, as for a connection that cannot be
    established (manual 2.2.3)."""
    outcome = gprs_dial(m, dial)
    if outcome is not None:
        return outcome
    m.final("NO CARRIER")
    return FAILED


def _atd(m: Modem, values: tuple[Value, ...], cmd: Command) -> Outcome | None:
    raw = cmd.raw.strip()
    if raw.upper() in ("L", "L;"):
        dial = "L"  # ATDL redials the last (voice) call, with or without ';' (2.2.6)
    elif not raw.endswith(";"):
        return _data_dial(m, raw)
    else:
        dial = raw[:-1].strip()
    if dial.upper() == "L":  # ATDL;: the last number again
        if not m.voice.last_dialed:
            raise syntax_error()
        number: str | None = m.voice.last_dialed
    elif dial.startswith(">"):  # ATD><n>; / ATD><str>;: the phone book is not emulated
        raise syntax_error()
    else:
        number = parse_dial(dial)
    if number is None:
        raise syntax_error()
    if _ussd_code(number):
        # "*# codes sent with ATD are treated as voice calls" (2.2.3): a USSD
        # code dialled this way is sent as AT+CUSD=1 would, its reply shown
        if m.ussd.pending:
            raise CommandError(3)
        m.ussd.request(number, _network(m), show=True)
        return None
    if not m.voice.can_dial:
        raise CommandError(3)  # a second call only beside held calls (AT+CHLD=2 first)
    if not _network(m):
        m.final("NO CARRIER")
        return FAILED
    return PENDING if m.voice.dial(number) else None


command("D", "Dial: ATD<number>; a voice call (outcome per --dial); ATD*99[***<cid>]# "
        "dial-up data (CONNECT, PPP; docs/ppp.md); other data calls: NO CARRIER",
        f"{V25}.3; manual V1.12 19.8", write=F(_atd, sig=None))


# ---------------------------------------------------------------- ATA, ATH, AT+CHUP


def _ata(m: Modem, values: tuple[Value, ...], cmd: Command) -> Outcome:
    if not m.voice.answer():
        m.final("NO CARRIER")
        return FAILED
    # "Any additional commands on the same Command line are ignored" (2.2.2)
    m.final("OK")
    return FAILED


command("A", "Answer the ringing call (OK; no call: NO CARRIER)", f"{V25}.2", exec=F(_ata))


def _ath(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    m.ppp.hang_up()  # a dial-up call held after +++ (docs/ppp.md)
    if m.voice.cvhu != 1:
        m.voice.hang_up()


command("H", "Hang up the call (AT+CVHU=1: ignored; OK either way) and a dial-up call held "
        "after +++", f"{V25}.8",
        exec=F(_ath), write=F(_ath, sig=(Int(0, 0),)))


def _chup(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    m.voice.hang_up()


command("+CHUP", "Hang up the call (whatever AT+CVHU says)", "manual V1.12 2.2.8 (ATH); 3GPP TS 27.007 6.5",
        exec=F(_chup), test=F(ok))


# ---------------------------------------------------------------- settings


def _voice_setting(name: str, attr: str, summary: str, source: str, *,
                   read_suffix: str = "", optional: bool = False) -> None:
    """An 0/1 setting of the call subsystem: test, read, write."""

    def read(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
        m.info(f"{name}: {getattr(m.voice, attr)}{read_suffix}")

    def write(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
        if values[0] is not None:  # omitted: the previous value stays (CRC)
            setattr(m.voice, attr, values[0])

    command(name, summary, source, test=F(text(f"{name}: (0,1)")), read=F(read),
            write=F(write, sig=(Int(0, 1, optional=optional),)))


_voice_setting("+CLIP", "clip", "Caller number (+CLIP: ...) after each RING", "manual V1.12 3.2.18",
               read_suffix=",1")
_voice_setting("+COLP", "colp", "ATD waits for the answer and shows +COLP: <number>",
               "manual V1.12 3.2.21", read_suffix=",1")
_voice_setting("+CRC", "crc", "+CRING: VOICE instead of RING", "manual V1.12 3.2.31",
               optional=True)
_voice_setting("+CVHU", "cvhu", "Voice hang-up control: 1 makes ATH ignore the call",
               "manual V1.12 2.2.8 (ATH); 3GPP TS 27.007 6.20")
_voice_setting("+MORING", "moring", "MO RING / MO CONNECTED while an outgoing call proceeds",
               "manual V1.12 6.2.29")
_voice_setting("+CDRIND", "cdrind", "+CDRIND: 0 when a call ends", "manual V1.12 6.2.14")


def _clcc_exec(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    lines = m.voice.list_calls()
    if lines:
        m.info(*lines)


def _clcc_read(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    m.info(f"+CLCC: {m.voice.clcc}")


def _clcc_write(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    m.voice.clcc = int(values[0] or 0)


command("+CLCC", "List current calls; AT+CLCC=1 lists them after every change",
        "manual V1.12 3.2.16", test=F(text("+CLCC: (0,1)")), read=F(_clcc_read),
        write=F(_clcc_write, sig=(Int(0, 1),)), exec=F(_clcc_exec))


def _ceer_exec(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    m.info(m.voice.ceer_report())


def _ceer_read(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    m.info(f"+CEER: {m.voice.ceer}")


def _ceer_write(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    m.voice.ceer = int(values[0] or 0)


command("+CEER", "Why the last call ended (0: text, 1: Cause:<number>)", "manual V1.12 3.2.7",
        test=F(text("+CEER: (0,1)")), read=F(_ceer_read), write=F(_ceer_write, sig=(Int(0, 1),)),
        exec=F(_ceer_exec))


# ---------------------------------------------------------------- call waiting, hold


def _ccwa_read(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    m.info(f"+CCWA: {m.voice.ccwa}")


def _ccwa_write(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    n, mode, classes = values
    v = m.voice
    if mode is not None and not _network(m):
        raise CommandError(30)  # the network is interrogated: no network service
    v.ccwa = int(n or 0)
    klass = 7 if classes is None else int(classes)
    if mode == 0:
        v.ccwa_classes &= ~klass
    elif mode == 1:
        v.ccwa_classes |= klass
    elif mode == 2:
        active = [bit for bit in (1, 2, 4) if v.ccwa_classes & bit]
        m.info(*([f"+CCWA: 1,{bit}" for bit in active] or ["+CCWA: 0,7"]))


command("+CCWA", "Call waiting: +CCWA: <number> for a second call (n=1); the network's "
        "service on/off/query (mode 1/0/2)", "manual V1.12 3.2.6",
        test=F(text("+CCWA: (0,1)")), read=F(_ccwa_read),
        write=F(_ccwa_write, sig=(Int(0, 1), Int(0, 2, optional=True),
                                  Int(1, 7, optional=True))))

CHLD_FORMS = frozenset(["0", "1", "2", "3", "4"] + [f"{op}{x}" for op in "12" for x in "1234567"])


def _chld(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    n = cmd.raw.strip()
    if n not in CHLD_FORMS:
        raise syntax_error()
    if not m.voice.chld(n):
        raise CommandError(3)


command("+CHLD", "Call hold and multiparty: release, hold, swap, join, transfer calls",
        "manual V1.12 3.2.14", test=F(text("+CHLD: (0,1,1x,2,2x,3,4)")),
        write=F(_chld, sig=None))


# ---------------------------------------------------------------- DTMF


def _parse_tones(raw: str) -> list[str]:
    """<dtmf-string> of AT+VTS: a single key, or in quotes keys and
    {key,duration} pairs separated by commas (at most 20 characters)."""
    raw = raw.strip()
    if len(raw) >= 2 and raw[0] == raw[-1] == '"':
        raw = raw[1:-1]
    if not raw or len(raw) > 20:
        raise syntax_error()
    tones: list[str] = []
    i = 0
    while i < len(raw):
        if raw[i] == "{":
            end = raw.find("}", i)
            if end < 0:
                raise syntax_error()
            key, _, duration = raw[i + 1 : end].partition(",")
            if not (duration.isdecimal() and 1 <= int(duration) <= 255):
                raise syntax_error()
            tones.append(key)
            i = end + 1
        else:
            key = raw[i]
            tones.append(key)
            i += 1
        if i < len(raw):
            if raw[i] != ",":
                raise syntax_error()
            i += 1
            if i >= len(raw):
                raise syntax_error()
    if any(key.upper() not in DTMF_KEYS or len(key) != 1 for key in tones):
        raise syntax_error()
    return tones


def _vts(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    _parse_tones(cmd.raw)
    if not m.voice.active:
        raise CommandError(3)


command("+VTS", "Send DTMF tones in the active call (no audio: accepted and dropped)",
        "manual V1.12 3.2.37", test=F(text("+VTS: (0-9,*,#,A,B,C,D),(1-255)")),
        write=F(_vts, sig=None))


def _vtd_read(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    m.info(f"+VTD: {m.voice.vtd}")


def _vtd_write(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    m.voice.vtd = int(values[0] or 1)


command("+VTD", "Duration of the AT+VTS tones in 1/10 s (kept; no audio)", "manual V1.12 3.2.36",
        test=F(text("+VTD: (1-255)")), read=F(_vtd_read), write=F(_vtd_write, sig=(Int(1, 255),)))


def _ddet_read(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    v = m.voice
    m.info(f"+DDET: {v.ddet},{v.ddet_interval},{v.ddet_report},{v.ddet_ssdet}")


def _ddet_write(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    v = m.voice
    v.ddet = int(values[0] or 0)
    if values[1] is not None:
        v.ddet_interval = int(values[1])
    if values[2] is not None:
        v.ddet_report = int(values[2])
    if values[3] is not None:
        v.ddet_ssdet = int(values[3])


command("+DDET", "DTMF detection: +DTMF: <key> for the keys the far end presses "
        "(ctl dtmf KEYS)", "manual V1.12 15.2.1",
        test=F(text("+DDET: (0,1),(0-10000),(0,1),(0,1)")), read=F(_ddet_read),
        write=F(_ddet_write, sig=(Int(0, 1), Int(0, 10000, optional=True),
                                  Int(0, 1, optional=True), Int(0, 1, optional=True))))
