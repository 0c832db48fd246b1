"""The PPP terminator (core/ppp/terminator.py) apart from TCP's state
machine: packet checks, UDP flows, DNS answers, ping, bad input."""

from __future__ import annotations

import random

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ppp_ip_fakes import (
    CLIENT,
    DNS1,
    DNS2,
    SERVER,
    Client,
    FakeHost,
    Wire,
    icmp_echo,
    ip_packet,
    make,
    naive_checksum,
    tcp_packet,
    udp_packet,
)

from sim800emu.core.events import (
    Close,
    Connect,
    Connected,
    ConnectFailed,
    Ping,
    PingDone,
    PingReply,
    PortUnreachable,
    Received,
    Resolve,
    Resolved,
    Send,
)
from sim800emu.core.ppp.packets import (
    PROTO_UDP,
    SYN,
    build_ipv4,
    build_udp,
    checksum,
    ip_bytes,
    parse_ipv4,
)
from sim800emu.core.ppp.terminator import Terminator

# ---------------------------------------------------------------- packets


def test_checksum_matches_rfc1071() -> None:
    rng = random.Random(5)
    for n in [*range(0, 40), 1499, 1500, 65535]:
        data = rng.randbytes(n)
        assert checksum(data) == naive_checksum(data) or {checksum(data), naive_checksum(data)} == {
            0,
            0xFFFF,
        }
    # RFC 1071 section 3's example words
    assert naive_checksum(bytes.fromhex("0001f203f4f5f6f7")) == checksum(
        bytes.fromhex("0001f203f4f5f6f7")
    )


def test_ipv4_header_built_and_checked() -> None:
    raw = build_ipv4(ip_bytes(SERVER), ip_bytes(CLIENT), 17, b"payload", 7)
    assert raw[0] == 0x45 and len(raw) == 27
    assert naive_checksum(raw[:20]) == 0
    ip = parse_ipv4(raw)
    assert ip.payload == b"payload" and ip.proto == 17


def test_bad_checksums_fragments_and_junk_are_dropped_and_counted() -> None:
    host, term, wire = make()
    good = udp_packet(5000, 6000, b"x")
    bad_ip = bytearray(good)
    bad_ip[10] ^= 0xFF
    term.packet(bytes(bad_ip))
    bad_udp = bytearray(good)
    bad_udp[-1] ^= 0x01
    term.packet(bytes(bad_udp))
    frag = bytearray(build_ipv4(ip_bytes(CLIENT), ip_bytes(SERVER), 17, b"12345678", 1))
    frag[6] = 0x20  # MF
    frag[10:12] = b"\0\0"
    frag[10:12] = checksum(bytes(frag[:20])).to_bytes(2, "big")
    term.packet(bytes(frag))
    term.packet(b"")
    term.packet(b"\x60" + bytes(39))  # IPv6
    term.packet(ip_packet(CLIENT, SERVER, 47, b"gre"))  # another protocol
    term.packet(udp_packet(5000, 6000, b"x", dst="255.255.255.255"))
    term.packet(udp_packet(5000, 6000, b"x", dst="224.0.0.251"))
    assert not host.requests
    (unreachable,) = wire.take()  # for the GRE packet: protocol unreachable
    assert unreachable.icmp is not None
    assert (unreachable.icmp.type, unreachable.icmp.code) == (3, 2)
    assert unreachable.icmp.payload[:20] == ip_packet(CLIENT, SERVER, 47, b"gre")[:20]
    stats = term.stats
    assert stats["bad_checksum"] == 2
    assert stats["fragments_in"] == 1  # waits for the rest
    assert stats["ip_short"] == 1 and stats["ip_version"] == 1
    assert stats["unsupported_protocol"] == 1
    assert stats["bad_destination"] == 2


def fragments_of(packet: bytes, sizes: list[int]) -> list[bytes]:
    """``packet`` (no options) cut into fragments carrying ``sizes`` bytes."""
    ip = parse_ipv4(packet)
    out, start = [], 0
    for n in sizes:
        more = start + n < len(ip.payload)
        frag = (0x2000 if more else 0) | (start // 8)
        out.append(
            build_ipv4(ip.src, ip.dst, ip.proto, ip.payload[start : start + n], 99, frag=frag)
        )
        start += n
    return out


def test_fragments_are_reassembled() -> None:
    host, term, _wire = make()
    payload = bytes(range(256)) * 12  # 3072 bytes
    parts = fragments_of(udp_packet(5000, 7, payload), [1480, 1480, 120])
    for part in reversed(parts):  # any order
        term.packet(part)
    (connect,) = host.of(Connect)
    host.result(Connected(connect.sock, SERVER, 7))
    (send,) = host.of(Send)
    assert isinstance(send, Send) and send.data == payload
    assert term.stats["reassembled"] == 1


def test_bad_fragments_are_dropped_and_bounded() -> None:
    host, term, _wire = make()
    packet = udp_packet(5000, 7, bytes(3000))
    a, b, c = fragments_of(packet, [1480, 1480, 48])
    overlapping = fragments_of(packet, [1000, 2008])[1]  # starts inside a
    for part in (a, overlapping, b, c):
        term.packet(part)
    assert not host.of(Connect)  # the datagram is dropped, not half-built
    assert term.stats["reassembly_dropped"] >= 1
    # many datagrams never finished: bounded, and they time out
    for ident in range(100):
        ip = parse_ipv4(a, fragments=True)
        term.packet(build_ipv4(ip.src, ip.dst, ip.proto, ip.payload, ident, frag=0x2000))
    assert len(term._reassembly) <= 16
    host.advance(20)
    term.packet(c)  # the old ones time out
    assert len(term._reassembly) == 1


def test_large_datagrams_to_the_client_are_fragmented() -> None:
    host, term, wire = make(mss=1460)
    term.packet(udp_packet(5000, 7, b"q"))
    (connect,) = host.of(Connect)
    host.result(Connected(connect.sock, SERVER, 7))
    big = bytes(range(256)) * 16  # 4096 bytes
    host.result(Received(connect.sock, big, SERVER, 7))
    raws = [o.raw for o in wire.take()]
    assert len(raws) == 3 and all(len(r) <= 1500 for r in raws)
    ips = [parse_ipv4(r, fragments=True) for r in raws]
    assert [ip.more for ip in ips] == [True, True, False]
    assert [ip.offset for ip in ips] == [0, 1480, 2960]
    datagram = b"".join(ip.payload for ip in ips)
    assert datagram[8:] == big and len({ip.ident for ip in ips}) == 1


def test_udp_checksum_zero_means_none() -> None:
    host, term, _wire = make()
    seg = bytearray(build_udp(ip_bytes(CLIENT), ip_bytes(SERVER), 5000, 6000, b"abc"))
    seg[6:8] = b"\0\0"
    term.packet(ip_packet(CLIENT, SERVER, PROTO_UDP, bytes(seg)))
    assert host.of(Connect)


# ---------------------------------------------------------------- UDP


def test_udp_flow_through_a_host_socket() -> None:
    host, term, wire = make()
    term.packet(udp_packet(5000, 7, b"one"))
    term.packet(udp_packet(5000, 7, b"two"))
    (connect,) = host.of(Connect)
    assert isinstance(connect, Connect)
    assert (connect.proto, connect.host, connect.port) == ("UDP", SERVER, 7)
    assert not host.of(Send)  # held until the socket is up
    host.result(Connected(connect.sock, SERVER, 7))
    assert [r.data for r in host.of(Send) if isinstance(r, Send)] == [b"one", b"two"]
    term.packet(udp_packet(5000, 7, b"three"))
    assert len(host.of(Send)) == 3 and len(host.of(Connect)) == 1
    host.result(Received(connect.sock, b"echo", SERVER, 7))
    (out,) = wire.take()
    assert out.udp is not None
    assert (out.udp.sport, out.udp.dport, out.udp.payload) == (7, 5000, b"echo")
    assert out.ip.src == ip_bytes(SERVER) and out.ip.dst == ip_bytes(CLIENT)
    # another client port is another flow
    term.packet(udp_packet(5001, 7, b"other"))
    assert len(host.of(Connect)) == 2
    # idle: the socket closes
    host.advance(30)
    term.packet(udp_packet(5000, 7, b"keepalive"))
    host.advance(45)
    closes = [r.sock for r in host.of(Close) if isinstance(r, Close)]
    assert connect.sock not in closes and len(closes) == 1
    host.advance(30)
    closes = [r.sock for r in host.of(Close) if isinstance(r, Close)]
    assert connect.sock in closes
    assert term.flows == 0


def test_udp_to_the_host_alias() -> None:
    host, term, _wire = make()
    term.packet(udp_packet(5000, 9999, b"hi", dst="10.0.2.2"))
    (connect,) = host.of(Connect)
    assert isinstance(connect, Connect) and connect.host == "127.0.0.1"


def test_udp_denied_gets_icmp_unreachable() -> None:
    host, term, wire = make()
    term.packet(udp_packet(5000, 7, b"one"))
    (connect,) = host.of(Connect)
    host.result(ConnectFailed(connect.sock, "denied by policy"))
    (out,) = wire.take()
    assert out.icmp is not None and (out.icmp.type, out.icmp.code) == (3, 13)
    assert out.icmp.payload[:20] == udp_packet(5000, 7, b"one")[:20]
    assert term.flows == 0


def test_udp_flows_are_bounded() -> None:
    """The table holds max_flows; a new flow pushes out the one quiet the
    longest; TCP connections are never pushed out by UDP."""
    host, term, _wire = make(max_flows=4)
    for port in range(100):
        host.advance(1)
        term.packet(udp_packet(10000 + port, 7, b"x"))
    assert len(host.of(Connect)) == 100
    assert term.flows == 4 and term.stats["udp_evicted"] == 96
    closed = {r.sock for r in host.of(Close) if isinstance(r, Close)}
    assert len(closed) == 96
    c = Client(host, term, _wire)
    c.connect()
    for port in range(10):
        term.packet(udp_packet(20000 + port, 7, b"x"))
    assert term.flows == 4 and term.connections()


# ---------------------------------------------------------------- DNS


def dns_query(name: str, rdtype: str = "A", qid: int = 4242, server: str = DNS1) -> bytes:
    q = dns.message.make_query(name, rdtype)
    q.id = qid
    return udp_packet(33333, 53, q.to_wire(), dst=server)


def answer(wire_out: list) -> dns.message.Message:  # type: ignore[type-arg]
    (out,) = wire_out
    assert out.udp is not None and out.udp.sport == 53 and out.udp.dport == 33333
    return dns.message.from_wire(out.udp.payload)


def test_dns_a_record_from_resolve() -> None:
    host, term, wire = make()
    term.packet(dns_query("Example.COM"))
    (resolve,) = host.of(Resolve)
    assert isinstance(resolve, Resolve)
    assert resolve.name == "example.com" and resolve.dns == (DNS1, DNS2)
    assert not host.of(Connect)  # answered here, not forwarded
    host.result(Resolved(resolve.query, ("93.184.216.34", "93.184.216.35")))
    reply = answer(wire.take())
    assert reply.id == 4242 and reply.rcode() == dns.rcode.NOERROR
    assert reply.flags & dns.flags.QR and reply.flags & dns.flags.RA
    (rrset,) = reply.answer
    assert rrset.rdtype == dns.rdatatype.A
    assert sorted(r.address for r in rrset) == ["93.184.216.34", "93.184.216.35"]
    assert str(rrset.name) == "Example.COM."
    assert not host.queries  # disowned


def test_dns_answers_the_host_loopback_as_the_alias() -> None:
    host, term, wire = make()
    term.packet(dns_query("local.test"))
    (resolve,) = host.of(Resolve)
    host.result(Resolved(resolve.query, ("127.0.0.1",)))
    reply = answer(wire.take())
    assert [r.address for r in reply.answer[0]] == ["10.0.2.2"]


def test_dns_nxdomain_servfail_and_aaaa() -> None:
    host, term, wire = make()
    term.packet(dns_query("nowhere.invalid"))
    (resolve,) = host.of(Resolve)
    host.result(Resolved(resolve.query, (), 8))
    assert answer(wire.take()).rcode() == dns.rcode.NXDOMAIN
    term.packet(dns_query("down.example", server=DNS2))
    resolve = host.of(Resolve)[-1]
    host.result(Resolved(resolve.query, (), 3))
    out = wire.take()
    assert out[0].ip.src == ip_bytes(DNS2)
    assert answer(out).rcode() == dns.rcode.SERVFAIL
    term.packet(dns_query("v4only.example", "AAAA"))
    resolve = host.of(Resolve)[-1]
    host.result(Resolved(resolve.query, ("10.1.1.1",)))
    reply = answer(wire.take())
    assert reply.rcode() == dns.rcode.NOERROR and not reply.answer  # exists, no IPv6
    term.packet(dns_query("4.3.2.1.in-addr.arpa", "PTR"))
    assert answer(wire.take()).rcode() == dns.rcode.NXDOMAIN


def test_dns_queries_coalesce_and_are_cached_briefly() -> None:
    host, term, wire = make()
    term.packet(dns_query("a.example", "A", qid=1))
    term.packet(dns_query("a.example", "AAAA", qid=2))
    assert len(host.of(Resolve)) == 1
    resolve = host.of(Resolve)[0]
    host.result(Resolved(resolve.query, ("10.9.9.9",)))
    assert len(wire.take()) == 2
    term.packet(dns_query("a.example", "A", qid=3))
    assert len(host.of(Resolve)) == 1 and len(wire.take()) == 1
    host.advance(10)
    term.packet(dns_query("a.example", "A", qid=4))
    assert len(host.of(Resolve)) == 2


def test_dns_garbage_and_other_servers() -> None:
    host, term, wire = make()
    term.packet(udp_packet(33333, 53, b"\x01\x02garbage", dst=DNS1))
    assert not wire.out and term.stats["dns_malformed"] == 1
    term.packet(dns_query("x.example", server="8.8.8.8"))  # not announced: a UDP flow
    (connect,) = host.of(Connect)
    assert isinstance(connect, Connect) and (connect.host, connect.port) == ("8.8.8.8", 53)


# ---------------------------------------------------------------- ICMP


def test_ping_answered_through_the_host() -> None:
    host, term, wire = make()
    term.packet(icmp_echo(0x1234, 7, b"abcdefgh" * 7))
    (ping,) = host.of(Ping)
    assert isinstance(ping, Ping)
    assert (ping.host, ping.count, ping.size) == (SERVER, 1, 56)
    host.result(PingReply(ping.query, 1, SERVER, 12.5, 55))
    host.result(PingDone(ping.query))
    (out,) = wire.take()
    assert out.icmp is not None
    assert (out.icmp.type, out.icmp.ident, out.icmp.seq) == (0, 0x1234, 7)
    assert out.icmp.payload == b"abcdefgh" * 7
    assert out.ip.src == ip_bytes(SERVER)
    assert not host.queries


def test_ping_timeout_or_denied_is_silent() -> None:
    host, term, wire = make()
    term.packet(icmp_echo(1, 1, b"x", dst="10.0.2.2"))
    (ping,) = host.of(Ping)
    assert isinstance(ping, Ping) and ping.host == "127.0.0.1"
    host.result(PingReply(ping.query, 1, "127.0.0.1"))  # time-out
    host.result(PingDone(ping.query))
    term.packet(icmp_echo(1, 2, b"x"))
    ping = host.of(Ping)[-1]
    host.result(PingDone(ping.query, error=True))
    assert not wire.out and not host.queries


def test_pings_are_bounded() -> None:
    host, term, _wire = make()
    for i in range(100):
        term.packet(icmp_echo(1, i, b"x"))
    assert len(host.of(Ping)) == 32


# ---------------------------------------------------------------- bad input


def valid_packets() -> list[bytes]:
    return [
        tcp_packet(40000, 80, 1, 0, SYN, mss=1460),
        tcp_packet(40000, 80, 2, 5, 0x10, payload=b"data"),
        udp_packet(5000, 7, b"hello"),
        dns_query("example.com"),
        icmp_echo(1, 1, b"ping"),
    ]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.binary(max_size=120), max_size=20))
def test_random_bytes_never_raise(packets: list[bytes]) -> None:
    _host, term, _wire = make(max_flows=8)
    for p in packets:
        term.packet(p)
    assert term.flows <= 8
    assert term.stats.get("errors", 0) == 0


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(st.integers(0, 4), st.integers(0, 200), st.integers(0, 255), st.booleans()),
        max_size=30,
    )
)
def test_mutated_packets_never_raise(edits: list[tuple[int, int, int, bool]]) -> None:
    """Valid packets with a byte changed (checksums fixed up or not): the
    terminator never raises, never holds more than max_flows."""
    host, term, wire = make(max_flows=8)
    base = valid_packets()
    for which, pos, value, fix in edits:
        p = bytearray(base[which])
        if pos < len(p):
            p[pos] = value
        if fix and len(p) >= 20:
            p[10:12] = b"\0\0"
            p[10:12] = checksum(bytes(p[:20])).to_bytes(2, "big")
        term.packet(bytes(p))
        for req in host.take():
            if isinstance(req, Connect) and req.proto == "TCP":
                host.result(Connected(req.sock, req.host, req.port))
    host.advance(300)
    assert term.flows <= 8
    assert term.stats.get("errors", 0) == 0
    wire.take()


def test_close_all_closes_flows_and_forgets_queries() -> None:
    host, term, wire = make()
    term.packet(udp_packet(5000, 7, b"x"))
    term.packet(icmp_echo(1, 1, b"x"))
    term.packet(dns_query("pending.example"))
    c = Client(host, term, wire)
    c.connect()
    term.close_all()
    assert term.flows == 0 and not host.socks and not host.queries
    assert not [k for k in host.timers if k.startswith("ppp.ip")]
    host.advance(100)
    assert not wire.out


def test_unusable_dns_servers_are_left_out() -> None:
    from ppp_ip_fakes import FakeHost

    from sim800emu.core.ppp.terminator import Terminator

    term = Terminator(
        FakeHost(), client_ip=CLIENT, dns_servers=("0.0.0.0", "", "dns.example", DNS2)
    )
    assert term.dns_servers == (DNS2,)


# ------------------------------------------------ the module's own address

PEER = "192.168.254.254"  # the address IPCP gives the module (docs/ppp-ip.md)


def test_ping_to_the_module_is_answered_locally() -> None:
    """The PPP peer address is the module itself: its echo is answered at
    once, nothing goes to the host's network."""
    host, term, wire = make()
    term.packet(icmp_echo(0x77, 3, b"payload!", dst=PEER))
    assert not host.requests and not host.queries
    (out,) = wire.take()
    assert out.icmp is not None
    assert (out.icmp.type, out.icmp.code, out.icmp.ident, out.icmp.seq) == (0, 0, 0x77, 3)
    assert out.icmp.payload == b"payload!"
    assert (out.ip.src, out.ip.dst) == (ip_bytes(PEER), ip_bytes(CLIENT))
    assert term.stats["ping_local"] == 1


def test_tcp_and_udp_to_the_module_get_refused_locally() -> None:
    """The module serves nothing on that address: TCP is reset, UDP gets
    ICMP port unreachable, and no host socket is opened."""
    host, term, wire = make()
    term.packet(tcp_packet(40000, 80, 1000, 0, SYN, dst=PEER))
    term.packet(udp_packet(5000, 7, b"echo?", dst=PEER))
    assert not host.requests
    rst, unreachable = wire.take()
    assert rst.tcp is not None and rst.tcp.flags & 0x04 and rst.tcp.ack == 1001
    assert rst.ip.src == ip_bytes(PEER)
    assert unreachable.icmp is not None
    assert (unreachable.icmp.type, unreachable.icmp.code) == (3, 3)
    assert unreachable.ip.src == ip_bytes(PEER)
    assert unreachable.icmp.payload[:20] == udp_packet(5000, 7, b"echo?", dst=PEER)[:20]
    assert term.flows == 0


def test_the_module_address_as_dns_server_still_answers_dns() -> None:
    host = FakeHost()
    term = Terminator(host, client_ip=CLIENT, dns_servers=(PEER,))
    wire = Wire(term)
    term.packet(dns_query("example.com", server=PEER))
    assert [type(r) for r in host.requests] == [Resolve]
    assert not wire.out


def test_udp_port_unreachable_from_the_host_is_passed_on() -> None:
    """The host's socket heard ICMP port unreachable (ECONNREFUSED): the
    client gets ICMP port unreachable quoting its latest datagram, from the
    destination; the flow stays (UDP has no connection)."""
    host, term, wire = make()
    term.packet(udp_packet(5000, 9, b"one"))
    (connect,) = host.of(Connect)
    assert isinstance(connect, Connect) and connect.icmp_errors
    host.result(Connected(connect.sock, SERVER, 9))
    term.packet(udp_packet(5000, 9, b"two"))
    host.result(PortUnreachable(connect.sock))
    (out,) = wire.take()
    assert out.icmp is not None and (out.icmp.type, out.icmp.code) == (3, 3)
    assert out.ip.src == ip_bytes(SERVER) and out.ip.dst == ip_bytes(CLIENT)
    quoted = udp_packet(5000, 9, b"two")
    assert out.icmp.payload == quoted[:28]
    assert term.stats["udp_port_unreachable"] == 1
    assert term.flows == 1
    # a refusal before any datagram was sent on the flow quotes nothing: silent
    term.packet(udp_packet(5001, 9, b"x"))
    second = host.of(Connect)[-1]
    host.result(PortUnreachable(second.sock))  # (not connected yet: ignored)
    assert not wire.out


def test_the_dns_fallback_address_is_local_too() -> None:
    """The fallback DNS address (10.0.2.3) exists only in the emulator: a
    ping to it is answered here and TCP to it is reset, DNS answered."""
    host = FakeHost()
    term = Terminator(
        host, client_ip=CLIENT, dns_servers=(DNS1, "10.0.2.3"), local_addrs=("10.0.2.3",)
    )
    wire = Wire(term)
    term.packet(icmp_echo(1, 1, b"x", dst="10.0.2.3"))
    term.packet(tcp_packet(40000, 53, 1000, 0, SYN, dst="10.0.2.3"))
    assert not host.requests and not host.queries
    reply, rst = wire.take()
    assert reply.icmp is not None and reply.icmp.type == 0
    assert rst.tcp is not None and rst.tcp.flags & 0x04
    term.packet(dns_query("example.com", server="10.0.2.3"))
    assert [type(r) for r in host.requests] == [Resolve]
    # a real DNS server is pinged through the host as any address
    term.packet(icmp_echo(1, 2, b"x", dst=DNS1))
    assert [type(r) for r in host.requests][-1] is Ping
