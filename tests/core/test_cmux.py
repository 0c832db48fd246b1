"""AT+CMUX and the 27.010 multiplexer in the pure core (fake clock).

The host's side is the test-side peer (tests/integration/cmuxpeer.py),
written from 27.010 and never importing the emulator's cmux code."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest
from harness import ERROR, OK, Harness

from sim800emu.core.events import Fault, IncomingCall, Result, SettingsSaved, TimerFired

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
from cmuxpeer import (
    CMD,
    DISC,
    DM,
    MT_CLD,
    MT_FCOFF,
    MT_FCON,
    MT_MSC,
    MT_NSC,
    MT_PN,
    MT_TEST,
    SABM,
    UA,
    UIH,
    Peer,
    encode,
    fcs_bits,
    msg,
)

# A real SIM800's answers (esp-protocols issue 140)
UA0 = bytes.fromhex("f9 03 73 01 d7 f9")
UA1 = bytes.fromhex("f9 07 73 01 15 f9")
MSC1 = bytes.fromhex("f9 01 ef 09 e3 05 07 0d 9a f9")


class Pipe:
    """The peer's byte pipe into the core: writes feed the modem, what it
    printed is read back."""

    def __init__(self, h: Harness) -> None:
        self.h = h
        self.pending = bytearray()

    def write(self, data: bytes) -> None:
        self.pending += self.h.feed(data)

    def handle(self, result: Result) -> None:
        self.pending += self.h.handle(result)

    def run_timers(self, limit: float = 600.0) -> None:
        self.pending += self.h.run_timers(limit)

    def advance(self, dt: float) -> None:
        self.pending += self.h.advance(dt)

    def read(self, timeout: float) -> bytes:
        self.pending += self.h.take()
        out = bytes(self.pending)
        self.pending.clear()
        return out


def muxed(h: Harness | None = None, dlcis: tuple[int, ...] = (1, 2, 3, 4), **kw: object) -> tuple[Harness, Peer, Pipe]:
    h = h or Harness()
    assert h.at("AT+CMUX=0") == OK
    pipe = Pipe(h)
    peer = Peer(pipe.write, pipe.read, **kw)  # type: ignore[arg-type]
    peer.start(dlcis)
    return h, peer, pipe


def test_fcs_of_the_peer_matches_the_real_trace() -> None:
    assert encode(0, UA, pf=True, cr=1) == UA0
    assert encode(1, UA, pf=True, cr=1) == UA1
    assert encode(0, UIH, bytes.fromhex("e3 05 07 0d"), cr=0) == MSC1
    assert encode(1, DISC, pf=True) == bytes.fromhex("f9 07 53 01 3f f9")  # the AN's close-down
    assert fcs_bits(bytes.fromhex("03 ef 05")) == 0xF2  # esp_modem's CLD F9 03 EF 05 C3 01 F2 F9


# ------------------------------------------------------------ AT+CMUX forms


@pytest.mark.parametrize("line", ["AT+CMUX=0", "AT+CMUX=0,0", "AT+CMUX=0,0,5,127",
                                  "AT+CMUX=0,0,5,127,10,3,30,10,2", "AT+CMUX=0,0,1,16,1,0,2,1,1",
                                  "AT+CMUX=0,0,6,1510,255,100,255,255,7", "AT+CMUX=0,,,64"])
def test_write_forms_answer_ok_then_the_line_speaks_27010(line: str) -> None:
    h = Harness()
    assert h.at(line) == OK
    assert h.at("AT") == b""  # plain AT is noise now
    pipe = Pipe(h)
    peer = Peer(pipe.write, pipe.read)
    assert peer.sabm(0).raw == UA0


@pytest.mark.parametrize("line", ["AT+CMUX=1", "AT+CMUX=0,1", "AT+CMUX=0,0,0", "AT+CMUX=0,0,7",
                                  "AT+CMUX=0,0,5,15", "AT+CMUX=0,0,5,1511", "AT+CMUX=0,0,5,127,0",
                                  "AT+CMUX=0,0,5,127,10,101", "AT+CMUX=0,0,5,127,10,3,1",
                                  "AT+CMUX=0,0,5,127,10,3,30,0", "AT+CMUX=0,0,5,127,10,3,30,10,8",
                                  "AT+CMUX=0,0,5,127,10,3,30,10,2,1", "AT+CMUX=", "AT+CMUX=x"])
def test_bad_write_forms_answer_error_and_stay_plain(line: str) -> None:
    h = Harness()
    assert h.at("AT+CMEE=2") == OK
    assert h.at(line) == ERROR
    assert h.at("AT") == OK


def test_the_rest_of_the_line_after_cmux_does_not_run() -> None:
    h = Harness()
    assert h.at("AT+CMUX=0;+CSQ") == OK
    assert h.m.mux is not None


def test_read_form_shows_the_running_parameters() -> None:
    h = Harness()
    assert h.at("AT+CMUX=0,0,5,64,20") == OK
    pipe = Pipe(h)
    peer = Peer(pipe.write, pipe.read, n1=64)
    peer.start((1,))
    assert peer.at(1, "AT+CMUX?") == b"\r\n+CMUX: 0,0,5,64,20,3,30,10,2\r\n\r\nOK\r\n"
    assert peer.at(1, "AT+CMUX=?").startswith(b"\r\n+CMUX: (0),(0),(1-6),(16-1510)")
    # already multiplexed: not again
    assert peer.at(1, "AT+CMEE=2;+CMUX=0", b"\r\n") == b"\r\n"
    assert peer.wait_text(1, b"\r\n") == b"+CME ERROR: operation not allowed\r\n"


# ------------------------------------------------------------ DLC set-up


def test_sabm_answers_and_the_msc_after_it_are_the_real_modules_bytes() -> None:
    h = Harness()
    assert h.at("AT+CMUX=0") == OK
    assert h.feed(encode(0, SABM, pf=True)) == UA0
    assert h.feed(encode(1, SABM, pf=True)) == UA1 + MSC1


def test_msc_after_sabm_can_be_switched_off() -> None:
    from dataclasses import replace

    from sim800emu.core.config import ModemConfig

    h = Harness(replace(ModemConfig(), cmux_msc=False))
    h.at("AT+CMUX=0")
    h.feed(encode(0, SABM, pf=True))
    assert h.feed(encode(1, SABM, pf=True)) == UA1


@pytest.mark.parametrize("dlci", [5, 6, 17, 63])
def test_dlcs_above_4_get_dm(dlci: int) -> None:
    _h, peer, _pipe = muxed(dlcis=())
    f = peer.sabm(dlci)
    assert (f.control, f.pf, f.cr) == (DM, True, 1)
    assert peer.frames[-1] is f  # nothing else came


def test_a_dlc_before_the_control_channel_gets_dm() -> None:
    h = Harness()
    h.at("AT+CMUX=0")
    pipe = Pipe(h)
    peer = Peer(pipe.write, pipe.read)
    assert peer.sabm(1).control == DM
    assert peer.sabm(0).control == UA
    assert peer.sabm(1).control == UA


def test_uih_on_a_closed_dlc_gets_dm_and_no_answer() -> None:
    _h, peer, _pipe = muxed(dlcis=(1,))
    peer.send(3, b"AT\r")
    f = peer.wait_frame(lambda f: f.dlci == 3, "DM")
    assert f.control == DM
    assert peer.at(1, "AT") == OK


# ------------------------------------------------------------ independent channels


def test_four_channels_answer_each_their_own_commands() -> None:
    _h, peer, _pipe = muxed()
    for d in (1, 2, 3, 4):
        assert peer.at(d, "AT") == OK
    assert peer.at(2, "AT+CSQ") == b"\r\n+CSQ: 24,0\r\n\r\nOK\r\n"
    assert peer.at(3, "AT+CGMI") == b"\r\nSIMCOM_Ltd\r\n\r\nOK\r\n"
    assert peer.at(4, 'AT+CPIN?') == b"\r\n+CPIN: READY\r\n\r\nOK\r\n"


def test_half_lines_on_one_channel_do_not_mix_with_another() -> None:
    _h, peer, _pipe = muxed()
    peer.send(1, b"AT+C")
    peer.send(2, b"AT+CS")
    peer.send(1, b"GMI\r")
    peer.send(2, b"Q\r")
    assert peer.wait_text(1, OK) == b"\r\nSIMCOM_Ltd\r\n\r\nOK\r\n"
    assert peer.wait_text(2, OK) == b"\r\n+CSQ: 24,0\r\n\r\nOK\r\n"


def test_echo_verbose_and_cmee_are_per_channel() -> None:
    _h, peer, _pipe = muxed()
    assert peer.at(1, "ATE1") == OK
    assert peer.at(1, "AT") == b"AT\r\r\nOK\r\n"  # echo on DLCI 1 only
    assert peer.at(2, "AT") == OK
    assert peer.at(3, "ATV0", b"0\r") == b"0\r"
    assert peer.at(3, "AT", b"0\r") == b"0\r"
    assert peer.at(4, "AT+CMEE=2") == OK
    assert peer.at(4, "AT+CPBR=0", b"\r\n+CME ERROR: invalid index\r\n") == b"\r\n+CME ERROR: invalid index\r\n"
    assert peer.at(2, "AT+CPBR=0", ERROR) == ERROR
    assert b"\r\nE: 0\r\n" in peer.at(2, "AT&V", OK)
    assert b"\r\nE: 1\r\n" in peer.at(1, "AT&V", OK)


def test_settings_other_than_the_line_framing_are_shared() -> None:
    _h, peer, _pipe = muxed()
    assert peer.at(1, "AT+CREG=1") == OK
    assert peer.at(2, "AT+CREG?") == b"\r\n+CREG: 1,1\r\n\r\nOK\r\n"


def test_a_dlc_starts_with_the_plain_lines_framing() -> None:
    h = Harness()
    assert h.at("ATV0") == b"0\r"
    assert h.at("AT+CMUX=0") == b"0\r"
    pipe = Pipe(h)
    peer = Peer(pipe.write, pipe.read)
    peer.start((2,))
    assert peer.at(2, "AT", b"0\r") == b"0\r"


def test_urcs_go_to_dlci_1() -> None:
    _h, peer, pipe = muxed()
    pipe.handle(IncomingCall("+4930123"))
    assert peer.wait_text(1, b"RING\r\n") == b"\r\nRING\r\n"
    for d in (2, 3, 4):
        assert not peer.text.get(d)
    assert peer.at(2, "ATH") == OK


def test_urcs_go_to_the_lowest_open_dlc_when_1_is_closed() -> None:
    _h, peer, pipe = muxed()
    assert peer.disc(1).control == UA
    pipe.handle(Fault("under-voltage"))
    assert peer.wait_text(2, b"\r\n") == b"\r\n"
    assert peer.wait_text(2, b"\r\n") == b"UNDER-VOLTAGE WARNNING\r\n"


def test_a_urc_waits_while_dlci_1_is_busy_with_a_command() -> None:
    _h, peer, pipe = muxed()
    assert peer.at(1, "ATE1") == OK
    peer.send(1, b"AT+CG")  # a half line with echo on holds URCs back
    pipe.handle(IncomingCall("+4930123"))
    assert peer.wait_text(1, b"AT+CG") == b"AT+CG"
    assert b"RING" not in peer.text.get(1, b"")
    peer.send(1, b"MI\r")
    assert peer.wait_text(1, b"RING\r\n") == b"MI\r\r\nSIMCOM_Ltd\r\n\r\nOK\r\n\r\nRING\r\n"


def test_a_pending_command_completes_on_its_own_channel() -> None:
    h, peer, pipe = muxed()
    h.save_ok = None  # AT&W waits for the store
    peer.send(2, b"AT&W\r")
    assert peer.at(1, "AT+CSQ") == b"\r\n+CSQ: 24,0\r\n\r\nOK\r\n"
    peer.send(2, b"AT\r")  # held while AT&W is pending
    pipe.handle(SettingsSaved(h.saves[-1].settings, True))
    assert peer.wait_text(2, OK + OK) == OK + OK
    assert not peer.text.get(1)


def test_ussd_on_one_channel_while_others_work() -> None:
    _h, peer, pipe = muxed()
    assert peer.at(3, 'AT+CUSD=1,"*100#"') == OK
    assert peer.at(1, "AT+CSQ") == b"\r\n+CSQ: 24,0\r\n\r\nOK\r\n"
    pipe.run_timers()
    got = peer.wait_text(3, b"\r\n+CUSD: ")
    assert got.endswith(b"+CUSD: ")
    assert not peer.text.get(1)


def test_sms_text_entry_on_one_channel_while_another_answers() -> None:
    _h, peer, pipe = muxed()
    assert peer.at(2, "AT+CMGF=1") == OK
    peer.send(2, b'AT+CMGS="+4930123"\r')
    assert peer.wait_text(2, b"> ") == b"\r\n> "
    peer.send(2, b"hello ")
    assert peer.at(1, "AT") == OK  # DLCI 1 is not in the entry
    peer.send(2, b"world\x1a")
    pipe.run_timers()
    got = peer.wait_text(2, OK)
    assert b"+CMGS: " in got


# ------------------------------------------------------------ control channel


def test_msc_is_answered_and_its_flow_control_holds_the_dlc() -> None:
    _h, peer, _pipe = muxed()
    peer.send_control(msg(MT_MSC, bytes([(2 << 2) | 3, 0x0D | 0x02])))  # FC on DLCI 2
    assert peer.wait_control(MT_MSC) == bytes([(2 << 2) | 3, 0x0F])
    peer.send(2, b"AT\r")
    assert peer.at(1, "AT") == OK
    assert not peer.text.get(2)  # held
    peer.send_control(msg(MT_MSC, bytes([(2 << 2) | 3, 0x0D])))
    assert peer.wait_text(2, OK) == OK


def test_fcoff_stops_every_dlc_and_fcon_resumes() -> None:
    _h, peer, _pipe = muxed()
    peer.send_control(msg(MT_FCOFF))
    assert peer.wait_control(MT_FCOFF) == b""
    peer.send(1, b"AT\r")
    peer.send(3, b"AT+CSQ\r")
    peer.pump(0)
    assert not peer.text.get(1) and not peer.text.get(3)
    peer.send_control(msg(MT_FCON))
    assert peer.wait_control(MT_FCON) == b""
    assert peer.wait_text(1, OK) == OK
    assert peer.wait_text(3, OK) == b"\r\n+CSQ: 24,0\r\n\r\nOK\r\n"


def test_output_held_by_flow_control_is_bounded() -> None:
    h, peer, _pipe = muxed()
    peer.send_control(msg(MT_FCOFF))
    peer.wait_control(MT_FCOFF)
    for _ in range(3000):
        peer.send(1, b"AT+CLAC\r")
    assert h.m.mux is not None
    assert sum(len(b) for b in h.m.mux._held.values()) <= 65536
    assert h.m.mux.dropped > 0


def test_test_command_is_echoed_and_pn_is_answered() -> None:
    _h, peer, _pipe = muxed(dlcis=())
    peer.send_control(msg(MT_TEST, b"\x01\x02hello"))
    assert peer.wait_control(MT_TEST) == b"\x01\x02hello"
    # PN for DLCI 2: UIH, priority 7, T1 10, N1 1000 (more than ours), N2 3, k 2
    peer.send_control(msg(MT_PN, bytes([2, 0, 7, 10, 1000 & 255, 1000 >> 8, 3, 2])))
    assert peer.wait_control(MT_PN) == bytes([2, 0, 7, 10, 127, 0, 3, 2])


@pytest.mark.parametrize("mtype", [0x41 | CMD, 0x91 | CMD, 0x51 | CMD, 0xD1 | CMD, 0xFF])
def test_unsupported_messages_get_nsc(mtype: int) -> None:
    _h, peer, _pipe = muxed(dlcis=(1,))
    peer.send_control(bytes([mtype, 0x01]))
    assert peer.wait_control(MT_NSC) == bytes([mtype])
    assert peer.at(1, "AT") == OK


def test_cld_closes_the_multiplexer_and_plain_at_answers() -> None:
    h, peer, pipe = muxed()
    assert peer.at(1, "ATE1") == OK
    peer.send_control(msg(MT_CLD))
    raw = pipe.read(0)
    assert raw == encode(0, UIH, bytes([MT_CLD, 0x01]), cr=0)  # f9 01 ef 05 c1 01 .. f9
    assert h.m.mux is None
    assert h.at("AT") == OK  # the plain line's own echo setting (off) again


def test_disc_closes_a_dlc_and_disc_on_0_closes_down() -> None:
    h, peer, _pipe = muxed()
    assert peer.disc(3).control == UA
    assert peer.disc(3).control == DM  # already closed
    peer.send(3, b"AT\r")
    assert peer.wait_frame(lambda f: f.dlci == 3, "DM").control == DM
    assert peer.at(4, "AT") == OK
    assert peer.disc(0).control == UA
    assert h.m.mux is None
    assert h.at("AT") == OK


def test_esp_modem_close_sequence() -> None:
    h, peer, pipe = muxed(dlcis=(1, 2), data_cr=0)  # esp_modem's UIH carry C/R 0
    assert peer.at(2, "AT") == OK
    assert peer.disc(1).control == UA
    assert peer.disc(2).control == UA
    pipe.write(bytes.fromhex("F9 03 EF 05 C3 01 F2 F9"))
    assert peer.wait_control(MT_CLD) == b""
    assert h.at("AT") == OK


# ------------------------------------------------------------ faults and recovery


def test_bad_fcs_and_oversized_frames_are_dropped_and_counted() -> None:
    h, peer, pipe = muxed(dlcis=(1, 2))
    good = encode(1, UIH, b"AT+CSQ\r")
    bad = bytearray(good)
    bad[-2] ^= 0x55
    pipe.write(bytes(bad))
    big = encode(2, UIH, b"A" * 200)  # N1 is 127
    pipe.write(big)
    pipe.write(b"AT\r\nnoise\xf9\xf9")
    assert peer.at(1, "AT") == OK  # nothing of AT+CSQ
    assert peer.at(2, "AT") == OK
    assert h.m.mux is not None
    stats = h.m.mux.stats
    assert stats["bad_fcs"] >= 1 and stats["too_long"] == 1


def test_frames_split_byte_by_byte() -> None:
    _h, peer, pipe = muxed(dlcis=(1,))
    for b in encode(1, UIH, b"AT+CGMI\r"):
        pipe.write(bytes([b]))
    assert peer.wait_text(1, OK) == b"\r\nSIMCOM_Ltd\r\n\r\nOK\r\n"


def test_two_octet_lengths_with_a_larger_n1() -> None:
    h = Harness()
    assert h.at("AT+CMUX=0,0,5,1500") == OK
    pipe = Pipe(h)
    peer = Peer(pipe.write, pipe.read, n1=1500)
    peer.start((1,))
    out = peer.at(1, "AT+CLAC")
    assert b"AT+CMUX\r\n" in out
    assert any(len(f.info) > 127 for f in peer.frames)
    assert max(len(f.info) for f in peer.frames) <= 1500


def test_garbage_never_grows_memory() -> None:
    h, peer, pipe = muxed(dlcis=(1,))
    rng = random.Random(7)
    for _ in range(200):
        pipe.write(bytes(rng.randrange(256) for _ in range(512)))
    assert h.m.mux is not None
    assert len(h.m.mux._rx._buf) < 2000
    pipe.write(b"\xf9" * 3)
    # a garbage address can open or close DLCs like any host could; the
    # modem still answers on a DLC opened again
    peer.sabm(0)
    peer.sabm(1)
    assert peer.at(1, "AT") == OK


def test_power_off_and_on_return_to_plain_at() -> None:
    h, _peer, pipe = muxed()
    pipe.handle(Fault("power-off"))
    assert h.m.mux is None
    h.take()
    h.handle(Fault("power-on"))
    assert b"SMS Ready" in h.run_timers()
    h.at("ATE0")
    assert h.at("AT") == OK


def test_reset_from_a_dlc_returns_to_plain_at() -> None:
    h, peer, _pipe = muxed()
    peer.send(2, b"AT+CFUN=1,1\r")
    assert peer.wait_text(2, OK) == OK
    assert h.m.mux is None
    assert b"SMS Ready" in h.run_timers()
    h.at("ATE0")
    assert h.at("AT") == OK


def test_timers_of_a_closed_dlc_do_not_print_on_the_raw_line() -> None:
    _h, peer, pipe = muxed()
    assert peer.at(2, 'AT+CUSD=1,"*100#"') == OK
    assert peer.disc(2).control == UA
    assert peer.disc(1).control == UA
    pipe.run_timers()
    # the answer goes to the lowest open DLC (3), framed, never raw
    assert peer.wait_text(3, b"+CUSD: ")
    assert peer.dec.junk == 0


def test_traffic_notes_decode_frames() -> None:
    h = Harness()
    h.m.notes = []
    h, peer, _pipe = muxed(h, dlcis=(1,))
    assert peer.at(1, "AT") == OK
    notes = h.m.notes
    assert "cmux <- DLCI 0 SABM P/F len 0" in notes
    assert "cmux -> DLCI 0 UA P/F len 0" in notes
    assert "cmux -> DLCI 0 UIH len 4 MSC cmd 07 0d" in notes
    assert "cmux <- DLCI 1 UIH len 3 'AT\\r'" in notes
    assert "cmux -> DLCI 1 UIH len 6 '\\r\\nOK\\r\\n'" in notes


def test_status_shows_the_multiplexer() -> None:
    h, _peer, _pipe = muxed(dlcis=(1, 3))
    assert "CMUX N1 127, DLCs 1,3" in h.m.status()


# ------------------------------------------------------------ transparent mode on a DLC


def test_transparent_mode_on_one_dlc_while_another_answers() -> None:
    h, peer, pipe = muxed()
    assert peer.at(2, "AT+CIPMODE=1") == OK
    assert peer.at(2, 'AT+CSTT="CMNET"') == OK
    peer.send(2, b"AT+CIICR\r")
    pipe.run_timers()
    assert peer.wait_text(2, OK) == OK
    assert peer.at(2, "AT+CIFSR", b"\r\n") == b"\r\n"
    assert peer.wait_text(2, b"\r\n") == f"{h.m.local_ip}\r\n".encode()
    assert peer.at(2, 'AT+CIPSTART="TCP","10.0.0.1",80', OK) == OK
    pipe.run_timers()
    sock, out = h.connected()
    pipe.pending += out
    assert peer.wait_text(2, b"CONNECT\r\n") == b"\r\nCONNECT\r\n"
    peer.send(2, b"GET / HTTP/1.0\r\n\r\n")
    pipe.run_timers()
    assert h.sent(sock) == b"GET / HTTP/1.0\r\n\r\n"
    pipe.pending += h.receive(sock, b"HTTP/1.0 200 OK\r\n\r\nhi")
    assert peer.wait_text(2, b"hi") == b"HTTP/1.0 200 OK\r\n\r\nhi"
    assert peer.at(1, "AT+CSQ") == b"\r\n+CSQ: 24,0\r\n\r\nOK\r\n"
    # +++ with its guard times on DLCI 2 only
    pipe.advance(1.5)
    peer.send(2, b"+++")
    pipe.advance(1.5)
    assert peer.wait_text(2, OK) == OK
    assert peer.at(2, "AT+CIPCLOSE", b"CLOSE OK\r\n").endswith(b"CLOSE OK\r\n")


def transparent_link_on_dlc_2(h: Harness, peer: Peer, pipe: Pipe) -> int:
    """CIPMODE=1, the bearer up and a TCP link in data mode on DLCI 2: its socket."""
    assert peer.at(2, "AT+CIPMODE=1") == OK
    assert peer.at(2, 'AT+CSTT="CMNET"') == OK
    peer.send(2, b"AT+CIICR\r")
    pipe.run_timers()
    assert peer.wait_text(2, OK) == OK
    peer.at(2, "AT+CIFSR", b"\r\n")
    peer.wait_text(2, b"\r\n")
    assert peer.at(2, 'AT+CIPSTART="TCP","10.0.0.1",80') == OK
    pipe.run_timers()
    sock, out = h.connected()
    pipe.pending += out
    assert peer.wait_text(2, b"CONNECT\r\n") == b"\r\nCONNECT\r\n"
    return sock


def test_another_dlc_closing_the_transparent_link_ends_its_data_mode() -> None:
    h, peer, pipe = muxed()
    transparent_link_on_dlc_2(h, peer, pipe)
    assert peer.at(1, "AT+CIPCLOSE", b"CLOSE OK\r\n") == b"\r\nCLOSE OK\r\n"
    assert peer.wait_text(2, b"CLOSED\r\n") == b"\r\nCLOSED\r\n"
    assert peer.at(2, "AT") == OK  # commands again
    assert peer.at(1, "AT+CIPSHUT", b"SHUT OK\r\n") == b"\r\nSHUT OK\r\n"


def test_a_stalled_peer_in_transparent_mode_is_msc_flow_control_on_its_dlc() -> None:
    """On the plain line a full send buffer holds the whole serial line
    (HoldSerial); under the multiplexer only that DLC is flow-controlled,
    with MSC FC (27.010 5.4.6.3.7), and the other DLCs keep answering."""
    from sim800emu.core.events import Congestion, HoldSerial

    h, peer, pipe = muxed()
    sock = transparent_link_on_dlc_2(h, peer, pipe)
    pipe.handle(Congestion(sock, True))
    assert peer.wait_control(MT_MSC | CMD) == bytes([2 << 2 | 3, 0x0F])  # FC set
    assert not any(isinstance(r, HoldSerial) for r in h.requests)
    assert peer.at(1, "AT") == OK
    pipe.handle(Congestion(sock, False))
    assert peer.wait_control(MT_MSC | CMD) == bytes([2 << 2 | 3, 0x0D])  # FC clear


def test_timer_fired_for_an_unknown_key_is_harmless() -> None:
    h, peer, _pipe = muxed(dlcis=(1,))
    h.m.handle(TimerFired("nothing"), h.now)
    assert peer.at(1, "AT") == OK


# ------------------------------------------------------------ fuzz smoke


def test_fuzz_smoke_mutated_frames_keep_every_open_dlc_answering() -> None:
    rng = random.Random(2027)
    h, peer, pipe = muxed()
    seeds = [
        encode(1, UIH, b"AT+CSQ\r"), encode(2, UIH, b"ATI\r"), encode(0, UIH, msg(MT_TEST, b"x")),
        encode(0, UIH, msg(MT_MSC, bytes([7, 0x0D]))), encode(3, UIH, b"AT+CPIN?\r"),
        encode(4, UIH, b"AT+CGMI\r"),
    ]
    for _ in range(1500):
        frame = bytearray(rng.choice(seeds))
        for _ in range(rng.randrange(1, 4)):
            op = rng.randrange(4)
            k = rng.randrange(len(frame))
            if op == 0:
                frame[k] = rng.randrange(256)
            elif op == 1:
                del frame[k]
            elif op == 2:
                frame.insert(k, rng.randrange(256))
            else:
                frame[k:k] = frame[: rng.randrange(len(frame))]
        pipe.write(bytes(frame))
        pipe.run_timers(5.0)
        if h.m.mux is None:  # a mutated CLD/DISC 0 closed it: start again
            peer = Peer(pipe.write, pipe.read)
            assert h.at("AT+CMUX=0") == OK
            peer.start()
    # every DLC that is open answers; reopen the ones a mutation closed.
    # A mutated length may leave the receiver inside a long frame: flags
    # (more than N1) complete it, and it fails its check
    pipe.write(b"\xf9" * 200)
    pipe.write(encode(0, UIH, msg(MT_FCON)))  # a mutated FCoff may have stopped output
    pipe.write(encode(0, UIH, msg(MT_MSC, bytes([d << 2 | 3 for d in (1,)] + [0x0D]))))
    for d in (1, 2, 3, 4):
        pipe.write(encode(0, UIH, msg(MT_MSC, bytes([d << 2 | 3, 0x0D]))))
    peer = Peer(pipe.write, pipe.read)
    pipe.read(0)
    peer.sabm(0)
    for d in (1, 2, 3, 4):
        peer.sabm(d)
        peer.send(d, b"\x1b\rATE0V1Q0\r")  # leave any entry a mutation started
    pipe.run_timers(5.0)
    for d in (1, 2, 3, 4):
        peer.text.pop(d, None)
        assert peer.at(d, "AT") == OK, d
