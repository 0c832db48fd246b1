"""The module as a server: AT+CIPSERVER (manual 3.16, 4.2.7; SPEC; reference
3; 4.2.7-server-*.txt, cmd-cipserver-multi-link.txt, cmd-forms-cipserver.txt).
"""

from __future__ import annotations

import pytest
from harness import ERROR, OK, PROMPT, Harness, block, crlf

from sim800emu.core.config import PUSH_WINDOW, ModemConfig, Radio
from sim800emu.core.events import Accepted, Close, Listen, Listening, StopListen

SIX = tuple(f'C: {n},,"","","","INITIAL"' for n in range(6))


def test_single_step_server_from_ip_initial() -> None:
    # 4.2.7-server-single-step: the manual's syntax =<port>,0,1,5.
    h = Harness()
    assert h.at("AT+CIPSERVER=5555,0,1,5") == OK
    assert h.listens == []  # the context comes up first
    h.run_timers()
    assert h.listens == [Listen(1, "TCP", 5555, PUSH_WINDOW)]
    _, out = h.listening()
    assert out == crlf("SERVER OK")
    assert h.at("AT+CIPSTATUS") == OK + crlf("STATE: SERVER LISTENING")
    assert h.at("AT+CIPSERVER?") == block("+CIPSERVER: 1,0") + OK
    client, out = h.accept("127.0.0.1", 40001)
    assert out == crlf("REMOTE IP: 127.0.0.1")
    assert h.receive(client, b"ping") == b"ping"  # raw, like a client link
    assert h.at("AT+CIPSEND=4") == PROMPT
    assert h.feed(b"pong") == crlf("SEND OK")
    assert h.sent(client) == b"pong"
    assert h.at("AT+CIPSTATUS") == OK + crlf("STATE: CONNECT OK")
    assert h.at("AT+CIPSERVER?") == block("+CIPSERVER: 1,1") + OK
    # CIPSERVER=0 stops listening only; the accepted link stays.
    assert h.at("AT+CIPSERVER=0") == OK + crlf("SERVER CLOSE")
    assert StopListen(1) in h.requests
    assert h.receive(client, b"still here") == b"still here"
    assert h.peer_close(client) == crlf("CLOSED")


def test_multi_step_server_single_link_with_ciphead() -> None:
    # 4.2.7-server-multi-step
    h = Harness()
    h.bring_up()
    assert h.at("at+cipserver=5555,0,1,5") == OK
    assert h.listens == [Listen(1, "TCP", 5555, PUSH_WINDOW)]  # no context to wait for
    _, out = h.listening()
    assert out == crlf("SERVER OK")
    assert h.at("AT+CIPHEAD=1") == OK
    client, out = h.accept("127.0.0.1")
    assert out == crlf("REMOTE IP: 127.0.0.1")
    assert h.receive(client, b"hello server") == b"\r\n+IPD,12:hello server"
    assert h.at("AT+CIPSEND") == PROMPT
    assert h.feed(b"hello client\x1a") == crlf("SEND OK")
    assert h.at("AT+CIPCLOSE") == crlf("CLOSE OK")
    assert Close(client, False) in h.closed
    assert h.at("AT+CIPSHUT") == crlf("SHUT OK")


def test_listen_failure_is_connect_fail() -> None:
    # manual 3.16: "If configuration as server fail, return: CONNECT FAIL"
    h = Harness()
    h.bring_up()
    assert h.at("AT+CIPSERVER=1,80") == OK
    _, out = h.listening(ok=False)
    assert out == crlf("CONNECT FAIL")
    assert h.at("AT+CIPSERVER?") == block("+CIPSERVER: 0,0") + OK
    assert h.at("AT+CIPSERVER=0") == ERROR


def test_udp_server_manual_form() -> None:
    h = Harness()
    h.bring_up()
    assert h.at("AT+CIPSERVER=6000,1") == OK
    assert h.listens == [Listen(1, "UDP", 6000, rx_window=PUSH_WINDOW)]


def test_firmware_form_and_close() -> None:
    # cmd-forms-cipserver.txt
    h = Harness()
    assert h.at("AT+CIPSERVER=?") == block("+CIPSERVER: (1-65535),(0-1),(0-1),(1-5)") + OK
    assert h.at("AT+CIPSERVER?") == block("+CIPSERVER: 0,0") + OK
    assert h.at("AT+CIPSERVER=1,4000") == OK
    h.run_timers()
    assert h.listens == [Listen(1, "TCP", 4000, rx_window=PUSH_WINDOW)]
    assert h.listening()[1] == crlf("SERVER OK")
    assert h.at("AT+CIPSERVER?") == block("+CIPSERVER: 1,0") + OK
    assert h.at("AT+CIPSERVER=0") == OK + crlf("SERVER CLOSE")
    assert h.at("AT+CIPSERVER?") == block("+CIPSERVER: 0,0") + OK


def test_two_arguments_with_first_1_and_second_1_is_the_manual_form() -> None:
    # SPEC: "two arguments whose first is 1 and second is above 1" are <mode>,<port>;
    # =1,1 is therefore port 1, type UDP.
    h = Harness()
    h.bring_up()
    assert h.at("AT+CIPSERVER=1,1") == OK
    assert h.listens == [Listen(1, "UDP", 1, rx_window=PUSH_WINDOW)]


def test_refusals() -> None:
    h = Harness()
    assert h.at("AT+CIPSERVER=0") == ERROR  # nothing to close (SPEC)
    h.open_single()
    assert h.at("AT+CIPSERVER=1,3000") == ERROR  # the single link is in use
    h2 = Harness()
    h2.bring_up()
    h2.at("AT+CIPSERVER=1,3000")
    h2.listening()
    assert h2.at("AT+CIPSERVER=1,3001") == ERROR  # already on
    h3 = Harness()
    h3.at("AT+CSTT")
    assert h3.at("AT+CIPSERVER=1,3000") == ERROR  # IP START
    h3.at("AT+CIICR")
    h3.run_timers()
    assert h3.at("AT+CIPSERVER=1,3000") == ERROR  # IP GPRSACT


@pytest.mark.parametrize("how", ["local", "remote"])
def test_single_link_server_refused_after_a_closed_client_link(how: str) -> None:
    h = Harness()
    sock, _ = h.open_single()
    if how == "local":
        h.at("AT+CIPCLOSE")
        state = "IP CLOSE"
    else:
        h.peer_close(sock)
        state = "TCP CLOSED"
    assert h.at("AT+CIPSTATUS") == OK + crlf(f"STATE: {state}")
    assert h.at("AT+CIPSERVER=1,3000") == ERROR


def test_single_step_server_needs_gprs_registration() -> None:
    h = Harness(config=ModemConfig(radio=Radio(cgreg_stat=2)))
    out = h.at("AT+CIPSERVER=1,3000") + h.run_timers()
    assert h.listens == []
    assert out == ERROR or out.endswith(crlf("CONNECT FAIL"))


def test_single_link_second_client_is_refused() -> None:
    h = Harness()
    h.bring_up()
    h.at("AT+CIPSERVER=1,3000")
    h.listening()
    first, _ = h.accept("10.0.0.1")
    second, out = h.accept("10.0.0.2")
    assert out == b""
    assert Close(second, False) in h.closed
    # Once the first client is gone, the next one takes link 0 again.
    assert h.peer_close(first) == crlf("CLOSED")
    third, out = h.accept("10.0.0.3")
    assert out == crlf("REMOTE IP: 10.0.0.3")
    assert h.receive(third, b"x") == b"x"


def test_accept_for_an_unknown_server_is_closed() -> None:
    h = Harness()
    h.bring_up()
    assert h.handle(Accepted(99, -5, "1.1.1.1", 1)) == b""
    assert Close(-5, False) in h.closed


# ---------------------------------------------------------------- multi link


def _multi_server(blog: int | None = None) -> Harness:
    h = Harness()
    h.multi_up()
    line = "AT+CIPSERVER=1,3000" if blog is None else f"AT+CIPSERVER=3000,0,1,{blog}"
    assert h.at(line) == OK
    assert h.listening()[1] == crlf("SERVER OK")
    return h


def test_multi_link_server() -> None:
    # cmd-cipserver-multi-link: lowest free links from 0, +RECEIVE, S: line,
    # CIPSERVER=0 keeps the accepted links.
    h = _multi_server()
    c0, out = h.accept("127.0.0.1", 50000)
    assert out == crlf("0, REMOTE IP: 127.0.0.1")
    c1, out = h.accept("127.0.0.1", 50001)
    assert out == crlf("1, REMOTE IP: 127.0.0.1")
    assert h.receive(c0, b"one") == b"\r\n+RECEIVE,0,3:\r\none"
    assert h.at("AT+CIPSEND=1,3") == PROMPT
    assert h.feed(b"two") == crlf("1, SEND OK")
    assert h.sent(c1) == b"two"
    assert h.at("AT+CIPSTATUS") == OK + crlf("STATE: IP PROCESSING") + block(
        'S: 0,0,"3000","LISTENING"',
        'C: 0,0,"TCP","127.0.0.1","50000","CONNECTED"',
        'C: 1,0,"TCP","127.0.0.1","50001","CONNECTED"',
        *SIX[2:],
    )
    assert h.peer_close(c0) == b"\r\n0, CLOSED\r\n"
    assert h.at("AT+CIPSERVER=0") == OK + crlf("SERVER CLOSE")
    assert h.at("AT+CIPSEND=1,5") == PROMPT
    assert h.feed(b"still") == crlf("1, SEND OK")
    assert h.sent(c1) == b"twostill"
    assert h.at("AT+CIPSTATUS").startswith(OK + crlf("STATE: IP PROCESSING") + b"\r\nC: 0,")


def test_multi_link_server_skips_links_in_use() -> None:
    h = Harness()
    h.multi_up()
    h.open_multi(0)
    h.open_multi(2)
    h.at("AT+CIPSERVER=1,3000")
    h.listening()
    _, out = h.accept()
    assert out == crlf("1, REMOTE IP: 10.1.2.3")
    _, out = h.accept()
    assert out == crlf("3, REMOTE IP: 10.1.2.3")


def test_multi_link_server_reuses_the_lowest_freed_link() -> None:
    h = _multi_server()
    c0, _ = h.accept()
    h.accept()
    h.peer_close(c0)
    _, out = h.accept("10.9.9.9")
    assert out == crlf("0, REMOTE IP: 10.9.9.9")


def test_blog_limits_the_number_of_clients() -> None:
    h = _multi_server(blog=2)
    h.accept()
    h.accept()
    third, out = h.accept()
    assert out == b""
    assert Close(third, False) in h.closed
    assert h.at("AT+CIPSERVER?") == block("+CIPSERVER: 1,2") + OK


def test_default_blog_is_5_and_links_run_out_at_6() -> None:
    h = _multi_server()
    for n in range(5):
        _, out = h.accept()
        assert out == crlf(f"{n}, REMOTE IP: 10.1.2.3")
    sixth, out = h.accept()
    assert out == b""
    assert Close(sixth, False) in h.closed


def test_multi_link_server_needs_ip_status() -> None:
    # manual 3.16: multi-link only in IP STATUS (SPEC: or IP PROCESSING).
    h = Harness()
    h.at("AT+CIPMUX=1")
    assert h.at("AT+CIPSERVER=1,3000") == ERROR  # IP INITIAL
    h.bring_up(cifsr=False)
    assert h.at("AT+CIPSERVER=1,3000") == ERROR  # IP GPRSACT
    h.at("AT+CIFSR")
    h.open_multi(0)
    assert h.at("AT+CIPSERVER=1,3000") == OK  # IP PROCESSING


def test_multi_link_close_accepted_link() -> None:
    h = _multi_server()
    c0, _ = h.accept()
    assert h.at("AT+CIPCLOSE=0") == crlf("0, CLOSE OK")
    assert Close(c0, False) in h.closed


def test_server_line_opening_before_listening() -> None:
    h = Harness()
    h.multi_up()
    h.at("AT+CIPSERVER=1,3000")
    out = h.at("AT+CIPSTATUS")
    assert b'\r\nS: 0,0,"3000","OPENING"\r\n' in out


def test_cipserver_0_while_opening() -> None:
    h = Harness()
    h.multi_up()
    h.at("AT+CIPSERVER=1,3000")
    assert h.at("AT+CIPSERVER=0") == OK + crlf("SERVER CLOSE")
    assert StopListen(1) in h.requests
    assert h.handle(Listening(1)) == b""  # a late Listening is ignored
    assert h.at("AT+CIPSERVER?") == block("+CIPSERVER: 0,0") + OK
