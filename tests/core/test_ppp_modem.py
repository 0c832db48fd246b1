"""Dial-up data through the whole core: the modem, its PPP session, the real
link (LCP, PAP, IPCP) and the real terminator, driven on the fake clock by
a small client on the serial side (RFC 1661/1662/1332 byte layouts; framing
from the project's hdlc module). What the session joins: CONNECT then the
module's LCP Configure-Request, PAP, the modem's IP and DNS in IPCP, a TCP
connection to the host alias re-originated as a ``Connect`` to 127.0.0.1,
data both ways, ``+++``/ATO in the middle, the client's Terminate-Request
ending in Terminate-Ack and NO CARRIER with the host socket closed.
"""

from __future__ import annotations

import ipaddress

from harness import OK, Harness, crlf

from sim800emu.core.config import ModemConfig, PppConfig, Timing
from sim800emu.core.events import Close, Fault, Received
from sim800emu.core.modem import Mode
from sim800emu.core.ppp.hdlc import Deframer, encode
from sim800emu.core.ppp.link import split_frame, split_packet
from sim800emu.core.ppp.packets import (
    ACK,
    PROTO_TCP,
    SYN,
    build_ipv4,
    build_tcp,
    parse_ipv4,
    parse_tcp,
)

LCP, PAP, IPCP, IP = 0xC021, 0xC023, 0x8021, 0x0021
CONNECT = crlf("CONNECT")
NO_CARRIER = crlf("NO CARRIER")
GUARD = 1.0


def ip4(text: str) -> bytes:
    return ipaddress.IPv4Address(text).packed


def opts(*items: tuple[int, bytes]) -> bytes:
    return b"".join(bytes((t, len(v) + 2)) + v for t, v in items)


def pkt(code: int, ident: int, data: bytes = b"") -> bytes:
    return bytes((code, ident, 0, len(data) + 4)) + data


class Client:
    """The client's end of the serial line (what lwIP or pppd would do)."""

    def __init__(self, h: Harness) -> None:
        self.h = h
        self.deframer = Deframer(70000)
        self.text = bytearray()  # what was not PPP (result codes)

    def send(self, proto: int, info: bytes) -> bytes:
        return self.h.feed(encode(b"\xff\x03" + proto.to_bytes(2, "big") + info))

    def packets(self, out: bytes) -> list[tuple[int, int, int, bytes]]:
        got = []
        for frame in self.deframer.feed(out):
            parsed = split_frame(frame)
            assert parsed is not None
            proto, info = parsed
            if proto == IP:
                got.append((IP, -1, -1, info))
                continue
            p = split_packet(info)
            assert p is not None
            got.append((proto, *p))
        return got

    def up(self) -> None:
        """ATD*99#, LCP, PAP, IPCP: the link opened."""
        h = self.h
        out = h.at("ATD*99#")
        assert out == CONNECT
        out += h.advance(0.06)  # the module's request, in a read of its own
        (proto, code, ident, data), = self.packets(out[len(CONNECT):])
        assert (proto, code) == (LCP, 1)
        assert data == opts((2, bytes.fromhex("000a0000")), (3, b"\xc0\x23"), (7, b""), (8, b""))
        got = self.packets(self.send(LCP, pkt(1, 1)))  # our request: no options
        assert [(p, c) for p, c, _, _ in got] == [(LCP, 2)]
        got = self.packets(self.send(LCP, pkt(2, ident, data)))  # ack theirs
        assert got == []
        got = self.packets(self.send(PAP, pkt(1, 1, b"\x04user\x04pass")))
        assert [(p, c) for p, c, _, _ in got] == [(PAP, 2), (IPCP, 1)]
        ipcp_id, ipcp_req = got[1][2], got[1][3]
        assert ipcp_req == opts((3, ip4("192.168.254.254")))
        zero = b"\0\0\0\0"
        got = self.packets(self.send(IPCP, pkt(1, 1, opts((3, zero), (129, zero), (131, zero)))))
        assert [(p, c) for p, c, _, _ in got] == [(IPCP, 3)]
        nak = got[0][3]
        assert nak == opts((3, ip4(h.m.local_ip)), (129, ip4("8.8.8.8")), (131, ip4("10.0.2.3")))
        assert self.packets(self.send(IPCP, pkt(2, ipcp_id, ipcp_req))) == []
        got = self.packets(self.send(IPCP, pkt(1, 2, nak)))
        assert [(p, c) for p, c, _, _ in got] == [(IPCP, 2)]
        assert h.m.ppp.link is not None and h.m.ppp.link.opened


def modem(**ppp: object) -> Harness:
    h = Harness(config=ModemConfig(ppp=PppConfig(**ppp)))  # type: ignore[arg-type]
    h.m.dns = ("8.8.8.8", "0.0.0.0")
    return h


def test_negotiation_tcp_escape_and_client_terminate() -> None:
    h = modem()
    c = Client(h)
    c.up()
    me, alias = ip4(h.m.local_ip), ip4("10.0.2.2")
    syn = build_tcp(me, alias, 40000, 80, 1000, 0, SYN, 65535, mss=1460)
    assert c.packets(c.send(IP, build_ipv4(me, alias, PROTO_TCP, syn, 1))) == []
    (conn,) = h.connects
    assert (conn.proto, conn.host, conn.port) == ("TCP", "127.0.0.1", 80)
    sock, out = h.connected()
    (answer,) = c.packets(out)
    seg_ip = parse_ipv4(answer[3])
    seg = parse_tcp(seg_ip.src, seg_ip.dst, seg_ip.payload)
    assert seg.flags & (SYN | ACK) == SYN | ACK and seg.ack == 1001
    assert (seg_ip.src, seg.sport) == (alias, 80)
    # data up
    data = build_tcp(me, alias, 40000, 80, 1001, seg.seq + 1, ACK, 65535, b"hello")
    c.packets(c.send(IP, build_ipv4(me, alias, PROTO_TCP, data, 2)))
    assert h.sent(sock) == b"hello"
    # +++ and ATO: the call and its connection stay
    h.advance(GUARD + 0.2)
    h.feed(b"+++")
    out = h.advance(GUARD + 0.01)
    assert OK in out
    assert h.m.mode is Mode.COMMAND and h.m.ppp.held
    # data down while held waits for ATO
    h.handle(Received(sock, b"world"))
    assert h.at("AT") == OK
    out = h.at("ATO")
    assert out.startswith(CONNECT)
    ips = [parse_ipv4(i) for p, _, _, i in c.packets(out[len(CONNECT):]) if p == IP]
    assert any(parse_tcp(i.src, i.dst, i.payload).payload == b"world" for i in ips)
    # the client ends PPP: Terminate-Ack, NO CARRIER, the host socket closed
    out = c.send(LCP, pkt(5, 9))
    at = out.index(NO_CARRIER)
    assert [(p, cd) for p, cd, _, _ in c.packets(out[:at])] == [(LCP, 6)]
    assert out[at:] == NO_CARRIER
    assert h.m.mode is Mode.COMMAND and not h.m.ppp.call
    assert any(isinstance(r, Close) and r.sock == sock for r in h.requests)
    assert h.at("AT+CGACT?") == crlf("+CGACT: 1,0") + OK


def test_network_drop_sends_terminate_then_no_carrier() -> None:
    h = modem()
    c = Client(h)
    c.up()
    out = h.handle(Fault("pdp-deact"))
    ((proto, code, ident, _),) = c.packets(out)
    assert (proto, code) == (LCP, 5)
    out = c.send(LCP, pkt(6, ident))
    assert out == NO_CARRIER
    assert h.at("AT") == OK


def test_unanswered_lcp_gives_up_with_no_carrier() -> None:
    h = modem(restart=1.0)
    out = h.at("ATD*99#")
    assert out == CONNECT
    out = h.advance(60)
    assert out.endswith(NO_CARRIER)
    assert h.m.mode is Mode.COMMAND and "last call" in h.m.ppp.status_text()


def test_auth_option_reaches_the_link() -> None:
    h = modem(auth=("u", "secret"))
    c = Client(h)
    out = h.at("ATD*99#") + h.advance(0.06)
    (_, _, ident, data), = c.packets(out[len(CONNECT):])
    c.send(LCP, pkt(1, 1))
    c.send(LCP, pkt(2, ident, data))
    got = c.packets(c.send(PAP, pkt(1, 1, b"\x04user\x04pass")))
    # Authenticate-Nak, then the link ends: Terminate-Request, and after
    # the client's Ack, NO CARRIER
    assert [(p, cd) for p, cd, _, _ in got] == [(PAP, 3), (LCP, 5)]
    assert c.send(LCP, pkt(6, got[1][2])) == NO_CARRIER


def test_escape_guard_from_the_timing() -> None:
    h = Harness(config=ModemConfig(timing=Timing(escape_guard=0.2)))
    assert h.at("ATD*99#") == CONNECT
    h.advance(0.25)
    h.feed(b"+++")
    assert OK in h.advance(0.21)
