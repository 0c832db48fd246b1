"""SNTP for AT+CNTP: one real query (RFC 4330 client mode) over UDP."""

from __future__ import annotations

import asyncio
import socket
import struct

from . import dgram

NTP_TO_UNIX = 2_208_988_800  # seconds from 1900-01-01 to 1970-01-01


def request() -> bytes:
    return b"\x23" + bytes(47)  # LI 0, version 4, mode 3 (client)


def parse(reply: bytes) -> float | None:
    """The server's transmit time as a Unix time, or None if not a valid
    server reply."""
    if len(reply) < 48 or reply[0] & 0x07 not in (4, 5):
        return None
    seconds, fraction = struct.unpack("!II", reply[40:48])
    if seconds == 0:
        return None
    return float(seconds - NTP_TO_UNIX + fraction / 2**32)


async def query(ip: str, port: int, timeout: float) -> float | None:
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        await dgram.sendto(sock, request(), (ip, port))
        try:
            async with asyncio.timeout(timeout):
                while True:
                    data, _addr = await dgram.recvfrom(sock, 512)
                    when = parse(data)
                    if when is not None:
                        return when
        except TimeoutError:
            return None
