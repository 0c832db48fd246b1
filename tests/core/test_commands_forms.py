"""Every command and every form of the registry, exact bytes.

Each entry of ``CASES`` is one (command, form) of ``REGISTRY`` run in a named
setup; ``test_every_registry_form_has_a_case`` fails when a form is
registered that no case covers. Texts come from the transcripts
(``/work/shared/conformance``), the manual and the reference; where no source
fixes the text the case asserts what the core prints and says so.

A second table lists out-of-range and malformed writes (→ ``ERROR``), and a
generic test checks that a form the registry does not define answers
``ERROR`` (SPEC: "A form that neither the manual, this file nor the
reference defines answers ERROR").
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from forms_general import BAD_GENERAL, GENERAL
from harness import ERROR, OK, PROMPT, Harness, block, crlf

from sim800emu.core.parser import Form
from sim800emu.core.registry import REGISTRY

IP = "10.78.245.128"  # ModemConfig().radio.local_ip
SIX_INITIAL = tuple(f'C: {n},,"","","","INITIAL"' for n in range(6))


# ---------------------------------------------------------------- setups


def fresh() -> Harness:
    return Harness()


def gprsact() -> Harness:
    h = Harness()
    h.bring_up(cifsr=False)
    return h


def status() -> Harness:
    h = Harness()
    h.bring_up()
    return h


def single() -> Harness:
    """Single link 0 connected to 1.2.3.4:80 (single-step CIPSTART)."""
    h = Harness()
    h.open_single("1.2.3.4", 80)
    return h


def multi() -> Harness:
    """CIPMUX=1, context up, link 0 connected to 1.2.3.4:80."""
    h = Harness()
    h.multi_up()
    h.open_multi(0, "1.2.3.4", 80)
    return h


def transparent_cmd() -> Harness:
    """CIPMODE=1, link up, back in command mode after +++."""
    h = Harness()
    assert h.at("AT+CIPMODE=1") == OK
    _, out = h.open_single("1.2.3.4", 80)
    assert out == crlf("CONNECT")
    h.advance(1.5)
    h.feed(b"+++")
    assert h.advance(1.5) == OK
    return h


def http() -> Harness:
    """Bearer 1 open, an HTTP session with CID 1 and a URL."""
    h = Harness()
    h.at("AT+SAPBR=1,1")
    h.run_timers()
    assert h.at('AT+HTTPINIT;+HTTPPARA="CID",1;+HTTPPARA="URL","1.2.3.4/x"') == OK
    return h


SETUPS: dict[str, Callable[[], Harness]] = {
    "fresh": fresh,
    "http": http,
    "gprsact": gprsact,
    "status": status,
    "single": single,
    "multi": multi,
    "transparent_cmd": transparent_cmd,
}


@dataclass(frozen=True)
class Case:
    name: str
    form: Form
    setup: str
    line: str
    expected: bytes | re.Pattern[bytes]
    note: str = ""

    @property
    def id(self) -> str:
        return f"{self.name}-{self.form.value}-{self.setup}-{self.line}"


T, R, W, X = Form.TEST, Form.READ, Form.WRITE, Form.EXEC


def info_ok(*lines: str) -> bytes:
    return block(*lines) + OK


CASES: list[Case] = [
    # ---- V.25ter basics (reference 6; transcripts echo.txt, cmd-basic-startup.txt)
    Case("E", X, "fresh", "ATE", OK),
    Case("E", W, "fresh", "ATE0", OK),
    Case("E", W, "fresh", "ATE1", OK),  # the ATE1 line itself is not echoed (echo.txt)
    # ATV0 / bare ATV: the OK of that very line is already numeric (reference 1.4, 6)
    Case("V", X, "fresh", "ATV", b"0\r"),
    Case("V", W, "fresh", "ATV0", b"0\r"),
    Case("V", W, "fresh", "ATV1", OK),
    Case("Q", X, "fresh", "ATQ", OK),
    Case("Q", W, "fresh", "ATQ0", OK),
    Case("Q", W, "fresh", "ATQ1", b""),
    Case("I", X, "fresh", "ATI", info_ok("SIM800 R14.18")),
    Case("I", W, "fresh", "ATI0", info_ok("SIM800 R14.18"), "no source for ATI<n>"),
    Case("&F", X, "fresh", "AT&F", OK),
    Case("&F", W, "fresh", "AT&F0", OK),
    Case("Z", X, "fresh", "ATZ", OK),
    Case("Z", W, "fresh", "ATZ0", OK),
    Case("&W", X, "fresh", "AT&W", OK),
    Case("&W", W, "fresh", "AT&W0", OK),
    Case("O", X, "fresh", "ATO", ERROR),  # nothing to return to
    Case("O", X, "transparent_cmd", "ATO", crlf("CONNECT")),  # SPEC transparent decision
    Case("H", X, "fresh", "ATH", OK),
    Case("H", W, "fresh", "ATH0", OK),
    Case("&D", X, "fresh", "AT&D", OK),
    Case("&D", W, "fresh", "AT&D1", OK),
    Case("&C", X, "fresh", "AT&C", OK),
    Case("&C", W, "fresh", "AT&C1", OK),
    Case("X", X, "fresh", "ATX", OK),
    Case("X", W, "fresh", "ATX4", OK),
    Case("&K", X, "fresh", "AT&K", OK),
    Case("&K", W, "fresh", "AT&K0", OK),
    Case("L", X, "fresh", "ATL", OK),
    Case("L", W, "fresh", "ATL1", OK),
    Case("M", X, "fresh", "ATM", OK),
    Case("M", W, "fresh", "ATM0", OK),
    # ---- identity (reference 6; cmd-basic-startup.txt patterns)
    Case("+GSN", X, "fresh", "AT+GSN", info_ok("868183038764457")),
    Case("+GSN", T, "fresh", "AT+GSN=?", OK),
    Case("+CGSN", X, "fresh", "AT+CGSN", info_ok("868183038764457")),
    Case("+CGSN", T, "fresh", "AT+CGSN=?", OK),
    Case("+GMI", X, "fresh", "AT+GMI", info_ok("SIMCOM_Ltd")),
    Case("+GMI", T, "fresh", "AT+GMI=?", OK),
    Case("+CGMI", X, "fresh", "AT+CGMI", info_ok("SIMCOM_Ltd")),
    Case("+CGMI", T, "fresh", "AT+CGMI=?", OK),
    Case("+GMM", X, "fresh", "AT+GMM", info_ok("SIMCOM_SIM800L")),
    Case("+GMM", T, "fresh", "AT+GMM=?", OK),
    Case("+CGMM", X, "fresh", "AT+CGMM", info_ok("SIMCOM_SIM800L")),
    Case("+CGMM", T, "fresh", "AT+CGMM=?", OK),
    Case("+GMR", X, "fresh", "AT+GMR", info_ok("Revision:1418B04SIM800L24")),
    Case("+GMR", T, "fresh", "AT+GMR=?", OK),
    Case("+CGMR", X, "fresh", "AT+CGMR", info_ok("Revision:1418B04SIM800L24")),
    Case("+CGMR", T, "fresh", "AT+CGMR=?", OK),
    Case("+CCID", X, "fresh", "AT+CCID", info_ok("89445018101802445400")),
    Case("+CCID", T, "fresh", "AT+CCID=?", OK),
    Case("+CIMI", X, "fresh", "AT+CIMI", info_ok("460001234567890")),
    Case("+CIMI", T, "fresh", "AT+CIMI=?", OK),
    Case("+CSCS", T, "fresh", "AT+CSCS=?",
         info_ok('+CSCS: ("IRA","GSM","UCS2","HEX","PCCP","PCDN","8859-1")')),
    Case("+CSCS", R, "fresh", "AT+CSCS?", info_ok('+CSCS: "IRA"')),
    Case("+CSCS", W, "fresh", 'AT+CSCS="UCS2";+CSCS?', info_ok('+CSCS: "UCS2"')),
    Case("+CSCS", W, "fresh", 'AT+CSCS="KOI8"', ERROR),
    Case("+CSCS", W, "fresh", 'AT+CMEE=2;+CSCS="TEST"', crlf("+CME ERROR: invalid input value")),
    Case("+CPIN", R, "fresh", "AT+CPIN?", info_ok("+CPIN: READY")),
    Case("+CPIN", W, "fresh", 'AT+CPIN="1234"', OK),
    Case("+CPIN", T, "fresh", "AT+CPIN=?", OK),
    Case("+CSQ", X, "fresh", "AT+CSQ", info_ok("+CSQ: 24,0")),
    Case("+CSQ", T, "fresh", "AT+CSQ=?", info_ok("+CSQ: (0-31,99),(0-7,99)")),
    Case("+CMEE", T, "fresh", "AT+CMEE=?", info_ok("+CMEE: (0-2)")),
    Case("+CMEE", R, "fresh", "AT+CMEE?", info_ok("+CMEE: 0")),
    Case("+CMEE", W, "fresh", "AT+CMEE=2", OK),
    Case(
        "+IPR", T, "fresh", "AT+IPR=?",
        info_ok("+IPR: (),(0,1200,2400,4800,9600,19200,38400,57600,115200,230400,460800)"),
        "no source fixes the list",
    ),
    Case("+IPR", R, "fresh", "AT+IPR?", info_ok("+IPR: 0")),
    Case("+IPR", W, "fresh", "AT+IPR=115200", OK),
    Case("+CBC", X, "fresh", "AT+CBC", info_ok("+CBC: 0,85,4087")),
    Case("+CBC", T, "fresh", "AT+CBC=?", info_ok("+CBC: (0-2),(1-100),(voltage)")),
    Case("+CCLK", R, "fresh", "AT+CCLK?", info_ok('+CCLK: "04/01/01,00:00:00+00"')),
    Case("+CCLK", W, "fresh", 'AT+CCLK="21/05/06,12:00:00+00"', OK),
    Case("+CCLK", T, "fresh", "AT+CCLK=?", OK),
    Case("+CLTS", T, "fresh", "AT+CLTS=?", info_ok('+CLTS: "yy/MM/dd,hh:mm:ss+/-zz"')),
    Case("+CLTS", R, "fresh", "AT+CLTS?", info_ok("+CLTS: 0")),
    Case("+CLTS", W, "fresh", "AT+CLTS=1", OK),
    Case("+CVHU", T, "fresh", "AT+CVHU=?", info_ok("+CVHU: (0,1)")),
    Case("+CVHU", R, "fresh", "AT+CVHU?", info_ok("+CVHU: 0")),
    Case("+CVHU", W, "fresh", "AT+CVHU=0", OK),
    Case("+CBATCHK", T, "fresh", "AT+CBATCHK=?", info_ok("+CBATCHK: (0,1)")),
    Case("+CBATCHK", R, "fresh", "AT+CBATCHK?", info_ok("+CBATCHK: 1")),  # manual 20.14
    Case("+CBATCHK", W, "fresh", "AT+CBATCHK=1", OK),
    Case("+CSCLK", T, "fresh", "AT+CSCLK=?", info_ok("+CSCLK: (0-2)")),
    Case("+CSCLK", R, "fresh", "AT+CSCLK?", info_ok("+CSCLK: 0")),
    Case("+CSCLK", W, "fresh", "AT+CSCLK=0", OK),
    Case("+CIURC", T, "fresh", "AT+CIURC=?", info_ok("+CIURC: (0,1)")),
    Case("+CIURC", R, "fresh", "AT+CIURC?", info_ok("+CIURC: 1")),
    Case("+CIURC", W, "fresh", "AT+CIURC=0", OK),
    Case("+CFUN", T, "fresh", "AT+CFUN=?", info_ok("+CFUN: (0,1,4),(0,1)")),
    Case("+CFUN", R, "fresh", "AT+CFUN?", info_ok("+CFUN: 1")),
    Case("+CFUN", W, "fresh", "AT+CFUN=1", OK),
    Case("+CPOWD", W, "fresh", "AT+CPOWD=1", crlf("NORMAL POWER DOWN")),
    Case("+CPOWD", X, "fresh", "AT+CPOWD", crlf("NORMAL POWER DOWN"), "exec form: no source"),
    # ---- bearer / PDP (reference 6, 8.1)
    Case("+SAPBR", T, "fresh", "AT+SAPBR=?", info_ok('+SAPBR: (0-4),(1-3),"ConParamTag","ConParamValue"')),
    Case("+SAPBR", W, "fresh", 'AT+SAPBR=3,1,"Contype","GPRS"', OK),
    Case("+SAPBR", W, "fresh", "AT+SAPBR=2,1", info_ok('+SAPBR: 1,3,"0.0.0.0"')),
    Case("+CGDCONT", T, "fresh", "AT+CGDCONT=?", info_ok('+CGDCONT: (1-3),"IP",,,(0,1),(0,1)')),
    Case("+CGDCONT", R, "fresh", "AT+CGDCONT?", info_ok('+CGDCONT: 1,"IP","","0.0.0.0",0,0')),
    Case("+CGDCONT", W, "fresh", 'AT+CGDCONT=1,"IP","internet"', OK),
    Case("+CGACT", T, "fresh", "AT+CGACT=?", info_ok("+CGACT: (0,1)")),
    Case("+CGACT", R, "fresh", "AT+CGACT?", info_ok("+CGACT: 1,0")),
    Case("+CGACT", W, "fresh", "AT+CGACT=1,1", OK),
    Case("+CNTPCID", T, "fresh", "AT+CNTPCID=?", info_ok("+CNTPCID: (1-3)")),
    Case("+CNTPCID", R, "fresh", "AT+CNTPCID?", info_ok("+CNTPCID: 1")),
    Case("+CNTPCID", W, "fresh", "AT+CNTPCID=1", OK),
    Case("+CNTP", T, "fresh", "AT+CNTP=?", info_ok('+CNTP: "SERVER",(-47-48),(0-1)')),
    Case("+CNTP", R, "fresh", "AT+CNTP?", info_ok('+CNTP: "pool.ntp.org",0')),
    Case("+CNTP", W, "fresh", 'AT+CNTP="pool.ntp.org",0', OK),
    Case("+CNTP", X, "fresh", "AT+CNTP", OK + crlf("+CNTP: 61")),  # no bearer yet
    Case(
        "+CIPPING", T, "fresh", "AT+CIPPING=?",
        info_ok('+CIPPING: "host",(1-100),(0-1024),(1-600),(1-255)'), "no source fixes the ranges",
    ),
    Case("+CIPPING", W, "status", 'AT+CIPPING="1.2.3.4"', b""),  # pending until PingDone
    Case("+CIPPING", W, "fresh", 'AT+CIPPING="1.2.3.4"', ERROR),  # reference 3: needs a context
    # ---- network (manual 3.1-3.3; cmd-forms-network.txt)
    Case("+CREG", T, "fresh", "AT+CREG=?", info_ok("+CREG: (0-2)")),
    Case("+CREG", R, "fresh", "AT+CREG?", info_ok("+CREG: 0,1")),
    Case("+CREG", W, "fresh", "AT+CREG=2", OK),
    Case("+CGREG", T, "fresh", "AT+CGREG=?", info_ok("+CGREG: (0-2)")),
    Case("+CGREG", R, "fresh", "AT+CGREG?", info_ok("+CGREG: 0,1")),
    Case("+CGREG", W, "fresh", "AT+CGREG=1", OK),
    Case("+CGATT", T, "fresh", "AT+CGATT=?", info_ok("+CGATT: (0,1)")),
    Case("+CGATT", R, "fresh", "AT+CGATT?", info_ok("+CGATT: 1")),
    Case("+CGATT", W, "fresh", "AT+CGATT=1", OK),
    Case("+COPS", R, "fresh", "AT+COPS?", info_ok('+COPS: 0,0,"CHINA MOBILE"')),
    Case(
        "+COPS", T, "fresh", "AT+COPS=?",
        info_ok('+COPS: (2,"CHINA MOBILE","CHINA MOBILE","46000"),,(0-4),(0-2)'),
        "no source fixes the operator list",
    ),
    Case("+COPS", W, "fresh", "AT+COPS=0", OK),
    # ---- context and modes (cmd-forms-mux-mode.txt, cmd-forms-apn.txt, 4.2.4)
    Case("+CIPMUX", T, "fresh", "AT+CIPMUX=?", info_ok("+CIPMUX: (0,1)")),
    Case("+CIPMUX", R, "fresh", "AT+CIPMUX?", info_ok("+CIPMUX: 0")),
    Case("+CIPMUX", W, "fresh", "AT+CIPMUX=1", OK),
    Case("+CIPMODE", T, "fresh", "AT+CIPMODE=?", info_ok("+CIPMODE: (0-NORMAL MODE,1-TRANSPARENT MODE)")),
    Case("+CIPMODE", R, "fresh", "AT+CIPMODE?", info_ok("+CIPMODE: 0")),
    Case("+CIPMODE", W, "fresh", "AT+CIPMODE=1", OK),
    Case("+CSTT", T, "fresh", "AT+CSTT=?", info_ok('+CSTT: "APN","USER","PWD"')),
    Case("+CSTT", R, "fresh", "AT+CSTT?", info_ok('+CSTT: "CMNET","",""')),
    Case("+CSTT", W, "fresh", 'AT+CSTT="internet","user","pwd"', OK),
    Case("+CSTT", X, "fresh", "AT+CSTT", OK),
    Case("+CIICR", T, "fresh", "AT+CIICR=?", OK),
    Case("+CIICR", X, "fresh", "AT+CIICR", ERROR),  # before CSTT (cmd-state-refusals.txt)
    Case("+CIFSR", T, "fresh", "AT+CIFSR=?", OK),
    Case("+CIFSR", X, "gprsact", "AT+CIFSR", crlf(IP)),  # no OK (manual 3.9)
    Case("+CIFSR", X, "fresh", "AT+CIFSR", ERROR),
    Case("+CIFSREX", T, "fresh", "AT+CIFSREX=?", OK),
    Case("+CIFSREX", X, "status", "AT+CIFSREX", info_ok(f"+CIFSREX: {IP}")),  # reference 3 INF
    Case("+CIFSREX", R, "status", "AT+CIFSREX?", info_ok(f"+CIFSREX: {IP}")),
    Case("+CIPSHUT", T, "fresh", "AT+CIPSHUT=?", OK),
    Case("+CIPSHUT", X, "fresh", "AT+CIPSHUT", crlf("SHUT OK")),
    Case("+CIPSTATUS", T, "fresh", "AT+CIPSTATUS=?", OK),
    Case("+CIPSTATUS", X, "fresh", "AT+CIPSTATUS", OK + crlf("STATE: IP INITIAL")),
    Case(
        "+CIPSTATUS", W, "multi", "AT+CIPSTATUS=0",
        info_ok('+CIPSTATUS: 0,0,"TCP","1.2.3.4","80","CONNECTED"'),
    ),
    Case("+CIPSTATUS", W, "fresh", "AT+CIPSTATUS=0", ERROR),  # multi-link only
    Case(
        "+CIPSCONT", R, "fresh", "AT+CIPSCONT?",
        info_ok(
            "+CIPCSGP:1", "Gprs Config APN:cmnet", "Gprs Config UserId:",
            "Gprs Config Password:", "+CLPORT:0,0", "+CIPHEAD:0", "+CIPSHOWTP:0",
            "+CIPSRIPIP:0", "+CIPATS:0,0", "+CIPSPRT:1", "+CIPMODE:0",
            "+CIPCCFG:3,2,1024,1", "+CIPMUX:0", "+CIPDPDP:1,10,3",
        ),
    ),
    Case("+CIPSCONT", X, "fresh", "AT+CIPSCONT", OK),
    Case("+CIPSCONT", T, "fresh", "AT+CIPSCONT=?", OK, "no source for the test form"),
    Case(
        "+CIPCSGP", T, "fresh", "AT+CIPCSGP=?",
        info_ok(
            "+CIPCSGP: 0-CSD,DIALNUMBER,USER NAME,PASSWORD,RATE(0-3)",
            "+CIPCSGP: 1-GPRS,APN,USER NAME,PASSWORD",
        ),
    ),
    Case("+CIPCSGP", R, "fresh", "AT+CIPCSGP?", info_ok('+CIPCSGP: 1,"cmnet","",""')),
    Case("+CIPCSGP", W, "fresh", 'AT+CIPCSGP=1,"internet","user","pwd"', OK),
    Case("+CIPDPDP", T, "fresh", "AT+CIPDPDP=?", info_ok("+CIPDPDP: (0,1),(1-180),(1-10)")),
    Case("+CIPDPDP", R, "fresh", "AT+CIPDPDP?", info_ok("+CIPDPDP: 1,10,3")),
    Case("+CIPDPDP", W, "fresh", "AT+CIPDPDP=1,1,1", OK),
    Case(
        "+CIPCCFG", T, "fresh", "AT+CIPCCFG=?",
        info_ok("+CIPCCFG: (NmRetry:3-8),(WaitTm:2-10),(SendSz:1-1460),(esc:0,1)"),
    ),
    Case("+CIPCCFG", R, "fresh", "AT+CIPCCFG?", info_ok("+CIPCCFG: 3,2,1024,1")),
    Case("+CIPCCFG", W, "fresh", "AT+CIPCCFG=5,4,512,0", OK),
    Case("+CLPORT", T, "fresh", "AT+CLPORT=?", info_ok('+CLPORT: ("TCP","UDP"),(0-65535)')),
    Case("+CLPORT", R, "fresh", "AT+CLPORT?", info_ok("TCP: 0", "UDP: 0")),
    Case("+CLPORT", W, "fresh", 'AT+CLPORT="TCP",2020', OK),
    Case("+CIPQSEND", T, "fresh", "AT+CIPQSEND=?", info_ok("+CIPQSEND: (0,1)")),
    Case("+CIPQSEND", R, "fresh", "AT+CIPQSEND?", info_ok("+CIPQSEND: 0")),
    Case("+CIPQSEND", W, "fresh", "AT+CIPQSEND=1", OK),
    # ---- DNS (cmd-forms-dpdp-dns.txt, 4.2.10)
    Case("+CDNSCFG", T, "fresh", "AT+CDNSCFG=?", info_ok('+CDNSCFG: ("Primary DNS"),("Secondary DNS")')),
    Case("+CDNSCFG", R, "fresh", "AT+CDNSCFG?", info_ok("PrimaryDns: 0.0.0.0", "SecondaryDns: 0.0.0.0")),
    Case("+CDNSCFG", W, "status", 'AT+CDNSCFG="127.0.0.1","127.0.0.2"', OK),
    Case("+CDNSGIP", T, "fresh", "AT+CDNSGIP=?", OK),
    Case("+CDNSGIP", W, "status", 'AT+CDNSGIP="127.0.0.1"', OK + crlf('+CDNSGIP: 1,"127.0.0.1","127.0.0.1"')),
    Case("+CDNSGIP", W, "fresh", 'AT+CDNSGIP="echo.test"', ERROR),  # no context (reference 3 INF)
    # ---- links (manual 3.5, 3.6; reference 3)
    Case(
        "+CIPSTART", T, "fresh", "AT+CIPSTART=?",
        info_ok(
            '+CIPSTART: ("TCP","UDP"),("(0-255).(0-255).(0-255).(0-255)"),(1-65535)',
            '+CIPSTART: ("TCP","UDP"),("DOMAIN NAME"),(1-65535)',
        ),
        "manual 3.5.1 gives the shape; the ranges are the core's",
    ),
    Case(
        "+CIPSTART", T, "multi", "AT+CIPSTART=?",
        info_ok(
            '+CIPSTART: (0-5),("TCP","UDP"),("(0-255).(0-255).(0-255).(0-255)"),(1-65535)',
            '+CIPSTART: (0-5),("TCP","UDP"),("DOMAIN NAME"),(1-65535)',
        ),
    ),
    Case("+CIPSTART", W, "status", 'AT+CIPSTART="TCP","1.2.3.4",80', OK),
    Case("+CIPSTART", W, "single", 'AT+CIPSTART="TCP","1.2.3.4",80', ERROR + crlf("ALREADY CONNECT")),
    Case("+CIPSEND", T, "single", "AT+CIPSEND=?", info_ok("+CIPSEND: (1-1460)"), "no source fixes it"),
    Case("+CIPSEND", T, "multi", "AT+CIPSEND=?", info_ok("+CIPSEND: (0-5),(1-1460)"), "no source"),
    Case("+CIPSEND", R, "single", "AT+CIPSEND?", info_ok("+CIPSEND: 1460")),  # cmd-cipsend-variants
    Case(
        "+CIPSEND", R, "multi", "AT+CIPSEND?",
        info_ok(*(f"+CIPSEND: {n},{1460 if n == 0 else 0}" for n in range(6))),
        "reference 3: one line per link; unconnected size 0 is the core's choice",
    ),
    Case("+CIPSEND", W, "single", "AT+CIPSEND=5", PROMPT),
    Case("+CIPSEND", W, "multi", "AT+CIPSEND=0,5", PROMPT),
    Case("+CIPSEND", X, "single", "AT+CIPSEND", PROMPT),
    Case("+CIPSEND", X, "fresh", "AT+CIPSEND", ERROR),
    Case("+CIPCLOSE", T, "fresh", "AT+CIPCLOSE=?", OK),
    Case("+CIPCLOSE", X, "single", "AT+CIPCLOSE", crlf("CLOSE OK")),
    Case("+CIPCLOSE", X, "fresh", "AT+CIPCLOSE", ERROR),
    Case("+CIPCLOSE", W, "single", "AT+CIPCLOSE=1", crlf("CLOSE OK")),  # SPEC quick-close flag
    Case("+CIPCLOSE", W, "multi", "AT+CIPCLOSE=0", crlf("0, CLOSE OK")),
    Case("+CIPCLOSE", W, "multi", "AT+CIPCLOSE=0,1", crlf("0, CLOSE OK")),
    Case("+CIPHEAD", T, "fresh", "AT+CIPHEAD=?", info_ok("+CIPHEAD: (0,1)")),
    Case("+CIPHEAD", R, "fresh", "AT+CIPHEAD?", info_ok("+CIPHEAD: 0")),
    Case("+CIPHEAD", W, "fresh", "AT+CIPHEAD=1", OK),
    Case("+CIPSHOWTP", T, "fresh", "AT+CIPSHOWTP=?", info_ok("+CIPSHOWTP: (0,1)")),
    Case("+CIPSHOWTP", R, "fresh", "AT+CIPSHOWTP?", info_ok("+CIPSHOWTP: 0")),
    Case("+CIPSHOWTP", W, "fresh", "AT+CIPSHOWTP=1", OK),
    Case("+CIPSRIP", T, "fresh", "AT+CIPSRIP=?", info_ok("+CIPSRIP: (0,1)")),
    Case("+CIPSRIP", R, "fresh", "AT+CIPSRIP?", info_ok("+CIPSRIP: 0")),
    Case("+CIPSRIP", W, "fresh", "AT+CIPSRIP=1", OK),
    # the manual's spelling in its command list (SPEC: a typo) reaches the same command
    Case("+CIPSRIPIP", T, "fresh", "AT+CIPSRIPIP=?", info_ok("+CIPSRIP: (0,1)")),
    Case("+CIPSRIPIP", R, "fresh", "AT+CIPSRIPIP?", info_ok("+CIPSRIP: 0")),
    Case("+CIPSRIPIP", W, "fresh", "AT+CIPSRIPIP=1", OK),
    Case("+CIPSPRT", T, "fresh", "AT+CIPSPRT=?", info_ok("+CIPSPRT: (0-2)")),
    Case("+CIPSPRT", R, "fresh", "AT+CIPSPRT?", info_ok("+CIPSPRT: 1")),
    Case("+CIPSPRT", W, "fresh", "AT+CIPSPRT=2", OK),
    Case("+CIPSSL", T, "fresh", "AT+CIPSSL=?", info_ok("+CIPSSL: (0,1)")),
    Case("+CIPSSL", R, "fresh", "AT+CIPSSL?", info_ok("+CIPSSL: 0")),
    Case("+CIPSSL", W, "fresh", "AT+CIPSSL=0", OK),  # TinyGSM sends it before every connect
    Case("+CIPATS", T, "fresh", "AT+CIPATS=?", info_ok("+CIPATS: (0,1),(1-100)")),
    Case("+CIPATS", R, "fresh", "AT+CIPATS?", info_ok("+CIPATS: 0,0")),
    Case("+CIPATS", W, "fresh", "AT+CIPATS=1,30", OK),
    Case("+CIPRXGET", T, "fresh", "AT+CIPRXGET=?", info_ok("+CIPRXGET: (0-4),(1-1460)"), "no source"),
    Case("+CIPRXGET", T, "multi", "AT+CIPRXGET=?", info_ok("+CIPRXGET: (0-4),(0-5),(1-1460)"), "no source"),
    Case("+CIPRXGET", R, "fresh", "AT+CIPRXGET?", info_ok("+CIPRXGET: 0")),
    Case("+CIPRXGET", W, "fresh", "AT+CIPRXGET=1", OK),
    Case("+CIPACK", T, "fresh", "AT+CIPACK=?", OK),
    Case("+CIPACK", X, "single", "AT+CIPACK", info_ok("+CIPACK: 0,0,0")),  # reference 3 INF: no spaces
    Case("+CIPACK", W, "multi", "AT+CIPACK=0", info_ok("+CIPACK: 0,0,0")),
    # ---- HTTP (manual 11.2; app-http-*.txt)
    Case("+HTTPINIT", T, "fresh", "AT+HTTPINIT=?", OK),
    Case("+HTTPINIT", X, "fresh", "AT+HTTPINIT", OK),
    Case("+HTTPTERM", T, "fresh", "AT+HTTPTERM=?", OK),
    Case("+HTTPTERM", X, "http", "AT+HTTPTERM", OK),
    Case("+HTTPPARA", T, "fresh", "AT+HTTPPARA=?", info_ok('+HTTPPARA: "HTTPParamTag","HTTPParmValue"')),
    Case("+HTTPPARA", W, "http", 'AT+HTTPPARA="UA","x"', OK),
    Case("+HTTPPARA", R, "http", "AT+HTTPPARA?", info_ok(
        "+HTTPPARA: CID,1", "+HTTPPARA: URL,1.2.3.4/x", "+HTTPPARA: UA,SIMCom_MODULE",
        "+HTTPPARA: PROIP,0.0.0.0", "+HTTPPARA: PROPORT,0", "+HTTPPARA: REDIR,0",
        "+HTTPPARA: BREAK,0", "+HTTPPARA: BREAKEND,0", "+HTTPPARA: TIMEOUT,120",
        "+HTTPPARA: CONTENT,", "+HTTPPARA: USERDATA,")),
    Case("+HTTPDATA", T, "fresh", "AT+HTTPDATA=?", info_ok("+HTTPDATA: (1-319488),(1000-120000)")),
    Case("+HTTPDATA", W, "http", "AT+HTTPDATA=2,1000", crlf("DOWNLOAD")),
    Case("+HTTPACTION", T, "fresh", "AT+HTTPACTION=?", info_ok("+HTTPACTION: (0-3)")),
    Case("+HTTPACTION", W, "http", "AT+HTTPACTION=0", OK),
    Case("+HTTPREAD", T, "fresh", "AT+HTTPREAD=?", info_ok("+HTTPREAD: (0-319488),(1-319488)")),
    Case("+HTTPREAD", X, "http", "AT+HTTPREAD", OK),  # nothing to read yet
    Case("+HTTPREAD", W, "http", "AT+HTTPREAD=0,10", OK),
    Case("+HTTPHEAD", T, "fresh", "AT+HTTPHEAD=?", OK),
    Case("+HTTPHEAD", X, "http", "AT+HTTPHEAD", OK),
    Case("+HTTPGETHEAD", T, "fresh", "AT+HTTPGETHEAD=?", info_ok("+HTTPGETHEAD: (0,1)")),
    Case("+HTTPGETHEAD", R, "http", "AT+HTTPGETHEAD?", info_ok("+HTTPGETHEAD: 0")),
    Case("+HTTPGETHEAD", W, "http", "AT+HTTPGETHEAD=1", OK),
    Case("+HTTPSTATUS", T, "fresh", "AT+HTTPSTATUS=?", OK),
    Case("+HTTPSTATUS", R, "http", "AT+HTTPSTATUS?", info_ok("+HTTPSTATUS: 0,0,0,0")),
    Case("+HTTPSCONT", R, "http", "AT+HTTPSCONT?", info_ok(
        "+HTTPSCONT: 1", "CID: 1", "URL: 1.2.3.4/x", "UA: SIMCom_MODULE", "PROIP: 0.0.0.0",
        "PROPORT: 0", "REDIR: 0", "BREAK: 0", "BREAKEND: 0", "USERDATA: ")),
    Case("+HTTPSCONT", X, "http", "AT+HTTPSCONT", OK),
    Case("+HTTPSSL", T, "fresh", "AT+HTTPSSL=?", info_ok("+HTTPSSL: (0,1)")),
    Case("+HTTPSSL", R, "fresh", "AT+HTTPSSL?", info_ok("+HTTPSSL: 0")),
    Case("+HTTPSSL", W, "http", "AT+HTTPSSL=1", OK),
    Case("+SSLOPT", T, "fresh", "AT+SSLOPT=?", info_ok("+SSLOPT: (0,1),(0,1)")),
    Case("+SSLOPT", W, "fresh", "AT+SSLOPT=0,1", OK),
    # ---- FTP (manual 12.2)
    Case("+FTPPORT", T, "fresh", "AT+FTPPORT=?", OK),
    Case("+FTPPORT", R, "fresh", "AT+FTPPORT?", info_ok('+FTPPORT: 21')),
    Case("+FTPPORT", W, "fresh", 'AT+FTPPORT=2121', OK),
    Case("+FTPMODE", T, "fresh", "AT+FTPMODE=?", OK),
    Case("+FTPMODE", R, "fresh", "AT+FTPMODE?", info_ok('+FTPMODE: 0')),
    Case("+FTPMODE", W, "fresh", 'AT+FTPMODE=1', OK),
    Case("+FTPTYPE", T, "fresh", "AT+FTPTYPE=?", OK),
    Case("+FTPTYPE", R, "fresh", "AT+FTPTYPE?", info_ok('+FTPTYPE: I')),
    Case("+FTPTYPE", W, "fresh", 'AT+FTPTYPE="A"', OK),
    Case("+FTPPUTOPT", T, "fresh", "AT+FTPPUTOPT=?", OK),
    Case("+FTPPUTOPT", R, "fresh", "AT+FTPPUTOPT?", info_ok('+FTPPUTOPT: STOR')),
    Case("+FTPPUTOPT", W, "fresh", 'AT+FTPPUTOPT="APPE"', OK),
    Case("+FTPCID", T, "fresh", "AT+FTPCID=?", OK),
    Case("+FTPCID", R, "fresh", "AT+FTPCID?", info_ok('+FTPCID: 1')),
    Case("+FTPCID", W, "fresh", 'AT+FTPCID=2', OK),
    Case("+FTPREST", T, "fresh", "AT+FTPREST=?", OK),
    Case("+FTPREST", R, "fresh", "AT+FTPREST?", info_ok('+FTPREST: 0')),
    Case("+FTPREST", W, "fresh", 'AT+FTPREST=100', OK),
    Case("+FTPSERV", T, "fresh", "AT+FTPSERV=?", OK),
    Case("+FTPSERV", R, "fresh", "AT+FTPSERV?", info_ok('+FTPSERV: ""')),
    Case("+FTPSERV", W, "fresh", 'AT+FTPSERV="ftp.test"', OK),
    Case("+FTPUN", T, "fresh", "AT+FTPUN=?", OK),
    Case("+FTPUN", R, "fresh", "AT+FTPUN?", info_ok('+FTPUN: ""')),
    Case("+FTPUN", W, "fresh", 'AT+FTPUN="me"', OK),
    Case("+FTPPW", T, "fresh", "AT+FTPPW=?", OK),
    Case("+FTPPW", R, "fresh", "AT+FTPPW?", info_ok('+FTPPW: ""')),
    Case("+FTPPW", W, "fresh", 'AT+FTPPW="pw"', OK),
    Case("+FTPGETNAME", T, "fresh", "AT+FTPGETNAME=?", OK),
    Case("+FTPGETNAME", R, "fresh", "AT+FTPGETNAME?", info_ok('+FTPGETNAME: ""')),
    Case("+FTPGETNAME", W, "fresh", 'AT+FTPGETNAME="f.bin"', OK),
    Case("+FTPGETPATH", T, "fresh", "AT+FTPGETPATH=?", OK),
    Case("+FTPGETPATH", R, "fresh", "AT+FTPGETPATH?", info_ok('+FTPGETPATH: "/"')),
    Case("+FTPGETPATH", W, "fresh", 'AT+FTPGETPATH="/in/"', OK),
    Case("+FTPPUTNAME", T, "fresh", "AT+FTPPUTNAME=?", OK),
    Case("+FTPPUTNAME", R, "fresh", "AT+FTPPUTNAME?", info_ok('+FTPPUTNAME: ""')),
    Case("+FTPPUTNAME", W, "fresh", 'AT+FTPPUTNAME="u.bin"', OK),
    Case("+FTPPUTPATH", T, "fresh", "AT+FTPPUTPATH=?", OK),
    Case("+FTPPUTPATH", R, "fresh", "AT+FTPPUTPATH?", info_ok('+FTPPUTPATH: "/"')),
    Case("+FTPPUTPATH", W, "fresh", 'AT+FTPPUTPATH="/out/"', OK),
    Case("+FTPGET", T, "fresh", "AT+FTPGET=?", OK),
    Case("+FTPPUT", T, "fresh", "AT+FTPPUT=?", OK),
    Case("+FTPLIST", T, "fresh", "AT+FTPLIST=?", OK),
    Case("+FTPSIZE", T, "fresh", "AT+FTPSIZE=?", OK),
    Case("+FTPDELE", T, "fresh", "AT+FTPDELE=?", OK),
    Case("+FTPMKD", T, "fresh", "AT+FTPMKD=?", OK),
    Case("+FTPRMD", T, "fresh", "AT+FTPRMD=?", OK),
    Case("+FTPEXTGET", T, "fresh", "AT+FTPEXTGET=?", OK),
    Case("+FTPQUIT", T, "fresh", "AT+FTPQUIT=?", OK),
    Case("+FTPSTATE", T, "fresh", "AT+FTPSTATE=?", OK),
    Case("+FTPGET", W, "fresh", "AT+FTPGET=1", OK + crlf("+FTPGET: 1,61")),  # no bearer
    Case("+FTPLIST", W, "fresh", "AT+FTPLIST=2,100", ERROR),  # nothing to read
    Case("+FTPPUT", W, "fresh", "AT+FTPPUT=1", OK + crlf("+FTPPUT: 1,61")),
    Case("+FTPSIZE", X, "fresh", "AT+FTPSIZE", OK + crlf("+FTPSIZE: 1,61")),
    Case("+FTPDELE", X, "fresh", "AT+FTPDELE", OK + crlf("+FTPDELE: 1,61")),
    Case("+FTPMKD", X, "fresh", "AT+FTPMKD", OK + crlf("+FTPMKD: 1,61")),
    Case("+FTPRMD", X, "fresh", "AT+FTPRMD", OK + crlf("+FTPRMD: 1,61")),
    Case("+FTPEXTGET", R, "fresh", "AT+FTPEXTGET?", info_ok("+FTPEXTGET: 0,0")),
    Case("+FTPEXTGET", W, "fresh", "AT+FTPEXTGET=0", OK),
    Case("+FTPQUIT", X, "fresh", "AT+FTPQUIT", OK),
    Case("+FTPSTATE", X, "fresh", "AT+FTPSTATE", info_ok("+FTPSTATE: 0")),
    # ---- server (cmd-forms-cipserver.txt)
    Case("+CIPSERVER", T, "fresh", "AT+CIPSERVER=?", info_ok("+CIPSERVER: (1-65535),(0-1),(0-1),(1-5)")),
    Case("+CIPSERVER", R, "fresh", "AT+CIPSERVER?", info_ok("+CIPSERVER: 0,0")),
    Case("+CIPSERVER", W, "status", "AT+CIPSERVER=1,3000", OK),
    Case("+CIPSERVER", W, "fresh", "AT+CIPSERVER=0", ERROR),  # SPEC: =0 with no server
]

# Calls and USSD (docs/voice-ussd.md; the flows are in test_commands_voice.py
# and test_commands_ussd.py).
CASES += [
    Case("D", W, "fresh", "ATD+4930123;", OK),
    # dial-up PPP (test_ppp_session.py): CONNECT; LCP follows 50 ms later
    Case("D", W, "fresh", "ATD*99#", crlf("CONNECT")),
    Case("A", X, "fresh", "ATA", crlf("NO CARRIER")),
    Case("+CHUP", T, "fresh", "AT+CHUP=?", OK),
    Case("+CHUP", X, "fresh", "AT+CHUP", OK),
    Case("+CLCC", T, "fresh", "AT+CLCC=?", info_ok("+CLCC: (0,1)")),
    Case("+CLCC", R, "fresh", "AT+CLCC?", info_ok("+CLCC: 0")),
    Case("+CLCC", W, "fresh", "AT+CLCC=1", OK),
    Case("+CLCC", X, "fresh", "AT+CLCC", OK),
    Case("+CCWA", T, "fresh", "AT+CCWA=?", info_ok("+CCWA: (0,1)")),
    Case("+CCWA", R, "fresh", "AT+CCWA?", info_ok("+CCWA: 0")),
    Case("+CCWA", W, "fresh", "AT+CCWA=1,2", info_ok("+CCWA: 1,1")),
    Case("+CHLD", T, "fresh", "AT+CHLD=?", info_ok("+CHLD: (0,1,1x,2,2x,3,4)")),
    Case("+CHLD", W, "fresh", "AT+CHLD=1", ERROR),
    Case("+CLIP", T, "fresh", "AT+CLIP=?", info_ok("+CLIP: (0,1)")),
    Case("+CLIP", R, "fresh", "AT+CLIP?", info_ok("+CLIP: 0,1")),
    Case("+CLIP", W, "fresh", "AT+CLIP=1", OK),
    Case("+COLP", T, "fresh", "AT+COLP=?", info_ok("+COLP: (0,1)")),
    Case("+COLP", R, "fresh", "AT+COLP?", info_ok("+COLP: 0,1")),
    Case("+COLP", W, "fresh", "AT+COLP=1", OK),
    Case("+CRC", T, "fresh", "AT+CRC=?", info_ok("+CRC: (0,1)")),
    Case("+CRC", R, "fresh", "AT+CRC?", info_ok("+CRC: 0")),
    Case("+CRC", W, "fresh", "AT+CRC=1", OK),
    Case("+MORING", T, "fresh", "AT+MORING=?", info_ok("+MORING: (0,1)")),
    Case("+MORING", R, "fresh", "AT+MORING?", info_ok("+MORING: 0")),
    Case("+MORING", W, "fresh", "AT+MORING=1", OK),
    Case("+CDRIND", T, "fresh", "AT+CDRIND=?", info_ok("+CDRIND: (0,1)")),
    Case("+CDRIND", R, "fresh", "AT+CDRIND?", info_ok("+CDRIND: 0")),
    Case("+CDRIND", W, "fresh", "AT+CDRIND=1", OK),
    Case("+CEER", T, "fresh", "AT+CEER=?", info_ok("+CEER: (0,1)")),
    Case("+CEER", R, "fresh", "AT+CEER?", info_ok("+CEER: 0")),
    Case("+CEER", W, "fresh", "AT+CEER=1", OK),
    Case("+CEER", X, "fresh", "AT+CEER", info_ok("+CEER: No cause")),
    Case("+VTS", T, "fresh", "AT+VTS=?", info_ok("+VTS: (0-9,*,#,A,B,C,D),(1-255)")),
    Case("+VTS", W, "fresh", "AT+VTS=1", ERROR),  # no call: +CME ERROR: 3 with CMEE
    Case("+VTD", T, "fresh", "AT+VTD=?", info_ok("+VTD: (1-255)")),
    Case("+VTD", R, "fresh", "AT+VTD?", info_ok("+VTD: 1")),
    Case("+VTD", W, "fresh", "AT+VTD=3", OK),
    Case("+DDET", T, "fresh", "AT+DDET=?", info_ok("+DDET: (0,1),(0-10000),(0,1),(0,1)")),
    Case("+DDET", R, "fresh", "AT+DDET?", info_ok("+DDET: 0,0,0,0")),
    Case("+DDET", W, "fresh", "AT+DDET=1", OK),
    Case("+CUSD", T, "fresh", "AT+CUSD=?", info_ok("+CUSD: (0-2)")),
    Case("+CUSD", R, "fresh", "AT+CUSD?", info_ok("+CUSD: 0")),
    Case("+CUSD", W, "fresh", 'AT+CUSD=1,"*100#"', OK),
]

# ---- SMS, 27.005 (manual V1.12 chapter 4; core/sms; docs/sms.md)
def sms_text() -> Harness:
    """Text mode (AT+CMGF=1) and one received message at SM index 1."""
    from sim800emu.core.events import SmsIncoming

    h = Harness()
    assert h.at("AT+CMGF=1") == OK
    h.handle(SmsIncoming("+8613900000001", "Hi", 1_796_000_000.0))
    return h


SETUPS["sms_text"] = sms_text
_MEMS = '("SM","ME","SM_P","ME_P","MT")'
CASES += [
    Case("+CMGF", T, "fresh", "AT+CMGF=?", info_ok("+CMGF: (0,1)")),
    Case("+CMGF", R, "fresh", "AT+CMGF?", info_ok("+CMGF: 0")),
    Case("+CMGF", W, "fresh", "AT+CMGF=1", OK),
    Case("+CSDH", T, "fresh", "AT+CSDH=?", info_ok("+CSDH: (0,1)")),
    Case("+CSDH", R, "fresh", "AT+CSDH?", info_ok("+CSDH: 0")),
    Case("+CSDH", W, "fresh", "AT+CSDH=1", OK),
    Case("+CSMP", T, "fresh", "AT+CSMP=?", info_ok("+CSMP: (0-255),(0-255),(0-255),(0-255)")),
    Case("+CSMP", R, "fresh", "AT+CSMP?", info_ok("+CSMP: 17,167,0,0")),
    Case("+CSMP", W, "fresh", "AT+CSMP=49,167,0,0", OK),
    Case("+CSCA", T, "fresh", "AT+CSCA=?", OK),
    Case("+CSCA", R, "fresh", "AT+CSCA?", info_ok('+CSCA: "+8613800200500",145')),
    Case("+CSCA", W, "fresh", 'AT+CSCA="+8613800200500",145', OK),
    Case("+CSMS", T, "fresh", "AT+CSMS=?", info_ok("+CSMS: (0,1)")),
    Case("+CSMS", R, "fresh", "AT+CSMS?", info_ok("+CSMS: 0,1,1,1")),
    Case("+CSMS", W, "fresh", "AT+CSMS=0", info_ok("+CSMS: 1,1,1")),
    Case("+CPMS", T, "fresh", "AT+CPMS=?", info_ok(f"+CPMS: {_MEMS},{_MEMS},{_MEMS}")),
    Case("+CPMS", R, "sms_text", "AT+CPMS?", info_ok('+CPMS: "SM",1,50,"SM",1,50,"SM",1,50')),
    Case("+CPMS", W, "fresh", 'AT+CPMS="ME","ME","ME"', info_ok("+CPMS: 0,150,0,150,0,150")),
    Case("+CNMI", T, "fresh", "AT+CNMI=?", info_ok("+CNMI: (0-3),(0-3),(0,2),(0,1),(0,1)")),
    Case("+CNMI", R, "fresh", "AT+CNMI?", info_ok("+CNMI: 2,1,0,0,0")),
    Case("+CNMI", W, "fresh", "AT+CNMI=2,1,0,1,0", OK),
    Case("+CMMS", T, "fresh", "AT+CMMS=?", info_ok("+CMMS: (0-2)")),
    Case("+CMMS", R, "fresh", "AT+CMMS?", info_ok("+CMMS: 0")),
    Case("+CMMS", W, "fresh", "AT+CMMS=1", OK),
    Case("+CSCB", T, "fresh", "AT+CSCB=?", info_ok("+CSCB: (0,1)")),
    Case("+CSCB", R, "fresh", "AT+CSCB?", info_ok('+CSCB: 0,"",""')),
    Case("+CSCB", W, "fresh", "AT+CSCB=0", OK),
    Case("+CSAS", T, "fresh", "AT+CSAS=?", info_ok("+CSAS: (0-3)")),
    Case("+CSAS", X, "fresh", "AT+CSAS", OK),
    Case("+CSAS", W, "fresh", "AT+CSAS=0", OK),
    Case("+CRES", T, "fresh", "AT+CRES=?", info_ok("+CRES: (0-3)")),
    Case("+CRES", X, "fresh", "AT+CRES", OK),
    Case("+CRES", W, "fresh", "AT+CRES=0", OK),
    Case("+CMGS", T, "fresh", "AT+CMGS=?", OK),
    Case("+CMGS", W, "sms_text", 'AT+CMGS="+8613912345678"', PROMPT),
    Case("+CMGW", T, "fresh", "AT+CMGW=?", OK),
    Case("+CMGW", W, "fresh", "AT+CMGW=20,2", PROMPT),
    Case("+CMGW", X, "sms_text", "AT+CMGW", PROMPT),
    Case("+CMSS", T, "fresh", "AT+CMSS=?", OK),
    Case("+CMSS", W, "sms_text", "AT+CMSS=2", ERROR),  # empty place, CMEE=0
    Case("+CMGR", T, "fresh", "AT+CMGR=?", OK),
    Case("+CMGR", W, "sms_text", "AT+CMGR=1",
         info_ok('+CMGR: "REC UNREAD","+8613900000001","","26/11/30,00:53:20+00"', "Hi")),
    Case("+CMGL", T, "sms_text", "AT+CMGL=?",
         info_ok('+CMGL: ("REC UNREAD","REC READ","STO UNSENT","STO SENT","ALL")')),
    Case("+CMGL", X, "sms_text", "AT+CMGL",
         info_ok('+CMGL: 1,"REC UNREAD","+8613900000001","","26/11/30,00:53:20+00"', "Hi")),
    Case("+CMGL", W, "sms_text", 'AT+CMGL="STO SENT"', OK),
    Case("+CMGD", T, "sms_text", "AT+CMGD=?", info_ok("+CMGD: (1),(0-4)")),
    Case("+CMGD", W, "sms_text", "AT+CMGD=1", OK),
    Case("+CMGDA", T, "sms_text", "AT+CMGDA=?", info_ok(
        '+CMGDA: ("DEL READ","DEL UNREAD","DEL SENT","DEL UNSENT","DEL INBOX","DEL ALL")')),
    Case("+CMGDA", W, "sms_text", 'AT+CMGDA="DEL ALL"', OK),
    Case("+CMGHEX", T, "fresh", "AT+CMGHEX=?", info_ok("+CMGHEX: (0,1)")),
    Case("+CMGHEX", R, "fresh", "AT+CMGHEX?", info_ok("+CMGHEX: 0")),
    Case("+CMGHEX", W, "fresh", "AT+CMGHEX=1", OK),
    Case("+CCODE", T, "fresh", "AT+CCODE=?", info_ok("+CCODE: (0,1)")),
    Case("+CCODE", R, "fresh", "AT+CCODE?", info_ok("+CCODE: 0")),
    Case("+CCODE", W, "fresh", "AT+CCODE=1", OK),
]

# The general command set of issue 11 (S-registers included): forms_general.py
CASES.extend(Case(*case) for case in GENERAL)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_form(case: Case) -> None:
    h = SETUPS[case.setup]()
    h.take()
    out = h.at(case.line)
    if isinstance(case.expected, bytes):
        assert out == case.expected
    else:
        assert case.expected.fullmatch(out), out


def test_every_registry_form_has_a_case() -> None:
    covered = {(c.name, c.form) for c in CASES}
    missing = sorted(
        f"{name} {form.value}"
        for name, spec in REGISTRY.items()
        for form in spec.forms
        if (name, form) not in covered
    )
    assert not missing, f"registry forms without a test case: {missing}"


def test_cases_only_name_registered_forms() -> None:
    stale = sorted(
        f"{c.name} {c.form.value}"
        for c in CASES
        if c.name not in REGISTRY or c.form not in REGISTRY[c.name].forms
    )
    assert not stale


# ---------------------------------------------------------------- metadata


def test_every_registry_entry_has_summary_and_source() -> None:
    for name, spec in REGISTRY.items():
        assert spec.summary.strip(), name
        assert spec.source.strip(), name
        assert any(word in spec.source for word in ("manual", "reference", "SPEC")), (
            name,
            spec.source,
        )
        assert spec.forms, name
        for form, fs in spec.forms.items():
            assert fs.when.text.strip(), (name, form)


def test_aliases_share_the_spec() -> None:
    for alias, target in (("+CGSN", "+GSN"), ("+CGMI", "+GMI"), ("+CGMM", "+GMM"), ("+CGMR", "+GMR")):
        assert REGISTRY[alias] is REGISTRY[target]


# ---------------------------------------------------------------- undefined forms

_FORM_LINES = {T: "AT{}=?", R: "AT{}?", W: "AT{}=1", X: "AT{}"}


def _undefined_forms() -> list[tuple[str, Form]]:
    return [
        (name, form)
        for name, spec in REGISTRY.items()
        if name.startswith("+")
        for form in (T, R, W, X)
        if form not in spec.forms
    ]


@pytest.mark.parametrize(("name", "form"), _undefined_forms(), ids=lambda v: str(getattr(v, "value", v)))
def test_undefined_form_answers_error(name: str, form: Form) -> None:
    h = Harness()
    assert h.at(_FORM_LINES[form].format(name)) == ERROR


@pytest.mark.parametrize("cmee", [1, 2])
def test_undefined_form_is_plain_error_whatever_cmee(cmee: int) -> None:
    # conformance README decision 11: an unknown command is plain ERROR.
    h = Harness()
    h.at(f"AT+CMEE={cmee}")
    assert h.at("AT+CIPSTART?") == ERROR
    assert h.at("AT+NOSUCH") == ERROR


def test_unknown_basic_and_extended_commands() -> None:
    h = Harness()
    assert h.at("AT+NOSUCH") == ERROR
    assert h.at("AT+NOSUCH=?") == ERROR
    assert h.at("ATY") == ERROR
    assert h.at("AT&Y") == ERROR


# ---------------------------------------------------------------- out of range

BAD_WRITES: list[tuple[str, str]] = [
    # SMS (manual V1.12 chapter 4; docs/sms.md)
    ("fresh", "AT+CMGF=2"),
    ("fresh", "AT+CSDH=2"),
    ("fresh", "AT+CSMS=2"),
    ("fresh", "AT+CSMP=256"),
    ("fresh", "AT+CNMI=4"),
    ("fresh", "AT+CNMI=2,1,1"),
    ("fresh", "AT+CNMI=2,1,0,2"),  # <ds> 2 (+CDSI) is not supported
    ("fresh", "AT+CMGD=1,5"),
    ("fresh", "AT+CMGR=1,2"),
    ("fresh", 'AT+CMGS="123"'),  # PDU mode wants a length
    ("fresh", "AT+CMGS=0"),
    ("fresh", "AT+CMGDA=7"),
    ("fresh", 'AT+CSCA="12ab"'),
    ("fresh", "AT+CMGHEX=2"),
    ("fresh", "AT+CCODE=2"),
    ("fresh", "ATE2"),
    ("fresh", "ATV2"),
    ("fresh", "ATQ2"),
    ("fresh", "AT&F1"),
    ("fresh", "ATZ1"),
    ("fresh", "AT&W1"),
    ("fresh", "ATS0=256"),
    ("fresh", "AT+CMEE=3"),
    ("fresh", "AT+CMEE=-1"),
    ("fresh", "AT+CMEE=a"),
    ("fresh", "AT+IPR=1234"),
    ("fresh", 'AT+CCLK="nonsense"'),
    ("fresh", "AT+CFUN=2"),
    ("fresh", "AT+CFUN=5"),
    ("fresh", "AT+CFUN=1,2"),
    ("fresh", "AT+CPOWD=2"),
    ("fresh", "AT+CIURC=2"),
    ("fresh", "AT+SAPBR=5,1"),
    ("fresh", "AT+SAPBR=2,4"),
    ("fresh", 'AT+SAPBR=3,1,"RATE","9"'),
    ("fresh", 'AT+HTTPPARA="CID",1'),
    ("http", 'AT+HTTPPARA="URL","http://:80/"'),
    ("http", "AT+HTTPACTION=4"),
    ("fresh", "AT+FTPPORT=0"),
    ("fresh", 'AT+FTPTYPE="B"'),
    ("fresh", "AT+FTPPUT=2,1361"),
    ("fresh", "AT+FTPGET=2,1461"),
    ("fresh", "AT+FTPEXTGET=2,\"file\""),
    ("fresh", "AT+CGDCONT=4"),
    ("fresh", "AT+CGACT=2"),
    ("fresh", "AT+CNTPCID=4"),
    ("fresh", "AT+CREG=3"),  # cmd-forms-network.txt
    ("fresh", "AT+CGREG=3"),
    ("fresh", "AT+CGATT=2"),  # cmd-forms-network.txt
    ("fresh", "AT+COPS=5"),
    ("fresh", "AT+CIPMUX=2"),
    ("fresh", "AT+CIPMODE=2"),  # cmd-forms-mux-mode.txt
    ("fresh", "AT+CIPCSGP=2"),
    ("fresh", 'AT+CIPCSGP=1,"apn","u","p",2'),  # a rate is CSD only
    ("fresh", 'AT+CIPCSGP=0,"123","u","p",4'),
    ("fresh", "AT+CIPDPDP=2"),
    ("fresh", "AT+CIPDPDP=1,181,3"),  # cmd-forms-dpdp-dns.txt
    ("fresh", "AT+CIPDPDP=1,60,11"),
    ("fresh", "AT+CIPDPDP=1,0,3"),
    ("fresh", "AT+CIPCCFG=9,2,1024,1"),  # cmd-forms-ccfg-clport.txt
    ("fresh", "AT+CIPCCFG=3,2,1461,1"),
    ("fresh", "AT+CIPCCFG=2,2,1024,1"),
    ("fresh", "AT+CIPCCFG=3,1,1024,1"),
    ("fresh", "AT+CIPCCFG=3,11,1024,1"),
    ("fresh", "AT+CIPCCFG=3,2,0,1"),
    ("fresh", "AT+CIPCCFG=3,2,1024,2"),
    ("fresh", 'AT+CLPORT="SCTP",1'),
    ("fresh", 'AT+CLPORT="TCP",65536'),
    ("fresh", "AT+CIPQSEND=2"),
    ("fresh", "AT+CIPHEAD=2"),  # cmd-forms-receive-headers.txt
    ("fresh", "AT+CIPSHOWTP=2"),
    ("fresh", "AT+CIPSRIP=2"),  # cmd-forms-receive-headers.txt
    ("fresh", "AT+CIPSPRT=3"),  # cmd-forms-send-options.txt
    ("fresh", "AT+CIPSSL=2"),
    ("fresh", "AT+CIPATS=1,101"),  # cmd-forms-send-options.txt
    ("fresh", "AT+CIPATS=1,0"),  # cmd-forms-send-options.txt
    ("fresh", "AT+CIPATS=2,10"),
    ("fresh", "AT+CIPATS=1"),
    ("fresh", "AT+CIPRXGET=5"),
    ("status", 'AT+CIPPING=""'),
    ("status", 'AT+CIPPING="1.2.3.4",0'),
    ("status", 'AT+CIPPING="1.2.3.4",4,1025'),
    ("status", 'AT+CIPPING="1.2.3.4",4,32,601'),
    ("status", 'AT+CIPPING="1.2.3.4",4,32,100,256'),
    ("status", 'AT+CDNSCFG="1.2.3"'),
    ("status", 'AT+CDNSCFG="1.2.3.4","999.1.1.1"'),
    ("status", 'AT+CDNSGIP=""'),
    ("status", 'AT+CIPSTART="TCP","1.2.3.4"'),  # cmd-cipstart-variants.txt
    ("status", 'AT+CIPSTART="TCP","1.2.3.4",0'),
    ("status", 'AT+CIPSTART="TCP","1.2.3.4",65536'),
    ("status", 'AT+CIPSTART="SCTP","1.2.3.4",80'),
    ("status", 'AT+CIPSTART="TCP","",80'),
    ("status", 'AT+CIPSTART=0,"TCP","1.2.3.4",80'),  # the multi form in single mode
    ("single", "AT+CIPSEND=1461"),  # cmd-cipsend-variants.txt
    ("single", "AT+CIPSEND=0"),
    ("single", "AT+CIPSEND=0,5"),
    ("single", "AT+CIPCLOSE=2"),
    ("multi", "AT+CIPSEND=0,1461"),
    ("multi", "AT+CIPSEND=6,5"),
    ("multi", "AT+CIPCLOSE=6"),  # cmd-multi-link-close-status.txt
    ("multi", "AT+CIPCLOSE=0,2"),
    ("multi", "AT+CIPSTATUS=6"),
    ("multi", 'AT+CIPSTART=6,"TCP","1.2.3.4",80'),  # cmd-multi-link-close-status.txt
    ("multi", 'AT+CIPSTART="TCP","1.2.3.4",80'),  # cmd-multi-link-close-status.txt
    ("multi", "AT+CIPRXGET=4,6"),
    ("status", "AT+CIPSERVER=1,65536"),
    ("status", "AT+CIPSERVER=3000,2"),
    ("status", "AT+CIPSERVER=3000,0,1,6"),
    ("status", "AT+CIPSERVER=3000,0,2"),
]


@pytest.mark.parametrize(("setup", "line"), BAD_WRITES, ids=[line for _, line in BAD_WRITES])
def test_out_of_range_or_malformed_is_error(setup: str, line: str) -> None:
    h = SETUPS[setup]()
    h.take()
    assert h.at(line) == ERROR


@pytest.mark.parametrize(("setup", "line"), BAD_WRITES, ids=[line for _, line in BAD_WRITES])
def test_out_of_range_is_plain_error_with_cmee2(setup: str, line: str) -> None:
    # Reference 1.8 (INF): syntax errors are plain ERROR regardless of CMEE.
    # A few values are well formed but refused by a rule; no source says how
    # those render, the core treats them as "operation not allowed".
    h = SETUPS[setup]()
    h.at("AT+CMEE=2")
    h.take()
    expected = crlf("+CME ERROR: operation not allowed") if line in RULE_REFUSALS else ERROR
    assert h.at(line) == expected


RULE_REFUSALS = {
    "AT+IPR=1234", "AT+CFUN=2", 'AT+SAPBR=3,1,"RATE","9"', 'AT+HTTPPARA="CID",1',
    'AT+HTTPPARA="URL","http://:80/"', 'AT+FTPEXTGET=2,"file"',
}


@pytest.mark.parametrize(("setup", "line"), BAD_GENERAL, ids=[line for _, line in BAD_GENERAL])
@pytest.mark.parametrize("cmee", [0, 2])
def test_general_bad_input_is_plain_error(setup: str, line: str, cmee: int) -> None:
    # Values outside the manual's ranges, missing or extra parameters and
    # undefined forms: plain ERROR whatever CMEE says (reference 1.8).
    h = SETUPS[setup]()
    h.at(f"AT+CMEE={cmee}")
    h.take()
    assert h.at(line) == ERROR
