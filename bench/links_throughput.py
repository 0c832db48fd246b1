"""Bytes per second that six concurrent links move through the pty, beside
one link alone, in one run (``AT+CIPMUX=1``).

receive: every link's local TCP server streams its own bytes to the modem
  at once; the pty carries them as ``+RECEIVE,<n>,<len>:`` pushes, which
  are parsed and checked (SHA-256 per link). One link moves TOTAL bytes;
  six links move TOTAL/6 each, so both move the same amount.
send: ``AT+CIPSEND=<n>,1460``, ``> ``, 1460 bytes, ``<n>, SEND OK``, over and
  over: on link 0 alone, then round-robin over the six links; each server
  checks what it got.

The two set-ups alternate (``--rounds``), each on a fresh ``serve`` process;
medians are printed. B/s are bytes of payload per second of wall time.

    .venv/bin/python bench/links_throughput.py
    .venv/bin/python bench/links_throughput.py --total 8 --sends 1000 --rounds 3
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import sys
import threading
import time
from collections.abc import Sequence
from contextlib import ExitStack

from common import (
    BenchError,
    Emulator,
    Figure,
    MiB,
    Peer,
    Port,
    TcpServer,
    check_peer,
    machine,
    payload,
    script_main,
    sha256,
    table,
)

CHUNK = 1460


# ------------------------------------------------------------ +RECEIVE parsing


class ReceiveParser:
    """Splits the pty's output into ``+RECEIVE,<n>,<len>:\\r\\n<data>`` pushes
    (hashed and counted per link) and whatever other lines come."""

    def __init__(self, links: int) -> None:
        self.counts = [0] * links
        self.digests = [hashlib.sha256() for _ in range(links)]
        self.pushes = 0
        self.lines: list[bytes] = []

    def feed(self, buf: bytearray) -> None:
        pos, end = 0, len(buf)
        while pos < end:
            if buf.startswith(b"\r\n", pos):
                pos += 2
                continue
            if buf.startswith(b"+RECEIVE,", pos):
                colon = buf.find(b":\r\n", pos, pos + 32)
                if colon < 0:
                    if end - pos >= 32:
                        raise BenchError(f"bad +RECEIVE header: {bytes(buf[pos : pos + 32])!r}")
                    break
                n_text, _, len_text = bytes(buf[pos + 9 : colon]).partition(b",")
                n, size = int(n_text), int(len_text)
                start = colon + 3
                if end - start < size:
                    break
                self.digests[n].update(buf[start : start + size])
                self.counts[n] += size
                self.pushes += 1
                pos = start + size
                continue
            if b"+RECEIVE,".startswith(bytes(buf[pos : pos + 9])):
                break  # a push header still coming
            eol = buf.find(b"\r\n", pos)
            if eol < 0:
                break
            self.lines.append(bytes(buf[pos:eol]))
            pos = eol + 2
        del buf[:pos]


# ------------------------------------------------------------ servers


class Streamer:
    """Server side of "receive": wait for the go, send ``data``, wait for the close."""

    def __init__(self, data: bytes, go: threading.Event, timeout: float) -> None:
        self.data, self.go, self.timeout = data, go, timeout

    def __call__(self, peer: Peer) -> None:
        if not self.go.wait(self.timeout):
            raise BenchError("never told to send")
        peer.send_all(self.data)
        peer.wait_close(self.timeout)


class Sink:
    """Server side of "send": read ``size`` bytes, wait for the close."""

    def __init__(self, size: int, timeout: float) -> None:
        self.size, self.timeout = size, timeout

    def __call__(self, peer: Peer) -> None:
        peer.sock.settimeout(self.timeout)
        peer.recv_exact(self.size)
        peer.wait_close(self.timeout)


def _open_links(port: Port, servers: Sequence[TcpServer], timeout: float) -> None:
    port.command(b"ATE0")
    port.settle(0.1)
    port.command(b"AT+CIPMUX=1")
    for n, server in enumerate(servers):
        port.write_all(b'AT+CIPSTART=%d,"TCP","%s",%d\r' % (n, server.host.encode(), server.port))
        port.read_until(b"%d, CONNECT OK\r\n" % n, timeout)
    for server in servers:
        server.wait_peers(1, timeout)


def _shut(port: Port) -> None:
    port.write_all(b"AT+CIPSHUT\r")
    port.read_until(b"SHUT OK\r\n", 10.0)


# ------------------------------------------------------------ the two measures


def receive(links: int, total: int, timeout: float) -> tuple[float, int]:
    """``total`` bytes from ``links`` servers at once to the pty; (B/s, pushes)."""
    per = total // links
    data = [payload(per, 100 + n) for n in range(links)]
    go = threading.Event()
    with ExitStack() as stack:
        servers = [stack.enter_context(TcpServer(Streamer(d, go, timeout))) for d in data]
        emu = stack.enter_context(Emulator())
        port = stack.enter_context(emu.open_port())
        _open_links(port, servers, timeout)
        parser = ReceiveParser(links)
        deadline = time.monotonic() + timeout
        t0 = time.perf_counter()
        go.set()
        while sum(parser.counts) < per * links:
            if not port.fill(max(0.0, deadline - time.monotonic())):
                raise BenchError(f"receive: {parser.counts} of {per} bytes per link came")
            parser.feed(port.buf)
            if parser.lines:
                raise BenchError(f"receive: unexpected lines {parser.lines[:5]!r}")
        elapsed = time.perf_counter() - t0
        for n in range(links):
            if parser.counts[n] != per or parser.digests[n].hexdigest() != sha256(data[n]):
                raise BenchError(f"receive: link {n}: wrong data ({parser.counts[n]} bytes)")
        _shut(port)
        return per * links / elapsed, parser.pushes


def send(links: int, sends: int, timeout: float) -> float:
    """``sends`` x CIPSEND=<n>,1460 round-robin over ``links`` links; B/s."""
    per_link = [sends // links + (1 if n < sends % links else 0) for n in range(links)]
    data = [payload(k * CHUNK, 200 + n) for n, k in enumerate(per_link)]
    with ExitStack() as stack:
        servers = [
            stack.enter_context(TcpServer(Sink(len(d), timeout))) for d in data
        ]  # one per link
        emu = stack.enter_context(Emulator())
        port = stack.enter_context(emu.open_port())
        _open_links(port, servers, timeout)
        views = [memoryview(d) for d in data]
        offsets = [0] * links
        heads = [b"AT+CIPSEND=%d,%d\r" % (n, CHUNK) for n in range(links)]
        oks = [b"%d, SEND OK\r\n" % n for n in range(links)]
        t0 = time.perf_counter()
        for i in range(sends):
            n = i % links
            port.write_all(heads[n])
            port.read_until(b"> ", timeout)
            port.write_all(views[n][offsets[n] : offsets[n] + CHUNK])
            offsets[n] += CHUNK
            port.read_until(oks[n], timeout)
        peers = [s.peers[0] for s in servers]
        deadline = time.monotonic() + timeout
        while any(p.recv_done == 0.0 for p in peers):
            if time.monotonic() > deadline or any(p.done.is_set() for p in peers):
                for p in peers:
                    check_peer(p, "send")
                raise BenchError(f"send: servers got {[p.received for p in peers]}")
            time.sleep(0.0005)
        elapsed = max(p.recv_done for p in peers) - t0
        for n, p in enumerate(peers):
            if p.digest.hexdigest() != sha256(data[n]):
                raise BenchError(f"send: link {n}: SHA-256 mismatch at the server")
        _shut(port)
        return sends * CHUNK / elapsed


# ------------------------------------------------------------ command line


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--total",
        type=int,
        default=24,
        help="MiB received in each receive run, split evenly over the links (default: %(default)s)",
    )
    p.add_argument(
        "--sends",
        type=int,
        default=3000,
        help="CIPSEND=<n>,1460 commands in each send run (default: %(default)s)",
    )
    p.add_argument(
        "--links", type=int, default=6, help="links of the concurrent case (default: %(default)s)"
    )
    p.add_argument(
        "--rounds",
        type=int,
        default=5,
        help="runs of each case, alternating; medians are printed (default: %(default)s)",
    )
    p.add_argument("--timeout", type=float, default=120.0, help="seconds any step may take")


def _rate(bps: float) -> str:
    return f"{bps / 1e6:.2f} MB/s" if bps >= 1e6 else f"{bps / 1e3:.1f} kB/s"


def run(args: argparse.Namespace) -> list[Figure]:
    links = args.links
    if not 1 <= links <= 6:
        raise BenchError("--links must be 1..6")
    total = args.total * MiB // (6 * CHUNK) * (6 * CHUNK)  # divisible by any link count
    print(
        f"Links: receive {total} bytes (+RECEIVE pushes) and send {args.sends} x "
        f"CIPSEND=<n>,{CHUNK}, on 1 link and on {links} concurrent links; "
        f"{args.rounds} round(s), alternating, fresh serve each run"
    )
    print(f"  machine: {machine()}")
    rx1: list[float] = []
    rxn: list[float] = []
    tx1: list[float] = []
    txn: list[float] = []
    pushes = [0, 0]
    for _ in range(args.rounds):
        r, pushes[0] = receive(1, total, args.timeout)
        rx1.append(r)
        r, pushes[1] = receive(links, total, args.timeout)
        rxn.append(r)
        tx1.append(send(1, args.sends, args.timeout))
        txn.append(send(links, args.sends, args.timeout))
    med = statistics.median
    rows = [
        ["receive (+RECEIVE)", _rate(med(rx1)), _rate(med(rxn)), f"{med(rxn) / med(rx1):.2f}x"],
        [
            "send (CIPSEND=<n>,1460)",
            _rate(med(tx1)),
            _rate(med(txn)),
            f"{med(txn) / med(tx1):.2f}x",
        ],
    ]
    print(table(rows, ["bytes per second", "1 link", f"{links} links", f"ratio {links}/1"]))
    print(
        f"  receive: {total / pushes[0]:.0f} bytes per push on 1 link, "
        f"{total / pushes[1]:.0f} on {links} links (last round)"
    )
    if args.rounds > 1:
        for i in range(args.rounds):
            print(
                f"  round {i + 1}: receive {_rate(rx1[i])} / {_rate(rxn[i])}, "
                f"send {_rate(tx1[i])} / {_rate(txn[i])}"
            )
    return [
        Figure("links_throughput", f"receive (+RECEIVE), {links} links", _rate(med(rxn)),
               _rate(med(rx1)), "1 link", f"{med(rxn) / med(rx1):.2f}x"),
        Figure("links_throughput", f"send (CIPSEND=<n>,1460), {links} links", _rate(med(txn)),
               _rate(med(tx1)), "1 link", f"{med(txn) / med(tx1):.2f}x"),
    ]  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description="Bytes per second six concurrent links (AT+CIPMUX=1) move through the pty "
        "beside one link alone, receiving (+RECEIVE pushes) and sending (CIPSEND=<n>,1460), "
        "in one run."
    )
    add_arguments(p)
    return p


def main(argv: list[str] | None = None) -> int:
    return script_main("links_throughput", build_parser, run, argv)


if __name__ == "__main__":
    sys.exit(main())
