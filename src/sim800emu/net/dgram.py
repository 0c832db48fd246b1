"""Datagrams on any event loop: ``sendto`` and ``recvfrom`` for the one-off
sockets of AT+CNTP (UDP) and AT+CIPPING (ICMP, a datagram or a raw socket).

asyncio's ``loop.sock_sendto``/``loop.sock_recvfrom`` are not on every loop:
uvloop (``serve --loop uvloop``) raises NotImplementedError for them, and a
datagram endpoint takes no raw socket. Every loop watches a descriptor
(``add_reader``/``add_writer``), which is all these need: try the call, and
while the socket would block, wait until it is ready and try again (what
asyncio's own ``sock_recvfrom`` does).
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any


async def sendto(sock: socket.socket, data: bytes, address: Any) -> None:
    """Send one datagram on the non-blocking ``sock``."""
    while True:
        try:
            sock.sendto(data, address)
            return
        except (BlockingIOError, InterruptedError):
            await _ready(sock, write=True)


async def recvfrom(sock: socket.socket, size: int) -> tuple[bytes, Any]:
    """The next datagram on the non-blocking ``sock`` and where it came from."""
    while True:
        try:
            return sock.recvfrom(size)
        except (BlockingIOError, InterruptedError):
            await _ready(sock, write=False)


async def _ready(sock: socket.socket, write: bool) -> None:
    loop = asyncio.get_running_loop()
    waiter: asyncio.Future[None] = loop.create_future()

    def wake() -> None:
        if not waiter.done():
            waiter.set_result(None)

    fd = sock.fileno()
    if write:
        loop.add_writer(fd, wake)
    else:
        loop.add_reader(fd, wake)
    try:
        await waiter
    finally:  # also when cancelled (a time-out): the socket is closed next
        if write:
            loop.remove_writer(fd)
        else:
            loop.remove_reader(fd)
