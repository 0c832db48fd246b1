"""Every golden transcript (tests/conformance/transcripts/*.txt) replayed
against the pure core: fake clock, scripted network peers.

This is not the conformance run (that one drives the real program through a
pty and real loopback sockets, tests/conformance/); it checks the same bytes
in a few milliseconds per file, so that a core change that breaks a
transcript shows up in the fast core suite with the exact step.

The transcript language is the one of transcripts/README.md, section 2. The
network side is simulated the way the README describes the peers:

* ``@ listen`` / ``@ echo`` peers accept the first connection to their port
  (host ``127.0.0.1``, or ``echo.test`` from the hosts table); any other
  destination is refused; an echo peer sends back what it receives;
* ``@ port`` reserves a number nothing listens on;
* ``@ connect`` peers reach the modem's server once it listens;
* DNS: ``echo.test`` is ``127.0.0.1``, every other name does not exist;
* ``# serve:`` options configure the core as ``sim800emu serve`` would, and
  ``@ ctl`` commands are delivered to it as the control channel does;
* the SMS centre answers a sent message that asked for status reports
  with one report per part.

Waiting steps advance the fake clock in small increments (firing the core's
timers) up to the file's timeout.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from harness import Harness

from sim800emu.cli import build_modem_config, parse_serve_options
from sim800emu.control import parse as control_parse
from sim800emu.core.config import ModemConfig
from sim800emu.core.events import (
    Accepted,
    Close,
    Connect,
    Connected,
    ConnectFailed,
    Listen,
    Listening,
    PeerClosed,
    Received,
    Resolve,
    Resolved,
    Send,
    SmsSent,
    SmsStatus,
    StopListen,
)
from sim800emu.transcript.language import load

TRANSCRIPTS = Path(__file__).resolve().parents[1] / "conformance" / "transcripts"
FILES = sorted(TRANSCRIPTS.glob("*.txt")) if TRANSCRIPTS.is_dir() else []
TICK = 0.05
HOSTS = {"echo.test": "127.0.0.1"}

# Transcripts the core fails because of a known core bug: file -> reason.
KNOWN_CORE_BUGS: dict[str, str] = {}

_ESCAPE = re.compile(rb"\\(\\|r|n|x[0-9A-Fa-f]{2})")
_MARKERS = (">>", "<~", "<>", "<<", "<!", ">", "<", "~", "@")


def unescape(text: str) -> bytes:
    def one(m: re.Match[bytes]) -> bytes:
        s = m.group(1)
        if s == b"\\":
            return b"\\"
        if s == b"r":
            return b"\r"
        if s == b"n":
            return b"\n"
        return bytes([int(s[1:], 16)])

    return _ESCAPE.sub(one, text.encode("latin-1"))


@dataclass
class Peer:
    name: str
    kind: str  # listen | echo | connect
    proto: str  # TCP | UDP
    port: int
    sock: int = 0
    received: bytearray = field(default_factory=bytearray)
    matched: int = 0
    tls: bool = False  # a TLS client reached this plain peer


class ReplayError(AssertionError):
    pass


def _config(path: Path) -> ModemConfig:
    """The modem a file's ``# serve:`` options make (the defaults without)."""
    options = load(path).serve_options
    return build_modem_config(parse_serve_options(options)) if options else ModemConfig()


class Replay:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.h = Harness(config=_config(path), echo=True)
        # the host clock the runtime gives the modem (network time, CLTS)
        self.h.m.radio.wall = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC
        self.h.m.radio.wall_at = self.h.now
        self.vars: dict[str, str] = {}
        self.peers: dict[str, Peer] = {}
        self.buf = bytearray()
        self.timeout = 5.0
        self.next_port = 20001
        self.next_accept = -1
        self.seen = 0  # requests already answered
        self.servers: dict[int, int] = {}  # listening port -> server sock
        self.sock_peer: dict[int, Peer] = {}

    # ------------------------------------------------------------ network

    def pump(self) -> None:
        for _ in range(1000):
            self.buf += self.h.take()
            self._accept_pending()
            if self.seen >= len(self.h.requests):
                self.buf += self.h.take()
                return
            req = self.h.requests[self.seen]
            self.seen += 1
            self._answer(req)
        raise ReplayError("network pump does not settle")

    def _answer(self, req: object) -> None:
        h = self.h
        if isinstance(req, Connect):
            ip = req.host if _is_ip(req.host) else HOSTS.get(req.host)
            peer = next(
                (
                    p
                    for p in self.peers.values()
                    if p.kind in ("listen", "echo")
                    and p.proto == req.proto
                    and p.port == req.port
                    and p.sock == 0
                ),
                None,
            )
            if ip == "127.0.0.1" and peer is not None:
                peer.sock = req.sock
                self.sock_peer[req.sock] = peer
                if req.tls:  # the peer speaks plain TCP: its first bytes end the handshake
                    peer.tls = True
                else:
                    self.buf += h.handle(Connected(req.sock, ip, req.port, 40000))
            elif ip is None:
                self.buf += h.handle(ConnectFailed(req.sock, "DNS: not found"))
            else:
                self.buf += h.handle(ConnectFailed(req.sock, "refused"))
        elif isinstance(req, Send):
            peer = self.sock_peer.get(req.sock)
            if peer is not None:
                peer.received += req.data
                if peer.kind == "echo":
                    self.buf += h.handle(Received(req.sock, req.data, "127.0.0.1", peer.port))
        elif isinstance(req, Listen):
            self.servers[req.port] = req.sock
            self.buf += h.handle(Listening(req.sock))
        elif isinstance(req, StopListen):
            self.servers = {p: s for p, s in self.servers.items() if s != req.sock}
        elif isinstance(req, Close):
            self.sock_peer.pop(req.sock, None)
        elif isinstance(req, Resolve):
            if _is_ip(req.name):
                self.buf += h.handle(Resolved(req.query, (req.name,)))
            elif req.name in HOSTS:
                self.buf += h.handle(Resolved(req.query, (HOSTS[req.name],)))
            else:
                self.buf += h.handle(Resolved(req.query, (), 8))
        elif isinstance(req, SmsSent):
            # the SMS centre: a status report per part that asked for one
            for mr in req.report:
                self.buf += h.handle(SmsStatus(mr, req.to, 1_796_000_000.0))

    def _accept_pending(self) -> None:
        for peer in self.peers.values():
            if peer.kind == "connect" and peer.sock == 0 and peer.port in self.servers:
                sock = self.next_accept
                self.next_accept -= 1
                peer.sock = sock
                self.sock_peer[sock] = peer
                self.buf += self.h.handle(Accepted(self.servers[peer.port], sock, "127.0.0.1", 50000 - sock))

    # ------------------------------------------------------------ time

    def wait_until(self, cond: object, what: str) -> None:
        assert callable(cond)
        waited = 0.0
        while True:
            self.pump()
            if cond():
                return
            if waited >= self.timeout:
                raise ReplayError(f"timed out waiting for {what}; buffer: {bytes(self.buf)!r}")
            self.buf += self.h.advance(TICK)
            waited += TICK

    def sleep(self, seconds: float) -> None:
        end = self.h.now + seconds
        while self.h.now < end - 1e-9:
            self.pump()
            self.buf += self.h.advance_to(min(end, self.h.now + TICK))
        self.pump()

    # ------------------------------------------------------------ steps

    def run(self) -> None:
        lines = self.path.read_text(encoding="latin-1").split("\n")
        for line in lines:
            m = re.match(r"#\s*timeout:\s*([0-9.]+)", line)
            if m:
                self.timeout = float(m.group(1))
        for number, line in enumerate(lines, 1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            marker = next((mk for mk in _MARKERS if line.startswith(mk + " ")), None)
            if marker is None:
                raise ReplayError(f"{self.path.name}:{number}: bad step {line!r}")
            arg = self._substitute(line[len(marker) + 1 :])
            try:
                self.step(marker, arg)
            except ReplayError as err:
                raise ReplayError(f"{self.path.name}:{number}: {line}\n  {err}") from None

    def _substitute(self, text: str) -> str:
        return re.sub(r"\{(\w+)\}", lambda m: self.vars.get(m.group(1), m.group(0)), text)

    def _strip_line_ends(self) -> None:
        while self.buf and self.buf[0] in (10, 13):
            del self.buf[0]

    def _line(self) -> bytes:
        def ready() -> bool:
            self._strip_line_ends()
            return b"\r\n" in self.buf

        self.wait_until(ready, "a line")
        end = self.buf.index(b"\r\n")
        line = bytes(self.buf[:end])
        del self.buf[: end + 2]
        return line

    def step(self, marker: str, arg: str) -> None:
        h = self.h
        if marker == ">":
            self.buf += h.feed(arg.encode("latin-1") + b"\r")
            self.pump()
        elif marker == ">>":
            self.buf += h.feed(unescape(arg))
            self.pump()
        elif marker == "<":
            line = self._line()
            if line != arg.encode("latin-1"):
                raise ReplayError(f"expected line {arg!r}, got {line!r}")
        elif marker == "<~":
            line = self._line()
            if not re.fullmatch(arg, line.decode("latin-1")):
                raise ReplayError(f"line {line!r} does not match {arg!r}")
        elif marker in ("<>", "<<"):
            want = unescape(arg)

            def enough() -> bool:
                if marker == "<>":
                    self._strip_line_ends()
                return len(self.buf) >= len(want)

            self.wait_until(enough, repr(want))
            got = bytes(self.buf[: len(want)])
            if got != want:
                raise ReplayError(f"expected {want!r}, got {got!r} (buffer {bytes(self.buf)!r})")
            del self.buf[: len(want)]
        elif marker == "<!":
            self.sleep(float(arg))
            if self.buf:
                raise ReplayError(f"expected silence, got {bytes(self.buf)!r}")
        elif marker == "~":
            self.sleep(float(arg))
        else:
            self.peer_step(arg)

    def peer_step(self, arg: str) -> None:
        words = arg.split(" ")
        if words[0] == "ctl":
            what = control_parse(arg.split(" ", 1)[1])
            if not isinstance(what, str):
                self.buf += self.h.handle(what)
                self.pump()
        elif words[0] in ("listen", "echo") and len(words) == 3:
            port = self._new_port()
            self.vars[words[2]] = str(port)
            self.peers[words[2]] = Peer(words[2], words[0], words[1].upper(), port)
        elif words[0] == "port" and len(words) == 2:
            self.vars[words[1]] = str(self._new_port())
        elif words[0] == "connect" and len(words) == 4:
            self.peers[words[2]] = Peer(words[2], "connect", words[1].upper(), int(words[3]))
            self.pump()
        else:
            name, action = words[0], words[1]
            peer = self.peers[name]
            rest = arg[len(name) + len(action) + 2 :]
            if action == "accept":
                self.wait_until(lambda: peer.sock != 0, f"{name} to be connected")
            elif action == "send":
                self.wait_until(lambda: peer.sock != 0, f"{name} to be connected")
                if peer.tls:
                    failed = ConnectFailed(peer.sock, "[SSL: WRONG_VERSION_NUMBER]", "127.0.0.1", True)
                    self.buf += self.h.handle(failed)
                else:
                    self.buf += self.h.handle(Received(peer.sock, unescape(rest), "127.0.0.1", peer.port))
                self.pump()
            elif action == "expect":
                want = unescape(rest)
                self.wait_until(
                    lambda: len(peer.received) - peer.matched >= len(want), f"{name} to receive {want!r}"
                )
                got = bytes(peer.received[peer.matched : peer.matched + len(want)])
                if got != want:
                    raise ReplayError(f"{name} expected {want!r}, got {got!r}")
                peer.matched += len(want)
            elif action == "close":
                if peer.sock:
                    self.buf += self.h.handle(PeerClosed(peer.sock))
                    self.sock_peer.pop(peer.sock, None)
                    peer.sock = -999_999  # used up
                self.pump()
            else:
                raise ReplayError(f"unknown peer step {arg!r}")

    def _new_port(self) -> int:
        port = self.next_port
        self.next_port += 1
        return port


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _param(path: Path) -> object:
    reason = KNOWN_CORE_BUGS.get(path.name)
    marks = [pytest.mark.xfail(strict=True, raises=ReplayError, reason=reason)] if reason else []
    return pytest.param(path, id=path.stem, marks=marks)


@pytest.mark.skipif(not FILES, reason="no transcripts in tests/conformance/transcripts")
@pytest.mark.parametrize("path", [_param(p) for p in FILES])
def test_transcript_replayed_on_the_core(path: Path) -> None:
    Replay(path).run()


def test_unescape() -> None:
    assert unescape(r"a\r\n\x1a\\b\q") == b"a\r\n\x1a\\b\\q"
