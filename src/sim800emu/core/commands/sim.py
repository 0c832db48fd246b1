"""The SIM card's commands (manual V1.12 3.2.1-3.2.3, 3.2.15, 3.2.17,
3.2.28, 3.2.29, 3.2.39, 3.2.50, 6.2.3, 6.2.15, 6.2.23, 6.2.53). What lives
on the SIM is ``core/sim.py`` (``m.sim``); ``persist`` stores it in the
saved profile after every change."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..charset import CharsetError
from ..parser import Command
from ..registry import (
    DONE,
    CommandError,
    F,
    Int,
    Outcome,
    Str,
    Value,
    command,
    ok,
    syntax_error,
    text,
)
from ..sim import LOCK_FACILITIES, PASSWORDS, READY, SIM_PUK
from .basic import store

if TYPE_CHECKING:
    from ..modem import Modem

MAN = "manual V1.12 "
INCORRECT_PASSWORD = 16


def persist(m: Modem) -> Outcome:
    """Keep the SIM's data (phone books, CPOL, locks ...) across restarts:
    the command's final result waits for the store (OK once saved, ERROR
    when the save failed), like AT&W's."""
    return store(m, {**m.saved, m.sim_key: m.sim.to_json()})


# ---------------------------------------------------------------- identity, PIN


def _ccid(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    m.info(m.config.identity.iccid)


command("+CCID", "SIM card ICCID (bare, no prefix)", MAN + "6.2.23; reference 6",
        exec=F(_ccid), test=F(ok), needs_sim=True)


def _cimi(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    m.info(m.config.identity.imsi)


command("+CIMI", "IMSI", MAN + "3.2.15; reference 6", exec=F(_cimi), test=F(ok), needs_sim=True)


def _cpin_read(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    if not m.radio.sim_ready:
        if m.radio.cfun != 1:
            raise CommandError(3, "CFUN state is 0 or 4")
        if m.sim.pin_state == READY:
            raise CommandError(14)  # still starting
    m.info(f"+CPIN: {m.sim.pin_state}")


def _cpin_write(m: Modem, values: tuple[Value, ...], cmd: Command) -> Outcome | None:
    if m.radio.sim_ready:
        return None  # nothing to enter (reference 6: OK)
    if m.radio.cfun != 1:
        raise CommandError(3, "CFUN state is 0 or 4")
    if m.sim.pin_state == READY:
        raise CommandError(14)
    new = None if values[1] is None else str(values[1])
    if m.sim.pin_state == SIM_PUK and (new is None or not 4 <= len(new) <= 8 or not new.isdecimal()):
        raise syntax_error()
    code = m.sim.enter(str(values[0]), new)
    if code is not None:
        raise CommandError(code)
    m.final("OK")
    m.sim_up()  # +CPIN: READY, Call Ready, SMS Ready
    return DONE


command("+CPIN", "SIM PIN state: READY, or SIM PIN / SIM PUK when the SC lock (AT+CLCK) is on; "
        "the write form unlocks", MAN + "3.2.28; reference 6",
        read=F(_cpin_read), write=F(_cpin_write, sig=(Str(8), Str(8, optional=True))),
        test=F(ok))


def _spic(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    m.info(f"+SPIC: {m.sim.pin_tries},3,{m.sim.puk_tries},10")


command("+SPIC", "Attempts left for PIN1, PIN2, PUK1, PUK2", MAN + "6.2.3", exec=F(_spic))


def _cnum(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    entries = m.sim.books["ON"].read(1, m.sim.books["ON"].size)
    lines = [
        f'+CNUM: "{m.charset.encode(e.text)}","{e.number}",{e.type},7,4' for _, e in entries
    ]
    if lines:
        m.info(*lines)


command("+CNUM", "Subscriber number (the SIM's --msisdn; the ON phone book)", MAN + "3.2.39",
        test=F(ok), exec=F(_cnum), needs_sim=True)


def _cspn(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    m.info(f'+CSPN: "{m.config.identity.operator}",0')


command("+CSPN", "Service provider name from the SIM", MAN + "6.2.15",
        read=F(_cspn), needs_sim=True)


def _csmins_read(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    m.info(f"+CSMINS: {m.settings.csmins},1")


def _csmins_write(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    m.settings.csmins = int(values[0] or 0)


command("+CSMINS", "SIM inserted status (always inserted) and its URC switch", MAN + "6.2.53",
        test=F(text("+CSMINS: (0,1)")), read=F(_csmins_read),
        write=F(_csmins_write, sig=(Int(0, 1),)))


# ---------------------------------------------------------------- locks, passwords


def _fac(value: Value, allowed: tuple[str, ...]) -> str:
    fac = str(value).upper()
    if fac not in allowed:
        raise syntax_error()
    return fac


def _clck_write(m: Modem, values: tuple[Value, ...], cmd: Command) -> Outcome | None:
    fac = _fac(values[0], LOCK_FACILITIES)
    mode, passwd = values[1], values[2]
    barring = fac in ("AO", "OI", "OX", "AI", "IR")
    if mode == 2:
        status = int(m.sim.locked(fac))
        m.info(f"+CLCK: {status},7" if barring and status else f"+CLCK: {status}")
        return None
    if passwd is None or not m.sim.password_ok(fac, str(passwd)):
        raise CommandError(INCORRECT_PASSWORD)
    m.sim.locks[fac] = mode == 1
    return persist(m)


command("+CLCK", "Facility lock: query (2), lock (1) or unlock (0) with its password; "
        "kept with the SIM's data, not enforced", MAN + "3.2.17, 20.13",
        test=F(text("+CLCK: (" + ",".join(f'"{f}"' for f in LOCK_FACILITIES) + ")")),
        write=F(_clck_write, sig=(Str(2), Int(0, 2), Str(8, optional=True),
                                  Int(1, 255, optional=True))),
        needs_sim=True)


def _cpwd_write(m: Modem, values: tuple[Value, ...], cmd: Command) -> Outcome | None:
    fac = _fac(values[0], tuple(PASSWORDS))
    old, new = str(values[1]), str(values[2])
    if not new or len(new) > PASSWORDS[fac] or not new.isdecimal():
        raise syntax_error()
    check = "AO" if fac == "AB" else fac
    if not m.sim.password_ok(check, old):
        raise CommandError(INCORRECT_PASSWORD)
    m.sim.set_password(check, new)
    return persist(m)


command("+CPWD", "Change a facility password (SC = PIN1, P2 = PIN2, barring)", MAN + "3.2.29",
        test=F(text("+CPWD: " + ",".join(f'("{f}",{n})' for f, n in PASSWORDS.items()))),
        write=F(_cpwd_write, sig=(Str(2), Str(8), Str(8))), needs_sim=True)


# ---------------------------------------------------------------- advice of charge


def _hex3(value: int) -> str:
    return f'"{value:06X}"'


def _parse_hex3(value: Value) -> int:
    text_ = str(value)
    if not 1 <= len(text_) <= 6:
        raise syntax_error()
    try:
        return int(text_, 16)
    except ValueError:
        raise syntax_error() from None


def _pin2(m: Modem, given: Value) -> None:
    if given is not None and str(given) != m.sim.pin2:
        raise CommandError(INCORRECT_PASSWORD)


def _cacm_write(m: Modem, values: tuple[Value, ...], cmd: Command) -> Outcome | None:
    _pin2(m, values[0])
    m.sim.acm = 0
    return persist(m)


command("+CACM", "Accumulated call meter: read, reset with PIN2", MAN + "3.2.1",
        test=F(ok), read=F(lambda m, v, c: m.info(f"+CACM: {_hex3(m.sim.acm)}")),
        write=F(_cacm_write, sig=(Str(8, optional=True),)), needs_sim=True)


def _camm_write(m: Modem, values: tuple[Value, ...], cmd: Command) -> Outcome | None:
    value = _parse_hex3(values[0])
    _pin2(m, values[1])
    m.sim.acm_max = value
    return persist(m)


command("+CAMM", "Accumulated call meter maximum (000000 disables)", MAN + "3.2.2",
        test=F(ok), read=F(lambda m, v, c: m.info(f"+CAMM: {_hex3(m.sim.acm_max)}")),
        write=F(_camm_write, sig=(Str(6), Str(8, optional=True))), needs_sim=True)


def _caoc_write(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    if values[0] == 0:
        m.info(f"+CAOC: {_hex3(0)}")
        return
    m.switches["caoc"] = int(values[0] or 0)


command("+CAOC", "Advice of charge: 0 query the call meter (no calls are charged: 000000)",
        MAN + "3.2.3",
        test=F(text("+CAOC: (0-2)")),
        read=F(lambda m, v, c: m.info(f"+CAOC: {m.switches.get('caoc', 1)}")),
        write=F(_caoc_write, sig=(Int(0, 2),)),
        exec=F(lambda m, v, c: m.info(f"+CAOC: {_hex3(0)}")), needs_sim=True)


def _cpuc_write(m: Modem, values: tuple[Value, ...], cmd: Command) -> Outcome | None:
    _pin2(m, values[2])
    try:
        m.sim.currency = m.charset.decode(str(values[0]))
    except CharsetError:  # not hex under AT+CSCS="UCS2"/"HEX" (a fuzz finding)
        raise CommandError(25) from None  # invalid characters in text string
    m.sim.ppu = str(values[1])
    return persist(m)


command("+CPUC", "Price per unit and currency", MAN + "3.2.50",
        test=F(ok),
        read=F(lambda m, v, c: m.info(
            f'+CPUC: "{m.charset.encode(m.sim.currency)}","{m.sim.ppu}"')),
        write=F(_cpuc_write, sig=(Str(3), Str(20), Str(8, optional=True))), needs_sim=True)
