"""Soak: N modems with mixed traffic and faults for a given time, watching
the emulator's memory, descriptors and errors over time.

One ``sim800emu serve --count N --control SOCK`` process (or, with
``--transport tcp``, one TCP serial server with N connections that are
re-opened now and then, each a new modem) and one client thread per modem
running scenarios in random order, each checked byte for byte:

* ``echo``: single link (CIPHEAD=1), CIPSTART to a local echo server by
  name (``--host``), a few ``CIPSEND=<n>`` of random bytes, every byte back in
  ``+IPD`` blocks, CIPCLOSE;
* ``multi``: CIPMUX=1, links to the echo server, a sink and a UDP echo
  server, a send on each, the echoes in ``+RECEIVE`` blocks, CIPCLOSE each;
* ``transparent``: CIPMODE=1, up to 64 KiB through the echo server and
  back, the ``+++`` escape, CIPCLOSE;
* ``rxget``: CIPRXGET=1, the echo read back with ``AT+CIPRXGET=2,1460``;
* ``dns``: CSTT/CIICR/CIFSR, CDNSGIP of a known and of an unknown name
  (``--dns-offline``: no query leaves the host);
* ``churn``: six links opened and closed at once, three times;
* ``fault``: one fault through the control socket and the reaction the host
  must see: ``pdp-deact`` (+PDP: DEACT), ``drop`` (<n>, CLOSED),
  ``power-off`` (silence) then ``power-on`` (boot URCs, AT answers),
  ``register`` (+CREG URCs). Not with ``--transport tcp`` (its modems have
  no stable index on the control socket).

Every ``--interval`` seconds a row: elapsed time, the emulator's RSS and
peak RSS, open descriptors, threads, scenarios done (total and in the
interval), errors, stderr lines, the peers' open connections and bytes
echoed. At the end: scenarios per kind, the first errors, and whether RSS
and descriptors grew (after the first interval, the warm-up).

    python bench/soak.py --seconds 600 --modems 8 --report bench/soak-report.txt
"""

from __future__ import annotations

import argparse
import contextlib
import random
import re
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from common import (
    BenchError,
    Emulator,
    LoopbackPeers,
    Port,
    machine,
    open_fds,
    rss_kib,
    table,
)
from sim800emu import control

OK = b"\r\nOK\r\n"
RECEIVE = re.compile(rb"\r\n\+RECEIVE,(\d),(\d+):\r\n")
IPD = re.compile(rb"\r\n\+IPD,(\d+):")
RXGET = re.compile(rb"\r\n\+CIPRXGET: 2,(\d+),(\d+)\r\n")
KINDS = ("echo", "multi", "transparent", "rxget", "dns", "churn", "fault")


class Mismatch(BenchError):
    """The modem answered something other than what the host must see."""


@dataclass
class Stats:
    done: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    messages: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def ok(self, kind: str) -> None:
        with self.lock:
            self.done[kind] += 1

    def error(self, kind: str, text: str) -> None:
        with self.lock:
            self.errors[kind] += 1
            if len(self.messages) < 20:
                self.messages.append(f"{time.strftime('%H:%M:%S')} {kind}: {text[:400]}")


class Client:
    """One modem's host: runs scenarios until told to stop."""

    def __init__(self, soak: Soak, index: int, rng: random.Random) -> None:
        self.soak = soak
        self.n = index
        self.rng = rng
        self.port: Port | None = None
        # bytes read past while waiting for a token: pushed data may be among them
        self.seen = bytearray()

    # ------------------------------------------------------------ serial

    @property
    def p(self) -> Port:
        assert self.port is not None
        return self.port

    def open(self) -> None:
        if self.port is not None:
            self.port.close()
        self.port = self.soak.open_port(self.n)
        self.init()

    def init(self) -> None:
        self.p.write_all(b"\x1b\r")
        self.p.settle(0.1)
        self.cmd(b"ATE0V1Q0")
        self.cmd(b"AT+CMEE=0")

    def until(self, token: bytes, timeout: float = 10.0) -> bytes:
        """Read up to ``token``, keeping what came before it in ``seen``."""
        out = self.p.read_until(token, timeout)
        self.seen += out
        return out

    def until_all(self, tokens: list[bytes], timeout: float = 10.0) -> None:
        """Wait until every token has come (in any order, URCs between)."""
        deadline = time.monotonic() + timeout
        while not all(t in self.seen + self.p.buf for t in tokens):
            if time.monotonic() > deadline:
                raise Mismatch(f"waiting for {tokens}: got {bytes(self.seen + self.p.buf)!r}")
            self.p.fill(0.2)
        self.seen += self.p.buf
        self.p.buf.clear()

    def cmd(self, line: bytes, expect: bytes = OK, timeout: float = 10.0) -> bytes:
        self.p.write_all(line + b"\r")
        try:
            return self.until(expect, timeout)
        except BenchError as exc:
            raise Mismatch(f"{line!r}: no {expect!r}: {exc}") from None

    def send(self, link: int | None, data: bytes) -> None:
        head = f"AT+CIPSEND={len(data)}" if link is None else f"AT+CIPSEND={link},{len(data)}"
        self.cmd(head.encode(), b"\r\n> ")
        self.p.write_all(data)
        done = b"SEND OK\r\n" if link is None else f"{link}, SEND OK\r\n".encode()
        self.until(done)

    def read_pushed(self, pattern: re.Pattern[bytes], want: dict[int, int]) -> dict[int, bytes]:
        """Collect pushed blocks until ``want[link]`` bytes came for each link."""
        got: dict[int, bytearray] = {k: bytearray() for k in want}
        self.p.buf[:0] = self.seen  # blocks that came while we waited for other things
        self.seen.clear()
        deadline = time.monotonic() + 10.0
        while any(len(got[k]) < want[k] for k in want):
            m = pattern.search(self.p.buf)
            if m is None:
                if time.monotonic() > deadline:
                    raise Mismatch(f"pushed data missing: {want} wanted, "
                                   f"{ {k: len(v) for k, v in got.items()} } came; "
                                   f"buffer {bytes(self.p.buf)[-200:]!r}")
                self.p.fill(0.2)
                continue
            if pattern is IPD:
                link, size = next(iter(want)), int(m.group(1))
            else:
                link, size = int(m.group(1)), int(m.group(2))
            while len(self.p.buf) < m.end() + size:
                if time.monotonic() > deadline:
                    raise Mismatch("a pushed block was cut short")
                self.p.fill(0.2)
            got.setdefault(link, bytearray()).extend(self.p.buf[m.end() : m.end() + size])
            del self.p.buf[: m.end() + size]
        return {k: bytes(v) for k, v in got.items()}

    def payload(self, most: int = 1460) -> bytes:
        return self.rng.randbytes(self.rng.randint(1, most))

    # ------------------------------------------------------------ scenarios

    def reset(self, mux: int) -> None:
        """Every link closed, the context down, receive settings back to default."""
        self.cmd(b"AT+CIPSHUT", b"SHUT OK\r\n")
        self.seen.clear()
        self.cmd(b"AT+CIPRXGET=0")
        self.cmd(b"AT+CIPHEAD=0")
        self.cmd(b"AT+CIPMODE=0")
        self.cmd(f"AT+CIPMUX={mux}".encode())

    def echo(self) -> None:
        peers = self.soak.peers
        self.reset(0)
        self.cmd(b"AT+CIPHEAD=1")
        self.cmd(f'AT+CIPSTART="TCP","echo.test",{peers.echo_port}'.encode())
        self.until(b"CONNECT OK\r\n", 10.0)
        for _ in range(self.rng.randint(1, 4)):
            data = self.payload()
            self.send(None, data)
            back = self.read_pushed(IPD, {0: len(data)})[0]
            if back != data:
                raise Mismatch(f"echo: {len(data)} bytes sent, different bytes back")
        self.cmd(b"AT+CIPCLOSE", b"CLOSE OK\r\n")
        self.cmd(b"AT+CIPHEAD=0")

    def multi(self) -> None:
        peers = self.soak.peers
        self.reset(1)
        targets = [("TCP", peers.echo_port), ("TCP", peers.sink_port), ("UDP", peers.udp_port)]
        for link, (proto, port) in enumerate(targets):
            self.cmd(f'AT+CIPSTART={link},"{proto}","127.0.0.1",{port}'.encode())
            self.until(f"{link}, CONNECT OK\r\n".encode(), 10.0)
        sent = {0: self.payload(), 1: self.payload(), 2: self.payload(512)}
        for link, data in sent.items():
            self.send(link, data)
        back = self.read_pushed(RECEIVE, {0: len(sent[0]), 2: len(sent[2])})
        if back[0] != sent[0] or back[2] != sent[2]:
            raise Mismatch("multi: the echo differs")
        for link in range(3):
            self.cmd(f"AT+CIPCLOSE={link}".encode(), f"{link}, CLOSE OK\r\n".encode())

    def transparent(self) -> None:
        peers = self.soak.peers
        self.reset(0)
        self.cmd(b"AT+CIPMODE=1")
        self.cmd(f'AT+CIPSTART="TCP","127.0.0.1",{peers.echo_port}'.encode())
        self.until(b"CONNECT\r\n", 10.0)
        self.seen.clear()
        data = self.rng.randbytes(self.rng.randint(1, 64 * 1024))
        back = bytearray(self.p.buf)
        self.p.buf.clear()
        deadline = time.monotonic() + 20.0
        for i in range(0, len(data), 4096):
            self.p.write_all(data[i : i + 4096])
            self.p.fill(0.0)
            back += self.p.buf
            self.p.buf.clear()
        while len(back) < len(data):
            if time.monotonic() > deadline:
                raise Mismatch(f"transparent: {len(back)} of {len(data)} bytes came back")
            self.p.fill(0.2)
            back += self.p.buf
            self.p.buf.clear()
        if bytes(back) != data:
            raise Mismatch("transparent: the echo differs")
        time.sleep(1.1)  # the escape's guard times
        self.p.write_all(b"+++")
        self.until(OK, 5.0)
        self.cmd(b"AT+CIPCLOSE", b"CLOSE OK\r\n")
        self.reset(0)

    def rxget(self) -> None:
        peers = self.soak.peers
        self.reset(0)
        self.cmd(b"AT+CIPRXGET=1")
        self.cmd(f'AT+CIPSTART="TCP","127.0.0.1",{peers.echo_port}'.encode())
        self.until(b"CONNECT OK\r\n", 10.0)
        data = self.payload()
        self.send(None, data)
        self.until(b"+CIPRXGET: 1\r\n", 10.0)
        back = bytearray()
        deadline = time.monotonic() + 10.0
        while len(back) < len(data):
            self.p.write_all(b"AT+CIPRXGET=2,1460\r")
            head = self.until(b"\r\n+CIPRXGET: 2,", 10.0)
            rest = self.until(b"\r\n", 10.0)
            m = RXGET.search(head[-len(b"\r\n+CIPRXGET: 2,"):] + rest)
            if m is None:
                raise Mismatch(f"rxget: bad header {rest!r}")
            back += self.p.read_exact(int(m.group(1)), 10.0)
            self.until(OK, 10.0)
            if not int(m.group(1)) and time.monotonic() > deadline:
                raise Mismatch(f"rxget: {len(back)} of {len(data)} bytes came")
            if not int(m.group(1)):
                time.sleep(0.05)  # the echo is on its way
        if bytes(back) != data:
            raise Mismatch("rxget: the echo differs")
        self.cmd(b"AT+CIPCLOSE", b"CLOSE OK\r\n")
        self.reset(0)
        self.cmd(b"AT+CIPRXGET=0")

    def dns(self) -> None:
        self.reset(0)
        self.cmd(b'AT+CSTT="CMNET"')
        self.cmd(b"AT+CIICR", timeout=10.0)
        self.cmd(b"AT+CIFSR", b"\r\n", 10.0)
        self.until(b"\r\n", 5.0)
        self.cmd(b'AT+CDNSGIP="echo.test"')
        self.until(b'+CDNSGIP: 1,"echo.test","127.0.0.1"\r\n', 10.0)
        self.cmd(b'AT+CDNSGIP="nowhere.test"')
        self.until(b"+CDNSGIP: 0,", 10.0)

    def churn(self) -> None:
        peers = self.soak.peers
        self.reset(1)
        for _ in range(3):
            for link in range(6):
                self.cmd(f'AT+CIPSTART={link},"TCP","127.0.0.1",{peers.sink_port}'.encode())
            self.until_all([f"{link}, CONNECT OK\r\n".encode() for link in range(6)])
            self.seen.clear()
            for link in range(6):
                self.cmd(f"AT+CIPCLOSE={link},1".encode(), f"{link}, CLOSE OK\r\n".encode())

    def fault(self) -> None:
        soak, n = self.soak, self.n
        kind = self.rng.choice(("pdp-deact", "drop", "power", "register"))
        with soak.stats.lock:
            soak.stats.faults[kind] += 1
        if kind == "pdp-deact":
            self.reset(0)
            self.cmd(f'AT+CIPSTART="TCP","127.0.0.1",{soak.peers.echo_port}'.encode())
            self.until(b"CONNECT OK\r\n", 10.0)
            soak.ctl(f"@{n} pdp-deact")
            self.until(b"+PDP: DEACT\r\n", 10.0)
            self.cmd(b"AT+CIPSTATUS", b"STATE: PDP DEACT\r\n")
        elif kind == "drop":
            self.reset(1)
            for link in (0, 1):
                self.cmd(f'AT+CIPSTART={link},"TCP","127.0.0.1",{soak.peers.echo_port}'.encode())
                self.until(f"{link}, CONNECT OK\r\n".encode(), 10.0)
            soak.ctl(f"@{n} drop 1")
            self.until(b"1, CLOSED\r\n", 10.0)
            self.send(0, b"still here")
            if self.read_pushed(RECEIVE, {0: 10})[0] != b"still here":
                raise Mismatch("drop: link 0 lost its data")
            self.cmd(b"AT+CIPCLOSE=0", b"0, CLOSE OK\r\n")
        elif kind == "power":
            soak.ctl(f"@{n} power-off")
            self.p.settle(0.1)
            self.p.write_all(b"AT\r")
            quiet = self.p.settle(0.3)
            if OK in quiet:
                raise Mismatch(f"power-off: the modem still answers {quiet!r}")
            soak.ctl(f"@{n} power-on")
            self.until(b"SMS Ready\r\n", 15.0)
            self.init()  # the boot brought back the saved profile (echo on)
        else:
            self.cmd(b"AT+CREG=1")
            soak.ctl(f"@{n} register 2")
            self.until(b"+CREG: 2\r\n", 10.0)
            soak.ctl(f"@{n} register 1")
            self.until(b"+CREG: 1\r\n", 10.0)
            self.cmd(b"AT+CREG=0")

    # ------------------------------------------------------------ loop

    def run(self) -> None:
        soak = self.soak
        kinds = [k for k in KINDS if k != "fault" or soak.faults]
        weights = [3 if k in ("echo", "multi") else 1 for k in kinds]
        while not soak.stop.is_set():
            kind = "open"
            try:
                if self.port is None:
                    self.open()
                elif soak.args.transport == "tcp" and self.rng.random() < 0.05:
                    self.open()  # a new connection: a new modem, the old one goes
                kind = self.rng.choices(kinds, weights)[0]
                getattr(self, kind)()
                soak.stats.ok(kind)
            except (BenchError, OSError) as exc:
                if soak.stop.is_set():
                    break
                soak.stats.error(kind, f"modem {self.n}: {exc}")
                self.recover()
            soak.stop.wait(soak.args.pace)
        if self.port is not None:
            with contextlib.suppress(BenchError, OSError):
                self.reset(0)  # at rest: no link open, for the descriptor count
            self.port.close()

    def recover(self) -> None:
        with contextlib.suppress(BenchError, OSError):
            if self.soak.faults:
                self.soak.ctl(f"@{self.n} power-on")
            self.open()


def revision() -> str:
    """The git commit of the tree the emulator runs from, when there is one."""
    try:
        out = subprocess.run(["git", "-C", str(Path(__file__).parent), "describe", "--always",
                              "--dirty"], capture_output=True, text=True, timeout=10)
    except OSError:
        return "no git"
    return f"tree {out.stdout.strip()}" if out.returncode == 0 else "no git"


class Soak:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.stats = Stats()
        self.stop = threading.Event()
        self.peers = LoopbackPeers()
        self.faults = not args.no_faults and args.transport == "pty"
        extra = ["--host", "echo.test=127.0.0.1", "--activation-delay", "0.01"]
        if args.loop != "asyncio":
            extra += ["--loop", args.loop]
        self.emu = Emulator(*extra, transport=args.transport, count=args.modems)
        self.ctl_path = self.emu.tmp / "ctl"
        self.emu.argv += ["--control", str(self.ctl_path)]
        self.rows: list[list[str]] = []
        self.samples: list[tuple[float, int, int]] = []  # (t, rss KiB, fds)
        self.rest_fds = (-1, -1)  # descriptors at rest: before the traffic, after it

    def open_port(self, n: int) -> Port:
        if self.args.transport == "pty":
            return Port.open(self.emu.links[n])
        assert self.emu.tcp_address is not None
        sock = socket.create_connection(self.emu.tcp_address, timeout=5.0)
        return Port(sock.detach(), tty=False)

    def ctl(self, command: str) -> None:
        answer = control.send(self.ctl_path, command)
        if not answer.startswith("ok"):
            raise Mismatch(f"ctl {command}: {answer}")

    def stderr_lines(self) -> int:
        try:
            text = self.emu.log.read_text(errors="replace")
        except OSError:
            return 0
        # the start announcement is not a complaint
        return sum(1 for line in text.splitlines() if "serial port" not in line
                   and not line.startswith("sim800emu: modem "))

    def sample(self, start: float, last_done: int) -> int:
        pid = self.emu.pid
        t = time.monotonic() - start
        rss, fds = rss_kib(pid), open_fds(pid)
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            threads = next(int(x.split()[1]) for x in f if x.startswith("Threads:"))
        peak = rss_kib(pid, "VmHWM")
        with self.stats.lock:
            done = sum(self.stats.done.values())
            errors = sum(self.stats.errors.values())
        peers = self.peers.snapshot()
        self.samples.append((t, rss, fds))
        row = [f"{t:6.0f}", f"{rss / 1024:.1f}", f"{peak / 1024:.1f}", str(fds), str(threads),
               str(done), str(done - last_done), str(errors), str(self.stderr_lines()),
               str(peers["open"]), f"{peers['echoed'] / 1e6:.1f}"]
        self.rows.append(row)
        print("  ".join(row), flush=True)
        return done

    HEADER = ("t (s)", "RSS MiB", "peak MiB", "fds", "threads", "scenarios", "in interval",
              "errors", "stderr lines", "peer conns", "echoed MB")

    def run(self) -> str:
        args = self.args
        self.emu.start()
        clients = [Client(self, n, random.Random(f"{args.seed}-{n}")) for n in range(args.modems)]
        threads = [threading.Thread(target=c.run, name=f"modem{c.n}", daemon=True)
                   for c in clients]
        start = time.monotonic()
        print("  ".join(self.HEADER), flush=True)
        done = self.sample(start, 0)
        self.rest_fds = (open_fds(self.emu.pid), -1)
        for t in threads:
            t.start()
        try:
            end = start + args.seconds
            while (now := time.monotonic()) < end:
                if not self.emu.alive():
                    raise BenchError(f"the emulator exited: {self.emu.log.read_text()[-2000:]}")
                time.sleep(min(args.interval, end - now))
                done = self.sample(start, done)
        finally:
            self.stop.set()
            for t in threads:
                t.join(30.0)
            alive = self.emu.alive()
            if alive:
                time.sleep(0.5)  # the closes reach the kernel
                self.rest_fds = (self.rest_fds[0], open_fds(self.emu.pid))
            stderr = self.emu.log.read_text(errors="replace")
            self.emu.stop()
            self.peers.close()
        return self.summary(time.monotonic() - start, alive, stderr)

    def summary(self, seconds: float, alive: bool, stderr: str) -> str:
        args, st = self.args, self.stats
        lines = [
            f"soak: {args.modems} modems ({args.transport}), {seconds:.0f} s, "
            f"faults {'on' if self.faults else 'off'}, seed {args.seed}; {machine()}; "
            f"{revision()}",
            "",
            table(self.rows, self.HEADER),
            "",
            "scenarios: " + ", ".join(f"{k} {st.done[k]}" for k in KINDS if st.done[k] or
                                      k != "fault"),
            "faults injected: " + (", ".join(f"{k} {v}" for k, v in sorted(st.faults.items()))
                                   or "none"),
            "errors: " + (", ".join(f"{k} {v}" for k, v in sorted(st.errors.items())) or "none"),
        ]
        lines += ["  " + m for m in st.messages]
        lines.append(f"emulator alive at the end: {'yes' if alive else 'NO'}")
        complaints = [x for x in stderr.splitlines() if "serial port" not in x
                      and not x.startswith("sim800emu: modem ")]
        lines.append(f"emulator stderr lines: {len(complaints)}")
        lines += ["  " + x for x in complaints[:10]]
        lines.append(self.growth())
        return "\n".join(lines)

    def growth(self) -> str:
        """RSS after the warm-up (the first interval): the largest reading of
        the first third against that of the last third; descriptors at rest
        (every link closed) before and after the traffic."""
        s = [x for x in self.samples if x[0] >= self.args.interval]
        if len(s) < 3:
            return "growth: too few samples to judge"
        third = max(1, len(s) // 3)
        rss_a = max(x[1] for x in s[:third]) / 1024
        rss_b = max(x[1] for x in s[-third:]) / 1024
        before, after = self.rest_fds
        grew_rss = rss_b > rss_a + self.args.rss_slack
        grew_fds = after > before
        return (
            f"RSS after warm-up, first third -> last third: {rss_a:.1f} -> {rss_b:.1f} MiB "
            f"(slack {self.args.rss_slack} MiB): {'GROWTH' if grew_rss else 'no growth'}\n"
            f"descriptors at rest, before -> after the traffic: {before} -> {after}: "
            f"{'GROWTH' if grew_fds else 'no growth'}"
        )


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Scenarios, columns and the growth rule: bench/README.md (Soak).",
    )
    p.add_argument("--seconds", type=float, default=600.0,
                   help="how long to run (default: %(default)s)")
    p.add_argument("--modems", type=int, default=8, help="how many modems (default: %(default)s)")
    p.add_argument("--transport", choices=("pty", "tcp"), default="pty",
                   help="pty: serve --count N; tcp: N connections to serve --transport tcp, "
                        "re-opened now and then (no faults) (default: %(default)s)")
    p.add_argument("--interval", type=float, default=30.0,
                   help="seconds between rows of the table (default: %(default)s)")
    p.add_argument("--pace", type=float, default=0.05,
                   help="seconds each client rests between scenarios (default: %(default)s)")
    p.add_argument("--no-faults", action="store_true", help="no faults through the control socket")
    p.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio",
                   help="serve's event loop (serve --loop; default: %(default)s)")
    p.add_argument("--seed", type=int, default=1, help="random seed (default: %(default)s)")
    p.add_argument("--rss-slack", type=float, default=2.0,
                   help="MiB of RSS growth still judged 'no growth' (default: %(default)s)")
    p.add_argument("--report", type=Path, help="also write the report to this file")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        report = Soak(args).run()
    except BenchError as exc:
        print(f"soak: error: {exc}", file=sys.stderr)
        return 1
    print()
    print(report)
    if args.report is not None:
        args.report.write_text(report + "\n")
    return 1 if "GROWTH" in report or "alive at the end: NO" in report else 0


if __name__ == "__main__":
    sys.exit(main())
