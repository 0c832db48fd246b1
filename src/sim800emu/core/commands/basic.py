"""V.25ter and 27.007 basics every client sends before the TCP/IP commands
(reference section 6; manual 4.1)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..events import PowerDown, SaveSettings
from ..parser import Command
from ..registry import DONE, PENDING, F, Int, Outcome, Rule, Str, Value, alias, command, ok, text
from ..settings import PROFILE_KEYS, Settings
from ..state import LinkState
from ._common import setting

if TYPE_CHECKING:
    from ..modem import Modem

REF6 = "reference 6"


def save(m: Modem, keys: tuple[str, ...]) -> Outcome:
    """Store the current value of ``keys`` in the saved profile (AT&W,
    AT+CIPSCONT). The final result waits for the store's answer
    (``SettingsSaved``: OK, or ERROR when the save failed); the profile the
    modem restores from (ATZ, a restart) changes only when it was saved."""
    current = m.settings.to_dict()
    return store(m, {**m.saved, **{key: current[key] for key in keys}})


def store(m: Modem, profile: dict[str, object]) -> Outcome:
    """Ask for ``profile`` to become the saved profile; the command stays
    pending until the answer (``SettingsSaved``) gives its final result."""
    m.request(SaveSettings(profile))
    return PENDING


def restore(m: Modem, source: Settings) -> None:
    for key in PROFILE_KEYS:
        setattr(m.settings, key, getattr(source, key))


# ---------------------------------------------------------------- basic letters


def _set_echo(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    m.settings.echo = values[0] == 1


def _echo_off(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    m.settings.echo = False


command("E", "Command echo: ATE0 off, ATE1 on (default)", REF6,
        exec=F(_echo_off), write=F(_set_echo, sig=(Int(0, 1),)))


def _set_verbose(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    m.settings.verbose = values[0] == 1


def _verbose_off(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    m.settings.verbose = False


command("V", "Result codes as words (ATV1, default) or digits (ATV0)", "reference 1.4",
        exec=F(_verbose_off), write=F(_set_verbose, sig=(Int(0, 1),)))


def _set_quiet(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    m.settings.quiet = values[0] == 1


def _quiet_off(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    m.settings.quiet = False


command("Q", "Quiet: ATQ1 suppresses result codes", REF6,
        exec=F(_quiet_off), write=F(_set_quiet, sig=(Int(0, 1),)))


def _ati(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    m.info(m.config.identity.firmware)


command("I", "Product identification (ATI)", REF6,
        exec=F(_ati), write=F(_ati, sig=(Int(0, 255),)))


def _factory(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    restore(m, Settings())


command("&F", "Restore factory defaults of the user profile", REF6,
        exec=F(_factory), write=F(_factory, sig=(Int(0, 0),)))


def _reset_profile(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    restore(m, Settings.from_dict(m.saved))


command("Z", "Restore the saved user profile", REF6,
        exec=F(_reset_profile), write=F(_reset_profile, sig=(Int(0, 0),)))


def _store_profile(m: Modem, values: tuple[Value, ...], cmd: Command) -> Outcome:
    return save(m, PROFILE_KEYS)


command("&W", "Save the user profile (echo, verbose, quiet, CMEE ...)", REF6,
        exec=F(_store_profile), write=F(_store_profile, sig=(Int(0, 0),)))

TRANSPARENT_LINK_UP = Rule(
    "transparent mode with the link connected",
    lambda m, v: m.transparent and m.links[0].state is LinkState.CONNECTED,
)


def _ato(m: Modem, values: tuple[Value, ...], cmd: Command) -> Outcome:
    return m.resume_data_mode()


command("O", "Back to transparent data mode (answers CONNECT)", "reference 5",
        exec=F(_ato, TRANSPARENT_LINK_UP))
for letter, what in (("&D", "DTR function"),
                     ("&C", "DCD function"), ("X", "Result code selection"),
                     ("&K", "Flow control"), ("L", "Speaker loudness"), ("M", "Speaker mode")):
    command(letter, what, REF6, exec=F(ok), write=F(ok, sig=(Int(0, 9),)))

for reg in range(13):
    command(f"S{reg}", f"S-register {reg}", REF6,
            read=F(text("000")), write=F(ok, sig=(Int(0, 255),)))


# ---------------------------------------------------------------- identity


def _imei(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    m.info(m.config.identity.imei)


command("+GSN", "IMEI", REF6, exec=F(_imei), test=F(ok))
alias("+CGSN", "+GSN")


def _gmi(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    m.info(m.config.identity.manufacturer)


command("+GMI", "Manufacturer", REF6, exec=F(_gmi), test=F(ok))
alias("+CGMI", "+GMI")


def _gmm(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    m.info(m.config.identity.model)


command("+GMM", "Model", REF6, exec=F(_gmm), test=F(ok))
alias("+CGMM", "+GMM")


def _gmr(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    m.info(f"Revision:{m.config.identity.revision}")


command("+GMR", "Firmware revision", REF6, exec=F(_gmr), test=F(ok))
alias("+CGMR", "+GMR")


def _ccid(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    m.info(m.config.identity.iccid)


command("+CCID", "SIM card ICCID (bare, no prefix)", REF6, exec=F(_ccid), test=F(ok),
        needs_sim=True)


def _cimi(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    m.info(m.config.identity.imsi)


command("+CIMI", "IMSI", REF6, exec=F(_cimi), test=F(ok), needs_sim=True)


def _cpin(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    m.info("+CPIN: READY")


command("+CPIN", "SIM PIN state (always READY once the SIM is up)", REF6,
        read=F(_cpin), write=F(ok, sig=(Str(8), Str(8, optional=True))), test=F(ok),
        needs_sim=True)


def _csq(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    radio = m.config.radio
    rssi = m.rssi if m.cfun == 1 and m.creg_stat in (1, 5) else 99
    ber = radio.ber if rssi != 99 else 99
    m.info(f"+CSQ: {rssi},{ber}")


command("+CSQ", "Signal quality", "manual 4.1; reference 6",
        exec=F(_csq), test=F(text("+CSQ: (0-31,99),(0-7,99)")))

setting("+CMEE", "cmee", 0, 2, "Error reporting: 0 ERROR, 1 numeric, 2 verbose +CME ERROR",
        "reference 1.8")

BAUDS = (0, 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400, 460800)


def _ipr_read(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    m.info(f"+IPR: {m.settings.ipr}")


def _ipr_write(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    m.settings.ipr = int(values[0] or 0)


command("+IPR", "Fixed baud rate (0 = autobaud, the default)", REF6,
        test=F(text("+IPR: (),(" + ",".join(str(b) for b in BAUDS) + ")")),
        read=F(_ipr_read),
        write=F(_ipr_write, Rule("a known rate", lambda m, v: v[0] in BAUDS), (Int(0, 460800),)))


def _cbc(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    m.info("+CBC: 0,85,4087")


command("+CBC", "Battery charge", REF6, exec=F(_cbc), test=F(text("+CBC: (0-2),(1-100),(voltage)")))


def _now_seconds(m: Modem) -> float:
    return m.clock_base + (m.now - m.clock_set_at)


def _cclk_read(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    import datetime as _dt  # pure: no clock is read here, only arithmetic

    base = _dt.datetime(2004, 1, 1)
    t = base + _dt.timedelta(seconds=int(_now_seconds(m)))
    sign = "-" if m.clock_tz < 0 else "+"
    m.info(f'+CCLK: "{t:%y/%m/%d,%H:%M:%S}{sign}{abs(m.clock_tz):02d}"')


def _cclk_write(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    import datetime as _dt

    value = str(values[0])
    try:
        t = _dt.datetime.strptime(value[:17], "%y/%m/%d,%H:%M:%S")
    except ValueError:
        from ..registry import syntax_error

        raise syntax_error() from None
    m.clock_base = (t - _dt.datetime(2004, 1, 1)).total_seconds()
    m.clock_set_at = m.now
    zone = value[17:]
    if zone[:1] in ("+", "-") and zone[1:].isascii() and zone[1:].isdigit():
        m.clock_tz = int(zone)


command("+CCLK", "Real-time clock (starts at 04/01/01,00:00:00 after power-on)", REF6,
        read=F(_cclk_read), write=F(_cclk_write, sig=(Str(20),)), test=F(ok))

def _switch(name: str, what: str, hi: int, default: int) -> None:
    """A numeric switch the emulator keeps but that changes nothing here."""
    key = name[1:].lower()

    def read(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
        m.info(f"{name}: {m.switches.get(key, default)}")

    def write(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
        m.switches[key] = int(values[0] or 0)

    shown = "(0,1)" if hi == 1 else f"(0-{hi})"
    command(name, what, REF6, test=F(text(f"{name}: {shown}")), read=F(read),
            write=F(write, sig=(Int(0, hi),)))


_switch("+CLTS", "Get local time stamp from the network", 1, 0)
_switch("+CBATCHK", "Battery check", 1, 0)
_switch("+CSCLK", "Slow clock (sleep mode)", 2, 0)
setting("+CIURC", "ciurc", 0, 1, "Show the Call Ready URC at boot (saved by AT&W)", REF6)


def _cfun_read(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    m.info(f"+CFUN: {m.cfun}")


def _cfun_write(m: Modem, values: tuple[Value, ...], cmd: Command) -> Outcome | None:
    fun, rst = values[0], values[1]
    if rst == 1:
        m.final("OK")
        m.reboot()
        return DONE
    if fun == 0 or fun == 4:
        if m.cfun == 1:
            m.cfun = int(fun or 0)
            m.lose_context()
            m.attached = False
            m.sim_ready = fun == 4
            m.creg_stat = m.cgreg_stat = 0
            m.final("OK")
            if fun == 0:
                m.urc("+CPIN: NOT READY")
            m.registration_changed()
            return DONE
        m.cfun = int(fun or 0)
    elif fun == 1 and m.cfun != 1:
        m.cfun = 1
        m.sim_ready = True
        m.attached = True
        m.creg_stat = m.config.radio.creg_stat
        m.cgreg_stat = m.config.radio.cgreg_stat
        m.final("OK")
        m.urc("+CPIN: READY")
        m.registration_changed()
        return DONE
    return None


command("+CFUN", "Phone functionality; AT+CFUN=1,1 reboots with the boot URCs", REF6,
        test=F(text("+CFUN: (0,1,4),(0,1)")), read=F(_cfun_read),
        write=F(_cfun_write, Rule("fun 0, 1 or 4", lambda m, v: v[0] in (0, 1, 4)),
                (Int(0, 4), Int(0, 1, optional=True))))


def _cpowd(m: Modem, values: tuple[Value, ...], cmd: Command) -> Outcome:
    m.power_down()
    m.request(PowerDown())
    return DONE


command("+CPOWD", "Power off (prints NORMAL POWER DOWN)", REF6,
        write=F(_cpowd, sig=(Int(0, 1),)), exec=F(_cpowd))
