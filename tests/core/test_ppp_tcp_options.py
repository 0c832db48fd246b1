"""TCP options a real client stack sends (Linux: MSS, SACK-permitted,
timestamps, window scale; lwIP: MSS, sometimes window scale) against the
terminator's TCP, which answers with the MSS option only (docs/ppp-ip.md):
RFC 7323 and RFC 2018 options are then off for the connection, so the
client's windows are taken unscaled and its SACK blocks and timestamps, if
it sends them anyway, are ignored without harm."""

from __future__ import annotations

import struct

from ppp_ip_fakes import CLIENT, SERVER, Client, ip_packet, make, naive_checksum

from sim800emu.core.events import Connected, Received, Send
from sim800emu.core.ppp.packets import ACK, PROTO_TCP, SYN, ip_bytes

PSH = 0x08
# Linux's SYN options: MSS 1460, SACK permitted, timestamps, NOP, window scale 7
LINUX_SYN = (
    struct.pack("!BBH", 2, 4, 1460)
    + b"\x04\x02"
    + struct.pack("!BBII", 8, 10, 123456, 0)
    + b"\x01"
    + b"\x03\x03\x07"
)


def segment(
    sport: int, dport: int, seq: int, ack: int, flags: int, window: int, options: bytes,
    payload: bytes = b"",
) -> bytes:
    assert len(options) % 4 == 0
    hlen = 20 + len(options)
    header = struct.pack(
        "!HHIIBBHHH", sport, dport, seq, ack, (hlen // 4) << 4, flags, window, 0, 0
    ) + options
    src, dst = ip_bytes(CLIENT), ip_bytes(SERVER)
    pseudo = src + dst + struct.pack("!BBH", 0, PROTO_TCP, hlen + len(payload))
    csum = naive_checksum(pseudo + header + payload)
    raw = header[:16] + csum.to_bytes(2, "big") + header[18:] + payload
    return ip_packet(CLIENT, SERVER, PROTO_TCP, raw)


def test_syn_with_window_scale_sack_and_timestamps_gets_mss_only() -> None:
    host, term, wire = make()
    term.packet(segment(40000, 80, 5000, 0, SYN, 64240, LINUX_SYN))
    (connect,) = host.requests
    host.result(Connected(connect.sock, SERVER, 80))  # type: ignore[attr-defined]
    (synack,) = wire.take()
    assert synack.tcp is not None and synack.tcp.flags == SYN | ACK
    # 24-byte header: the MSS option and nothing else (no WS, SACK-permitted, TS)
    assert synack.ip.payload[12] >> 4 == 6
    assert synack.ip.payload[20:24] == struct.pack("!BBH", 2, 4, 1460)


def test_windows_are_unscaled_and_sack_and_timestamps_are_ignored() -> None:
    host, term, wire = make()
    c = Client(host, term, wire, window=3000, iss=5000)
    # the handshake by hand, with Linux's options
    term.packet(segment(c.sport, c.dport, 5000, 0, SYN, 3000, LINUX_SYN))
    (connect,) = host.requests
    c.sock = connect.sock  # type: ignore[attr-defined]
    host.result(Connected(c.sock, SERVER, 80))
    (synack,) = wire.take()
    assert synack.tcp is not None
    c.rcv_nxt = (synack.tcp.seq + 1) & 0xFFFFFFFF
    c.snd_nxt = c.snd_una = 5001
    c.peer_mss, c.peer_wnd = synack.tcp.mss, synack.tcp.window
    ts = b"\x01\x01" + struct.pack("!BBII", 8, 10, 123457, 0)
    term.packet(segment(c.sport, c.dport, 5001, c.rcv_nxt, ACK, 3000, ts))
    # data from the client, with a timestamp option
    term.packet(segment(c.sport, c.dport, 5001, c.rcv_nxt, ACK | PSH, 3000, ts, b"GET /"))
    assert [r.data for r in host.requests if isinstance(r, Send)] == [b"GET /"]
    wire.take()
    c.snd_nxt = 5006
    # 10 kB from the host: the window of 3000 is taken as 3000 bytes, not 3000 << 7
    host.result(Received(c.sock, bytes(10000)))
    sent = sum(len(o.tcp.payload) for o in wire.out if o.tcp is not None)
    assert 0 < sent <= 3000
    # a SACK block in the client's ACK (it should not send one) changes nothing
    first = wire.out[0].tcp
    assert first is not None
    sack = b"\x01\x01" + struct.pack("!BBII", 5, 10, first.seq + 1000, first.seq + 2000)
    term.packet(segment(c.sport, c.dport, 5006, first.seq, ACK, 3000, sack))
    assert term.stats.get("errors", 0) == 0
    assert term.stats.get("tcp_options", 0) == 0
    # the client then reads everything the usual way
    c.pump()
    while len(c.received) < 10000 and wire.out:
        c.pump()
        host.advance(0.3)
    assert bytes(c.received) == bytes(10000)
