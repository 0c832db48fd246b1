"""The module's side of LCP, PAP/CHAP and IPCP on a fake clock.

Each client below replays what a real PPP stack sends: pppd (asyncmap 0,
magic number, PFC/ACFC, PAP, IPCP asking for addresses and DNS), lwIP as
esp_modem runs it (rejects authentication) and a client that Naks the
module's options. Packets are built byte by byte from the RFC layouts
(tests/core/ppp_peer.py); scapy cross-checks a few at the end.
"""

from __future__ import annotations

import hashlib
import ipaddress

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ppp_peer import CHAP, IP, IPCP, LCP, PAP, FakeHost, Peer, opts, pkt

from sim800emu.core.ppp.hdlc import encode
from sim800emu.core.ppp.link import Phase, PppLink, State

CLIENT = "10.1.2.3"
DNS = ("8.8.8.8", "8.8.4.4")
ACCM = bytes.fromhex("000a0000")
SIM800_LCP = opts((2, ACCM), (3, b"\xc0\x23"), (7, b""), (8, b""))
MAGIC = bytes.fromhex("1a2b3c4d")


def ip4(text: str) -> bytes:
    return ipaddress.IPv4Address(text).packed


def make(**kw: object) -> tuple[PppLink, Peer, FakeHost]:
    host = FakeHost()
    link = PppLink(host, client_ip=CLIENT, dns=DNS, **kw)  # type: ignore[arg-type]
    return link, Peer(link), host


def pppd_lcp(link: PppLink, peer: Peer, client_opts: bytes | None = None) -> None:
    """pppd's LCP: asyncmap 0 (Naked to 0x000A0000), magic, PFC, ACFC; acks ours."""
    link.start()
    ident, data = peer.expect(LCP, 1)
    assert (ident, data) == (1, SIM800_LCP)
    peer.lcp(1, 1, opts((2, b"\0\0\0\0"), (5, MAGIC), (7, b""), (8, b"")))
    assert peer.expect(LCP, 3) == (1, opts((2, ACCM)))
    peer.lcp(2, ident, data)
    assert peer.take() == []
    assert link.lcp_state == State.ACK_RCVD
    final = client_opts or opts((2, ACCM), (5, MAGIC), (7, b""), (8, b""))
    peer.lcp(1, 2, final)
    assert peer.expect(LCP, 2) == (2, final)
    assert link.lcp_state == State.OPENED


def pap(peer: Peer, user: bytes = b"user", password: bytes = b"pass", ident: int = 1) -> None:
    data = bytes((len(user),)) + user + bytes((len(password),)) + password
    peer.send(PAP, pkt(1, ident, data), acfc=True, pfc=True)


def pppd_ipcp(link: PppLink, peer: Peer, got: list[tuple[int, int, int, bytes]]) -> None:
    """pppd with usepeerdns: asks for 0.0.0.0 and DNS, offers VJ; ``got``:
    what the link sent after authentication (its IPCP request)."""
    assert [(p, c) for p, c, _, _ in got] == [(IPCP, 1)]
    req_id, req = got[0][2], got[0][3]
    assert req == opts((3, ip4("192.168.254.254")))
    zero = b"\0\0\0\0"
    vj = (2, b"\x00\x2d\x0f\x01")
    peer.ipcp(1, 1, opts((3, zero), vj, (129, zero), (131, zero)))
    assert peer.expect(IPCP, 4) == (1, opts(vj))
    peer.ipcp(1, 2, opts((3, zero), (129, zero), (131, zero)))
    nak = opts((3, ip4(CLIENT)), (129, ip4(DNS[0])), (131, ip4(DNS[1])))
    assert peer.expect(IPCP, 3) == (2, nak)
    peer.ipcp(2, req_id, req)
    assert not link.opened
    peer.ipcp(1, 3, nak)
    assert peer.expect(IPCP, 2) == (3, nak)
    assert link.opened and peer.ups == 1


def up_pppd(**kw: object) -> tuple[PppLink, Peer, FakeHost]:
    link, peer, host = make(**kw)
    pppd_lcp(link, peer)
    pap(peer)
    got = peer.take()
    assert got[0] == (PAP, 2, 1, b"\x00")
    pppd_ipcp(link, peer, got[1:])
    return link, peer, host


# ------------------------------------------------------------------ LCP


def test_the_first_frame_is_the_sim800_configure_request() -> None:
    link, peer, host = make()
    link.start()
    assert peer.take_frames() == [b"\xff\x03\xc0\x21" + pkt(1, 1, SIM800_LCP)]
    # LCP goes out with every control character escaped and the full header
    assert bytes(peer.raw) == encode(b"\xff\x03\xc0\x21" + pkt(1, 1, SIM800_LCP))
    assert link.lcp_state == State.REQ_SENT
    assert set(host.timers) == {"ppp.lcp"}


def test_pppd_negotiation_pap_ipcp_and_traffic() -> None:
    link, peer, host = up_pppd()
    assert link.phase == Phase.NETWORK
    assert link.authenticated_as == "user"
    assert link.client_mru == 1500
    assert host.timers == {}
    # IP both ways, the header compressed (PFC and ACFC acked)
    datagram = bytes.fromhex("4500001c0000000040110000") + ip4(CLIENT) + ip4("1.1.1.1") + b"\x11\x13\x01\x7e"
    peer.send(IP, datagram, acfc=True, pfc=True)
    assert peer.ip == [datagram]
    peer.raw.clear()
    link.send_ip(datagram)
    assert peer.take() == [(IP, -1, -1, datagram)]
    # only XON/XOFF (the client's asyncmap) and the flag/escape are stuffed
    assert bytes(peer.raw) == encode(b"\x21" + datagram, accm=0x000A0000)
    assert b"\x7d\x31\x7d\x33\x01\x7d\x5e" in peer.raw
    assert link.stats["ip_in"] == link.stats["ip_out"] == 1


def test_echo_request_is_answered_with_a_zero_magic_number() -> None:
    link, peer, _ = up_pppd()
    peer.raw.clear()
    peer.lcp(9, 7, MAGIC + b"hello")
    assert peer.expect(LCP, 10) == (7, b"\0\0\0\0hello")
    assert bytes(peer.raw).startswith(b"\x7e\xff\x7d\x23\xc0\x21")  # full header, escaped
    # esp_modem's mode probe, byte for byte
    peer.raw.clear()
    link.feed(bytes.fromhex("7eff03c021090100089 9d135c18e2c7e".replace(" ", "")))
    assert peer.expect(LCP, 10) == (1, b"\0\0\0\0")


@pytest.mark.parametrize(
    ("proto", "name"), [(0x8057, "IPV6CP"), (0x80FD, "CCP"), (0x0057, "IPv6"), (0x1235, "unknown")]
)
def test_other_protocols_get_protocol_reject(proto: int, name: str) -> None:
    link, peer, _ = up_pppd()
    info = pkt(1, 1, opts((1, b"\x01\x02\x03\x04\x05\x06\x07\x08")))
    peer.send(proto, info, acfc=True, pfc=True)
    _ident, data = peer.expect(LCP, 8)
    assert data == proto.to_bytes(2, "big") + info
    assert link.stats["protocol_rejects"] == 1
    assert link.opened


def test_client_terminate_request_ends_the_call_at_once() -> None:
    link, peer, host = up_pppd()
    peer.lcp(5, 9, b"User request")
    assert peer.expect(LCP, 6) == (9, b"")
    assert peer.downs == ["terminated by the client"]
    assert not link.opened and not link.running
    assert host.timers == {}
    link.send_ip(b"\x45" + bytes(19))
    assert peer.take() == []
    assert link.stats["ip_out_dropped"] == 1


def test_pppd_closing_ipcp_first_then_lcp() -> None:
    link, peer, _host = up_pppd()
    peer.ipcp(5, 4)
    assert peer.expect(IPCP, 6) == (4, b"")
    assert not link.opened and link.running
    peer.lcp(5, 10)
    assert peer.expect(LCP, 6) == (10, b"")
    assert peer.downs == ["terminated by the client"]


def test_lwip_rejects_auth_and_the_link_goes_on_without_it() -> None:
    link, peer, _host = make()
    link.start()
    ident, _data = peer.expect(LCP, 1)
    peer.lcp(1, 1, opts((2, b"\0\0\0\0"), (7, b""), (8, b"")))  # lwIP: no magic by default here
    assert peer.expect(LCP, 3) == (1, opts((2, ACCM)))
    peer.lcp(4, ident, opts((3, b"\xc0\x23")))
    ident2, data2 = peer.expect(LCP, 1)
    assert ident2 == ident + 1 and data2 == opts((2, ACCM), (7, b""), (8, b""))
    peer.lcp(2, ident2, data2)
    peer.lcp(1, 2, opts((2, ACCM), (7, b""), (8, b"")))
    got = peer.take()
    assert [(p, c) for p, c, _, _ in got] == [(LCP, 2), (IPCP, 1)]  # straight to IPCP
    assert link.phase == Phase.NETWORK
    # lwIP asks for address and both DNS servers
    zero = b"\0\0\0\0"
    peer.ipcp(1, 1, opts((3, zero), (129, zero), (131, zero)))
    nak = opts((3, ip4(CLIENT)), (129, ip4(DNS[0])), (131, ip4(DNS[1])))
    assert peer.expect(IPCP, 3) == (1, nak)
    peer.ipcp(2, got[1][2], got[1][3])
    peer.ipcp(1, 2, nak)
    assert peer.expect(IPCP, 2) == (2, nak)
    assert link.opened and peer.ups == 1
    assert link.authenticated_as is None


def test_client_that_naks_asyncmap_and_asks_for_chap_md5() -> None:
    link, peer, host = make(auth=("alice", "s3cret"))
    link.start()
    ident, _ = peer.expect(LCP, 1)
    peer.lcp(3, ident, opts((2, b"\0\0\0\0"), (3, b"\xc2\x23\x05")))
    ident, data = peer.expect(LCP, 1)
    assert data == opts((2, b"\0\0\0\0"), (3, b"\xc2\x23\x05"), (7, b""), (8, b""))
    peer.lcp(2, ident, data)
    peer.lcp(1, 1, opts((2, ACCM), (1, b"\x01\x28")))  # MRU 296
    assert link.client_mru == 296
    got = peer.take()
    assert [(p, c) for p, c, _, _ in got] == [(LCP, 2), (CHAP, 1)]
    cid, cdata = got[1][2], got[1][3]
    size = cdata[0]
    challenge, name = cdata[1 : 1 + size], cdata[1 + size :]
    assert size == 16 and name == b"SIM800"
    response = hashlib.md5(bytes((cid,)) + b"s3cret" + challenge).digest()
    # no PFC/ACFC acked by the client: full headers on our side
    peer.send(CHAP, pkt(2, cid, b"\x10" + response + b"alice"))
    got = peer.take()
    assert [(p, c) for p, c, _, _ in got] == [(CHAP, 3), (IPCP, 1)]
    assert link.authenticated_as == "alice"
    # a retransmitted response (our Success lost) is answered again
    peer.send(CHAP, pkt(2, cid, b"\x10" + response + b"alice"))
    assert peer.expect(CHAP, 3)[0] == cid
    assert "ppp.auth" not in host.timers


def test_chap_wrong_secret_fails_and_hangs_up() -> None:
    link, peer, _host = make(auth=("alice", "s3cret"))
    link.start()
    ident, _ = peer.expect(LCP, 1)
    peer.lcp(3, ident, opts((3, b"\xc2\x23\x05")))
    ident, data = peer.expect(LCP, 1)
    peer.lcp(2, ident, data)
    peer.lcp(1, 1, b"")
    got = peer.take()
    cid, cdata = got[1][2], got[1][3]
    bad = hashlib.md5(bytes((cid,)) + b"wrong" + cdata[1:17]).digest()
    peer.send(CHAP, pkt(2, cid, b"\x10" + bad + b"alice"))
    got = peer.take()
    assert [(p, c) for p, c, _, _ in got] == [(CHAP, 4), (LCP, 5)]
    peer.lcp(6, got[1][2])
    assert peer.downs == ["CHAP authentication failed"]


def test_chap_challenge_is_retransmitted_then_gives_up() -> None:
    link, peer, host = make(max_configure=3, max_terminate=1)
    link.start()
    ident, _ = peer.expect(LCP, 1)
    peer.lcp(3, ident, opts((3, b"\xc2\x23\x05")))
    ident, data = peer.expect(LCP, 1)
    peer.lcp(2, ident, data)
    peer.lcp(1, 1, b"")
    assert [(p, c) for p, c, _, _ in peer.take()] == [(LCP, 2), (CHAP, 1)]
    host.advance(3)
    assert [(p, c) for p, c, _, _ in peer.take()] == [(CHAP, 1)]
    host.advance(3)
    assert [(p, c) for p, c, _, _ in peer.take()] == [(CHAP, 1)]
    host.advance(3)
    assert [(p, c) for p, c, _, _ in peer.take()] == [(LCP, 5)]
    host.advance(3)
    assert peer.downs == ["no CHAP response"]


def test_pap_with_auth_set_checks_credentials() -> None:
    link, peer, _ = make(auth=("alice", "s3cret"))
    pppd_lcp(link, peer)
    pap(peer, b"alice", b"wrong")
    got = peer.take()
    assert [(p, c) for p, c, _, _ in got] == [(PAP, 3), (LCP, 5)]
    assert got[0][3] == b"\x15authentication failed"
    peer.lcp(6, got[1][2])
    assert peer.downs == ["PAP authentication failed"]

    link, peer, _ = make(auth=("alice", "s3cret"))
    pppd_lcp(link, peer)
    pap(peer, b"alice", b"s3cret")
    assert [(p, c) for p, c, _, _ in peer.take()] == [(PAP, 2), (IPCP, 1)]
    # a retransmitted request (our Ack lost) is acked again
    pap(peer, b"alice", b"s3cret", ident=2)
    assert peer.expect(PAP, 2) == (2, b"\x00")


def test_auth_required_but_refused_hangs_up() -> None:
    link, peer, _ = make(auth=("alice", "s3cret"))
    link.start()
    ident, _ = peer.expect(LCP, 1)
    peer.lcp(4, ident, opts((3, b"\xc0\x23")))
    ident, data = peer.expect(LCP, 1)
    peer.lcp(1, 1, b"")
    peer.expect(LCP, 2)
    peer.lcp(2, ident, data)
    ident, _ = peer.expect(LCP, 5)
    peer.lcp(6, ident)
    assert peer.downs == ["the client refused to authenticate"]


def test_auth_nak_with_unsupported_methods_falls_back_to_none() -> None:
    link, peer, _ = make()
    link.start()
    ident, _ = peer.expect(LCP, 1)
    peer.lcp(3, ident, opts((3, b"\xc2\x27")))  # EAP: try CHAP-MD5
    ident, data = peer.expect(LCP, 1)
    assert (3, b"\xc2\x23\x05") in [(data[i], data[i + 2 : i + data[i + 1]]) for i in (6,)]
    peer.lcp(3, ident, opts((3, b"\xc2\x23\x81")))  # MS-CHAPv2: nothing left
    ident, data = peer.expect(LCP, 1)
    assert data == opts((2, ACCM), (7, b""), (8, b""))


def test_client_options_we_do_not_support_are_rejected_or_naked() -> None:
    link, peer, _ = make()
    link.start()
    peer.take()
    # auth asked of us, quality protocol, callback, MRRU, endpoint discriminator, bad length
    bad = opts((3, b"\xc0\x23"), (4, b"\xc0\x25\0\0\0\x0a"), (13, b"\x06"), (17, b"\x05\xdc"),
               (19, b"\x01abc"), (7, b"x"))
    peer.lcp(1, 5, bad + opts((1, b"\x05\xdc")))
    assert peer.expect(LCP, 4) == (5, bad)
    # a magic number of zero and a tiny MRU are Naked
    peer.lcp(1, 6, opts((1, b"\x00\x20"), (5, b"\0\0\0\0")))
    ident, data = peer.expect(LCP, 3)
    assert ident == 6 and data[:4] == b"\x01\x04\x00\x80" and data[4:6] == b"\x05\x06"
    assert data[6:10] != b"\0\0\0\0"


def test_a_client_that_ignores_naks_gets_a_reject_after_max_failure() -> None:
    link, peer, _ = make()
    link.start()
    peer.take()
    codes = []
    for i in range(8):
        peer.lcp(1, i, opts((2, b"\0\0\0\0")))
        codes.append(peer.take()[0][1])
    assert codes == [3] * 5 + [4] * 3


def test_lcp_renegotiation_takes_ipcp_down() -> None:
    link, peer, _ = up_pppd()
    peer.lcp(1, 20, opts((2, ACCM)))
    got = peer.take()
    assert [(p, c) for p, c, _, _ in got] == [(LCP, 1), (LCP, 2)]
    assert not link.opened and link.lcp_state == State.ACK_SENT
    # until LCP is up again, IP is dropped and IPCP ignored
    peer.send(IP, b"\x45" + bytes(19))
    assert peer.ip == [] and link.stats["ip_in_dropped"] == 1
    peer.lcp(2, got[0][2], got[0][3])
    assert link.lcp_state == State.OPENED and link.phase == Phase.AUTHENTICATE
    # no PFC/ACFC this time: full headers from us
    pap(peer)
    frames = peer.take_frames()
    assert [f[:4] for f in frames] == [b"\xff\x03\xc0\x23", b"\xff\x03\x80\x21"]


def test_unknown_codes_get_code_reject() -> None:
    link, peer, _ = up_pppd()
    peer.lcp(12, 3, b"\0\0\0\0hello")  # Identification (RFC 1570)
    _ident, data = peer.expect(LCP, 7)
    assert data == pkt(12, 3, b"\0\0\0\0hello")
    peer.ipcp(9, 4, b"xx")
    assert peer.expect(IPCP, 7)[1] == pkt(9, 4, b"xx")
    assert link.opened


def test_protocol_reject_of_ipcp_hangs_up() -> None:
    link, peer, _ = make()
    link.start()
    ident, data = peer.expect(LCP, 1)
    peer.lcp(4, ident, opts((3, b"\xc0\x23")))
    ident, data = peer.expect(LCP, 1)
    peer.lcp(2, ident, data)
    peer.lcp(1, 1, b"")
    peer.take()
    peer.lcp(8, 2, b"\x80\x21" + pkt(1, 1, b""))
    ident, _ = peer.expect(LCP, 5)
    peer.lcp(6, ident)
    assert peer.downs == ["the client rejected IPCP"]


# ---------------------------------------------------------------- timers


def test_restart_timer_and_max_configure() -> None:
    link, peer, host = make()
    link.start()
    peer.take()
    host.advance(2.9)
    assert peer.take() == []
    host.advance(0.1)
    assert [(p, c, i) for p, c, i, _ in peer.take()] == [(LCP, 1, 2)]
    host.advance(100)
    assert len(peer.take()) == 8  # ten Configure-Requests in all
    assert peer.downs == ["LCP negotiation failed"]
    assert host.timers == {}
    assert not link.running


def test_a_dropped_first_request_is_recovered_by_the_restart_timer() -> None:
    # esp_modem drops PPP bytes that arrive with CONNECT: the client only sees the resend
    link, peer, host = make()
    link.start()
    peer.take()
    host.advance(3)
    ident, data = peer.expect(LCP, 1)
    peer.lcp(2, ident, data)
    peer.lcp(1, 1, opts((2, ACCM)))
    assert link.lcp_state == State.OPENED


def test_close_sends_terminate_and_waits_for_the_ack() -> None:
    link, peer, host = up_pppd()
    link.close("ATH")
    ident, _ = peer.expect(LCP, 5)
    assert not link.opened and peer.downs == []
    peer.lcp(6, ident)
    assert peer.downs == ["ATH"]
    assert host.timers == {}


def test_close_without_an_answer_gives_up_after_max_terminate() -> None:
    link, peer, host = up_pppd()
    link.close("ATH")
    peer.take()
    host.advance(3)
    assert [c for _, c, _, _ in peer.take()] == [5]
    host.advance(2.9)
    assert peer.downs == []
    host.advance(0.1)
    assert peer.downs == ["ATH"]
    link.close("again")  # already finished: nothing
    host.advance(10)
    assert peer.downs == ["ATH"] and peer.take() == []


def test_close_before_start_and_during_negotiation() -> None:
    link, peer, _host = make()
    link.close()
    assert peer.downs == [] and peer.take() == []
    link.start()
    peer.take()
    link.close("context dropped")
    ident, _ = peer.expect(LCP, 5)
    peer.lcp(6, ident)
    assert peer.downs == ["context dropped"]


def test_abort_is_silent() -> None:
    link, peer, host = up_pppd()
    link.abort()
    host.advance(100)
    assert peer.take() == [] and peer.downs == [] and host.timers == {}
    assert not link.opened
    # and the link can be started again
    pppd_lcp(link, peer)


def test_pap_never_sent_times_out() -> None:
    link, peer, host = make()
    pppd_lcp(link, peer)
    host.advance(29.9)
    assert peer.take() == []
    host.advance(0.1)
    assert [c for _, c, _, _ in peer.take()] == [5]
    host.advance(6)
    assert peer.downs == ["no PAP authentication"]


def test_ipcp_never_answered_hangs_up() -> None:
    link, peer, host = make(max_configure=2)
    pppd_lcp(link, peer)
    pap(peer)
    assert [(p, c) for p, c, _, _ in peer.take()] == [(PAP, 2), (IPCP, 1)]
    host.advance(3)
    assert [(p, c) for p, c, _, _ in peer.take()] == [(IPCP, 1)]
    host.advance(3)
    assert [(p, c) for p, c, _, _ in peer.take()] == [(LCP, 5)]
    host.advance(6)
    assert peer.downs == ["IPCP negotiation failed"]


# --------------------------------------------------------------- options


def test_the_clients_accm_and_mru_are_honoured() -> None:
    link, peer, _ = make()
    pppd_lcp(link, peer, opts((1, b"\x01\x28"), (2, b"\xff\xff\xff\xff")))
    pap(peer)
    peer.take()
    assert link.client_mru == 296
    peer.raw.clear()
    link.phase = Phase.NETWORK
    link.opened = True  # shortcut: send an IP datagram through the negotiated framing
    link.send_ip(b"\x45\x01\x02")
    # no PFC/ACFC asked: full header; asyncmap all ones: every control character escaped
    assert bytes(peer.raw) == encode(b"\xff\x03\x00\x21\x45\x01\x02", accm=0xFFFFFFFF)
    assert b"\x7d\x21\x7d\x22" in peer.raw


def test_ipcp_naks_any_other_address_and_rejects_unknown_options() -> None:
    link, peer, _ = up_pppd()
    peer.ipcp(1, 9, opts((3, ip4("10.9.9.9")), (130, bytes(4)), (1, bytes(8)), (200, b"")))
    got = peer.take()
    assert [(p, c) for p, c, _, _ in got] == [(IPCP, 1), (IPCP, 4)]  # renegotiating
    assert got[1][2:] == (9, opts((130, bytes(4)), (1, bytes(8)), (200, b"")))
    assert not link.opened
    peer.ipcp(1, 10, opts((3, ip4("10.9.9.9"))))
    assert peer.expect(IPCP, 3)[1] == opts((3, ip4(CLIENT)))


def test_ipcp_nak_of_our_address_is_taken() -> None:
    link, peer, _ = make()
    pppd_lcp(link, peer)
    pap(peer)
    got = peer.take()
    peer.ipcp(3, got[1][2], opts((3, ip4("10.0.0.1"))))
    _ident, data = peer.expect(IPCP, 1)
    assert data == opts((3, ip4("10.0.0.1")))


def test_ip_before_ipcp_is_dropped() -> None:
    link, peer, _ = make()
    pppd_lcp(link, peer)
    peer.send(IP, b"\x45" + bytes(19), acfc=True, pfc=True)
    link.send_ip(b"\x45" + bytes(19))
    assert peer.ip == [] and peer.take() == []
    assert link.stats["ip_in_dropped"] == link.stats["ip_out_dropped"] == 1
    # IPCP before authentication is ignored too
    peer.ipcp(1, 1, opts((3, bytes(4))))
    assert peer.take() == []


# ---------------------------------------------------------------- garbage


def test_garbage_is_counted_not_fatal() -> None:
    link, peer, _host = up_pppd()
    link.feed(b"AT\r\n+++ATH\r")
    link.feed(b"\x7e\x01\x7e")  # runt
    link.feed(b"\x7e" + encode(b"\x21abcdef")[1:-2] + b"\x00\x7e")  # bad FCS
    link.feed(b"\x7e" + b"x" * 5000 + b"\x7e")  # too long
    link.feed(encode(b"\xff\x05\xc0\x21" + pkt(9, 1, MAGIC)))  # bad control field
    link.feed(encode(b"\x02\x02\x00"))  # even protocol
    link.feed(encode(b"\xff\x03\xc0\x21\x09\x01\x00\x40" + MAGIC))  # length past the end
    link.feed(encode(b"\xff\x03\xc0\x21" + pkt(1, 9, b"\x01")))  # truncated option
    st_ = link.stats
    assert st_["bad_fcs"] >= 2 and st_["runts"] >= 1 and st_["too_long"] == 1
    assert st_["bad_header"] == 2 and st_["discarded"] >= 2
    assert link.opened and peer.take() == []


def test_frames_after_the_end_are_ignored() -> None:
    _link, peer, _ = up_pppd()
    peer.lcp(5, 1)
    peer.take()
    peer.lcp(1, 1, b"")
    peer.send(IP, b"\x45" + bytes(19))
    assert peer.take() == [] and peer.ip == []


_frame_bodies = st.one_of(
    st.binary(max_size=64),
    st.builds(
        lambda proto, code, ident, data: proto.to_bytes(2, "big") + pkt(code, ident, data),
        st.sampled_from([LCP, IPCP, PAP, CHAP, 0x8057, 0x80FD, 0x0021, 0x1235]),
        st.integers(0, 15),
        st.integers(0, 255),
        st.binary(max_size=40),
    ),
    st.builds(
        lambda proto, code, ident, items: proto.to_bytes(2, "big") + pkt(code, ident, opts(*items)),
        st.sampled_from([LCP, IPCP]),
        st.integers(1, 4),
        st.integers(0, 3),
        st.lists(st.tuples(st.integers(0, 140), st.binary(max_size=6)), max_size=5),
    ),
)
_chunks = st.lists(
    st.one_of(
        st.binary(max_size=100),
        st.builds(lambda b, hdr: encode((b"\xff\x03" if hdr else b"") + b), _frame_bodies, st.booleans()),
        st.floats(0, 40),  # time passing
        st.sampled_from(["close", "send_ip", "start"]),
    ),
    max_size=40,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.booleans(), _chunks, st.one_of(st.none(), st.just(("u", "p"))))
def test_property_feed_never_raises_and_state_stays_bounded(
    negotiated: bool, chunks: list[object], auth: tuple[str, str] | None
) -> None:
    if negotiated:
        link, peer, host = up_pppd()
        link.auth = auth
    else:
        link, peer, host = make(auth=auth)
        link.start()
    for chunk in chunks:
        if isinstance(chunk, bytes):
            link.feed(chunk)
        elif isinstance(chunk, float):
            host.advance(chunk)
        elif chunk == "close":
            link.close("x")
        elif chunk == "send_ip":
            link.send_ip(b"\x45" + bytes(19))
        else:
            link.start()
        assert link._deframer.pending <= 2 * (1600 + 2)
        assert len(host.timers) <= 3
        # never wedged: a link that is up but not yet opened always waits on a timer
        assert link.opened or not link.running or host.timers, (link.lcp_state, link.ipcp_state)
        assert len(peer.downs) <= chunks.count("start") + 1
    host.advance(1000)  # every negotiation ends one way or the other
    assert link.opened or not link.running or link.lcp_state == State.OPENED
    # everything the link sent is a well-formed frame
    assert peer.deframer.bad_fcs == 0 and peer.deframer.runts == 0


# --------------------------------------------------------- scapy cross-check


def test_scapy_reads_our_frames_and_we_read_scapys() -> None:
    ppp = pytest.importorskip("scapy.layers.ppp")
    link, peer, _ = make()
    link.start()
    frame = peer.take_frames()[0]
    req = ppp.HDLC(frame)
    lcp = req[ppp.PPP_LCP_Configure]
    assert lcp.code == 1 and lcp.id == 1
    assert [o.type for o in lcp.options] == [2, 3, 7, 8]
    assert lcp.options[0].accm == 0x000A0000 and lcp.options[1].auth_protocol == 0xC023
    # pppd's request, built by scapy
    theirs = ppp.HDLC() / ppp.PPP() / ppp.PPP_LCP_Configure(
        code=1, id=1, options=[ppp.PPP_LCP_ACCM_Option(accm=0),
                               ppp.PPP_LCP_Magic_Number_Option(magic_number=0x1A2B3C4D),
                               ppp.PPP_LCP_Option(type=7), ppp.PPP_LCP_Option(type=8)])
    link.feed(encode(bytes(theirs)))
    nak = ppp.HDLC(peer.take_frames()[0])[ppp.PPP_LCP_Configure]
    assert nak.code == 3 and nak.options[0].accm == 0x000A0000
    link.feed(encode(bytes(ppp.HDLC() / ppp.PPP() / ppp.PPP_LCP_Configure(
        code=2, id=1, options=lcp.options))))
    link.feed(encode(bytes(ppp.HDLC() / ppp.PPP() / ppp.PPP_LCP_Configure(
        code=1, id=2, options=[ppp.PPP_LCP_ACCM_Option(accm=0x000A0000)]))))
    assert ppp.HDLC(peer.take_frames()[0])[ppp.PPP_LCP_Configure].code == 2
    # PAP
    link.feed(encode(bytes(ppp.HDLC() / ppp.PPP() / ppp.PPP_PAP_Request(
        id=1, username=b"user", password=b"pass"))))
    frames = peer.take_frames()
    ack = ppp.HDLC(frames[0])
    assert ack[ppp.PPP_PAP_Response].code == 2 and ack[ppp.PPP_PAP_Response].id == 1
    ipcp_req = ppp.HDLC(frames[1])[ppp.PPP_IPCP]
    assert ipcp_req.code == 1 and ipcp_req.options[0].data == "192.168.254.254"
    # IPCP with scapy's options
    link.feed(encode(bytes(ppp.HDLC() / ppp.PPP() / ppp.PPP_IPCP(code=1, id=1, options=[
        ppp.PPP_IPCP_Option_IPAddress(data="0.0.0.0"), ppp.PPP_IPCP_Option_DNS1(data="0.0.0.0"),
        ppp.PPP_IPCP_Option_DNS2(data="0.0.0.0")]))))
    nak = ppp.HDLC(peer.take_frames()[0])[ppp.PPP_IPCP]
    assert nak.code == 3
    assert [(o.type, o.data) for o in nak.options] == [
        (3, CLIENT), (129, DNS[0]), (131, DNS[1])]


def test_ipcp_terminated_alone_hangs_up_after_a_restart_period() -> None:
    link, peer, host = up_pppd()
    peer.ipcp(5, 4)
    assert peer.expect(IPCP, 6) == (4, b"")
    host.advance(2.9)
    assert peer.take() == [] and link.running
    host.advance(0.1)
    ident, _ = peer.expect(LCP, 5)
    peer.lcp(6, ident)
    assert peer.downs == ["the client closed IPCP"]


def test_echo_before_lcp_is_opened_is_discarded() -> None:
    link, peer, _ = make()
    link.start()
    peer.take()
    peer.lcp(9, 1, MAGIC)
    assert peer.take() == []
    assert link.stats["discarded"] == 0 and link.stats["echo_replies"] == 0


def test_code_reject_of_a_vital_code_ends_the_link() -> None:
    link, peer, _ = up_pppd()
    peer.lcp(7, 1, pkt(1, 1, b""))
    ident, _ = peer.expect(LCP, 5)
    peer.lcp(6, ident)
    assert peer.downs == ["the client rejected a vital LCP code"]
    # a Code-Reject of an echo is harmless
    link, peer, _ = up_pppd()
    peer.lcp(7, 1, pkt(9, 1, MAGIC))
    assert peer.take() == [] and link.opened


def test_dns_options_without_servers_are_rejected() -> None:
    host = FakeHost()
    link = PppLink(host, client_ip=CLIENT, dns=("0.0.0.0", "not-an-address"))
    peer = Peer(link)
    pppd_lcp(link, peer)
    pap(peer)
    peer.take()
    zero = b"\0\0\0\0"
    peer.ipcp(1, 1, opts((3, ip4(CLIENT)), (129, zero), (131, zero)))
    assert peer.expect(IPCP, 4) == (1, opts((129, zero), (131, zero)))
    # one server only: both options get it
    link = PppLink(FakeHost(), client_ip=CLIENT, dns=("9.9.9.9", ""))
    peer = Peer(link)
    pppd_lcp(link, peer)
    pap(peer)
    peer.take()
    peer.ipcp(1, 1, opts((129, zero), (131, zero)))
    assert peer.expect(IPCP, 3) == (1, opts((129, ip4("9.9.9.9")), (131, ip4("9.9.9.9"))))


def test_a_configured_mru_is_asked_for() -> None:
    link, peer, _ = make(mru=1000)
    link.start()
    _, data = peer.expect(LCP, 1)
    assert data == opts((1, b"\x03\xe8")) + SIM800_LCP


def test_scapy_cross_checks_chap_echo_and_protocol_reject() -> None:
    ppp = pytest.importorskip("scapy.layers.ppp")
    link, peer, _ = make(auth=("alice", "s3cret"))
    link.start()
    ident, data = peer.expect(LCP, 1)
    peer.lcp(3, ident, opts((3, b"\xc2\x23\x05")))
    ident, data = peer.expect(LCP, 1)
    peer.lcp(2, ident, data)
    peer.lcp(1, 1, opts((7, b""), (8, b"")))
    frames = peer.take_frames()
    assert not frames[1].startswith(b"\xff\x03")  # ACFC: scapy's PPP layer, not HDLC
    challenge = ppp.PPP(frames[1])[ppp.PPP_CHAP_ChallengeResponse]
    assert challenge.code == 1 and challenge.value_size == 16 and challenge.optional_name == b"SIM800"
    value = hashlib.md5(bytes((challenge.id,)) + b"s3cret" + challenge.value).digest()
    response = ppp.PPP() / ppp.PPP_CHAP_ChallengeResponse(
        code=2, id=challenge.id, value=value, optional_name=b"alice")
    link.feed(encode(b"\xff\x03" + bytes(response)))
    frames = peer.take_frames()
    assert ppp.PPP(frames[0])[ppp.PPP_CHAP].code == 3
    # LCP echo and a Protocol-Reject of IPV6CP, decoded by scapy
    link.feed(encode(bytes(ppp.HDLC() / ppp.PPP() / ppp.PPP_LCP_Echo(code=9, id=5, magic_number=7, data=b"ping"))))
    echo = ppp.HDLC(peer.take_frames()[0])[ppp.PPP_LCP_Echo]
    assert (echo.code, echo.id, echo.magic_number, echo.data) == (10, 5, 0, b"ping")
    link.feed(encode(b"\xff\x03\x80\x57" + pkt(1, 1, b"")))
    rej = ppp.HDLC(peer.take_frames()[0])[ppp.PPP_LCP_Protocol_Reject]
    assert rej.rejected_protocol == 0x8057
