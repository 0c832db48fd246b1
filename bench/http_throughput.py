"""Bytes per second of the module's HTTP client: ``AT+HTTPACTION=0`` of a
300 KB body from a local HTTP server, then ``AT+HTTPREAD`` of all of it over
the pty (SHA-256 checked), beside a plain Python HTTP GET of the same body
from the same server (``http.client``: what the host itself does).

Each round: bearer and session are up (``AT+SAPBR=1,1``, ``AT+HTTPINIT``,
CID, URL); timed from writing ``AT+HTTPACTION=0`` to the last byte of the
``AT+HTTPREAD`` answer; the reference is timed from the request to the last
byte of the body. Rounds alternate the two; medians are printed.

    .venv/bin/python bench/http_throughput.py
    .venv/bin/python bench/http_throughput.py --size 307200 --rounds 5
"""

from __future__ import annotations

import argparse
import http.client
import re
import statistics
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from common import (
    BenchError,
    Emulator,
    Figure,
    Port,
    machine,
    payload,
    script_main,
    sha256,
    table,
)


def _server(body: bytes) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server


def _reference(port: int, size: int, digest: str) -> float:
    t0 = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/body", headers={"User-Agent": "bench"})
    got = conn.getresponse().read()
    elapsed = time.perf_counter() - t0
    conn.close()
    if len(got) != size or sha256(got) != digest:
        raise BenchError("the reference GET got the wrong body")
    return elapsed


_ACTION = re.compile(rb"\+HTTPACTION: 0,(\d+),(\d+)\r\n")


def _emulator_round(port: Port, size: int, digest: str, timeout: float) -> float:
    t0 = time.perf_counter()
    port.write_all(b"AT+HTTPACTION=0\r")
    port.read_until(b"\r\nOK\r\n", timeout)
    line = port.read_until(b"\r\n", timeout)
    while not (match := _ACTION.search(line)):
        line = port.read_until(b"\r\n", timeout)
    if (int(match.group(1)), int(match.group(2))) != (200, size):
        raise BenchError(f"unexpected {line!r}")
    port.write_all(b"AT+HTTPREAD\r")
    head = port.read_until(f"+HTTPREAD: {size}\r\n".encode(), timeout)
    if not head.endswith(f"+HTTPREAD: {size}\r\n".encode()):
        raise BenchError(f"unexpected {head!r}")
    body = port.read_exact(size, timeout)
    port.read_until(b"\r\nOK\r\n", timeout)
    elapsed = time.perf_counter() - t0
    if sha256(body) != digest:
        raise BenchError("HTTPREAD gave the wrong body")
    return elapsed


def _rate(bps: float) -> str:
    return f"{bps / 1e6:.2f} MB/s" if bps >= 1e6 else f"{bps / 1e3:.1f} kB/s"


def run(args: argparse.Namespace) -> list[Figure]:
    size = args.size
    if not 1 <= size <= 319_488:
        raise BenchError("--size must be 1..319488 (the module's HTTP buffer)")
    body = payload(size, 12)
    digest = sha256(body)
    server = _server(body)
    port_no = server.server_address[1]
    print(f"HTTP: GET of {size} bytes, {args.rounds} rounds; {machine()}")
    emu_times: list[float] = []
    ref_times: list[float] = []
    try:
        with Emulator() as emu, emu.open_port() as port:
            port.command(b"ATE0")
            port.command(b"AT+SAPBR=1,1", timeout=args.timeout)
            port.command(b"AT+HTTPINIT")
            port.command(f'AT+HTTPPARA="CID",1;+HTTPPARA="URL","127.0.0.1:{port_no}/body"'.encode())
            port.settle()
            for _ in range(args.rounds):
                emu_times.append(_emulator_round(port, size, digest, args.timeout))
                ref_times.append(_reference(port_no, size, digest))
            port.command(b"AT+HTTPTERM")
    finally:
        server.shutdown()
        server.server_close()
    emu_bps = size / statistics.median(emu_times)
    ref_bps = size / statistics.median(ref_times)
    print(table(
        [["HTTPACTION+HTTPREAD", _rate(emu_bps), _rate(ref_bps), f"{emu_bps / ref_bps:.3f}x"]],
        ["measure", "sim800emu", "plain GET", "ratio"],
    ))  # fmt: skip
    return [
        Figure("http_throughput", f"HTTPACTION+HTTPREAD, {size} B body", _rate(emu_bps),
               _rate(ref_bps), "plain Python GET", f"{emu_bps / ref_bps:.3f}x"),
    ]  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description="HTTP GET throughput of the module's HTTP client (AT+HTTPACTION=0, then "
        "AT+HTTPREAD over the pty) beside a plain Python GET of the same body."
    )
    p.add_argument("--size", type=int, default=300 * 1024, help="body bytes (default: %(default)s)")
    p.add_argument("--rounds", type=int, default=5, help="rounds, medians printed (default: %(default)s)")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds any step may take")
    return p


def main(argv: list[str] | None = None) -> int:
    return script_main("http_throughput", build_parser, run, argv)


if __name__ == "__main__":
    sys.exit(main())
