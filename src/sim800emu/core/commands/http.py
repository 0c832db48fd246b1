"""The HTTP application (manual chapter 11; AT+HTTPSSL and AT+SSLOPT from
SIMCom's SSL application note): the commands drive ``m.http``
(core/apps/http.py)."""

from __future__ import annotations

from dataclasses import asdict, fields
from typing import TYPE_CHECKING

from ..apps.http import MAX_DATA, Params, parse_url
from ..parser import Command
from ..registry import (
    DONE,
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
from .basic import store

if TYPE_CHECKING:
    from ..modem import Modem

MAN = "manual 11.2"
SSL_NOTE = "reference beyond-tcpip (SIM800 Series SSL Application Note)"
ACTIVE = Rule("after AT+HTTPINIT", lambda m, v: m.http.active)
IDLE = ACTIVE & Rule("no HTTPACTION running", lambda m, v: not m.http.running)
SAVED_KEY = "httpscont"


def _init(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    if not m.http.init():
        raise CommandError(3)
    saved = m.saved.get(SAVED_KEY)
    if isinstance(saved, dict):
        for f in fields(Params):
            value = saved.get(f.name)
            if type(value) is type(getattr(m.http.params, f.name)):
                setattr(m.http.params, f.name, value)


def _term(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    if not m.http.term():
        raise CommandError(3)


command("+HTTPINIT", "Start the HTTP session (ERROR when one is open)", "manual 11.2.1",
        test=F(ok), exec=F(_init))
command("+HTTPTERM", "End the HTTP session (ERROR when none is open)", "manual 11.2.2",
        test=F(ok), exec=F(_term))


# ---------------------------------------------------------------- HTTPPARA

NUMBERS: dict[str, tuple[str, int, int]] = {
    "CID": ("cid", 1, 3),
    "PROPORT": ("proport", 0, 65535),
    "REDIR": ("redir", 0, 1),
    "BREAK": ("brk", 0, 2**31 - 1),
    "BREAKEND": ("brkend", 0, 2**31 - 1),
    "TIMEOUT": ("timeout", 30, 1000),
}
STRINGS = {"URL": "url", "UA": "ua", "PROIP": "proip", "CONTENT": "content", "USERDATA": "userdata"}


def _para(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    tag = str(values[0]).strip().upper()
    value = str(values[1] if values[1] is not None else "")
    params = m.http.params
    if tag in NUMBERS:
        attr, lo, hi = NUMBERS[tag]
        text_value = value.strip()
        if not text_value.isdecimal() or not lo <= int(text_value) <= hi:
            raise CommandError(3)
        setattr(params, attr, int(text_value))
    elif tag in STRINGS:
        if tag == "URL" and parse_url(value) is None:
            raise CommandError(3)  # no host, or a bad port
        setattr(params, STRINGS[tag], value)
    else:
        raise CommandError(3)


def _para_read(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    p = m.http.params
    shown = {
        "CID": p.cid, "URL": p.url, "UA": p.ua, "PROIP": p.proip or "0.0.0.0",
        "PROPORT": p.proport, "REDIR": p.redir, "BREAK": p.brk, "BREAKEND": p.brkend,
        "TIMEOUT": p.timeout, "CONTENT": p.content, "USERDATA": p.userdata,
    }  # fmt: skip
    m.info(*(f"+HTTPPARA: {tag},{value}" for tag, value in shown.items()))


command(
    "+HTTPPARA", "Set a session parameter: CID URL UA PROIP PROPORT REDIR BREAK BREAKEND "
    "TIMEOUT CONTENT USERDATA", "manual 11.2.3",
    test=F(text('+HTTPPARA: "HTTPParamTag","HTTPParmValue"')),
    read=F(_para_read, ACTIVE),
    write=F(_para, IDLE, (Str(16), Str(512, optional=True))),
)


# ---------------------------------------------------------------- HTTPDATA


def _data(m: Modem, values: tuple[Value, ...], cmd: Command) -> Outcome | None:
    size, limit = int(values[0] or 0), int(values[1] or 0)
    if size == 0:
        m.http.data = b""
        return None

    def stored(data: bytes) -> None:
        m.http.data = m.http.readable = data
        m.final("OK")

    m.info("DOWNLOAD")
    return m.begin_entry(size, stored, limit / 1000.0)


command(
    "+HTTPDATA", "Data for POST: DOWNLOAD, then <size> bytes within <time> ms, then OK",
    "manual 11.2.4",
    test=F(text(f"+HTTPDATA: (1-{MAX_DATA}),(1000-120000)")),
    write=F(_data, IDLE, (Int(0, MAX_DATA), Int(1000, 120000))),
)


# ---------------------------------------------------------------- HTTPACTION


def _action(m: Modem, values: tuple[Value, ...], cmd: Command) -> Outcome:
    m.final("OK")
    m.http.action(int(values[0] or 0))
    return DONE


command(
    "+HTTPACTION", "GET 0, POST 1, HEAD 2, DELETE 3: OK, then "
    "+HTTPACTION: <method>,<status>,<datalen> (600-606: the module's own codes)",
    "manual 11.2.5; SSL application note (605, 606)",
    test=F(text("+HTTPACTION: (0-3)")),
    write=F(_action, ACTIVE, (Int(0, 3),)),
)


# ---------------------------------------------------------------- reading


def _show(m: Modem, name: str, data: bytes) -> None:
    if data:
        m.info(f"{name}: {len(data)}")
        m.raw_output(data)


def _read_all(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    _show(m, "+HTTPREAD", m.http.read())


def _read_range(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    _show(m, "+HTTPREAD", m.http.read(int(values[0] or 0), int(values[1] or 0)))


command(
    "+HTTPREAD", "The response (or HTTPDATA's data): +HTTPREAD: <len>, the bytes, OK; "
    "=<start>,<size> for a part", "manual 11.2.6",
    test=F(text(f"+HTTPREAD: (0-{MAX_DATA}),(1-{MAX_DATA})")),
    exec=F(_read_all, IDLE),
    write=F(_read_range, IDLE, (Int(0, MAX_DATA), Int(1, MAX_DATA))),
)

command(
    "+HTTPHEAD", "The response's status line and headers: +HTTPHEAD: <len>, the bytes, OK",
    "manual 11.2.9",
    test=F(ok), exec=F(lambda m, v, c: _show(m, "+HTTPHEAD", m.http.head), IDLE),
)


def _gethead_write(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    m.http.params.gethead = int(values[0] or 0)


command(
    "+HTTPGETHEAD", "1: HTTPREAD shows the response headers before the body", "manual 11.2.10",
    test=F(text("+HTTPGETHEAD: (0,1)")),
    read=F(lambda m, v, c: m.info(f"+HTTPGETHEAD: {m.http.params.gethead}")),
    write=F(_gethead_write, ACTIVE, (Int(0, 1),)),
)


def _status(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    h = m.http
    state = (2 if h.sending else 1) if h.running else 0
    remain = max(0, h.expected - h.received) if h.running else 0
    m.info(f"+HTTPSTATUS: {h.method},{state},{h.received},{remain}")


command(
    "+HTTPSTATUS", "+HTTPSTATUS: <method>,<0 idle|1 receiving|2 sending>,<done>,<remain>",
    "manual 11.2.8", test=F(ok), read=F(_status),
)


def _scont_read(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    p = m.http.params
    saved = m.saved.get(SAVED_KEY)
    mode = 0 if isinstance(saved, dict) and saved == asdict(p) else 1
    m.info(
        f"+HTTPSCONT: {mode}",
        f"CID: {p.cid}",
        f"URL: {p.url}",
        f"UA: {p.ua}",
        f"PROIP: {p.proip or '0.0.0.0'}",
        f"PROPORT: {p.proport}",
        f"REDIR: {p.redir}",
        f"BREAK: {p.brk}",
        f"BREAKEND: {p.brkend}",
        f"USERDATA: {p.userdata}",
    )


def _scont_save(m: Modem, values: tuple[Value, ...], cmd: Command) -> Outcome:
    # OK once saved, ERROR when the save failed (basic.store)
    return store(m, {**m.saved, SAVED_KEY: asdict(m.http.params)})


command(
    "+HTTPSCONT", "Show (?) or save the session's parameters (loaded by the next HTTPINIT)",
    "manual 11.2.7",
    read=F(_scont_read, ACTIVE), exec=F(_scont_save, ACTIVE),
)


# ---------------------------------------------------------------- TLS


def _ssl_write(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    m.http.params.ssl = int(values[0] or 0)


command(
    "+HTTPSSL", "1: the next HTTPACTION uses TLS (certificates unchecked unless --tls-verify)",
    SSL_NOTE,
    test=F(text("+HTTPSSL: (0,1)")),
    read=F(lambda m, v, c: m.info(f"+HTTPSSL: {m.http.params.ssl if m.http.active else 0}")),
    write=F(_ssl_write, IDLE, (Int(0, 1),)),
)


def _sslopt_write(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    m.switches[f"sslopt{values[0]}"] = int(values[1] or 0)


command(
    "+SSLOPT", "TLS options (0: ignore an invalid certificate, 1: client authentication): "
    "kept, no effect", SSL_NOTE,
    test=F(text("+SSLOPT: (0,1),(0,1)")),
    write=F(_sslopt_write, sig=(Int(0, 1), Int(0, 1))),
)
