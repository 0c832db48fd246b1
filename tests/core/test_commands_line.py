"""The serial line: echo, CR/LF rules, split writes, backspace, chains, A/,
the 556-character limit, and the rendering of results under ATV0, ATQ1 and
AT+CMEE (SPEC "Decisions"; reference 1; echo.txt, cmd-line-discipline.txt,
cmd-framing-exact.txt, cmd-cmee-errors.txt)."""

from __future__ import annotations

import pytest
from harness import ERROR, OK, PROMPT, Harness, block, crlf

IP = "10.78.245.128"


# ---------------------------------------------------------------- echo (echo.txt)


def test_echo_is_on_by_default_and_echoes_the_cr() -> None:
    h = Harness(echo=True)
    assert h.at("AT") == b"AT\r\r\nOK\r\n"
    assert h.at("AT+CPIN?") == b"AT+CPIN?\r\r\n+CPIN: READY\r\n\r\nOK\r\n"
    assert h.at("at+cipstatus") == b"at+cipstatus\r\r\nOK\r\n\r\nSTATE: IP INITIAL\r\n"
    assert h.at("AT+NOSUCH") == b"AT+NOSUCH\r\r\nERROR\r\n"


def test_ate0_line_is_echoed_and_ate1_line_is_not() -> None:
    h = Harness(echo=True)
    assert h.at("ATE0") == b"ATE0\r\r\nOK\r\n"
    assert h.at("AT") == OK
    assert h.at("AT+CPIN?") == b"\r\n+CPIN: READY\r\n\r\nOK\r\n"
    assert h.at("ATE1") == OK
    assert h.at("AT") == b"AT\r\r\nOK\r\n"
    assert h.at("ATE0") == b"ATE0\r\r\nOK\r\n"


def test_echo_of_a_command_written_in_pieces() -> None:
    h = Harness(echo=True)
    assert h.feed(b"AT+C") == b"AT+C"
    assert h.feed(b"SQ") == b"SQ"
    assert h.feed(b"\r") == b"\r\r\n+CSQ: 24,0\r\n\r\nOK\r\n"


def test_echo_of_crlf_line_end() -> None:
    # The CR is echoed; the LF that completes the line end is swallowed.
    # No source says whether a real module echoes that LF: this is the core's.
    h = Harness(echo=True)
    assert h.feed(b"AT\r\n") == b"AT\r\r\nOK\r\n"
    assert h.feed(b"AT\n") == b"AT\n\r\nOK\r\n"


def test_echo_does_not_repeat_payload_after_the_prompt() -> None:
    # reference 1.3 (INF): no echo of payload bytes during "> " data entry.
    h = Harness()
    sock, _ = h.open_single()
    h.m.settings.echo = True
    assert h.at("AT+CIPSEND=3") == b"AT+CIPSEND=3\r" + PROMPT
    assert h.feed(b"abc") == crlf("SEND OK")
    assert h.at("AT+CIPSEND") == b"AT+CIPSEND\r" + PROMPT
    assert h.feed(b"xy\x1a") == crlf("SEND OK")
    assert h.sent(sock) == b"abcxy"


def test_saved_echo_off_is_loaded() -> None:
    h = Harness(saved={"echo": False}, echo=True)
    assert h.at("AT") == OK


# ---------------------------------------------------------------- line ends (SPEC)


def test_crlf_and_lone_lf_end_a_line() -> None:
    h = Harness()
    assert h.feed(b"AT\r\n") == OK
    assert h.feed(b"AT\n") == OK
    assert h.feed(b"AT\r") == OK
    assert h.feed(b"AT\r\nAT\nAT\r") == OK * 3


def test_cr_and_lf_in_separate_writes_are_one_line_end() -> None:
    h = Harness()
    assert h.feed(b"AT\r") == OK
    assert h.feed(b"\n") == b""
    assert h.feed(b"AT\r") == OK
    assert h.feed(b"\nAT\r") == OK


def test_lf_then_cr_is_a_line_end_and_an_empty_line() -> None:
    h = Harness()
    assert h.feed(b"AT\n\r") == OK
    assert h.feed(b"AT\r\r\n") == OK


def test_command_in_two_writes() -> None:
    # cmd-line-discipline.txt: ">> AT+CP", "~ 0.3", ">> IN?\r\n"
    h = Harness()
    assert h.feed(b"AT+CP") == b""
    h.advance(0.3)
    assert h.feed(b"IN?\r\n") == block("+CPIN: READY") + OK


def test_command_byte_by_byte() -> None:
    h = Harness()
    out = b"".join(h.feed(bytes([b])) for b in b"AT+CSQ\r\n")
    assert out == block("+CSQ: 24,0") + OK


@pytest.mark.parametrize(
    "junk",
    [b"\r\n", b"\r", b"\n", b"\x1a", b"\x1a\r\n", b"OK\r\n", b"hello modem\r", b"   \r"],
)
def test_lines_without_at_are_ignored_silently(junk: bytes) -> None:
    # SPEC: no AT prefix, a stray Ctrl-Z, an empty line: ignored silently.
    h = Harness()
    assert h.feed(junk) == b""
    assert h.at("AT") == OK


def test_stray_ctrl_z_before_a_command_does_not_lose_it() -> None:
    # reference 3 (CIPSEND): a Zephyr driver appends 0x1A after a fixed-length
    # send; the next command must still work.
    h = Harness()
    assert h.feed(b"\x1aAT+CSQ\r") == block("+CSQ: 24,0") + OK


@pytest.mark.parametrize("line", ["at", "At", "aT", "at+csq", "At+CsQ", "AT+cpin?"])
def test_commands_are_case_insensitive(line: str) -> None:
    h = Harness()
    out = h.at(line)
    assert out.endswith(OK)
    assert out != ERROR


def test_lower_case_arguments_keep_their_case() -> None:
    h = Harness()
    assert h.at('at+cstt="internet","User","Pwd"') == OK
    assert h.at("AT+CSTT?") == block('+CSTT: "internet","User","Pwd"') + OK


def test_spaces_after_at_and_trailing_spaces() -> None:
    h = Harness()
    assert h.at("AT  ") == OK
    assert h.at("AT+CSQ ") == block("+CSQ: 24,0") + OK


# ---------------------------------------------------------------- backspace


def test_backspace_removes_the_previous_character() -> None:
    h = Harness()
    assert h.feed(b"AT+CSX\x08Q\r") == block("+CSQ: 24,0") + OK
    assert h.feed(b"ATX\x08\r") == OK
    assert h.feed(b"AT+CSQ\x08\x08\x08\x08\r") == OK  # back to "AT"


def test_backspace_across_writes() -> None:
    h = Harness()
    assert h.feed(b"AT+CPIX") == b""
    assert h.feed(b"\x08N?\r") == block("+CPIN: READY") + OK


def test_backspace_on_empty_line_is_harmless() -> None:
    h = Harness()
    assert h.feed(b"\x08\x08AT\r") == OK


def test_backspace_is_echoed() -> None:
    # What a terminal needs; no source gives the echo of BS, this is the core's.
    h = Harness(echo=True)
    assert h.feed(b"ATX\x08\r") == b"ATX\x08\r" + OK


# ---------------------------------------------------------------- chains (reference 1.6)


def test_cifsr_e0_chain_gives_address_and_ok() -> None:
    h = Harness()
    h.bring_up()
    assert h.at("AT+CIFSR;E0") == crlf(IP) + OK


def test_cifsr_e0_chain_echo_still_on_for_its_own_line() -> None:
    h = Harness(echo=True)
    h.m.settings.echo = False
    h.bring_up()
    h.m.settings.echo = True
    assert h.at("AT+CIFSR;E0") == b"AT+CIFSR;E0\r" + crlf(IP) + OK
    assert h.at("AT") == OK  # E0 took effect


def test_chain_stops_at_the_first_failing_command() -> None:
    # reference 1.6 (INF): execution stops at the first failing command. The
    # reference adds "only ERROR is returned"; the core still prints the
    # information lines of the commands that ran before it (real modems do
    # too; no project source fixes this byte-exactly).
    h = Harness(echo=True)
    h.m.settings.echo = False
    assert h.at("AT+CIFSR;E1") == ERROR  # no context: CIFSR fails, E1 never runs
    assert h.at("AT") == OK
    assert h.at("AT+CSQ;+NOSUCH;+CSQ") == block("+CSQ: 24,0") + ERROR


def test_chain_of_extended_commands_gives_one_ok() -> None:
    h = Harness()
    assert h.at("AT+CSQ;+CPIN?") == block("+CSQ: 24,0") + block("+CPIN: READY") + OK
    assert h.at("AT+CIPHEAD=1;+CIPSPRT=0;+CIPHEAD?") == block("+CIPHEAD: 1") + OK
    assert h.at("AT+CIPSPRT?") == block("+CIPSPRT: 0") + OK


def test_basic_commands_chain_without_separator() -> None:
    # reference 1.6: AT&FZE0&W -> one OK (TinyGSM factoryDefault)
    h = Harness(echo=True)
    assert h.at("AT&FZE0&W") == b"AT&FZE0&W\r" + OK
    assert h.at("AT") == OK
    assert h.saves[-1].settings["echo"] is False
    assert h.at("ATE1V0") == b"0\r"
    assert h.at("AT") == b"AT\r0\r"


def test_basic_then_extended_in_one_line() -> None:
    h = Harness()
    assert h.at("ATE0+CSQ") == block("+CSQ: 24,0") + OK
    assert h.at("ATE0;+CSQ") == block("+CSQ: 24,0") + OK


# ---------------------------------------------------------------- A/


def test_a_slash_repeats_the_last_command() -> None:
    h = Harness()
    assert h.at("AT+CIPHEAD?") == block("+CIPHEAD: 0") + OK
    assert h.at("A/") == block("+CIPHEAD: 0") + OK
    assert h.at("a/") == block("+CIPHEAD: 0") + OK


def test_a_slash_with_no_previous_command_does_nothing() -> None:
    h = Harness()
    assert h.at("A/") == b""


def test_a_slash_repeats_a_chain() -> None:
    h = Harness()
    assert h.at("AT+CIPHEAD=1;+CIPHEAD?") == block("+CIPHEAD: 1") + OK
    assert h.at("A/") == block("+CIPHEAD: 1") + OK


# ---------------------------------------------------------------- 556-character limit


def _chain(n: int) -> str:
    return "AT" + ";".join(["+CIPHEAD=1"] * n)


def test_long_legal_line_and_over_long_line() -> None:
    # cmd-line-discipline.txt: 41 x "+CIPHEAD=1" is fine, 56 x is ERROR and
    # nothing of it runs; A/ then repeats the last good command.
    h = Harness()
    assert h.at(_chain(41)) == OK
    assert h.at("AT+CIPHEAD?") == block("+CIPHEAD: 1") + OK
    assert h.at("AT+CIPHEAD=0") == OK
    assert h.at(_chain(56)) == ERROR
    assert h.at("AT+CIPHEAD?") == block("+CIPHEAD: 0") + OK
    assert h.at("A/") == block("+CIPHEAD: 0") + OK


def test_limit_is_556_characters_after_at() -> None:
    # reference 1.6: max 556 characters after the AT prefix.
    h = Harness()
    body = ";".join(["+CIPHEAD=1"] * 50)  # 549 characters
    assert h.at("AT" + body + ";+CSQ") == block("+CSQ: 24,0") + OK  # 554
    pad = " " * (556 - len(body) - 1 - 2)
    line = body + ";" + pad + "E0"
    assert len(line) == 556
    assert h.at("AT" + line) == OK
    assert h.at("AT" + body + ";" + pad + "E01") == ERROR  # 557


def test_very_long_line_is_error_and_line_discipline_recovers() -> None:
    h = Harness()
    assert h.feed(b"AT" + b"X" * 5000 + b"\r") == ERROR
    assert h.at("AT") == OK


# ---------------------------------------------------------------- ATV0 (reference 1.4)


def test_v0_results_are_digits_and_info_has_no_leading_crlf() -> None:
    h = Harness()
    assert h.at("ATV0") == b"0\r"
    assert h.at("AT") == b"0\r"
    assert h.at("AT+NOSUCH") == b"4\r"
    assert h.at("AT+CSQ") == b"+CSQ: 24,0\r\n0\r"
    assert h.at("AT+CIPSCONT?").startswith(b"+CIPCSGP:1\r\nGprs Config APN:cmnet\r\n")
    assert h.at("AT+CLPORT?") == b"TCP: 0\r\nUDP: 0\r\n0\r"
    assert h.at("ATV1") == OK
    assert h.at("AT") == OK


def test_v0_tcpip_texts_keep_their_words() -> None:
    # reference 1.4 (INF): TCP/IP texts keep the text, drop the leading CR LF.
    h = Harness()
    h.at("ATV0")
    assert h.at("AT+CIPSHUT") == b"SHUT OK\r\n"
    assert h.at("AT+CIPSTATUS") == b"0\rSTATE: IP INITIAL\r\n"
    assert h.at('AT+CIPSTART="TCP","1.2.3.4",80') == b"0\r"
    h.run_timers()
    _, out = h.connected()
    assert out == b"CONNECT OK\r\n"
    assert h.at("AT+CIPSEND=2") == PROMPT  # the prompt keeps its CR LF (core's choice)
    assert h.feed(b"hi") == b"SEND OK\r\n"
    assert h.at("AT+CIFSR") == IP.encode() + b"\r\n"
    assert h.at("AT+CIPCLOSE") == b"CLOSE OK\r\n"


def test_v0_cme_error() -> None:
    h = Harness()
    h.at("ATV0")
    h.at("AT+CMEE=1")
    assert h.at("AT+CIPCLOSE") == b"+CME ERROR: 3\r\n"
    h.at("AT+CMEE=2")
    assert h.at("AT+CIPCLOSE") == b"+CME ERROR: operation not allowed\r\n"


def test_v0_connect_in_transparent_mode_is_1() -> None:
    h = Harness()
    h.at("ATV0")
    assert h.at("AT+CIPMODE=1") == b"0\r"
    assert h.at('AT+CIPSTART="TCP","1.2.3.4",80') == b"0\r"
    h.run_timers()
    _, out = h.connected()
    assert out == b"1\r"


def test_v0_multi_line_cipstatus() -> None:
    h = Harness()
    h.multi_up()
    h.at("ATV0")
    assert h.at("AT+CIPSTATUS") == (
        b"0\rSTATE: IP STATUS\r\n" + "\r\n".join(f'C: {n},,"","","","INITIAL"' for n in range(6)).encode() + b"\r\n"
    )


# ---------------------------------------------------------------- ATQ1


def test_q1_suppresses_result_codes_not_information() -> None:
    h = Harness()
    assert h.at("ATQ1") == b""
    assert h.at("AT") == b""
    assert h.at("AT+NOSUCH") == b""
    assert h.at("AT+CSQ") == block("+CSQ: 24,0")
    assert h.at("AT+CIPSTATUS") == crlf("STATE: IP INITIAL")
    assert h.at("ATQ0") == OK
    assert h.at("AT") == OK


def test_q1_also_suppresses_cme_errors() -> None:
    # +CME ERROR is a final result code (27.007); the core suppresses it too.
    h = Harness()
    h.at("AT+CMEE=2")
    h.at("ATQ1")
    assert h.at("AT+CIPCLOSE") == b""


def test_q1_tcpip_texts_are_still_printed() -> None:
    # No source says whether Q1 hides SHUT OK / SEND OK; the core prints them
    # (they are framed like information text).
    h = Harness()
    h.open_single()
    h.at("ATQ1")
    assert h.at("AT+CIPSEND=2") == PROMPT
    assert h.feed(b"hi") == crlf("SEND OK")
    assert h.at("AT+CIPSHUT") == crlf("SHUT OK")


# ---------------------------------------------------------------- CMEE (cmd-cmee-errors.txt)


def test_cmee_levels_for_a_wrong_state_command() -> None:
    h = Harness()
    assert h.at("AT+CIPCLOSE") == ERROR
    assert h.at("AT+CMEE=2") == OK
    assert h.at("AT+CIPCLOSE") == crlf("+CME ERROR: operation not allowed")
    assert h.at("AT+NOSUCH") == ERROR
    assert h.at("AT+CMEE=1") == OK
    assert h.at("AT+CMEE?") == block("+CMEE: 1") + OK
    assert h.at("AT+CIPCLOSE") == crlf("+CME ERROR: 3")
    assert h.at("AT+CMEE=0") == OK
    assert h.at("AT+CIPCLOSE") == ERROR


@pytest.mark.parametrize(
    ("cmee", "expected"),
    [(0, ERROR), (1, crlf("+CME ERROR: 3")), (2, crlf("+CME ERROR: operation not allowed"))],
)
@pytest.mark.parametrize(
    "line",
    [
        "AT+CIPSEND",  # no connection (manual 3.6.1: +CME ERROR)
        "AT+CIPSEND=5",
        "AT+CIICR",  # before CSTT
        "AT+CIFSR",  # no context
        "AT+CIPSTATUS=0",  # multi-link only
        "ATO",
    ],
)
def test_cmee_rendering_of_refusals(cmee: int, expected: bytes, line: str) -> None:
    h = Harness()
    h.at(f"AT+CMEE={cmee}")
    assert h.at(line) == expected


@pytest.mark.parametrize(
    ("cmee", "tail"),
    [(0, ERROR), (1, crlf("+CME ERROR: 3")), (2, crlf("+CME ERROR: operation not allowed"))],
)
def test_cmee_rendering_of_already_connect(cmee: int, tail: bytes) -> None:
    h = Harness()
    h.open_single()
    h.at(f"AT+CMEE={cmee}")
    assert h.at('AT+CIPSTART="TCP","1.2.3.4",80') == tail + crlf("ALREADY CONNECT")


@pytest.mark.parametrize(
    ("cmee", "expected"),
    [(0, ERROR), (1, crlf("+CME ERROR: 14")), (2, crlf("+CME ERROR: SIM busy"))],
)
def test_cmee_rendering_of_sim_busy(cmee: int, expected: bytes) -> None:
    # reference 1.8 / 6: CPIN? during boot -> ERROR / +CME ERROR: SIM busy.
    h = Harness(saved={"cmee": cmee, "echo": False})
    h.at("AT+CFUN=1,1")
    assert h.at("AT+CPIN?") == expected
    assert h.at("AT+CCID") == expected


# ---------------------------------------------------------------- crash-free parsing


@pytest.mark.parametrize("line", [b"AT+CIPMUX=\xb2\r", b"ATE\xb3\r", b"ATS0=\xb9\r", b"AT+CIPSEND=\xb2\r"])
def test_superscript_digit_argument_is_error_not_a_crash(line: bytes) -> None:
    h = Harness()
    assert h.feed(line) == ERROR


@pytest.mark.parametrize(
    "line",
    [
        b'AT+CSTT="unterminated\r',
        b"AT+\r",
        b"AT&\r",
        b"ATS\r",
        b"AT+CIPSTART=,,,\r",
        b'AT+CIPSTART="TCP" x,"1.2.3.4",80\r',
        b"AT+CSQ=?x\r",
        b"AT+CSQ?x\r",
        b"AT\xff\xfe\r",
        b"AT+\xe9\xe8\r",
        b"AT#\r",
    ],
)
def test_malformed_lines_are_error(line: bytes) -> None:
    h = Harness()
    assert h.feed(line) == ERROR
    assert h.at("AT") == OK


def test_nul_and_high_bytes_on_the_line_do_not_break_it() -> None:
    h = Harness()
    h.feed(b"\x00\xff\x80garbage")
    assert h.feed(b"\r") == b""
    assert h.at("AT") == OK
