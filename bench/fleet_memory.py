"""Memory per modem of a fleet: one ``serve --transport tcp`` process where
every TCP connection is a modem of its own.

For each N: a fresh ``serve`` process; its VmRSS once idle; with one modem
(the first connection also pays for modules imported lazily); with N more
modems, each sent ``AT\\r`` and answered ``OK``. Memory per modem =
(RSS with 1+N - RSS with 1) / N. Then the N are closed and the RSS read
again, and once more after a second wave of N opened and closed (memory
that grows with every wave would be a leak).

    .venv/bin/python bench/fleet_memory.py                # N = 100, 1000
    .venv/bin/python bench/fleet_memory.py --counts 10,100,2000
"""

from __future__ import annotations

import argparse
import contextlib
import selectors
import socket
import sys
import time

from common import (
    BenchError,
    Emulator,
    Figure,
    fmt_kib,
    machine,
    raise_fd_limit,
    script_main,
    table,
)

TARGET_N, TARGET = 19000, "<= 8 KiB"  # issue 14: 19,000 modems at <= 8 KiB each


def open_modems(address: tuple[str, int], n: int, timeout: float) -> list[socket.socket]:
    """``n`` connections, each sent ``AT\\r`` and read up to its ``OK``."""
    socks: list[socket.socket] = []
    try:
        for _ in range(n):
            s = socket.create_connection(address, timeout)
            s.setblocking(False)
            socks.append(s)
        sel = selectors.DefaultSelector()
        bufs: dict[int, bytes] = {}
        for s in socks:
            s.send(b"AT\r")
            sel.register(s, selectors.EVENT_READ)
            bufs[s.fileno()] = b""
        waiting = len(socks)
        deadline = time.monotonic() + timeout
        while waiting:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BenchError(f"{waiting} of {n} modems did not answer AT")
            for key, _ in sel.select(left):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                data = sock.recv(4096)
                if not data:
                    raise BenchError("a modem closed its connection")
                got = bufs[sock.fileno()] + data
                bufs[sock.fileno()] = got
                if got.endswith(b"OK\r\n"):
                    sel.unregister(sock)
                    waiting -= 1
                elif b"ERROR" in got:
                    raise BenchError(f"a modem answered {got!r}")
        sel.close()
    except BaseException:
        close_all(socks)
        raise
    return socks


def close_all(socks: list[socket.socket]) -> None:
    for s in socks:
        with contextlib.suppress(OSError):
            s.close()
    socks.clear()


def measure(n: int, idle: float, timeout: float) -> dict[str, float]:
    """RSS of a fresh ``serve`` idle, with one modem (the first one pays for
    lazy imports), with 1 + n modems, after closing the n, and after a second
    wave of n opened and closed (growth there would be a leak)."""
    with Emulator(transport="tcp") as emu:
        assert emu.tcp_address is not None
        time.sleep(idle)
        idle_rss = emu.rss_kib()
        first = open_modems(emu.tcp_address, 1, timeout)
        try:
            time.sleep(idle)
            base = emu.rss_kib()
            t0 = time.perf_counter()
            socks = open_modems(emu.tcp_address, n, timeout)
            up = time.perf_counter() - t0
            try:
                time.sleep(idle)
                loaded = emu.rss_kib()
            finally:
                close_all(socks)
            time.sleep(idle)
            closed = emu.rss_kib()
            close_all(open_modems(emu.tcp_address, n, timeout))
            time.sleep(idle)
            again = emu.rss_kib()
        finally:
            close_all(first)
        if not emu.alive():
            raise BenchError("serve died")
    return {
        "n": n,
        "idle": idle_rss,
        "base": base,
        "loaded": loaded,
        "closed": closed,
        "again": again,
        "up": up,
    }


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--counts",
        default="100,1000",
        help="comma-separated numbers of modems, one fresh serve each (default: %(default)s)",
    )
    p.add_argument(
        "--idle",
        type=float,
        default=1.0,
        help="seconds to let serve settle before each RSS reading (default: %(default)s)",
    )
    p.add_argument("--timeout", type=float, default=60.0, help="seconds to open the modems")


def run(args: argparse.Namespace) -> list[Figure]:
    counts = [int(c) for c in args.counts.split(",") if c.strip()]
    limit = raise_fd_limit(max(counts) * 2 + 256)
    if limit < max(counts) + 64:
        raise BenchError(f"open-file limit {limit} is too low for {max(counts)} connections")
    print(
        "Fleet memory: one `serve --transport tcp` per N; VmRSS idle, with a first modem, then "
        "with N more (each connection its own modem, each answered AT -> OK); "
        "per modem = (RSS with 1+N - RSS with 1) / N"
    )
    print(f"  machine: {machine()}")
    results = [measure(n, args.idle, args.timeout) for n in counts]
    rows = []
    figures = []
    for r in results:
        n = int(r["n"])
        per = (r["loaded"] - r["base"]) / n
        rows.append(
            [
                str(n),
                fmt_kib(r["idle"]),
                fmt_kib(r["base"]),
                fmt_kib(r["loaded"]),
                f"{per:.1f} KiB",
                fmt_kib(r["closed"]),
                fmt_kib(r["again"]),
                f"{r['up']:.2f} s",
            ]
        )
        figures.append(
            Figure("fleet_memory", f"RSS per modem, N={n}", f"{per:.1f} KiB",
                   *((TARGET, "issue 14") if n >= TARGET_N else ())),
        )
    print(f"  target (issue 14): {TARGET_N:,} modems at {TARGET} each")
    print(
        table(
            rows,
            [
                "N",
                "idle",
                "1 modem",
                "1+N modems",
                "per modem",
                "N closed",
                "N again, closed",
                "N up (connect+AT)",
            ],
        )
    )
    return figures


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description="Memory per modem (RSS delta / N) of one `serve --transport tcp` process "
        "holding N modems, for each N."
    )
    add_arguments(p)
    return p


def main(argv: list[str] | None = None) -> int:
    return script_main("fleet_memory", build_parser, run, argv)


if __name__ == "__main__":
    sys.exit(main())
