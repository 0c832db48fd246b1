"""USSD (AT+CUSD, manual V1.12 3.2.53) on the fake clock: the network's
table (--ussd), menu sessions (CODE>ANSWER), unknown codes (+CUSD: 4),
AT+CUSD=2, the reply spelled per AT+CSCS with dcs 15 / 72, bad input.
docs/voice-ussd.md; cmd-ussd.txt.
"""

from __future__ import annotations

import pytest
from harness import ERROR, OK, Harness, block, crlf

from sim800emu.core.config import ModemConfig, Services, Timing
from sim800emu.core.events import Fault

TABLE = (
    ("*100#", "Balance: 5.00 EUR"),
    ("*111#", "1 Balance\n2 Bonus"),
    ("*111#>1", "Balance: 5.00 EUR"),
    ("*111#>2", "1 Data\n2 Minutes"),
    ("*111#>2>1", "Bonus: 100 MB"),
    ("*200#", "Баланс 5 руб"),
)


def modem(**timing: float) -> Harness:
    config = ModemConfig(services=Services(ussd=TABLE), timing=Timing(**timing))
    return Harness(config=config)


def test_forms() -> None:
    h = modem()
    assert h.at("AT+CUSD=?") == block("+CUSD: (0-2)") + OK
    assert h.at("AT+CUSD?") == block("+CUSD: 0") + OK
    assert h.at("AT+CUSD=1") == OK
    assert h.at("AT+CUSD?") == block("+CUSD: 1") + OK
    assert h.at("AT+CUSD=0") == OK
    assert h.at("AT+CUSD?") == block("+CUSD: 0") + OK


def test_known_code_answers_ok_then_the_reply_after_the_network_delay() -> None:
    h = modem(ussd=1.5)
    assert h.at('AT+CUSD=1,"*100#",15') == OK
    assert h.advance(1.4) == b""
    assert h.advance(0.1) == crlf('+CUSD: 0,"Balance: 5.00 EUR",15')
    assert h.at("AT+CUSD?") == block("+CUSD: 1") + OK


def test_unknown_code_answers_cusd_4() -> None:
    h = modem()
    assert h.at('AT+CUSD=1,"*999#"') == OK
    assert h.run_timers() == crlf("+CUSD: 4")


def test_menu_session_and_cancel() -> None:
    h = modem()
    assert h.at('AT+CUSD=1,"*111#"') == OK
    assert h.run_timers() == crlf('+CUSD: 1,"1 Balance\n2 Bonus",15')
    assert h.at('AT+CUSD=1,"2"') == OK
    assert h.run_timers() == crlf('+CUSD: 1,"1 Data\n2 Minutes",15')
    assert h.at('AT+CUSD=1,"1"') == OK
    assert h.run_timers() == crlf('+CUSD: 0,"Bonus: 100 MB",15')
    # the session is over: "1" alone is not a code
    assert h.at('AT+CUSD=1,"1"') == OK
    assert h.run_timers() == crlf("+CUSD: 4")
    # AT+CUSD=2 ends an open session
    assert h.at('AT+CUSD=1,"*111#"') == OK
    h.run_timers()
    assert h.at("AT+CUSD=2") == OK
    assert h.at('AT+CUSD=1,"1"') == OK
    assert h.run_timers() == crlf("+CUSD: 4")


def test_a_code_inside_a_session_starts_over() -> None:
    h = modem()
    h.at('AT+CUSD=1,"*111#"')
    h.run_timers()
    assert h.at('AT+CUSD=1,"*100#"') == OK
    assert h.run_timers() == crlf('+CUSD: 0,"Balance: 5.00 EUR",15')


def test_cancel_drops_a_reply_on_its_way_and_cancel_without_session_is_ok() -> None:
    h = modem()
    assert h.at("AT+CUSD=2") == OK
    h.at('AT+CUSD=1,"*100#"')
    assert h.at("AT+CUSD=2") == OK
    assert h.run_timers() == b""


def test_presentation_off_hides_the_reply() -> None:
    h = modem()
    assert h.at('AT+CUSD=0,"*100#"') == OK
    assert h.run_timers() == b""


@pytest.mark.parametrize(
    ("cscs", "spelled"),
    [
        ("IRA", "Balance: 5.00 EUR"),
        ("GSM", "Balance: 5.00 EUR"),
        ("HEX", "42616C616E63653A20352E303020455552"),
        ("UCS2", "Balance: 5.00 EUR".encode("utf-16-be").hex().upper()),
    ],
)
def test_reply_is_spelled_in_the_te_character_set(cscs: str, spelled: str) -> None:
    h = modem()
    assert h.at(f'AT+CSCS="{cscs}"') == OK
    request = "002A0031003000300023" if cscs == "UCS2" else "*100#"
    assert h.at(f'AT+CUSD=1,"{request}"') == OK
    assert h.run_timers() == crlf(f'+CUSD: 0,"{spelled}",15')


def test_gsm_spelling_of_characters_outside_ascii() -> None:
    h = modem()
    h.m.ussd._table["*5#"] = "@ £5 _"
    assert h.at('AT+CSCS="HEX"') == OK
    h.at('AT+CUSD=1,"*5#"')
    assert h.run_timers() == crlf('+CUSD: 0,"002001352011",15')


def test_text_outside_the_gsm_alphabet_is_ucs2_with_dcs_72() -> None:
    h = modem()
    h.at('AT+CUSD=1,"*200#"')
    ucs2 = "Баланс 5 руб".encode("utf-16-be").hex().upper()
    assert h.run_timers() == crlf(f'+CUSD: 0,"{ucs2}",72')


def test_without_network_the_request_fails_with_cusd_4() -> None:
    h = modem()
    h.handle(Fault("register", 0))
    assert h.at('AT+CUSD=1,"*100#"') == OK
    assert h.run_timers() == crlf("+CUSD: 4")


def test_second_request_while_one_is_on_its_way_is_refused() -> None:
    h = modem()
    h.at('AT+CUSD=1,"*100#"')
    assert h.at('AT+CUSD=1,"*100#"') == ERROR
    h.at("AT+CMEE=1")
    assert h.at('AT+CUSD=1,"*100#"') == crlf("+CME ERROR: 3")
    h.at("AT+CMEE=2")
    assert h.at('AT+CUSD=1,"*100#"') == crlf("+CME ERROR: operation not allowed")
    assert h.run_timers() == crlf('+CUSD: 0,"Balance: 5.00 EUR",15')


@pytest.mark.parametrize(
    "line",
    ["AT+CUSD=3", "AT+CUSD=x", "AT+CUSD=", "AT+CUSD=1,\"*100#\",256", "AT+CUSD=1,\"*100#\",15,1",
     'AT+CUSD=1,"*100#', "AT+CUSD=-1"],
)
def test_malformed_forms_answer_error_whatever_cmee(line: str) -> None:
    h = modem()
    for cmee in (0, 1, 2):
        h.at(f"AT+CMEE={cmee}")
        assert h.at(line) == ERROR, (line, cmee)


def test_string_too_long() -> None:
    h = modem()
    h.at("AT+CMEE=2")
    assert h.at('AT+CUSD=1,"' + "1" * 183 + '"') == crlf("+CME ERROR: text string too long")
    assert h.at('AT+CUSD=1,"' + "1" * 182 + '"') == OK


def test_atd_with_a_ussd_code_sends_it() -> None:
    h = modem()
    assert h.at("ATD*100#;") == OK
    assert h.at("ATD*100#;") == ERROR  # the first one waits for its reply
    assert h.run_timers() == crlf('+CUSD: 0,"Balance: 5.00 EUR",15')
    assert h.at("AT+CUSD?") == block("+CUSD: 0") + OK  # presentation unchanged


def test_power_off_drops_a_reply_on_its_way() -> None:
    h = modem()
    h.at('AT+CUSD=1,"*100#"')
    h.handle(Fault("power-off"))
    assert h.run_timers() == b""


def test_reboot_forgets_the_session_and_presentation() -> None:
    h = modem()
    h.at('AT+CUSD=1,"*111#"')
    h.m.reboot()
    h.run_timers()
    h.m.settings.echo = False
    assert h.at("AT+CUSD?") == block("+CUSD: 0") + OK
