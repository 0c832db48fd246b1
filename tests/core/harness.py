"""A tiny fake-clock harness around the pure modem core.

The core never reads a clock and never touches a socket: time is passed in,
timers are ``StartTimer`` requests and the network is ``Connect`` / ``Send``
requests answered by results. ``Harness`` plays the drivers' part for tests:

* ``at("AT+X")`` writes ``AT+X`` CR and returns everything the modem printed
  since the last read (so output produced earlier, e.g. by a timer, is part
  of it, as on a real serial line);
* the clock only moves when the test says so (``advance``, ``advance_to``,
  ``run_timers``); due timers fire in order of their due time, and a
  ``CancelTimer`` or a replacing ``StartTimer`` is honoured;
* ``Connect`` / ``Listen`` / ``Resolve`` requests are recorded and answered by
  explicit calls (``connected``, ``listening``, ``resolved`` ...);
* ``Send`` payloads are collected per socket (``sent``).
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from collections.abc import Mapping

from sim800emu.core.config import ModemConfig
from sim800emu.core.events import (
    Accepted,
    CancelTimer,
    Close,
    Connect,
    Connected,
    ConnectFailed,
    HoldSerial,
    Listen,
    ListenFailed,
    Listening,
    PauseReading,
    PeerClosed,
    Ping,
    PingDone,
    PingReply,
    PowerDown,
    ReadCredit,
    Reboot,
    Received,
    Request,
    Resolve,
    Resolved,
    Result,
    ResumeReading,
    SaveSettings,
    Send,
    SettingsSaved,
    StartTimer,
    StopListen,
    TimerFired,
)
from sim800emu.core.modem import Modem

OK = b"\r\nOK\r\n"
ERROR = b"\r\nERROR\r\n"
PROMPT = b"\r\n> "


def crlf(*lines: str) -> bytes:
    """``\\r\\n<line>\\r\\n`` for each line: the V1 framing of one block each."""
    return b"".join(b"\r\n" + line.encode("latin-1") + b"\r\n" for line in lines)


def block(*lines: str) -> bytes:
    """One V1 information block: lines separated by a single CR LF."""
    return b"\r\n" + "\r\n".join(lines).encode("latin-1") + b"\r\n"


class Harness:
    def __init__(
        self,
        config: ModemConfig | None = None,
        saved: Mapping[str, object] | None = None,
        now: float = 0.0,
        echo: bool = False,
    ) -> None:
        self.now = now
        self.modem = Modem(config or ModemConfig(), saved=saved, now=now)
        self.timers: dict[str, float] = {}
        self.sends: defaultdict[int, bytearray] = defaultdict(bytearray)
        self.credits: defaultdict[int, int] = defaultdict(int)  # ReadCredit granted per sock
        self.serial_held = False  # the last HoldSerial
        self.requests: list[Request] = []  # every request, in order
        self.connects: list[Connect] = []  # not yet answered
        self.listens: list[Listen] = []  # not yet answered
        self.resolves: list[Resolve] = []  # not yet answered
        self.pings: list[Ping] = []  # not yet answered
        self.closed: list[Close] = []
        self.saves: list[SaveSettings] = []
        # How the fake store answers SaveSettings: True saved, False failed,
        # None not at all (the test answers with handle(SettingsSaved(...))).
        self.save_ok: bool | None = True
        self.paused: set[int] = set()
        self.fired: list[str] = []
        self.reboots = 0
        self.powered_down = False
        self._buf = bytearray()
        self._next_accept = -1
        self._pump()
        if not echo:
            self.modem.settings.echo = False

    # ------------------------------------------------------------ plumbing

    @property
    def m(self) -> Modem:
        return self.modem

    def _pump(self) -> None:
        self._buf += self.modem.take_output()
        answers: list[Result] = []
        for req in self.modem.take_requests():
            self.requests.append(req)
            if isinstance(req, StartTimer):
                self.timers[req.key] = req.at
            elif isinstance(req, CancelTimer):
                self.timers.pop(req.key, None)
            elif isinstance(req, Send):
                self.sends[req.sock] += req.data
            elif isinstance(req, Connect):
                self.connects.append(req)
            elif isinstance(req, Listen):
                self.listens.append(req)
            elif isinstance(req, Resolve):
                self.resolves.append(req)
            elif isinstance(req, Ping):
                self.pings.append(req)
            elif isinstance(req, Close):
                self.closed.append(req)
                self.connects = [c for c in self.connects if c.sock != req.sock]
            elif isinstance(req, StopListen):
                self.listens = [x for x in self.listens if x.sock != req.sock]
            elif isinstance(req, SaveSettings):
                self.saves.append(req)
                if self.save_ok is not None:
                    answers.append(SettingsSaved(req.settings, self.save_ok))
            elif isinstance(req, ReadCredit):
                self.credits[req.sock] += req.size
            elif isinstance(req, HoldSerial):
                self.serial_held = req.hold
            elif isinstance(req, PauseReading):
                self.paused.add(req.sock)
            elif isinstance(req, ResumeReading):
                self.paused.discard(req.sock)
            elif isinstance(req, Reboot):
                self.reboots += 1
            elif isinstance(req, PowerDown):
                self.powered_down = True
        for result in answers:  # the store answers at once (save_ok)
            self.modem.handle(result, self.now)
            self._pump()

    def take(self) -> bytes:
        """Everything printed since the last read."""
        self._pump()
        out = bytes(self._buf)
        self._buf.clear()
        return out

    # ------------------------------------------------------------ serial line

    def feed(self, data: bytes) -> bytes:
        self.modem.feed(data, self.now)
        return self.take()

    def at(self, cmd: str) -> bytes:
        """Write ``cmd`` CR; return what the modem printed."""
        return self.feed(cmd.encode("latin-1") + b"\r")

    def handle(self, result: Result) -> bytes:
        self.modem.handle(result, self.now)
        return self.take()

    # ------------------------------------------------------------ time

    def advance_to(self, t: float) -> bytes:
        """Move the clock to ``t``, firing every timer due on the way (in
        order of due time; a timer started by a fired one fires too if due)."""
        for _ in range(10_000):
            due = [(at, key) for key, at in self.timers.items() if at <= t]
            if not due:
                break
            at, key = min(due)
            del self.timers[key]
            self.now = max(self.now, at)
            self.fired.append(key)
            self.modem.handle(TimerFired(key), self.now)
            self._pump()
        else:  # pragma: no cover
            raise AssertionError("timers keep firing")
        self.now = max(self.now, t)
        return self.take()

    def advance(self, dt: float) -> bytes:
        return self.advance_to(self.now + dt)

    def run_timers(self, limit: float = 600.0) -> bytes:
        """Fire every pending timer (the clock jumps to each due time), up
        to ``limit`` seconds from now."""
        end = self.now + limit
        out = bytearray()
        for _ in range(10_000):
            pending = [at for at in self.timers.values() if at <= end]
            if not pending:
                break
            out += self.advance_to(min(pending))
        return bytes(out) + self.take()

    # ------------------------------------------------------------ network

    def _pop_connect(self, sock: int | None) -> Connect:
        self._pump()
        for c in self.connects:
            if sock is None or c.sock == sock:
                self.connects.remove(c)
                return c
        raise AssertionError(f"no pending Connect (sock={sock}); requests: {self.requests}")

    def connected(
        self, sock: int | None = None, remote_ip: str | None = None, remote_port: int | None = None
    ) -> tuple[int, bytes]:
        """Answer the oldest (or the given) pending Connect with Connected.
        The remote address is the Connect's host when it is an IP literal,
        else 127.0.0.1 (what the driver's resolver would give)."""
        c = self._pop_connect(sock)
        if remote_ip is None:
            try:
                ipaddress.ip_address(c.host)
                remote_ip = c.host
            except ValueError:
                remote_ip = "127.0.0.1"
        port = c.port if remote_port is None else remote_port
        return c.sock, self.handle(Connected(c.sock, remote_ip, port, 40000 + c.sock))

    def connect_failed(self, sock: int | None = None) -> tuple[int, bytes]:
        c = self._pop_connect(sock)
        return c.sock, self.handle(ConnectFailed(c.sock, "refused"))

    def receive(self, sock: int, data: bytes, from_ip: str = "", from_port: int = 0) -> bytes:
        return self.handle(Received(sock, data, from_ip, from_port))

    def peer_close(self, sock: int) -> bytes:
        return self.handle(PeerClosed(sock))

    def sent(self, sock: int) -> bytes:
        self._pump()
        return bytes(self.sends.get(sock, b""))

    def all_sent(self) -> bytes:
        self._pump()
        return b"".join(bytes(v) for v in self.sends.values())

    def listening(self, ok: bool = True) -> tuple[int, bytes]:
        self._pump()
        assert self.listens, f"no pending Listen; requests: {self.requests}"
        lst = self.listens[-1]
        res: Result = Listening(lst.sock) if ok else ListenFailed(lst.sock, "in use")
        return lst.sock, self.handle(res)

    def accept(self, remote_ip: str = "10.1.2.3", remote_port: int = 50000) -> tuple[int, bytes]:
        """A client reaches the modem's server; returns its (negative) sock."""
        server = self.modem.ip.server.sock
        sock = self._next_accept
        self._next_accept -= 1
        return sock, self.handle(Accepted(server, sock, remote_ip, remote_port))

    def resolved(self, addresses: tuple[str, ...] = (), error: int = 0) -> bytes:
        self._pump()
        assert self.resolves, "no pending Resolve"
        r = self.resolves.pop(0)
        return self.handle(Resolved(r.query, addresses, error))

    def ping_reply(self, seq: int, ip: str, time_ms: float | None, ttl: int = 64) -> bytes:
        self._pump()
        assert self.pings, "no pending Ping"
        return self.handle(PingReply(self.pings[0].query, seq, ip, time_ms, ttl))

    def ping_done(self, error: bool = False) -> bytes:
        self._pump()
        assert self.pings, "no pending Ping"
        return self.handle(PingDone(self.pings.pop(0).query, error))

    # ------------------------------------------------------------ scenarios

    def bring_up(self, cifsr: bool = True) -> None:
        """CSTT, CIICR (its timer), CIFSR: IP STATUS (or IP GPRSACT)."""
        assert self.at("AT+CSTT") == OK
        assert self.at("AT+CIICR") == b""
        assert self.run_timers() == OK
        if cifsr:
            self.at("AT+CIFSR")

    def open_single(
        self, host: str = "1.2.3.4", port: int = 80, proto: str = "TCP"
    ) -> tuple[int, bytes]:
        """Single link CIPSTART (single-step if in IP INITIAL), context timer,
        Connected. Returns the sock and all output after the first OK."""
        first = self.at(f'AT+CIPSTART="{proto}","{host}",{port}')
        assert first == OK, first
        rest = self.run_timers()
        sock, out = self.connected()
        return sock, rest + out

    def open_multi(
        self, n: int, host: str = "1.2.3.4", port: int = 80, proto: str = "TCP"
    ) -> tuple[int, bytes]:
        first = self.at(f'AT+CIPSTART={n},"{proto}","{host}",{port}')
        assert first == OK, first
        rest = self.run_timers()
        sock, out = self.connected()
        return sock, rest + out

    def multi_up(self) -> None:
        """CIPMUX=1 and the context in IP STATUS."""
        assert self.at("AT+CIPMUX=1") == OK
        self.bring_up()
