"""The general command set of issue 11 driven through the pure core:
network time (AT+CLTS), the phone book and its persistence, operator
selection, the user profile, the SIM's own number."""

from __future__ import annotations

import calendar

import pytest
from harness import ERROR, OK, Harness, block, crlf

from sim800emu.core.config import Identity, ModemConfig, Radio
from sim800emu.core.events import Fault
from sim800emu.core.registry import REGISTRY

# 2024-05-06 12:34:56 UTC
WALL = float(calendar.timegm((2024, 5, 6, 12, 34, 56)))


def with_wall(config: ModemConfig | None = None, saved: dict[str, object] | None = None) -> Harness:
    """A harness whose modem knows the host clock (as the runtime's does)."""
    h = Harness(config=config, saved=saved)
    h.m.radio.wall = WALL
    h.m.radio.wall_at = h.now
    return h


def time_urcs(stamp: str, zone: str, dst: int = 0) -> bytes:
    return crlf(f'*PSUTTZ: {stamp},"{zone}",{dst}', f'+CTZV: "{zone}"', f"DST: {dst}")


# ---------------------------------------------------------------- network time


def test_clts_1_gives_the_time_urcs_on_registration() -> None:
    h = with_wall(ModemConfig(radio=Radio(timezone=8)))
    assert h.at("AT+CLTS=1") == OK  # no URC yet: the network sends it on registration
    assert h.handle(Fault("register", 0)) == b""
    h.advance(10)
    assert h.handle(Fault("register", 1)) == time_urcs("2024,5,6,12,35,6", "+8")
    # the clock follows: local time, zone in quarters (manual 3.2.43)
    assert h.at("AT+CCLK?") == block('+CCLK: "24/05/06,14:35:06+08"') + OK


def test_time_urcs_follow_the_creg_urc() -> None:
    h = with_wall(ModemConfig(radio=Radio(timezone=-20, dst=1)))
    h.at("AT+CREG=1;+CLTS=1")
    h.handle(Fault("register", 0))
    out = h.handle(Fault("register", 5))
    assert out == crlf("+CREG: 5") + time_urcs("2024,5,6,12,34,56", "-20", 1)
    assert h.at("AT+CCLK?") == block('+CCLK: "24/05/06,07:34:56-20"') + OK


def test_clts_0_no_urcs() -> None:
    h = with_wall()
    h.handle(Fault("register", 0))
    assert h.handle(Fault("register", 1)) == b""
    assert h.at("AT+CCLK?") == block('+CCLK: "04/01/01,00:00:00+00"') + OK


def test_time_urcs_after_cfun_1() -> None:
    h = with_wall()
    h.at("AT+CLTS=1")
    h.at("AT+CFUN=4")
    assert h.at("AT+CFUN=1") == OK + crlf("+CPIN: READY") + time_urcs("2024,5,6,12,34,56", "+0")


def test_time_urcs_at_boot_with_the_saved_clts() -> None:
    h = with_wall(ModemConfig(cold_boot=True), saved={"clts": 1})
    out = h.run_timers()
    assert out.endswith(crlf("SMS Ready") + time_urcs("2024,5,6,12,34,57", "+0"))


def test_clts_is_saved_by_at_w() -> None:
    h = Harness()
    h.at("AT+CLTS=1;&W")
    assert h.saves[-1].settings["clts"] == 1
    assert h.at("AT+CLTS?") == block("+CLTS: 1") + OK


def test_no_wall_clock_no_time_urcs() -> None:
    h = Harness()  # a core driven without the host clock
    h.at("AT+CLTS=1")
    h.handle(Fault("register", 0))
    assert h.handle(Fault("register", 1)) == b""


def test_cclk_write_and_read() -> None:
    h = Harness()
    assert h.at('AT+CCLK="10/05/06,00:01:52+08"') == OK
    h.advance(8)
    assert h.at("AT+CCLK?") == block('+CCLK: "10/05/06,00:02:00+08"') + OK
    assert h.at('AT+CCLK="10/13/06,00:01:52+08"') == ERROR


# ---------------------------------------------------------------- operator


def test_cops_manual_deregister_and_automatic() -> None:
    h = Harness()
    h.at("AT+CREG=1;+CMEE=2")
    assert h.at('AT+COPS=1,2,"46000"') == OK
    assert h.at("AT+COPS?") == block('+COPS: 1,2,"46000"') + OK
    assert h.at('AT+COPS=1,0,"OTHER NET"') == crlf("+CME ERROR: no network service")
    assert h.at("AT+COPS=2") == OK + crlf("+CREG: 0")
    assert h.at("AT+COPS?") == block("+COPS: 2") + OK
    assert h.at("AT+CSQ") == block("+CSQ: 99,99") + OK
    assert h.at("AT+COPS=0") == OK + crlf("+CREG: 1")
    assert h.at("AT+COPS=3,0;+COPS?") == block('+COPS: 0,0,"CHINA MOBILE"') + OK


def test_cops_4_falls_back_to_automatic() -> None:
    h = Harness()
    assert h.at('AT+COPS=4,0,"OTHER NET";+COPS?') == block('+COPS: 0,0,"CHINA MOBILE"') + OK


def test_cfun_0_and_4_cannot_be_switched_to_each_other() -> None:
    h = Harness()
    h.at("AT+CMEE=1")
    assert h.at("AT+CFUN=4") == OK
    assert h.at("AT+CFUN=0") == crlf("+CME ERROR: 3")
    assert h.at("AT+CFUN=4") == OK  # already there


# ---------------------------------------------------------------- phone book


def test_phone_book_write_read_find_delete() -> None:
    h = Harness()
    assert h.at('AT+CPBW=,"13918186089",129,"Daniel"') == OK
    assert h.at('AT+CPBW=5,"+8613800000002",129,"Alice"') == OK
    assert h.at("AT+CPBR=1,10") == block(
        '+CPBR: 1,"13918186089",129,"Daniel"', '+CPBR: 5,"+8613800000002",145,"Alice"'
    ) + OK
    assert h.at('AT+CPBF="dan"') == block('+CPBF: 1,"13918186089",129,"Daniel"') + OK
    assert h.at("AT+CPBF=") == block(
        '+CPBF: 1,"13918186089",129,"Daniel"', '+CPBF: 5,"+8613800000002",145,"Alice"'
    ) + OK
    assert h.at("AT+CPBS?") == block('+CPBS: "SM",2,250') + OK
    assert h.at("AT+CPBW=1") == OK
    assert h.at("AT+CPBR=1") == OK
    assert h.at("AT+CPBS?") == block('+CPBS: "SM",1,250') + OK


@pytest.mark.parametrize(
    ("line", "cme"),
    [
        ("AT+CPBR=0", "invalid index"),
        ("AT+CPBR=251", "invalid index"),
        ("AT+CPBR=5,2", "invalid index"),
        ('AT+CPBW=251,"123",129,"x"', "invalid index"),
        ('AT+CPBW=1,"123",129,"ABCDEFGHIJKLMNO"', "text string too long"),
        ('AT+CPBW=1,"' + "1" * 41 + '",129,"x"', "dial string too long"),
        ('AT+CPBW=1,"12a3",129,"x"', "invalid characters in dial string"),
        ('AT+CPBS="XX"', "invalid input value"),
    ],
)
def test_phone_book_errors(line: str, cme: str) -> None:
    h = Harness()
    h.at("AT+CMEE=2")
    assert h.at(line) == crlf(f"+CME ERROR: {cme}")
    h.at("AT+CMEE=0")
    assert h.at(line) == ERROR


def test_phone_book_full() -> None:
    h = Harness()
    h.at('AT+CMEE=1;+CPBS="FD"')
    for n in range(10):
        assert h.at(f'AT+CPBW=,"{n}",129,"n{n}"') == OK
    assert h.at('AT+CPBW=,"99",129,"x"') == crlf("+CME ERROR: 20")


def test_phone_book_text_follows_cscs() -> None:
    h = Harness()
    h.at('AT+CSCS="UCS2"')
    assert h.at('AT+CPBW=1,"123",129,"004A00FC0072006700650020"') == OK  # "Jürge "
    assert h.at("AT+CPBR=1") == block('+CPBR: 1,"123",129,"004A00FC0072006700650020"') + OK
    h.at('AT+CSCS="IRA"')
    assert h.at("AT+CPBR=1") == block('+CPBR: 1,"123",129,"J\xfcrge "') + OK
    h.at('AT+CSCS="HEX"')  # GSM 7-bit codes: ü is 7E
    assert h.at('AT+CPBF="4A"') == block('+CPBF: 1,"123",129,"4A7E72676520"') + OK
    h.at("AT+CMEE=1")
    assert h.at('AT+CPBW=2,"123",129,"4G"') == crlf("+CME ERROR: 25")


def test_phone_book_persists_in_the_saved_profile_per_iccid() -> None:
    h = Harness()
    h.at('AT+CPBW=3,"+441234",145,"Bob"')
    saved = h.saves[-1].settings
    key = "sim.89445018101802445400"
    assert key in saved
    again = Harness(saved=saved)
    assert again.at("AT+CPBR=3") == block('+CPBR: 3,"+441234",145,"Bob"') + OK
    other_sim = Harness(
        config=ModemConfig(identity=Identity(iccid="89445018101802445499")), saved=saved
    )
    assert other_sim.at("AT+CPBR=3") == OK


def test_phone_book_survives_atz_and_factory_reset() -> None:
    h = Harness()
    h.at('AT+CPBW=1,"123",129,"x"')
    h.at("AT&F")
    h.at("ATZ")
    h.at("ATE0")
    assert h.at("AT+CPBR=1") == block('+CPBR: 1,"123",129,"x"') + OK


# ---------------------------------------------------------------- own number


def test_cnum_shows_the_msisdn() -> None:
    h = Harness(config=ModemConfig(identity=Identity(msisdn="+447700900123")))
    assert h.at("AT+CNUM") == block('+CNUM: "","+447700900123",145,7,4') + OK


def test_cnum_alpha_in_hex_charset() -> None:
    # sim800l-gsm-module's get_msisdn() reads the alpha field as hex
    h = Harness()
    h.at('AT+CPBS="ON";+CPBW=1,"+8613800000001",145,"Me";+CPBS="SM"')
    h.at('AT+CSCS="HEX"')
    assert h.at("AT+CNUM") == block('+CNUM: "4D65","+8613800000001",145,7,4') + OK


# ---------------------------------------------------------------- profile


def test_atz_and_at_f_keep_the_serial_port_settings() -> None:
    h = Harness()
    h.at("AT+IPR=115200;+IFC=2,2;+CSCLK=1")
    h.at("ATX0")
    h.at("AT&F")
    h.at("ATE0")
    assert h.at("AT+IPR?;+IFC?;+CSCLK?") == block("+IPR: 115200") + block("+IFC: 2,2") + block(
        "+CSCLK: 1"
    ) + OK
    active = h.at("AT&V").split(b"ACTIVE PROFILE")[1]
    assert b"\r\nX: 4\r\n" in active  # X is back to the factory value
    assert b"\r\n+IPR: 115200\r\n" in active and b"\r\n+CSCLK: 1\r\n" in active


def test_s5_is_the_editing_character() -> None:
    h = Harness()
    h.at("ATS5=127")
    assert h.feed(b"AT+CSQX\x7f\r") == block("+CSQ: 24,0") + OK


def test_cpowd_0_is_silent() -> None:
    h = Harness()
    assert h.at("AT+CPOWD=0") == b""
    assert h.powered_down


def test_clck_and_cpwd_passwords() -> None:
    h = Harness()
    h.at("AT+CMEE=2")
    assert h.at('AT+CLCK="SC",1,"0000"') == crlf("+CME ERROR: incorrect password")
    assert h.at('AT+CLCK="SC",1,"1234"') == OK
    assert h.at('AT+CLCK="SC",2') == block("+CLCK: 1") + OK
    assert h.at('AT+CPWD="SC","1234","5678"') == OK
    assert h.at('AT+CLCK="SC",0,"1234"') == crlf("+CME ERROR: incorrect password")
    assert h.at('AT+CLCK="SC",0,"5678"') == OK
    assert h.at('AT+CLCK="AO",1,"0000";+CLCK="AO",2') == block("+CLCK: 1,7") + OK


# ---------------------------------------------------------------- clients' start-up lines


def test_sim800l_gsm_module_setup_line_my_part() -> None:
    # sim800l-gsm-module setup(): AT+CLIP=1;+CMGF=0;+CLTS=1;+CSCLK=0;+CSCS="HEX"
    h = Harness()
    assert h.at('AT+CLTS=1;+CSCLK=0;+CSCS="HEX"') == OK
    assert h.at("AT+CSMINS?") == block("+CSMINS: 0,1") + OK
    assert h.at("AT+CMTE?") == block("+CMTE: 0,25.0") + OK
    if "+CLIP" in REGISTRY and "+CMGF" in REGISTRY:
        assert h.at('AT+CLIP=1;+CMGF=0;+CLTS=1;+CSCLK=0;+CSCS="HEX"') == OK


def test_phone_book_write_answers_error_when_the_save_fails() -> None:
    h = Harness()
    h.save_ok = False
    assert h.at('AT+CPBW=1,"123",129,"x"') == ERROR
    assert "sim.89445018101802445400" not in h.m.saved
    h.save_ok = True
    assert h.at('AT+CPBW=1,"123",129,"x"') == OK
    assert "sim.89445018101802445400" in h.m.saved


# ---------------------------------------------------------------- the radio object alone


def test_radio_state_time_urcs_pure() -> None:
    from sim800emu.core.radio import RadioState
    from sim800emu.core.settings import Settings

    radio = RadioState(ModemConfig(radio=Radio(timezone=-47, dst=2)), now=100.0, wall=WALL)
    assert radio.time_urcs(0, 100.0) == []
    assert radio.time_urcs(1, 110.0) == [
        '*PSUTTZ: 2024,5,6,12,35,6,"-47",2', '+CTZV: "-47"', "DST: 2",
    ]
    assert radio.cclk(110.0) == "24/05/06,00:50:06-47"
    settings = Settings(creg_n=2, cgreg_n=1)
    radio.creg_stat = radio.cgreg_stat = 0
    assert radio.registration_urcs(settings, 120.0) == ["+CREG: 0", "+CGREG: 0"]
    assert radio.set_clock("24/02/29,23:59:59+48", 0.0)
    assert not radio.set_clock("24/02/30,23:59:59+48", 0.0)


# ---------------------------------------------------------------- SIM PIN (CLCK "SC")


def _locked_profile() -> dict[str, object]:
    h = Harness()
    assert h.at('AT+CLCK="SC",1,"1234"') == OK
    return dict(h.m.saved)


def test_a_locked_sim_asks_for_its_pin_after_a_restart() -> None:
    h = Harness(saved=_locked_profile())
    h.at("AT+CMEE=2")
    assert h.at("AT+CPIN?") == block("+CPIN: SIM PIN") + OK
    assert h.at("AT+CREG?") == crlf("+CME ERROR: SIM PIN required")
    assert h.at("AT+SPIC") == block("+SPIC: 3,3,10,10") + OK
    assert h.at('AT+CPIN="0000"') == crlf("+CME ERROR: incorrect password")
    assert h.at("AT+SPIC") == block("+SPIC: 2,3,10,10") + OK
    out = h.at('AT+CPIN="1234"')
    assert out == OK + crlf("+CPIN: READY", "Call Ready", "SMS Ready")
    assert h.at("AT+CREG?") == block("+CREG: 0,1") + OK
    assert h.at("AT+SPIC") == block("+SPIC: 3,3,10,10") + OK


def test_a_locked_sim_at_boot_and_the_puk() -> None:
    h = Harness(config=ModemConfig(cold_boot=True), saved=_locked_profile())
    out = h.run_timers()
    assert out.endswith(crlf("+CPIN: SIM PIN"))
    assert b"SMS Ready" not in out
    h.at("AT+CMEE=1")
    for _ in range(3):
        assert h.at('AT+CPIN="9999"') == crlf("+CME ERROR: 16")
    assert h.at("AT+CPIN?") == block("+CPIN: SIM PUK") + OK
    assert h.at("AT+CGATT?") == crlf("+CME ERROR: 12")
    assert h.at('AT+CPIN="12345678"') == ERROR  # the new PIN is required
    assert h.at('AT+CPIN="12345678","4321"') == OK + crlf("+CPIN: READY", "Call Ready", "SMS Ready")
    assert h.at('AT+CLCK="SC",0,"4321"') == OK


def test_cfun_0_then_1_asks_for_the_pin_again() -> None:
    h = Harness(saved=_locked_profile())
    h.at('AT+CPIN="1234"')
    h.at("AT+CFUN=0")
    assert h.at("AT+CFUN=1") == OK + crlf("+CPIN: SIM PIN")
    h.at("AT+CFUN=4")  # the SIM keeps waiting for its PIN through CFUN=4
    assert h.at("AT+CFUN=1") == OK + crlf("+CPIN: SIM PIN")
    assert h.at('AT+CPIN="1234"') == OK + crlf("+CPIN: READY", "Call Ready", "SMS Ready")
    h.at("AT+CFUN=4")
    assert h.at("AT+CFUN=1") == OK + crlf("+CPIN: READY")


def test_phone_book_text_escapes() -> None:
    # manual 3.2.27: backslash and the string delimiter are written \5C, \22
    h = Harness()
    assert h.at('AT+CPBW=1,"123",129,"a\\22b\\5Cc"') == OK
    assert h.at("AT+CPBR=1") == block('+CPBR: 1,"123",129,"a\\22b\\5Cc"') + OK
    assert h.m.sim.books["SM"].entries[1].text == 'a"b\\c'
    h.at('AT+CSCS="GSM"')
    assert h.at("AT+CPBR=1") == block('+CPBR: 1,"123",129,"a\\22b\\5Cc"') + OK
    h.at('AT+CSCS="UCS2"')
    assert h.at("AT+CPBR=1") == block('+CPBR: 1,"123",129,"006100220062005C0063"') + OK


def test_cpbs_with_the_pin2() -> None:
    h = Harness()
    h.at("AT+CMEE=1")
    assert h.at('AT+CPBS="FD","1234";+CPBS?') == block('+CPBS: "FD",0,10') + OK
    assert h.at('AT+CPBS="FD","9999"') == crlf("+CME ERROR: 16")
