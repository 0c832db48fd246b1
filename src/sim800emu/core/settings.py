"""The module's settings: what AT&F restores, AT&W / AT+CIPSCONT save and a
restart loads. Defaults are those of the manual's 4.2.9 listing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields


@dataclass(slots=True)
class Settings:
    # V.25ter / 27.007 user profile (ATE, ATV, ATQ, CMEE) - AT&W
    echo: bool = True
    verbose: bool = True
    quiet: bool = False
    cmee: int = 0
    creg_n: int = 0
    cgreg_n: int = 0
    ipr: int = 0  # 0 = autobaud
    ciurc: int = 1  # Call Ready URC at boot
    # the rest of the manual's AT&W table (V1.12 2.2.32)
    s0: int = 0  # rings before auto-answer
    s5: int = 8  # command line editing character (backspace)
    s6: int = 2
    s7: int = 60
    s8: int = 2
    s10: int = 15
    atx: int = 4  # ATX
    dcd: int = 1  # AT&C
    dtr: int = 1  # AT&D
    icf_format: int = 3  # AT+ICF: 8 data, no parity, 1 stop
    icf_parity: int = 3
    ifc_rx: int = 0  # AT+IFC <dce_by_dte>
    ifc_tx: int = 0  # AT+IFC <dte_by_dce>
    crlp_iws: int = 61
    crlp_mws: int = 61
    crlp_t1: int = 48
    crlp_n2: int = 6
    clts: int = 0  # AT+CLTS: network time URCs
    csclk: int = 0  # AT+CSCLK: slow clock
    cfgri: int = 0  # AT+CFGRI
    csgs: int = 0  # AT+CSGS
    cnetlight: int = 1  # AT+CNETLIGHT
    csmins: int = 0  # AT+CSMINS: SIM inserted URC
    csns: int = 0  # AT+CSNS: single numbering scheme
    csdt: int = 0  # AT+CSDT
    # SMS settings of the AT&W table (read and written by core/sms/service.py)
    cmgf: int = 0  # AT+CMGF: 0 PDU, 1 text
    cnmi_mode: int = 2  # AT+CNMI <mode>,<mt>,<bm>,<ds>,<bfr>
    cnmi_mt: int = 1
    cnmi_bm: int = 0
    cnmi_ds: int = 0
    cnmi_bfr: int = 0
    # TCP/IP application settings - AT+CIPSCONT
    cipmux: int = 0
    cipmode: int = 0
    apn: str = "CMNET"  # CSTT
    user: str = ""
    pwd: str = ""
    csgp_mode: int = 1  # CIPCSGP: 1 GPRS, 0 CSD
    csgp_apn: str = "cmnet"
    csgp_user: str = ""
    csgp_pwd: str = ""
    csgp_dial: str = ""
    csgp_rate: int = 2
    clport_tcp: int = 0
    clport_udp: int = 0
    ciphead: int = 0
    cipshowtp: int = 0
    cipsrip: int = 0
    cipats_mode: int = 0
    cipats_time: int = 0
    cipsprt: int = 1
    ccfg_retry: int = 3
    ccfg_waittm: int = 2
    ccfg_sendsz: int = 1024
    ccfg_esc: int = 1
    ccfg_rxmode: int = 0
    ccfg_rxsize: int = 1460
    ccfg_rxtimer: int = 50
    dpdp_mode: int = 1
    dpdp_interval: int = 10
    dpdp_timer: int = 3
    cipqsend: int = 0
    ciprxget: int = 0
    cipssl: int = 0

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, object] | None) -> Settings:
        """Defaults overlaid with the known, well-typed entries of ``data``
        (a saved file from another version may lack or add entries)."""
        s = cls()
        if not data:
            return s
        for f in fields(cls):
            if f.name in data:
                value = data[f.name]
                current = getattr(s, f.name)
                if type(value) is type(current):
                    setattr(s, f.name, value)
        return s


# Which settings each saving command stores.
PROFILE_KEYS = (
    "echo", "verbose", "quiet", "cmee", "creg_n", "cgreg_n", "ipr", "ciurc",
    "s0", "s5", "s6", "s7", "s8", "s10", "atx", "dcd", "dtr", "icf_format", "icf_parity",
    "ifc_rx", "ifc_tx", "crlp_iws", "crlp_mws", "crlp_t1", "crlp_n2", "clts", "csclk",
    "cfgri", "csgs", "cnetlight", "csmins", "csns", "csdt",
    "cmgf", "cnmi_mode", "cnmi_mt", "cnmi_bm", "cnmi_ds", "cnmi_bfr",
)
# Serial-port settings that ATZ and AT&F leave alone (manual 2.2.27, 2.2.30)
UART_KEYS = ("ipr", "icf_format", "icf_parity", "ifc_rx", "ifc_tx", "csclk")
TCPIP_KEYS = tuple(f.name for f in fields(Settings) if f.name not in PROFILE_KEYS)
