"""A busy fleet: one ``serve --transport tcp`` process, N modems answering at once.

Issue 14's figures for one process on this machine:

* **active**: N modems (1,000), each sending one command a second (open
  loop: a command is due every second whatever happened to the last one;
  one still unanswered at its next turn is counted ``late`` and that turn
  is skipped); p99 of command -> final result < 5 ms;
* **rate**: the same N at R commands a second each (25 -> 25,000 a second
  in all: offered a quarter above the target, so that what is answered
  shows the target met rather than only the load offered); answered per
  second >= 20,000 and p99 < 10 ms;
* **max**: every modem keeps one command in flight (closed loop): the most
  commands a second the process answers (its latency is N / rate: queueing);
* **cipsend**: N modems (1,000) each with a TCP link to a local echo server
  (``AT+CIPHEAD=1``), closed loop: ``AT+CIPSEND=64`` -> ``> `` -> 64 bytes ->
  ``SEND OK`` -> the echo's ``+IPD,64:`` and its 64 bytes; round trips a
  second >= 10,000.

The modems are driven by ``--clients`` worker processes (plain non-blocking
sockets on one epoll each; the same script with ``--worker``), the echo
server is a process of its own; all share the machine with ``serve``, so
every figure includes the drivers' cost. Latency is from the command's
first byte written to the last byte of its answer read, in the worker.

    .venv/bin/python bench/fleet_load.py                      # all four, 1,000 modems
    .venv/bin/python bench/fleet_load.py --only active,rate --modems 1000 --seconds 10
    .venv/bin/python bench/fleet_load.py --command AT+CSQ
    .venv/bin/python bench/fleet_load.py --only cipsend --loop asyncio,uvloop   # serve --loop
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import selectors
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from common import (
    BenchError,
    Emulator,
    Figure,
    machine,
    percentile,
    raise_fd_limit,
    script_main,
    table,
)

SCENARIOS = ("active", "rate", "max", "cipsend")
LOOPS = ("asyncio", "uvloop")  # serve --loop
TARGETS = {  # issue 14, item 5
    "active p99": "< 5 ms",
    "rate per second": ">= 20,000",
    "rate p99": "< 10 ms",
    "cipsend per second": ">= 10,000",
}
SIZE = 64  # bytes of one CIPSEND
SLICE = 0.001  # open loop: commands due within this many seconds are sent together
FINALS = (b"\r\nOK\r\n", b"ERROR\r\n")

# ------------------------------------------------------------ the echo server

# (buffered: a plain Protocol makes asyncio allocate 256 KiB per read, an
# mmap and munmap each time, which would make the echo the bottleneck)
ECHO_SERVER = r"""
import asyncio, sys
BUF = memoryview(bytearray(65536))
class Echo(asyncio.BufferedProtocol):
    def connection_made(self, t):
        self.t = t
        t.get_extra_info("socket").setsockopt(6, 1, 1)  # TCP_NODELAY
    def get_buffer(self, sizehint):
        return BUF
    def buffer_updated(self, n):
        self.t.write(bytes(BUF[:n]))
async def main():
    server = await asyncio.get_running_loop().create_server(Echo, "127.0.0.1", 0, backlog=4096)
    print(server.sockets[0].getsockname()[1], flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
asyncio.run(main())
"""


# ------------------------------------------------------------ the workers


@dataclass
class Dev:
    sock: socket.socket
    index: int  # in the whole fleet (the open loop's phase)
    buf: bytearray = field(default_factory=bytearray)
    sent: float = 0.0
    busy: bool = False
    step: int = 0  # the setup script's line; cipsend: 0 command, 1 data, 2 answers


def _connect(host: str, port: int, first: int, n: int) -> list[Dev]:
    devs = []
    for i in range(n):
        s = socket.create_connection((host, port), 30)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.setblocking(False)
        devs.append(Dev(s, first + i))
    return devs


def _setup(sel: selectors.BaseSelector, devs: list[Dev],
           script: list[tuple[str, re.Pattern[bytes]]], timeout: float) -> None:
    """Every modem runs ``script`` (command, what ends its answer) in turn."""
    for d in devs:
        d.step = 0
        d.sock.send(script[0][0].encode() + b"\r")
    waiting = len(devs)
    deadline = time.monotonic() + timeout
    while waiting:
        if time.monotonic() > deadline:
            raise SystemExit(f"setup: {waiting} modems did not finish {script}")
        for key, _ in sel.select(1.0):
            d: Dev = key.data
            d.buf += d.sock.recv(65536)
            cmd, end = script[d.step]
            if not end.search(d.buf):
                if b"ERROR" in d.buf or b"FAIL" in d.buf:
                    raise SystemExit(f"setup: {cmd} -> {bytes(d.buf)!r}")
                continue
            d.buf.clear()
            d.step += 1
            if d.step == len(script):
                waiting -= 1
            else:
                d.sock.send(script[d.step][0].encode() + b"\r")


def worker(spec: dict[str, object]) -> None:
    host, port = str(spec["host"]), int(spec["port"])  # type: ignore[call-overload]
    first, n = int(spec["first"]), int(spec["count"])  # type: ignore[call-overload]
    total = int(spec["total"])  # type: ignore[call-overload]
    mode = str(spec["mode"])
    duration = float(spec["seconds"])  # type: ignore[arg-type]
    rate = float(spec["rate"])  # type: ignore[arg-type]
    command = str(spec["command"]).encode() + b"\r"
    devs = _connect(host, port, first, n)
    sel = selectors.DefaultSelector()
    for d in devs:
        sel.register(d.sock, selectors.EVENT_READ, d)
    ok = re.compile(rb"\r\nOK\r\n$")
    script = [("ATE0", ok)]
    if mode == "cipsend":
        script += [("AT+CIPHEAD=1", ok), ('AT+CSTT="internet"', ok), ("AT+CIICR", ok),
                   ("AT+CIFSR", re.compile(rb"\r\n\d+\.\d+\.\d+\.\d+\r\n$")),
                   (f'AT+CIPSTART="TCP","127.0.0.1",{spec["echo"]}',
                    re.compile(rb"CONNECT OK\r\n$"))]
    _setup(sel, devs, script, 120.0)
    print("ready", flush=True)
    sys.stdin.readline()  # go
    lat: list[float] = []
    late = sent = 0
    perf = time.perf_counter
    payload = b"x" * (SIZE - 1) + b"\n"
    cipsend = f"AT+CIPSEND={SIZE}\r".encode()
    ipd = f"+IPD,{SIZE}:".encode() + payload

    def on_read(d: Dev) -> None:
        try:
            data = d.sock.recv(65536)
        except BlockingIOError:
            return
        if not data:
            raise SystemExit("a modem closed its connection")
        buf = d.buf
        buf += data
        if mode != "cipsend":
            if buf.endswith(FINALS[0]) or buf.endswith(FINALS[1]):
                lat.append(perf() - d.sent)
                buf.clear()
                d.busy = False
                if mode == "max" and not stop:
                    issue(d)
            return
        if d.step == 1:
            if b"> " in buf:
                buf.clear()
                d.step = 2
                d.sock.send(payload)
        elif d.step == 2 and b"SEND OK\r\n" in buf and buf.endswith(ipd):
            lat.append(perf() - d.sent)
            buf.clear()
            d.busy = False
            if not stop:
                issue(d)

    def issue(d: Dev) -> None:
        nonlocal sent
        d.sent = perf()
        d.busy = True
        sent += 1
        if mode == "cipsend":
            d.step = 1
            d.sock.send(cipsend)
        else:
            d.sock.send(command)

    stop = False
    t0 = perf()
    if mode in ("max", "cipsend"):
        for d in devs:
            issue(d)
        while perf() - t0 < duration:
            for key, _ in sel.select(0.5):
                on_read(key.data)
    else:  # open loop: modem i is due at (i / total + k) / rate
        period = 1.0 / rate
        k = 0
        order = sorted(devs, key=lambda d: d.index)
        offsets = [d.index / total * period for d in order]
        j = 0
        while True:
            now = perf() - t0
            if now >= duration:
                break
            due = k * period + offsets[j]
            while due <= now + SLICE:  # what falls due in the next slice goes now
                d = order[j]
                if d.busy:
                    late += 1
                else:
                    issue(d)
                j += 1
                if j == len(order):
                    j, k = 0, k + 1
                due = k * period + offsets[j]
            for key, _ in sel.select(max(0.0, due - SLICE - (perf() - t0))):
                on_read(key.data)
    elapsed = perf() - t0
    answered_in_time = len(lat)
    stop = True
    deadline = perf() + 5.0
    while any(d.busy for d in devs) and perf() < deadline:
        for key, _ in sel.select(0.2):
            on_read(key.data)
    Path(str(spec["out"])).write_text(json.dumps({
        "elapsed": elapsed, "sent": sent, "late": late, "answered": answered_in_time,
        "unanswered": sum(d.busy for d in devs),
        "lat_us": [round(x * 1e6) for x in lat],
    }))
    for d in devs:
        d.sock.close()


# ------------------------------------------------------------ the parent


@dataclass
class Run:
    scenario: str
    loop: str  # serve --loop
    modems: int
    seconds: float
    sent: int
    answered: int  # within the time
    late: int
    unanswered: int
    lat_ms: list[float]
    cpu: float = 0.0  # CPU seconds of serve while measured (drivers not counted)

    @property
    def per_second(self) -> float:
        return self.answered / self.seconds

    @property
    def cpu_us(self) -> float:
        """serve's CPU time per answer, microseconds (kernel time of its
        socket calls included)."""
        return self.cpu / self.answered * 1e6 if self.answered else float("nan")

    def pct(self, p: float) -> float:
        return percentile(self.lat_ms, p) if self.lat_ms else float("nan")


def run_scenario(emu: Emulator, scenario: str, loop: str, args: argparse.Namespace,
                 echo_port: int) -> Run:
    assert emu.tcp_address is not None
    n = args.cipsend_modems if scenario == "cipsend" else args.modems
    rate = 1.0 if scenario == "active" else args.rate
    clients = max(1, min(args.clients, n))
    procs = []
    per = [n // clients + (1 if i < n % clients else 0) for i in range(clients)]
    first = 0
    outs = [emu.tmp / f"{scenario}-{i}.json" for i in range(clients)]
    for count, out in zip(per, outs, strict=True):
        spec = {"host": emu.tcp_address[0], "port": emu.tcp_address[1], "first": first,
                "count": count, "total": n, "mode": scenario, "seconds": args.seconds,
                "rate": rate, "command": args.command, "echo": echo_port, "out": str(out)}
        first += count
        procs.append(subprocess.Popen(
            [sys.executable, __file__, "--worker", json.dumps(spec)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True))
    try:  # (a worker says "ready" once its modems are set up, then waits for "go")
        for p in procs:
            assert p.stdout is not None
            if p.stdout.readline().strip() != "ready":
                raise BenchError(f"{scenario}: a worker failed to set up its modems")
        assert emu.proc is not None
        cpu0 = _cpu_seconds(emu.proc.pid)
        for p in procs:
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        for p in procs:
            if p.wait(timeout=args.seconds + 120) != 0:
                raise BenchError(f"{scenario}: a worker failed")
        cpu = _cpu_seconds(emu.proc.pid) - cpu0
        results = [json.loads(out.read_text()) for out in outs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    lat = sorted(x / 1000 for r in results for x in r["lat_us"])
    return Run(scenario, loop, n, max(r["elapsed"] for r in results), sum(r["sent"] for r in results),
               sum(r["answered"] for r in results), sum(r["late"] for r in results),
               sum(r["unanswered"] for r in results), lat, cpu)


def _cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of process ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--only", default=",".join(SCENARIOS),
                   help="comma-separated scenarios (default: %(default)s)")
    p.add_argument("--modems", type=int, default=1000, help="modems of active, rate, max")
    p.add_argument("--cipsend-modems", type=int, default=1000, help="modems of cipsend")
    p.add_argument("--rate", type=float, default=25.0,
                   help="commands a second per modem in the rate scenario (default: %(default)s)")
    p.add_argument("--seconds", type=float, default=10.0, help="measured seconds per scenario")
    p.add_argument("--clients", type=int, default=2, help="worker processes driving the modems")
    p.add_argument("--command", default="AT", help="the command of active, rate, max")
    p.add_argument("--loop", default="asyncio",
                   help="serve's event loop(s), comma-separated: each scenario runs on each "
                        "(serve --loop; default: %(default)s)")
    p.add_argument("--worker", help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> list[Figure]:
    only = [s for s in args.only.split(",") if s]
    for s in only:
        if s not in SCENARIOS:
            raise BenchError(f"unknown scenario {s!r} (known: {', '.join(SCENARIOS)})")
    loops = [x for x in args.loop.split(",") if x]
    for x in loops:
        if x not in LOOPS:
            raise BenchError(f"unknown loop {x!r} (known: {', '.join(LOOPS)})")
    most = max(args.modems, args.cipsend_modems)
    if raise_fd_limit(2 * most + 512) < 2 * most + 64:
        raise BenchError("the open-file limit is too low")
    print(f"Fleet load: one `serve --transport tcp`, {args.clients} worker processes driving "
          f"the modems, {args.seconds:g} s measured per scenario; load average "
          f"{os.getloadavg()[0]:.1f} at start")
    print(f"  machine: {machine()}")
    echo = subprocess.Popen([sys.executable, "-c", ECHO_SERVER], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    runs: list[Run] = []
    try:
        assert echo.stdout is not None
        echo_port = int(echo.stdout.readline())
        for scenario in only:
            for loop in loops:
                # a fresh process per scenario: nothing left over from the last one
                extra = () if loop == "asyncio" else ("--loop", loop)
                with Emulator(*extra, transport="tcp") as emu:
                    runs.append(run_scenario(emu, scenario, loop, args, echo_port))
                    if not emu.alive():
                        raise BenchError("serve died")
    finally:
        with contextlib.suppress(OSError):
            if echo.stdin is not None:
                echo.stdin.close()
        echo.kill()
        echo.wait()
    rows = []
    figures = []
    for r in runs:
        what = {"active": f"{r.modems} modems, 1 {args.command} a second each",
                "rate": f"{r.modems} modems, {args.rate:g} {args.command} a second each",
                "max": f"{r.modems} modems, one {args.command} in flight each",
                "cipsend": f"{r.modems} modems, CIPSEND={SIZE} -> SEND OK -> +IPD echo"}[r.scenario]
        rows.append([r.scenario, r.loop, what, f"{r.per_second:,.0f}", f"{r.pct(50):.2f}",
                     f"{r.pct(99):.2f}", f"{r.lat_ms[-1] if r.lat_ms else 0:.1f}",
                     str(r.late), str(r.unanswered), f"{r.cpu_us:.0f}"])
        per_s = f"{r.per_second:,.0f}/s"
        on = "" if r.loop == "asyncio" else f" (--loop {r.loop})"
        p99 = f"{r.pct(99):.2f} ms"
        if r.scenario == "active":
            figures.append(Figure("fleet_load", f"{r.modems} active at 1/s: p99" + on,
                                  p99, TARGETS["active p99"], "issue 14"))
        elif r.scenario == "rate":
            figures.append(Figure("fleet_load", f"{r.modems} at {args.rate:g}/s: answered" + on,
                                  per_s, TARGETS["rate per second"], "issue 14"))
            figures.append(Figure("fleet_load", f"{r.modems} at {args.rate:g}/s: p99" + on,
                                  p99, TARGETS["rate p99"], "issue 14"))
        elif r.scenario == "max":
            figures.append(Figure("fleet_load", f"{r.modems}, closed loop: answered" + on, per_s))
        else:
            figures.append(Figure("fleet_load", f"{r.modems} CIPSEND round trips" + on,
                                  per_s, TARGETS["cipsend per second"], "issue 14"))
    print(table(rows, ["scenario", "loop", "what", "answered/s", "p50 ms", "p99 ms", "max ms",
                       "late", "unanswered", "serve CPU us/answer"]))
    print("  targets (issue 14): " + "; ".join(f"{k} {v}" for k, v in TARGETS.items()))
    return figures


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description="Commands a second, latency and CIPSEND round trips of one "
        "`serve --transport tcp` process driving many modems at once.")
    add_arguments(p)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--worker"]:
        worker(json.loads(argv[1]))
        return 0
    return script_main("fleet_load", build_parser, run, argv)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.exit(main())
