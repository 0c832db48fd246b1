"""ICMP echo for AT+CIPPING: a real ping from the host.

Linux lets a process ping through an ICMP datagram socket when
net.ipv4.ping_group_range allows its group, and through a raw socket when
it has CAP_NET_RAW (root). Without either, every echo times out, which is
what the module reports for an unreachable host.
"""

from __future__ import annotations

import asyncio
import os
import socket
import struct
import time

from . import dgram

ECHO_REQUEST, ECHO_REPLY = 8, 0


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return int(~total & 0xFFFF)


def _open(ttl: int) -> tuple[socket.socket, bool] | None:
    """An ICMP socket and whether replies carry the IP header (raw)."""
    for kind, raw in ((socket.SOCK_DGRAM, False), (socket.SOCK_RAW, True)):
        try:
            sock = socket.socket(socket.AF_INET, kind, socket.IPPROTO_ICMP)
        except OSError:
            continue
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, ttl)
        sock.setblocking(False)
        return sock, raw
    return None


async def echo(ip: str, seq: int, size: int, timeout: float, ttl: int) -> tuple[float, int] | None:
    """One echo request; (round-trip ms, reply TTL) or None on time-out."""
    opened = _open(ttl)
    if opened is None:
        await asyncio.sleep(timeout)
        return None
    sock, raw = opened
    ident = os.getpid() & 0xFFFF
    payload = bytes(size)
    header = struct.pack("!BBHHH", ECHO_REQUEST, 0, 0, ident, seq)
    packet = struct.pack("!BBHHH", ECHO_REQUEST, 0, _checksum(header + payload), ident, seq)
    start = time.monotonic()
    deadline = start + timeout
    try:
        await dgram.sendto(sock, packet + payload, (ip, 0))
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            try:
                data, addr = await asyncio.wait_for(dgram.recvfrom(sock, 65535), remaining)
            except TimeoutError:
                return None
            reply_ttl = 64
            if raw:
                reply_ttl = data[8]
                data = data[(data[0] & 0x0F) * 4 :]
            if len(data) < 8 or addr[0] != ip:
                continue
            kind, _code, _sum, rid, rseq = struct.unpack("!BBHHH", data[:8])
            # datagram sockets rewrite the id; raw sockets see every reply
            if kind == ECHO_REPLY and rseq == seq and (not raw or rid == ident):
                return (time.monotonic() - start) * 1000.0, reply_ttl
    finally:
        sock.close()
