"""The radio family: registration, operator, signal, functionality, clock
and network time (manual V1.12 3.2.22, 3.2.32, 3.2.35, 3.2.40-3.2.43,
6.2.12, 6.2.17, 6.2.21, 7.2.10). State lives in ``core/radio.py``."""

from __future__ import annotations

from typing import TYPE_CHECKING

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
    syntax_error,
    text,
)
from .sim import persist

if TYPE_CHECKING:
    from ..modem import Modem

MAN = "manual V1.12 "
NO_NETWORK_SERVICE = 30


def _registration(name: str, what: str, source: str, n_attr: str, stat_attr: str) -> None:
    """CREG and CGREG: the same forms over their own <n> and <stat>."""

    def read(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
        n = getattr(m.settings, n_attr)
        m.info(f"{name}: {n},{m.radio.registration(n, getattr(m.radio, stat_attr))}")

    def write(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
        setattr(m.settings, n_attr, int(values[0] if values[0] is not None else 0))

    command(name, what, source, test=F(text(f"{name}: (0-2)")), read=F(read),
            write=F(write, sig=(Int(0, 2, optional=True),)), needs_sim=True)


_registration("+CREG", "GSM network registration (URC +CREG: <stat> with n=1/2)",
              MAN + "3.2.32", "creg_n", "creg_stat")
_registration("+CGREG", "GPRS network registration", MAN + "7.2.10", "cgreg_n", "cgreg_stat")


# ---------------------------------------------------------------- operator


def _cops_read(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    radio = m.radio
    if radio.registered:
        fmt = radio.cops_format
        m.info(f'+COPS: {radio.cops_mode},{fmt},"{radio.operator(fmt)}"')
    else:
        m.info(f"+COPS: {radio.cops_mode}")


def _cops_test(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    radio = m.radio
    if radio.cfun != 1:
        m.info("+COPS: ,,(0-4),(0-2)")
        return
    stat = 2 if radio.registered else 1
    name = radio.operator(0)
    m.info(f'+COPS: ({stat},"{name}","{name}","{radio.operator(2)}"),,(0-4),(0-2)')


def _cops_write(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    mode, fmt, oper = values
    radio = m.radio
    if mode == 3:
        if fmt is None:
            raise syntax_error()
        radio.cops_format = int(fmt)
        return
    if mode in (1, 4):
        if fmt is None or oper is None:
            raise syntax_error()
        wanted = str(oper)
        if wanted != radio.operator(int(fmt)):
            if mode == 1:
                raise CommandError(NO_NETWORK_SERVICE)
            mode = 0  # 4: manual failed, automatic entered
    if fmt is not None:
        radio.cops_format = int(fmt)  # applies to later reads (manual 3.2.22)
    if mode == 2:
        was = radio.creg_stat
        radio.cops_mode = 2
        radio.deregister()
        m.ip.lose_context()
        if was != 0:
            m.registration_changed()
        return
    was_registered = radio.registered
    radio.cops_mode = 1 if mode in (1, 4) else 0
    if not was_registered and radio.cfun == 1:
        radio.radio_on()
        m.registration_changed()


command("+COPS", "Operator selection: 0 automatic, 1 manual, 2 deregister, 3 format, 4 both",
        MAN + "3.2.22",
        read=F(_cops_read), test=F(_cops_test),
        write=F(_cops_write, sig=(Int(0, 4), Int(0, 2, optional=True), Str(32, optional=True))),
        needs_sim=True)


def _copn(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    radio = m.radio
    m.info(f'+COPN: "{radio.operator(2)}","{radio.operator(0)}"')


command("+COPN", "Operator names (the simulated network's only)", MAN + "3.2.41",
        test=F(ok), exec=F(_copn), needs_sim=True)


def _cpol_read(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    lines = [f'+CPOL: {i},{f},"{op}"' for i, (f, op) in sorted(m.sim.cpol.items())]
    if lines:
        m.info(*lines)


def _cpol_write(m: Modem, values: tuple[Value, ...], cmd: Command) -> Outcome:
    index, fmt, oper = values
    if oper is None:
        if fmt is not None:
            raise syntax_error()
        m.sim.cpol.pop(int(index or 0), None)
    else:
        if fmt is None:
            raise syntax_error()
        m.sim.cpol[int(index or 0)] = (int(fmt), str(oper))
    return persist(m)


command("+CPOL", "Preferred operator list on the SIM (kept with the SIM's data)", MAN + "3.2.40",
        test=F(text("+CPOL: (1-50),(0-2)")), read=F(_cpol_read),
        write=F(_cpol_write, sig=(Int(1, 50), Int(0, 2, optional=True), Str(32, optional=True))),
        needs_sim=True)


# ---------------------------------------------------------------- signal, power


def _csq(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    rssi, ber = m.radio.csq()
    m.info(f"+CSQ: {rssi},{ber}")


command("+CSQ", "Signal quality (99,99 when not registered)", MAN + "3.2.35; reference 6",
        exec=F(_csq), test=F(text("+CSQ: (0-31,99),(0-7,99)")))


def _cfun_read(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    m.info(f"+CFUN: {m.radio.cfun}")


def _cfun_write(m: Modem, values: tuple[Value, ...], cmd: Command) -> Outcome | None:
    fun, rst = int(values[0] or 0), values[1]
    radio = m.radio
    if rst == 1:
        m.final("OK")
        m.reboot()
        return DONE
    if fun == radio.cfun:
        return None
    if fun in (0, 4):
        if radio.cfun != 1:
            # manual 3.2.42: 0 and 4 cannot be switched to each other
            raise CommandError(3)
        radio.radio_off(fun)
        m.ip.lose_context()
        m.final("OK")
        if fun == 0:
            m.urc("+CPIN: NOT READY")
        m.registration_changed()
        return DONE
    # from 0 the SIM was off: it starts again (and asks for its PIN when
    # locked); from 4 it stays as it was
    waiting = m.sim.power_on() if radio.cfun == 0 else not radio.sim_ready
    radio.radio_on()
    radio.sim_ready = not waiting
    m.final("OK")
    m.urc(f"+CPIN: {m.sim.pin_state}")
    m.registration_changed()
    return DONE


command("+CFUN", "Phone functionality; AT+CFUN=1,1 reboots with the boot URCs",
        MAN + "3.2.42; reference 6",
        test=F(text("+CFUN: (0,1,4),(0,1)")), read=F(_cfun_read),
        write=F(_cfun_write, Rule("fun 0, 1 or 4", lambda m, v: v[0] in (0, 1, 4)),
                (Int(0, 4), Int(0, 1, optional=True))))


# ---------------------------------------------------------------- clock, network time


def _cclk_read(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    m.info(f'+CCLK: "{m.radio.cclk(m.now)}"')


def _cclk_write(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    if not m.radio.set_clock(str(values[0]), m.now):
        raise syntax_error()


command("+CCLK", 'Real-time clock "yy/MM/dd,hh:mm:ss±zz" (local time; 04/01/01,00:00:00+00 '
        "after power-on; set by CLTS network time and CNTP)", MAN + "3.2.43; " + "reference 6",
        read=F(_cclk_read), write=F(_cclk_write, sig=(Str(20),)), test=F(ok))


def _clts_write(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    m.settings.clts = int(values[0] or 0)


command("+CLTS", "Network time: with 1 the *PSUTTZ/+CTZV/DST URCs follow registration "
        "and set the clock", MAN + "6.2.12",
        test=F(text('+CLTS: "yy/MM/dd,hh:mm:ss+/-zz"')),
        read=F(lambda m, v, c: m.info(f"+CLTS: {m.settings.clts}")),
        write=F(_clts_write, sig=(Int(0, 1),)))


# ---------------------------------------------------------------- band, engineering mode

BANDS = ("EGSM_MODE", "DCS_MODE", "GSM850_MODE", "PCS_MODE", "EGSM_DCS_MODE",
         "GSM850_PCS_MODE", "EGSM_PCS_MODE", "ALL_BAND")


def _cband_write(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    band = str(values[0]).upper()
    if band not in BANDS:
        raise syntax_error()
    m.radio.band = band


command("+CBAND", "Operating band (kept; the simulated network is on every band)",
        MAN + "6.2.17, 20.3",
        test=F(text("+CBAND: (" + ",".join(BANDS) + ")")),
        read=F(lambda m, v, c: m.info(f"+CBAND: {m.radio.band}")),
        write=F(_cband_write, sig=(Str(20),)))


def _ceng_read(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    radio = m.radio
    lines = [f"+CENG: {radio.ceng_mode},{radio.ceng_ncell}"]
    if radio.ceng_mode and radio.registered:
        cfg = m.config.radio
        rxl = min(63, 2 * radio.rssi)
        lac, ci = cfg.lac.lower(), cfg.ci.lower()
        if radio.ceng_mode == 3:
            lines.append(f'+CENG: 0,"{radio.mcc},{radio.mnc},{lac},{ci},31,{rxl}"')
        else:
            cell = f"0081,{rxl},00,{radio.mcc},{radio.mnc},31,{ci},08,05,{lac},255"
            if radio.ceng_mode == 4:
                cell += f",-{113 - rxl},{rxl},{rxl},x,x,x,x,x,x"
            lines.append(f'+CENG: 0,"{cell}"')
    m.info(*lines)


def _ceng_write(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    m.radio.ceng_mode = int(values[0] or 0)
    if values[1] is not None:
        m.radio.ceng_ncell = int(values[1])


command("+CENG", "Engineering mode: the serving cell (no neighbours; mode 2 sends no URCs)",
        MAN + "6.2.21, 19.2",
        test=F(text("+CENG: (0-4),(0-1)")), read=F(_ceng_read),
        write=F(_ceng_write, sig=(Int(0, 4), Int(0, 1, optional=True))))
