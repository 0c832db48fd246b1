"""Transparent mode (CIPMODE=1): CONNECT, data both ways untouched, the +++
escape with its guard times on the fake clock, ATO, CIPCCFG packing, remote
close (manual 3.21, 3.22, 4.2.2, 4.2.5; SPEC transparent decision;
reference 5; 4.2.2-single-step-transparent.txt, 4.2.5-multi-step-transparent.txt).
"""

from __future__ import annotations

import pytest
from harness import ERROR, OK, Harness, block, crlf

from sim800emu.core.config import ModemConfig, Timing
from sim800emu.core.events import Close

GUARD = 1.0  # Timing().escape_guard; CIPCCFG default WaitTm 2 -> 0.4 s packing


def data_mode(ccfg: str | None = None, config: ModemConfig | None = None) -> tuple[Harness, int]:
    h = Harness(config=config)
    assert h.at("AT+CIPMODE=1") == OK
    if ccfg:
        assert h.at(ccfg) == OK
    sock, out = h.open_single("1.2.3.4", 80)
    assert out == crlf("CONNECT")
    return h, sock


def escape(h: Harness) -> bytes:
    """Guard, +++, guard: returns what the modem printed."""
    out = h.advance(GUARD + 0.2)
    h.feed(b"+++")
    return out + h.advance(GUARD + 0.01)


def test_connect_and_data_both_ways() -> None:
    # 4.2.2
    h, sock = data_mode()
    assert h.feed(b"hello") == b""
    assert h.receive(sock, b"world") == b"world"
    h.advance(0.5)
    assert h.sent(sock) == b"hello"


def test_multi_step_connect() -> None:
    # 4.2.5: at+cipmode=1, cstt, ciicr, cifsr, cipstart -> OK then CONNECT
    h = Harness()
    h.at("at+cipmode=1")
    h.bring_up()
    assert h.at('at+cipstart="TCP","1.2.3.4",80') == OK
    _, out = h.connected()
    assert out == b"\r\nCONNECT\r\n"


def test_binary_passes_untouched_both_ways() -> None:
    # 4.2.5: 0x00 0x1A 0x1B CR LF and result-code look-alikes.
    h, sock = data_mode()
    payload = b"a\x1ab\x1bc\r\nd" + b"AT\r" + bytes(range(256))
    assert h.feed(payload) == b""
    h.advance(0.5)
    assert h.sent(sock) == payload
    assert h.receive(sock, b"\x00\x1a\r\nOK\r\n") == b"\x00\x1a\r\nOK\r\n"


def test_no_echo_in_data_mode() -> None:
    h, sock = data_mode()
    h.m.settings.echo = True
    assert h.feed(b"AT\r") == b""
    h.advance(0.5)
    assert h.sent(sock) == b"AT\r"


def test_escape_with_guard_times() -> None:
    # 4.2.2: >= 1 s silence, +++, >= 1 s silence -> OK; not answered early.
    h, sock = data_mode()
    h.feed(b"hello")
    assert h.advance(1.2) == b""
    assert h.feed(b"+++") == b""
    assert h.advance(0.5) == b""  # "<! 0.5": no early answer
    assert h.advance(0.5) == OK
    assert h.at("AT+CIPSTATUS") == OK + crlf("STATE: CONNECT OK")
    assert h.sent(sock) == b"hello"


def test_escape_with_pluses_typed_one_by_one() -> None:
    h, sock = data_mode()
    h.advance(GUARD + 0.1)
    for _ in range(3):
        assert h.feed(b"+") == b""
        h.advance(0.3)
    assert h.advance(GUARD) == OK
    assert h.sent(sock) == b""


def test_ato_returns_to_data_mode_and_plus_never_reached_the_peer() -> None:
    h, sock = data_mode()
    h.feed(b"before")
    assert escape(h) == OK
    assert h.at("ATO") == crlf("CONNECT")
    assert h.feed(b"again") == b""
    h.advance(0.5)
    assert h.sent(sock) == b"beforeagain"


def test_data_received_in_command_mode_follows_ato() -> None:
    h, sock = data_mode()
    escape(h)
    assert h.receive(sock, b"while away") == b""
    assert h.at("AT") == OK
    assert h.at("ATO") == crlf("CONNECT") + b"while away"


@pytest.mark.parametrize("pluses", [b"+", b"++"])
def test_lone_plus_and_double_plus_are_payload(pluses: bytes) -> None:
    h, sock = data_mode()
    h.advance(GUARD + 0.1)
    assert h.feed(pluses) == b""
    assert h.advance(GUARD + 1.0) == b""
    assert h.sent(sock) == pluses
    assert h.m.mode.value == "data"


def test_plus_plus_plus_without_leading_guard_is_payload() -> None:
    h, sock = data_mode()
    h.feed(b"abc")
    h.advance(0.5)
    assert h.feed(b"+++") == b""
    assert h.advance(3.0) == b""
    assert h.sent(sock) == b"abc+++"


def test_plus_plus_plus_followed_by_data_is_payload() -> None:
    h, sock = data_mode()
    h.advance(GUARD + 0.1)
    h.feed(b"+++")
    h.advance(0.5)
    assert h.feed(b"x") == b""
    assert h.advance(3.0) == b""
    assert h.sent(sock) == b"+++x"


def test_plus_plus_plus_in_one_chunk_with_data_is_payload() -> None:
    h, sock = data_mode()
    h.advance(GUARD + 0.1)
    assert h.feed(b"+++abc") == b""
    assert h.feed(b"x+++") == b""
    assert h.advance(3.0) == b""
    assert h.sent(sock) == b"+++abcx+++"


def test_four_pluses_are_payload() -> None:
    h, sock = data_mode()
    h.advance(GUARD + 0.1)
    h.feed(b"++")
    h.advance(0.1)
    h.feed(b"++")
    assert h.advance(3.0) == b""
    assert h.sent(sock) == b"++++"


def test_pluses_too_far_apart_are_payload() -> None:
    # reference 5: < 1000 ms between the + characters.
    h, sock = data_mode()
    h.advance(GUARD + 0.1)
    h.feed(b"+")
    h.advance(GUARD + 0.1)
    h.feed(b"+")
    h.advance(GUARD + 0.1)
    h.feed(b"+")
    assert h.advance(3.0) == b""
    assert h.sent(sock) == b"+++"


def test_escape_disabled_by_cipccfg() -> None:
    h, sock = data_mode("AT+CIPCCFG=3,2,1024,0")
    assert escape(h) == b""
    h.advance(1.0)
    assert h.sent(sock) == b"+++"


def test_custom_guard_time_from_config() -> None:
    h, _ = data_mode(config=ModemConfig(timing=Timing(escape_guard=0.5)))
    h.advance(0.6)
    h.feed(b"+++")
    assert h.advance(0.49) == b""
    assert h.advance(0.01) == OK


def test_packing_waits_waittm() -> None:
    # manual 3.22: WaitTm x 200 ms; CIPCCFG=3,5,... -> 1 s.
    h, sock = data_mode("AT+CIPCCFG=3,5,1024,1")
    h.feed(b"ab")
    h.advance(0.9)
    h.feed(b"cd")  # restarts the wait
    h.advance(0.9)
    assert h.sent(sock) == b""
    h.advance(0.1)
    assert h.sent(sock) == b"abcd"


def test_packing_sends_at_sendsz() -> None:
    h, sock = data_mode("AT+CIPCCFG=3,10,8,1")
    h.feed(b"12345")
    assert h.sent(sock) == b""
    h.feed(b"678")
    assert h.sent(sock) == b"12345678"
    h.feed(b"9" * 20)
    assert h.sent(sock) == b"12345678" + b"9" * 20


def test_pending_data_is_sent_before_the_escape() -> None:
    h, sock = data_mode("AT+CIPCCFG=3,10,1024,1")  # 2 s packing
    h.feed(b"tail")
    assert escape(h) == OK
    assert h.sent(sock) == b"tail"


def test_remote_close_in_data_mode() -> None:
    # 4.2.2: CLOSED and back to command mode; state TCP CLOSED.
    h, sock = data_mode()
    assert h.receive(sock, b"bye") == b"bye"
    assert h.peer_close(sock) == b"\r\nCLOSED\r\n"
    assert h.at("AT") == OK
    assert h.at("AT+CIPSTATUS") == OK + crlf("STATE: TCP CLOSED")
    assert h.at("ATO") == ERROR


def test_remote_close_in_command_mode_delivers_data_first() -> None:
    h, sock = data_mode()
    escape(h)
    h.receive(sock, b"unread")
    assert h.peer_close(sock) == b"unread" + crlf("CLOSED")
    assert h.at("ATO") == ERROR


def test_cipclose_from_command_mode() -> None:
    # 4.2.5: CIPCLOSE while the link is up -> CLOSE OK, IP CLOSE; CIPSHUT.
    h, _ = data_mode()
    escape(h)
    assert h.at("AT+CIPCLOSE") == crlf("CLOSE OK")
    assert h.at("AT+CIPSTATUS") == OK + crlf("STATE: IP CLOSE")
    assert h.at("AT+CIPSHUT") == crlf("SHUT OK")


def test_cipsend_is_refused_in_transparent_mode() -> None:
    h, _ = data_mode()
    escape(h)
    assert h.at("AT+CIPSEND") == ERROR
    assert h.at("AT+CIPSEND=3") == ERROR


def test_connect_fail_in_transparent_mode() -> None:
    h = Harness()
    h.at("AT+CIPMODE=1")
    h.bring_up()
    h.at('AT+CIPSTART="TCP","1.2.3.4",80')
    _, out = h.connect_failed()
    assert out == crlf("STATE: TCP CLOSED", "CONNECT FAIL")
    assert h.at("AT") == OK


def test_connect_waits_for_a_pending_command() -> None:
    h = Harness(config=ModemConfig(timing=Timing(sapbr=1.0)))
    h.at("AT+CIPMODE=1")
    h.bring_up()
    h.at('AT+CIPSTART="TCP","1.2.3.4",80')
    assert h.at("AT+SAPBR=1,1") == b""
    _, out = h.connected()
    assert out == b""
    assert h.advance(1.0) == OK + crlf("CONNECT")
    assert h.m.mode.value == "data"


def test_cipmode_setting_is_single_link_only() -> None:
    h = Harness()
    h.at("AT+CIPMUX=1")
    assert h.at("AT+CIPMODE=1") == ERROR
    assert h.at("AT+CIPMODE?") == block("+CIPMODE: 0") + OK


def test_cipshut_in_data_mode_is_impossible_but_after_escape_works() -> None:
    h, sock = data_mode()
    h.feed(b"AT+CIPSHUT\r")  # payload
    h.advance(0.5)
    assert h.sent(sock) == b"AT+CIPSHUT\r"
    escape(h)
    assert h.at("AT+CIPSHUT") == crlf("SHUT OK")
    assert Close(sock) in h.closed



def test_rxmode_1_paces_received_data_in_rxsize_blocks() -> None:
    # CIPCCFG RxMode 1: RxSize bytes to the UART every Rxtimer ms; the window
    # reopens as blocks go out (here: once all are); a remote close first
    # flushes the rest.
    h, sock = data_mode("AT+CIPCCFG=3,2,1024,1,1,100,200")
    assert h.receive(sock, b"a" * 250) == b"a" * 100
    assert h.credits[sock] == 0  # handed back once the rest is out
    assert h.advance(0.19) == b""
    assert h.advance(0.02) == b"a" * 100
    assert h.advance(0.2) == b"a" * 50
    assert h.credits[sock] == 250
    assert h.advance(1.0) == b""
    # the pacer was idle: the first block goes at once
    assert h.receive(sock, b"b" * 150) == b"b" * 100
    assert h.peer_close(sock) == b"b" * 50 + b"\r\nCLOSED\r\n"


def test_rxmode_0_passes_received_data_at_once() -> None:
    h, sock = data_mode()
    assert h.receive(sock, b"c" * 5000) == b"c" * 5000
