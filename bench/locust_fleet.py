"""A device fleet on Locust (issue 14): N devices of examples/locust/telemetry.py
on W worker processes, each sending a 64-byte reading every S seconds to the
example's loopback backend (its plain ``Telemetry`` class only: the bad-network
tenth would measure the network profile); the figures after the ramp-up (``--reset-stats``):
readings a second, failures, CIPSEND -> SEND OK (the ``send`` phase: the
command, the prompt, the data, SEND OK) and the ack (``receive``).

    .venv/bin/python bench/locust_fleet.py                        # 5,000 devices, 2 workers
    .venv/bin/python bench/locust_fleet.py -n 1000 --workers 1 --interval 1
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import tempfile
from pathlib import Path

from common import BenchError, Figure, machine, raise_fd_limit, script_main, table

ROOT = Path(__file__).resolve().parents[1]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-n", "--devices", type=int, default=5000)
    p.add_argument("--workers", type=int, default=2, help="Locust --processes")
    p.add_argument("--interval", type=float, default=5.0, help="seconds between readings")
    p.add_argument("--rate", type=float, default=100.0, help="devices started a second")
    p.add_argument("--steady", type=float, default=30.0, help="seconds measured after ramp-up")
    return p


def run(args: argparse.Namespace) -> list[Figure]:
    raise_fd_limit(args.devices * 4 + 1024)
    ramp = args.devices / args.rate
    duration = int(ramp + args.steady + 1)
    print(f"Locust fleet: {args.devices} telemetry devices on {args.workers} worker processes, "
          f"a 64-byte reading every {args.interval:g} s, {args.rate:g} started a second; "
          f"figures over the {args.steady:g} s after the ramp-up")
    print(f"  machine: {machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        prefix = Path(tmp) / "out"
        cmd = [sys.executable, "-m", "locust", "-f", str(ROOT / "examples/locust/telemetry.py"),
               "--headless", "-u", str(args.devices), "-r", str(args.rate), "-t", f"{duration}s",
               "--reading-interval", str(args.interval), "--reset-stats", "--csv", str(prefix),
               "--only-summary", "Telemetry"]  # the plain devices (not the 10% on a bad network)
        if args.workers > 1:
            cmd += ["--processes", str(args.workers)]
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True,
                              timeout=duration + 120)
        if not prefix.with_name("out_stats.csv").exists():
            raise BenchError(f"locust failed: {proc.stderr[-2000:]}")
        with open(f"{prefix}_stats.csv", newline="") as f:
            stats = {row["Name"]: row for row in csv.DictReader(f)}
    rows = []
    figures = []
    for name in ("send", "receive", "connect", "Aggregated"):
        row = stats.get(name)
        if row is None:
            continue
        rows.append([name, row["Request Count"], row["Failure Count"],
                     f"{float(row['Requests/s']):.0f}", row["50%"], row["99%"], row["100%"]])
    print(table(rows, ["phase", "requests", "failures", "per second", "p50 ms", "p99 ms",
                       "max ms"]))
    print("  target (issue 14): 5,000 devices on 2 workers, a reading every 5 s: 0 failures, "
          "p99 CIPSEND -> SEND OK < 50 ms")
    send = stats.get("send")
    if send is not None:
        figures.append(Figure("locust_fleet", f"{args.devices} devices, {args.workers} workers: "
                              "CIPSEND -> SEND OK p99", f"{send['99%']} ms", "< 50 ms",
                              "issue 14"))
        figures.append(Figure("locust_fleet", "failures",
                              stats["Aggregated"]["Failure Count"], "0", "issue 14"))
    return figures


def main(argv: list[str] | None = None) -> int:
    return script_main("locust_fleet", build_parser, run, argv)


if __name__ == "__main__":
    sys.exit(main())
