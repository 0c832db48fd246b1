"""The test-side PPP client (``pppclient.py``) on its own, with a fake
clock: framing checked against RFC 1662's numbers, a negotiation scripted
byte by byte as the SIM800 negotiates (issue 16's user logs), two clients
against each other, timers, and garbage that never raises."""

from __future__ import annotations

import random
import struct

import pytest
from pppclient import (
    GOOD_FCS,
    PROTO_IP,
    PROTO_IPCP,
    PROTO_LCP,
    PROTO_PAP,
    Deframer,
    PppClient,
    Settings,
    control,
    encode_frame,
    fcs16,
    fcs16_slow,
    pack_options,
    parse_options,
    split_frame,
)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_fcs16_matches_the_rfc() -> None:
    # the CRC-16/X-25 check value of "123456789" (RFC 1662's FCS-16, complemented)
    assert fcs16(b"123456789") ^ 0xFFFF == 0x906E
    rng = random.Random(1)
    for _ in range(300):
        data = rng.randbytes(rng.randrange(0, 200))
        assert fcs16(data) == fcs16_slow(data)
        start = rng.randrange(65536)
        assert fcs16(data, start) == fcs16_slow(data, start)
        trailer = struct.pack("<H", fcs16(data) ^ 0xFFFF)
        assert fcs16(data + trailer) == GOOD_FCS


@pytest.mark.parametrize("accm", [0xFFFFFFFF, 0, 0x000A0000])
def test_framing_round_trip(accm: int) -> None:
    rng = random.Random(accm)
    deframer = Deframer()
    deframer.accm = accm
    frames = [rng.randbytes(rng.randrange(1, 1600)) for _ in range(30)]
    wire = b"".join(encode_frame(PROTO_IP, f, accm=accm, acfc=True, pfc=True) for f in frames)
    body = wire.replace(b"\x7e", b"")
    assert 0x7E not in body
    for c in range(32):
        if accm >> c & 1:
            assert bytes([c]) not in body, c  # every mapped control character escaped
    got = []
    for i in range(0, len(wire), 7):  # any split of the stream
        got += deframer.feed(wire[i : i + 7])
    assert got == [b"\x21" + f for f in frames]
    assert [split_frame(g) for g in got] == [(PROTO_IP, f) for f in frames]
    assert deframer.good == len(frames) and deframer.bad_fcs == 0


def test_deframer_counts_and_bounds_bad_input() -> None:
    deframer = Deframer(max_len=100)
    good = encode_frame(PROTO_LCP, control(9, 1, b"\0\0\0\0"))
    bad = bytearray(good)
    bad[5] ^= 0x40
    assert deframer.feed(bytes(bad) + b"\x7e\x41\x7e" + b"\x7e" + b"x" * 10_000 + b"\x7e" + good)
    assert deframer.bad_fcs == 1 and deframer.runts == 1 and deframer.too_long == 1
    assert len(deframer._partial) == 0
    deframer.feed(b"y" * 1_000_000)  # no flag: memory stays bounded
    assert len(deframer._partial) <= 2 * 100 + 8
    rng = random.Random(7)
    client = PppClient()
    client.start()
    for _ in range(300):
        client.feed(rng.randbytes(rng.randrange(1, 400)))  # never raises


def lcp(code: int, ident: int, options: list[tuple[int, bytes]] | bytes) -> bytes:
    data = options if isinstance(options, bytes) else pack_options(options)
    return encode_frame(PROTO_LCP, control(code, ident, data))


class Scripted:
    """The client's output parsed into (protocol, code, id, data) packets."""

    def __init__(self, client: PppClient) -> None:
        self.deframer = Deframer()
        self.deframer.accm = 0
        self.packets: list[tuple[int, int, int, bytes]] = []
        client.on_output = self._out

    def _out(self, data: bytes) -> None:
        for frame in self.deframer.feed(data):
            parsed = split_frame(frame)
            assert parsed is not None
            proto, info = parsed
            if proto == PROTO_IP:
                self.packets.append((proto, 0, 0, info))
            else:
                code, ident, length = struct.unpack("!BBH", info[:4])
                self.packets.append((proto, code, ident, info[4:length]))

    def take(self) -> list[tuple[int, int, int, bytes]]:
        got, self.packets = self.packets, []
        return got


def test_negotiates_like_the_sim800() -> None:
    """The module's LCP (asyncmap 0x000A0000, PAP, PFC, ACFC, no magic) and
    IPCP (its address 192.168.254.254, the client's address and DNS by Nak)."""
    clock = Clock()
    client = PppClient(clock=clock, magic=False)
    ups: list[Settings] = []
    client.on_up = ups.append
    out = Scripted(client)
    client.start()
    ((proto, code, ident, data),) = out.take()
    assert (proto, code) == (PROTO_LCP, 1)
    ours = dict(parse_options(data) or [])
    assert ours == {2: bytes(4), 7: b"", 8: b""}  # ACCM 0, PFC, ACFC
    # the module Naks asyncmap 0 with 0x000A0000
    client.feed(lcp(3, ident, [(2, b"\x00\x0a\x00\x00")]))
    ((_, code, ident2, data),) = out.take()
    assert code == 1 and ident2 != ident and dict(parse_options(data) or [])[2] == b"\x00\x0a\x00\x00"
    module_req = [(2, b"\x00\x0a\x00\x00"), (3, b"\xc0\x23"), (7, b""), (8, b"")]
    client.feed(lcp(1, 1, module_req))
    assert out.take() == [(PROTO_LCP, 2, 1, pack_options(module_req))]
    client.feed(lcp(2, ident2, data))
    # LCP opened: PAP Authenticate-Request comes, with the peer's framing now
    ((proto, code, pap_id, body),) = out.take()
    assert (proto, code) == (PROTO_PAP, 1)
    assert body == b"\x04user\x04pass"
    assert client.tx_accm == 0x000A0000 and client.tx_pfc and client.tx_acfc
    client.feed(encode_frame(PROTO_PAP, control(2, pap_id, b"\x00"), accm=0))
    ((proto, code, ipcp_id, data),) = out.take()
    assert (proto, code) == (PROTO_IPCP, 1)
    assert parse_options(data) == [(3, bytes(4)), (129, bytes(4)), (131, bytes(4))]
    module_ipcp = [(3, bytes([192, 168, 254, 254]))]
    client.feed(encode_frame(PROTO_IPCP, control(1, 1, pack_options(module_ipcp)), accm=0))
    assert out.take() == [(PROTO_IPCP, 2, 1, pack_options(module_ipcp))]
    nak = [(3, bytes([10, 1, 2, 3])), (129, bytes([10, 0, 2, 3])), (131, bytes([8, 8, 8, 8]))]
    client.feed(encode_frame(PROTO_IPCP, control(3, ipcp_id, pack_options(nak)), accm=0))
    ((_, code, ipcp_id2, data),) = out.take()
    assert code == 1 and parse_options(data) == nak
    assert not client.opened
    client.feed(encode_frame(PROTO_IPCP, control(2, ipcp_id2, data), accm=0))
    assert client.opened
    assert ups == [Settings("10.1.2.3", "192.168.254.254", ["10.0.2.3", "8.8.8.8"])]
    # IP both ways; an LCP echo is answered
    got: list[bytes] = []
    client.on_ip = got.append
    client.feed(encode_frame(PROTO_IP, b"\x45payload", accm=0, acfc=True, pfc=True))
    assert got == [b"\x45payload"]
    assert client.send_ip(b"\x45up")
    assert out.take() == [(PROTO_IP, 0, 0, b"\x45up")]
    client.feed(lcp(9, 7, b"\0\0\0\0hello"))
    assert out.take() == [(PROTO_LCP, 10, 7, b"\0\0\0\0hello")]
    # the module terminates: Terminate-Ack, down
    downs: list[str] = []
    client.on_down = downs.append
    client.feed(lcp(5, 8, b""))
    assert out.take() == [(PROTO_LCP, 6, 8, b"")]
    assert downs and client.done and not client.opened


def test_rejects_auth_like_lwip_and_unknown_options() -> None:
    client = PppClient(auth_mode="reject", clock=Clock())
    out = Scripted(client)
    client.start()
    out.take()
    req = [(2, bytes(4)), (3, b"\xc0\x23"), (13, b"\x06"), (7, b"")]
    client.feed(lcp(1, 4, req))
    assert out.take() == [(PROTO_LCP, 4, 4, pack_options([(3, b"\xc0\x23"), (13, b"\x06")]))]


def test_restart_timer_and_give_up() -> None:
    clock = Clock()
    client = PppClient(clock=clock, restart=1.0, max_configure=3)
    out = Scripted(client)
    downs: list[str] = []
    client.on_down = downs.append
    client.start()
    for _ in range(5):
        clock.now += 1.0
        client.tick()
    requests = [p for p in out.take() if p[1] == 1]
    assert len(requests) == 3
    assert downs == ["LCP: no answer to Configure-Request"]


def connect(a: PppClient, b: PppClient) -> tuple[list[bytes], list[bytes]]:
    """``a``'s frames queue up for ``b`` and ``b``'s for ``a``: (to_a, to_b)."""
    to_a: list[bytes] = []
    to_b: list[bytes] = []
    a.on_output = to_b.append
    b.on_output = to_a.append
    return to_a, to_b


def exchange(a: PppClient, b: PppClient, to_a: list[bytes], to_b: list[bytes], rounds: int) -> None:
    """Deliver the queued frames, one each way in turn, until both queues are empty."""
    for _ in range(rounds):
        while to_a or to_b:
            if to_a:
                a.feed(to_a.pop(0))
            if to_b:
                b.feed(to_b.pop(0))


def test_two_clients_reach_each_other() -> None:
    clock = Clock()
    a = PppClient(clock=clock, address="10.9.0.1", request_dns=False)
    b = PppClient(clock=clock, address="10.9.0.2", request_dns=False, accm=0x000A0000, pfc=False)
    to_a, to_b = connect(a, b)
    a.start()
    b.start()
    exchange(a, b, to_a, to_b, 50)
    assert a.opened and b.opened
    assert a.settings == Settings("10.9.0.1", "10.9.0.2", [])
    assert a.tx_accm == 0x000A0000 and not a.tx_pfc and b.tx_pfc
    got: list[bytes] = []
    b.on_ip = got.append
    packet = bytes(range(256)) * 4
    a.send_ip(packet)
    b.feed(b"".join(to_b))
    assert got == [packet]
    to_b.clear()
    a.close()
    exchange(a, b, to_a, to_b, 10)
    assert a.done and b.done
    assert a.reason == "LCP closed" and b.reason == "the peer terminated the link"


def test_unknown_protocol_is_rejected_once_open() -> None:
    clock = Clock()
    a = PppClient(clock=clock, address="10.9.0.1", request_dns=False)
    b = PppClient(clock=clock, address="10.9.0.2", request_dns=False)
    out = Scripted(a)
    a.feed(encode_frame(0x8057, b"\x01\x01\x00\x04"))  # before LCP: silently dropped
    assert out.take() == []
    to_a, to_b = connect(a, b)
    a.start()
    b.start()
    exchange(a, b, to_a, to_b, 20)
    assert a.opened
    out = Scripted(a)
    a.feed(encode_frame(0x8057, b"\x01\x01\x00\x04", accm=0))
    assert out.take() == [(PROTO_LCP, 8, a.lcp.ident, b"\x80\x57\x01\x01\x00\x04")]
    assert a.counts["unknown_protocols"] == 1
