"""describe(): one traffic-log line per PPP frame; FrameLog: serial chunks to lines."""

from __future__ import annotations

import ipaddress
import struct

import dns.message
from hypothesis import given, settings
from hypothesis import strategies as st
from ppp_peer import opts, pkt

from sim800emu.core.ppp.describe import FrameLog, describe
from sim800emu.core.ppp.hdlc import encode

SIM800_LCP = b"\xff\x03\xc0\x21" + pkt(
    1, 1, opts((2, bytes.fromhex("000a0000")), (3, b"\xc0\x23"), (7, b""), (8, b""))
)


def a(text: str) -> bytes:
    return ipaddress.IPv4Address(text).packed


def ipv4(proto: int, src: str, dst: str, body: bytes, frag: int = 0) -> bytes:
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(body), 1, frag, 64, proto, 0,
                       a(src), a(dst)) + body


def tcp(sport: int, dport: int, flags: int, seq: int, ack: int, payload: bytes = b"") -> bytes:
    return struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 64240, 0, 0) + payload


def test_lcp_lines() -> None:
    assert describe(SIM800_LCP) == "LCP Configure-Request id=1 asyncmap=0x000a0000 auth=pap pfc acfc"
    frame = b"\xff\x03\xc0\x21" + pkt(3, 4, opts((1, b"\x05\xdc"), (3, b"\xc2\x23\x05"),
                                                   (5, b"\x1a\x2b\x3c\x4d"), (13, b"\x06")))
    assert describe(frame) == "LCP Configure-Nak id=4 mru=1500 auth=chap-md5 magic=0x1a2b3c4d opt13=06"
    assert describe(b"\xc0\x21" + pkt(9, 2, b"\0\0\0\0hello")) == "LCP Echo-Request id=2 magic=0x00000000 len=5"
    assert describe(b"\xc0\x21" + pkt(5, 3, b"User request")) == "LCP Terminate-Request id=3 'User request'"
    assert describe(b"\xc0\x21" + pkt(8, 5, b"\x80\x57\x01")) == (
        "LCP Protocol-Reject id=5 proto=0x8057 (IPV6CP)")
    assert describe(b"\xc0\x21" + pkt(7, 6, pkt(12, 1))) == "LCP Code-Reject id=6 rejected=Identification"


def test_ipcp_pap_chap_lines() -> None:
    frame = b"\x80\x21" + pkt(2, 3, opts((3, a("10.0.0.2")), (129, a("8.8.8.8")), (131, a("8.8.4.4"))))
    assert describe(frame) == "IPCP Configure-Ack id=3 addr=10.0.0.2 dns1=8.8.8.8 dns2=8.8.4.4"
    frame = b"\x80\x21" + pkt(4, 1, opts((2, b"\x00\x2d\x0f\x01")))
    assert describe(frame) == "IPCP Configure-Reject id=1 compress=vj"
    assert describe(b"\xc0\x23" + pkt(1, 1, b"\x04user\x04pass")) == (
        "PAP Authenticate-Request id=1 user='user' password=(4 bytes)")
    assert describe(b"\xc0\x23" + pkt(2, 1, b"\x00")) == "PAP Authenticate-Ack id=1"
    assert describe(b"\xc2\x23" + pkt(1, 7, b"\x10" + bytes(16) + b"SIM800")) == (
        "CHAP Challenge id=7 name='SIM800'")
    assert describe(b"\xc2\x23" + pkt(3, 7)) == "CHAP Success id=7"


def test_ip_lines() -> None:
    syn = ipv4(6, "10.1.2.3", "93.184.216.34", tcp(40000, 80, 0x02, 1000, 0))
    assert describe(b"\x21" + syn) == (
        "IP 10.1.2.3:40000 > 93.184.216.34:80 TCP SYN len=0 seq=1000 win=64240")
    data = ipv4(6, "93.184.216.34", "10.1.2.3", tcp(80, 40000, 0x18, 5, 1001, b"hello"))
    assert describe(b"\x00\x21" + data).endswith("TCP ACK,PSH len=5 seq=5 ack=1001 win=64240")
    query = dns.message.make_query("example.com", "A").to_wire()
    udp = struct.pack("!HHHH", 5353, 53, 8 + len(query), 0) + query
    assert describe(b"\x21" + ipv4(17, "10.1.2.3", "8.8.8.8", udp)) == (
        f"IP 10.1.2.3:5353 > 8.8.8.8:53 UDP len={len(query)} DNS query example.com A")
    echo = struct.pack("!BBHHH", 8, 0, 0, 1, 2) + bytes(56)
    assert describe(b"\xff\x03\x00\x21" + ipv4(1, "10.1.2.3", "1.1.1.1", echo)) == (
        "IP 10.1.2.3 > 1.1.1.1 ICMP echo-request id=1 seq=2 len=56")
    assert describe(b"\x21" + ipv4(47, "10.1.2.3", "1.1.1.1", b"xx")) == "IP 10.1.2.3 > 1.1.1.1 proto 47 len=2"
    assert "fragment" in describe(b"\x21" + ipv4(17, "10.1.2.3", "1.1.1.1", b"x" * 8, frag=0x2000))


def test_other_protocols_and_garbage() -> None:
    assert describe(b"\x80\x57" + pkt(1, 1)) == "proto 0x8057 (IPV6CP) len=4"
    assert describe(b"\x80\xfd" + pkt(1, 1)) == "proto 0x80fd (CCP) len=4"
    assert describe(b"\x12\x35abc") == "proto 0x1235 (?) len=3"
    assert describe(b"\xff\x05\xc0\x21") .startswith("bad header")
    assert describe(b"\xc0\x21\x01") == "LCP malformed len=1"
    assert describe(b"\x21\x45\x00") == "IP malformed len=2"
    assert describe(b"\x21" + ipv4(17, "10.1.2.3", "8.8.8.8", struct.pack("!HHHH", 1, 53, 9, 0) + b"z")).endswith(
        "DNS (malformed)")


@settings(max_examples=500)
@given(st.binary(max_size=120), st.sampled_from([b"", b"\x21", b"\xc0\x21", b"\x80\x21", b"\xc0\x23",
                                                 b"\xc2\x23", b"\x21\x45\x00"]))
def test_describe_never_raises(data: bytes, prefix: bytes) -> None:
    line = describe(prefix + data)
    assert isinstance(line, str) and "\n" not in line


def test_frame_log_splits_both_directions_and_reports_drops() -> None:
    log = FrameLog()
    wire = encode(SIM800_LCP)
    assert log.modem_to_host(wire[:5]) == []
    assert log.modem_to_host(wire[5:]) == ["LCP Configure-Request id=1 asyncmap=0x000a0000 auth=pap pfc acfc"]
    bad = bytearray(encode(b"\x21" + bytes(30)))
    bad[4] ^= 0x40
    assert log.host_to_modem(bytes(bad) + b"\x01\x7e") == [
        "dropped: 1 frame (bad FCS)", "dropped: 1 frame (runt or aborted)"]
    log.host_to_modem(b"\x7eabc")
    log.reset()
    assert log.host_to_modem(b"\x7e") == []
