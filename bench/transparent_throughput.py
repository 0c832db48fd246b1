"""Throughput of transparent mode (``AT+CIPMODE=1``) beside ``socat``, in one run.

sim800emu: ``AT+CIPMODE=1``, ``AT+CIPSTART`` to a local TCP server, then
raw bytes: SIZE bytes pty -> emulator -> server ("up"), then SIZE other
bytes server -> emulator -> pty ("down"); the SHA-256 of each is checked on
the receiving side. socat: ``socat pty,raw,echo=0,link=PATH tcp:127.0.0.1:PORT``
relays the same bytes between a pty and the same kind of server.

Up is timed from the first byte written on the pty to the last byte the
server read; down from the moment the server starts sending to the last
byte read from the pty. MB is 10^6 bytes.

    .venv/bin/python bench/transparent_throughput.py            # 64 MiB each way
    .venv/bin/python bench/transparent_throughput.py --size 16 --rounds 1
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from common import (
    MB,
    SOCAT_HINT,
    BenchError,
    Emulator,
    Figure,
    MiB,
    Peer,
    Port,
    Socat,
    TcpServer,
    check_peer,
    fmt_kib,
    have_socat,
    machine,
    payload,
    script_main,
    sha256,
    table,
)


@dataclass
class Result:
    up_s: float
    down_s: float
    size: int
    peak_rss: int = 0  # the relay's VmHWM after both transfers (KiB)

    @property
    def up(self) -> float:
        return self.size / self.up_s / MB

    @property
    def down(self) -> float:
        return self.size / self.down_s / MB

    @property
    def both(self) -> float:
        return 2 * self.size / (self.up_s + self.down_s) / MB


class Transfer:
    """The server side of one transfer: read SIZE bytes, wait for the go,
    send SIZE bytes, wait for the close."""

    def __init__(self, up: bytes, down: bytes, timeout: float) -> None:
        self.up, self.down, self.timeout = up, down, timeout
        self.go_down = threading.Event()

    def __call__(self, peer: Peer) -> None:
        peer.recv_exact(len(self.up))
        if not self.go_down.wait(self.timeout):
            raise BenchError("never told to send")
        peer.send_all(self.down)
        peer.wait_close(self.timeout)


def transfer(port: Port, server: TcpServer, job: Transfer, timeout: float) -> Result:
    """Move ``job.up`` through ``port`` to the server, then ``job.down`` back."""
    size = len(job.up)
    (peer,) = server.wait_peers(1, timeout)
    # up: the pty writes, the server reads
    t0 = time.perf_counter()
    port.write_all(job.up, timeout)
    deadline = time.monotonic() + timeout
    while peer.recv_done == 0.0:
        if peer.done.is_set() or time.monotonic() > deadline:
            check_peer(peer, "up")
            raise BenchError(f"up: the server has {peer.received} of {size} bytes")
        time.sleep(0.0005)
    up_s = peer.recv_done - t0
    if peer.digest.hexdigest() != sha256(job.up):
        raise BenchError("up: SHA-256 mismatch at the server")
    if port.buf or port.fill(0):
        raise BenchError(f"up: unexpected bytes on the pty: {bytes(port.buf)[:100]!r}")
    # down: the server writes, the pty reads
    digest = hashlib.sha256()
    got = 0
    deadline = time.monotonic() + timeout
    t0 = time.perf_counter()
    job.go_down.set()
    while got < size:
        if not port.fill(max(0.0, deadline - time.monotonic())):
            check_peer(peer, "down")
            raise BenchError(f"down: {got} of {size} bytes came")
        if got + len(port.buf) > size:
            raise BenchError(f"down: extra bytes: {bytes(port.buf)[size - got :][:100]!r}")
        got += len(port.buf)
        digest.update(port.buf)
        port.buf.clear()
    down_s = time.perf_counter() - t0
    if digest.hexdigest() != sha256(job.down):
        raise BenchError("down: SHA-256 mismatch on the pty")
    return Result(up_s, down_s, size)


def run_emulator(up: bytes, down: bytes, ccfg: str | None, timeout: float) -> Result:
    job = Transfer(up, down, timeout)
    with TcpServer(job) as server, Emulator() as emu, emu.open_port() as port:
        port.command(b"ATE0")
        port.settle(0.1)
        port.command(b"AT+CIPMODE=1")
        if ccfg:
            port.command(b"AT+CIPCCFG=" + ccfg.encode())
        port.write_all(b'AT+CIPSTART="TCP","%s",%d\r' % (server.host.encode(), server.port))
        port.read_until(b"\r\nOK\r\n", timeout)
        port.read_until(b"\r\nCONNECT\r\n", timeout)
        result = transfer(port, server, job, timeout)
        result.peak_rss = emu.peak_rss_kib()
        # back to command mode (+++ with its guard times) and close
        time.sleep(1.1)
        port.write_all(b"+++")
        port.read_until(b"\r\nOK\r\n", 5.0)
        port.command(b"AT+CIPCLOSE", b"CLOSE OK\r\n")
        check_peer(server.peers[0], "emulator transfer")
        return result


def run_socat(up: bytes, down: bytes, timeout: float) -> Result:
    job = Transfer(up, down, timeout)
    with TcpServer(job) as server:
        with Socat(server.host, server.port) as socat, socat.open_port() as port:
            result = transfer(port, server, job, timeout)
            result.peak_rss = socat.peak_rss_kib()
        server.peers[0].done.wait(timeout)
        check_peer(server.peers[0], "socat transfer")
        return result


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--size",
        type=int,
        default=64,
        help="MiB moved each way (default: %(default)s)",
    )
    p.add_argument(
        "--rounds",
        type=int,
        default=5,
        help="transfers on each side, alternating; the median is reported (default: %(default)s)",
    )
    p.add_argument(
        "--ccfg",
        default=None,
        help="send AT+CIPCCFG=CCFG first, e.g. 3,1,1460,1 (default: the modem's defaults, "
        "3,2,1024,1: a final packet under 1024 bytes waits 400 ms)",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=300.0,
        help="seconds any one step may take (default: %(default)s)",
    )


def _median(results: list[Result], key: Callable[[Result], float]) -> float:
    return statistics.median(key(r) for r in results)


def run(args: argparse.Namespace) -> list[Figure]:
    if not have_socat():
        raise BenchError(SOCAT_HINT)
    size = args.size * MiB
    print(
        f"Transparent mode: {args.size} MiB up (pty -> TCP server), then {args.size} MiB down "
        f"(TCP server -> pty), SHA-256 checked; {args.rounds} round(s) each, alternating"
    )
    print(f"  machine: {machine()}")
    up, down = payload(size, 1), payload(size, 2)
    emu: list[Result] = []
    ref: list[Result] = []
    for _ in range(args.rounds):
        emu.append(run_emulator(up, down, args.ccfg, args.timeout))
        ref.append(run_socat(up, down, args.timeout))
    rows = []
    keys: list[tuple[str, Callable[[Result], float]]] = [
        ("up", lambda r: r.up),
        ("down", lambda r: r.down),
        ("both", lambda r: r.both),
    ]
    for name, key in keys:
        e, s = _median(emu, key), _median(ref, key)
        rows.append([name, f"{e:.1f}", f"{s:.1f}", f"{e / s:.2f}x"])
    print(table(rows, ["MB/s", "sim800emu", "socat", "ratio emu/socat"]))
    print(
        f"peak RSS (VmHWM) over a transfer: sim800emu {fmt_kib(max(r.peak_rss for r in emu))}, "
        f"socat {fmt_kib(max(r.peak_rss for r in ref))}"
    )
    if args.rounds > 1:
        for i, (e_r, s_r) in enumerate(zip(emu, ref, strict=True), 1):
            print(
                f"  round {i}: sim800emu up {e_r.up:.1f} down {e_r.down:.1f}; "
                f"socat up {s_r.up:.1f} down {s_r.down:.1f} MB/s"
            )
    return [
        Figure(
            "transparent_throughput",
            f"CIPMODE=1, {args.size} MiB {name}",
            f"{row[1]} MB/s",
            f"{row[2]} MB/s",
            "socat",
            row[3],
        )
        for (name, _), row in zip(keys, rows, strict=True)
    ]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description="MB/s through transparent mode (AT+CIPMODE=1) beside socat relaying the "
        "same bytes between a pty and the same kind of TCP server, in one run. Needs socat "
        "(apt-get install -y socat)."
    )
    add_arguments(p)
    return p


def main(argv: list[str] | None = None) -> int:
    return script_main("transparent_throughput", build_parser, run, argv)


if __name__ == "__main__":
    sys.exit(main())
