"""Basics and the radio: AT&W / ATZ / AT&F, AT+CFUN (and the reboot with its
URCs on the fake clock), AT+CPOWD, AT+CCLK, registration (+CREG/+CGREG and
their URCs), AT+CGATT, the bearer commands client libraries send (SAPBR,
CGDCONT, CGACT, CNTP, CIPPING). Reference 1, 4, 6, 8; manual 3.1-3.3, 4.1;
SPEC start-up decision; cmd-basic-startup.txt, cmd-forms-network.txt.
"""

from __future__ import annotations

import pytest
from harness import ERROR, OK, Harness, block, crlf

from sim800emu.core.config import ModemConfig, Radio, Timing
from sim800emu.core.events import Close, NtpSync, NtpTime, Reboot, StopListen
from sim800emu.core.settings import PROFILE_KEYS

# ---------------------------------------------------------------- start-up (SPEC)


def test_settled_modem_prints_nothing_until_the_first_command() -> None:
    h = Harness(echo=True)
    assert h.take() == b""
    assert h.run_timers() == b""
    assert h.timers == {}
    assert h.at("AT") == b"AT\r\r\nOK\r\n"


def test_cold_boot_prints_the_boot_urcs() -> None:
    h = Harness(config=ModemConfig(cold_boot=True), echo=True)
    assert h.take() == b""
    assert h.advance(0.2) == crlf("+CFUN: 1")  # no RDY with autobaud (reference 9.9)
    assert h.advance(0.8) == crlf("+CPIN: READY", "Call Ready", "SMS Ready")


def test_basic_startup_sequence() -> None:
    # cmd-basic-startup.txt
    h = Harness()
    assert h.at("AT") == OK
    assert h.at("ATI") == block("SIM800 R14.18") + OK
    assert h.at("AT+GSN") == block("868183038764457") + OK
    assert h.at("AT+CCID") == block("89445018101802445400") + OK
    assert h.at("AT+CPIN?") == block("+CPIN: READY") + OK
    assert h.at("AT+CSQ") == block("+CSQ: 24,0") + OK
    assert h.at("AT+CREG?") == block("+CREG: 0,1") + OK
    assert h.at("AT+CGREG?") == block("+CGREG: 0,1") + OK
    assert h.at("AT+CGATT?") == block("+CGATT: 1") + OK


def test_identity_is_configurable() -> None:
    from sim800emu.core.config import Identity

    h = Harness(config=ModemConfig(identity=Identity(imei="111111111111111", firmware="SIM800 R13.08")))
    assert h.at("AT+CGSN") == block("111111111111111") + OK
    assert h.at("ATI") == block("SIM800 R13.08") + OK


# ---------------------------------------------------------------- profile: &W, Z, &F


def test_at_w_saves_the_user_profile_only() -> None:
    h = Harness()
    h.at("AT+CMEE=2")
    h.at("AT+CIPHEAD=1")
    assert h.at("AT&W") == OK
    saved = h.saves[-1].settings
    assert set(saved) == set(PROFILE_KEYS)  # the manual's AT&W table (2.2.32)
    assert "ciphead" not in saved
    assert saved["cmee"] == 2 and saved["echo"] is False and saved["ciurc"] == 1


def test_atz_restores_the_saved_profile() -> None:
    h = Harness()
    h.at("AT+CMEE=1")
    h.at("AT&W")
    h.at("AT+CMEE=2")
    h.at("ATE1")
    assert h.at("ATZ") == b"ATZ\r" + OK  # the ATZ line is still echoed
    assert h.at("AT+CMEE?") == block("+CMEE: 1") + OK


def test_at_f_restores_factory_profile() -> None:
    h = Harness(echo=True)
    h.at("ATE0")
    h.at("AT+CMEE=2")
    h.at("AT+CREG=1")
    h.at("ATV0")
    assert h.at("AT&F") == OK  # verbose again for its own result
    assert h.at("AT") == b"AT\r" + OK  # echo back on
    h.at("ATE0")
    assert h.at("AT+CMEE?") == block("+CMEE: 0") + OK
    assert h.at("AT+CREG?") == block("+CREG: 0,1") + OK


def test_at_f_keeps_tcpip_settings_and_saved_profile() -> None:
    # The TCP/IP settings belong to CIPSCONT (manual 4.2.9), not to the profile.
    h = Harness()
    h.at("AT+CIPSPRT=0")
    h.at("AT&F")
    h.at("ATE0")
    assert h.at("AT+CIPSPRT?") == block("+CIPSPRT: 0") + OK
    assert h.saves == []


def test_saved_profile_loaded_at_start() -> None:
    h = Harness(saved={"verbose": False, "cmee": 1}, echo=True)
    h.m.settings.echo = True
    assert h.at("AT") == b"AT\r0\r"
    assert h.at("AT+CIPCLOSE") == b"AT+CIPCLOSE\r+CME ERROR: 3\r\n"


# ---------------------------------------------------------------- AT+CFUN=1,1 (reference 6)


def test_reboot_urcs_after_timers_and_sim_busy() -> None:
    h = Harness(echo=True)
    h.at("ATE0")
    sock, _ = h.open_single()
    assert h.at("AT+CFUN=1,1") == OK
    assert Reboot() in h.requests
    assert Close(sock, False) in h.closed
    # Echo is back to its saved default (on) after the restart.
    assert h.at("AT") == b"AT\r" + OK
    assert h.at("AT+CPIN?") == b"AT+CPIN?\r" + ERROR  # SIM busy, CMEE=0
    assert h.advance(0.19) == b""
    assert h.advance(0.01) == crlf("+CFUN: 1")
    assert h.at("AT+CPIN?") == b"AT+CPIN?\r" + ERROR
    assert h.advance(0.79) == b""
    assert h.advance(0.01) == crlf("+CPIN: READY", "Call Ready", "SMS Ready")
    assert h.at("AT+CPIN?") == b"AT+CPIN?\r" + block("+CPIN: READY") + OK
    assert h.at("AT+CIPSTATUS") == b"AT+CIPSTATUS\r" + OK + crlf("STATE: IP INITIAL")
    assert h.peer_close(sock) == b""  # the old link is gone


def test_reboot_prints_rdy_with_a_fixed_rate() -> None:
    # reference 9.9 / 4: RDY only when IPR is a fixed rate.
    h = Harness()
    h.at("AT+IPR=115200")
    h.at("AT&W")
    h.at("AT+CFUN=1,1")
    assert h.run_timers() == crlf("RDY", "+CFUN: 1", "+CPIN: READY", "Call Ready", "SMS Ready")


def test_reboot_drops_the_server_and_keeps_saved_settings() -> None:
    h = Harness(saved={"echo": False, "cipsprt": 0})
    h.bring_up()
    h.at("AT+CIPSPRT=2")
    h.at("AT+CIPSERVER=1,3000")
    h.listening()
    h.at("AT+CFUN=1,1")
    assert StopListen(1) in h.requests
    h.run_timers()
    assert h.at("AT+CIPSPRT?") == block("+CIPSPRT: 0") + OK
    assert h.at("AT+CIPSERVER?") == block("+CIPSERVER: 0,0") + OK


def test_reboot_timing_is_configurable() -> None:
    h = Harness(config=ModemConfig(timing=Timing(boot_urcs=1.0, sim_busy=3.0)))
    h.at("AT+CFUN=1,1")
    assert h.advance(0.99) == b""
    assert h.advance(0.01) == crlf("+CFUN: 1")
    assert h.advance(1.99) == b""
    assert h.advance(0.01) == crlf("+CPIN: READY", "Call Ready", "SMS Ready")


def test_boot_urcs_wait_for_a_pending_command() -> None:
    h = Harness(config=ModemConfig(timing=Timing(sapbr=5.0)))
    h.at("AT+CFUN=1,1")
    h.m.settings.echo = False
    assert h.at("AT+SAPBR=1,1") == b""
    assert h.advance(1.0) == b""
    assert h.advance(4.0) == OK + crlf("+CFUN: 1", "+CPIN: READY", "Call Ready", "SMS Ready")


# ---------------------------------------------------------------- AT+CFUN=0/4/1


def test_cfun_0_and_back() -> None:
    h = Harness()
    h.bring_up()
    out = h.at("AT+CFUN=0")  # exact URC placement: test_cfun_0_urcs_follow_ok
    parts = (OK, crlf("+PDP: DEACT"), crlf("+CPIN: NOT READY"))
    assert all(p in out for p in parts)
    assert len(out) == sum(len(p) for p in parts)
    assert h.at("AT+CFUN?") == block("+CFUN: 0") + OK
    assert h.at("AT+CSQ") == block("+CSQ: 99,99") + OK
    assert h.at("AT+CGATT?") == ERROR  # no SIM
    assert h.at("AT+CIPSTATUS") == OK + crlf("STATE: PDP DEACT")
    assert h.at("AT+CFUN=1") == OK + crlf("+CPIN: READY")
    assert h.at("AT+CREG?") == block("+CREG: 0,1") + OK
    assert h.at("AT+CIPSHUT") == crlf("SHUT OK")


def test_cfun_0_urcs_follow_ok() -> None:
    # SPEC: a URC is never printed inside a command's response; it follows.
    h = Harness()
    h.bring_up()
    assert h.at("AT+CFUN=0") == OK + crlf("+PDP: DEACT", "+CPIN: NOT READY")


def test_cfun_4_keeps_the_sim() -> None:
    h = Harness()
    assert h.at("AT+CFUN=4") == OK
    assert h.at("AT+CPIN?") == block("+CPIN: READY") + OK
    assert h.at("AT+CREG?") == block("+CREG: 0,0") + OK
    assert h.at("AT+CSQ") == block("+CSQ: 99,99") + OK
    h.at("AT+CSTT")
    assert h.at("AT+CIICR") == ERROR  # no radio
    assert h.at("AT+CFUN=1") == OK + crlf("+CPIN: READY")


def test_cfun_0_with_creg_urcs() -> None:
    h = Harness()
    h.at("AT+CREG=1")
    h.at("AT+CGREG=1")
    assert h.at("AT+CFUN=0") == OK + crlf("+CPIN: NOT READY", "+CREG: 0", "+CGREG: 0")
    assert h.at("AT+CFUN=1") == OK + crlf("+CPIN: READY", "+CREG: 1", "+CGREG: 1")


def test_creg_2_read_and_urc_when_registered() -> None:
    # cmd-forms-network.txt: <lac>,<ci> as 4 upper-case hex digits.
    h = Harness()
    h.at("AT+CREG=2")
    assert h.at("AT+CREG?") == block('+CREG: 2,1,"1A2B","3C4D"') + OK
    h.at("AT+CFUN=4")
    assert h.at("AT+CREG?") == block("+CREG: 2,0") + OK  # manual 3.1.1: only when registered
    assert h.at("AT+CFUN=1").endswith(crlf('+CREG: 1,"1A2B","3C4D"'))


def test_creg_2_urc_without_location_when_not_registered() -> None:
    h = Harness()
    h.at("AT+CREG=2")
    assert h.at("AT+CFUN=4") == OK + crlf("+CREG: 0")


def test_cpin_with_cfun_0_verbose_error() -> None:
    h = Harness()
    h.at("AT+CMEE=2")
    h.at("AT+CFUN=0")
    assert h.at("AT+CPIN?") == crlf("+CME ERROR: CFUN state is 0 or 4")


def test_roaming_registration() -> None:
    h = Harness(config=ModemConfig(radio=Radio(creg_stat=5, cgreg_stat=5)))
    assert h.at("AT+CREG?") == block("+CREG: 0,5") + OK
    assert h.at("AT+CGREG?") == block("+CGREG: 0,5") + OK
    h.at("AT+CSTT")
    h.at("AT+CIICR")
    assert h.run_timers() == OK


def test_cgreg_2_read() -> None:
    h = Harness()
    h.at("AT+CGREG=2")
    assert h.at("AT+CGREG?") == block('+CGREG: 2,1,"1A2B","3C4D"') + OK
    assert h.at("AT+CGREG=") == OK  # manual 3.2.1: AT+CGREG=[<n>]
    assert h.at("AT+CGREG?") == block("+CGREG: 0,1") + OK


# ---------------------------------------------------------------- CGATT (manual 3.3)


def test_cgatt_detach_and_attach() -> None:
    # cmd-forms-network.txt: detach and re-attach in IP INITIAL.
    h = Harness()
    assert h.at("AT+CGATT=0") == OK
    assert h.at("AT+CGATT?") == block("+CGATT: 0") + OK
    assert h.at("AT+CGATT=1") == OK
    assert h.at("AT+CGATT?") == block("+CGATT: 1") + OK


def test_cgatt_attach_is_pending_with_a_delay() -> None:
    h = Harness(config=ModemConfig(timing=Timing(cgatt=2.0)))
    h.at("AT+CGATT=0")
    assert h.at("AT+CGATT=1") == b""
    assert h.advance(1.9) == b""
    assert h.advance(0.1) == OK
    assert h.at("AT+CGATT?") == block("+CGATT: 1") + OK


def test_cgatt_refused_when_not_registered() -> None:
    h = Harness(config=ModemConfig(radio=Radio(creg_stat=2)))
    h.at("AT+CGATT=0")
    h.at("AT+CMEE=1")
    assert h.at("AT+CGATT=1") == crlf("+CME ERROR: 100")


def test_cgatt_0_tears_down_the_context() -> None:
    h = Harness()
    sock, _ = h.open_single()
    out = h.at("AT+CGATT=0")
    assert out.startswith(OK)  # the URC follows the response (SPEC)
    assert crlf("+PDP: DEACT") in out
    assert Close(sock, False) in h.closed
    assert h.at("AT+CIPSTATUS") == OK + crlf("STATE: PDP DEACT")


# ---------------------------------------------------------------- CPOWD


def test_cpowd_1_normal_power_down_and_silence() -> None:
    # reference 8.1: TinyGSM waits for NORMAL POWER DOWN; no OK.
    h = Harness()
    sock, _ = h.open_single()
    assert h.at("AT+CPOWD=1") == b"\r\nNORMAL POWER DOWN\r\n"
    assert h.powered_down
    assert Close(sock, False) in h.closed
    assert h.at("AT") == b""
    assert h.receive(sock, b"x") == b""
    assert h.run_timers() == b""


# ---------------------------------------------------------------- CCLK


def test_cclk_runs_on_the_fake_clock() -> None:
    h = Harness()
    assert h.at('AT+CCLK="21/05/06,23:59:58+00"') == OK
    h.advance(3.5)
    assert h.at("AT+CCLK?") == block('+CCLK: "21/05/07,00:00:01+00"') + OK


def test_cclk_starts_at_2004_after_power_on() -> None:
    h = Harness(now=1000.0)
    h.advance(61)
    assert h.at("AT+CCLK?") == block('+CCLK: "04/01/01,00:01:01+00"') + OK


# ---------------------------------------------------------------- misc settings


@pytest.mark.parametrize(
    ("write", "read", "shown"),
    [
        ("AT+CLTS=1", "AT+CLTS?", "+CLTS: 1"),
        ("AT+CVHU=1", "AT+CVHU?", "+CVHU: 1"),
        ("AT+CBATCHK=1", "AT+CBATCHK?", "+CBATCHK: 1"),
        ("AT+CSCLK=1", "AT+CSCLK?", "+CSCLK: 1"),
        ("AT+CIURC=0", "AT+CIURC?", "+CIURC: 0"),
        ("AT+CNTPCID=2", "AT+CNTPCID?", "+CNTPCID: 2"),
    ],
)
def test_write_is_read_back(write: str, read: str, shown: str) -> None:
    h = Harness()
    assert h.at(write) == OK
    assert h.at(read) == block(shown) + OK


@pytest.mark.parametrize("line", ["AT+CLTS=2", "AT+CVHU=2", "AT+CBATCHK=2"])
def test_value_outside_the_test_form_range_is_error(line: str) -> None:
    h = Harness()
    assert h.at(line) == ERROR


def test_ciurc_0_suppresses_call_ready() -> None:
    h = Harness()
    h.at("AT+CIURC=0")
    h.at("AT&W")
    h.at("AT+CFUN=1,1")
    assert b"Call Ready" not in h.run_timers()


# ---------------------------------------------------------------- bearer commands (reference 6, 8)


def test_tinygsm_gprs_connect_sequence() -> None:
    # reference 8.1 gprsConnect, step by step, every answer as TinyGSM expects.
    h = Harness()
    assert h.at("AT+CIPSHUT") == crlf("SHUT OK")
    assert h.at("AT+CGATT=0") == OK
    assert h.at('AT+SAPBR=3,1,"Contype","GPRS"') == OK
    assert h.at('AT+SAPBR=3,1,"APN","internet"') == OK
    assert h.at('AT+CGDCONT=1,"IP","internet"') == OK
    assert h.at("AT+CGACT=1,1") == OK
    assert h.at("AT+SAPBR=1,1") == b""
    assert h.run_timers() == OK
    assert h.at("AT+SAPBR=2,1") == block('+SAPBR: 1,1,"10.78.245.128"') + OK
    assert h.at("AT+CGATT=1") == OK
    assert h.at("AT+CIPMUX=1") == OK
    assert h.at("AT+CIPQSEND=1") == OK
    assert h.at("AT+CIPRXGET=1") == OK
    assert h.at('AT+CSTT="internet","",""') == OK
    assert h.at("AT+CIICR") == b""
    assert h.run_timers() == OK
    assert h.at("AT+CIFSR;E0") == crlf("10.78.245.128") + OK
    assert h.at('AT+CDNSCFG="8.8.8.8","8.8.4.4"') == OK
    assert h.at("AT+CIPSSL=0") == OK
    assert h.at('AT+CIPSTART=0,"TCP","1.2.3.4",80') == OK
    sock, out = h.connected()
    assert out == crlf("0, CONNECT OK")
    assert h.at("AT+CIPSEND=0,27") == b"\r\n> "
    assert h.feed(b"x" * 27) == crlf("DATA ACCEPT:0,27")
    assert h.at("AT+CIPRXGET=4,0") == block("+CIPRXGET: 4,0,0") + OK
    assert h.at("AT+CIPSTATUS=0") == block('+CIPSTATUS: 0,0,"TCP","1.2.3.4","80","CONNECTED"') + OK
    assert h.receive(sock, b"abcd") == crlf("+CIPRXGET: 1,0")
    assert h.at("AT+CIPRXGET=4,0") == block("+CIPRXGET: 4,0,4") + OK
    assert h.at("AT+CIPRXGET=2,0,4") == b"\r\n+CIPRXGET: 2,0,4,0\r\nabcd\r\nOK\r\n"
    assert h.at("AT+CIPCLOSE=0,1") == crlf("0, CLOSE OK")
    assert h.at("AT+CIPCLOSE=0,1") == ERROR


def test_sapbr_flow() -> None:
    h = Harness()
    assert h.at('AT+SAPBR=3,1,"APN","internet"') == OK
    assert h.at("AT+SAPBR=4,1") == block(
        "+SAPBR:", "CONTYPE: GPRS", "APN: internet", "PHONENUM: ", "USER: ", "PWD: ", "RATE: 2"
    ) + OK
    assert h.at("AT+SAPBR=2,1") == block('+SAPBR: 1,3,"0.0.0.0"') + OK
    assert h.at("AT+SAPBR=0,1") == ERROR  # not open
    h.at("AT+SAPBR=1,1")
    h.run_timers()
    assert h.at("AT+SAPBR=1,1") == ERROR  # already open
    assert h.at("AT+SAPBR=0,1") == b""  # closing takes a moment too
    assert h.run_timers() == OK
    assert h.at("AT+SAPBR=2,1") == block('+SAPBR: 1,3,"0.0.0.0"') + OK
    assert h.at("AT+SAPBR=3,1") == ERROR  # a tag is needed


def test_cgdcont_cgact_round_trip() -> None:
    h = Harness()
    h.at('AT+CGDCONT=1,"IP","apn.x"')
    assert h.at("AT+CGDCONT?") == block('+CGDCONT: 1,"IP","apn.x","0.0.0.0",0,0') + OK
    h.at("AT+CGACT=1,1")
    assert h.at("AT+CGACT?") == block("+CGACT: 1,1") + OK
    h.at("AT+CGACT=0,1")
    assert h.at("AT+CGACT?") == block("+CGACT: 1,0") + OK


def test_cntp_sequence() -> None:
    # reference 8.1: AT+CNTPCID=1, AT+CNTP="pool.ntp.org",0, AT+CNTP (wait +CNTP:)
    h = Harness()
    assert h.at("AT+CNTPCID=1") == OK
    assert h.at('AT+CNTP="pool.ntp.org",32') == OK
    assert h.at("AT+CNTP") == OK + crlf("+CNTP: 61")  # no bearer: network error
    h.bring_up()
    assert h.at("AT+CNTP") == OK
    (sync,) = [r for r in h.requests if isinstance(r, NtpSync)]
    assert sync.server == "pool.ntp.org" and sync.port == 123
    # 2026-11-26 09:30:00 UTC, zone +08:00 (32 quarters)
    assert h.handle(NtpTime(sync.query, 1795685400.0)) == crlf("+CNTP: 1")
    assert h.at("AT+CCLK?") == block('+CCLK: "26/11/26,17:30:00+32"') + OK
    assert h.at("AT+CNTP") == OK
    (again,) = [r for r in h.requests if isinstance(r, NtpSync) and r.query != sync.query]
    assert h.handle(NtpTime(again.query, None, 65)) == crlf("+CNTP: 65")


def test_cipping_replies_then_ok() -> None:
    # reference 3: one +CIPPING: <id>,"<ip>",<time>,<ttl> line per reply, then OK.
    h = Harness()
    h.bring_up()
    assert h.at('AT+CIPPING="1.2.3.4",2') == b""
    ping = h.pings[0]
    assert (ping.host, ping.count) == ("1.2.3.4", 2)
    assert h.ping_reply(1, "1.2.3.4", 260.0, 64) == crlf('+CIPPING: 1,"1.2.3.4",3,64')
    assert h.ping_reply(2, "1.2.3.4", None) == crlf('+CIPPING: 2,"1.2.3.4",600,255')
    assert h.ping_done() == OK


def test_cipping_failure_and_defaults() -> None:
    h = Harness()
    h.bring_up()
    h.at('AT+CIPPING="nx.test"')
    ping = h.pings[0]
    assert (ping.count, ping.size, ping.timeout, ping.ttl) == (4, 32, 10.0, 64)
    assert h.ping_done(error=True) == ERROR


def test_cipping_urcs_wait_for_its_ok() -> None:
    h = Harness()
    h.multi_up()
    sock, _ = h.open_multi(0)
    h.at('AT+CIPPING="1.2.3.4",1')
    assert h.receive(sock, b"x") == b""
    assert h.ping_reply(1, "1.2.3.4", 100.0) == crlf('+CIPPING: 1,"1.2.3.4",1,64')
    assert h.ping_done() == OK + b"\r\n+RECEIVE,0,1:\r\nx"


def test_power_off_and_on_faults() -> None:
    from sim800emu.core.events import Fault

    h = Harness()
    sock, _ = h.open_single()
    assert h.handle(Fault("power-off")) == b""
    assert Close(sock, False) in h.closed
    assert h.at("AT") == b""  # silent while off
    assert h.handle(Fault("power-on")) == b""
    assert h.run_timers() == crlf("+CFUN: 1", "+CPIN: READY", "Call Ready", "SMS Ready")
    assert h.at("AT") == b"AT\r" + OK  # a fresh boot: echo is back on (the default)


def test_csq_with_an_undetectable_signal_is_99_99() -> None:
    # rssi 99 (not known or not detectable): no bit error rate either
    from sim800emu.core.events import Fault

    h = Harness()
    h.handle(Fault("signal", 99))
    assert h.at("AT+CSQ") == block("+CSQ: 99,99") + OK
    h.handle(Fault("signal", 20))
    assert h.at("AT+CSQ") == block("+CSQ: 20,0") + OK
