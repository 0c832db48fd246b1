"""Runs every benchmark with modest settings (a few minutes in all) and
prints a summary table. ``make bench`` runs this.

    .venv/bin/python bench/run_all.py
    .venv/bin/python bench/run_all.py --only at_latency,fleet_memory
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from types import ModuleType

import at_latency
import baud_accuracy
import cmux
import download_throughput
import fleet_load
import fleet_memory
import http_throughput
import links_throughput
import memory_breakdown
import ppp
import transparent_throughput
from common import SOCAT_HINT, BenchError, Figure, emulator_python, have_socat, machine, table


def _serve_loops() -> str:
    """serve's event loops the fleet runs on: uvloop beside asyncio when the
    emulator's Python has it (``sim800emu[uvloop]``)."""
    found = subprocess.run([emulator_python(), "-c", "import uvloop"],
                           capture_output=True, check=False).returncode == 0
    return "asyncio,uvloop" if found else "asyncio"


# name, module, the arguments run_all gives it (each script's own defaults
# otherwise; see ``python bench/NAME.py --help``)
BENCHES: list[tuple[str, ModuleType, list[str]]] = [
    ("at_latency", at_latency, ["--commands", "10000"]),
    ("transparent_throughput", transparent_throughput, ["--size", "64", "--rounds", "5"]),
    ("links_throughput", links_throughput, ["--total", "24", "--sends", "3000", "--rounds", "5"]),
    ("download_throughput", download_throughput, ["--size", "8", "--rounds", "3"]),
    ("fleet_memory", fleet_memory, ["--counts", "100,1000,19000", "--timeout", "300"]),
    ("memory_breakdown", memory_breakdown, ["--modems", "1000"]),
    ("fleet_load", fleet_load, ["--seconds", "10", "--loop", _serve_loops()]),
    ("http_throughput", http_throughput, ["--size", "307200", "--rounds", "5"]),
    ("baud_accuracy", baud_accuracy, ["--seconds", "10"]),
    # needs root (a network namespace and a TUN device for the kernel's PPP client)
    ("ppp", ppp, ["--size", "8", "--rounds", "3", "--baud-size", "128", "--connects", "200"]),
    # PPP through AT+CMUX beside plain PPP (root, as ppp)
    ("cmux", cmux, ["--size", "8", "--rounds", "3", "--baud-size", "64"]),
]


def main(argv: list[str] | None = None) -> int:
    names = [name for name, _, _ in BENCHES]
    parser = argparse.ArgumentParser(
        description="Run the sim800emu benchmarks with modest settings and print a summary. "
        f"Benchmarks: {', '.join(names)}."
    )
    parser.add_argument("--only", help="comma-separated benchmark names to run (default: all)")
    args = parser.parse_args(argv)
    only = set(args.only.split(",")) if args.only else set(names)
    unknown = only - set(names)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")

    figures: list[Figure] = []
    failed: list[str] = []
    started = time.monotonic()
    for name, module, bench_args in BENCHES:
        if name not in only:
            continue
        command = f"bench/{name}.py {' '.join(bench_args)}"
        print(f"\n=== {command}", flush=True)
        if name == "transparent_throughput" and not have_socat():
            print(f"skipped: {SOCAT_HINT}")
            failed.append(f"{name} (no socat)")
            continue
        build: Callable[[], argparse.ArgumentParser] = module.build_parser
        t0 = time.monotonic()
        try:
            figures += module.run(build().parse_args(bench_args))
        except BenchError as exc:
            print(f"{name}: error: {exc}", file=sys.stderr)
            failed.append(name)
        except Exception:
            traceback.print_exc()
            failed.append(name)
        print(f"({time.monotonic() - t0:.0f} s)", flush=True)

    print(f"\n=== summary ({time.monotonic() - started:.0f} s; {machine()})")
    rows = [[f.bench, f.measure, f.emulator, f.reference, f.against, f.ratio] for f in figures]
    print(table(rows, ["benchmark", "measure", "sim800emu", "reference", "against", "ratio"]))
    if failed:
        print(f"\nnot measured: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
