"""The V.25ter commands (manual V1.12 chapter 2): echo, result codes, the
user profile (ATZ, AT&F, AT&V, AT&W), S-registers, serial-port settings and
identification. Their values live in ``Settings`` (saved by AT&W).

Dialling (ATD, ATA, ATH) belongs to the call family."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..events import SaveSettings
from ..lazy import made
from ..parser import Command
from ..registry import (
    DATA,
    PENDING,
    F,
    FormSpec,
    Int,
    Outcome,
    Rule,
    Value,
    alias,
    command,
    ok,
    syntax_error,
    text,
)
from ..settings import PROFILE_KEYS, UART_KEYS, Settings
from ..state import LinkState
from ._common import setting

if TYPE_CHECKING:
    from ..modem import Modem

REF6 = "reference 6"
MAN = "manual V1.12 "


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
    """ATZ / AT&F: the profile settings from ``source``, except the serial
    port's (manual 2.2.27 and 2.2.30: ipr, icf, ifc and csclk stay)."""
    for key in PROFILE_KEYS:
        if key not in UART_KEYS:
            setattr(m.settings, key, getattr(source, key))


def _flag(letter: str, attr: str, what: str, source: str) -> None:
    """A basic flag command: ATx0 / ATx1; a bare ATx means 0."""

    def write(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
        setattr(m.settings, attr, values[0] == 1)

    def off(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
        setattr(m.settings, attr, False)

    command(letter, what, source, exec=F(off), write=F(write, sig=(Int(0, 1),)))


_flag("E", "echo", "Command echo: ATE0 off, ATE1 on (default)", MAN + "2.2.7; " + REF6)
_flag("V", "verbose", "Result codes as words (ATV1, default) or digits (ATV0)",
      MAN + "2.2.25; reference 1.4")
_flag("Q", "quiet", "Quiet: ATQ1 suppresses result codes", MAN + "2.2.15; " + REF6)


def _ati(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    m.info(m.config.identity.firmware)


command("I", "Product identification (ATI)", MAN + "2.2.9; " + REF6,
        exec=F(_ati), write=F(_ati, sig=(Int(0, 255),)))


def _factory(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    restore(m, Settings())


command("&F", "Restore factory defaults of the user profile (not the serial port's)",
        MAN + "2.2.30", exec=F(_factory), write=F(_factory, sig=(Int(0, 0),)))


def _reset_profile(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    restore(m, Settings.from_dict(m.saved))


command("Z", "Restore the saved user profile (not the serial port's)", MAN + "2.2.27",
        exec=F(_reset_profile), write=F(_reset_profile, sig=(Int(0, 0),)))


def _store_profile(m: Modem, values: tuple[Value, ...], cmd: Command) -> Outcome:
    return save(m, PROFILE_KEYS)


command("&W", "Save the user profile (the manual's AT&W table: ATE, ATV, S0 ... CMEE, CLTS ...)",
        MAN + "2.2.32", exec=F(_store_profile), write=F(_store_profile, sig=(Int(0, 0),)))


# Lines of AT&V that no setting of the emulator changes: the values a real
# SIM800 (R14.18) lists for commands the emulator does not offer.
_FIXED_PROFILE = {
    "+CANT": "0,0,10", "+STKPCIS": "0", "+CALS": "1", "+CHF": "0", "+CAAS": "1",
    "+CBUZZERRING": "0", "+SVR": "16", "+CCPD": "1", "+SLEDS": "64,64,64,800,3000,300",
    "+EXUNSOL": "0", "+FSHEX": "0", "+FSEXT": "0", "+CCTURI": "0",
}


@dataclass(frozen=True, slots=True)
class Others:
    """The AT&V values kept outside ``Settings`` (not saved by AT&W here):
    the character set, the temperature switch and three call settings."""

    cscs: str = "IRA"
    cmte: int = 0
    vtd: int = 1
    ddet: int = 0
    moring: int = 0


def profile_lines(s: Settings, o: Others = Others()) -> list[str]:
    """One profile as AT&V lists it, in a real SIM800's order and format
    (S-registers without leading zeros); manual 2.2.32's table says which
    commands it holds."""
    f = _FIXED_PROFILE
    return [
        f"S0: {s.s0}", "S3: 13", "S4: 10", f"S5: {s.s5}", f"S6: {s.s6}", f"S7: {s.s7}",
        f"S8: {s.s8}", f"S10: {s.s10}", f"+CRLP: {s.crlp_iws},{s.crlp_mws},{s.crlp_t1},{s.crlp_n2}",
        f"V: {int(s.verbose)}", f"E: {int(s.echo)}", f"Q: {int(s.quiet)}", f"X: {s.atx}",
        f"&C: {s.dcd}", f"&D: {s.dtr}", f"+CLTS: {s.clts}", f"+CREG: {s.creg_n}",
        f"+CGREG: {s.cgreg_n}", f"+CMEE: {s.cmee}", f"+CIURC: {s.ciurc}", f"+CFGRI: {s.cfgri}",
        f"+CMTE: {o.cmte}", f"+CANT: {f['+CANT']}", f"+STKPCIS: {f['+STKPCIS']}",
        f"+CMGF: {s.cmgf}",
        f"+CNMI: {s.cnmi_mode},{s.cnmi_mt},{s.cnmi_bm},{s.cnmi_ds},{s.cnmi_bfr}",
        f'+CSCS: "{o.cscs}"', f"+VTD: {o.vtd}", f"+CALS: {f['+CALS']}", f"+CHF: {f['+CHF']}",
        f"+CAAS: {f['+CAAS']}", f"+CBUZZERRING: {f['+CBUZZERRING']}", f"+DDET: {o.ddet}",
        f"+MORING: {o.moring}", f"+SVR: {f['+SVR']}", f"+CCPD: {f['+CCPD']}",
        f"+CSNS: {s.csns}", f"+CSGS: {s.csgs}", f"+CNETLIGHT: {s.cnetlight}",
        f"+SLEDS: {f['+SLEDS']}", f"+CSDT: {s.csdt}", f"+CSMINS: {s.csmins}",
        f"+EXUNSOL: {f['+EXUNSOL']}", f"+FSHEX: {f['+FSHEX']}", f"+FSEXT: {f['+FSEXT']}",
        f"+CCTURI: {f['+CCTURI']}", f"+IPR: {s.ipr}", f"+IFC: {s.ifc_rx},{s.ifc_tx}",
        f"+CSCLK: {s.csclk}",
    ]


def _others(m: Modem) -> Others:
    voice = m.voice if made(m, "voice") else None  # not made just to be listed
    return Others(
        cscs=m.charset.name, cmte=int(m.switches.get("cmte", 0)),
        vtd=voice.vtd if voice else 1, ddet=voice.ddet if voice else 0,
        moring=voice.moring if voice else 0,
    )


def icf_text(s: Settings) -> str:
    """+ICF: <format>,<parity>; a format without parity reads parity 255
    (manual 2.2.39 note)."""
    parity = s.icf_parity if s.icf_format in (2, 5) else 255
    return f"+ICF: {s.icf_format},{parity}"


def _andv(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    """The factory profile (AT&F), the saved one (AT&W, ATZ) and the one in
    use, each under its title and apart by an empty line, as a real SIM800
    prints them."""
    m.info(
        "DEFAULT PROFILE", *profile_lines(Settings()), "",
        "USER PROFILE", *profile_lines(Settings.from_dict(m.saved)), "",
        "ACTIVE PROFILE", *profile_lines(m.settings, _others(m)),
    )


command("&V", "Display the factory, saved and current profiles (the AT&W settings)",
        MAN + "2.2.31",
        exec=F(_andv), write=F(_andv, sig=(Int(0, 0),)))

CAN_RESUME = Rule(
    "a dial-up call held after +++, or transparent mode with the link connected",
    lambda m, v: m.ppp.can_resume() or (m.transparent and m.ip.links[0].state is LinkState.CONNECTED),
)


def _ato(m: Modem, values: tuple[Value, ...], cmd: Command) -> Outcome:
    if m.ppp.can_resume():
        m.ppp.resume()
        return DATA
    return m.resume_data_mode()


command("O", "Back to data mode, transparent or PPP (answers CONNECT)",
        MAN + "2.2.13; reference 5", exec=F(_ato, CAN_RESUME))

def _basic_setting(letter: str, attr: str, lo: int, hi: int, what: str, source: str) -> None:
    """AT&C<n>, ATX<n> ...: a bare letter means 0 (V.25ter)."""

    def write(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
        setattr(m.settings, attr, int(values[0] or 0))

    def zero(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
        if lo == 0:
            setattr(m.settings, attr, 0)

    command(letter, what, source, exec=F(zero), write=F(write, sig=(Int(lo, hi),)))


_basic_setting("&C", "dcd", 0, 1, "DCD function: 0 always on, 1 on with a data carrier",
               MAN + "2.2.28")
_basic_setting("&D", "dtr", 0, 2, "DTR function: 0 ignored, 1 to command mode, 2 hang up",
               MAN + "2.2.29")
_basic_setting("X", "atx", 0, 4, "CONNECT result code format and call progress monitoring",
               MAN + "2.2.26")


def _no_effect(letter: str, what: str, source: str, hi: int | None) -> None:
    """Accepted, no effect in GSM (ATL, ATM, ATP, ATT, AT&K)."""
    if hi is None:
        command(letter, what, source, exec=F(ok))
    else:
        command(letter, what, source, exec=F(ok), write=F(ok, sig=(Int(0, hi),)))


_no_effect("L", "Monitor speaker loudness (no effect in GSM)", MAN + "2.2.10", 9)
_no_effect("M", "Monitor speaker mode (no effect in GSM)", MAN + "2.2.11", 9)
_no_effect("P", "Pulse dialling (no effect in GSM)", MAN + "2.2.14", None)
_no_effect("T", "Tone dialling (no effect in GSM)", MAN + "2.2.24", None)
_no_effect("&K", "Flow control (V.25ter; use AT+IFC)", REF6, 9)


# ---------------------------------------------------------------- S-registers


def _sreg(n: int, attr: str | None, lo: int, hi: int, what: str, section: str) -> None:
    """ATSn? prints the value as three digits; ATSn=<v> sets it. Without
    ``attr`` the register holds only its default ``lo`` (S3, S4)."""

    def read(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
        m.info(f"{getattr(m.settings, attr) if attr else lo:03d}")

    def write(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
        if attr:
            setattr(m.settings, attr, int(values[0] or 0))

    command(f"S{n}", what, MAN + section, read=F(read), write=F(write, sig=(Int(lo, hi),)))


_sreg(0, "s0", 0, 255, "Rings before automatic answer (0: off)", "2.2.16")
_sreg(3, None, 13, 13, "Command line termination character (13 only)", "2.2.17")
_sreg(4, None, 10, 10, "Response formatting character (10 only)", "2.2.18")
_sreg(5, "s5", 0, 127, "Command line editing character (default 8, backspace)", "2.2.19")
_sreg(6, "s6", 0, 999, "Pause before blind dialling (no effect in GSM)", "2.2.20")
_sreg(7, "s7", 1, 255, "Seconds to wait for connection completion", "2.2.21")
_sreg(8, "s8", 0, 255, "Seconds to wait for the comma dial modifier", "2.2.22")
_sreg(10, "s10", 1, 254, "Disconnect delay after the carrier is lost (tenths of a second)",
      "2.2.23")


# ---------------------------------------------------------------- identity


def _info(get: str) -> FormSpec:
    def handler(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
        m.info(get.format(id=m.config.identity))

    return F(handler)


command("+GSN", "IMEI", MAN + "2.2.38; " + REF6, exec=_info("{id.imei}"), test=F(ok))
alias("+CGSN", "+GSN")
command("+GMI", "Manufacturer", MAN + "2.2.34; " + REF6, exec=_info("{id.manufacturer}"),
        test=F(ok))
alias("+CGMI", "+GMI")
command("+GMM", "Model", MAN + "2.2.35; " + REF6, exec=_info("{id.model}"), test=F(ok))
alias("+CGMM", "+GMM")
command("+GMR", "Firmware revision", MAN + "2.2.36; " + REF6, exec=_info("Revision:{id.revision}"),
        test=F(ok))
alias("+CGMR", "+GMR")


def _goi(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    model = m.config.identity.model
    m.info(model.split("_", 1)[-1])


command("+GOI", "Global object identification (the model name)", MAN + "2.2.37",
        exec=F(_goi), test=F(ok))
command("+GCAP", "Capabilities list: +CGSM", MAN + "2.2.33", exec=F(text("+GCAP: +CGSM")))


# ---------------------------------------------------------------- serial port

setting("+CMEE", "cmee", 0, 2, "Error reporting: 0 ERROR, 1 numeric, 2 verbose +CME ERROR",
        MAN + "3.2.20; reference 1.8")

BAUDS = (0, 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400, 460800)


def _ipr_read(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    m.info(f"+IPR: {m.settings.ipr}")


def _ipr_write(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    m.settings.ipr = int(values[0] or 0)


command("+IPR", "Fixed baud rate (0 = autobaud, the default)", MAN + "2.2.41; " + REF6,
        test=F(text("+IPR: (),(" + ",".join(str(b) for b in BAUDS) + ")")),
        read=F(_ipr_read),
        write=F(_ipr_write, Rule("a known rate", lambda m, v: v[0] in BAUDS), (Int(0, 460800),)))


def _icf_write(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    if values[1] not in (None, 0, 1, 3):
        raise syntax_error()
    m.settings.icf_format = int(values[0] or 0)
    if values[1] is not None:
        m.settings.icf_parity = int(values[1])


def _icf_read(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    m.info(icf_text(m.settings))


command("+ICF", "Character framing (format, parity); kept, the line is not changed",
        MAN + "2.2.39",
        test=F(text("+ICF: (1-6),(0,1,3)")), read=F(_icf_read),
        write=F(_icf_write, sig=(Int(1, 6), Int(0, 3, optional=True))))


def _ifc_write(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    m.settings.ifc_rx = int(values[0] or 0)
    m.settings.ifc_tx = int(values[1] if values[1] is not None else values[0] or 0)


command("+IFC", "Local flow control (0 none, 1 XON/XOFF, 2 RTS/CTS); kept, not applied",
        MAN + "2.2.40",
        test=F(text("+IFC: (0-2),(0-2)")),
        read=F(lambda m, v, c: m.info(f"+IFC: {m.settings.ifc_rx},{m.settings.ifc_tx}")),
        write=F(_ifc_write, sig=(Int(0, 2), Int(0, 2, optional=True))))
