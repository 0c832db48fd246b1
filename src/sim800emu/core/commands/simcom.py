"""SIMCom's own commands that report or set state a host can see (manual
V1.12 chapter 6): power, battery, ADC, temperature, sleep, LEDs, RI,
product information. Audio, FM, TTS, Bluetooth, MMS and email commands are
not here: the module answers them ERROR (docs/general.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..events import PowerDown
from ..parser import Command
from ..registry import DONE, F, Int, Outcome, Value, command, syntax_error, text
from ._common import setting

if TYPE_CHECKING:
    from ..modem import Modem

MAN = "manual V1.12 "


def _cpowd(m: Modem, values: tuple[Value, ...], cmd: Command) -> Outcome:
    m.power_down(notice=values[0] != 0 if values else True)
    m.request(PowerDown())
    return DONE


command("+CPOWD", "Power off: =1 prints NORMAL POWER DOWN, =0 (urgent) nothing",
        MAN + "6.2.2; reference 6",
        write=F(_cpowd, sig=(Int(0, 1),)), exec=F(_cpowd))


def _cbc(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    m.info("+CBC: 0,85,4087")


command("+CBC", "Battery: not charging, 85 %, 4087 mV", MAN + "3.2.52; reference 6",
        exec=F(_cbc), test=F(text("+CBC: (0-2),(1-100),(voltage)")))


def _flag(name: str, what: str, source: str, default: int) -> None:
    """A 0/1 switch kept in ``m.switches`` (not saved by AT&W)."""
    key = name[1:].lower()

    def write(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
        m.switches[key] = int(values[0] or 0)

    command(name, what, source, test=F(text(f"{name}: (0,1)")),
            read=F(lambda m, v, c: m.info(f"{name}: {m.switches.get(key, default)}")),
            write=F(write, sig=(Int(0, 1),)))


_flag("+CBATCHK", "VBAT checking (SIM800L default 1)", MAN + "6.2.81, 20.14", 1)


def _cmte_read(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    m.info(f"+CMTE: {m.switches.get('cmte', 0)},25.0")


def _cmte_write(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    m.switches["cmte"] = int(values[0] or 0)


command("+CMTE", "Temperature: +CMTE: <mode>,25.0 (the write form sets the detection switch)",
        "manual V1.09 6.2.24 (dropped from V1.12); sim800l-gsm-module get_temperature()",
        test=F(text("+CMTE: (0,1)")), read=F(_cmte_read), write=F(_cmte_write, sig=(Int(0, 1),)))


def _cadc_read(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    m.info("+CADC: 1,603")


command("+CADC", "Read the ADC: success, 603 mV (the manual's SIM800L example)",
        MAN + "6.2.7, 20.9",
        test=F(text("+CADC: (0,1),(0-2800)")), read=F(_cadc_read))

setting("+CSCLK", "csclk", 0, 2, "Slow clock (sleep): 0 off, 1 by DTR, 2 automatic; saved by "
        "AT&W, kept by ATZ/AT&F", MAN + "6.2.20, 20.10")
setting("+CIURC", "ciurc", 0, 1, "Show the Call Ready URC at boot (saved by AT&W)",
        MAN + "6.2.32; reference 6")
setting("+CFGRI", "cfgri", 0, 2, "RI pin on URCs: 0 off, 1 URCs and TCP/IP, 2 TCP/IP only "
        "(kept; the emulator has no RI line)", MAN + "6.2.11, 20.12")
setting("+CNETLIGHT", "cnetlight", 0, 1, "Net light: 0 off, 1 blinking (kept)", MAN + "6.2.50")
setting("+CSGS", "csgs", 0, 2, "Net light shows GPRS status (kept)", MAN + "6.2.54")
setting("+CSDT", "csdt", 0, 1, "SIM card detection switch (kept)", MAN + "6.2.52")


def _csns_write(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    if values[0] not in (0, 2, 4):
        raise syntax_error()
    m.settings.csns = int(values[0] or 0)


command("+CSNS", "Single numbering scheme: 0 voice, 2 fax, 4 data", MAN + "6.2.8",
        test=F(text("+CSNS: (0,2,4)")),
        read=F(lambda m, v, c: m.info(f"+CSNS: {m.settings.csns}")),
        write=F(_csns_write, sig=(Int(0, 4),)))


def _ccalr(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    ready = m.radio.sim_ready and m.radio.registered
    m.info(f"+CCALR: {int(ready)}")


command("+CCALR", "Ready for calls: SIM ready and registered", MAN + "6.2.37",
        test=F(text("+CCALR: (0,1)")), read=F(_ccalr))


def _gsv(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    ident = m.config.identity
    m.info(ident.manufacturer, ident.model, f"Revision:{ident.revision}")


command("+GSV", "Product information: manufacturer, model, revision", MAN + "6.2.38, 19.1",
        exec=F(_gsv))
command("+CDEVICE", "Flash device type", MAN + "6.2.36",
        read=F(text("Device Name: GD25LQ32")))
