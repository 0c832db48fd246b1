"""Client links: CIPSTART, CIPSEND, CIPCLOSE, receive headers, CIPRXGET,
CIPQSEND, CIPSPRT, CIPATS, CIPACK, and the rule that URCs and pushed data
never land inside a response or a data block.

Byte strings follow the transcripts named in each test (conformance/*.txt);
the CIPSTATUS blocks are compared byte for byte with 4.2.8-*.txt.
"""

from __future__ import annotations

import pytest
from harness import ERROR, OK, PROMPT, Harness, block, crlf

from sim800emu.core.config import PUSH_WINDOW, RX_BUFFER, ModemConfig, Radio, Timing
from sim800emu.core.events import Close, Connect, Connected, ConnectFailed, Received

SIX = tuple(f'C: {n},,"","","","INITIAL"' for n in range(6))


def multi_status(state: str, *lines: str) -> bytes:
    return OK + crlf(f"STATE: {state}") + block(*lines)


# ================================================================ single link


class TestCipstartSingle:
    def test_single_step_from_ip_initial(self) -> None:
        # 4.2.1: OK, the module brings the context up itself, then CONNECT OK.
        h = Harness()
        assert h.at('AT+CIPSTART="TCP","1.2.3.4",80') == OK
        assert h.connects == []  # the context comes first (a timer)
        assert h.run_timers() == b""
        assert h.connects == [Connect(1, "TCP", "1.2.3.4", 80, rx_window=PUSH_WINDOW)]
        _, out = h.connected()
        assert out == crlf("CONNECT OK")
        assert h.at("AT+CIPSTATUS") == OK + crlf("STATE: CONNECT OK")  # 4.2.8-status-single

    def test_multi_step(self) -> None:
        # 4.2.4 in lower case, state after each step (cmd-cipstatus-single-states).
        h = Harness()
        assert h.at("at+cstt") == OK
        assert h.at("at+cipstatus") == OK + crlf("STATE: IP START")
        assert h.at("at+ciicr") == b""
        assert h.run_timers() == OK
        assert h.at("at+cipstatus") == OK + crlf("STATE: IP GPRSACT")
        assert h.at("at+cifsr") == crlf("10.78.245.128")
        assert h.at("at+cipstatus") == OK + crlf("STATE: IP STATUS")
        assert h.at('at+cipstart="TCP","1.2.3.4",80') == OK
        assert h.connects  # no timer needed once in IP STATUS
        _, out = h.connected()
        assert out == crlf("CONNECT OK")

    def test_cipstart_after_ciicr_needs_cifsr(self) -> None:
        # SPEC: after CIICR a CIPSTART needs CIFSR first (cmd-state-refusals).
        h = Harness()
        h.bring_up(cifsr=False)
        assert h.at('AT+CIPSTART="TCP","127.0.0.1","1"') == ERROR
        assert h.at("AT+CIPSTATUS") == OK + crlf("STATE: IP GPRSACT")

    @pytest.mark.parametrize("port", ["80", '"80"'])
    def test_port_quoted_or_not(self, port: str) -> None:
        h = Harness()
        h.bring_up()
        assert h.at(f'AT+CIPSTART="TCP","1.2.3.4",{port}') == OK
        assert h.connects[0].port == 80

    def test_unquoted_mode_and_domain_name(self) -> None:
        # reference 3: ATT sends TCP unquoted; a domain name goes to the driver.
        h = Harness()
        h.bring_up()
        h.at('AT+CDNSCFG="8.8.8.8","8.8.4.4"')
        assert h.at('AT+CIPSTART=TCP,"echo.test",7') == OK
        c = h.connects[0]
        assert (c.proto, c.host, c.port, c.dns) == ("TCP", "echo.test", 7, ("8.8.8.8", "8.8.4.4"))
        _, out = h.connected(remote_ip="127.0.0.1")
        assert out == crlf("CONNECT OK")

    def test_udp(self) -> None:
        # 4.2.11
        h = Harness()
        sock, out = h.open_single("5.6.7.8", 9000, "UDP")
        assert out == crlf("CONNECT OK")
        assert Connect(sock, "UDP", "5.6.7.8", 9000, rx_window=PUSH_WINDOW) in h.requests
        assert h.at("AT+CIPSTATUS") == OK + crlf("STATE: CONNECT OK")
        h.at("AT+CIPHEAD=1")
        h.at("AT+CIPSHOWTP=1")
        assert h.receive(sock, b"ping") == b"\r\n+IPD,4,UDP:ping"
        assert h.at("AT+CIPCLOSE") == crlf("CLOSE OK")

    def test_already_connect(self) -> None:
        # cmd-cipstart-variants: ERROR then ALREADY CONNECT, the link unharmed.
        h = Harness()
        sock, _ = h.open_single()
        assert h.at('AT+CIPSTART="TCP","1.2.3.4","80"') == ERROR + crlf("ALREADY CONNECT")
        assert h.connects == []
        assert h.at("AT+CIPSEND=2") == PROMPT
        assert h.feed(b"ok") == crlf("SEND OK")
        assert h.sent(sock) == b"ok"

    def test_already_connect_while_connecting(self) -> None:
        h = Harness()
        h.bring_up()
        h.at('AT+CIPSTART="TCP","1.2.3.4",80')
        assert h.at("AT+CIPSTATUS") == OK + crlf("STATE: TCP CONNECTING")
        assert h.at('AT+CIPSTART="TCP","1.2.3.4",80') == ERROR + crlf("ALREADY CONNECT")

    def test_reconnect_from_ip_close(self) -> None:
        # cmd-cipstart-variants / cmd-cipstatus-single-states: IP CLOSE -> CIPSTART ok.
        h = Harness()
        sock, _ = h.open_single()
        assert h.at("AT+CIPCLOSE") == crlf("CLOSE OK")
        assert h.closed[-1] == Close(sock, False)
        assert h.at("AT+CIPSTATUS") == OK + crlf("STATE: IP CLOSE")
        assert h.at('AT+CIPSTART="TCP","1.2.3.4",81') == OK
        sock2, out = h.connected()
        assert sock2 != sock
        assert out == crlf("CONNECT OK")
        assert h.at("AT+CIPSTATUS") == OK + crlf("STATE: CONNECT OK")

    def test_connect_fail_and_retry_from_tcp_closed(self) -> None:
        # cmd-connect-fail: exact bytes, state kept TCP CLOSED, CIPSTART again.
        h = Harness()
        assert h.at('AT+CIPSTART="TCP","127.0.0.1",9') == OK
        h.run_timers()
        _, out = h.connect_failed()
        assert out == b"\r\nSTATE: TCP CLOSED\r\n\r\nCONNECT FAIL\r\n"
        assert h.at("AT+CIPSTATUS") == OK + crlf("STATE: TCP CLOSED")
        assert h.at('AT+CIPSTART="TCP","127.0.0.1",10') == OK
        _, out = h.connected()
        assert out == crlf("CONNECT OK")

    def test_udp_connect_fail_state(self) -> None:
        h = Harness()
        h.bring_up()
        h.at('AT+CIPSTART="UDP","1.2.3.4",9')
        _, out = h.connect_failed()
        assert out == crlf("STATE: UDP CLOSED", "CONNECT FAIL")

    def test_clport_gives_the_local_port(self) -> None:
        h = Harness()
        h.bring_up()
        h.at('AT+CLPORT="TCP",2020')
        h.at('AT+CLPORT="UDP",3030')
        h.at('AT+CIPSTART="TCP","1.2.3.4",80')
        assert h.connects[-1].local_port == 2020
        h.connected()
        h.at("AT+CIPCLOSE")
        h.at('AT+CIPSTART="UDP","1.2.3.4",80')
        assert h.connects[-1].local_port == 3030

    def test_cipssl_asks_for_tls(self) -> None:
        h = Harness()
        h.bring_up()
        h.at("AT+CIPSSL=1")
        h.at('AT+CIPSTART="TCP","1.2.3.4",443')
        assert h.connects[-1].tls is True

    def test_failed_tls_handshake_ends_in_close_ok(self) -> None:
        # reference 3 (AT+CIPSTART): with CIPSSL=1 a failed handshake yields CLOSE OK
        h = Harness()
        h.bring_up()
        h.at("AT+CIPSSL=1")
        h.at('AT+CIPSTART="TCP","1.2.3.4",443')
        sock = h.connects[-1].sock
        assert h.handle(ConnectFailed(sock, "certificate verify failed", "", True)) == (
            b"\r\nCLOSE OK\r\n"
        )
        assert h.at("AT+CIPSTATUS") == OK + b"\r\nSTATE: TCP CLOSED\r\n"

    def test_refused_while_the_server_is_on(self) -> None:
        h = Harness()
        h.bring_up()
        h.at("AT+CIPSERVER=1,3000")
        h.listening()
        assert h.at('AT+CIPSTART="TCP","1.2.3.4",80') == ERROR

    @pytest.mark.parametrize("how", ["cfun0", "cgreg"])
    def test_single_step_needs_gprs_registration(self, how: str) -> None:
        if how == "cfun0":
            h = Harness()
            h.at("AT+CFUN=0")
        else:
            h = Harness(config=ModemConfig(radio=Radio(cgreg_stat=2)))
        h.take()
        out = h.at('AT+CIPSTART="TCP","1.2.3.4",80') + h.run_timers()
        assert h.connects == []
        assert out == ERROR or out.endswith(crlf("CONNECT FAIL"))

    def test_pdp_deact_refuses_cipstart_until_cipshut(self) -> None:
        # reference 2: PDP DEACT is left only via CIPSHUT.
        h = Harness()
        h.bring_up()
        assert h.at("AT+CGATT=0").startswith(OK)
        assert h.at("AT+CIPSTATUS") == OK + crlf("STATE: PDP DEACT")
        assert h.at('AT+CIPSTART="TCP","1.2.3.4",80') == ERROR
        assert h.at("AT+CIPSHUT") == crlf("SHUT OK")
        assert h.at("AT+CIPSTATUS") == OK + crlf("STATE: IP INITIAL")


class TestCipsendSingle:
    def test_refused_without_a_connection(self) -> None:
        # cmd-cipsend-variants, cmd-state-refusals
        h = Harness()
        assert h.at("AT+CIPSEND") == ERROR
        assert h.at("AT+CIPSEND=5") == ERROR
        h.bring_up()
        assert h.at("AT+CIPSEND") == ERROR

    def test_ctrl_z_sends_and_is_not_sent(self) -> None:
        # 4.2.1: prompt CR LF '>' space, no line end; Ctrl-Z ends the data.
        h = Harness()
        sock, _ = h.open_single()
        assert h.at("AT+CIPSEND") == b"\r\n> "
        assert h.feed(b"hel") == b""
        assert h.feed(b"lo\x1a") == b"\r\nSEND OK\r\n"
        assert h.sent(sock) == b"hello"

    def test_ctrl_z_with_nothing_typed(self) -> None:
        # No source: the core sends nothing and still answers SEND OK.
        h = Harness()
        sock, _ = h.open_single()
        h.at("AT+CIPSEND")
        assert h.feed(b"\x1a") == crlf("SEND OK")
        assert h.sent(sock) == b""

    def test_esc_cancels_silently_with_ok(self) -> None:
        # cmd-cipsend-variants: "# decided: ESC cancels silently and the module answers OK"
        h = Harness()
        sock, _ = h.open_single()
        assert h.at("AT+CIPSEND") == PROMPT
        assert h.feed(b"discarded\x1b") == OK
        assert h.sent(sock) == b""
        assert h.at("AT") == OK

    def test_bytes_after_ctrl_z_are_command_mode(self) -> None:
        h = Harness()
        sock, _ = h.open_single()
        h.at("AT+CIPSEND")
        assert h.feed(b"abc\x1aAT\r") == crlf("SEND OK") + OK
        assert h.sent(sock) == b"abc"

    def test_variable_length_cr_lf_are_data(self) -> None:
        h = Harness()
        sock, _ = h.open_single()
        h.at("AT+CIPSEND")
        assert h.feed(b"a\r\nb\rAT\r\x1a") == crlf("SEND OK")
        assert h.sent(sock) == b"a\r\nb\rAT\r"

    def test_variable_length_over_1460_is_error(self) -> None:
        # reference 3 (AN 6.3): variable-length input longer than the max -> ERROR.
        h = Harness()
        sock, _ = h.open_single()
        h.at("AT+CIPSEND")
        assert h.feed(b"x" * 1460) == b""
        assert h.feed(b"y") == ERROR
        assert h.sent(sock) == b""
        # the rest of the entry, up to its Ctrl-Z, is discarded (docs/hardening.md)
        assert h.at("AT") == b""
        assert h.feed(b"\x1a") == b""
        assert h.at("AT") == OK
        assert h.sent(sock) == b""

    OVERFLOW = b"A" * 1500 + b"\rAT+CIPCLOSE\r" + b"B" * 100 + b"\x1a"

    @pytest.mark.parametrize(
        "cuts",
        [(), (1400,), (1400, 1500), (1460, 1461), (1461,), (1500, 1513), tuple(range(1, 1615))],
    )
    def test_over_1460_gives_one_answer_however_the_reads_split(self, cuts: tuple[int, ...]) -> None:
        # issue 10: the same input split anywhere gives the same output, ERROR
        # once, and the payload is never run as a command.
        h = Harness()
        sock, _ = h.open_single()
        assert h.at("AT+CIPSEND") == PROMPT
        out = b""
        for a, b in zip((0, *cuts), (*cuts, len(self.OVERFLOW)), strict=True):
            out += h.feed(self.OVERFLOW[a:b])
        assert out == ERROR
        assert h.sent(sock) == b""
        assert h.at("AT+CIPSTATUS").endswith(b"STATE: CONNECT OK\r\n")
        assert h.at("AT") == OK

    def test_over_1460_esc_also_ends_the_discarding(self) -> None:
        h = Harness()
        sock, _ = h.open_single()
        h.at("AT+CIPSEND")
        assert h.feed(b"x" * 1461) == ERROR
        assert h.feed(b"AT\r\x1bAT\r") == OK
        assert h.sent(sock) == b""

    def test_over_1460_with_cipats_sends_nothing_later(self) -> None:
        h = Harness()
        sock, _ = h.open_single()
        h.at("AT+CIPATS=1,2")
        h.at("AT+CIPSEND")
        assert h.feed(b"x" * 1461) == ERROR
        assert h.advance(5) == b""
        assert h.feed(b"\x1a") == b""
        assert h.sent(sock) == b""

    def test_variable_length_1460_is_fine(self) -> None:
        h = Harness()
        sock, _ = h.open_single()
        h.at("AT+CIPSEND")
        assert h.feed(b"x" * 1460 + b"\x1a") == crlf("SEND OK")
        assert h.sent(sock) == b"x" * 1460

    def test_fixed_length_binary_payload(self) -> None:
        # cmd-cipsend-variants: 0x00 0x1A 0x1B CR LF 0xFF are plain data.
        h = Harness()
        sock, _ = h.open_single()
        assert h.at("AT+CIPSEND=8") == PROMPT
        assert h.feed(b"\x00\x1a\x1b\r\n\xff+Z") == crlf("SEND OK")
        assert h.sent(sock) == b"\x00\x1a\x1b\r\n\xff+Z"

    def test_fixed_length_in_pieces_and_the_rest_is_command_mode(self) -> None:
        h = Harness()
        sock, _ = h.open_single()
        h.at("AT+CIPSEND=5")
        assert h.feed(b"wo") == b""
        assert h.feed(b"rl") == b""
        assert h.feed(b"dAT\r") == crlf("SEND OK") + OK
        assert h.sent(sock) == b"world"

    def test_fixed_length_trailing_crlf_and_ctrl_z_are_ignored(self) -> None:
        # reference 3: CPF appends CR LF, a Zephyr driver appends 0x1A.
        h = Harness()
        sock, _ = h.open_single()
        h.at("AT+CIPSEND=3")
        assert h.feed(b"abc\r\n") == crlf("SEND OK")
        h.at("AT+CIPSEND=3")
        assert h.feed(b"def\x1a") == crlf("SEND OK")
        assert h.at("AT") == OK
        assert h.sent(sock) == b"abcdef"

    def test_1460_is_accepted_1461_is_error(self) -> None:
        h = Harness()
        sock, _ = h.open_single()
        assert h.at("AT+CIPSEND=1461") == ERROR
        assert h.at("AT+CIPSEND=1460") == PROMPT
        payload = bytes(range(256)) * 5 + b"z" * 180
        assert h.feed(payload) == crlf("SEND OK")
        assert h.sent(sock) == payload

    def test_crlf_after_fixed_length_command_is_not_payload(self) -> None:
        # SPEC line ends: AT+CIPSEND=5 CR LF in one write: the LF is not payload.
        h = Harness()
        sock, _ = h.open_single()
        assert h.feed(b"AT+CIPSEND=5\r\n") == PROMPT
        assert h.feed(b"crlf!") == crlf("SEND OK")
        assert h.sent(sock) == b"crlf!"

    def test_lf_after_the_prompt_is_payload(self) -> None:
        # SPEC: once the answer (the prompt) is out, every byte is payload.
        h = Harness()
        sock, _ = h.open_single()
        assert h.feed(b"AT+CIPSEND=5\r") == PROMPT
        assert h.feed(b"\nabcd") == crlf("SEND OK")
        assert h.sent(sock) == b"\nabcd"

    def test_crlf_and_payload_in_one_write(self) -> None:
        h = Harness()
        sock, _ = h.open_single()
        assert h.feed(b"AT+CIPSEND=3\r\nxyzAT\r") == PROMPT + crlf("SEND OK") + OK
        assert h.sent(sock) == b"xyz"

    def test_lone_lf_terminated_cipsend(self) -> None:
        h = Harness()
        sock, _ = h.open_single()
        assert h.feed(b"AT+CIPSEND=2\n\r\n") == PROMPT + crlf("SEND OK")
        assert h.sent(sock) == b"\r\n"

    def test_send_fail_when_the_peer_closed_during_entry(self) -> None:
        h = Harness()
        sock, _ = h.open_single()
        h.at("AT+CIPSEND")
        assert h.feed(b"late") == b""
        assert h.peer_close(sock) == b""  # CLOSED waits for the data block
        assert h.feed(b"\x1a") == crlf("SEND FAIL") + crlf("CLOSED")
        assert h.sent(sock) == b""

    def test_cipsend_after_remote_close_is_error(self) -> None:
        # cmd-remote-close-single
        h = Harness()
        sock, _ = h.open_single()
        assert h.receive(sock, b"bye") == b"bye"
        assert h.peer_close(sock) == b"\r\nCLOSED\r\n"
        assert h.at("AT+CIPSTATUS") == OK + crlf("STATE: TCP CLOSED")
        assert h.at("AT+CIPSEND") == ERROR
        assert h.at("AT+CIPCLOSE") == ERROR
        assert h.at("AT+CIPSHUT") == crlf("SHUT OK")
        assert h.at("AT+CIPSTATUS") == OK + crlf("STATE: IP INITIAL")


class TestCipsprt:
    def test_modes(self) -> None:
        # cmd-cipsprt: 1 prompt + SEND OK; 0 no prompt, SEND OK; 2 neither.
        h = Harness()
        sock, _ = h.open_single()
        assert h.at("AT+CIPSEND=3") == PROMPT
        assert h.feed(b"one") == crlf("SEND OK")
        assert h.at("AT+CIPSPRT=0") == OK
        assert h.at("AT+CIPSEND=3") == b""
        assert h.feed(b"two") == crlf("SEND OK")
        assert h.at("AT+CIPSEND") == b""
        assert h.feed(b"three\x1a") == crlf("SEND OK")
        assert h.at("AT+CIPSPRT=2") == OK
        assert h.at("AT+CIPSEND=4") == b""
        assert h.feed(b"four") == b""
        assert h.at("AT") == OK
        assert h.sent(sock) == b"onetwothreefour"

    def test_cipsprt_2_and_send_fail(self) -> None:
        h = Harness()
        sock, _ = h.open_single()
        h.at("AT+CIPSPRT=2")
        h.at("AT+CIPSEND")
        h.peer_close(sock)
        assert h.feed(b"x\x1a") == crlf("CLOSED")

    def test_multi_link_cipsprt_0(self) -> None:
        h = Harness()
        h.multi_up()
        sock, _ = h.open_multi(2)
        h.at("AT+CIPSPRT=0")
        assert h.at("AT+CIPSEND=2,2") == b""
        assert h.feed(b"hi") == crlf("2, SEND OK")
        assert h.sent(sock) == b"hi"


class TestCipats:
    def test_timer_sends_without_ctrl_z_and_not_before(self) -> None:
        # cmd-cipats; manual 3.6.2 example 3 ("sim800e timeout !").
        h = Harness()
        sock, _ = h.open_single()
        assert h.at("AT+CIPATS=1,2") == OK
        assert h.at("AT+CIPATS?") == block("+CIPATS: 1,2") + OK
        start = h.now
        assert h.at("AT+CIPSEND") == PROMPT
        assert h.feed(b"sim800e timeout !") == b""
        assert h.advance_to(start + 1.9) == b""
        assert h.sent(sock) == b""
        assert h.advance_to(start + 2.0) == crlf("SEND OK")
        assert h.sent(sock) == b"sim800e timeout !"
        assert h.at("AT") == OK

    def test_ctrl_z_before_the_timer_cancels_it(self) -> None:
        h = Harness()
        sock, _ = h.open_single()
        h.at("AT+CIPATS=1,5")
        h.at("AT+CIPSEND")
        assert h.feed(b"early\x1a") == crlf("SEND OK")
        assert "cipats" not in h.timers
        assert h.advance(10) == b""
        assert h.sent(sock) == b"early"

    def test_esc_cancels_the_timer(self) -> None:
        h = Harness()
        sock, _ = h.open_single()
        h.at("AT+CIPATS=1,5")
        h.at("AT+CIPSEND")
        assert h.feed(b"no\x1b") == OK
        assert h.advance(10) == b""
        assert h.sent(sock) == b""

    def test_cipats_0_needs_ctrl_z_again(self) -> None:
        h = Harness()
        sock, _ = h.open_single()
        h.at("AT+CIPATS=1,2")
        assert h.at("AT+CIPATS=0") == OK
        h.at("AT+CIPSEND")
        h.feed(b"manual")
        assert h.advance(200) == b""
        assert h.feed(b"\x1a") == crlf("SEND OK")
        assert h.sent(sock) == b"manual"

    def test_cipats_write_without_time_keeps_it(self) -> None:
        h = Harness()
        h.at("AT+CIPATS=1,30")
        assert h.at("AT+CIPATS=0") == OK
        assert h.at("AT+CIPATS?") == block("+CIPATS: 0,30") + OK

    def test_multi_link_cipats(self) -> None:
        h = Harness()
        h.multi_up()
        sock, _ = h.open_multi(0)
        h.at("AT+CIPATS=1,1")
        h.at("AT+CIPSEND=0")
        h.feed(b"auto")
        assert h.advance(1) == crlf("0, SEND OK")
        assert h.sent(sock) == b"auto"


class TestCipqsend:
    def test_data_accept_single(self) -> None:
        # cmd-cipqsend: "DATA ACCEPT:<len>" (no space)
        h = Harness()
        assert h.at("AT+CIPQSEND=1") == OK
        sock, _ = h.open_single()
        assert h.at("AT+CIPSEND=4") == PROMPT
        assert h.feed(b"fast") == crlf("DATA ACCEPT:4")
        assert h.sent(sock) == b"fast"

    def test_data_accept_multi_and_survives_cipshut(self) -> None:
        h = Harness()
        assert h.at("AT+CIPMUX=1") == OK
        assert h.at("AT+CIPQSEND=1") == OK
        h.bring_up()
        sock, _ = h.open_multi(0)
        assert h.at("AT+CIPSEND=0,27") == PROMPT
        assert h.feed(b"hello from the quick sender") == crlf("DATA ACCEPT:0,27")
        assert h.at("AT+CIPSEND=0") == PROMPT
        assert h.feed(b"abc\x1a") == crlf("DATA ACCEPT:0,3")
        assert h.sent(sock) == b"hello from the quick senderabc"
        assert h.at("AT+CIPSHUT") == crlf("SHUT OK")
        assert h.at("AT+CIPQSEND?") == block("+CIPQSEND: 1") + OK

    def test_send_fail_under_qsend(self) -> None:
        # reference 3: SEND FAIL also under CIPQSEND=1.
        h = Harness()
        h.at("AT+CIPQSEND=1")
        sock, _ = h.open_single()
        h.at("AT+CIPSEND")
        h.peer_close(sock)
        assert h.feed(b"x\x1a") == crlf("SEND FAIL") + crlf("CLOSED")


class TestCipcloseSingle:
    def test_close_ok_no_ok_after_it(self) -> None:
        # cmd-framing-exact
        h = Harness()
        h.open_single()
        assert h.at("AT+CIPCLOSE") == b"\r\nCLOSE OK\r\n"
        assert h.at("AT+CIPSTATUS") == OK + crlf("STATE: IP CLOSE")
        assert h.at("AT+CIPCLOSE") == ERROR

    def test_quick_close(self) -> None:
        h = Harness()
        sock, _ = h.open_single()
        assert h.at("AT+CIPCLOSE=1") == crlf("CLOSE OK")
        assert h.closed[-1] == Close(sock, True)

    def test_close_while_connecting(self) -> None:
        # manual 3.6.1: allowed in CONNECTING and CONNECT OK.
        h = Harness()
        h.bring_up()
        h.at('AT+CIPSTART="TCP","1.2.3.4",80')
        sock = h.connects[0].sock
        assert h.at("AT+CIPCLOSE") == crlf("CLOSE OK")
        assert h.closed[-1].sock == sock
        assert h.at("AT+CIPSTATUS") == OK + crlf("STATE: IP CLOSE")
        assert h.handle(Connected(sock, "1.2.3.4", 80)) == b""  # a late Connected is ignored

    def test_close_during_single_step_activation(self) -> None:
        h = Harness()
        h.at('AT+CIPSTART="TCP","1.2.3.4",80')
        assert h.at("AT+CIPCLOSE") == crlf("CLOSE OK")
        assert h.run_timers() == b""
        assert h.connects == []  # never asked for once closed
        assert h.at("AT+CIPSTATUS") == OK + crlf("STATE: IP CLOSE")

    def test_close_discards_buffered_rx(self) -> None:
        # reference 3: after CIPCLOSE, CIPRXGET=2 -> ERROR (LOG I:TG69).
        h = Harness()
        h.at("AT+CIPRXGET=1")
        sock, _ = h.open_single()
        h.receive(sock, b"pending")
        assert h.at("AT+CIPCLOSE") == crlf("CLOSE OK")
        assert h.at("AT+CIPRXGET=2,10") == ERROR
        assert h.at("AT+CIPRXGET=4") == ERROR


# ================================================================ receive headers (single)


class TestReceiveHeaders:
    def test_raw_receive_has_no_framing(self) -> None:
        # 4.2.1 decided: with CIPHEAD=0 data goes out exactly as received.
        h = Harness()
        sock, _ = h.open_single()
        assert h.receive(sock, b"hello") == b"hello"
        assert h.receive(sock, b"\r\nOK\r\n") == b"\r\nOK\r\n"

    def test_headers(self) -> None:
        # cmd-receive-headers: exact bytes for every combination.
        h = Harness()
        sock, _ = h.open_single("127.0.0.1", 4242)
        assert h.at("AT+CIPHEAD=1") == OK
        assert h.receive(sock, b"hello") == b"\r\n+IPD,5:hello"
        assert h.at("AT+CIPSHOWTP=1") == OK
        assert h.receive(sock, b"abc") == b"\r\n+IPD,3,TCP:abc"
        assert h.at("AT+CIPSRIP=1") == OK
        assert h.receive(sock, b"xy") == b"\r\nRECV FROM:127.0.0.1:4242\r\n\r\n+IPD,2,TCP:xy"
        assert h.at("AT+CIPHEAD=0") == OK
        assert h.receive(sock, b"plain") == b"\r\nRECV FROM:127.0.0.1:4242\r\nplain"
        assert h.at("AT+CIPSRIP=0") == OK
        assert h.receive(sock, b"raw") == b"raw"

    def test_recv_from_shows_the_datagram_sender(self) -> None:
        # manual 3.19: the sender's IP address and port; events.Received and the
        # net driver's docstring: from_ip/from_port are "needed for RECV FROM".
        h = Harness()
        sock, _ = h.open_single("1.2.3.4", 53, "UDP")
        h.at("AT+CIPSRIP=1")
        out = h.handle(Received(sock, b"x", "5.6.7.8", 5353))
        assert out == b"\r\nRECV FROM:5.6.7.8:5353\r\nx"

    def test_recv_from_with_the_peer_as_sender(self) -> None:
        h = Harness()
        sock, _ = h.open_single("1.2.3.4", 53, "UDP")
        h.at("AT+CIPSRIP=1")
        out = h.handle(Received(sock, b"x", "1.2.3.4", 53))
        assert out == b"\r\nRECV FROM:1.2.3.4:53\r\nx"

    def test_showtp_alone_has_no_effect(self) -> None:
        # manual 3.23: only with CIPHEAD=1.
        h = Harness()
        sock, _ = h.open_single()
        h.at("AT+CIPSHOWTP=1")
        assert h.receive(sock, b"raw") == b"raw"

    def test_long_data_is_split_in_1460_byte_pushes(self) -> None:
        # No source: the core splits a push at 1460 bytes (one header each).
        h = Harness()
        sock, _ = h.open_single()
        h.at("AT+CIPHEAD=1")
        data = bytes(range(256)) * 12  # 3072 bytes
        assert h.receive(sock, data) == (
            b"\r\n+IPD,1460:" + data[:1460] + b"\r\n+IPD,1460:" + data[1460:2920]
            + b"\r\n+IPD,152:" + data[2920:]
        )

    def test_data_before_closed(self) -> None:
        # conformance README 3: a link's data is printed before its CLOSED.
        h = Harness()
        sock, _ = h.open_single()
        h.at("AT+CIPSEND")
        h.receive(sock, b"last words")
        h.peer_close(sock)
        assert h.feed(b"\x1b") == OK + b"last words" + crlf("CLOSED")


# ================================================================ multi link


class TestMultiLink:
    def test_single_step_multi_link(self) -> None:
        # 4.2.3: CIPSTART=<n> straight from IP INITIAL.
        h = Harness()
        assert h.at("AT+CIPMUX=1") == OK
        assert h.at('AT+CIPSTART=0,"TCP","1.2.3.4",80') == OK
        h.run_timers()
        sock, out = h.connected()
        assert out == crlf("0, CONNECT OK")
        assert h.at("AT+CIPSEND=0,15") == PROMPT
        assert h.feed(b"simcom sim800e!") == crlf("0, SEND OK")
        assert h.receive(sock, b"simcom sim800e!") == b"\r\n+RECEIVE,0,15:\r\nsimcom sim800e!"
        assert h.at("AT+CIPSEND=0") == PROMPT
        assert h.feed(b"sim800e!\x1a") == crlf("0, SEND OK")
        assert h.receive(sock, b"sim800e!") == b"\r\n+RECEIVE,0,8:\r\nsim800e!"
        assert h.at("AT+CIPCLOSE=0") == crlf("0, CLOSE OK")
        assert h.sent(sock) == b"simcom sim800e!sim800e!"

    def test_cipstatus_blocks_exact(self) -> None:
        # 4.2.8-status-multi: byte for byte, IP STATUS and IP PROCESSING.
        h = Harness()
        h.multi_up()
        assert h.at("AT+CIPSTATUS") == (
            b'\r\nOK\r\n\r\nSTATE: IP STATUS\r\n\r\nC: 0,,"","","","INITIAL"\r\n'
            b'C: 1,,"","","","INITIAL"\r\nC: 2,,"","","","INITIAL"\r\nC: 3,,"","","","INITIAL"\r\n'
            b'C: 4,,"","","","INITIAL"\r\nC: 5,,"","","","INITIAL"\r\n'
        )
        h.open_multi(0, "127.0.0.1", 5001)
        h.open_multi(1, "127.0.0.1", 5002)
        assert h.at("AT+CIPSTATUS") == (
            b'\r\nOK\r\n\r\nSTATE: IP PROCESSING\r\n\r\n'
            b'C: 0,0,"TCP","127.0.0.1","5001","CONNECTED"\r\n'
            b'C: 1,0,"TCP","127.0.0.1","5002","CONNECTED"\r\n'
            b'C: 2,,"","","","INITIAL"\r\nC: 3,,"","","","INITIAL"\r\n'
            b'C: 4,,"","","","INITIAL"\r\nC: 5,,"","","","INITIAL"\r\n'
        )

    def test_cipstatus_connecting_and_closed_states(self) -> None:
        h = Harness()
        h.multi_up()
        h.at('AT+CIPSTART=2,"UDP","1.2.3.4",53')
        assert h.at("AT+CIPSTATUS") == multi_status(
            "IP PROCESSING", *SIX[:2], 'C: 2,0,"UDP","1.2.3.4","53","CONNECTING"', *SIX[3:]
        )
        _, out = h.connect_failed()
        assert out == crlf("2, CONNECT FAIL")  # cmd-connect-fail-multi
        assert h.at("AT+CIPSTATUS=2") == block('+CIPSTATUS: 2,0,"UDP","1.2.3.4","53","CLOSED"') + OK

    def test_cipstatus_in_ip_initial_and_gprsact_multi(self) -> None:
        # reference 3 (INF): the six C: lines in every multi-link state.
        h = Harness()
        h.at("AT+CIPMUX=1")
        assert h.at("AT+CIPSTATUS") == multi_status("IP INITIAL", *SIX)
        h.bring_up(cifsr=False)
        assert h.at("AT+CIPSTATUS") == multi_status("IP GPRSACT", *SIX)

    def test_link_refusals_and_close_forms(self) -> None:
        # cmd-multi-link-close-status
        h = Harness()
        h.multi_up()
        assert h.at('AT+CIPSTART="TCP","127.0.0.1",7000') == ERROR
        assert h.at('AT+CIPSTART=6,"TCP","127.0.0.1",7000') == ERROR
        s0, out = h.open_multi(0, "127.0.0.1", 7000)
        assert out == crlf("0, CONNECT OK")
        s3, out = h.open_multi(3, "127.0.0.1", 7001)
        assert out == crlf("3, CONNECT OK")
        assert h.at("AT+CIPSTATUS=0") == block('+CIPSTATUS: 0,0,"TCP","127.0.0.1","7000","CONNECTED"') + OK
        assert h.at("AT+CIPSTATUS=1") == block('+CIPSTATUS: 1,,"","","","INITIAL"') + OK
        assert h.at("AT+CIPSEND=1,3") == ERROR
        assert h.at("AT+CIPMUX=0") == ERROR
        assert h.at("AT+CIPCLOSE") == ERROR
        assert h.at("AT+CIPCLOSE=1") == ERROR
        assert h.at("AT+CIPCLOSE=6") == ERROR
        assert h.at("AT+CIPCLOSE=0") == crlf("0, CLOSE OK")
        assert h.closed[-1] == Close(s0, False)
        assert h.at("AT+CIPSTATUS=0") == block('+CIPSTATUS: 0,0,"TCP","127.0.0.1","7000","CLOSED"') + OK
        assert h.at("AT+CIPCLOSE=0") == ERROR
        assert h.at("AT+CIPCLOSE=3,1") == crlf("3, CLOSE OK")
        assert h.closed[-1] == Close(s3, True)
        assert h.at("AT+CIPMUX=0") == ERROR  # SPEC: needs the context shut too
        assert h.at("AT+CIPSHUT") == crlf("SHUT OK")
        assert h.at("AT+CIPMUX=0") == OK

    def test_already_connect_multi(self) -> None:
        # SPEC: multi-link "<n>, ALREADY CONNECT". Whether an OK precedes it is
        # not fixed by any source (manual 3.5.1 prints OK for a well-formed
        # command); the core prints OK first.
        h = Harness()
        h.multi_up()
        h.open_multi(0)
        assert h.at('AT+CIPSTART=0,"TCP","1.2.3.4",80') == OK + crlf("0, ALREADY CONNECT")

    def test_two_links_data_each_tagged(self) -> None:
        # 4.2.6
        h = Harness()
        h.multi_up()
        a, _ = h.open_multi(0, "127.0.0.1", 7000)
        b, _ = h.open_multi(1, "127.0.0.1", 7001)
        h.at("AT+CIPSEND=0,5")
        assert h.feed(b"hello") == crlf("0, SEND OK")
        assert h.receive(a, b"hello") == b"\r\n+RECEIVE,0,5:\r\nhello"
        h.at("AT+CIPSEND=1")
        assert h.feed(b"to-b\x1a") == crlf("1, SEND OK")
        assert h.receive(b, b"from-b") == b"\r\n+RECEIVE,1,6:\r\nfrom-b"
        assert h.at("AT+CIPCLOSE=1") == crlf("1, CLOSE OK")
        h.at("AT+CIPSEND=0,3")
        assert h.feed(b"bye") == crlf("0, SEND OK")
        assert h.sent(a) == b"hellobye"
        assert h.sent(b) == b"to-b"

    def test_single_link_settings_have_no_effect_in_multi(self) -> None:
        # SPEC: accepted and remembered, no effect (CIPHEAD, CIPSRIP, CIPSHOWTP).
        h = Harness()
        h.multi_up()
        sock, _ = h.open_multi(4)
        for line in ("AT+CIPHEAD=1", "AT+CIPSHOWTP=1", "AT+CIPSRIP=1"):
            assert h.at(line) == OK
        assert h.receive(sock, b"xyz") == b"\r\n+RECEIVE,4,3:\r\nxyz"
        assert h.at("AT+CIPHEAD?") == block("+CIPHEAD: 1") + OK

    def test_remote_close_multi(self) -> None:
        # cmd-remote-close-multi
        h = Harness()
        h.multi_up()
        a, _ = h.open_multi(0, "127.0.0.1", 7000)
        b, _ = h.open_multi(1, "127.0.0.1", 7001)
        assert h.peer_close(b) == b"\r\n1, CLOSED\r\n"
        assert h.at("AT+CIPSEND=1,3") == ERROR
        assert h.at("AT+CIPSTATUS=1") == block('+CIPSTATUS: 1,0,"TCP","127.0.0.1","7001","CLOSED"') + OK
        assert h.at("AT+CIPSEND=0,5") == PROMPT
        assert h.feed(b"alive") == crlf("0, SEND OK")
        assert h.peer_close(a) == b"\r\n0, CLOSED\r\n"

    def test_reuse_a_closed_link(self) -> None:
        h = Harness()
        h.multi_up()
        a, _ = h.open_multi(5)
        h.peer_close(a)
        b, out = h.open_multi(5, "9.9.9.9", 99)
        assert out == crlf("5, CONNECT OK")
        assert b != a
        assert h.at("AT+CIPSTATUS=5") == block('+CIPSTATUS: 5,0,"TCP","9.9.9.9","99","CONNECTED"') + OK

    def test_cipshut_prints_no_closed(self) -> None:
        # cmd-cipshut-multi: SHUT OK, no "<n>, CLOSED", back to IP INITIAL.
        h = Harness()
        h.multi_up()
        a, _ = h.open_multi(0)
        b, _ = h.open_multi(1)
        assert h.at("AT+CIPSHUT") == crlf("SHUT OK")
        assert {c.sock for c in h.closed} == {a, b}
        assert h.at("AT+CIPMUX=0") == OK
        assert h.at("AT+CIPSTATUS") == OK + crlf("STATE: IP INITIAL")
        assert h.peer_close(a) == b""  # late results about dead sockets are ignored
        assert h.receive(b, b"late") == b""

    def test_connect_fail_multi(self) -> None:
        h = Harness()
        h.multi_up()
        h.at('AT+CIPSTART=2,"TCP","127.0.0.1",9')
        _, out = h.connect_failed()
        assert out == b"\r\n2, CONNECT FAIL\r\n"

    def test_multi_cipsend_exec_is_refused(self) -> None:
        # manual 3.6.1: AT+CIPSEND without a link number is single-link only.
        h = Harness()
        h.multi_up()
        h.open_multi(0)
        assert h.at("AT+CIPSEND") == ERROR

    def test_multi_link_cipstart_during_activation(self) -> None:
        # Two single-step CIPSTARTs while the context comes up.
        h = Harness()
        h.at("AT+CIPMUX=1")
        assert h.at('AT+CIPSTART=0,"TCP","1.2.3.4",80') == OK
        assert h.at('AT+CIPSTART=1,"TCP","1.2.3.4",81') == OK
        h.run_timers()
        assert [c.port for c in h.connects] == [80, 81]
        _, o0 = h.connected()
        _, o1 = h.connected()
        assert o0 + o1 == crlf("0, CONNECT OK", "1, CONNECT OK")

    def test_cipack(self) -> None:
        h = Harness()
        h.multi_up()
        h.open_multi(1)
        h.at("AT+CIPSEND=1,4")
        h.feed(b"data")
        assert h.at("AT+CIPACK=1") == block("+CIPACK: 4,4,0") + OK
        assert h.at("AT+CIPACK=2") == ERROR  # never used
        assert h.at("AT+CIPACK") == ERROR  # single-link form


# ================================================================ CIPRXGET


class TestCiprxget:
    def test_single_link(self) -> None:
        # cmd-ciprxget-single
        h = Harness()
        assert h.at("AT+CIPRXGET?") == block("+CIPRXGET: 0") + OK
        assert h.at("AT+CIPRXGET=1") == OK
        assert h.at("AT+CIPRXGET?") == block("+CIPRXGET: 1") + OK
        sock, _ = h.open_single()
        assert h.receive(sock, b"hello world") == b"\r\n+CIPRXGET: 1\r\n"
        assert h.at("AT+CIPRXGET=4") == block("+CIPRXGET: 4,11") + OK
        assert h.at("AT+CIPRXGET=2,5") == b"\r\n+CIPRXGET: 2,5,6\r\nhello\r\nOK\r\n"
        assert h.at("AT+CIPRXGET=3,3") == b"\r\n+CIPRXGET: 3,3,3\r\n20776F\r\nOK\r\n"
        assert h.at("AT+CIPRXGET=2,100") == b"\r\n+CIPRXGET: 2,3,0\r\nrld\r\nOK\r\n"
        assert h.at("AT+CIPRXGET=4") == block("+CIPRXGET: 4,0") + OK

    def test_multi_link(self) -> None:
        # cmd-ciprxget-multi
        h = Harness()
        h.at("AT+CIPMUX=1")
        assert h.at("AT+CIPRXGET=1") == OK
        h.bring_up()
        a, _ = h.open_multi(0)
        b, _ = h.open_multi(1)
        assert h.receive(b, b"0123456789") == b"\r\n+CIPRXGET: 1,1\r\n"
        assert h.at("AT+CIPRXGET=4,1") == block("+CIPRXGET: 4,1,10") + OK
        assert h.at("AT+CIPRXGET=4,0") == block("+CIPRXGET: 4,0,0") + OK
        assert h.at("AT+CIPRXGET=2,1,4") == b"\r\n+CIPRXGET: 2,1,4,6\r\n0123\r\nOK\r\n"
        assert h.receive(b, b"abc") == b""  # no URC into a non-empty buffer
        assert h.at("AT+CIPRXGET=4,1") == block("+CIPRXGET: 4,1,9") + OK
        assert h.at("AT+CIPRXGET=3,1,3") == b"\r\n+CIPRXGET: 3,1,3,6\r\n343536\r\nOK\r\n"
        assert h.at("AT+CIPRXGET=2,1,100") == b"\r\n+CIPRXGET: 2,1,6,0\r\n789abc\r\nOK\r\n"
        assert h.at("AT+CIPRXGET=2,1,10") == b"\r\n+CIPRXGET: 2,1,0,0\r\n\r\nOK\r\n"
        assert h.receive(b, b"q") == b"\r\n+CIPRXGET: 1,1\r\n"
        assert h.at("AT+CIPRXGET=2,1,10") == b"\r\n+CIPRXGET: 2,1,1,0\r\nq\r\nOK\r\n"
        assert h.receive(a, b"zz") == b"\r\n+CIPRXGET: 1,0\r\n"
        assert h.at("AT+CIPRXGET=2,0,2") == b"\r\n+CIPRXGET: 2,0,2,0\r\nzz\r\nOK\r\n"

    def test_mode_limits(self) -> None:
        # reference 3: mode 2 len <= 1460, mode 3 len <= 730.
        h = Harness()
        h.at("AT+CIPRXGET=1")
        h.open_single()
        assert h.at("AT+CIPRXGET=2,1460") == b"\r\n+CIPRXGET: 2,0,0\r\n\r\nOK\r\n"
        assert h.at("AT+CIPRXGET=2,1461") == ERROR
        assert h.at("AT+CIPRXGET=3,730") == b"\r\n+CIPRXGET: 3,0,0\r\n\r\nOK\r\n"
        assert h.at("AT+CIPRXGET=3,731") == ERROR
        assert h.at("AT+CIPRXGET=2,0") == ERROR
        assert h.at("AT+CIPRXGET=2") == ERROR
        assert h.at("AT+CIPRXGET=4,5") == ERROR  # single-link form has no link number

    def test_modes_need_ciprxget_1_and_a_link(self) -> None:
        h = Harness()
        h.open_single()
        assert h.at("AT+CIPRXGET=4") == ERROR  # push mode
        h.at("AT+CIPRXGET=1")
        h2 = Harness()
        h2.at("AT+CIPRXGET=1")
        assert h2.at("AT+CIPRXGET=4") == ERROR  # no link
        assert h2.at("AT+CIPRXGET=2,10") == ERROR

    def test_readable_after_remote_close(self) -> None:
        # reference 3 (INF): after a remote close buffered data is still readable.
        h = Harness()
        h.at("AT+CIPRXGET=1")
        sock, _ = h.open_single()
        assert h.receive(sock, b"abc") == crlf("+CIPRXGET: 1")
        assert h.peer_close(sock) == crlf("CLOSED")
        assert h.at("AT+CIPRXGET=4") == block("+CIPRXGET: 4,3") + OK
        assert h.at("AT+CIPRXGET=2,10") == b"\r\n+CIPRXGET: 2,3,0\r\nabc\r\nOK\r\n"

    def test_binary_data_read_raw_and_hex(self) -> None:
        h = Harness()
        h.at("AT+CIPRXGET=1")
        sock, _ = h.open_single()
        h.receive(sock, b"\x00\r\n\xff\x1a")
        assert h.at("AT+CIPRXGET=3,2") == b"\r\n+CIPRXGET: 3,2,3\r\n000D\r\nOK\r\n"
        assert h.at("AT+CIPRXGET=2,3") == b"\r\n+CIPRXGET: 2,3,0\r\n\n\xff\x1a\r\nOK\r\n"

    def test_back_to_push_mode(self) -> None:
        h = Harness()
        h.at("AT+CIPRXGET=1")
        sock, _ = h.open_single()
        h.at("AT+CIPRXGET=0")
        assert h.receive(sock, b"pushed") == b"pushed"

    def test_window_reopens_by_what_is_read(self) -> None:
        # The driver delivers at most the window (RX_BUFFER); every byte read
        # with CIPRXGET=2 is granted back, nothing before.
        h = Harness()
        h.at("AT+CIPRXGET=1")
        sock, _ = h.open_single()
        assert [r.rx_window for r in h.requests if isinstance(r, Connect)] == [RX_BUFFER]
        h.receive(sock, b"z" * RX_BUFFER)
        assert h.credits[sock] == 0
        assert h.at("AT+CIPRXGET=4") == block(f"+CIPRXGET: 4,{RX_BUFFER}") + OK
        h.at("AT+CIPRXGET=2,1000")
        assert h.credits[sock] == 0  # handed back in steps of half the buffer
        h.at("AT+CIPRXGET=3,730")
        assert h.credits[sock] == 1730
        h.at("AT+CIPRXGET=2,100")
        assert h.credits[sock] == 1730
        h.at(f"AT+CIPRXGET=2,{RX_BUFFER - 1830}")  # empty: everything owed
        assert h.credits[sock] == RX_BUFFER
        assert h.at("AT+CIPRXGET=4") == block("+CIPRXGET: 4,0") + OK


# ================================================================ the URC rule


class TestUrcsWait:
    """SPEC: a URC is never printed inside a command's response, nor inside a
    data block; it waits and follows."""

    def test_push_during_prompt_waits_for_send_ok(self) -> None:
        h = Harness()
        h.multi_up()
        sock, _ = h.open_multi(0)
        assert h.at("AT+CIPSEND=0") == PROMPT
        assert h.receive(sock, b"zz") == b""
        assert h.feed(b"ab") == b""
        assert h.feed(b"\x1a") == crlf("0, SEND OK") + b"\r\n+RECEIVE,0,2:\r\nzz"

    def test_push_during_fixed_length_entry_waits(self) -> None:
        h = Harness()
        sock, _ = h.open_single()
        h.at("AT+CIPHEAD=1")
        assert h.at("AT+CIPSEND=4") == PROMPT
        assert h.feed(b"ab") == b""
        assert h.receive(sock, b"in") == b""
        assert h.feed(b"cd") == crlf("SEND OK") + b"\r\n+IPD,2:in"

    def test_urcs_during_prompt_follow_esc_ok_in_order(self) -> None:
        h = Harness()
        h.multi_up()
        a, _ = h.open_multi(0)
        h.at('AT+CIPSTART=1,"TCP","1.2.3.4",81')
        assert h.at("AT+CIPSEND=0") == PROMPT
        _, out = h.connected()
        assert out == b""
        assert h.receive(a, b"x") == b""
        assert h.peer_close(a) == b""
        assert h.feed(b"abc\x1b") == OK + crlf("1, CONNECT OK") + b"\r\n+RECEIVE,0,1:\r\nx" + crlf("0, CLOSED")

    def test_ciprxget_urc_during_prompt_waits(self) -> None:
        h = Harness()
        h.at("AT+CIPRXGET=1")
        sock, _ = h.open_single()
        h.at("AT+CIPSEND=1")
        assert h.receive(sock, b"abc") == b""
        assert h.feed(b"x") == crlf("SEND OK") + crlf("+CIPRXGET: 1")

    def test_urc_during_a_pending_command_follows_its_result(self) -> None:
        # Data arrives while AT+SAPBR=1,1 is pending: printed after its OK.
        h = Harness(config=ModemConfig(timing=Timing(sapbr=1.0)))
        h.multi_up()
        sock, _ = h.open_multi(0)
        assert h.at("AT+SAPBR=1,1") == b""
        assert h.receive(sock, b"data") == b""
        assert h.peer_close(sock) == b""
        assert h.advance(1.0) == OK + b"\r\n+RECEIVE,0,4:\r\ndata" + crlf("0, CLOSED")

    def test_urc_during_ciicr_follows_its_ok(self) -> None:
        # A CDNSGIP answer and the boot URCs arriving while CIICR is pending.
        h = Harness(config=ModemConfig(timing=Timing(ciicr=2.0)))
        h.bring_up()
        assert h.at('AT+CDNSGIP="x.test"') == OK
        assert h.at("AT+CIPSHUT") == crlf("SHUT OK")
        assert h.at("AT+CSTT") == OK
        assert h.at("AT+CIICR") == b""
        assert h.resolved(("1.1.1.1",)) == b""
        assert h.advance(1.0) == b""
        assert h.advance(1.0) == OK + crlf('+CDNSGIP: 1,"x.test","1.1.1.1"')

    def test_boot_urcs_during_ciicr(self) -> None:
        h = Harness(config=ModemConfig(timing=Timing(ciicr=0.5, boot_urcs=0.2, sim_busy=0.4)))
        assert h.at("AT+CFUN=1,1") == OK
        h.m.settings.echo = False
        assert h.at("AT+CSTT") == OK
        assert h.at("AT+CIICR") == b""
        assert h.advance(0.45) == b""
        assert h.advance(0.05) == OK + crlf("+CFUN: 1", "+CPIN: READY", "Call Ready", "SMS Ready")

    def test_commands_typed_while_pending_run_afterwards(self) -> None:
        h = Harness(config=ModemConfig(timing=Timing(ciicr=1.0)))
        h.at("AT+CSTT")
        assert h.at("AT+CIICR") == b""
        assert h.at("AT+CIPSTATUS") == b""
        assert h.feed(b"AT\r\n") == b""
        assert h.advance(1.0) == OK + OK + crlf("STATE: IP GPRSACT") + OK

    def test_rest_of_a_chain_runs_after_a_pending_command(self) -> None:
        h = Harness(config=ModemConfig(timing=Timing(ciicr=1.0)))
        h.at("AT+CSTT")
        assert h.at("AT+CIICR;+CIFSR;E0") == b""
        assert h.advance(1.0) == crlf("10.78.245.128") + OK

    def test_cgatt_0_urc_follows_ok(self) -> None:
        h = Harness()
        h.open_single()
        assert h.at("AT+CGATT=0") == OK + crlf("+PDP: DEACT")

    def test_push_does_not_split_an_echoed_command(self) -> None:
        h = Harness()
        h.multi_up()
        sock, _ = h.open_multi(0)
        h.m.settings.echo = True
        assert h.feed(b"AT+CS") == b"AT+CS"
        assert h.receive(sock, b"xy") == b""
        assert h.feed(b"Q\r") == b"Q\r" + block("+CSQ: 24,0") + OK + b"\r\n+RECEIVE,0,2:\r\nxy"

    def test_push_while_echo_off_and_line_partly_typed(self) -> None:
        # With echo off nothing of the command is on the wire yet: the push may
        # go out at once.
        h = Harness()
        h.multi_up()
        sock, _ = h.open_multi(0)
        assert h.feed(b"AT+CS") == b""
        assert h.receive(sock, b"xy") == b"\r\n+RECEIVE,0,2:\r\nxy"
        assert h.feed(b"Q\r") == block("+CSQ: 24,0") + OK

    def test_deferred_push_keeps_the_window_closed(self) -> None:
        # Pushed data that waits behind a prompt still fills the window: it
        # is granted back only once it is out on the serial line.
        h = Harness()
        sock, _ = h.open_single()
        h.at("AT+CIPSEND")
        h.receive(sock, b"x" * 2000)
        assert h.credits[sock] == 0
        out = h.feed(b"\x1b")
        assert out == OK + b"x" * 2000
        assert h.credits[sock] == 2000

    def test_push_blocks_are_at_most_1460(self) -> None:
        h = Harness()
        h.at("AT+CIPHEAD=1")
        sock, _ = h.open_single()
        out = h.receive(sock, b"y" * 2920)
        assert out == (b"\r\n+IPD,1460:" + b"y" * 1460) * 2
        assert h.credits[sock] == 2920
