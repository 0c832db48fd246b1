"""Fuzzing the I/O layer: a real ``sim800emu serve`` process on a pty (and on
the TCP serial transport), fed random and mutated command streams.

Each *round* opens the serial port, plays a random number of random actions
and then checks the invariants; the actions are

* writing a stream made of commands (CIPSTART to local echo/sink/UDP echo
  servers, a refused port and names, CIPSEND in every form, CIPRXGET,
  CIPSERVER, transparent mode, DNS, settings, reboot, power-down ...),
  fragments, control characters and random bytes, mutated, in random
  splits with random short pauses;
* reading what the modem printed, or deliberately not reading for a while
  (the serial output backs up);
* closing and re-opening the port (pty: the same modem; TCP: a new one);
* a fault through the control socket (pdp-deact, drop, register, signal,
  power-off/on);
* a peer connecting to the modem's own server and talking.

Invariants, checked after every round (docs/fuzzing.md):

1. the process is alive and has printed no Python traceback;
2. after a recovery sequence, ``AT`` answers OK. The sequence escalates:
   ESC CR; then ``ctl power-on`` first (powered down by AT+CPOWD or a
   fault); then the rest of a fixed-length CIPSEND (1460 NULs), ``+++``
   between guard times, CR; then the same and ``ctl drop 0`` (transparent
   mode with the escape disabled); each attempt ends with ``ATE0V1Q0`` and
   ``AT``;
3. its resident memory stays under ``--rss-limit`` MiB and its open
   descriptors under ``--fd-limit``.

A failing round's writes are saved in ``fuzz/findings/pty-*.txt`` (as
Python byte literals, one write per line, with the actions between).

Usage: ``python fuzz/pty_fuzz.py --seconds 60 [--transport pty|tcp|both]
[--seed N]``; ``make fuzz`` runs it for ``$(FUZZ_PTY_SECONDS)``.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import socket
import struct
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "bench"))

from common import (  # noqa: E402  (bench/common.py, found through sys.path)
    BenchError,
    Emulator,
    LoopbackPeers,
    Port,
    open_fds,
    rss_kib,
)
from sim800emu import control  # noqa: E402

FINDINGS = HERE / "findings"
GUARD = 1.1  # a little more than the 1 s escape guard time
OK = b"\r\nOK\r\n"


class Finding(AssertionError):
    """An invariant does not hold."""


SABM0 = bytes.fromhex("f9033f011cf9")  # 27.010: open DLCI 0
CLD = bytes.fromhex("f903ef05c301f2f9")  # 27.010: close the multiplexer down


def vocabulary(peers: LoopbackPeers, server_port: int) -> list[bytes]:
    """Command lines (CR added) and fragments the streams are made of."""
    e, k, u, c = peers.echo_port, peers.sink_port, peers.udp_port, peers.closed_port
    lines = [
        "AT", "ATE1", "ATE0", "ATV0", "ATV1", "ATQ1", "ATQ0", "AT&F", "ATZ", "ATI", "A/",
        "AT+CSQ", "AT+CREG?", "AT+CGATT?", "AT+CGATT=0", "AT+CGATT=1", "AT+CFUN=0",
        "AT+CFUN=1", "AT+CFUN=1,1", "AT+CPIN?", "AT+CMEE=2", "AT+CMEE=1", "AT+CSCS=\"HEX\"",
        "AT+CIPMUX=1", "AT+CIPMUX=0", "AT+CIPMODE=1", "AT+CIPMODE=0", "AT+CIPSHUT",
        "AT+CSTT=\"CMNET\"", "AT+CIICR", "AT+CIFSR", "AT+CIPSTATUS", "AT+CIPSTATUS=0",
        f'AT+CIPSTART="TCP","127.0.0.1",{e}', f'AT+CIPSTART="TCP","127.0.0.1",{k}',
        f'AT+CIPSTART="UDP","127.0.0.1",{u}', f'AT+CIPSTART="TCP","127.0.0.1",{c}',
        f'AT+CIPSTART="TCP","echo.test",{e}', f'AT+CIPSTART="TCP","nowhere.test",{e}',
        f'AT+CIPSTART=0,"TCP","127.0.0.1",{e}', f'AT+CIPSTART=1,"TCP","127.0.0.1",{k}',
        f'AT+CIPSTART=2,"UDP","127.0.0.1",{u}', f'AT+CIPSTART=3,"TCP","127.0.0.1",{c}',
        "AT+CIPSEND", "AT+CIPSEND=5", "AT+CIPSEND=1460", "AT+CIPSEND=0", "AT+CIPSEND=0,5",
        "AT+CIPSEND=1,100", "AT+CIPSEND=2,3", "AT+CIPSEND?", "AT+CIPQSEND=1", "AT+CIPQSEND=0",
        "AT+CIPCLOSE", "AT+CIPCLOSE=1", "AT+CIPCLOSE=0", "AT+CIPCLOSE=1,1", "AT+CIPACK",
        "AT+CIPRXGET=1", "AT+CIPRXGET=0", "AT+CIPRXGET=2,100", "AT+CIPRXGET=2,0,1460",
        "AT+CIPRXGET=3,0,50", "AT+CIPRXGET=4", "AT+CIPRXGET=4,0", "AT+CIPHEAD=1",
        "AT+CIPSRIP=1", "AT+CIPSPRT=0", "AT+CIPSPRT=2", "AT+CIPATS=1,1", "AT+CIPCCFG=3,2,8,0",
        "AT+CIPCCFG=3,2,1024,1", f"AT+CIPSERVER=1,{server_port}", "AT+CIPSERVER=0",
        'AT+CDNSGIP="echo.test"', 'AT+CDNSGIP="nowhere.test"', 'AT+CIPPING="127.0.0.1",1',
        "AT+CIPSCONT", "AT+CIPSCONT?", "AT&W", "ATO", "AT+CPOWD=1",
        "AT+SAPBR=3,1,\"APN\",\"x\"", "AT+SAPBR=1,1", "AT+SAPBR=0,1",
        "AT+HTTPINIT", "AT+HTTPPARA=\"CID\",1", f'AT+HTTPPARA="URL","echo.test:{e}/"',
        "AT+HTTPACTION=0", "AT+HTTPREAD", "AT+HTTPTERM",
        "AT+CMGF=1", "AT+CMGF=0", 'AT+CMGS="+8613800000002"', 'AT+CMGW="12345"',
        'AT+CMGL="ALL"', "AT+CMGR=1", "AT+CMGD=1,4", "AT+CNMI=2,1", "AT+CNMI=2,2",
        "ATD+8613800000002;", "ATA", "ATH", 'AT+CUSD=1,"*100#"', "AT+CLCC", "AT+CLIP=1",
        "AT+CMUX=0",
        "AT+CCWA=1", "AT+CHLD=0", "AT+CHLD=1", "AT+CHLD=2", "AT+CHLD=12", "AT+CHLD=3",
        "AT+CHLD=4", "AT&V",
    ]
    fragments = [
        b"AT", b"+CIP", b"SEND", b"=", b"?", b",", b";", b'"', b"\r", b"\n", b"\r\n",
        b"\x1a", b"\x1b", b"\x08", b"+", b"++", b"+++", b"\x00", b"\xff", b"hello",
        b"x" * 1500,
        # 27.010 frames (after AT+CMUX=0): SABM on DLCI 0 and 1, AT on DLCI 1, DISC 1
        SABM0, bytes.fromhex("f9073f01def9"), bytes.fromhex("f907ef0741540dd3f9"),
        bytes.fromhex("f90753013ff9"),
    ]
    return [line.encode() + b"\r" for line in lines] + fragments


class Round:
    """One round of actions on an open port, keeping a log for findings."""

    def __init__(self, fuzzer: PtyFuzzer, port: Port, rng: random.Random) -> None:
        self.f = fuzzer
        self.port = port
        self.rng = rng
        self.log: list[str] = []

    def write(self, data: bytes) -> None:
        self.log.append(repr(data))
        try:
            self.port.write_all(data, timeout=10.0)
        except BenchError as exc:
            raise Finding(f"the port stopped taking input: {exc}") from exc
        self.f.written += len(data)

    def drain(self, seconds: float = 0.0) -> bytes:
        deadline = time.monotonic() + seconds
        while True:
            got = self.port.fill(max(0.0, deadline - time.monotonic()))
            if not got and time.monotonic() >= deadline:
                break
        out = bytes(self.port.buf)
        self.port.buf.clear()
        self.f.read += len(out)
        return out

    def stream(self) -> bytes:
        rng = self.rng
        vocab = self.f.vocab
        parts = [rng.choice(vocab) for _ in range(rng.randint(1, 12))]
        if rng.random() < 0.3:
            parts.append(rng.randbytes(rng.randint(1, 300)))
        data = bytearray(b"".join(parts))
        for _ in range(rng.randint(0, 3)):  # mutations
            if not data:
                break
            i = rng.randrange(len(data))
            choice = rng.randrange(3)
            if choice == 0:
                data[i] = rng.randrange(256)
            elif choice == 1:
                del data[i : i + rng.randint(1, 8)]
            else:
                data[i:i] = rng.randbytes(rng.randint(1, 8))
        return bytes(data).replace(OK, b"\r\nOK!\r\n")  # no false OK from an echo

    def act(self) -> None:
        rng = self.rng
        what = rng.random()
        if what < 0.55:
            data = self.stream()
            while data:  # random splits, random short pauses, reads between
                n = rng.randint(1, max(1, len(data)))
                self.write(data[:n])
                data = data[n:]
                if rng.random() < 0.3:
                    self.drain(rng.random() * 0.02)
        elif what < 0.70:
            self.drain(rng.random() * 0.2)
        elif what < 0.78:
            time.sleep(rng.random() * 0.3)  # nobody reads: the output backs up
            self.log.append("# not reading")
        elif what < 0.86:
            self.f.reopen(self)
        elif what < 0.94:
            self.f.fault(self, rng)
        else:
            self.f.visit_server(self, rng)

    def recover(self) -> None:
        """Back to command mode the way a host would; AT must answer OK."""
        self.log.append("# recovery")
        # AT+CMUX may have left the line multiplexing: flags end any frame,
        # SABM opens the control channel, CLD closes the multiplexer down
        # (plain AT ignores these bytes: no CR among them)
        self.write(b"\xf9" * 1520 + SABM0 + CLD)
        for attempt in range(4):
            if attempt < 2:
                if attempt == 1:  # powered down (AT+CPOWD, ctl power-off)?
                    self.f.ctl(self, "power-on")
                self.write(b"\x1b\r")
            else:
                self.write(b"\x1b" + b"\x00" * 1460)
                self.drain(GUARD)
                self.write(b"+++")
                self.drain(GUARD)
                self.write(b"\r")
                if attempt == 3:  # transparent mode with the escape off
                    self.f.ctl(self, "drop 0")
            self.write(b"ATE0V1Q0\r")
            self.drain(0.2)
            self.write(b"AT\r")
            deadline = time.monotonic() + 1.5
            buf = bytearray()
            while time.monotonic() < deadline:
                self.port.fill(0.1)
                buf += self.port.buf
                self.port.buf.clear()
                if OK in buf:
                    self.f.recoveries[attempt] += 1
                    return
        raise Finding("AT gets no OK after the recovery sequence")


class PtyFuzzer:
    def __init__(self, args: argparse.Namespace, transport: str) -> None:
        self.args = args
        self.transport = transport
        self.peers = LoopbackPeers()
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.server_port: int = probe.getsockname()[1]
        self.vocab = vocabulary(self.peers, self.server_port)
        extra = ["--host", "echo.test=127.0.0.1", "--activation-delay", "0.01"]
        self.emu = Emulator(*extra, transport=transport)
        self.ctl_path = self.emu.tmp / "ctl"
        self.emu.argv += ["--control", str(self.ctl_path)]
        self.rounds = self.written = self.read = self.reopens = self.faults = 0
        self.recoveries = [0, 0, 0, 0]
        self.rss_first = self.rss_max = 0
        self.fds_max = 0

    # ------------------------------------------------------------ port

    def open_port(self) -> Port:
        if self.transport == "pty":
            return self.emu.open_port()
        assert self.emu.tcp_address is not None
        sock = socket.create_connection(self.emu.tcp_address, timeout=5.0)
        return Port(sock.detach(), tty=False)

    def reopen(self, rnd: Round) -> None:
        rnd.log.append("# re-open")
        rnd.port.close()
        self.reopens += 1
        rnd.port = self.open_port()
        if self.transport == "tcp":
            rnd.write(b"ATE0\r")  # a new modem: same starting point as a round

    def ctl(self, rnd: Round, command: str) -> None:
        rnd.log.append(f"# ctl {command}")
        answer = control.send(self.ctl_path, command)
        if not answer.startswith(("ok", "error:")):
            raise Finding(f"ctl {command}: {answer!r}")

    def fault(self, rnd: Round, rng: random.Random) -> None:
        self.faults += 1
        self.ctl(rnd, rng.choice(["pdp-deact", f"drop {rng.randrange(6)}",
                                  f"register {rng.choice((0, 1, 2, 5))}", "register 1",
                                  f"signal {rng.randrange(32)}", "power-off", "power-on",
                                  "status", "ring +8613800000002", "hangup", "dtmf 12#",
                                  "sms +8613800000002 hello"]))

    def visit_server(self, rnd: Round, rng: random.Random) -> None:
        """A peer reaches the modem's server (if it listens), talks, leaves."""
        rnd.log.append("# a client visits the modem's server")
        with contextlib.suppress(OSError), socket.create_connection(
            ("127.0.0.1", self.server_port), timeout=0.5
        ) as sock:
            sock.sendall(rng.randbytes(rng.randint(1, 2000)))
            if rng.random() < 0.5:
                # leave with a reset rather than a FIN
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    # ------------------------------------------------------------ checks

    def check_process(self) -> None:
        if not self.emu.alive():
            raise Finding(f"the emulator exited: {self.stderr_tail()}")
        if "Traceback" in self.stderr_tail(1 << 20):
            raise Finding(f"a traceback on stderr: {self.stderr_tail()}")
        rss = rss_kib(self.emu.pid)
        fds = open_fds(self.emu.pid)
        self.rss_first = self.rss_first or rss
        self.rss_max = max(self.rss_max, rss)
        self.fds_max = max(self.fds_max, fds)
        if rss > self.args.rss_limit * 1024:
            raise Finding(f"resident memory {rss} KiB over {self.args.rss_limit} MiB")
        if fds > self.args.fd_limit:
            raise Finding(f"{fds} open descriptors (limit {self.args.fd_limit})")

    def stderr_tail(self, n: int = 3000) -> str:
        try:
            return self.emu.log.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    # ------------------------------------------------------------ run

    def run(self, seconds: float, rng: random.Random) -> None:
        self.emu.start()
        port = self.open_port()
        try:
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                rnd = Round(self, port, rng)
                try:
                    for _ in range(rng.randint(3, 25)):
                        rnd.act()
                    rnd.recover()
                    self.check_process()
                except Finding as exc:
                    self.save(rnd, exc)
                    raise
                port = rnd.port
                self.rounds += 1
        finally:
            port.close()
            self.emu.stop()
            self.peers.close()

    def save(self, rnd: Round, exc: BaseException) -> None:
        FINDINGS.mkdir(exist_ok=True)
        path = FINDINGS / f"pty-{self.transport}-{time.strftime('%Y%m%d-%H%M%S')}.txt"
        path.write_text(f"# {exc}\n# stderr:\n# " + self.stderr_tail().replace("\n", "\n# ")
                        + "\n" + "\n".join(rnd.log) + "\n")
        print(f"finding saved as {path}", file=sys.stderr)

    def report(self, seconds: float) -> str:
        return (
            f"{self.transport}: {self.rounds} rounds in {seconds:.0f} s, "
            f"{self.written:,} B written, {self.read:,} B read, {self.reopens} re-opens, "
            f"{self.faults} faults; recovered at attempt 1/2/3/4: "
            f"{'/'.join(map(str, self.recoveries))}; RSS {self.rss_first / 1024:.1f} -> "
            f"max {self.rss_max / 1024:.1f} MiB; max {self.fds_max} fds"
        )


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=60.0,
                   help="how long to fuzz each transport (default: %(default)s)")
    p.add_argument("--transport", choices=("pty", "tcp", "both"), default="both",
                   help="which serial transport (default: %(default)s)")
    p.add_argument("--seed", type=int, default=None, help="random seed (default: the time)")
    p.add_argument("--rss-limit", type=float, default=256.0,
                   help="MiB of resident memory the emulator may use (default: %(default)s)")
    p.add_argument("--fd-limit", type=int, default=200,
                   help="open descriptors the emulator may hold (default: %(default)s)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    seed = args.seed if args.seed is not None else int(time.time())
    transports = ["pty", "tcp"] if args.transport == "both" else [args.transport]
    print(f"pty_fuzz: seed {seed}")
    status = 0
    for transport in transports:
        rng = random.Random(f"{seed}-{transport}")
        fuzzer = PtyFuzzer(args, transport)
        start = time.monotonic()
        try:
            fuzzer.run(args.seconds, rng)
        except Finding as exc:
            print(f"FINDING ({transport}, seed {seed}): {exc}", file=sys.stderr)
            status = 1
        print(fuzzer.report(time.monotonic() - start), flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
