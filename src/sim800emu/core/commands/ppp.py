"""Dial-up data: the GPRS dial ``ATD*99[*[<addr>][*[<L2P>][*[<cid>]]]]#``
(reached through ATD without ';', commands/voice.py) and AT+CGDATA
(manual V1.12 2.2.3, 7.2.6, 19.8; 3GPP TS 27.007 10.2.1.1). Both bring up
the PDP context (attaching and activating as needed, with the simulated
``cgatt`` and ``cgact`` delays), answer ``CONNECT`` and hand the serial
line to the PPP session (``core/ppp/session.py``, ``Modem.ppp``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..parser import Command
from ..registry import (
    DATA,
    FAILED,
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

if TYPE_CHECKING:
    from ..modem import Modem

MAN = "manual V1.12 "
SERVICE_CODES = ("99", "88")  # GPRS service codes of ATD (manual 19.8)
PPP_L2P = ("", "PPP", "1")  # the L2P of a dial string: omitted, or PPP (27.007: 1)
INVALID_INDEX = 21  # an undefined context (manual 19.8, AT+CGACT)
UNKNOWN = 100  # not registered for GPRS (as AT+CGATT=1)


def parse_gprs_dial(dial: str) -> tuple[str, int] | None:
    """``*99***1#`` -> ("", 1): the L2P and the context of a GPRS dial
    string; None when ``dial`` is not one (a CSD number, ``*98#``)."""
    dial = dial.strip()
    if dial[:1] in ("T", "t", "P", "p"):  # ATDT*99#: tone/pulse, ignored (2.2.3)
        dial = dial[1:].lstrip()
    if len(dial) < 4 or dial[0] != "*" or dial[-1] != "#":
        return None
    parts = dial[1:-1].split("*")
    if parts[0] not in SERVICE_CODES or len(parts) > 4:
        return None
    l2p = parts[2].strip().upper() if len(parts) > 2 else ""
    cid_text = parts[3].strip() if len(parts) > 3 else ""
    if cid_text and not (cid_text.isascii() and cid_text.isdecimal()):
        return None
    return l2p, int(cid_text) if cid_text else 1


def _check_call(m: Modem, l2p: str, cid: int) -> None:
    if l2p not in PPP_L2P:
        raise syntax_error()  # "the mobile supports Layer 2 Protocol PPP only"
    if not m.gprs.defined(cid):
        raise CommandError(INVALID_INDEX)
    if m.ppp.call or m.ppp.dialling or m.voice.busy:
        raise CommandError(3)  # one call at a time (class B: not PS and CS at once)


def start_call(m: Modem, cid: int, fail: CommandError | None) -> Outcome:
    """Bring the context up and CONNECT: at once when it is up, else after
    the attach and activation delays (the command pending meanwhile).
    ``fail``: the error if registration is gone by then (None: NO CARRIER)."""
    wait = 0.0
    if not m.radio.attached:
        wait += m.delay("cgatt")
    if not m.pdp_active:
        wait += m.delay("cgact")
    if wait <= 0:
        m.ppp.connect(cid, pending=False)
        return DATA
    m.ppp.dialling = True

    def up() -> None:
        if not m.ppp.dialling:
            return
        m.ppp.dialling = False
        if not m.radio.gprs_registered:
            m.complete(fail, None if fail else "NO CARRIER")
            return
        m.ppp.connect(cid, pending=True)

    m.start_timer("ppp-dial", wait, up)
    return PENDING


def gprs_dial(m: Modem, dial: str) -> Outcome | None:
    """ATD<dial> without ';' when ``dial`` is a GPRS dial string; None when
    it is not (the caller answers as for any other data call)."""
    parsed = parse_gprs_dial(dial)
    if parsed is None:
        return None
    l2p, cid = parsed
    m.require_sim()  # a GPRS dial needs the SIM (ATD itself does not: emergency calls)
    if not 1 <= cid <= 3:
        raise CommandError(INVALID_INDEX)
    _check_call(m, l2p, cid)
    if not m.radio.gprs_registered:
        m.final("NO CARRIER")  # a connection cannot be established (2.2.3)
        return FAILED
    return start_call(m, cid, None)


def _cgdata(m: Modem, values: tuple[Value, ...], cmd: Command) -> Outcome:
    l2p = str(values[0] or "").strip().upper()
    cid = int(values[1]) if values[1] is not None else 1
    if l2p != "PPP":
        raise syntax_error()  # other values: ERROR (7.2.6)
    _check_call(m, l2p, cid)
    if not m.radio.gprs_registered:
        raise CommandError(UNKNOWN)
    return start_call(m, cid, CommandError(UNKNOWN))


command(
    "+CGDATA", 'Enter data state: "PPP" only; attaches and activates the context, CONNECT '
    "and PPP on the line (docs/ppp.md)", MAN + "7.2.6, 19.8",
    test=F(text('+CGDATA: ("PPP")')),
    write=F(_cgdata, sig=(Str(16), Int(1, 3, optional=True))),
    needs_sim=True,
)
