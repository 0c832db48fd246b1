"""IPv4, TCP, UDP and ICMP headers: parsed and built with ``struct``,
checksums (RFC 1071) verified on input and computed on output.

Addresses are kept as their 4 packed bytes; ``ip_str``/``ip_bytes``
convert. Parsers raise :class:`PacketError` (with a short reason that the
terminator counts) on anything malformed; they never raise anything else on
bytes of any length or content.
"""

from __future__ import annotations

import ipaddress
import struct
from typing import NamedTuple

PROTO_ICMP = 1
PROTO_TCP = 6
PROTO_UDP = 17

# TCP flags
FIN = 0x01
SYN = 0x02
RST = 0x04
PSH = 0x08
ACK = 0x10
URG = 0x20

_IP = struct.Struct("!BBHHHBBH4s4s")
_TCP = struct.Struct("!HHIIBBHHH")
_UDP = struct.Struct("!HHHH")
_ICMP_ECHO = struct.Struct("!BBHHH")
_PSEUDO = struct.Struct("!4s4sBBH")


class PacketError(ValueError):
    """A malformed or unsupported packet; ``args[0]`` is the stats key."""


def ip_str(addr: bytes) -> str:
    return f"{addr[0]}.{addr[1]}.{addr[2]}.{addr[3]}"


def ip_bytes(addr: str) -> bytes:
    return ipaddress.IPv4Address(addr).packed


def checksum_sum(data: bytes) -> int:
    """The ones' complement sum of ``data`` (padded to even length) as a
    number mod 0xFFFF: 2**16 = 1 (mod 0xFFFF), so the big number's residue
    is the folded sum of its 16-bit words."""
    if len(data) & 1:
        data += b"\0"
    return int.from_bytes(data, "big") % 0xFFFF


def checksum(data: bytes) -> int:
    """The Internet checksum of ``data`` (never 0: a sum of 0 gives 0xFFFF,
    which UDP needs anyway)."""
    return 0xFFFF - checksum_sum(data)


def _pseudo(src: bytes, dst: bytes, proto: int, length: int) -> bytes:
    return _PSEUDO.pack(src, dst, 0, proto, length)


class IpPacket(NamedTuple):
    src: bytes
    dst: bytes
    proto: int
    ttl: int
    payload: bytes
    ident: int = 0
    offset: int = 0  # of a fragment's payload, in bytes
    more: bool = False  # MF: more fragments follow


def parse_ipv4(data: bytes, fragments: bool = False) -> IpPacket:
    """The header of an IPv4 datagram, checked (version, lengths, header
    checksum); options are skipped. A fragment raises unless
    ``fragments`` (then ``offset``/``more`` say where it belongs)."""
    if len(data) < 20:
        raise PacketError("ip_short")
    vihl, _tos, total, ident, frag, ttl, proto, _csum, src, dst = _IP.unpack_from(data)
    if vihl >> 4 != 4:
        raise PacketError("ip_version")
    ihl = (vihl & 0x0F) * 4
    if ihl < 20 or total < ihl or total > len(data):
        raise PacketError("ip_length")
    if checksum_sum(data[:ihl]) != 0:
        raise PacketError("bad_checksum")
    more = bool(frag & 0x2000)
    offset = (frag & 0x1FFF) * 8
    if (more or offset) and not fragments:
        raise PacketError("fragment")
    return IpPacket(src, dst, proto, ttl, bytes(data[ihl:total]), ident, offset, more)


def build_ipv4(
    src: bytes,
    dst: bytes,
    proto: int,
    payload: bytes,
    ident: int,
    ttl: int = 64,
    frag: int = 0x4000,  # DF, no offset
) -> bytes:
    total = 20 + len(payload)
    header = _IP.pack(0x45, 0, total, ident & 0xFFFF, frag, ttl, proto, 0, src, dst)
    csum = checksum(header)
    return header[:10] + csum.to_bytes(2, "big") + header[12:] + payload


def build_fragments(
    src: bytes, dst: bytes, proto: int, payload: bytes, ident: int, mtu: int
) -> list[bytes]:
    """``payload`` in IPv4 fragments of at most ``mtu`` bytes each (RFC 791:
    every fragment but the last carries a multiple of 8 bytes)."""
    step = max(8, (mtu - 20) // 8 * 8)
    out = []
    for start in range(0, len(payload), step):
        more = start + step < len(payload)
        frag = (0x2000 if more else 0) | (start // 8)
        out.append(build_ipv4(src, dst, proto, payload[start : start + step], ident, frag=frag))
    return out


class TcpSegment(NamedTuple):
    sport: int
    dport: int
    seq: int
    ack: int
    flags: int
    window: int
    payload: bytes
    mss: int  # the MSS option, 0 when absent


def parse_tcp(src: bytes, dst: bytes, data: bytes) -> TcpSegment:
    if len(data) < 20:
        raise PacketError("tcp_short")
    sport, dport, seq, ack, off, flags, window, _csum, _urg = _TCP.unpack_from(data)
    hlen = (off >> 4) * 4
    if hlen < 20 or hlen > len(data):
        raise PacketError("tcp_length")
    if (checksum_sum(_pseudo(src, dst, PROTO_TCP, len(data))) + checksum_sum(data)) % 0xFFFF:
        raise PacketError("bad_checksum")
    mss = 0
    i = 20
    while i < hlen:  # options: only MSS matters (no window scale, SACK, timestamps)
        kind = data[i]
        if kind == 0:
            break
        if kind == 1:
            i += 1
            continue
        if i + 1 >= hlen or data[i + 1] < 2:
            raise PacketError("tcp_options")
        size = data[i + 1]
        if kind == 2 and size == 4 and i + 4 <= hlen:
            mss = int.from_bytes(data[i + 2 : i + 4], "big")
        i += size
    return TcpSegment(sport, dport, seq, ack, flags & 0x3F, window, bytes(data[hlen:]), mss)


def build_tcp(
    src: bytes,
    dst: bytes,
    sport: int,
    dport: int,
    seq: int,
    ack: int,
    flags: int,
    window: int,
    payload: bytes = b"",
    mss: int = 0,
) -> bytes:
    """A TCP segment (header, MSS option when ``mss``, payload) with its
    checksum; the IP header is not included."""
    options = struct.pack("!BBH", 2, 4, mss) if mss else b""
    hlen = 20 + len(options)
    header = _TCP.pack(
        sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, (hlen // 4) << 4, flags, window, 0, 0
    )
    header += options
    pseudo = _pseudo(src, dst, PROTO_TCP, hlen + len(payload))
    csum = 0xFFFF - (checksum_sum(pseudo) + checksum_sum(header) + checksum_sum(payload)) % 0xFFFF
    return header[:16] + csum.to_bytes(2, "big") + header[18:] + payload


class UdpDatagram(NamedTuple):
    sport: int
    dport: int
    payload: bytes


def parse_udp(src: bytes, dst: bytes, data: bytes) -> UdpDatagram:
    if len(data) < 8:
        raise PacketError("udp_short")
    sport, dport, length, csum = _UDP.unpack_from(data)
    if length < 8 or length > len(data):
        raise PacketError("udp_length")
    data = data[:length]
    if csum and (checksum_sum(_pseudo(src, dst, PROTO_UDP, length)) + checksum_sum(data)) % 0xFFFF:
        raise PacketError("bad_checksum")
    return UdpDatagram(sport, dport, bytes(data[8:]))


def build_udp(src: bytes, dst: bytes, sport: int, dport: int, payload: bytes) -> bytes:
    length = 8 + len(payload)
    header = _UDP.pack(sport, dport, length, 0)
    total = checksum_sum(_pseudo(src, dst, PROTO_UDP, length)) + checksum_sum(header)
    csum = 0xFFFF - (total + checksum_sum(payload)) % 0xFFFF
    return header[:6] + csum.to_bytes(2, "big") + payload


class IcmpMessage(NamedTuple):
    type: int
    code: int
    ident: int
    seq: int
    payload: bytes  # after the 8-byte header


ICMP_ECHO_REPLY = 0
ICMP_UNREACHABLE = 3
ICMP_ECHO_REQUEST = 8


def parse_icmp(data: bytes) -> IcmpMessage:
    if len(data) < 8:
        raise PacketError("icmp_short")
    if checksum_sum(data) != 0:
        raise PacketError("bad_checksum")
    kind, code, _csum, ident, seq = _ICMP_ECHO.unpack_from(data)
    return IcmpMessage(kind, code, ident, seq, bytes(data[8:]))


def build_icmp(kind: int, code: int, ident: int, seq: int, payload: bytes) -> bytes:
    header = _ICMP_ECHO.pack(kind, code, 0, ident, seq)
    csum = 0xFFFF - (checksum_sum(header) + checksum_sum(payload)) % 0xFFFF
    return header[:2] + csum.to_bytes(2, "big") + header[4:] + payload


def build_unreachable(original: bytes, code: int) -> bytes:
    """ICMP destination unreachable (type 3) quoting ``original``'s IP
    header and first 8 bytes of its payload (RFC 792)."""
    ihl = (original[0] & 0x0F) * 4 if original else 20
    return build_icmp(ICMP_UNREACHABLE, code, 0, 0, bytes(original[: ihl + 8]))
