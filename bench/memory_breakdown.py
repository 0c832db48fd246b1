"""Where a fleet modem's memory goes: Python allocations per modem, by file
and by line, traced with ``tracemalloc``.

In this process: the TCP serial server of ``serve --transport tcp`` (the
same spec ``serve`` builds: ``--dns-offline --state-dir TMP``), one modem
connected first (it pays for lazily imported modules), then N more, each
sent ``AT`` and answered, by a client in another process (so its sockets
are not counted). The allocations made between the two snapshots, divided
by N, are attributed to the innermost sim800emu frame that made them (or
the innermost frame at all: asyncio's transport, the socket).
``fleet_memory.py`` gives the resident memory (RSS) the same modems cost;
this says which objects make it up.

    .venv/bin/python bench/memory_breakdown.py               # N = 1000
    .venv/bin/python bench/memory_breakdown.py -n 2000 --lines 40
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import subprocess
import sys
import tempfile
import tracemalloc
from collections import Counter

from common import Figure, machine, script_main, table

CLIENT = r"""
import socket, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(n)]
for s in socks:
    s.sendall(b"AT\r")
for s in socks:
    got = b""
    while not got.endswith(b"OK\r\n"):
        got += s.recv(100)
print("up", flush=True)
sys.stdin.readline()
"""


async def measure(n: int, depth: int) -> tuple[int, Counter[str], Counter[str]]:
    from sim800emu import cli
    from sim800emu.transports.tcp import TcpSerialServer

    with tempfile.TemporaryDirectory() as state:
        args = cli.build_parser().parse_args(
            ["serve", "--transport", "tcp", "--dns-offline", "--state-dir", state])
        server = TcpSerialServer(cli.build_spec(args))
        await server.start()

        async def wave(count: int) -> asyncio.subprocess.Process:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-c", CLIENT, str(server.port), str(count),
                stdin=subprocess.PIPE, stdout=subprocess.PIPE)
            assert proc.stdout is not None
            await proc.stdout.readline()
            return proc

        first = await wave(1)
        await asyncio.sleep(0.3)
        gc.collect()
        tracemalloc.start(depth)
        before = tracemalloc.take_snapshot()
        fleet = await wave(n)
        await asyncio.sleep(0.5)
        gc.collect()
        after = tracemalloc.take_snapshot()
        tracemalloc.stop()
        for proc in (fleet, first):
            assert proc.stdin is not None
            proc.stdin.write(b"\n")
            await proc.wait()
        await server.aclose()
    by_file: Counter[str] = Counter()
    by_line: Counter[str] = Counter()
    total = 0
    for stat in after.compare_to(before, "traceback"):
        frames = list(stat.traceback)
        ours = [f for f in frames if "sim800emu" in f.filename]
        frame = ours[-1] if ours else frames[-1]
        name = frame.filename.split("sim800emu/")[-1] if ours else frame.filename.split("/")[-1]
        by_file[name] += stat.size_diff
        by_line[f"{name}:{frame.lineno}"] += stat.size_diff
        total += stat.size_diff
    return total, by_file, by_line


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-n", "--modems", type=int, default=1000)
    p.add_argument("--lines", type=int, default=25, help="lines shown (default: %(default)s)")
    p.add_argument("--depth", type=int, default=30, help="frames traced per allocation")
    return p


def run(args: argparse.Namespace) -> list[Figure]:
    n = args.modems
    total, by_file, by_line = asyncio.run(measure(n, args.depth))
    print(f"Memory breakdown: Python allocations per modem of a `serve --transport tcp` fleet "
          f"of {n} (tracemalloc)")
    print(f"  machine: {machine()}")
    print(f"  in all: {total / n:.0f} B per modem")
    print(table([[f"{size / n:.0f}", name] for name, size in by_file.most_common(args.lines)],
                ["B/modem", "file (innermost sim800emu frame)"]))
    print(table([[f"{size / n:.0f}", name] for name, size in by_line.most_common(args.lines)],
                ["B/modem", "line"]))
    return [Figure("memory_breakdown", f"Python allocations per modem, N={n}",
                   f"{total / n / 1024:.1f} KiB")]


def main(argv: list[str] | None = None) -> int:
    return script_main("memory_breakdown", build_parser, run, argv)


if __name__ == "__main__":
    sys.exit(main())
