"""Round-trip time of ``AT\\r`` -> ``\\r\\nOK\\r\\n`` over the pty, sim800emu
beside a bare pty responder (the floor for any emulator), in one run.

Both processes run at once; after ``ATE0`` and a warm-up, the commands go
to one and then the other in alternating blocks, so both see the same
machine. Also prints the resident memory (VmRSS) of the idle ``serve``
process after start and after the commands.

    .venv/bin/python bench/at_latency.py               # 10,000 commands each
    .venv/bin/python bench/at_latency.py -n 2000 --block 250
"""

from __future__ import annotations

import argparse
import os
import select
import sys
import time

from common import (
    BareResponder,
    BenchError,
    Emulator,
    Figure,
    Port,
    fmt_kib,
    machine,
    percentile,
    script_main,
    table,
)

OK = b"\r\nOK\r\n"


def round_trips(port: Port, n: int, out: list[int], timeout: float = 5.0) -> None:
    """``n`` round trips of ``AT\\r``; append each one's time (ns) to ``out``."""
    fd = port.fd
    poll = select.poll()
    poll.register(fd, select.POLLIN)
    ms = int(timeout * 1000)
    clock = time.perf_counter_ns
    for _ in range(n):
        got = b""
        t0 = clock()
        os.write(fd, b"AT\r")
        while len(got) < len(OK):
            if not poll.poll(ms):
                raise BenchError(f"no answer to AT within {timeout} s (got {got!r})")
            got += os.read(fd, 256)
        t1 = clock()
        if got != OK:
            raise BenchError(f"AT answered {got!r}, expected {OK!r}")
        out.append(t1 - t0)


def _stats(ns: list[int]) -> dict[str, float]:
    us = sorted(v / 1000 for v in ns)
    return {
        "median": percentile(us, 50),
        "p99": percentile(us, 99),
        "mean": sum(us) / len(us),
        "max": us[-1],
    }


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "-n",
        "--commands",
        type=int,
        default=10_000,
        help="AT commands timed on each side (default: %(default)s)",
    )
    p.add_argument(
        "--block",
        type=int,
        default=500,
        help="commands per block; blocks alternate between the two (default: %(default)s)",
    )
    p.add_argument(
        "--warmup",
        type=int,
        default=200,
        help="untimed commands on each side first (default: %(default)s)",
    )
    p.add_argument(
        "--idle",
        type=float,
        default=1.0,
        help="seconds the emulator idles before each RSS reading (default: %(default)s)",
    )


def run(args: argparse.Namespace) -> list[Figure]:
    n, block = args.commands, max(1, args.block)
    print(
        f"AT latency: {n} round trips of AT\\r -> \\r\\nOK\\r\\n on each pty, "
        f"alternating blocks of {block}, after ATE0 and {args.warmup} warm-up commands"
    )
    print(f"  machine: {machine()}")
    with Emulator() as emu, BareResponder() as bare:
        time.sleep(args.idle)
        rss_start = emu.rss_kib()
        with emu.open_port() as ep, bare.open_port() as bp:
            ep.command(b"ATE0")  # answers with the echo: ATE0\r\r\nOK\r\n
            ep.settle(0.1)
            emu_ns: list[int] = []
            bare_ns: list[int] = []
            round_trips(ep, args.warmup, [])
            round_trips(bp, args.warmup, [])
            done = 0
            while done < n:
                k = min(block, n - done)
                round_trips(ep, k, emu_ns)
                round_trips(bp, k, bare_ns)
                done += k
            time.sleep(args.idle)
            rss_after = emu.rss_kib()
            rss_bare = bare.rss_kib()
    e, b = _stats(emu_ns), _stats(bare_ns)
    rows = [
        ["sim800emu serve", *(f"{e[k]:.1f}" for k in ("median", "p99", "mean", "max"))],
        ["bare responder", *(f"{b[k]:.1f}" for k in ("median", "p99", "mean", "max"))],
        ["ratio emu/bare", *(f"{e[k] / b[k]:.2f}x" for k in ("median", "p99", "mean", "max"))],
    ]
    print(table(rows, ["round trip (us)", "median", "p99", "mean", "max"]))
    print(
        f"VmRSS of sim800emu serve: {fmt_kib(rss_start)} idle after start, "
        f"{fmt_kib(rss_after)} after {n + args.warmup + 1} commands "
        f"(bare responder: {fmt_kib(rss_bare)})"
    )
    bare_name = "bare responder"
    return [
        Figure("at_latency", "AT->OK median", f"{e['median']:.1f} us", f"{b['median']:.1f} us",
               bare_name, f"{e['median'] / b['median']:.2f}x"),
        Figure("at_latency", "AT->OK p99", f"{e['p99']:.1f} us", f"{b['p99']:.1f} us",
               bare_name, f"{e['p99'] / b['p99']:.2f}x"),
        Figure("at_latency", "VmRSS idle after start", fmt_kib(rss_start)),
        Figure("at_latency", f"VmRSS after {n + args.warmup + 1} commands", fmt_kib(rss_after),
               fmt_kib(rss_bare), bare_name),
    ]  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description="Median and 99th percentile round-trip time of AT -> OK over the pty: "
        "sim800emu beside a bare pty responder, in one run; and the idle serve process's VmRSS."
    )
    add_arguments(p)
    return p


def main(argv: list[str] | None = None) -> int:
    return script_main("at_latency", build_parser, run, argv)


if __name__ == "__main__":
    sys.exit(main())
