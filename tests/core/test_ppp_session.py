"""Dial-up data on the fake clock: ATD*99# / AT+CGDATA, CONNECT, the +++
escape, ATO, ATH, NO CARRIER when PPP ends, the context's attach and
activation delays, DTR per AT&D, the errors (manual V1.12 2.2.3, 2.2.8,
2.2.12, 2.2.13, 2.2.28, 2.2.29, 7.2.6, 19.8; docs/ppp.md).

The PPP link and the IP terminator are fakes here (their own tests are in
test_ppp_link*.py and test_ppp_terminator*.py): this file checks how the
session joins them to the modem.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from typing import ClassVar

import pytest
from harness import ERROR, OK, Harness, crlf

from sim800emu.core.config import ModemConfig, PppConfig, Timing
from sim800emu.core.events import CallerHangup, Fault
from sim800emu.core.modem import Mode
from sim800emu.core.ppp import session as ppp_session

GUARD = 1.0
CONNECT = crlf("CONNECT")
NO_CARRIER = crlf("NO CARRIER")


def _drop(data: bytes) -> None:
    pass


class FakeLink:
    made: ClassVar[list[FakeLink]] = []

    def __init__(self, host: object, *, client_ip: str, dns: tuple[str, str],
                 auth: tuple[str, str] | None = None, key: str = "ppp", **kw: object) -> None:
        self.host, self.client_ip, self.dns, self.auth, self.key = host, client_ip, dns, auth, key
        self.on_output: Callable[[bytes], None] = _drop
        self.on_ip: Callable[[bytes], None] = _drop
        self.on_up: Callable[[], None] = lambda: None
        self.on_down: Callable[[str], None] = lambda reason: None
        self.opened = False
        self.client_mru = 1500
        self.stats: dict[str, int] = {"frames_in": 0}
        self.fed = bytearray()
        self.started = self.aborted = False
        self.closed: str | None = None
        self.sent_ip: list[bytes] = []
        FakeLink.made.append(self)

    def start(self) -> None:
        self.started = True
        self.on_output(b"~LCP-REQ~")

    def feed(self, data: bytes) -> None:
        self.fed += data
        if b"IP:" in data:
            self.on_ip(data)

    def send_ip(self, packet: bytes) -> None:
        self.sent_ip.append(packet)
        self.on_output(b"~" + packet + b"~")

    def close(self, reason: str = "closed") -> None:
        self.closed = reason
        self.on_output(b"~LCP-TERM~")

    def abort(self) -> None:
        self.aborted = True


class FakeTerminator:
    made: ClassVar[list[FakeTerminator]] = []

    def __init__(self, host: object, *, client_ip: str, dns_servers: tuple[str, ...],
                 host_alias: str = "10.0.2.2", key: str = "ppp.ip",
                 local_addrs: tuple[str, ...] = (), **kw: object) -> None:
        self.client_ip, self.dns_servers, self.host_alias = client_ip, dns_servers, host_alias
        self.local_addrs = local_addrs
        self.on_packet: Callable[[bytes], None] = _drop
        self.stats: dict[str, int] = {}
        self.mss = 1460
        self.line_rate = 0.0
        self.packets: list[bytes] = []
        self.closed_all = False
        FakeTerminator.made.append(self)

    def packet(self, data: bytes) -> None:
        self.packets.append(data)

    def close_all(self) -> None:
        self.closed_all = True


@pytest.fixture(autouse=True)
def fakes(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    FakeLink.made.clear()
    FakeTerminator.made.clear()
    monkeypatch.setattr(ppp_session, "_classes", lambda: (FakeLink, FakeTerminator))
    yield


def link() -> FakeLink:
    return FakeLink.made[-1]


def term() -> FakeTerminator:
    return FakeTerminator.made[-1]


def dial(h: Harness, line: str) -> bytes:
    """``line``, then the module's first LCP request (50 ms after CONNECT)."""
    return h.at(line) + h.advance(0.06)


def dialled(h: Harness | None = None, line: str = "ATD*99#") -> Harness:
    h = h or Harness()
    assert dial(h, line) == CONNECT + b"~LCP-REQ~"
    assert h.m.mode is Mode.STREAM
    return h


def escape(h: Harness) -> bytes:
    out = h.advance(GUARD + 0.2)
    h.feed(b"+++")
    return out + h.advance(GUARD + 0.01)


# ---------------------------------------------------------------- dialling


@pytest.mark.parametrize("dial", ["ATD*99#", "ATD*99***1#", "atd*99***1#", "ATD*99**PPP*1#",
                                  "ATD*99**1*1#", "ATD*99*123**1#", "ATD*99*#", "ATD*88#",
                                  "ATD *99#", "ATDT*99#", "ATDT*99***1#", "ATDP*99#"])
def test_dial_forms_connect(dial: str) -> None:
    h = dialled(line=dial)
    assert link().started and link().client_ip == h.m.local_ip
    assert h.m.pdp_active and h.m.radio.attached


def test_cgdata_forms() -> None:
    h = Harness()
    assert dial(h, 'AT+CGDATA="PPP",1') == CONNECT + b"~LCP-REQ~"
    h = Harness()
    assert dial(h, 'AT+CGDATA="PPP"') == CONNECT + b"~LCP-REQ~"
    h = Harness()
    assert h.at('AT+CGDCONT=3,"IP","apn3"') == OK
    assert dial(h, 'AT+CGDATA="ppp",3') == CONNECT + b"~LCP-REQ~"
    assert h.m.ppp.cid == 3


@pytest.mark.parametrize("cmd,cmee0,cmee2", [
    ('AT+CGDATA="X25",1', ERROR, ERROR),
    ('AT+CGDATA="",1', ERROR, ERROR),
    ('AT+CGDATA="PPP",4', ERROR, ERROR),
    ('AT+CGDATA="PPP",2', ERROR, crlf("+CME ERROR: invalid index")),
    ("ATD*99***2#", ERROR, crlf("+CME ERROR: invalid index")),
    ("ATD*99***7#", ERROR, crlf("+CME ERROR: invalid index")),
    ("ATD*99**X25*1#", ERROR, ERROR),
    ("ATD*99**0*1#", ERROR, ERROR),
    ("ATD*98#", NO_CARRIER, NO_CARRIER),
    ("ATD*99##", NO_CARRIER, NO_CARRIER),
    ("ATD*99", NO_CARRIER, NO_CARRIER),
    ("ATD*99***x#", NO_CARRIER, NO_CARRIER),
])
def test_dial_errors(cmd: str, cmee0: bytes, cmee2: bytes) -> None:
    h = Harness()
    assert h.at(cmd) == cmee0
    assert h.at("AT+CMEE=2") == OK
    assert h.at(cmd) == cmee2
    assert h.m.mode is Mode.COMMAND and not h.m.ppp.call


def test_not_registered() -> None:
    h = Harness()
    h.handle(Fault("register", 0))
    assert h.at("AT+CMEE=1") == OK
    assert h.at("ATD*99#") == NO_CARRIER
    assert h.at('AT+CGDATA="PPP",1') == crlf("+CME ERROR: 100")
    assert not h.m.ppp.call


def test_sim_states() -> None:
    h = Harness()
    assert h.at("AT+CMEE=1") == OK
    assert h.at("AT+CFUN=4") == OK
    h.take()
    assert h.at("ATD*99#") == NO_CARRIER  # SIM kept, radio off: not registered
    h = Harness()
    assert h.at("AT+CMEE=1") == OK
    h.m.radio.sim_ready = False
    h.m.sim.pin_state = "SIM PIN"
    assert h.at("ATD*99#") == crlf("+CME ERROR: 11")
    assert h.at('AT+CGDATA="PPP",1') == crlf("+CME ERROR: 11")


def test_one_call_at_a_time() -> None:
    h = dialled()
    escape(h)
    assert h.at("AT+CMEE=1") == OK
    assert h.at("ATD*99#") == crlf("+CME ERROR: 3")
    assert h.at('AT+CGDATA="PPP",1') == crlf("+CME ERROR: 3")


def test_attach_and_activation_delays() -> None:
    timing = Timing(cgatt=0.5, cgact=2.0)
    h = Harness(config=ModemConfig(timing=timing))
    assert h.at("AT+CGATT=0") == OK
    assert h.at("ATD*99#") == b""
    assert h.advance(2.4) == b""
    out = h.advance(0.2)
    assert out == CONNECT + b"~LCP-REQ~"
    assert h.m.mode is Mode.STREAM and h.m.radio.attached and h.m.pdp_active
    # already active: no wait
    h = Harness(config=ModemConfig(timing=timing))
    assert h.at("AT+CGACT=1,1") == b""
    assert h.advance(2.1) == OK
    assert dial(h, 'AT+CGDATA="PPP",1') == CONNECT + b"~LCP-REQ~"


def test_bytes_typed_while_dialling_go_to_ppp() -> None:
    h = Harness(config=ModemConfig(timing=Timing(cgact=1.0)))
    assert h.at("ATD*99#") == b""
    h.feed(b"\x7e\x01\x02")
    assert h.advance(1.0) == CONNECT + b"~LCP-REQ~"
    assert bytes(link().fed) == b"\x7e\x01\x02"


def test_registration_lost_while_dialling() -> None:
    h = Harness(config=ModemConfig(timing=Timing(cgact=1.0)))
    assert h.at("AT+CMEE=1") == OK
    assert h.at('AT+CGDATA="PPP",1') == b""
    h.handle(Fault("register", 2))
    h.take()
    assert h.advance(1.0) == crlf("+CME ERROR: 100")
    h.handle(Fault("register", 1))
    h.take()
    assert h.at("ATD*99#") == b""
    h.handle(Fault("register", 0))
    h.take()
    assert h.advance(1.0) == NO_CARRIER
    assert not h.m.ppp.call and h.m.mode is Mode.COMMAND


def test_context_lost_while_dialling() -> None:
    h = Harness(config=ModemConfig(timing=Timing(cgact=1.0)))
    assert h.at("ATD*99#") == b""
    assert h.handle(Fault("pdp-deact")) == NO_CARRIER
    assert h.advance(2.0) == b""
    assert h.at("AT") == OK


def test_connect_text_with_atx() -> None:
    config = ModemConfig(ppp=PppConfig(connect_text="115200"))
    h = Harness(config=config)
    assert dial(h, "ATD*99#") == crlf("CONNECT 115200") + b"~LCP-REQ~"
    escape(h)
    assert h.at("ATO") == crlf("CONNECT 115200")
    h = Harness(config=config)
    assert h.at("ATX0") == OK
    assert dial(h, "ATD*99#") == CONNECT + b"~LCP-REQ~"
    h = Harness(config=config)
    assert h.at("ATV0") == b"0\r"
    assert dial(h, "ATD*99#") == b"1\r~LCP-REQ~"


# ---------------------------------------------------------------- data mode


def test_bytes_both_ways() -> None:
    h = dialled()
    payload = bytes(range(256)) + b"AT\r+++"
    assert h.feed(payload) == b""
    assert bytes(link().fed) == payload
    h.feed(b"IP:datagram")
    assert term().packets == [b"IP:datagram"]
    term().on_packet(b"reply")
    assert h.take() == b"~reply~"
    assert link().sent_ip == [b"reply"]


def test_link_and_terminator_configuration() -> None:
    config = ModemConfig(ppp=PppConfig(auth=("u", "p"), host_alias="10.9.9.9"))
    h = Harness(config=config)
    h.m.dns = ("8.8.8.8", "0.0.0.0")
    dialled(h)
    assert link().auth == ("u", "p")
    assert link().dns == ("8.8.8.8", "10.0.2.3")
    assert term().dns_servers == ("8.8.8.8", "10.0.2.3")
    assert term().local_addrs == ("10.0.2.3",)  # the fallback exists only here
    assert term().host_alias == "10.9.9.9"
    assert term().client_ip == h.m.local_ip


def test_escape_ok_and_ato_resumes() -> None:
    h = dialled()
    assert escape(h) == OK
    assert h.m.mode is Mode.COMMAND and h.m.ppp.held
    assert h.at("AT+CSQ").endswith(OK)
    assert h.at("ATO") == CONNECT
    assert h.m.mode is Mode.STREAM
    h.feed(b"abc")
    assert bytes(link().fed).endswith(b"abc")


def test_plus_without_guard_is_data() -> None:
    h = dialled()
    h.feed(b"x+++")
    assert h.advance(GUARD + 0.1) == b""
    assert h.m.mode is Mode.STREAM
    assert bytes(link().fed) == b"x+++"


def test_held_output_waits_for_ato() -> None:
    h = dialled()
    escape(h)
    term().on_packet(b"late")
    assert h.at("AT") == OK
    assert h.at("ATO") == CONNECT + b"~late~"


def test_held_output_is_bounded() -> None:
    h = dialled()
    escape(h)
    big = b"x" * 40_000
    term().on_packet(big)
    term().on_packet(big)
    assert h.m.ppp.held_dropped == len(big) + 2
    assert h.at("ATO") == CONNECT + b"~" + big + b"~"


def test_urcs_wait_while_online() -> None:
    h = dialled()
    assert h.handle(Fault("signal", 10)) == b""
    h.m.urc("+CMTI: \"SM\",1")
    assert h.take() == b""
    assert escape(h) == OK + crlf('+CMTI: "SM",1')


def test_ato_without_call_is_error() -> None:
    h = Harness()
    assert h.at("ATO") == ERROR


# ---------------------------------------------------------------- the end


def test_ath_hangs_up_held_call() -> None:
    h = dialled()
    escape(h)
    lk, tm = link(), term()
    assert h.at("ATH") == OK
    assert lk.aborted and tm.closed_all
    assert not h.m.ppp.call and not h.m.pdp_active
    assert h.at("ATO") == ERROR
    assert dial(h, "ATD*99#") == CONNECT + b"~LCP-REQ~"


def test_client_terminate_no_carrier() -> None:
    h = dialled()
    lk = link()
    lk.on_down("peer terminated")
    assert h.take() == NO_CARRIER
    assert h.m.mode is Mode.COMMAND and not h.m.ppp.call and not h.m.pdp_active
    assert term().closed_all
    assert h.at("AT") == OK
    assert "peer terminated" in h.m.ppp.status_text()


def test_urc_after_no_carrier() -> None:
    h = dialled()
    h.m.urc("+CMTI: \"SM\",2")
    link().on_down("x")
    assert h.take() == NO_CARRIER + crlf('+CMTI: "SM",2')


@pytest.mark.parametrize("event", [Fault("pdp-deact"), CallerHangup()])
def test_network_drop_online_terminates_first(event: Fault | CallerHangup) -> None:
    h = dialled()
    lk = link()
    assert h.handle(event) == b"~LCP-TERM~"
    assert lk.closed and term().closed_all
    assert h.m.mode is Mode.STREAM
    lk.on_down("closed")
    assert h.take() == NO_CARRIER
    assert h.m.mode is Mode.COMMAND


def test_network_drop_held_no_carrier_at_once() -> None:
    h = dialled()
    escape(h)
    assert h.handle(Fault("pdp-deact")) == NO_CARRIER
    assert link().aborted and not h.m.ppp.call


@pytest.mark.parametrize("cmd", ["AT+CGATT=0", "AT+CGACT=0,1", "AT+CFUN=4", "AT+COPS=2"])
def test_commands_that_drop_the_context(cmd: str) -> None:
    h = dialled()
    escape(h)
    out = h.at(cmd)
    assert out.startswith(OK) and NO_CARRIER in out
    assert not h.m.ppp.call


def test_power_loss_and_reboot_silent() -> None:
    h = dialled()
    h.handle(Fault("power-off"))
    assert h.take() == b"" and link().aborted and not h.m.ppp.call
    h = dialled()
    escape(h)
    out = h.at("AT+CFUN=1,1")
    assert NO_CARRIER not in out and not h.m.ppp.call


def test_ctl_hangup_with_a_voice_call_is_the_voice_calls() -> None:
    h = dialled()
    escape(h)
    h.at("ATD+4930111;")
    h.advance(10)
    assert h.m.voice.busy
    assert h.handle(CallerHangup()) == NO_CARRIER  # the voice call's far end
    assert h.m.ppp.call and not h.m.voice.busy


# ---------------------------------------------------------------- DTR / DCD


def test_dtr_off_with_d1_goes_to_command_mode() -> None:
    h = dialled()
    assert h.handle(Fault("dtr", 0)) == OK
    assert h.m.ppp.held
    assert h.handle(Fault("dtr", 1)) == b""
    assert h.at("ATO") == CONNECT


def test_dtr_off_with_d2_hangs_up() -> None:
    h = Harness()
    assert h.at("AT&D2") == OK
    dialled(h)
    assert h.handle(Fault("dtr", 0)) == NO_CARRIER
    assert not h.m.ppp.call and link().aborted


def test_dtr_off_with_d0_ignored() -> None:
    h = Harness()
    assert h.at("AT&D0") == OK
    dialled(h)
    assert h.handle(Fault("dtr", 0)) == b""
    assert h.m.mode is Mode.STREAM


def test_dcd_per_and_c() -> None:
    h = Harness()
    assert h.m.ppp.status_text() == ""  # never dialled, DTR on, DCD off: nothing to say
    dialled(h)
    assert "DCD on (&C1)" in h.m.ppp.status_text()
    escape(h)
    assert h.at("ATH") == OK
    assert "DCD off (&C1)" in h.m.ppp.status_text()
    h = Harness()
    assert h.at("AT&C0") == OK
    assert "DCD on (&C0)" in h.m.ppp.status_text()


def test_and_c_and_d_in_profile() -> None:
    h = Harness()
    assert h.at("AT&C0&D2") == OK
    out = h.at("AT&V")
    assert b"&C: 0" in out and b"&D: 2" in out
    assert h.at("AT&W") == OK
    saved = h.m.saved
    h2 = Harness(saved=saved)
    assert h2.m.settings.dcd == 0 and h2.m.settings.dtr == 2


def test_cgdcont_contexts() -> None:
    h = Harness()
    assert h.at('AT+CGDCONT=2,"IP","two"') == OK
    assert h.at("AT+CGDCONT?") == (
        b'\r\n+CGDCONT: 1,"IP","","0.0.0.0",0,0\r\n+CGDCONT: 2,"IP","two","0.0.0.0",0,0\r\n' + OK
    )
    assert h.at("AT+CGDCONT=2") == OK
    assert h.at("AT+CGDCONT?") == b'\r\n+CGDCONT: 1,"IP","","0.0.0.0",0,0\r\n' + OK


def test_config_is_frozen_dataclass() -> None:
    cfg = PppConfig()
    assert dataclasses.replace(cfg, auth=("a", "b")).auth == ("a", "b")


def test_line_rate_reaches_the_terminator() -> None:
    h = Harness()
    h.m.ppp.line_rate = 11520.0  # --baud 115200 (the runtime sets it)
    dialled(h)
    assert term().line_rate == 11520.0
    h.m.ppp.line_rate = 960.0  # AT+IPR changed the rate
    assert term().line_rate == 960.0


def test_terminator_mss_follows_the_client_mru() -> None:
    dialled()
    term().mss = 1460
    link().client_mru = 576
    link().on_up()
    assert term().mss == 536


def test_first_lcp_request_comes_in_a_read_of_its_own() -> None:
    # esp_modem drops PPP bytes read together with CONNECT
    h = Harness()
    assert h.at("ATD*99#") == CONNECT
    assert h.advance(0.04) == b""
    assert h.advance(0.02) == b"~LCP-REQ~"
    # a client that does not wait starts the link at once
    h = Harness()
    assert h.at("ATD*99#") == CONNECT
    assert h.feed(b"~client~") == b"~LCP-REQ~"
    assert bytes(link().fed) == b"~client~"
    assert h.advance(1.0) == b""


def test_status_counts_frames() -> None:
    h = dialled()
    link().stats.update(frames_in=5, frames_out=7, bad_fcs=2)
    assert "5/7 frames in/out, 2 bad" in h.m.ppp.status_text()
