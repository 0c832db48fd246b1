"""Form cases of the general command set (issue 11: V.25ter, 27.007, SIMCom,
GPRS), added to ``test_commands_forms.CASES``. Each entry is (command,
form, setup, line, expected bytes); the texts come from manual V1.12 (the
section is in each command's registry source) or, where the manual is
silent, from docs/general.md's decisions."""

from __future__ import annotations

import re

from harness import OK, block, crlf

from sim800emu.core.parser import Form

T, R, W, X = Form.TEST, Form.READ, Form.WRITE, Form.EXEC


def info_ok(*lines: str) -> bytes:
    return block(*lines) + OK


def _profile(title: str, echo: int) -> tuple[str, ...]:
    return (
        title, "S0: 0", "S3: 13", "S4: 10", "S5: 8", "S6: 2", "S7: 60", "S8: 2", "S10: 15",
        "+CRLP: 61,61,48,6", "V: 1", f"E: {echo}", "Q: 0", "X: 4", "&C: 1", "&D: 1", "+CLTS: 0",
        "+CREG: 0", "+CGREG: 0", "+CMEE: 0", "+CIURC: 1", "+CFGRI: 0", "+CMTE: 0",
        "+CANT: 0,0,10", "+STKPCIS: 0", "+CMGF: 0", "+CNMI: 2,1,0,0,0", '+CSCS: "IRA"',
        "+VTD: 1", "+CALS: 1", "+CHF: 0", "+CAAS: 1", "+CBUZZERRING: 0", "+DDET: 0",
        "+MORING: 0", "+SVR: 16", "+CCPD: 1", "+CSNS: 0", "+CSGS: 0", "+CNETLIGHT: 1",
        "+SLEDS: 64,64,64,800,3000,300", "+CSDT: 0", "+CSMINS: 0", "+EXUNSOL: 0", "+FSHEX: 0",
        "+FSEXT: 0", "+CCTURI: 0", "+IPR: 0", "+IFC: 0,0", "+CSCLK: 0",
    )


# AT&V of a fresh modem (echo off in the harness): factory, saved, active
PROFILE = (*_profile("DEFAULT PROFILE", 1), "", *_profile("USER PROFILE", 1), "",
           *_profile("ACTIVE PROFILE", 0))
BANDS = ("EGSM_MODE,DCS_MODE,GSM850_MODE,PCS_MODE,EGSM_DCS_MODE,GSM850_PCS_MODE,"
         "EGSM_PCS_MODE,ALL_BAND")
CLCK_FACS = '"AO","OI","OX","AI","IR","FD","SC","PN","PU","PP"'
CPWD_PAIRS = '("AO",4),("OI",4),("OX",4),("AI",4),("IR",4),("AB",4),("P2",8),("SC",8)'

GENERAL: list[tuple[str, Form, str, str, bytes | re.Pattern[bytes]]] = [
    ("+CLAC", X, "fresh", "AT+CLAC", re.compile(rb"\r\nAT\+CACM(\r\nAT[^\r\n]+)+\r\n\r\nOK\r\n")),
    # ---- V.25ter (chapter 2)
    ("&V", X, "fresh", "AT&V", info_ok(*PROFILE)),
    ("&V", W, "fresh", "AT&V0", info_ok(*PROFILE)),
    ("P", X, "fresh", "ATP", OK),
    ("T", X, "fresh", "ATT", OK),
    ("+GCAP", X, "fresh", "AT+GCAP", info_ok("+GCAP: +CGSM")),
    ("+GOI", X, "fresh", "AT+GOI", info_ok("SIM800L")),
    ("+GOI", T, "fresh", "AT+GOI=?", OK),
    ("+ICF", T, "fresh", "AT+ICF=?", info_ok("+ICF: (1-6),(0,1,3)")),
    ("+ICF", R, "fresh", "AT+ICF?", info_ok("+ICF: 3,255")),
    ("+ICF", W, "fresh", "AT+ICF=2,1;+ICF?", info_ok("+ICF: 2,1")),
    ("+IFC", T, "fresh", "AT+IFC=?", info_ok("+IFC: (0-2),(0-2)")),
    ("+IFC", R, "fresh", "AT+IFC?", info_ok("+IFC: 0,0")),
    ("+IFC", W, "fresh", "AT+IFC=2,2;+IFC?", info_ok("+IFC: 2,2")),
    # ---- 27.007 (chapter 3)
    ("+CLAC", T, "fresh", "AT+CLAC=?", OK),
    ("+CPAS", T, "fresh", "AT+CPAS=?", info_ok("+CPAS: (0,2,3,4)")),
    ("+CPAS", X, "fresh", "AT+CPAS", info_ok("+CPAS: 0")),
    ("+CR", T, "fresh", "AT+CR=?", info_ok("+CR: (0,1)")),
    ("+CR", R, "fresh", "AT+CR?", info_ok("+CR: 0")),
    ("+CR", W, "fresh", "AT+CR=1;+CR?", info_ok("+CR: 1")),
    ("+CCWE", T, "fresh", "AT+CCWE=?", info_ok("+CCWE: (0,1)")),
    ("+CCWE", R, "fresh", "AT+CCWE?", info_ok("+CCWE: 0")),
    ("+CCWE", W, "fresh", "AT+CCWE=1", OK),
    ("+CRLP", T, "fresh", "AT+CRLP=?", info_ok("+CRLP: (0-61),(0-61),(44-255),(1-255),(7)")),
    ("+CRLP", R, "fresh", "AT+CRLP?", info_ok("+CRLP: 61,61,48,6,7")),
    ("+CRLP", W, "fresh", "AT+CRLP=30,30,100;+CRLP?", info_ok("+CRLP: 30,30,100,6,7")),
    ("+CSTA", T, "fresh", "AT+CSTA=?", info_ok("+CSTA: (129,145,161,177)")),
    ("+CSTA", R, "fresh", "AT+CSTA?", info_ok("+CSTA: 129")),
    ("+CSTA", W, "fresh", "AT+CSTA=145;+CSTA?", info_ok("+CSTA: 145")),
    ("+CSSN", T, "fresh", "AT+CSSN=?", info_ok("+CSSN: (0,1),(0,1)")),
    ("+CSSN", R, "fresh", "AT+CSSN?", info_ok("+CSSN: 0,0")),
    ("+CSSN", W, "fresh", "AT+CSSN=1,1;+CSSN?", info_ok("+CSSN: 1,1")),
    ("+CMUX", T, "fresh", "AT+CMUX=?",
     info_ok("+CMUX: (0),(0),(1-6),(16-1510),(1-255),(0-100),(2-255),(1-255),(1-7)")),
    ("+CMUX", R, "fresh", "AT+CMUX?", info_ok("+CMUX: 0,0,5,127,10,3,30,10,2")),
    ("+CMUX", W, "fresh", "AT+CMUX=0", OK),  # then 27.010: tests/core/test_cmux.py
    ("+COPN", T, "fresh", "AT+COPN=?", OK),
    ("+COPN", X, "fresh", "AT+COPN", info_ok('+COPN: "46000","CHINA MOBILE"')),
    ("+CPOL", T, "fresh", "AT+CPOL=?", info_ok("+CPOL: (1-50),(0-2)")),
    ("+CPOL", R, "fresh", "AT+CPOL?", OK),  # an empty list
    ("+CPOL", W, "fresh", 'AT+CPOL=1,2,"46001";+CPOL?', info_ok('+CPOL: 1,2,"46001"')),
    ("+CNUM", T, "fresh", "AT+CNUM=?", OK),
    ("+CNUM", X, "fresh", "AT+CNUM", info_ok('+CNUM: "","+8613800000001",145,7,4')),
    ("+CLCK", T, "fresh", "AT+CLCK=?", info_ok(f"+CLCK: ({CLCK_FACS})")),
    ("+CLCK", W, "fresh", 'AT+CLCK="SC",2', info_ok("+CLCK: 0")),
    ("+CPWD", T, "fresh", "AT+CPWD=?", info_ok(f"+CPWD: {CPWD_PAIRS}")),
    ("+CPWD", W, "fresh", 'AT+CPWD="SC","1234","4321"', OK),
    ("+CACM", T, "fresh", "AT+CACM=?", OK),
    ("+CACM", R, "fresh", "AT+CACM?", info_ok('+CACM: "000000"')),
    ("+CACM", W, "fresh", 'AT+CACM="1234"', OK),
    ("+CAMM", T, "fresh", "AT+CAMM=?", OK),
    ("+CAMM", R, "fresh", "AT+CAMM?", info_ok('+CAMM: "000000"')),
    ("+CAMM", W, "fresh", 'AT+CAMM="00001E","1234";+CAMM?', info_ok('+CAMM: "00001E"')),
    ("+CAOC", T, "fresh", "AT+CAOC=?", info_ok("+CAOC: (0-2)")),
    ("+CAOC", R, "fresh", "AT+CAOC?", info_ok("+CAOC: 1")),
    ("+CAOC", W, "fresh", "AT+CAOC=0", info_ok('+CAOC: "000000"')),
    ("+CAOC", X, "fresh", "AT+CAOC", info_ok('+CAOC: "000000"')),
    ("+CPUC", T, "fresh", "AT+CPUC=?", OK),
    ("+CPUC", R, "fresh", "AT+CPUC?", info_ok('+CPUC: "",""')),
    ("+CPUC", W, "fresh", 'AT+CPUC="GBP","2.66","1234";+CPUC?', info_ok('+CPUC: "GBP","2.66"')),
    # phone book (manual 3.2.24-3.2.27, examples 19.2)
    ("+CPBS", T, "fresh", "AT+CPBS=?", info_ok('+CPBS: ("SM","ME","ON","FD")')),
    ("+CPBS", R, "fresh", "AT+CPBS?", info_ok('+CPBS: "SM",0,250')),
    ("+CPBS", W, "fresh", 'AT+CPBS="ON";+CPBS?', info_ok('+CPBS: "ON",1,1')),
    ("+CPBR", T, "fresh", "AT+CPBR=?", info_ok("+CPBR: (1-250),40,14")),
    ("+CPBR", W, "fresh", "AT+CPBR=1,10", OK),  # nothing stored yet
    ("+CPBW", T, "fresh", "AT+CPBW=?", info_ok("+CPBW: (1-250),40,(129,145,161,177),14")),
    ("+CPBW", W, "fresh", 'AT+CPBW=,"13918186089",129,"Daniel";+CPBR=1',
     info_ok('+CPBR: 1,"13918186089",129,"Daniel"')),
    ("+CPBF", T, "fresh", "AT+CPBF=?", info_ok("+CPBF: 40,14")),
    ("+CPBF", W, "fresh", 'AT+CPBF="Daniel"', OK),  # nothing found
    # ---- SIMCom (chapter 6)
    ("+SPIC", X, "fresh", "AT+SPIC", info_ok("+SPIC: 3,3,10,10")),
    ("+CSPN", R, "fresh", "AT+CSPN?", info_ok('+CSPN: "CHINA MOBILE",0')),
    ("+CSMINS", T, "fresh", "AT+CSMINS=?", info_ok("+CSMINS: (0,1)")),
    ("+CSMINS", R, "fresh", "AT+CSMINS?", info_ok("+CSMINS: 0,1")),
    ("+CSMINS", W, "fresh", "AT+CSMINS=1;+CSMINS?", info_ok("+CSMINS: 1,1")),
    ("+CMTE", T, "fresh", "AT+CMTE=?", info_ok("+CMTE: (0,1)")),
    ("+CMTE", R, "fresh", "AT+CMTE?", info_ok("+CMTE: 0,25.0")),
    ("+CMTE", W, "fresh", "AT+CMTE=1", OK),
    ("+CADC", T, "fresh", "AT+CADC=?", info_ok("+CADC: (0,1),(0-2800)")),
    ("+CADC", R, "fresh", "AT+CADC?", info_ok("+CADC: 1,603")),
    ("+CFGRI", T, "fresh", "AT+CFGRI=?", info_ok("+CFGRI: (0-2)")),
    ("+CFGRI", R, "fresh", "AT+CFGRI?", info_ok("+CFGRI: 0")),
    ("+CFGRI", W, "fresh", "AT+CFGRI=1", OK),
    ("+CNETLIGHT", T, "fresh", "AT+CNETLIGHT=?", info_ok("+CNETLIGHT: (0,1)")),
    ("+CNETLIGHT", R, "fresh", "AT+CNETLIGHT?", info_ok("+CNETLIGHT: 1")),
    ("+CNETLIGHT", W, "fresh", "AT+CNETLIGHT=0", OK),
    ("+CSGS", T, "fresh", "AT+CSGS=?", info_ok("+CSGS: (0-2)")),
    ("+CSGS", R, "fresh", "AT+CSGS?", info_ok("+CSGS: 0")),
    ("+CSGS", W, "fresh", "AT+CSGS=1", OK),
    ("+CSDT", T, "fresh", "AT+CSDT=?", info_ok("+CSDT: (0,1)")),
    ("+CSDT", R, "fresh", "AT+CSDT?", info_ok("+CSDT: 0")),
    ("+CSDT", W, "fresh", "AT+CSDT=1", OK),
    ("+CSNS", T, "fresh", "AT+CSNS=?", info_ok("+CSNS: (0,2,4)")),
    ("+CSNS", R, "fresh", "AT+CSNS?", info_ok("+CSNS: 0")),
    ("+CSNS", W, "fresh", "AT+CSNS=4;+CSNS?", info_ok("+CSNS: 4")),
    ("+CCALR", T, "fresh", "AT+CCALR=?", info_ok("+CCALR: (0,1)")),
    ("+CCALR", R, "fresh", "AT+CCALR?", info_ok("+CCALR: 1")),
    ("+GSV", X, "fresh", "AT+GSV",
     info_ok("SIMCOM_Ltd", "SIMCOM_SIM800L", "Revision:1418B04SIM800L24")),
    ("+CDEVICE", R, "fresh", "AT+CDEVICE?", info_ok("Device Name: GD25LQ32")),
    ("+CBAND", T, "fresh", "AT+CBAND=?", info_ok(f"+CBAND: ({BANDS})")),
    ("+CBAND", R, "fresh", "AT+CBAND?", info_ok("+CBAND: ALL_BAND")),
    ("+CBAND", W, "fresh", 'AT+CBAND="EGSM_DCS_MODE";+CBAND?', info_ok("+CBAND: EGSM_DCS_MODE")),
    ("+CENG", T, "fresh", "AT+CENG=?", info_ok("+CENG: (0-4),(0-1)")),
    ("+CENG", R, "fresh", "AT+CENG?", info_ok("+CENG: 0,0")),
    ("+CENG", W, "fresh", "AT+CENG=3;+CENG?",
     info_ok("+CENG: 3,0", '+CENG: 0,"460,00,1a2b,3c4d,31,48"')),
    # ---- GPRS (chapter 7)
    ("+CGPADDR", T, "fresh", "AT+CGPADDR=?", info_ok("+CGPADDR: (1)")),
    ("+CGPADDR", W, "fresh", "AT+CGPADDR=1", info_ok('+CGPADDR: 1,"0.0.0.0"')),
    ("+CGPADDR", X, "status", "AT+CGPADDR", info_ok('+CGPADDR: 1,"10.78.245.128"')),
    ("+CGQREQ", T, "fresh", "AT+CGQREQ=?", info_ok('+CGQREQ: "IP",(0-3),(0-4),(0-5),(0-9),(0-18,31)')),
    ("+CGQREQ", R, "fresh", "AT+CGQREQ?",
     info_ok("+CGQREQ: 1,0,0,3,0,0", "+CGQREQ: 2,0,0,3,0,0", "+CGQREQ: 3,0,0,3,0,0")),
    ("+CGQREQ", W, "fresh", "AT+CGQREQ=1,0,0,3,0,0", OK),
    ("+CGQMIN", T, "fresh", "AT+CGQMIN=?", info_ok('+CGQMIN: "IP",(0-3),(0-4),(0-5),(0-9),(0-18,31)')),
    ("+CGQMIN", R, "fresh", "AT+CGQMIN?",
     info_ok("+CGQMIN: 1,0,0,0,0,0", "+CGQMIN: 2,0,0,0,0,0", "+CGQMIN: 3,0,0,0,0,0")),
    ("+CGQMIN", W, "fresh", "AT+CGQMIN=2;+CGQMIN?",
     info_ok("+CGQMIN: 1,0,0,0,0,0", "+CGQMIN: 3,0,0,0,0,0")),
    ("+CGCLASS", T, "fresh", "AT+CGCLASS=?", info_ok('+CGCLASS: ("B","CG","CC")')),
    ("+CGCLASS", R, "fresh", "AT+CGCLASS?", info_ok("+CGCLASS: B")),
    ("+CGCLASS", W, "fresh", 'AT+CGCLASS="CG";+CGCLASS?', info_ok("+CGCLASS: CG")),
    ("+CGEREP", T, "fresh", "AT+CGEREP=?", info_ok("+CGEREP: (0,1)")),
    ("+CGEREP", R, "fresh", "AT+CGEREP?", info_ok("+CGEREP: 0")),
    ("+CGEREP", W, "fresh", "AT+CGEREP=1;+CGATT=0", OK + crlf("+CGEV: ME DETACH")),
    ("+CGSMS", T, "fresh", "AT+CGSMS=?", info_ok("+CGSMS: (0-3)")),
    ("+CGSMS", R, "fresh", "AT+CGSMS?", info_ok("+CGSMS: 1")),
    ("+CGSMS", W, "fresh", "AT+CGSMS=2", OK),
    ("+CGDATA", T, "fresh", "AT+CGDATA=?", info_ok('+CGDATA: ("PPP")')),
    # CONNECT, then PPP 50 ms later (test_ppp_session.py)
    ("+CGDATA", W, "fresh", 'AT+CGDATA="PPP",1', crlf("CONNECT")),
]

# S-registers (manual 2.2.16-2.2.23): three digits; S3 and S4 hold only
# their default.
for _reg, _value, _other in ((0, 0, 2), (3, 13, 13), (4, 10, 10), (5, 8, 127), (6, 2, 999),
                             (7, 60, 30), (8, 2, 0), (10, 15, 254)):
    GENERAL.append((f"S{_reg}", R, "fresh", f"ATS{_reg}?", info_ok(f"{_value:03d}")))
    GENERAL.append((f"S{_reg}", W, "fresh", f"ATS{_reg}={_other};S{_reg}?",
                    info_ok(f"{_other:03d}")))

BAD_GENERAL: list[tuple[str, str]] = [
    ("fresh", "ATS3=10"),  # 13 only
    ("fresh", "ATS4=13"),  # 10 only
    ("fresh", "ATS1?"),  # not in the manual
    ("fresh", "ATS7=0"),
    ("fresh", "AT&C2"),
    ("fresh", "AT&D3"),
    ("fresh", "ATX5"),
    ("fresh", "AT+ICF=7"),
    ("fresh", "AT+IFC=3"),
    ("fresh", "AT+CR=2"),
    ("fresh", "AT+CRLP=62"),
    ("fresh", "AT+CSSN=2"),
    ("fresh", "AT+CMUX=1"),  # basic option only (tests/core/test_cmux.py)
    ("fresh", "AT+CPOL=51"),
    ("fresh", 'AT+CPOL=1,,"46001"'),
    ("fresh", 'AT+CLCK="XX",2'),
    ("fresh", 'AT+CLCK="SC",3'),
    ("fresh", 'AT+CPWD="SC","1234","12A4"'),
    ("fresh", 'AT+CAMM="GGGGGG"'),
    ("fresh", "AT+CAOC=3"),
    ("fresh", 'AT+CPBR=1,2,3'),
    ("fresh", 'AT+CPBW=1,"123",128,"x"'),
    ("fresh", "AT+CPBW=1,,129"),
    ("fresh", "AT+CSMINS=2"),
    ("fresh", "AT+CMTE=2"),
    ("fresh", "AT+CFGRI=3"),
    ("fresh", "AT+CNETLIGHT=2"),
    ("fresh", "AT+CSGS=3"),
    ("fresh", "AT+CSNS=1"),
    ("fresh", 'AT+CBAND="LTE_MODE"'),
    ("fresh", "AT+CENG=5"),
    ("fresh", "AT+CGPADDR=2"),
    ("fresh", "AT+CGQREQ=4"),
    ("fresh", "AT+CGQREQ=1,4"),
    ("fresh", 'AT+CGCLASS="A"'),
    ("fresh", "AT+CGEREP=2"),
    ("fresh", "AT+CGSMS=4"),
    ("fresh", 'AT+CGDATA="X25",1'),  # PPP only (manual 7.2.6)
    ("fresh", 'AT+CGDCONT=1,"PPP","apn"'),
    ("fresh", "AT+CLTS=2"),
    ("fresh", 'AT+CCLK="21/05/06,12:00:00"'),  # the zone is required
    ("fresh", 'AT+CCLK="21/05/06,12:00:00+49"'),  # -47..+48
    ("fresh", "AT+COPS=1"),  # manual needs <oper>
    ("fresh", "AT+COPS=3"),  # format needed
    ("fresh", "AT+CLAC=1"),
    ("fresh", "AT+CPAS?"),
]
