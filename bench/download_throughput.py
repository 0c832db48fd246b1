"""Download throughput per receive path (MB/s of payload), this tree's
emulator beside a baseline installation, in one run.

Paths: ``ciprxget`` (single link, ``AT+CIPRXGET=4`` then ``=2,1460`` reads,
as TinyGSM/FONA do), ``ciprxget-multi`` (the same on link 2 of
``CIPMUX=1``), ``ipd`` (push, ``CIPHEAD=1``), ``receive-multi`` (push,
``+RECEIVE,<n>,<len>:``), ``transparent`` (``CIPMODE=1``), ``server``
(a client of ``AT+CIPSERVER``, manual reads) and ``tls`` (``CIPSSL=1``,
manual reads; needs the ``openssl`` CLI). Every byte is SHA-256 checked.

The manual-read client keeps counts in full ``int``s here (not 16 bits), so
a baseline whose counts pass 65,535 still finishes.

The reference is a *baseline* interpreter with another sim800emu installed
(``--baseline PYTHON`` or ``$BENCH_BASELINE``, e.g. a venv of an older
commit: ``git worktree add /tmp/base <commit> && python3 -m venv
/tmp/base/.venv && /tmp/base/.venv/bin/pip install -e /tmp/base``);
without it only this tree's figures print. The two alternate round by round; medians.

    .venv/bin/python bench/download_throughput.py
    .venv/bin/python bench/download_throughput.py --baseline /tmp/base/.venv/bin/python
    .venv/bin/python bench/download_throughput.py --only ciprxget,transparent --size 4
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from common import (
    BenchError,
    Emulator,
    Figure,
    MiB,
    Peer,
    Port,
    TcpServer,
    payload,
    script_main,
    sha256,
)

HOST = "127.0.0.1"
CHUNK = 1460
RXGET4 = re.compile(rb"\+CIPRXGET: 4,(?:\d,)?(\d+)\r\n\r\nOK\r\n")
RXGET2 = re.compile(rb"\+CIPRXGET: 2,(?:\d,)?(\d+),(\d+)\r\n")
IPD = re.compile(rb"\r\n\+IPD,(\d+):")
RECEIVE = re.compile(rb"\r\n\+RECEIVE,\d,(\d+):\r\n")


def _expect(port: Port, pattern: re.Pattern[bytes], timeout: float) -> re.Match[bytes]:
    deadline = time.monotonic() + timeout
    while True:
        m = pattern.search(port.buf)
        if m is not None:
            return m
        if time.monotonic() > deadline:
            raise BenchError(f"timed out waiting for {pattern.pattern!r}: {bytes(port.buf[-200:])!r}")
        port.fill(deadline - time.monotonic())


def _consume(port: Port, m: re.Match[bytes]) -> None:
    del port.buf[: m.end()]


def _manual_read(port: Port, size: int, link: int | None, timeout: float) -> str:
    sel = b"" if link is None else b",%d" % link
    sha = hashlib.sha256()
    total = 0
    while total < size:
        port.write_all(b"AT+CIPRXGET=4" + sel + b"\r")
        m = _expect(port, RXGET4, timeout)
        count = int(m.group(1))
        _consume(port, m)
        if count == 0:
            port.read_until(b"+CIPRXGET: 1", timeout)
            continue
        while count > 0:
            want = min(count, CHUNK)
            port.write_all(b"AT+CIPRXGET=2" + sel + b",%d\r" % want)
            h = _expect(port, RXGET2, timeout)
            n = int(h.group(1))
            _consume(port, h)
            sha.update(port.read_exact(n, timeout))
            port.read_until(b"OK\r\n", timeout)
            total += n
            count -= n
    return sha.hexdigest()


def _push_read(port: Port, size: int, header: re.Pattern[bytes], timeout: float) -> str:
    sha = hashlib.sha256()
    total = 0
    while total < size:
        m = _expect(port, header, timeout)
        n = int(m.group(1))
        _consume(port, m)
        sha.update(port.read_exact(n, timeout))
        total += n
    return sha.hexdigest()


def _stream_read(port: Port, size: int, timeout: float) -> str:
    sha = hashlib.sha256()
    total = 0
    deadline = time.monotonic() + timeout
    while total < size:
        if port.buf:
            take = bytes(port.buf[: size - total])
            del port.buf[: len(take)]
            sha.update(take)
            total += len(take)
            continue
        if time.monotonic() > deadline:
            raise BenchError(f"transparent: {total} of {size} bytes")
        port.fill(deadline - time.monotonic())
    return sha.hexdigest()


class _TlsServer:
    def __init__(self, data: bytes, cert: Path, key: Path) -> None:
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(cert, key)
        self.data = data
        self.sock = socket.create_server((HOST, 0))
        self.port: int = self.sock.getsockname()[1]
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        try:
            raw, _ = self.sock.accept()
            with self.context.wrap_socket(raw, server_side=True) as conn:
                conn.sendall(self.data)
                conn.recv(1)
        except (OSError, ssl.SSLError):
            pass

    def close(self) -> None:
        self.sock.close()


def _certificate() -> tuple[Path, Path] | None:
    if shutil.which("openssl") is None:
        return None
    d = Path(tempfile.mkdtemp(prefix="sim800bench-tls-"))
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=bench"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def one_run(
    path: str, python: str | None, size: int, timeout: float, extra: tuple[str, ...] = ()
) -> float:
    """One download of ``size`` bytes by ``path``; payload bytes per second."""
    data = payload(size, 77)
    want = sha256(data)

    def serve(peer: Peer) -> None:
        peer.send_all(data)
        peer.wait_close(timeout)

    with Emulator(*extra, python=python) as emu, emu.open_port() as port:
        port.command(b"ATE0")
        setup: dict[str, list[bytes]] = {
            "ciprxget": [b"AT+CIPRXGET=1"],
            "ciprxget-multi": [b"AT+CIPMUX=1", b"AT+CIPRXGET=1"],
            "ipd": [b"AT+CIPHEAD=1"],
            "receive-multi": [b"AT+CIPMUX=1"],
            "transparent": [b"AT+CIPMODE=1"],
            "server": [b"AT+CIPMUX=1", b"AT+CIPRXGET=1", b'AT+CSTT="CMNET"', b"AT+CIICR"],
            "tls": [b"AT+CIPRXGET=1", b"AT+CIPSSL=1"],
        }
        for cmd in setup[path]:
            port.command(cmd, timeout=timeout)
        if path == "server":
            port.write_all(b"AT+CIFSR\r")
            port.read_until(b"\r\n", timeout)
            port.settle()
            listen = _free_port()
            port.command(b"AT+CIPSERVER=1,%d" % listen, timeout=timeout)
            port.read_until(b"SERVER OK\r\n", timeout)
            client = socket.create_connection((HOST, listen))
            t0 = time.perf_counter()
            threading.Thread(target=client.sendall, args=(data,), daemon=True).start()
            port.read_until(b"REMOTE IP", timeout)
            got = _manual_read(port, size, 0, timeout)
            elapsed = time.perf_counter() - t0
            client.close()
        else:
            cert = _certificate() if path == "tls" else None
            if path == "tls" and cert is None:
                raise BenchError("tls: no openssl CLI")
            tls = _TlsServer(data, *cert) if cert is not None else None
            tcp = TcpServer(serve) if tls is None else None
            target = tls.port if tls is not None else tcp.port  # type: ignore[union-attr]
            try:
                multi = path in ("ciprxget-multi", "receive-multi")
                start = (b'AT+CIPSTART=2,"TCP","%s",%d\r' if multi else b'AT+CIPSTART="TCP","%s",%d\r')
                t0 = time.perf_counter()
                port.write_all(start % (HOST.encode(), target))
                port.read_until(b"CONNECT", timeout)
                if path in ("ciprxget", "tls"):
                    got = _manual_read(port, size, None, timeout)
                elif path == "ciprxget-multi":
                    got = _manual_read(port, size, 2, timeout)
                elif path == "transparent":
                    port.read_until(b"\r\n", timeout)
                    got = _stream_read(port, size, timeout)
                else:
                    got = _push_read(port, size, IPD if path == "ipd" else RECEIVE, timeout)
                elapsed = time.perf_counter() - t0
            finally:
                if tls is not None:
                    tls.close()
                if tcp is not None:
                    tcp.close()
        if got != want:
            raise BenchError(f"{path}: SHA-256 mismatch")
        return size / elapsed


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


PATHS = ("ciprxget", "ciprxget-multi", "ipd", "receive-multi", "transparent", "server", "tls")


def _rate(bps: float) -> str:
    return f"{bps / 1e6:.2f} MB/s"


def run(args: argparse.Namespace) -> list[Figure]:
    only = args.only.split(",") if args.only else list(PATHS)
    unknown = set(only) - set(PATHS)
    if unknown:
        raise BenchError(f"unknown paths {sorted(unknown)}; known: {', '.join(PATHS)}")
    size = int(args.size * MiB)
    figures = []
    for path in only:
        mine: list[float] = []
        base: list[float] = []
        for i in range(args.rounds):
            sides: list[tuple[list[float], str | None]] = [(mine, None)]
            if args.baseline:
                sides.append((base, args.baseline))
            if i % 2:
                sides.reverse()
            for results, python in sides:
                # --rx-buffer only for this tree (the baseline may not know it)
                extra = ("--rx-buffer", str(args.rx_buffer)) if args.rx_buffer and not python else ()
                results.append(one_run(path, python, size, args.timeout, extra))
            line = f"  {path} round {i + 1}: {_rate(mine[-1])}"
            if base:
                line += f" (baseline {_rate(base[-1])})"
            print(line, flush=True)
        med: Callable[[list[float]], float] = statistics.median
        what = f"{path}, {args.size:g} MiB" + (f", rx-buffer {args.rx_buffer}" if args.rx_buffer else "")
        if base:
            figures.append(Figure("download_throughput", what,
                                  _rate(med(mine)), _rate(med(base)), "baseline",
                                  f"{med(mine) / med(base):.2f}x"))  # fmt: skip
        else:
            figures.append(Figure("download_throughput", what, _rate(med(mine))))  # fmt: skip
    return figures


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description="Download throughput per receive path (CIPRXGET manual reads, +IPD and "
        "+RECEIVE pushes, transparent, a server link, TLS), beside a baseline installation."
    )
    p.add_argument("--size", type=float, default=8, help="MiB per download (default: %(default)s)")
    p.add_argument("--rounds", type=int, default=3, help="downloads per path and side (default: %(default)s)")
    p.add_argument("--only", help=f"comma-separated paths (default: all: {','.join(PATHS)})")
    p.add_argument("--baseline", metavar="PYTHON", default=os.environ.get("BENCH_BASELINE"),
                   help="an interpreter with another sim800emu installed, measured alongside "
                   "(default: $BENCH_BASELINE; none: this tree's figures only)")
    p.add_argument("--rx-buffer", type=int, metavar="BYTES",
                   help="serve --rx-buffer for this tree's emulator (default: its own, 2920)")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds any step may take")
    return p


def main(argv: list[str] | None = None) -> int:
    return script_main("download_throughput", build_parser, run, argv)


if __name__ == "__main__":
    sys.exit(main())
