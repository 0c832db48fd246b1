"""The module's LCP/IPCP against what lwIP (esp_modem) and pppd send and
require (the review of issue 16; docs/ppp-link.md "What clients require").

* lwIP and pppd answer every Echo-Request in Opened whatever its magic
  number, and count a reply whose magic equals their own as "our own
  echo"; a reply with any other magic (ours is 0: none negotiated) keeps
  their keepalive (lcp-echo-interval / lcp-echo-failure) happy.
* Both declare the line looped back when their magic number is Naked
  (10 times): the module must Ack any nonzero magic, also a new one after
  the client restarts.
* IPCP without DNS options (lwIP without usepeerdns, pppd without it):
  address only, the link opens.
* A client that renegotiates LCP after Opened gets IPCP again (on_up once
  more), with the same addresses.
"""

from __future__ import annotations

from ppp_peer import IPCP, LCP, PAP, FakeHost, Peer, opts, pkt

from sim800emu.core.ppp.link import Phase, PppLink, State

CLIENT = "10.1.2.3"
DNS = ("8.8.8.8", "8.8.4.4")
ACCM = bytes.fromhex("000a0000")
SIM800_LCP = opts((2, ACCM), (3, b"\xc0\x23"), (7, b""), (8, b""))
PEER = bytes((192, 168, 254, 254))
ADDR = bytes((10, 1, 2, 3))


def lwip_lcp(link: PppLink, peer: Peer, magic: bytes) -> tuple[int, int, int, bytes]:
    """lwIP as esp_modem runs it: asyncmap 0, magic, PFC, ACFC; rejects
    our PAP (no credentials set)."""
    link.start()
    ident, data = peer.expect(LCP, 1)
    assert data == SIM800_LCP
    peer.lcp(4, ident, opts((3, b"\xc0\x23")))  # Configure-Reject auth
    ident, data = peer.expect(LCP, 1)
    assert data == opts((2, ACCM), (7, b""), (8, b""))
    peer.lcp(2, ident, data)
    peer.lcp(1, 1, opts((2, b"\0\0\0\0"), (5, magic), (7, b""), (8, b"")))
    assert peer.expect(LCP, 3) == (1, opts((2, ACCM)))
    final = opts((2, ACCM), (5, magic), (7, b""), (8, b""))
    peer.lcp(1, 2, final)
    got = peer.take()
    assert got[0] == (LCP, 2, 2, final)
    assert link.lcp_state == State.OPENED and link.phase == Phase.NETWORK
    # no authentication: IPCP starts at once
    assert [(p, c) for p, c, _, _ in got[1:]] == [(IPCP, 1)]
    return got[1]


def ipcp_address_only(
    link: PppLink, peer: Peer, ours: tuple[int, int, int, bytes]
) -> None:
    """IPCP with no DNS options: 0.0.0.0 Naked to our client address."""
    _p, _c, ident, data = ours
    assert data == opts((3, PEER))
    peer.ipcp(2, ident, data)
    peer.ipcp(1, 1, opts((3, b"\0\0\0\0")))
    assert peer.expect(IPCP, 3) == (1, opts((3, ADDR)))
    peer.ipcp(1, 2, opts((3, ADDR)))
    assert peer.expect(IPCP, 2) == (2, opts((3, ADDR)))


def make() -> tuple[PppLink, Peer, FakeHost]:
    host = FakeHost()
    link = PppLink(host, client_ip=CLIENT, dns=DNS)
    return link, Peer(link), host


def test_lwip_without_dns_options_opens_with_the_address_only() -> None:
    link, peer, _ = make()
    ipcp_address_only(link, peer, lwip_lcp(link, peer, bytes.fromhex("d866d38a")))
    assert link.opened and peer.ups == 1


def test_every_nonzero_magic_is_acked_never_naked() -> None:
    """lwIP/pppd count each Nak of their magic as a looped-back line; the
    client picks a new magic when it restarts LCP: still acked."""
    link, peer, _ = make()
    lwip_lcp(link, peer, bytes.fromhex("0badcafe"))
    for n, magic in enumerate(("12345678", "ffffffff", "00000001")):
        request = opts((2, ACCM), (5, bytes.fromhex(magic)), (7, b""), (8, b""))
        peer.lcp(1, 10 + n, request)
        got = peer.take()
        assert (LCP, 2, 10 + n, request) in got, got
        assert all(code != 3 for _p, code, _i, _d in got)


def test_echo_requests_with_any_magic_are_answered_with_zero() -> None:
    """Whatever magic the client puts in (its own, zero, a stale one after a
    renegotiation), the reply comes back with ours, which is zero."""
    link, peer, _ = make()
    ipcp_address_only(link, peer, lwip_lcp(link, peer, bytes.fromhex("d866d38a")))
    for n, magic in enumerate(("d866d38a", "00000000", "deadbeef")):
        peer.lcp(9, 40 + n, bytes.fromhex(magic) + b"keepalive")
        assert peer.expect(LCP, 10) == (40 + n, b"\0\0\0\0keepalive")
    assert link.stats["echo_replies"] == 3
    # an Echo-Reply or Discard-Request from the client is taken silently
    peer.lcp(10, 1, b"\0\0\0\0")
    peer.lcp(11, 2, b"\x12\x34\x56\x78")
    assert peer.take() == []
    assert link.opened


def test_the_module_never_sends_a_magic_number() -> None:
    """No magic in our requests, so a client never sees its own magic from
    us (lwIP's "Loopback detected" needs its magic echoed or Naked)."""
    link, peer, host = make()
    link.start()
    for _ in range(3):
        host.advance(3.0)
    for _proto, code, _ident, data in peer.take():
        assert code == 1 and b"\x05\x06" not in data


def test_lcp_renegotiation_after_opened_brings_ipcp_up_again() -> None:
    link, peer, _ = make()
    ipcp_address_only(link, peer, lwip_lcp(link, peer, bytes.fromhex("d866d38a")))
    assert peer.ups == 1
    # the client restarts LCP (pppd does so on a Configure-Request from us
    # too): IPCP goes down, our own request goes out again
    request = opts((2, ACCM), (5, bytes.fromhex("0a0b0c0d")), (7, b""), (8, b""))
    peer.lcp(1, 30, request)
    got = peer.take()
    assert [(p, c) for p, c, _, _ in got] == [(LCP, 1), (LCP, 2)]
    assert not link.opened and link.ipcp_state == State.STARTING
    ours = got[0]
    assert ours[3] == opts((2, ACCM), (7, b""), (8, b""))  # auth stays off
    peer.lcp(2, ours[2], ours[3])
    assert link.lcp_state == State.OPENED and link.phase == Phase.NETWORK
    (ipcp,) = peer.take()
    ipcp_address_only(link, peer, ipcp)
    assert link.opened and peer.ups == 2
    # the new ACFC/PFC/ACCM are in force: IP flows again
    datagram = b"\x45" + bytes(19)
    peer.send(0x21, datagram, acfc=True, pfc=True)
    assert peer.ip == [datagram]


def test_renegotiation_with_pap_authenticates_again() -> None:
    """pppd acks our PAP: after a renegotiation it must authenticate again
    before IPCP (RFC 1661 3.5)."""
    link, peer, _ = make()
    link.start()
    ident, data = peer.expect(LCP, 1)
    peer.lcp(2, ident, data)
    request = opts((2, ACCM), (5, bytes.fromhex("01020304")), (7, b""), (8, b""))
    peer.lcp(1, 1, request)
    peer.take()
    assert link.phase == Phase.AUTHENTICATE
    peer.send(PAP, pkt(1, 1, b"\x01u\x01p"))
    got = peer.take()
    assert got[0][:3] == (PAP, 2, 1)
    ipcp_req = got[1]
    peer.ipcp(2, ipcp_req[2], ipcp_req[3])
    peer.ipcp(1, 1, opts((3, ADDR)))
    peer.take()
    assert link.opened
    peer.lcp(1, 2, request)
    got = peer.take()
    peer.lcp(2, got[0][2], got[0][3])
    assert link.phase == Phase.AUTHENTICATE and not link.opened
    peer.send(PAP, pkt(1, 2, b"\x01u\x01p"))
    got = peer.take()
    assert got[0][:3] == (PAP, 2, 2) and got[1][:2] == (IPCP, 1)
