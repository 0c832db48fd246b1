"""Coverage-guided fuzzer of the pure modem core (atheris + libFuzzer).

One fuzz input is a little program for a fresh ``Modem``: serial bytes fed
in arbitrary splits, interleaved with everything the drivers can answer
(network results, timers, the clock, injected faults). After each input the
invariants below are checked; a violation raises, and libFuzzer saves the
input as a crash file.

Input format (mutation-friendly: most bytes are plain serial data, so a
transcript's host bytes are already a valid input):

* bytes other than ``0xFE`` are serial data; a run of them is one
  ``Modem.feed`` call;
* ``0xFE`` starts an *op*: the next byte picks it (modulo ``len(OPS)``),
  the bytes after it are its arguments (missing bytes read as 0). See
  ``_op_*`` below: chunk splits, a literal ``0xFE``, clock ticks and waits,
  firing timers, answering ``Connect``/``Listen``/``Resolve``/``Ping``/
  ``NtpSync`` (success or failure), data from a peer (from the input, or
  up to 64 KiB of filler), peer close, accepted clients, faults
  (pdp-deact, register, signal, drop-link, power-off/on), results about
  sockets/queries/timers the core no longer knows, long runs of one byte.

The harness plays the drivers' part honestly: a socket the core paused
(``PauseReading``) gets no data until resumed, a timer fires only at its
time and only if still armed, the clock never goes back.

Invariants after each input (see docs/fuzzing.md):

1. no exception escapes ``Modem.feed`` / ``Modem.handle``;
2. the output is bounded by the input: at most
   ``4 x (serial + received bytes) + 32 KiB per line end + 512 B per op``
   (a 556-character line of the chattiest commands, or ``A/`` repeating one,
   prints well under 32 KiB);
3. the core's own buffers stay bounded (held input, the typed line, the
   CIPSEND entry, each link's receive buffer, the deferred URC bytes);
4. timers do not re-arm for ever (no busy loop on the clock);
5. after a recovery sequence (power-on if off; the rest of a fixed-length
   CIPSEND; ESC at the prompt; ``+++`` with guard times in data mode, or
   the peer closing when the escape is disabled; every pending network
   request answered and every timer fired; a CR ending a half-typed line;
   then ``ATE0V1Q0``) the modem is in command mode and ``AT`` answers exactly
   ``\\r\\nOK\\r\\n``.

Usage::

    python fuzz/core_fuzz.py [libFuzzer options] [CORPUS_DIR ...]
        no corpus dirs: fuzz/.corpus/core (new inputs) + seeds built from
        tests/conformance/transcripts/ into fuzz/.corpus/seeds
    python fuzz/core_fuzz.py --seeds DIR      build the seed corpus only
    python fuzz/core_fuzz.py --replay FILE... run inputs (crash files)
                                              without atheris, print the trace
    python fuzz/core_fuzz.py --random N       N random-mutation inputs
                                              without atheris (fallback)

``make fuzz`` runs it with ``-runs=$(FUZZ_RUNS)`` (default 1,000,000).
"""

from __future__ import annotations

import hashlib
import os
import random
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TRANSCRIPTS = ROOT / "tests" / "conformance" / "transcripts"
CORPUS = HERE / ".corpus" / "core"
SEEDS = HERE / ".corpus" / "seeds"
FINDINGS = HERE / "findings"
DICT = HERE / ".corpus" / "at.dict"

try:
    import atheris
except ImportError:  # the fallback modes still work
    atheris = None

_OWN_MODES = ("--seeds", "--replay", "--random")
if (
    atheris is not None
    and __name__ == "__main__"
    and not (len(sys.argv) > 1 and sys.argv[1] in _OWN_MODES)
):
    with atheris.instrument_imports(include=["sim800emu"]):
        from sim800emu.core import events as ev
        from sim800emu.core.modem import Mode, Modem
else:
    from sim800emu.core import events as ev
    from sim800emu.core.modem import Mode, Modem


MARK = 0xFE
GUARD = 1.0  # Timing().escape_guard
LINE_BUDGET = 32 * 1024
OP_BUDGET = 512
DATA_FACTOR = 4
MAX_HELD = 4096 + 64
MAX_LINE = 556 + 64 + 2
MAX_ENTRY = 1460
MAX_FIRES = 2000  # timer firings per clock move
RX_SLACK = 64 * 1024 + 70 * 1024  # RX_HIGH_WATER + the largest single delivery
MAX_DEFERRED = RX_SLACK + 64 * 1024  # pushed data waiting + URCs

FAULTS: tuple[tuple[str, int], ...] = (
    ("pdp-deact", 1),
    ("register", 6),
    ("signal", 100),
    ("drop-link", 6),
    ("power-off", 1),
    ("power-on", 1),
)


class Finding(AssertionError):
    """An invariant does not hold for this input."""


class Driver:
    """Runs one fuzz input against a fresh Modem, playing the drivers."""

    def __init__(self, data: bytes, trace: bool = False) -> None:
        self.data = data
        self.pos = 0
        self.now = 0.0
        self.m = Modem(now=0.0)
        self.m.settings.echo = False  # as the harness does; ATE1 turns it on
        self.timers: dict[str, float] = {}
        self.connects: list[ev.Connect] = []  # unanswered
        self.listens: list[ev.Listen] = []  # unanswered
        self.listening: int = 0  # the server sock that is listening
        self.live: list[int] = []  # socks that may get data (connected/accepted)
        self.paused: set[int] = set()
        self.credit: dict[int, int] = {}  # receive window left (absent: no limit)
        self.window: dict[int, int] = {}  # the window of a listener's accepted links
        self.congested: set[int] = set()
        self.held = False  # HoldSerial: the driver does not read the serial line
        self.unread = bytearray()  # what the host wrote meanwhile
        self.saves: list[Any] = []  # SaveSettings awaiting SettingsSaved
        self.resolves: list[ev.Resolve] = []
        self.pings: list[ev.Ping] = []
        self.ntps: list[ev.NtpSync] = []
        self.next_accept = -1
        self.serial_in = 0
        self.received = 0
        self.line_ends = 0
        self.ops = 0
        self.out = 0
        self.rereadable = 0
        self.trace: list[str] | None = [] if trace else None
        self.last_out = b""

    # ------------------------------------------------------------ plumbing

    def note(self, text: str) -> None:
        if self.trace is not None:
            self.trace.append(text)

    def pump(self) -> bytes:
        out = self.m.take_output()
        self.out += len(out)
        if self.trace is not None and out:
            self.trace.append(f"    <- {out!r}")
        for req in self.m.take_requests():
            self.request(req)
        # a request handler never calls back into the core synchronously,
        # so nothing new can have been produced meanwhile
        return out

    def request(self, req: Any) -> None:
        if isinstance(req, ev.StartTimer):
            self.timers[req.key] = req.at
        elif isinstance(req, ev.CancelTimer):
            self.timers.pop(req.key, None)
        elif isinstance(req, ev.Connect):
            self.connects.append(req)
            if getattr(req, "rx_window", 0):
                self.credit[req.sock] = req.rx_window
        elif isinstance(req, ev.Listen):
            self.listens.append(req)
            if getattr(req, "rx_window", 0):
                self.window[req.sock] = req.rx_window
        elif isinstance(req, ev.StopListen):
            self.listens = [x for x in self.listens if x.sock != req.sock]
            if self.listening == req.sock:
                self.listening = 0
        elif isinstance(req, ev.Close):
            self.connects = [c for c in self.connects if c.sock != req.sock]
            if req.sock in self.live:
                self.live.remove(req.sock)
            self.paused.discard(req.sock)
            self.congested.discard(req.sock)
        elif isinstance(req, ev.Resolve):
            self.resolves.append(req)
        elif isinstance(req, ev.Ping):
            self.pings.append(req)
        elif isinstance(req, ev.NtpSync):
            self.ntps.append(req)
        elif isinstance(req, ev.PauseReading):
            self.paused.add(req.sock)
        elif isinstance(req, ev.ResumeReading):
            self.paused.discard(req.sock)
        elif type(req).__name__ == "ReadCredit":
            if req.sock in self.credit:
                self.credit[req.sock] += req.size
        elif type(req).__name__ == "HoldSerial":
            self.held = req.hold
        elif type(req).__name__ == "SaveSettings":
            self.saves.append(req)
        elif isinstance(req, ev.Reboot | ev.PowerDown):
            # every socket is gone; the core has forgotten them
            self.connects.clear()
            self.live.clear()
            self.paused.clear()
            self.listens.clear()
            self.listening = 0
            self.congested.clear()
        # Send, SaveSim, SmsSent and anything new: nothing to answer

    def feed(self, chunk: bytes) -> bytes:
        if not chunk:
            return b""
        self.serial_in += len(chunk)
        self.line_ends += chunk.count(b"\r") + chunk.count(b"\n")
        self.unread += chunk
        return self.read_serial()

    def read_serial(self) -> bytes:
        """The driver reads what the host wrote, unless the core holds the line."""
        out = bytearray()
        while self.unread and not self.held:
            chunk = bytes(self.unread)
            self.unread.clear()
            self.note(f"feed {chunk!r}" if len(chunk) < 200 else f"feed {len(chunk)} bytes")
            self.m.feed(chunk, self.now)
            out += self.pump()
        return bytes(out)

    def handle(self, result: Any) -> bytes:
        self.note(f"handle {result!r}"[:300])
        self.m.handle(result, self.now)
        return self.pump() + self.read_serial()

    def advance_to(self, t: float) -> bytes:
        out = bytearray()
        for _ in range(MAX_FIRES):
            due = [(at, key) for key, at in self.timers.items() if at <= t]
            if not due:
                break
            at, key = min(due)
            del self.timers[key]
            self.now = max(self.now, at)
            out += self.handle(ev.TimerFired(key))
        else:
            raise Finding(f"timers keep firing: {sorted(self.timers.items())}")
        self.now = max(self.now, t)
        return bytes(out)

    def run_timers(self, limit: float = 4000.0) -> bytes:
        end = self.now + limit
        out = bytearray()
        for _ in range(MAX_FIRES):
            pending = [at for at in self.timers.values() if at <= end]
            if not pending:
                break
            out += self.advance_to(min(pending))
        else:
            raise Finding(f"timers keep re-arming: {sorted(self.timers.items())}")
        return bytes(out)

    # ------------------------------------------------------------ input

    def byte(self) -> int:
        if self.pos < len(self.data):
            b = self.data[self.pos]
            self.pos += 1
            return b
        return 0

    def take(self, n: int) -> bytes:
        chunk = self.data[self.pos : self.pos + n]
        self.pos += len(chunk)
        return chunk

    def pick_sock(self, sel: int) -> int:
        """A live sock (newest first), or one the core does not know."""
        if not self.live or sel % (len(self.live) + 1) == len(self.live):
            return (9999, -9999, 0)[sel % 3]
        return self.live[-1 - sel % (len(self.live) + 1)]

    def run(self) -> None:
        data = self.data
        n = len(data)
        while self.pos < n:
            mark = data.find(MARK, self.pos)
            end = n if mark < 0 else mark
            if end > self.pos:
                self.feed(data[self.pos : end])
            self.pos = end
            if mark < 0:
                break
            self.pos += 1
            op = self.byte()
            self.ops += 1
            OPS[op % len(OPS)](self)
            self.check_bounds()

    # ------------------------------------------------------------ invariants

    def budget(self) -> int:
        return (
            DATA_FACTOR * (self.serial_in + self.received)
            + (LINE_BUDGET + self.rereadable) * (self.line_ends + 1)
            + OP_BUDGET * (self.ops + 1)
        )

    def check_bounds(self) -> None:
        # what one command may print again and again: HTTPREAD's buffer, the
        # stored messages (AT+CMGL lists them all, as text or hex PDUs)
        m = self.m
        http = getattr(m, "http", None)
        again = len(getattr(http, "readable", b""))
        stores = getattr(getattr(m, "sms", None), "stores", None)
        for storage in (getattr(stores, "sm", None), getattr(stores, "me", None)):
            records = getattr(storage, "records", {})
            again += sum(3 * len(r.pdu) + 96 for r in records.values())
        self.rereadable = max(self.rereadable, again)
        if self.out > self.budget():
            raise Finding(
                f"output {self.out} B exceeds the budget {self.budget()} B "
                f"(serial {self.serial_in}, received {self.received}, "
                f"line ends {self.line_ends}, ops {self.ops}, re-readable {self.rereadable})"
            )
        typed, held, entry = m.line.sizes
        if held > MAX_HELD:
            raise Finding(f"held input grew to {held} B")
        if typed > MAX_LINE:
            raise Finding(f"the typed line grew to {typed} B")
        if entry > MAX_ENTRY:
            raise Finding(f"the CIPSEND entry grew to {entry} B")
        deferred = sum(len(item) for item in m.line.deferred if isinstance(item, bytes))
        if deferred > MAX_DEFERRED:
            raise Finding(f"deferred output grew to {deferred} B")
        for link in m.ip.links:
            if len(link.rx) > RX_SLACK:
                raise Finding(f"link {link.n}'s receive buffer grew to {len(link.rx)} B")

    def recover(self) -> None:
        """Bring the line back to command mode the way a host could."""
        m = self.m
        for _ in range(80):
            self.pump()
            if m.mode is Mode.OFF:
                self.note("recover: power-on")
                self.handle(ev.Fault("power-on"))
            elif getattr(m, "mux", None) is not None:
                # AT+CMUX: flags to end any frame the receiver is inside, SABM
                # on DLCI 0 (the control channel may never have been opened),
                # then CLD (27.010 close-down) back to plain AT
                self.note("recover: CMUX close-down")
                self.feed(b"\xf9" * (m.mux.params.n1 + 8) + bytes.fromhex("f9033f011cf9")
                          + bytes.fromhex("f903ef05c301f2f9"))
            elif m.mode is Mode.FIXED:
                self.note("recover: the rest of a fixed-length entry")
                left = m.line.entry_left
                self.feed(b"\x00" * max(MAX_ENTRY, left))  # HTTPDATA may want more
                self.feed(b"\r")
            elif m.mode not in (Mode.COMMAND, Mode.DATA, Mode.STREAM):
                # the CIPSEND prompt, SMS text/PDU entry, any other entry
                self.note(f"recover: ESC in {m.mode}")
                self.feed(b"\x1b")
            elif m.mode in (Mode.DATA, Mode.STREAM):
                if m.settings.ccfg_esc == 1:
                    self.note("recover: +++ with guard times")
                    self.advance_to(self.now + GUARD + 0.1)
                    self.feed(b"+++")
                    self.advance_to(self.now + GUARD + 0.1)
                elif m.mode is Mode.STREAM:
                    self.note("recover: escape disabled, the network ends the dial-up call")
                    self.handle(ev.CallerHangup())
                else:
                    self.note("recover: escape disabled, the peer closes")
                    self.handle(ev.PeerClosed(m.ip.links[0].sock))
            elif self.congested:
                self.note("recover: the peers read again")
                self.handle(ev.Congestion(self.congested.pop(), False))
            elif self.saves:
                self.handle(ev.SettingsSaved(self.saves.pop(0).settings, True))
            elif self.connects:
                self.handle(ev.ConnectFailed(self.connects.pop(0).sock, "refused"))
            elif self.listens:
                self.handle(ev.ListenFailed(self.listens.pop(0).sock, "in use"))
            elif self.resolves:
                self.handle(ev.Resolved(self.resolves.pop(0).query, (), 8))
            elif self.pings:
                self.handle(ev.PingDone(self.pings.pop(0).query, True))
            elif self.ntps:
                self.handle(ev.NtpTime(self.ntps.pop(0).query, None, 65))
            elif "ring" in self.timers:
                self.note("recover: the caller gives up")
                self.handle(ev.CallerHangup())
            elif self.timers:
                self.run_timers()
            else:
                self.feed(b"\r")
                if (
                    m.mode is Mode.COMMAND
                    and not self.timers
                    and not (self.connects or self.listens or self.resolves)
                    and not (self.pings or self.ntps or self.saves or self.unread)
                ):
                    break
        else:
            raise Finding(f"the line does not settle (mode {m.mode}, timers {self.timers})")
        self.feed(b"ATE0V1Q0\r")
        self.run_timers()
        self.pump()
        if m.mode is not Mode.COMMAND:
            raise Finding(f"ATE0V1Q0 left the line in {m.mode}")
        out = self.feed(b"AT\r")
        if out != b"\r\nOK\r\n":
            raise Finding(f"AT after recovery answered {out!r}")

    def check(self) -> None:
        self.run()
        self.recover()


# ---------------------------------------------------------------- ops


def _op_split(d: Driver) -> None:
    """A chunk boundary: the bytes before and after are two reads."""


def _op_literal(d: Driver) -> None:
    d.feed(bytes([MARK]))


def _op_tick(d: Driver) -> None:
    d.advance_to(d.now + (d.byte() + 1) * 0.01)


def _op_wait(d: Driver) -> None:
    d.advance_to(d.now + d.byte() * 1.0)


def _op_timer(d: Driver) -> None:
    if d.timers:
        d.advance_to(min(d.timers.values()))


def _op_timers(d: Driver) -> None:
    d.run_timers(limit=600.0)


def _op_connected(d: Driver) -> None:
    sel = d.byte()
    if not d.connects:
        return
    c = d.connects.pop(sel % len(d.connects))
    ip = c.host if c.host.replace(".", "").isdigit() else "127.0.0.1"
    d.live.append(c.sock)
    d.handle(ev.Connected(c.sock, ip, c.port, 40000 + c.sock % 1000))


def _op_connect_failed(d: Driver) -> None:
    sel, flags = d.byte(), d.byte()
    if not d.connects:
        return
    c = d.connects.pop(sel % len(d.connects))
    d.handle(
        ev.ConnectFailed(
            c.sock, "refused", "127.0.0.1" if flags & 2 else "", handshake=bool(flags & 1)
        )
    )


def _op_receive(d: Driver) -> None:
    sel, size = d.byte(), d.byte()
    # 0xF0 and up: 4 to 64 KiB of filler; else that many bytes of the input
    data = bytes(range(256)) * ((size - 0xEF) * 16) if size >= 0xF0 else d.take(size)
    sock = d.pick_sock(sel)
    if sock in d.credit:
        data = data[: d.credit[sock]]  # the receive window the core granted
        d.credit[sock] -= len(data)
    if sock in d.paused or not data:
        return  # the driver does not read a paused socket
    d.received += len(data)
    udp = sel & 0x80
    d.handle(ev.Received(sock, data, "10.0.0.9" if udp else "", 5000 if udp else 0))


def _op_peer_closed(d: Driver) -> None:
    sock = d.pick_sock(d.byte())
    if sock in d.live:
        d.live.remove(sock)
    d.paused.discard(sock)
    d.handle(ev.PeerClosed(sock))


def _op_send_failed(d: Driver) -> None:
    d.handle(ev.SendFailed(d.pick_sock(d.byte())))


def _op_listen_result(d: Driver) -> None:
    ok = d.byte() % 4 != 3
    if not d.listens:
        return
    lst = d.listens.pop(0)
    if ok:
        d.listening = lst.sock
        d.handle(ev.Listening(lst.sock))
    else:
        d.handle(ev.ListenFailed(lst.sock, "in use"))


def _op_accept(d: Driver) -> None:
    sel = d.byte()
    server = d.listening or (sel & 1)
    sock = d.next_accept
    d.next_accept -= 1
    d.live.append(sock)
    if server in d.window:
        d.credit[sock] = d.window[server]
    d.handle(ev.Accepted(server, sock, f"10.1.2.{sel}", 50000 + sel))


def _op_resolved(d: Driver) -> None:
    how = d.byte()
    if not d.resolves:
        return
    r = d.resolves.pop(0)
    if how % 4 == 0:
        d.handle(ev.Resolved(r.query, (), (8, 3)[how >> 2 & 1]))
    else:
        ips = tuple(f"192.0.2.{i}" for i in range(1, how % 4 + 1))
        d.handle(ev.Resolved(r.query, ips))


def _op_ping(d: Driver) -> None:
    how = d.byte()
    if not d.pings:
        return
    p = d.pings[0]
    if how % 3 == 0:
        d.pings.pop(0)
        d.handle(ev.PingDone(p.query, bool(how & 8)))
    else:
        ms = None if how % 3 == 2 else float(how)
        d.handle(ev.PingReply(p.query, how % 5 + 1, "192.0.2.1", ms, 64))


def _op_ntp(d: Driver) -> None:
    how = d.byte()
    if not d.ntps:
        return
    q = d.ntps.pop(0)
    if how & 1:
        d.handle(ev.NtpTime(q.query, 1_700_000_000.0 + how))
    else:
        d.handle(ev.NtpTime(q.query, None, (61, 62, 64, 65)[how >> 1 & 3]))


def _op_fault(d: Driver) -> None:
    kind, span = FAULTS[d.byte() % len(FAULTS)]
    value = d.byte() % span
    if kind == "signal" and value == 32:
        value = 99
    d.handle(ev.Fault(kind, value))  # type: ignore[arg-type]


def _op_stale(d: Driver) -> None:
    """Results the core must ignore: unknown timers, queries, sockets."""
    what = d.byte() % 5
    if what == 0:
        d.handle(ev.TimerFired(("esc", "pack", "partial", "nope", "ctx-up")[d.byte() % 5]))
    elif what == 1:
        d.handle(ev.Resolved(9999, ("192.0.2.1",)))
    elif what == 2:
        d.handle(ev.PingDone(9999))
    elif what == 3:
        d.handle(ev.Connected(9999, "1.2.3.4", 1))
    else:
        d.handle(ev.Listening(9999))


def _op_congestion(d: Driver) -> None:
    """A peer stops reading (the link's send buffer fills) or reads again."""
    sel = d.byte()
    sock = d.pick_sock(sel)
    full = bool(sel & 0x40)
    if full:
        d.congested.add(sock)
    else:
        d.congested.discard(sock)
    d.handle(ev.Congestion(sock, full))


def _op_saved(d: Driver) -> None:
    """The settings file was written (or the disk refused)."""
    ok = d.byte() % 4 != 3
    if d.saves:
        d.handle(ev.SettingsSaved(d.saves.pop(0).settings, ok))


def _op_sms(d: Driver) -> None:
    """A message from the network, or a status report."""
    how, size = d.byte(), d.byte() % 200
    text = d.take(size).decode("latin-1")
    sender = ("+8613800000002", "10086", "", "+" + "9" * 20)[how & 3]
    if how & 0x80:
        d.handle(ev.SmsStatus(how, sender, 1_700_000_000.0, (0, 48, 64)[how % 3]))
    else:
        encoding = ("", "gsm7", "8bit", "ucs2")[how >> 2 & 3]
        d.handle(ev.SmsIncoming(sender, text, 1_700_000_000.0 + how, encoding))


def _op_call(d: Driver) -> None:
    """The far end rings, hangs up or presses keys."""
    how = d.byte()
    if how % 3 == 0:
        d.handle(ev.IncomingCall(("+8613800000002", "", "12345")[how % 9 // 3]))
    elif how % 3 == 1:
        d.handle(ev.CallerHangup())
    else:
        d.handle(ev.CallerDtmf(d.take(how % 7).decode("latin-1")))


def _op_run(d: Driver) -> None:
    """A long run of one byte (line overflow, big CIPSEND entries)."""
    count, value = d.byte(), d.byte()
    d.feed(bytes([value]) * (count * 32 + 1))


OPS: tuple[Callable[[Driver], None], ...] = (
    _op_split,
    _op_literal,
    _op_tick,
    _op_wait,
    _op_timer,
    _op_timers,
    _op_connected,
    _op_connect_failed,
    _op_receive,
    _op_peer_closed,
    _op_send_failed,
    _op_listen_result,
    _op_accept,
    _op_resolved,
    _op_ping,
    _op_ntp,
    _op_fault,
    _op_stale,
    _op_run,
    _op_congestion,
    _op_saved,
    _op_sms,
    _op_call,
)
OP = {f.__name__[4:]: i for i, f in enumerate(OPS)}


def op(name: str, *args: int) -> bytes:
    return bytes([MARK, OP[name], *args])


# ---------------------------------------------------------------- entry points


# Findings already reported and awaiting a fix elsewhere (docs/fuzzing.md):
# name -> (exception type, file, function) of the frame that raises or
# calls into the raising library. With FUZZ_SKIP_KNOWN=1 an input that hits
# one of them counts as passed, so a long run can look for new ones.
KNOWN_FINDINGS: dict[str, tuple[type[BaseException], str, str]] = {
    # name -> (exception, file, function) of a finding not fixed yet; its
    # input lives in fuzz/known/. None now: the str.isdigit() ones and the
    # non-ASCII HTTP header are fixed (inputs in fuzz/regressions/).
}
SKIP_KNOWN = os.environ.get("FUZZ_SKIP_KNOWN") == "1"


def known_finding(exc: BaseException) -> str | None:
    frames = traceback.extract_tb(exc.__traceback__)
    for name, (kind, path, func) in KNOWN_FINDINGS.items():
        if isinstance(exc, kind) and any(
            f.filename.endswith(path) and f.name == func for f in frames
        ):
            return name
    return None


def test_one_input(data: bytes) -> None:
    try:
        Driver(data).check()
    except Exception as exc:
        if not (SKIP_KNOWN and known_finding(exc)):
            raise


def seeds_from_transcripts(directory: Path = TRANSCRIPTS) -> dict[str, bytes]:
    """One seed per transcript: its host writes, waits and peer actions as ops."""
    from sim800emu.transcript import language as tl

    seeds: dict[str, bytes] = {}
    for path in sorted(directory.glob("*.txt")):
        script = tl.load(path)
        variables: dict[str, str] = {}
        out = bytearray()
        for step in script.steps:
            try:
                action = step.resolve(variables)
            except ValueError:
                continue
            if isinstance(action, tl.Listen | tl.ReservePort):
                variables[action.name] = str(20000 + len(variables))
            if isinstance(action, tl.Write):
                out += action.data.replace(bytes([MARK]), op("literal")) + op("split")
            elif isinstance(action, tl.Wait | tl.ExpectSilence):
                secs = action.seconds
                if secs < 2.5:
                    out += op("tick", max(0, round(secs * 100) - 1))
                else:
                    out += op("wait", min(255, round(secs)))
            elif isinstance(action, tl.ReadLine | tl.ReadRegex | tl.Read):
                # the host waits for an answer: context timers run, the
                # kernel answers a listen at once
                out += op("tick", 9) + op("listen_result", 0)
            elif isinstance(action, tl.Accept):
                out += op("connected", 0)
            elif isinstance(action, tl.Connect):
                out += op("accept", 1)
            elif isinstance(action, tl.PeerSend):
                for i in range(0, len(action.data), 200):
                    piece = action.data[i : i + 200]
                    out += op("receive", 0, len(piece)) + piece
            elif isinstance(action, tl.Close):
                out += op("peer_closed", 0)
        seeds[path.stem] = bytes(out)
    # a few hand-made ones for states the transcripts do not reach
    seeds["x-data-bulk"] = (
        b"AT+CIPMODE=1\r" + op("split") + b'AT+CIPSTART="TCP","1.2.3.4",80\r'
        + op("timers") + op("connected", 0) + op("receive", 0, 0xFF) + b"x" * 100
        + op("wait", 2) + b"+++" + op("wait", 2) + b"AT\r"
    )
    seeds["x-rxget-fill"] = (
        b"AT+CIPMUX=1\r" + b"AT+CIPRXGET=1\r" + b'AT+CIPSTART=0,"TCP","1.2.3.4",80\r'
        + op("timers") + op("connected", 0) + op("receive", 0, 0xFF) + op("receive", 0, 0xFF)
        + b"AT+CIPRXGET=2,0,1460\r" + b"AT+CIPRXGET=4,0\r"
    )
    seeds["x-faults"] = (
        b'AT+CIPSTART="UDP","1.2.3.4",80\r' + op("timers") + op("connected", 0)
        + op("fault", 3, 0) + op("fault", 0) + op("fault", 4) + op("fault", 5) + op("timers")
        + b"AT+CPOWD=1\r" + op("fault", 5)
    )
    seeds["x-server"] = (
        b"AT+CIPMUX=1\rAT+CIPSERVER=1,3000\r" + op("timers") + op("listen_result", 0)
        + op("accept", 1) + op("accept", 2) + op("receive", 0, 3) + b"abc"
        + b"AT+CIPSEND=0,5\r" + b"hello" + op("peer_closed", 1) + b"AT+CIPSERVER=0\r"
    )
    seeds["x-dns-ping-ntp"] = (
        b'AT+CDNSGIP="a.test"\r' + op("resolved", 2) + b'AT+CIPPING="1.2.3.4",2\r'
        + op("ping", 1) + op("ping", 2) + op("ping", 0) + b'AT+CNTPCID=1\rAT+CNTP\r'
        + op("ntp", 1)
    )
    seeds["x-overflow"] = b"AT" + op("run", 40, ord("A")) + b"\r" + op("run", 200, 0x08)
    return seeds


def write_dict(path: Path) -> None:
    """A libFuzzer dictionary: every command name of the registry in each of
    its forms, the op markers and the line's control characters."""
    from sim800emu.core.parser import Form
    from sim800emu.core.registry import REGISTRY

    suffix = {Form.TEST: "=?", Form.READ: "?", Form.WRITE: "=", Form.EXEC: ""}
    # dictionary entries are written with libFuzzer's escapes (\xHH)
    words = {"AT", r"\x0D", r"\x0A", r"\x1A", r"\x1B", "+++", "A/", r"\x08", ",", r"\x22", ";"}
    for name, spec in REGISTRY.items():
        for form in spec.forms:
            words.add("AT" + name + suffix[form])
            words.add(name + suffix[form])
    lines = [f'"{w}"' for w in sorted(words)]
    lines += [f'"\\xFE\\x{i:02X}"' for i in range(len(OPS))]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}")
    tmp.write_text("\n".join(lines) + "\n")
    tmp.replace(path)  # atomically: another run may be reading it


def write_seeds(directory: Path) -> int:
    directory.mkdir(parents=True, exist_ok=True)
    seeds = seeds_from_transcripts()
    for name, data in seeds.items():
        (directory / name).write_bytes(data)
    return len(seeds)


def replay(paths: list[str]) -> int:
    failed = 0
    for p in paths:
        data = Path(p).read_bytes()
        d = Driver(data, trace=True)
        try:
            d.check()
            print(f"{p}: ok")
        except Exception as exc:  # report every finding, not just the first
            failed += 1
            known = known_finding(exc)
            print(f"{p}: {type(exc).__name__}: {exc}" + (f" (known: {known})" if known else ""))
            for line in (d.trace or [])[-40:]:
                print("   ", line)
    return 1 if failed else 0


def _mutate(rng: random.Random, data: bytes, pool: list[bytes]) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        choice = rng.randrange(6)
        pos = rng.randint(0, len(buf))
        if choice == 0 and buf:
            del buf[pos : pos + rng.randint(1, 16)]
        elif choice == 1:
            buf[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        elif choice == 2:
            buf[pos:pos] = bytes([MARK, rng.randrange(len(OPS)), rng.randrange(256),
                                  rng.randrange(256)])
        elif choice == 3 and pool:
            other = rng.choice(pool)
            a = rng.randint(0, len(other))
            buf[pos:pos] = other[a : a + rng.randint(1, 64)]
        elif choice == 4 and buf:
            buf[min(pos, len(buf) - 1)] = rng.randrange(256)
        else:
            buf[pos:pos] = bytes([MARK, OP["split"]])
    return bytes(buf[:4096])


def random_fuzz(runs: int, seed: int) -> int:
    """The fallback without atheris: random mutations of the seeds."""
    rng = random.Random(seed)
    pool = list(seeds_from_transcripts().values())
    for data in pool:
        test_one_input(data)
    start = time.monotonic()
    for i in range(runs):
        data = _mutate(rng, rng.choice(pool), pool)
        try:
            test_one_input(data)
        except Exception:
            FINDINGS.mkdir(exist_ok=True)
            name = FINDINGS / f"crash-{hashlib.sha1(data).hexdigest()}"
            name.write_bytes(data)
            print(f"finding after {i} inputs, saved as {name}", file=sys.stderr)
            raise
        if rng.random() < 0.01:
            pool.append(data)
    rate = runs / max(1e-9, time.monotonic() - start)
    print(f"{runs} random inputs, no finding ({rate:,.0f}/s)")
    return 0


def main(argv: list[str]) -> int:
    if len(argv) > 1 and argv[1] == "--seeds":
        print(f"{write_seeds(Path(argv[2]) if len(argv) > 2 else SEEDS)} seeds written")
        return 0
    if len(argv) > 1 and argv[1] == "--replay":
        return replay(argv[2:])
    if len(argv) > 1 and argv[1] == "--random":
        runs = int(argv[2]) if len(argv) > 2 else 10_000
        seed = int(os.environ.get("FUZZ_SEED", "0"))
        return random_fuzz(runs, seed)
    if atheris is None:
        print("atheris is not installed (pip install -e '.[fuzz]'); "
              "use --random N for the fallback", file=sys.stderr)
        return 2
    args = list(argv)
    if not any(not a.startswith("-") for a in args[1:]):
        CORPUS.mkdir(parents=True, exist_ok=True)
        write_seeds(SEEDS)
        args += [str(CORPUS), str(SEEDS)]
    if not any(a.startswith("-dict=") for a in args):
        write_dict(DICT)
        args.append(f"-dict={DICT}")
    if not any(a.startswith("-timeout=") for a in args):
        args.append("-timeout=20")  # seconds one input may take: a hang is a finding
    if not any(a.startswith("-artifact_prefix=") for a in args):
        FINDINGS.mkdir(exist_ok=True)
        args.append(f"-artifact_prefix={FINDINGS}/")
    # -fork/-jobs re-run argv[0] through the shell: make it this interpreter
    # and this script
    args[0] = f"{sys.executable} {Path(__file__).resolve()}"
    atheris.Setup(args, test_one_input)
    atheris.Fuzz()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
