"""The Linux kernel's own TCP/IP as the emulator's PPP client (issue 16).

Inside a network namespace made for the test, ``pppbridge.py`` (the
test-side PPP client of ``pppclient.py``, written from the RFCs) dials the
emulator's pty (``ATD*99#`` -> ``CONNECT``), negotiates LCP/PAP/IPCP and
bridges a TUN device; the namespace's default route and resolv.conf point
at the link. Programs inside the namespace then reach the host's loopback
servers through the documented host alias 10.0.2.2 (``--ppp-host-alias``),
every connection re-originated by the emulator's terminator:

* ``curl`` downloads and uploads 1 MiB each (SHA-256 checked), four
  downloads run at once (without curl, a small ``urllib`` client inside the
  namespace does the same);
* a name from ``--host`` resolves through the DNS server IPCP announced;
* a UDP datagram is echoed, an ICMP echo is answered;
* a destination the policy denies (``--deny``) is refused at once;
* a reader that stalls closes the window (bounded memory), then gets all;
* the hang-up ends with NO CARRIER; a redial as lwIP would works;
  ``--ppp-auth`` is enforced.

Root only (namespaces, TUN): skipped otherwise, saying why. CI runs as root.
"""

from __future__ import annotations

import hashlib
import random
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from http_servers import big_body, http_server
from pppnet import Bridge, NetNs, missing
from serial_helpers import Emulator

HOST_ALIAS = "10.0.2.2"  # the emulator's documented gateway to the host's 127.0.0.1
DENIED = "10.77.0.1"  # routed to 127.0.0.2, which --deny refuses
MiB = 1 << 20
BODY = big_body(MiB)
SHA = hashlib.sha256(BODY).hexdigest()

pytestmark = pytest.mark.timeout(120)


class UdpEcho:
    """A UDP echo server on 127.0.0.1."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port: int = self.sock.getsockname()[1]
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self) -> None:
        while True:
            try:
                data, addr = self.sock.recvfrom(65536)
                self.sock.sendto(data, addr)
            except OSError:
                return

    def close(self) -> None:
        self.sock.close()


class Listener:
    """A TCP listener on 127.0.0.2 that records connections (the denied one)."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.2", 0))
        self.port: int = self.sock.getsockname()[1]
        self.accepted = 0
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            conn.close()

    def close(self) -> None:
        self.sock.close()


@dataclass
class World:
    ns: NetNs
    bridge: Bridge
    emu: Emulator
    http_port: int
    udp_port: int
    denied_port: int
    denied: Listener
    settings: dict[str, str]

    def url(self, path: str, host: str = HOST_ALIAS) -> str:
        return f"http://{host}:{self.http_port}{path}"

    def context(self) -> str:
        return f"bridge:\n{self.bridge.output()}\nemulator:\n{self.emu.stderr_tail(2000)}"


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    reason = missing("getent")
    if reason:
        pytest.skip(reason)
    udp = UdpEcho()
    denied = Listener()
    try:
        with http_server() as http, Emulator(
            "--host", f"files.test={HOST_ALIAS}",
            "--route", f"{DENIED}=127.0.0.2",
            "--deny", "127.0.0.2/32",
        ) as emu:  # fmt: skip
            emu.close_line()  # the bridge is the only one on the pty
            ns = NetNs()
            bridge = None
            try:
                bridge = Bridge(ns, emu.link, "--init", "AT", "--init", 'AT+CGDCONT=1,"IP","internet"')
                settings = bridge.wait_up(30)
                yield World(ns, bridge, emu, http.server_address[1], udp.port, denied.port,
                            denied, settings)  # fmt: skip
            finally:
                if bridge is not None:
                    bridge.stop()
                ns.delete()
    finally:
        udp.close()
        denied.close()


FETCH = """
import sys, urllib.error, urllib.request
url, method, timeout = sys.argv[1], sys.argv[2], float(sys.argv[3])
data = sys.stdin.buffer.read() if method == "POST" else None
request = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/octet-stream"})
try:
    with urllib.request.urlopen(request, timeout=timeout) as answer:
        sys.stdout.buffer.write(answer.read())
except urllib.error.URLError as exc:
    print(exc, file=sys.stderr)
    sys.exit(7 if isinstance(exc.reason, ConnectionRefusedError) else 1)
"""


def fetch_command(url: str, post: bool = False, timeout: float = 30.0) -> list[str]:
    """curl (exit 7: could not connect) or, without it, the same with urllib."""
    if shutil.which("curl"):
        upload = ["--data-binary", "@-", "-H", "Content-Type: application/octet-stream"] if post else []
        return ["curl", "-sS", "--max-time", str(timeout), *upload, "-o", "-", url]
    return [sys.executable, "-c", FETCH, url, "POST" if post else "GET", str(timeout)]


def fetch(world: World, url: str, body: bytes | None = None,
          timeout: float = 30.0) -> subprocess.CompletedProcess[bytes]:  # fmt: skip
    command = fetch_command(url, body is not None, timeout)
    return world.ns.run(*command, input=body, timeout=timeout + 5)


def test_link_is_configured(world: World) -> None:
    """IPCP gave the namespace an address and at least one DNS server."""
    assert world.settings["local"] != "0.0.0.0", world.context()
    assert world.settings["dns"], world.context()
    route = world.ns.run("ip", "route", "show", "default").stdout.decode()
    assert world.settings["dev"] in route, route
    resolv = (world.ns.etc / "resolv.conf").read_text()
    assert f"nameserver {world.settings['dns'].split(',')[0]}" in resolv, resolv


def test_download_1mib(world: World) -> None:
    got = fetch(world, world.url(f"/big?n={MiB}"))
    assert got.returncode == 0, (got.stderr, world.context())
    assert hashlib.sha256(got.stdout).hexdigest() == SHA, (len(got.stdout), world.context())


def test_upload_1mib(world: World) -> None:
    """POST /echo answers the body: the server's copy and the echo both check."""
    got = fetch(world, world.url("/echo"), body=BODY)
    assert got.returncode == 0, (got.stderr, world.context())
    assert hashlib.sha256(got.stdout).hexdigest() == SHA, (len(got.stdout), world.context())


def test_four_downloads_at_once(world: World) -> None:
    procs = [
        world.ns.popen(*fetch_command(world.url(f"/big?n={MiB}&k={i}"), timeout=40),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for i in range(4)
    ]
    for proc in procs:
        out, err = proc.communicate(timeout=45)
        assert proc.returncode == 0, (err, world.context())
        assert hashlib.sha256(out).hexdigest() == SHA, (len(out), world.context())


def test_name_resolves_through_the_announced_dns(world: World) -> None:
    """``--host files.test=10.0.2.2`` answers the namespace's resolver
    (resolv.conf: the DNS servers IPCP announced), then the HTTP client uses the name."""
    got = world.ns.run("getent", "ahostsv4", "files.test", timeout=15)
    assert got.returncode == 0 and HOST_ALIAS.encode() in got.stdout, (got, world.context())
    page = fetch(world, world.url("/hello", host="files.test"))
    assert page.returncode == 0 and page.stdout.startswith(b"Hello"), (page, world.context())
    unknown = world.ns.run("getent", "ahostsv4", "no-such-name.test", timeout=15)
    assert unknown.returncode != 0, unknown


UDP_ECHO = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
for attempt in range(5):  # UDP may be lost; the emulator opens the flow on the first
    s.sendto(b"ping %d" % attempt, (sys.argv[1], int(sys.argv[2])))
    try:
        data, addr = s.recvfrom(100)
    except socket.timeout:
        continue
    print(data.decode(), addr[0], addr[1])
    break
"""


def test_udp_echo(world: World) -> None:
    got = world.ns.python(UDP_ECHO, HOST_ALIAS, str(world.udp_port), timeout=20)
    assert got.returncode == 0, (got.stderr, world.context())
    words = got.stdout.decode().split()
    assert words[:1] == ["ping"] and words[2:] == [HOST_ALIAS, str(world.udp_port)], (
        got.stdout, world.context())  # fmt: skip


PING = """
import os, socket, struct, sys, time
def checksum(data):
    data += b"\\0" * (len(data) % 2)
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    total = (total >> 16) + (total & 0xFFFF)
    return ~(total + (total >> 16)) & 0xFFFF
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
s.settimeout(3)
ident, payload = os.getpid() & 0xFFFF, b"sim800emu ppp ping"
for seq in range(1, 4):
    head = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
    s.sendto(struct.pack("!BBHHH", 8, 0, checksum(head + payload), ident, seq) + payload,
             (sys.argv[1], 0))
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        try:
            packet, addr = s.recvfrom(2000)
        except socket.timeout:
            break
        icmp = packet[(packet[0] & 15) * 4:]
        kind, _, _, rid, rseq = struct.unpack("!BBHHH", icmp[:8])
        if kind == 0 and rid == ident and rseq == seq and icmp[8:] == payload:
            print("reply", addr[0], seq)
            sys.exit(0)
sys.exit(1)
"""


def test_ping_answered(world: World) -> None:
    got = world.ns.python(PING, HOST_ALIAS, timeout=20)
    assert got.returncode == 0, (got.stdout, got.stderr, world.context())
    assert got.stdout.startswith(f"reply {HOST_ALIAS}".encode()), got.stdout


def test_ping_to_the_module_is_answered_by_the_module(world: World) -> None:
    """The PPP peer address (192.168.254.254, what IPCP gave the module)
    answers the kernel's ping itself (docs/ppp-ip.md)."""
    got = world.ns.python(PING, "192.168.254.254", timeout=20)
    assert got.returncode == 0, (got.stdout, got.stderr, world.context())
    assert got.stdout.startswith(b"reply 192.168.254.254"), got.stdout


UDP_REFUSED = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
s.connect((sys.argv[1], int(sys.argv[2])))
for attempt in range(5):  # the first may come before the flow's socket is up
    try:
        s.send(b"anyone?")
        s.recv(100)
    except ConnectionRefusedError:
        print("refused")
        break
    except socket.timeout:
        continue
"""


def test_udp_to_a_closed_port_is_refused(world: World) -> None:
    """The host's ICMP port unreachable for a closed loopback port comes
    back to the kernel client as ICMP port unreachable: ECONNREFUSED on
    its connected UDP socket."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    got = world.ns.python(UDP_REFUSED, HOST_ALIAS, str(closed), timeout=20)
    assert got.stdout.strip() == b"refused", (got.stdout, got.stderr, world.context())


def test_denied_destination_is_refused(world: World) -> None:
    """``--route 10.77.0.1=127.0.0.2 --deny 127.0.0.2/32``: a listener waits
    there, yet the connection is refused at once and never reaches it."""
    started = time.monotonic()
    got = fetch(world, f"http://{DENIED}:{world.denied_port}/", timeout=15)
    elapsed = time.monotonic() - started
    assert got.returncode == 7, (got.returncode, got.stderr, world.context())  # couldn't connect
    assert elapsed < 10, elapsed
    assert world.denied.accepted == 0
    # and the link still works afterwards
    again = fetch(world, world.url("/hello"))
    assert again.returncode == 0 and again.stdout.startswith(b"Hello"), (again, world.context())


STALLED_READER = """
import hashlib, socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=60)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
print("connected", flush=True)
sys.stdin.readline()  # read nothing until told
sha, got = hashlib.sha256(), 0
while data := s.recv(1 << 16):
    sha.update(data)
    got += len(data)
print(got, sha.hexdigest(), flush=True)
"""


def test_a_stalled_reader_closes_the_window(world: World) -> None:
    """A client that reads nothing: the terminator's window closes, so the
    host server soon cannot send more and the emulator's memory stays put;
    then the client reads everything (SHA-256 checked)."""
    size = 24 * MiB
    data = random.Random(9).randbytes(size)
    sent = [0]
    server = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        conn, _ = server.accept()
        with conn:
            for i in range(0, size, 1 << 16):
                conn.sendall(data[i : i + (1 << 16)])
                sent[0] = i + (1 << 16)

    threading.Thread(target=serve, daemon=True).start()
    rss_before = world.emu.rss_kib()
    reader = world.ns.popen(sys.executable, "-c", STALLED_READER, HOST_ALIAS, str(server.getsockname()[1]),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)  # fmt: skip
    try:
        assert reader.stdout is not None and reader.stdin is not None
        assert reader.stdout.readline().startswith(b"connected")
        # wait until the server is stuck (no progress for 1 s)
        deadline = time.monotonic() + 20
        last, since = -1, time.monotonic()
        while time.monotonic() - since < 1.0:
            assert time.monotonic() < deadline, f"the sender never stalled ({sent[0]} bytes sent)"
            if sent[0] != last:
                last, since = sent[0], time.monotonic()
            time.sleep(0.05)  # polling another thread's progress counter
        assert sent[0] < 12 * MiB, f"{sent[0]} bytes went out to a client that reads nothing"
        assert world.emu.rss_kib() - rss_before < 16 * 1024, (rss_before, world.emu.rss_kib())
        out, _ = reader.communicate(b"go\n", timeout=60)
    finally:
        if reader.poll() is None:
            reader.kill()
        server.close()
    got, sha = out.split()
    assert int(got) == size and sha.decode() == hashlib.sha256(data).hexdigest(), out


def test_hang_up_ends_with_no_carrier(world: World) -> None:
    """Last: the bridge's LCP Terminate-Request ends the call; the modem
    prints NO CARRIER (the bridge reports it) and answers AT again."""
    status = world.bridge.stop()
    text = world.bridge.output()
    assert "bridge: modem NO CARRIER" in text, text
    assert status == 0, text
    world.emu.open_line()
    world.emu.send("AT")
    world.emu.expect(b"OK\r\n", timeout=5)


def test_redial_like_lwip(world: World) -> None:
    """After the hang-up, dial again as lwIP without credentials would:
    authentication Configure-Rejected, no PFC/ACFC, every control character
    escaped both ways, and a small MRU (576): the link still carries a
    checked download, in frames no larger than the MRU (the terminator's
    MSS follows it)."""
    world.bridge.stop()  # (already hung up when the tests run in order)
    world.emu.close_line()
    bridge = Bridge(world.ns, world.emu.link, "--auth", "reject", "--no-pfc", "--no-acfc",
                    "--accm", "0xffffffff", "--mru", "576", "--mtu", "576")  # fmt: skip
    try:
        settings = bridge.wait_up(30)
        assert settings["local"] != "0.0.0.0"
        got = fetch(world, world.url(f"/big?n={MiB}"))
        assert got.returncode == 0, (got.stderr, bridge.output())
        assert hashlib.sha256(got.stdout).hexdigest() == SHA
    finally:
        status = bridge.stop()
    assert status == 0 and "bridge: modem NO CARRIER" in bridge.output(), bridge.output()
    stats = bridge.wait_line(re.compile(r"bridge: stats .*"), 5)[0]
    assert "over_mru" not in stats and "bad_fcs=0" in stats, stats


def test_pap_credentials_are_checked() -> None:
    """``--ppp-auth USER:PASS``: a wrong password ends the link (the bridge
    reports the PAP Nak), the right one brings it up."""
    reason = missing()
    if reason:
        pytest.skip(reason)
    with Emulator("--ppp-auth", "alice:secret") as emu:
        emu.close_line()
        with NetNs() as ns:
            wrong = Bridge(ns, emu.link, "--user", "alice", "--password", "guess", "--no-carrier-wait", "3")
            try:
                wrong.wait_line(re.compile(r"bridge: down PAP"), 20)
                assert wrong.proc.wait(10) == 1, wrong.output()
            finally:
                wrong.stop()
            right = Bridge(ns, emu.link, "--user", "alice", "--password", "secret")
            try:
                assert right.wait_up(20)["local"] != "0.0.0.0"
            finally:
                assert right.stop() == 0, right.output()
