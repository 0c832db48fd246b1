"""The multiplexer checked against what real hosts send and expect
(3GPP TS 27.010 basic option; Zephyr's modem_cmux, Linux's n_gsm,
esp_modem; docs/cmux.md "What hosts expect"), and the leftovers of the
first CMUX work: the SMS entry of a DLC closed under it, bytes that follow
a CLD in the same read, PPP's line model through the multiplexer."""

from __future__ import annotations

import sys
from pathlib import Path

from harness import OK, Harness

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from cmuxpeer import (
    CMD,
    DISC,
    DM,
    MT_CLD,
    MT_MSC,
    MT_PN,
    SABM,
    UA,
    UIH,
    Peer,
    encode,
    fcs_bits,
    msg,
)
from test_cmux import Pipe, muxed

UI = 0x03


def test_ui_frames_have_their_fcs_over_the_information_too() -> None:
    # 27.010 5.2.1.6: only UIH leaves the information out of the FCS;
    # Linux n_gsm and Zephyr check a UI frame's FCS over all of it
    _h, peer, pipe = muxed(dlcis=(1,))
    pipe.write(encode(1, UI, b"AT+CGMI\r"))
    assert peer.wait_text(1, OK) == b"\r\nSIMCOM_Ltd\r\n\r\nOK\r\n"
    assert _h.m.mux is not None and _h.m.mux.stats["bad_fcs"] == 0


def test_ua_and_dm_are_responses_with_the_f_bit_of_the_poll() -> None:
    # the module is the responder: its responses carry C/R 1 (n_gsm drops a
    # UA or DM with C/R 0 as malformed; Zephyr drops such a UA), F = P
    _h, peer, pipe = muxed(dlcis=())
    pipe.write(encode(1, SABM, pf=True))
    ua = peer.wait_frame(lambda f: f.dlci == 1 and f.control == UA, "UA")
    assert (ua.cr, ua.pf) == (1, True)
    pipe.write(encode(9, SABM, pf=True))
    dm = peer.wait_frame(lambda f: f.dlci == 9 and f.control == DM, "DM")
    assert (dm.cr, dm.pf) == (1, True)
    pipe.write(encode(5, DISC, pf=True))
    dm = peer.wait_frame(lambda f: f.dlci == 5 and f.control == DM, "DM")
    assert (dm.cr, dm.pf) == (1, True)


def test_zephyr_modem_cmux_sequence() -> None:
    # modem_cmux: SABM 0 (C/R 1, P 1), SABM per DLC; after the UA it sends
    # its own MSC (FC 0, RTC, RTR, DV) and answers ours; closes each DLC
    # with DISC, then CLD, and waits for the CLD response
    h = Harness()
    assert h.at("AT+CMUX=0,0,5,127") == OK
    pipe = Pipe(h)
    peer = Peer(pipe.write, pipe.read)
    assert peer.sabm(0).control == UA
    for dlci in (1, 2):
        assert peer.sabm(dlci).control == UA
        ours = peer.wait_control(MT_MSC | CMD)
        assert ours == bytes([(dlci << 2) | 3, 0x0D])  # RTR set: not flow-controlled
        peer.send_control(msg(MT_MSC, bytes([(dlci << 2) | 3, 0x8D])))
        assert peer.wait_control(MT_MSC) == bytes([(dlci << 2) | 3, 0x8D])
        peer.send_control(msg(MT_MSC, ours, command=False))
    assert peer.at(2, "AT") == OK
    assert peer.at(1, "AT+CSQ") == b"\r\n+CSQ: 24,0\r\n\r\nOK\r\n"
    assert peer.disc(1).control == UA
    assert peer.disc(2).control == UA
    assert peer.close_down() == b""
    assert h.m.mux is None
    assert h.at("AT") == OK


def test_linux_n_gsm_pn_then_sabm_and_disc_on_dlci_0() -> None:
    # n_gsm sends PN before SABM when its DLC settings differ from the
    # defaults, and closes with DISC on DLCI 0 (kernels since 5.19); the
    # PN response keeps its frame type, convergence layer and priority and
    # an N1 no larger than asked
    h, peer, _pipe = muxed(dlcis=())
    peer.send_control(msg(MT_PN, bytes([1, 0, 7, 10, 64, 0, 3, 2])))
    assert peer.wait_control(MT_PN) == bytes([1, 0, 7, 10, 64, 0, 3, 2])
    assert peer.sabm(1).control == UA
    assert peer.disc(0).control == UA
    assert h.m.mux is None


def test_pn_n1_limits_the_frames_of_that_dlc() -> None:
    # 27.010 5.4.6.3.1: the negotiated N1 is the DLC's largest information
    # field; n_gsm drops a frame longer than its MRU
    _h, peer, _pipe = muxed(dlcis=())
    peer.send_control(msg(MT_PN, bytes([1, 0, 7, 10, 64, 0, 3, 2])))
    peer.wait_control(MT_PN)
    _open(peer, 1)
    _open(peer, 2)
    start = len(peer.frames)
    out = peer.at(1, "AT+CLAC")
    assert b"AT+CMUX\r\n" in out
    assert max(len(f.info) for f in peer.frames[start:] if f.dlci == 1) == 64
    start = len(peer.frames)
    peer.at(2, "AT+CLAC")
    assert max(len(f.info) for f in peer.frames[start:] if f.dlci == 2) == 127
    # a DLC opened again without PN has the multiplexer's N1 again
    assert peer.disc(1).control == UA
    _open(peer, 1)
    start = len(peer.frames)
    peer.at(1, "AT+CLAC")
    assert max(len(f.info) for f in peer.frames[start:] if f.dlci == 1) == 127


def _open(peer: Peer, dlci: int) -> None:
    assert peer.sabm(dlci).control == UA
    value = peer.wait_control(MT_MSC | CMD)
    peer.send_control(msg(MT_MSC, value, command=False))


# ------------------------------------------------------------ leftovers


def test_bytes_after_cld_in_the_same_read_reach_the_plain_line() -> None:
    h, _peer, pipe = muxed(dlcis=(1,))
    pipe.write(encode(0, UIH, msg(MT_CLD)) + b"AT+CGMI\r")
    raw = pipe.read(0)
    cld = encode(0, UIH, bytes([MT_CLD, 0x01]), cr=0)
    assert raw == cld + b"\r\nSIMCOM_Ltd\r\n\r\nOK\r\n"
    assert h.m.mux is None


def test_bytes_after_disc_on_dlci_0_in_the_same_read_reach_the_plain_line() -> None:
    h, _peer, pipe = muxed(dlcis=(1,))
    pipe.write(encode(0, DISC, pf=True) + b"AT\r")
    raw = pipe.read(0)
    assert raw.endswith(b"\xf9\r\nOK\r\n")
    assert h.m.mux is None


def test_disc_during_sms_entry_makes_the_sms_family_forget_it() -> None:
    h, peer, _pipe = muxed(dlcis=(1, 2))
    assert peer.at(2, "AT+CMGF=1") == OK
    peer.send(2, b'AT+CMGS="+4930123"\r')
    assert peer.wait_text(2, b"> ") == b"\r\n> "
    peer.send(2, b"hello ")
    assert h.m.sms.entry_pending
    assert peer.disc(2).control == UA
    assert not h.m.sms.entry_pending
    _open(peer, 2)
    peer.send(2, b"world\x1a")  # a fresh channel: typed text, no message
    assert peer.at(2, "AT") == OK
    assert b"+CMGS" not in bytes(peer.text.get(2, b""))
    assert peer.at(1, "AT") == OK


def test_ppp_line_rate_counts_the_uih_framing_on_a_dlc() -> None:
    h, peer, _pipe = muxed(dlcis=(1, 2))
    h.m.ppp.line_rate = 11520.0
    peer.send(1, b"ATD*99#\r")
    peer.wait_text(1, b"\r\nCONNECT\r\n")
    term = h.m.ppp.term
    assert term is not None
    assert abs(term.line_rate - 11520.0 * 127 / 133) < 1e-6
    h.m.ppp.line_rate = 960.0
    assert abs(term.line_rate - 960.0 * 127 / 133) < 1e-6


def test_dm_from_the_host_closes_that_dlc_silently() -> None:
    # n_gsm and Zephyr answer a frame for a DLC they do not have open with
    # DM (27.010 5.3.3: the station is disconnected): the module takes the
    # DLC as closed, answers nothing (DM is a response) and keeps the others
    h, peer, pipe = muxed(dlcis=(1, 2))
    start = len(peer.frames)
    pipe.write(encode(2, DM, cr=0, pf=True))
    assert peer.at(1, "AT") == OK
    assert [f for f in peer.frames[start:] if f.dlci == 2] == []
    assert h.m.mux is not None and sorted(h.m.mux.dlcs) == [1]
    peer.send(2, b"AT\r")
    assert peer.wait_frame(lambda f: f.dlci == 2, "DM").control == DM
    # a DM on DLCI 0 (or for a DLC not open) changes nothing
    pipe.write(encode(0, DM, cr=0, pf=True) + encode(3, DM, cr=0))
    assert peer.at(1, "AT") == OK
    assert h.m.mux is not None and sorted(h.m.mux.dlcs) == [1]


def test_a_two_octet_length_of_a_short_frame_is_accepted() -> None:
    # 27.010 5.2.1.5: EA 0 in the first length octet means a second follows,
    # whatever the value; the FCS covers both octets
    _h, peer, pipe = muxed(dlcis=(1,))
    info = b"AT+CGMI\r"
    head = bytes([0x07, UIH, (len(info) << 1) & 0xFE, 0])
    pipe.write(b"\xf9" + head + info + bytes([fcs_bits(head), 0xF9]))
    assert peer.wait_text(1, OK) == b"\r\nSIMCOM_Ltd\r\n\r\nOK\r\n"
