"""Dial-up PPP through the emulator (issue 16), beside the CIP figures.

The PPP client is the Linux kernel's TCP/IP in a network namespace, bridged
to the emulator's pty by ``tests/integration/pppbridge.py`` (a TUN device;
the test-side PPP client of ``pppclient.py``); the servers are on the host's
127.0.0.1, reached through the host alias 10.0.2.2. TCP timestamps are off
in the namespace (as in lwIP), so a full segment carries 1460 bytes.

* **download, pty**: MB/s (10^6 B/s) of payload of one TCP download of
  ``--size`` MiB, from ``connect()`` to the last byte, SHA-256 checked;
  beside it the same download through CIP transparent mode
  (``download_throughput.py``'s ``transparent`` path).
* **download, --baud 115200**: payload bytes per second from the first byte
  to the last of a ``--baud-size`` KiB download, as a fraction of the line
  rate (115200 bit/s = 11,520 B/s); issue 16 asks for at least 95 %. Beside
  it CIP transparent mode at the same rate, and PPP's own ceiling for the
  payload (headers, framing and escapes: ~95.6 % for random bytes).
* **TCP connections per second** through the terminator: ``--connects``
  sequential connections (connect, the server's one byte, EOF, close);
  beside it ``AT+CIPSTART`` -> ``CONNECT OK`` -> ``CLOSED`` over the pty.

Needs root (a network namespace and a TUN device), ``ip`` and
``/dev/net/tun``; otherwise it says so and measures nothing.

    sudo .venv/bin/python bench/ppp.py
    .venv/bin/python bench/ppp.py --only download,connects --size 4
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Self

from common import (
    REPO,
    BenchError,
    Emulator,
    Figure,
    MiB,
    Peer,
    TcpServer,
    payload,
    script_main,
    sha256,
)

sys.path.insert(0, str(REPO / "tests" / "integration"))

from pppnet import Bridge, NetNs, missing

HOST_ALIAS = "10.0.2.2"
LINE_RATE_BAUD = 115200
PARTS = ("download", "baud", "connects")

INNER_DOWNLOAD = """
import hashlib, json, socket, sys, time
host, port, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
sha = hashlib.sha256()
start = time.perf_counter()
s = socket.create_connection((host, port), timeout=60)
got = 0
first = last = 0.0
first_n = 0
while got < size:
    data = s.recv(1 << 16)
    if not data:
        break
    last = time.perf_counter()
    if not got:
        first, first_n = last, len(data)
    got += len(data)
    sha.update(data)
s.close()
print(json.dumps({"bytes": got, "sha": sha.hexdigest(), "start": start, "first": first,
                  "first_n": first_n, "last": last}))
"""

INNER_CONNECTS = """
import json, socket, sys, time
host, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
start = time.perf_counter()
for _ in range(count):
    s = socket.create_connection((host, port), timeout=30)
    while s.recv(100):
        pass
    s.close()
print(json.dumps({"count": count, "seconds": time.perf_counter() - start}))
"""


def _inner(ns: NetNs, code: str, *args: str, timeout: float) -> dict[str, Any]:
    got = ns.python(code, *args, timeout=timeout)
    if got.returncode != 0:
        raise BenchError(f"in the namespace: {got.stderr.decode(errors='replace')[-800:]}")
    result: dict[str, Any] = json.loads(got.stdout)
    return result


class PppLink:
    """An emulator, a namespace and the bridge between them, up.

    The bridge dials on :meth:`_serial_line` (here the emulator's pty); a
    subclass that puts something between them (``cmux.py``'s multiplexer)
    opens it there and closes it in :meth:`_close_line`."""

    what = "PPP download"  # how a failed download names itself
    ns_prefix = "s8eb"

    def __init__(self, *extra: str, timeout: float = 60.0) -> None:
        self.emu = Emulator(*extra)
        self.ns: NetNs | None = None
        self.bridge: Bridge | None = None
        self.timeout = timeout

    def _serial_line(self) -> str | Path:
        """The serial port the PPP bridge dials on (the emulator is up)."""
        return self.emu.link

    def _close_line(self) -> None:
        """Undo :meth:`_serial_line` (after the bridge and the namespace are gone)."""

    def __enter__(self) -> Self:
        self.emu.start()
        try:
            serial = self._serial_line()
            self.ns = NetNs(self.ns_prefix)
            self.ns.run("sysctl", "-qw", "net.ipv4.tcp_timestamps=0", check=True)
            self.bridge = Bridge(self.ns, serial, "--no-carrier-wait", "0.5")
            self.bridge.wait_up(self.timeout)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bridge is not None:
            self.bridge.stop()
        if self.ns is not None:
            self.ns.delete()
        self._close_line()
        self.emu.stop()

    def download(self, port: int, size: int, want: str) -> dict[str, float]:
        assert self.ns is not None
        result = _inner(self.ns, INNER_DOWNLOAD, HOST_ALIAS, str(port), str(size), timeout=self.timeout)
        if result["bytes"] != size or result["sha"] != want:
            raise BenchError(f"{self.what}: {result['bytes']} of {size} bytes, SHA-256 "
                             f"{'ok' if result['sha'] == want else 'mismatch'}")  # fmt: skip
        return result


def _sender(data: bytes) -> TcpServer:
    def handler(peer: Peer) -> None:
        peer.send_all(data)
        peer.sock.close()

    return TcpServer(handler)


def ppp_download(
    size: int, rounds: int, extra: tuple[str, ...] = (), link_class: type[PppLink] = PppLink
) -> list[dict[str, float]]:
    data = payload(size, 16)
    want = sha256(data)
    results = []
    with _sender(data) as server, link_class(*extra) as link:
        for _ in range(rounds):
            results.append(link.download(server.port, size, want))
    return results


def ppp_ceiling(data: bytes, mss: int = 1460, accm: int = 0x000A0000) -> float:
    """The best payload share of the line PPP can reach for ``data``: each
    segment of ``mss`` bytes travels with 40 bytes of IPv4/TCP header, a
    flag, a one-byte protocol (PFC, ACFC), a 2-byte FCS and a closing flag,
    and every payload byte the sender must escape (0x7D, 0x7E and the
    module's ACCM, 0x000A0000 once it Naked the client's 0) costs two."""
    escaped = [0x7D, 0x7E] + [c for c in range(32) if accm >> c & 1]
    escapes = sum(data.count(bytes([c])) for c in escaped)
    segments = -(-len(data) // mss)
    return len(data) / (len(data) + escapes + segments * (40 + 4))


def cip_transparent(size: int, extra: tuple[str, ...] = ()) -> float:
    import download_throughput

    return float(download_throughput.one_run("transparent", None, size, 600.0, extra))


def ppp_connects(count: int) -> float:
    def handler(peer: Peer) -> None:
        peer.sock.sendall(b"x")
        peer.sock.close()

    with TcpServer(handler) as server, PppLink() as link:
        assert link.ns is not None
        _inner(link.ns, INNER_CONNECTS, HOST_ALIAS, str(server.port), "20", timeout=60)  # warm-up
        result = _inner(link.ns, INNER_CONNECTS, HOST_ALIAS, str(server.port), str(count), timeout=300)
    return float(result["count"] / result["seconds"])


def cip_connects(count: int) -> float:
    def handler(peer: Peer) -> None:
        peer.sock.sendall(b"x")
        peer.sock.close()

    with TcpServer(handler) as server, Emulator() as emu, emu.open_port() as port:
        port.command(b"ATE0")
        start = b'AT+CIPSTART="TCP","127.0.0.1",%d\r' % server.port
        t0 = 0.0
        for i in range(count + 20):
            if i == 20:
                t0 = time.perf_counter()  # after 20 warm-up connections
            port.write_all(start)
            port.read_until(b"CONNECT OK\r\n", 30)
            port.read_until(b"CLOSED\r\n", 30)
        return count / (time.perf_counter() - t0)


def _mb(bps: float) -> str:
    return f"{bps / 1e6:.2f} MB/s"


def chosen_parts(bench: str, only: str | None, parts: tuple[str, ...]) -> list[str]:
    """The parts ``--only`` names (all of ``parts`` without it); a
    :class:`BenchError` where PPP cannot run here or a part is unknown."""
    reason = missing()
    if reason:
        raise BenchError(f"{bench} benchmark: {reason}")
    chosen = only.split(",") if only else list(parts)
    unknown = set(chosen) - set(parts)
    if unknown:
        raise BenchError(f"unknown parts {sorted(unknown)}; known: {', '.join(parts)}")
    return chosen


def print_figures(figures: list[Figure]) -> list[Figure]:
    for f in figures:
        print(f"{f.measure}: {f.emulator} ({f.against} {f.reference}) {f.ratio}")
    return figures


def run(args: argparse.Namespace) -> list[Figure]:
    only = chosen_parts("PPP", args.only, PARTS)
    figures: list[Figure] = []
    if "download" in only:
        size = int(args.size * MiB)
        ppp = [size / (r["last"] - r["start"]) for r in ppp_download(size, args.rounds)]
        cip = [cip_transparent(size) for _ in range(args.rounds)]
        for i, (a, b) in enumerate(zip(ppp, cip, strict=True)):
            print(f"  download round {i + 1}: PPP {_mb(a)}, CIP transparent {_mb(b)}", flush=True)
        p, c = statistics.median(ppp), statistics.median(cip)
        figures.append(Figure("ppp", f"PPP download, {args.size:g} MiB, pty", _mb(p), _mb(c),
                              "CIP transparent", f"{p / c:.2f}x"))  # fmt: skip
    if "baud" in only:
        size = int(args.baud_size * 1024)
        line = LINE_RATE_BAUD / 10
        extra = ("--baud", str(LINE_RATE_BAUD))
        (r,) = ppp_download(size, 1, extra)
        ppp_rate = (r["bytes"] - r["first_n"]) / (r["last"] - r["first"])
        cip_rate = cip_transparent(size, extra)
        ceiling = ppp_ceiling(payload(size, 16))
        print(f"  --baud {LINE_RATE_BAUD}: PPP {ppp_rate:.0f} B/s ({ppp_rate / line:.1%} of the line; "
              f"PPP's ceiling for this payload {ceiling:.1%}), "
              f"CIP transparent {cip_rate:.0f} B/s ({cip_rate / line:.1%})", flush=True)  # fmt: skip
        verdict = "ok" if ppp_rate / line >= 0.95 else "BELOW 95%"
        figures.append(Figure("ppp", f"PPP download --baud {LINE_RATE_BAUD}, share of line rate",
                              f"{ppp_rate / line:.1%}", f"{cip_rate / line:.1%}", "CIP transparent",
                              verdict))  # fmt: skip
    if "connects" in only:
        ppp_cps = ppp_connects(args.connects)
        cip_cps = cip_connects(args.connects)
        print(f"  connections: PPP {ppp_cps:.0f}/s, CIPSTART {cip_cps:.0f}/s", flush=True)
        figures.append(Figure("ppp", f"TCP connections/s, {args.connects} sequential",
                              f"{ppp_cps:.0f}/s", f"{cip_cps:.0f}/s", "CIPSTART+CLOSED",
                              f"{ppp_cps / cip_cps:.2f}x"))  # fmt: skip
    return print_figures(figures)


def download_parser(
    description: str, parts: tuple[str, ...], baud_size: float, baud_seconds: int
) -> argparse.ArgumentParser:
    """The options of the PPP download benchmarks (this one and ``cmux.py``):
    --only, --size, --rounds, --baud-size."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--only", help=f"comma-separated parts (default: all: {','.join(parts)})")
    p.add_argument("--size", type=float, default=8, help="MiB per pty download (default: %(default)s)")
    p.add_argument("--rounds", type=int, default=3, help="pty downloads per side (default: %(default)s)")
    p.add_argument("--baud-size", type=float, default=baud_size,
                   help=f"KiB of the --baud 115200 download (default: %(default)s, ~{baud_seconds} s)")  # fmt: skip
    return p


def build_parser() -> argparse.ArgumentParser:
    p = download_parser(
        "PPP download throughput (pty, --baud 115200) and TCP connections per "
        "second through the emulator's terminator, beside CIP. Needs root.",
        PARTS, baud_size=128, baud_seconds=11,
    )  # fmt: skip
    p.add_argument("--connects", type=int, default=200, help="connections per side (default: %(default)s)")
    return p


def main(argv: list[str] | None = None) -> int:
    return script_main("ppp", build_parser, run, argv)


if __name__ == "__main__":
    sys.exit(main())
