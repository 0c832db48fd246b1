"""The IP context and the modes: CIPMUX, CIPMODE, CSTT, CIICR, CIFSR,
CIPSHUT, CIPSTATUS (single link), the saved TCP/IP settings (CIPSCONT) and
DNS (CDNSCFG, CDNSGIP). Manual 3.4-3.12, 3.17-3.22, 4.2.9, 4.2.10; SPEC
table; cmd-state-refusals.txt, cmd-cipshut-any-state.txt,
cmd-cipstatus-single-states.txt, 4.2.9-save-query-config.txt, 4.2.10-dns.txt.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from harness import ERROR, OK, Harness, block, crlf

from sim800emu.core.config import ModemConfig, Radio, Timing
from sim800emu.core.events import Resolve
from sim800emu.core.settings import PROFILE_KEYS, TCPIP_KEYS, Settings

IP = "10.78.245.128"

LISTING_DEFAULT = (
    "+CIPCSGP:1",
    "Gprs Config APN:cmnet",
    "Gprs Config UserId:",
    "Gprs Config Password:",
    "+CLPORT:0,0",
    "+CIPHEAD:0",
    "+CIPSHOWTP:0",
    "+CIPSRIPIP:0",
    "+CIPATS:0,0",
    "+CIPSPRT:1",
    "+CIPMODE:0",
    "+CIPCCFG:3,2,1024,1",
    "+CIPMUX:0",
    "+CIPDPDP:1,10,3",
)
LISTING_CHANGED = (
    "+CIPCSGP:1",
    "Gprs Config APN:internet",
    "Gprs Config UserId:user",
    "Gprs Config Password:pwd",
    "+CLPORT:2020,3030",
    "+CIPHEAD:1",
    "+CIPSHOWTP:1",
    "+CIPSRIPIP:1",
    "+CIPATS:1,10",
    "+CIPSPRT:2",
    "+CIPMODE:1",
    "+CIPCCFG:5,4,512,1",
    "+CIPMUX:0",
    "+CIPDPDP:1,60,5",
)
CHANGES = (
    'AT+CIPCSGP=1,"internet","user","pwd"',
    'AT+CLPORT="TCP",2020',
    'AT+CLPORT="UDP",3030',
    "AT+CIPHEAD=1",
    "AT+CIPSHOWTP=1",
    "AT+CIPSRIP=1",
    "AT+CIPATS=1,10",
    "AT+CIPSPRT=2",
    "AT+CIPMODE=1",
    "AT+CIPCCFG=5,4,512,1",
    "AT+CIPDPDP=1,60,5",
)


# ---------------------------------------------------------------- CIPMUX / CIPMODE


def test_mux_and_mode_refusals() -> None:
    # cmd-state-refusals.txt, cmd-forms-mux-mode.txt
    h = Harness()
    assert h.at("AT+CIPMODE=1") == OK
    assert h.at("AT+CIPMUX=1") == ERROR  # SPEC: =1 refused while CIPMODE=1
    assert h.at("AT+CIPMODE=0") == OK
    assert h.at("AT+CIPMUX=1") == OK
    assert h.at("AT+CIPMODE=1") == ERROR  # single link only
    assert h.at("AT+CIPMODE=0") == OK  # re-sending 0 is fine
    assert h.at("AT+CIPMUX=1") == OK  # re-sending the current value in IP INITIAL
    assert h.at("AT+CIPMUX=0") == OK
    assert h.at('AT+CSTT="CMNET","",""') == OK
    assert h.at("AT+CIPMUX=1") == ERROR  # only in IP INITIAL
    assert h.at("AT+CIPMODE=1") == ERROR
    assert h.at("AT+CIPMUX?") == block("+CIPMUX: 0") + OK
    assert h.at("AT+CIPMODE?") == block("+CIPMODE: 0") + OK


@pytest.mark.parametrize("line", ["AT+CIPMUX=0", "AT+CIPMUX=1", "AT+CIPMODE=0", "AT+CIPMODE=1"])
def test_mux_mode_refused_with_context_up(line: str) -> None:
    h = Harness()
    h.bring_up()
    assert h.at(line) == ERROR
    h.at("AT+CMEE=2")
    assert h.at(line) == crlf("+CME ERROR: operation not allowed")


# ---------------------------------------------------------------- CSTT / CIICR


def test_cstt_forms_and_refusals() -> None:
    # cmd-forms-apn.txt, cmd-state-refusals.txt
    h = Harness()
    assert h.at("AT+CSTT?") == block('+CSTT: "CMNET","",""') + OK
    assert h.at('AT+CSTT="internet","user","pwd"') == OK
    assert h.at("AT+CSTT?") == block('+CSTT: "internet","user","pwd"') + OK
    assert h.at("AT+CIPSTATUS") == OK + crlf("STATE: IP START")
    assert h.at('AT+CSTT="CMNET","",""') == ERROR  # twice
    assert h.at("AT+CSTT") == ERROR


def test_cstt_with_apn_only() -> None:
    # reference 3: AF/CPF may send only AT+CSTT="apn".
    h = Harness()
    assert h.at('AT+CSTT="apn"') == OK
    assert h.at("AT+CSTT?") == block('+CSTT: "apn","",""') + OK


def test_ciicr_refusals() -> None:
    h = Harness()
    assert h.at("AT+CIICR") == ERROR  # before CSTT
    h.bring_up(cifsr=False)
    assert h.at("AT+CIICR") == ERROR  # twice
    assert h.at("AT+CSTT") == ERROR
    assert h.at("AT+CIPSTATUS") == OK + crlf("STATE: IP GPRSACT")


def test_ciicr_is_pending_until_the_network_answers() -> None:
    h = Harness(config=ModemConfig(timing=Timing(ciicr=3.0)))
    h.at("AT+CSTT")
    assert h.at("AT+CIICR") == b""
    assert h.advance(2.9) == b""
    assert h.advance(0.1) == OK
    assert h.m.ip.ctx.value == "IP GPRSACT"


def test_ciicr_refused_when_gprs_not_registered() -> None:
    h = Harness(config=ModemConfig(radio=Radio(cgreg_stat=2)))
    h.at("AT+CSTT")
    assert h.at("AT+CIICR") == ERROR
    h.at("AT+CMEE=1")
    assert h.at("AT+CIICR") == crlf("+CME ERROR: 3")


def test_cipshut_typed_during_ciicr_runs_after_it() -> None:
    # The CIPSHUT is typed while CIICR runs: it waits, then runs after OK.
    h = Harness(config=ModemConfig(timing=Timing(ciicr=1.0)))
    h.at("AT+CSTT")
    h.at("AT+CIICR")
    assert h.at("AT+CIPSHUT") == b""
    assert h.advance(1.0) == OK + crlf("SHUT OK")
    assert h.at("AT+CIPSTATUS") == OK + crlf("STATE: IP INITIAL")


# ---------------------------------------------------------------- CIFSR


def _gprsact() -> Harness:
    h = Harness()
    h.bring_up(cifsr=False)
    return h


def _status() -> Harness:
    h = Harness()
    h.bring_up()
    return h


def _connect_ok() -> Harness:
    h = Harness()
    h.open_single()
    return h


def _ip_close() -> Harness:
    h = _connect_ok()
    h.at("AT+CIPCLOSE")
    return h


def _tcp_closed() -> Harness:
    h = Harness()
    sock, _ = h.open_single()
    h.peer_close(sock)
    return h


def _connecting() -> Harness:
    h = _status()
    h.at('AT+CIPSTART="TCP","1.2.3.4",80')
    return h


def _listening() -> Harness:
    h = _status()
    h.at("AT+CIPSERVER=1,3000")
    h.listening()
    return h


def _processing() -> Harness:
    h = Harness()
    h.multi_up()
    h.open_multi(0)
    return h


CIFSR_OK: dict[str, tuple[Callable[[], Harness], str]] = {
    "IP GPRSACT": (_gprsact, "IP STATUS"),
    "IP STATUS": (_status, "IP STATUS"),
    "TCP CONNECTING": (_connecting, "TCP CONNECTING"),
    "CONNECT OK": (_connect_ok, "CONNECT OK"),
    "IP CLOSE": (_ip_close, "IP CLOSE"),
    "TCP CLOSED": (_tcp_closed, "TCP CLOSED"),
    "SERVER LISTENING": (_listening, "SERVER LISTENING"),
}


@pytest.mark.parametrize("state", list(CIFSR_OK))
def test_cifsr_allowed_with_an_active_context(state: str) -> None:
    # SPEC: CIFSR in every state with an active context; no OK.
    setup, after = CIFSR_OK[state]
    h = setup()
    h.take()
    assert h.at("AT+CIPSTATUS") == OK + crlf(f"STATE: {state}")
    assert h.at("AT+CIFSR") == crlf(IP)
    assert h.at("AT+CIPSTATUS") == OK + crlf(f"STATE: {after}")


def test_cifsr_in_ip_processing() -> None:
    h = _processing()
    assert h.at("AT+CIFSR") == crlf(IP)


def test_cifsr_during_single_step_connecting() -> None:
    h = Harness()
    h.at('AT+CIPSTART="TCP","1.2.3.4",80')
    assert h.at("AT+CIPSTATUS") == OK + crlf("STATE: TCP CONNECTING")
    assert h.at("AT+CIFSR") == crlf(IP)


def test_cifsr_refused_without_a_context() -> None:
    # SPEC: ERROR in IP INITIAL, IP START, PDP DEACT (IP CONFIG is busy: CIICR pending).
    h = Harness()
    assert h.at("AT+CIFSR") == ERROR
    h.at("AT+CSTT")
    assert h.at("AT+CIFSR") == ERROR
    h.at("AT+CIICR")
    h.run_timers()
    h.at("AT+CIFSR")
    h.at("AT+CGATT=0")
    assert h.at("AT+CIPSTATUS") == OK + crlf("STATE: PDP DEACT")
    assert h.at("AT+CIFSR") == ERROR


# ---------------------------------------------------------------- CIPSHUT (cmd-cipshut-any-state)


@pytest.mark.parametrize(
    "setup",
    [Harness, _gprsact, _status, _connect_ok, _ip_close, _tcp_closed, _connecting, _listening, _processing],
)
def test_cipshut_in_any_state(setup: Callable[[], Harness]) -> None:
    h = setup()
    h.take()
    assert h.at("AT+CIPSHUT") == b"\r\nSHUT OK\r\n"
    assert h.run_timers() == b""
    st = h.at("AT+CIPSTATUS")
    assert st.startswith(OK + crlf("STATE: IP INITIAL"))
    for c in h.connects:
        pytest.fail(f"connect still pending: {c}")


def test_cipshut_in_ip_start() -> None:
    h = Harness()
    h.at("AT+CSTT")
    assert h.at("AT+CIPSHUT") == crlf("SHUT OK")
    assert h.at("AT+CIPSTATUS") == OK + crlf("STATE: IP INITIAL")


def test_cipshut_closes_links_and_server_silently() -> None:
    h = _listening()
    c, _ = h.accept()
    assert h.at("AT+CIPSHUT") == crlf("SHUT OK")
    assert any(r.sock == c for r in h.closed)
    assert h.listens == []
    assert h.peer_close(c) == b""


def test_cipshut_during_single_step_activation() -> None:
    h = Harness()
    h.at('AT+CIPSTART="TCP","1.2.3.4",80')
    assert h.at("AT+CIPSHUT") == crlf("SHUT OK")
    assert "ctx-up" not in h.timers
    assert h.run_timers() == b""
    assert h.connects == []


# ---------------------------------------------------------------- CIPSTATUS single (cmd-cipstatus-single-states)


def test_cipstatus_single_state_walk() -> None:
    h = Harness()
    assert h.at("AT+CIPSTATUS") == b"\r\nOK\r\n\r\nSTATE: IP INITIAL\r\n"  # 4.2.8-status-single
    h.at('AT+CSTT="CMNET","",""')
    assert h.at("AT+CIPSTATUS") == OK + crlf("STATE: IP START")
    h.at("AT+CIICR")
    h.run_timers()
    assert h.at("AT+CIPSTATUS") == OK + crlf("STATE: IP GPRSACT")
    h.at("AT+CIFSR")
    assert h.at("AT+CIPSTATUS") == OK + crlf("STATE: IP STATUS")
    h.at('AT+CIPSTART="TCP","127.0.0.1",5000')
    assert h.at("AT+CIPSTATUS") == OK + crlf("STATE: TCP CONNECTING")
    sock, _ = h.connected()
    assert h.at("AT+CIPSTATUS") == b"\r\nOK\r\n\r\nSTATE: CONNECT OK\r\n"
    assert h.peer_close(sock) == crlf("CLOSED")
    assert h.at("AT+CIPSTATUS") == OK + crlf("STATE: TCP CLOSED")
    h.at("AT+CIPSHUT")
    assert h.at("AT+CIPSTATUS") == OK + crlf("STATE: IP INITIAL")
    h.open_single("127.0.0.1", 5001)
    h.at("AT+CIPCLOSE")
    assert h.at("AT+CIPSTATUS") == OK + crlf("STATE: IP CLOSE")


def test_cipstatus_udp_states() -> None:
    h = Harness()
    h.bring_up()
    h.at('AT+CIPSTART="UDP","1.2.3.4",53')
    assert h.at("AT+CIPSTATUS") == OK + crlf("STATE: UDP CONNECTING")
    sock, _ = h.connected()
    assert h.at("AT+CIPSTATUS") == OK + crlf("STATE: CONNECT OK")
    h.peer_close(sock)
    assert h.at("AT+CIPSTATUS") == OK + crlf("STATE: UDP CLOSED")


def test_cipstatus_single_has_no_link_lines() -> None:
    h = _connect_ok()
    out = h.at("AT+CIPSTATUS")
    assert b"C: " not in out
    assert out.count(b"\r\n") == 4


# ---------------------------------------------------------------- CIPSCONT (4.2.9)


def test_cipscont_listing_default_then_changed_and_saved() -> None:
    h = Harness()
    assert h.at("AT+CIPSCONT?") == block(*LISTING_DEFAULT) + OK
    for line in CHANGES:
        assert h.at(line) == OK, line
    # The listing shows the current values even before saving.
    assert h.at("AT+CIPSCONT?") == block(*LISTING_CHANGED) + OK
    assert h.saves == []
    assert h.at("AT+CIPSCONT") == OK
    assert h.at("AT+CIPSCONT?") == block(*LISTING_CHANGED) + OK
    saved = h.saves[-1].settings
    expected = {**Settings().to_dict(), **h.m.settings.to_dict()}
    for key in TCPIP_KEYS:
        assert saved[key] == expected[key], key
    for key in PROFILE_KEYS:
        assert key not in saved, key  # CIPSCONT saves the TCP/IP settings only
    assert saved["csgp_apn"] == "internet"
    assert saved["clport_tcp"] == 2020
    assert saved["cipsprt"] == 2
    assert saved["dpdp_interval"] == 60


def test_cipscont_listing_csd_bearer() -> None:
    # manual 3.18: CSD parameters (dial number, user, password, rate).
    h = Harness()
    assert h.at('AT+CIPCSGP=0,"12345","u","p",3') == OK
    assert h.at("AT+CIPCSGP?") == block('+CIPCSGP: 0,"12345","u","p",3') + OK
    out = h.at("AT+CIPSCONT?")
    assert out.startswith(
        block(
            "+CIPCSGP:0",
            "Csd Config Dial Number:12345",
            "Csd Config UserId:u",
            "Csd Config Password:p",
            "Csd Config Rate:3",
            "+CLPORT:0,0",
        )[:-2]
    )


def test_saved_tcpip_settings_are_loaded() -> None:
    # SPEC: saved settings survive a restart of the emulator.
    h1 = Harness()
    for line in CHANGES:
        h1.at(line)
    h1.at("AT+CIPSCONT")
    h2 = Harness(saved=h1.saves[-1].settings)
    assert h2.at("AT+CIPSCONT?") == block(*LISTING_CHANGED) + OK
    assert h2.at("AT+CIPMODE?") == block("+CIPMODE: 1") + OK


def test_unsaved_changes_are_lost_on_reboot_saved_ones_kept() -> None:
    h = Harness()
    h.at("AT+CIPHEAD=1")
    h.at("AT+CIPSCONT")
    h.at("AT+CIPSPRT=0")
    assert h.at("AT+CFUN=1,1") == OK
    h.run_timers()
    h.m.settings.echo = False
    h.take()
    assert h.at("AT+CIPHEAD?") == block("+CIPHEAD: 1") + OK
    assert h.at("AT+CIPSPRT?") == block("+CIPSPRT: 1") + OK


def test_at_w_and_cipscont_accumulate_in_one_saved_profile() -> None:
    h = Harness()
    h.at("AT+CIPHEAD=1")
    h.at("AT+CIPSCONT")
    h.at("AT+CMEE=2")
    h.at("AT&W")
    saved = h.saves[-1].settings
    assert saved["ciphead"] == 1
    assert saved["cmee"] == 2
    assert set(saved) == set(TCPIP_KEYS) | set(PROFILE_KEYS)


def test_saved_file_with_bad_entries_is_tolerated() -> None:
    h = Harness(saved={"cipsprt": "two", "ciphead": 1, "unknown_key": 5})
    assert h.at("AT+CIPSPRT?") == block("+CIPSPRT: 1") + OK
    assert h.at("AT+CIPHEAD?") == block("+CIPHEAD: 1") + OK


# ---------------------------------------------------------------- other settings round trips


@pytest.mark.parametrize(
    ("write", "read", "shown"),
    [
        ("AT+CIPCCFG=5,4,512,0", "AT+CIPCCFG?", "+CIPCCFG: 5,4,512,0"),
        ("AT+CIPCCFG=8,10,1460,1,0,1460,50", "AT+CIPCCFG?", "+CIPCCFG: 8,10,1460,1"),
        ("AT+CIPDPDP=0", "AT+CIPDPDP?", "+CIPDPDP: 0,10,3"),
        ("AT+CIPDPDP=1,180,10", "AT+CIPDPDP?", "+CIPDPDP: 1,180,10"),
        ('AT+CIPCSGP=1,"apn"', "AT+CIPCSGP?", '+CIPCSGP: 1,"apn","",""'),
        ("AT+CIPQSEND=1", "AT+CIPQSEND?", "+CIPQSEND: 1"),
        ("AT+CIPSSL=1", "AT+CIPSSL?", "+CIPSSL: 1"),
        ("AT+IPR=9600", "AT+IPR?", "+IPR: 9600"),
    ],
)
def test_setting_round_trip(write: str, read: str, shown: str) -> None:
    h = Harness()
    assert h.at(write) == OK
    assert h.at(read) == block(shown) + OK


def test_clport_two_line_read_form() -> None:
    # cmd-forms-ccfg-clport.txt / manual 3.17
    h = Harness()
    assert h.at('AT+CLPORT="TCP",2020') == OK
    assert h.at("AT+CLPORT?") == block("TCP: 2020", "UDP: 0") + OK
    assert h.at('AT+CLPORT="udp",7') == OK
    assert h.at("AT+CLPORT?") == block("TCP: 2020", "UDP: 7") + OK


# ---------------------------------------------------------------- DNS (4.2.10, cmd-forms-dpdp-dns)


def test_cdnscfg_write_and_read() -> None:
    h = _status()
    assert h.at('AT+CDNSCFG="127.0.0.1","127.0.0.2"') == OK
    assert h.at("AT+CDNSCFG?") == block("PrimaryDns: 127.0.0.1", "SecondaryDns: 127.0.0.2") + OK
    assert h.at('AT+CDNSCFG="8.8.8.8"') == OK
    assert h.at("AT+CDNSCFG?") == block("PrimaryDns: 8.8.8.8", "SecondaryDns: 127.0.0.2") + OK


def test_cdnsgip_resolves_through_the_configured_servers() -> None:
    h = _status()
    h.at('AT+CDNSCFG="127.0.0.1","127.0.0.2"')
    assert h.at('AT+CDNSGIP="echo.test"') == OK
    assert h.resolves == [Resolve(1, "echo.test", ("127.0.0.1", "127.0.0.2"))]
    assert h.resolved(("127.0.0.1",)) == crlf('+CDNSGIP: 1,"echo.test","127.0.0.1"')


def test_cdnsgip_unquoted_name() -> None:
    # 4.2.10: the application note allows an unquoted name.
    h = _status()
    assert h.at("AT+CDNSGIP=echo.test") == OK
    assert h.resolves[-1].name == "echo.test"
    assert h.resolved(("127.0.0.1",)) == crlf('+CDNSGIP: 1,"echo.test","127.0.0.1"')


def test_cdnsgip_two_addresses_on_one_line() -> None:
    # SPEC: +CDNSGIP: 1,"<name>","<ip1>"[,"<ip2>"] on one line.
    h = _status()
    h.at('AT+CDNSGIP="www.baidu.com"')
    out = h.resolved(("119.75.218.45", "119.75.217.56", "1.1.1.1"))
    assert out == crlf('+CDNSGIP: 1,"www.baidu.com","119.75.218.45","119.75.217.56"')


@pytest.mark.parametrize(("error", "code"), [(0, "8"), (8, "8"), (3, "3"), (5, "5")])
def test_cdnsgip_failure_codes(error: int, code: str) -> None:
    # 4.2.10 decided: a name that does not exist gives 8; manual 3.12 codes 1-8.
    h = _status()
    h.at('AT+CDNSGIP="nx.test"')
    assert h.resolved((), error) == crlf(f"+CDNSGIP: 0,{code}")


def test_cdnsgip_ip_literal_answers_as_resolved() -> None:
    # SPEC: an IP address answers as if resolved, no query.
    h = _status()
    assert h.at('AT+CDNSGIP="127.0.0.1"') == OK + crlf('+CDNSGIP: 1,"127.0.0.1","127.0.0.1"')
    assert h.resolves == []


def test_cdnsgip_needs_a_context() -> None:
    h = Harness()
    assert h.at('AT+CDNSGIP="echo.test"') == ERROR
    h.at("AT+CSTT")
    assert h.at('AT+CDNSGIP="echo.test"') == ERROR
    h = _gprsact()
    assert h.at('AT+CDNSGIP="echo.test"') == OK


def test_two_queries_answered_in_any_order() -> None:
    h = _status()
    h.at('AT+CDNSGIP="a.test"')
    h.at('AT+CDNSGIP="b.test"')
    a, b = h.resolves
    h.resolves = [b, a]
    assert h.resolved(("2.2.2.2",)) == crlf('+CDNSGIP: 1,"b.test","2.2.2.2"')
    assert h.resolved(("1.1.1.1",)) == crlf('+CDNSGIP: 1,"a.test","1.1.1.1"')
    h.resolves = [a]
    assert h.resolved(("9.9.9.9",)) == b""  # answered twice: ignored


def test_default_dns_servers_are_not_sent() -> None:
    h = _status()
    h.at('AT+CDNSGIP="x.test"')
    assert h.resolves[-1].dns == ()
