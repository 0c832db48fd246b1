"""Linux's own TCP/IP as the terminator's client: a network namespace with a
TUN device whose IP packets go straight to the Terminator (no PPP framing:
that is the PPP tests' part), and from there through the real network
driver to servers on the host's 127.0.0.1. Needs root, /dev/net/tun and
``ip``; skipped otherwise."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import os
import shutil
import socket
import struct
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from test_ppp_terminator_net import LoopHost, aio

from sim800emu.core.ppp.terminator import Terminator
from sim800emu.net.config import NetConfig, parse_network

TUNSETIFF = 0x400454CA
IFF_TUN, IFF_NO_PI = 0x0001, 0x1000
CLIENT = "10.64.1.2"
DNS = "10.64.0.1"
PAYLOAD = bytes(range(256)) * 4096  # 1 MiB
SHA = hashlib.sha256(PAYLOAD).hexdigest()
HEARD: list[bytes] = []  # what LAST requests sent after the server's FIN


def _usable() -> str:
    if os.geteuid() != 0:
        return "needs root (network namespace, TUN device)"
    if not os.path.exists("/dev/net/tun") or shutil.which("ip") is None:
        return "needs /dev/net/tun and ip(8)"
    name = f"ppptcpprobe{os.getpid()}"
    probe = subprocess.run(["ip", "netns", "add", name], capture_output=True)
    if probe.returncode:
        return "cannot create a network namespace here"
    subprocess.run(["ip", "netns", "del", name], capture_output=True)
    return ""


REASON = _usable()
pytestmark = pytest.mark.skipif(bool(REASON), reason=REASON or "usable")


def sh(*cmd: str) -> None:
    subprocess.run(cmd, check=True, capture_output=True)


@contextlib.contextmanager
def namespace(ns: str, dev: str) -> Iterator[int]:
    """A namespace whose default route is a TUN device; yields its fd."""
    sh("ip", "netns", "add", ns)
    fd = -1
    try:
        fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
        fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", dev.encode(), IFF_TUN | IFF_NO_PI))
        sh("ip", "link", "set", dev, "netns", ns)
        inside = ("ip", "netns", "exec", ns)
        sh(*inside, "ip", "addr", "add", f"{CLIENT}/32", "dev", dev)
        sh(*inside, "ip", "link", "set", dev, "mtu", "1500", "up")
        sh(*inside, "ip", "link", "set", "lo", "up")
        sh(*inside, "ip", "route", "add", "default", "dev", dev)
        etc = Path("/etc/netns") / ns
        etc.mkdir(parents=True, exist_ok=True)
        (etc / "resolv.conf").write_text(f"nameserver {DNS}\n")
        yield fd
    finally:
        if fd >= 0:
            os.close(fd)
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        shutil.rmtree(Path("/etc/netns") / ns, ignore_errors=True)


async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """HTTP/1.0: GET answers the payload, POST the SHA-256 of the body;
    HASH: the SHA-256 of everything up to the client's half-close."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
        if head.startswith(b"LAST"):  # our FIN first, then we listen
            writer.write(b"your turn")
            await writer.drain()
            writer.write_eof()
            HEARD.append(await reader.read())
        elif head.startswith(b"HASH"):
            body = await reader.read()
            writer.write(hashlib.sha256(body).hexdigest().encode())
        elif head.startswith(b"GET"):
            writer.write(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n" % len(PAYLOAD))
            writer.write(PAYLOAD)
        else:
            length = next(
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            body = await reader.readexactly(length)
            writer.write(b"HTTP/1.0 200 OK\r\n\r\n" + hashlib.sha256(body).hexdigest().encode())
        await writer.drain()
    finally:
        writer.close()


class Inside:
    def __init__(self, ns: str) -> None:
        self.ns = ns

    async def run(self, *cmd: str, stdin: bytes = b"") -> tuple[int, str]:
        proc = await asyncio.create_subprocess_exec(
            "ip",
            "netns",
            "exec",
            self.ns,
            *cmd,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        out, _ = await proc.communicate(stdin)
        return proc.returncode or 0, out.decode(errors="replace").strip()

    async def python(self, code: str) -> tuple[int, str]:
        return await self.run(sys.executable, "-c", code)


UDP_CLIENT = """
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
s.sendto(b"hi", ("10.0.2.2", {port}))
print(s.recvfrom(100)[0].decode())
big = bytes(range(256)) * 16  # 4096 bytes: fragments both ways
s.sendto(big, ("10.0.2.2", {port}))
print(s.recvfrom(10000)[0] == b"echo:" + big)
"""

TCP_GET = """
import hashlib, socket, sys
s = socket.create_connection(({host!r}, {port}), timeout=20)
s.sendall(b"GET / HTTP/1.0\\r\\n\\r\\n")
data = b""
while chunk := s.recv(65536):
    data += chunk
print(hashlib.sha256(data.split(b"\\r\\n\\r\\n", 1)[1]).hexdigest())
"""

TCP_POST = """
import socket, sys
body = sys.stdin.buffer.read()
s = socket.create_connection(({host!r}, {port}), timeout=20)
s.sendall(b"POST / HTTP/1.0\\r\\nContent-Length: %d\\r\\n\\r\\n" % len(body) + body)
data = b""
while chunk := s.recv(65536):
    data += chunk
print(data.split(b"\\r\\n\\r\\n", 1)[1].decode())
"""

HALF_CLOSE = """
import socket, sys
body = sys.stdin.buffer.read()
s = socket.create_connection(({host!r}, {port}), timeout=20)
s.sendall(b"HASH\\r\\n\\r\\n" + body)
s.shutdown(socket.SHUT_WR)
data = b""
while chunk := s.recv(65536):
    data += chunk
print(data.decode())
"""

LAST_WORD = """
import socket
s = socket.create_connection(({host!r}, {port}), timeout=20)
s.sendall(b"LAST\\r\\n\\r\\n")
data = b""
while chunk := s.recv(100):
    data += chunk
s.sendall(b"the last word")  # after the server's FIN
s.close()
print(data.decode())
"""

CONNECT = """
import socket
try:
    socket.create_connection(({host!r}, {port}), timeout=10)
    print("connected")
except OSError as exc:
    print(type(exc).__name__)
"""


@aio
async def test_linux_tcp_ip_through_the_terminator() -> None:
    ns = f"ppptcp{os.getpid()}"
    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    loop = asyncio.get_running_loop()

    class Echo(asyncio.DatagramProtocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = transport

        def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
            self.transport.sendto(b"echo:" + data, addr)  # type: ignore[attr-defined]

    udp, _ = await loop.create_datagram_endpoint(Echo, local_addr=("127.0.0.1", 0))
    uport = udp.get_extra_info("sockname")[1]
    config = NetConfig(
        hosts={"svc.test": "127.0.0.1", "blocked.test": "127.0.0.2"},
        dns_offline=True,
        deny=(parse_network("127.0.0.2/32"),),
    )
    host = LoopHost(config)
    term = Terminator(host, client_ip=CLIENT, dns_servers=(DNS,))  # type: ignore[arg-type]
    with namespace(ns, f"ppptcp{os.getpid() % 100000}") as fd:

        def read() -> None:
            with contextlib.suppress(BlockingIOError):
                term.packet(os.read(fd, 65535))

        term.on_packet = lambda packet: os.write(fd, packet) and None
        loop.add_reader(fd, read)
        inside = Inside(ns)
        try:
            # a download and an upload of 1 MiB (the name resolves through
            # the announced DNS server, to the host alias)
            rc, out = await inside.python(TCP_GET.format(host="svc.test", port=port))
            assert (rc, out) == (0, SHA)
            rc, out = await inside.run(
                sys.executable, "-c", TCP_POST.format(host="10.0.2.2", port=port), stdin=PAYLOAD
            )
            assert (rc, out) == (0, SHA)
            # the client half-closes and still gets the answer
            rc, out = await inside.run(
                sys.executable, "-c", HALF_CLOSE.format(host="10.0.2.2", port=port), stdin=PAYLOAD
            )
            assert (rc, out) == (0, SHA)
            # the server closes its side first and still hears the client
            rc, out = await inside.python(LAST_WORD.format(host="10.0.2.2", port=port))
            assert (rc, out) == (0, "your turn")
            await host.until(lambda: bool(HEARD), lambda: None)
            assert HEARD == [b"the last word"]
            # four downloads at once
            results = await asyncio.gather(
                *(inside.python(TCP_GET.format(host="10.0.2.2", port=port)) for _ in range(4))
            )
            assert results == [(0, SHA)] * 4
            # UDP echo, a name that does not exist, a refused and a denied port
            assert await inside.python(UDP_CLIENT.format(port=uport)) == (0, "echo:hi\nTrue")
            assert term.stats["reassembled"] >= 1 and term.stats["fragmented_out"] >= 1
            assert (await inside.run("getent", "hosts", "nope.test"))[0] != 0
            closed = socket_port_closed()
            refused = await inside.python(CONNECT.format(host="10.0.2.2", port=closed))
            assert refused == (0, "ConnectionRefusedError")
            denied = await inside.python(CONNECT.format(host="blocked.test", port=port))
            assert denied == (0, "ConnectionRefusedError")
            assert term.stats.get("bad_checksum", 0) == 0
            assert term.stats.get("errors", 0) == 0
        finally:
            loop.remove_reader(fd)
            term.close_all()
            await host.driver.aclose()
            server.close()
            udp.close()


def socket_port_closed() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
