"""Shared pieces of the benchmarks: processes under test, raw ptys, local
TCP servers and resident-memory readings.

Nothing here is imported by the emulator or by the test suite; the scripts in
this directory put it on ``sys.path`` simply by living next to it.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import random
import resource
import select
import selectors
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from sim800emu.transports.pty import make_raw

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
KiB = 1024
MiB = 1024 * 1024
MB = 1_000_000


class BenchError(RuntimeError):
    """The benchmark could not run (a process died, a time-out, bad data)."""


# ------------------------------------------------------------ interpreters


def emulator_python() -> str:
    """The interpreter that runs ``python -m sim800emu``: ``$BENCH_PYTHON``,
    else the project's ``.venv``, else the one running this script."""
    env = os.environ.get("BENCH_PYTHON")
    if env:
        return env
    venv = REPO / ".venv" / "bin" / "python"
    if venv.exists():
        return str(venv)
    return sys.executable


def raise_fd_limit(want: int) -> int:
    """Raise this process's (and so its children's) open-file limit to
    ``want`` if the hard limit allows; return the soft limit in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < want:
        new = want if hard == resource.RLIM_INFINITY else min(want, hard)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# ------------------------------------------------------------ memory


def rss_kib(pid: int, field: str = "VmRSS") -> int:
    """VmRSS (or another ``Vm*`` field, e.g. VmHWM: the peak) of ``pid`` in
    KiB, from ``/proc/PID/status``."""
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise BenchError(f"no {field} for pid {pid}")


def fmt_kib(kib: float) -> str:
    return f"{kib / 1024:.1f} MiB" if kib >= 1024 else f"{kib:.0f} KiB"


# ------------------------------------------------------------ data


def payload(size: int, seed: int) -> bytes:
    """``size`` reproducible pseudo-random bytes (every byte value occurs,
    ``+``, CR, LF, 0x1A and ESC included)."""
    rng = random.Random(seed)
    block = 16 * MiB  # randbytes() refuses 256 MiB and more at once
    return b"".join(rng.randbytes(min(block, size - i)) for i in range(0, size, block))


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def percentile(sorted_values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_values:
        raise ValueError("no values")
    k = max(0, min(len(sorted_values) - 1, round(pct / 100 * len(sorted_values) + 0.5) - 1))
    return sorted_values[k]


def median(values: Iterable[float]) -> float:
    return statistics.median(values)


# ------------------------------------------------------------ ptys


class Port:
    """A serial port opened raw and non-blocking (a pty slave), or any other
    stream descriptor, with a read buffer and time-outs on every wait."""

    def __init__(self, fd: int, *, owns: bool = True, tty: bool = True) -> None:
        self.fd = fd
        self._owns = owns
        if tty:
            make_raw(fd)
        os.set_blocking(fd, False)
        self.buf = bytearray()
        self._poll = select.poll()
        self._poll.register(fd, select.POLLIN)

    @classmethod
    def open(cls, path: str | Path) -> Port:
        return cls(os.open(str(path), os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK))

    def close(self) -> None:
        if self._owns and self.fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self.fd)
        self.fd = -1

    def __enter__(self) -> Port:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -------------------------------------------------------- reading

    def fill(self, timeout: float) -> int:
        """Wait up to ``timeout`` s for bytes; append what came; return the count."""
        if not self._poll.poll(max(0.0, timeout) * 1000):
            return 0
        try:
            data = os.read(self.fd, 1 << 20)
        except BlockingIOError:
            return 0
        if not data:
            raise BenchError("the serial port reached EOF")
        self.buf += data
        return len(data)

    def read_until(self, token: bytes, timeout: float = 10.0) -> bytes:
        """Everything up to and including ``token`` (the rest stays buffered)."""
        deadline = time.monotonic() + timeout
        start = 0
        while True:
            i = self.buf.find(token, start)
            if i >= 0:
                end = i + len(token)
                out = bytes(self.buf[:end])
                del self.buf[:end]
                return out
            start = max(0, len(self.buf) - len(token) + 1)
            left = deadline - time.monotonic()
            if left <= 0:
                raise BenchError(f"timed out waiting for {token!r}; got {bytes(self.buf)[-200:]!r}")
            self.fill(left)

    def read_exact(self, n: int, timeout: float = 10.0) -> bytes:
        deadline = time.monotonic() + timeout
        while len(self.buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BenchError(f"timed out: {len(self.buf)} of {n} bytes")
            self.fill(left)
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def settle(self, quiet: float = 0.2, timeout: float = 5.0) -> bytes:
        """Read until the line has been quiet for ``quiet`` s; return and drop it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.fill(quiet):
            pass
        out = bytes(self.buf)
        self.buf.clear()
        return out

    # -------------------------------------------------------- writing

    def write_all(self, data: bytes | memoryview, timeout: float = 10.0) -> None:
        view = memoryview(data)
        deadline = time.monotonic() + timeout
        while view:
            try:
                n = os.write(self.fd, view)
            except BlockingIOError:
                n = 0
            view = view[n:]
            if view:
                if time.monotonic() > deadline:
                    raise BenchError("timed out writing to the serial port")
                select.select([], [self.fd], [], 0.05)

    def command(self, cmd: bytes, expect: bytes = b"OK\r\n", timeout: float = 10.0) -> bytes:
        """Send ``cmd`` (CR added) and return the answer up to ``expect``."""
        self.write_all(cmd + b"\r")
        return self.read_until(expect, timeout)


# ------------------------------------------------------------ processes


def _wait_for(
    cond: Callable[[], bool],
    proc: subprocess.Popen[bytes],
    what: str,
    log: Path,
    timeout: float = 15.0,
) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if proc.poll() is not None:
            raise BenchError(f"{what} exited with {proc.returncode}: {_tail(log)}")
        if time.monotonic() > deadline:
            raise BenchError(f"{what} did not get ready in {timeout} s: {_tail(log)}")
        time.sleep(0.02)


def _tail(path: Path, n: int = 2000) -> str:
    try:
        return path.read_text(errors="replace")[-n:]
    except OSError:
        return ""


class Process:
    """A child process with its stderr in a log file, stopped with SIGTERM."""

    name = "process"

    def __init__(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="sim800bench-"))
        self.log = self.tmp / "stderr.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def _spawn(self, argv: Sequence[str]) -> subprocess.Popen[bytes]:
        with open(self.log, "wb") as err:
            self.proc = subprocess.Popen(
                list(argv), stdin=subprocess.DEVNULL, stdout=err, stderr=err, cwd=self.tmp
            )
        return self.proc

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def rss_kib(self) -> int:
        return rss_kib(self.pid)

    def peak_rss_kib(self) -> int:
        return rss_kib(self.pid, "VmHWM")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self) -> Process:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class PtyProcess(Process):
    """A process that serves a pty and publishes it as a symlink."""

    def __init__(self) -> None:
        super().__init__()
        self.link = self.tmp / "tty"

    def open_port(self) -> Port:
        return Port.open(self.link)


class Emulator(PtyProcess):
    """``python -m sim800emu serve`` as the issues give it
    (``--link PATH --state-dir DIR --dns-offline``) plus ``extra`` options;
    ``count`` > 1 starts a fleet (``serve --count``) whose ports are
    ``links[n]``."""

    name = "sim800emu"

    def __init__(
        self, *extra: str, transport: str = "pty", python: str | None = None, count: int = 1
    ) -> None:
        super().__init__()
        self.transport = transport
        self.state = self.tmp / "state"
        self.links = [self.link]
        argv = [python or emulator_python(), "-m", "sim800emu", "serve"]
        if transport == "pty" and count > 1:
            self.links = [self.tmp / f"tty{n}" for n in range(count)]
            argv += ["--count", str(count), "--link", str(self.tmp / "tty{n}")]
        elif transport == "pty":
            argv += ["--link", str(self.link)]
        else:
            argv += ["--transport", transport]
        argv += ["--state-dir", str(self.state), "--dns-offline", *extra]
        self.argv = argv
        self.tcp_address: tuple[str, int] | None = None

    def start(self) -> Emulator:
        proc = self._spawn(self.argv)
        if self.transport == "pty":
            _wait_for(lambda: all(p.is_symlink() for p in self.links), proc,
                      "sim800emu serve", self.log)
        elif self.transport == "tcp":
            _wait_for(self._find_address, proc, "sim800emu serve", self.log)
        return self

    def _find_address(self) -> bool:
        # "sim800emu: serial port tcp://127.0.0.1:PORT (every connection is a new modem)"
        for line in _tail(self.log, 100_000).splitlines():
            if "serial port " in line:
                where = line.split("serial port ", 1)[1].split()[0].removeprefix("tcp://")
                host, _, port = where.rpartition(":")
                self.tcp_address = (host.strip("[]"), int(port))
                return True
        return False

    def __enter__(self) -> Emulator:
        return self.start()


class BareResponder(PtyProcess):
    """``bench/bare_responder.py``: answers OK to every CR-terminated line."""

    name = "bare responder"

    def start(self) -> BareResponder:
        proc = self._spawn(
            [sys.executable, str(BENCH / "bare_responder.py"), "--link", str(self.link)]
        )
        _wait_for(self.link.is_symlink, proc, "bare_responder.py", self.log)
        return self

    def __enter__(self) -> BareResponder:
        return self.start()


SOCAT_HINT = "socat is not installed: apt-get install -y socat"


def have_socat() -> bool:
    return shutil.which("socat") is not None


class Socat(PtyProcess):
    """``socat pty,raw,echo=0,link=PATH tcp:HOST:PORT``: the reference relay."""

    name = "socat"

    def __init__(self, host: str, port: int) -> None:
        super().__init__()
        exe = shutil.which("socat")
        if exe is None:
            raise BenchError(SOCAT_HINT)
        self.argv = [exe, f"pty,raw,echo=0,link={self.link}", f"tcp:{host}:{port}"]

    def start(self) -> Socat:
        proc = self._spawn(self.argv)
        _wait_for(self.link.is_symlink, proc, "socat", self.log)
        return self

    def __enter__(self) -> Socat:
        return self.start()


# ------------------------------------------------------------ TCP servers


@dataclass
class Peer:
    """What one accepted connection of a ``TcpServer`` did."""

    sock: socket.socket
    received: int = 0
    digest: hashlib._Hash = field(default_factory=hashlib.sha256)
    recv_first: float = 0.0
    recv_done: float = 0.0
    send_start: float = 0.0
    send_done: float = 0.0
    error: BaseException | None = None
    done: threading.Event = field(default_factory=threading.Event)

    def recv_exact(self, n: int, chunk: int = 1 << 20) -> None:
        """Receive ``n`` bytes into the hash (timestamps of the first and last)."""
        while self.received < n:
            data = self.sock.recv(min(chunk, n - self.received))
            if not data:
                raise BenchError(f"peer closed after {self.received} of {n} bytes")
            if not self.received:
                self.recv_first = time.perf_counter()
            self.received += len(data)
            self.digest.update(data)
        self.recv_done = time.perf_counter()

    def send_all(self, data: bytes, chunk: int = 256 * KiB) -> None:
        self.send_start = time.perf_counter()
        view = memoryview(data)
        for i in range(0, len(view), chunk):
            self.sock.sendall(view[i : i + chunk])
        self.send_done = time.perf_counter()

    def wait_close(self, timeout: float = 30.0) -> None:
        """Wait for the other side to close (or ``timeout``), discarding input."""
        self.sock.settimeout(timeout)
        with contextlib.suppress(OSError):
            while self.sock.recv(1 << 16):
                pass


Handler = Callable[[Peer], None]


class TcpServer:
    """A TCP server on 127.0.0.1 (a free port); every accepted connection
    runs ``handler(peer)`` on a thread of its own. ``peers`` lists them in
    the order they came."""

    def __init__(self, handler: Handler, host: str = "127.0.0.1") -> None:
        self.handler = handler
        self.sock = socket.create_server((host, 0), backlog=64)
        self.host, self.port = self.sock.getsockname()[:2]
        self.peers: list[Peer] = []
        self.accepted = threading.Condition()
        self._closed = False
        self._threads: list[threading.Thread] = []
        self._acceptor = threading.Thread(target=self._accept_loop, daemon=True)
        self._acceptor.start()

    def _accept_loop(self) -> None:
        while not self._closed:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            peer = Peer(conn)
            with self.accepted:
                self.peers.append(peer)
                self.accepted.notify_all()
            t = threading.Thread(target=self._run, args=(peer,), daemon=True)
            self._threads.append(t)
            t.start()

    def _run(self, peer: Peer) -> None:
        try:
            self.handler(peer)
        except BaseException as exc:  # reported by the benchmark, not lost in a thread
            peer.error = exc
        finally:
            peer.done.set()

    def wait_peers(self, n: int, timeout: float = 10.0) -> list[Peer]:
        with self.accepted:
            if not self.accepted.wait_for(lambda: len(self.peers) >= n, timeout):
                raise BenchError(f"{len(self.peers)} of {n} connections came")
            return list(self.peers[:n])

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(OSError):
            self.sock.close()
        for peer in self.peers:
            with contextlib.suppress(OSError):
                peer.sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                peer.sock.close()
        for t in self._threads:
            t.join(2.0)

    def __enter__(self) -> TcpServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def check_peer(peer: Peer, what: str) -> None:
    if peer.error is not None:
        raise BenchError(f"{what}: {peer.error!r}") from peer.error


class LoopbackPeers:
    """Long-lived peers for long runs (soak, pty fuzzing), all served by one
    selector thread on 127.0.0.1, keeping no per-connection history:

    * ``echo_port``: TCP, sends every byte back (stops reading while more
      than ``max_pending`` bytes wait to go back, so it never buffers without
      bound);
    * ``sink_port``: TCP, reads and discards;
    * ``udp_port``: UDP, sends every datagram back to its source;
    * ``closed_port``: a port nobody listens on (connect refused).

    ``counts`` holds running totals (connections accepted and open, bytes
    echoed, sunk, datagrams) for reports."""

    def __init__(self, host: str = "127.0.0.1", max_pending: int = 256 * KiB) -> None:
        self.host = host
        self.max_pending = max_pending
        self.sel = selectors.DefaultSelector()
        self.counts = {"accepted": 0, "open": 0, "echoed": 0, "sunk": 0, "datagrams": 0}
        self._lock = threading.Lock()
        self._listeners: list[socket.socket] = []
        self.echo_port = self._listen("echo")
        self.sink_port = self._listen("sink")
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind((host, 0))
        self.udp.setblocking(False)
        self.udp_port: int = self.udp.getsockname()[1]
        self.sel.register(self.udp, selectors.EVENT_READ, ("udp", None))
        with socket.socket() as probe:
            probe.bind((host, 0))
            self.closed_port: int = probe.getsockname()[1]
        self._wake_r, self._wake_w = socket.socketpair()
        self.sel.register(self._wake_r, selectors.EVENT_READ, ("wake", None))
        self._stop = False
        self._thread = threading.Thread(target=self._loop, name="peers", daemon=True)
        self._thread.start()

    def _listen(self, kind: str) -> int:
        sock = socket.create_server((self.host, 0), backlog=256)
        sock.setblocking(False)
        self.sel.register(sock, selectors.EVENT_READ, (kind + "-listen", None))
        self._listeners.append(sock)
        port: int = sock.getsockname()[1]
        return port

    def _count(self, key: str, n: int = 1) -> None:
        with self._lock:
            self.counts[key] += n

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self.counts)

    def _loop(self) -> None:
        while not self._stop:
            for key, events in self.sel.select(0.5):
                kind, pending = key.data
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                try:
                    self._serve(kind, sock, pending, events)
                except OSError:
                    if kind in ("echo", "sink"):
                        self._drop(sock)  # reset by the modem: its business

    def _serve(self, kind: str, sock: socket.socket, pending: bytearray | None, events: int) -> None:
        if kind == "wake":
            sock.recv(64)
        elif kind.endswith("-listen"):
            with contextlib.suppress(BlockingIOError):
                conn, _ = sock.accept()
                conn.setblocking(False)
                self.sel.register(conn, selectors.EVENT_READ, (kind[:-7], bytearray()))
                self._count("accepted")
                self._count("open")
        elif kind == "udp":
            with contextlib.suppress(BlockingIOError):
                data, addr = sock.recvfrom(65536)
                self._count("datagrams")
                sock.sendto(data, addr)
        else:
            assert pending is not None
            if events & selectors.EVENT_READ:
                try:
                    data = sock.recv(65536)
                except BlockingIOError:
                    return
                if not data:
                    self._drop(sock)
                    return
                if kind == "sink":
                    self._count("sunk", len(data))
                    return
                pending += data
            if pending:
                with contextlib.suppress(BlockingIOError):
                    sent = sock.send(pending)
                    del pending[:sent]
                    self._count("echoed", sent)
            mask = selectors.EVENT_WRITE if pending else 0
            if len(pending) < self.max_pending:
                mask |= selectors.EVENT_READ
            self.sel.modify(sock, mask, ("echo", pending))

    def _drop(self, sock: socket.socket) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self.sel.unregister(sock)
            self._count("open", -1)
        with contextlib.suppress(OSError):
            sock.close()

    def close(self) -> None:
        self._stop = True
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")
        self._thread.join(5.0)
        for key in list(self.sel.get_map().values()):
            with contextlib.suppress(OSError):
                key.fileobj.close()  # type: ignore[union-attr]
        self.sel.close()
        self._wake_w.close()

    def __enter__(self) -> LoopbackPeers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_fds(pid: int) -> int:
    """How many descriptors ``pid`` has open (``/proc/PID/fd``)."""
    return len(os.listdir(f"/proc/{pid}/fd"))


# ------------------------------------------------------------ output


def table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> str:
    """A plain-text table, columns padded to their widest cell."""
    cols = [list(header), *[list(r) for r in rows]]
    widths = [max(len(r[i]) for r in cols) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cols]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


@dataclass
class Figure:
    """One line of a benchmark's summary: sim800emu's figure beside its
    reference (``against`` names it; empty when there is none) and the ratio
    sim800emu / reference."""

    bench: str
    measure: str
    emulator: str
    reference: str = ""
    against: str = ""
    ratio: str = ""


def machine() -> str:
    """A one-line description of the machine and interpreter."""
    cpu = ""
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return (
        f"{os.cpu_count()} CPUs ({cpu or 'unknown'}), Linux {os.uname().release}, "
        f"Python {sys.version.split()[0]}"
    )


def script_main(
    name: str,
    build_parser: Callable[[], argparse.ArgumentParser],
    run: Callable[[argparse.Namespace], object],
    argv: list[str] | None,
) -> int:
    """The ``main`` of every benchmark script: parse, run, report a BenchError."""
    args = build_parser().parse_args(argv)
    try:
        run(args)
    except BenchError as exc:
        print(f"{name}: error: {exc}", file=sys.stderr)
        return 1
    return 0
