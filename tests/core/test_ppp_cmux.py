"""Dial-up data on a DLC of the multiplexer (esp_modem's and Zephyr's way:
AT+CMUX=0, then ATD*99# on one DLC while the others keep answering AT):
CONNECT and the PPP frames in UIH frames of that DLC, AT on another DLC
meanwhile, ATO only on the call's own DLC, the client's Terminate ending in
NO CARRIER on that DLC, and a DISC of the DLC ending the call silently."""

from __future__ import annotations

import sys
from pathlib import Path

from harness import OK, Harness

from sim800emu.core.events import Fault
from sim800emu.core.ppp.hdlc import Deframer, encode
from sim800emu.core.ppp.link import split_frame, split_packet

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
from cmuxpeer import Peer

CONNECT = b"\r\nCONNECT\r\n"
NO_CARRIER = b"\r\nNO CARRIER\r\n"
LCP = 0xC021


class Pipe:
    def __init__(self, h: Harness) -> None:
        self.h = h
        self.pending = bytearray()

    def write(self, data: bytes) -> None:
        self.pending += self.h.feed(data)

    def read(self, timeout: float) -> bytes:
        self.pending += self.h.take()
        out = bytes(self.pending)
        self.pending.clear()
        return out


def muxed() -> tuple[Harness, Peer, Pipe]:
    h = Harness()
    assert h.at("AT+CMUX=0") == OK
    pipe = Pipe(h)
    peer = Peer(pipe.write, pipe.read)
    peer.start((1, 2, 3))
    return h, peer, pipe


def lcp_packets(data: bytes) -> list[tuple[int, int]]:
    out = []
    for frame in Deframer().feed(data):
        parsed = split_frame(frame)
        assert parsed is not None and parsed[0] == LCP
        p = split_packet(parsed[1])
        assert p is not None
        out.append((p[0], p[1]))
    return out


def escape_on_dlc_2(h: Harness, peer: Peer, pipe: Pipe) -> None:
    """+++ with its guard times on DLCI 2 (the call's), up to its OK."""
    h.advance(1.2)
    peer.send(2, b"+++")
    pipe.pending += h.advance(1.1)
    peer.wait_text(2, OK)


def test_ppp_on_dlci_1_at_on_dlci_2() -> None:
    h, peer, pipe = muxed()
    peer.send(1, b"ATD*99#\r")
    assert peer.wait_text(1, CONNECT) == CONNECT
    pipe.pending += h.advance(0.06)  # the module's first request follows
    first = peer.wait_text(1, b"\x7e", timeout=1)
    first += peer.wait_text(1, b"\x7e", timeout=1)
    assert lcp_packets(first) == [(1, 1)]  # the module's Configure-Request
    assert peer.at(2, "AT+CSQ") == b"\r\n+CSQ: 24,0\r\n\r\nOK\r\n"
    assert peer.at(2, "AT+CGACT?") == b"\r\n+CGACT: 1,1\r\n\r\nOK\r\n"
    # the client ends PPP on DLCI 1
    peer.send(1, encode(b"\xff\x03\xc0\x21" + bytes((5, 7, 0, 4))))
    got = peer.wait_text(1, NO_CARRIER)
    assert lcp_packets(got[: -len(NO_CARRIER)]) == [(6, 7)]
    assert peer.at(1, "AT") == OK
    assert not h.m.ppp.call


def test_ato_only_on_the_calls_dlc_and_ath_anywhere() -> None:
    h, peer, pipe = muxed()
    peer.send(2, b"ATD*99***1#\r")
    peer.wait_text(2, CONNECT)
    escape_on_dlc_2(h, peer, pipe)
    assert h.m.ppp.held
    assert peer.at(1, "ATO", expect=b"ERROR\r\n") == b"\r\nERROR\r\n"
    assert peer.at(2, "ATO", expect=CONNECT) == CONNECT
    escape_on_dlc_2(h, peer, pipe)
    assert peer.at(3, "ATH") == OK
    assert not h.m.ppp.call


def test_network_drop_of_a_held_call_says_no_carrier_on_its_dlc() -> None:
    h, peer, pipe = muxed()
    peer.send(2, b'AT+CGDATA="PPP",1\r')
    peer.wait_text(2, CONNECT)
    escape_on_dlc_2(h, peer, pipe)
    pipe.pending += h.handle(Fault("pdp-deact"))
    assert peer.wait_text(2, NO_CARRIER) == NO_CARRIER


def test_disc_of_the_calls_dlc_ends_the_call() -> None:
    h, peer, _ = muxed()
    peer.send(1, b"ATD*99#\r")
    peer.wait_text(1, CONNECT)
    peer.disc(1)
    assert not h.m.ppp.call and not h.m.pdp_active
    assert peer.at(2, "AT") == OK
