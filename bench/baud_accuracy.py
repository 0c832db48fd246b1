"""Serial pacing accuracy: ``serve --baud N`` must carry N/10 bytes per second
each way, within 1 % over a 10 s transfer (issue 13).

For each rate the emulator runs in transparent mode (``AT+CIPCCFG=3,2,1,1``:
every byte leaves for the network at once) to a local TCP server:

* **down** (modem → host): the server sends 10 s worth of bytes at once; the
  pty is read and the rate is (bytes after the first chunk) / (time from the
  first chunk to the last);
* **up** (host → modem): the pty is written at once; the server measures
  the same way.

The reference is the nominal rate itself (N bit/s, 10 bits per byte).

    .venv/bin/python bench/baud_accuracy.py                # 9600 and 115200, 10 s
    .venv/bin/python bench/baud_accuracy.py --rates 9600 --seconds 5
"""

from __future__ import annotations

import argparse
import sys
import threading
import time

from common import BenchError, Emulator, Figure, Peer, TcpServer

LIMIT = 0.01


def rate_of(arrivals: list[tuple[float, int]]) -> float:
    first_t, first_n = arrivals[0]
    rest = sum(n for _, n in arrivals) - first_n
    return rest / (arrivals[-1][0] - first_t)


def measure(bps: int, seconds: float) -> tuple[float, float]:
    nominal = bps / 10
    size = int(nominal * seconds)
    up_arrivals: list[tuple[float, int]] = []
    got_all = threading.Event()

    def handler(peer: Peer) -> None:
        total = 0
        while total < size:
            data = peer.sock.recv(1 << 16)
            if not data:
                return
            up_arrivals.append((time.perf_counter(), len(data)))
            total += len(data)
        got_all.set()

    with TcpServer(handler) as server, Emulator("--baud", str(bps)) as emu, emu.open_port() as port:
        port.command(b"ATE0")
        port.command(b"AT+CIPMODE=1")
        port.command(b"AT+CIPCCFG=3,2,1,1")
        port.command(b'AT+CSTT="CMNET"')
        port.command(b"AT+CIICR", timeout=30)
        port.command(b"AT+CIFSR", expect=b"\r\n", timeout=10)
        port.read_until(b"\r\n")
        port.command(f'AT+CIPSTART="TCP","127.0.0.1",{server.port}'.encode(), b"CONNECT\r\n")
        port.buf.clear()
        peer = server.wait_peers(1)[0]
        # down
        peer.sock.sendall(b"\xa5" * size)
        down_arrivals: list[tuple[float, int]] = []
        total = 0
        deadline = time.monotonic() + seconds * 2 + 10
        while total < size:
            n = port.fill(max(0.0, deadline - time.monotonic()))
            if not n and time.monotonic() > deadline:
                raise BenchError(f"down: {total} of {size} bytes")
            if n:
                down_arrivals.append((time.perf_counter(), n))
                total += n
        port.buf.clear()
        # up
        port.write_all(b"\x5a" * size, timeout=seconds * 2 + 10)
        if not got_all.wait(seconds * 2 + 10):
            raise BenchError("up: the server did not get everything")
    return rate_of(down_arrivals) / nominal - 1, rate_of(up_arrivals) / nominal - 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rates", default="9600,115200", help="comma-separated bit rates")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each transfer")
    return parser


def run(args: argparse.Namespace) -> list[Figure]:
    figures: list[Figure] = []
    print(f"{'rate':>8} {'direction':>10} {'error':>8}  (limit ±{LIMIT:.0%})")
    for bps in (int(r) for r in args.rates.split(",")):
        down, up = measure(bps, args.seconds)
        for name, err in (("down", down), ("up", up)):
            bad = abs(err) > LIMIT
            print(f"{bps:>8} {name:>10} {err:>+8.3%}{'  FAIL' if bad else ''}", flush=True)
            nominal = bps / 10
            figures.append(Figure(
                "baud_accuracy", f"{bps} bit/s {name}, B/s", f"{nominal * (1 + err):.1f}",
                f"{nominal:.1f}", "nominal", f"{1 + err:.4f}"))
    return figures


def main(argv: list[str] | None = None) -> int:
    figures = run(build_parser().parse_args(argv))
    bad = [f for f in figures if abs(float(f.ratio) - 1) > LIMIT]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
