"""The modem: serial bytes and network results in, serial bytes and requests out.

The hub of the core. Each family keeps its state and rules in an object of
its own, held here as an attribute: ``ip`` (context, links, server:
``ip.py``), ``radio``, ``sim``, ``gprs``, ``voice``, ``ussd``, ``sms``,
``http``, ``ftp``. The line discipline (command lines, echo, data entry,
transparent mode, deferred URCs) is a ``Channel``'s (``channel.py``): the
plain serial line has one (``line``); with AT+CMUX each DLC has its own
(``cmux.py``). The modem itself owns

* the channel in context (``ch``): output, data entry and data modes go to
  it. The modem switches context (``use``) for a channel's input, for a
  timer (to the channel that started it), for a network result (to the
  channel whose command opened the socket or asked the query) and, for
  results nobody asked for, to ``urc_channel`` (the plain line; DLCI 1 under
  the multiplexer, as a real SIM800 sends its URCs there);
* the dispatcher (``dispatch``) that applies the registry's declarations
  (forms, signatures, state rules) before any handler runs;
* results and timers in (``handle``), passed to the family they belong to;
  requests out (``request``, ``start_timer``, ``grant``).

The commands themselves live in ``commands/``, one module per family.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from . import commands as _commands  # noqa: F401  (registers every command)
from .apps.bearer import Bearers
from .apps.ftp import FtpClient
from .apps.http import HttpClient
from .channel import NUMERIC_CODES, Channel, Deferred, Mode
from .charset import TeCharset
from .cmux import Mux, MuxParams
from .config import ModemConfig
from .events import (
    CALL_EVENTS,
    Accepted,
    CancelTimer,
    Close,
    Connect,
    Fault,
    HoldSerial,
    Listen,
    NtpSync,
    NtpTime,
    Ping,
    PingDone,
    ReadCredit,
    Reboot,
    Received,
    Request,
    Resolve,
    Resolved,
    Result,
    SettingsSaved,
    SimContents,
    SmsIncoming,
    SmsStatus,
    StartTimer,
    StopListen,
    TimerFired,
)
from .gprs import GprsState
from .ip import IpStack
from .lazy import lazy, made
from .parser import Command, Form
from .ppp.session import PppSession
from .radio import RadioState
from .registry import (
    DATA,
    FAILED,
    REGISTRY,
    CommandError,
    Outcome,
    bind,
)
from .settings import Settings
from .sim import SimCard
from .sms.service import SmsService
from .state import (
    Ctx,
    Link,
)
from .timing import Pace
from .ussd import UssdService
from .voice import Voice

__all__ = ["NUMERIC_CODES", "Channel", "Mode", "Modem"]

MAX_ROUTES = 1024  # sockets and queries whose results go back to a DLC


def _query_key(query: int) -> int:
    return -(1 << 40) - query


# The families a modem may never use are made on first use (core/lazy.py):
# a fleet of modems answering AT does not pay for them.
def _voice(m: Modem) -> Voice:
    return Voice(m, m.config.services.dial)  # calls (core/voice.py)


def _ussd(m: Modem) -> UssdService:
    return UssdService(m, m.config.services.ussd)  # USSD (core/ussd.py)


class Modem:
    # Declared here for the command modules, which are type-checked before
    # __init__ is (they import this module and this module imports them).
    settings: Settings
    dns: tuple[str, str]
    pdp_apn: str
    pdp_active: bool
    switches: dict[str, int]
    local_ip: str
    ntp_server: str
    ntp_tz: int
    charset: TeCharset
    radio: RadioState
    sim: SimCard
    ch: Channel
    # made on first use (core/lazy.py)
    gprs: lazy[Modem, GprsState] = lazy(lambda _: GprsState())  # QoS, class, event reporting
    bearers: lazy[Modem, Bearers] = lazy(lambda _: Bearers())  # AT+SAPBR profiles 1-3
    voice: lazy[Modem, Voice] = lazy(_voice)
    ussd: lazy[Modem, UssdService] = lazy(_ussd)
    sms: lazy[Modem, SmsService] = lazy(SmsService)  # the SMS family (core/sms)
    ip: lazy[Modem, IpStack] = lazy(IpStack)  # IP context, links, server (core/ip.py)
    http: lazy[Modem, HttpClient] = lazy(HttpClient)
    ftp: lazy[Modem, FtpClient] = lazy(FtpClient)
    ppp: lazy[Modem, PppSession] = lazy(PppSession)  # dial-up data (core/ppp/session.py)

    def __init__(
        self,
        config: ModemConfig | None = None,
        saved: Mapping[str, object] | None = None,
        now: float = 0.0,
        wall: float | None = None,
    ) -> None:
        # ``wall``: the Unix time at ``now`` (the host clock, for network time)
        self.config = config or ModemConfig()
        self.saved: dict[str, object] = dict(saved or {})
        self.settings = Settings.from_dict(self.saved)
        self.now = now
        radio = self.config.radio
        # network and SIM: registration, signal, clocks (core/radio.py)
        self.radio = RadioState(self.config, now, wall)
        self.sim = SimCard(self.config.identity, self.saved.get(self.sim_key))
        if self.sim.power_on():  # the SC lock is on: the SIM waits for its PIN
            self.radio.sim_ready = False
        self.local_ip = radio.local_ip
        self.dns: tuple[str, str] = radio.dns_servers
        self.switches: dict[str, int] = {}  # CLTS, CVHU ...: kept, no effect
        self.charset = TeCharset()  # AT+CSCS: shared by SMS, USSD, phone book
        self.pace = Pace(self.config.timing)  # every simulated delay: self.delay(name)
        self.pdp_apn = ""
        self.pdp_active = False  # CGACT
        # output and the channels: the plain serial line, and the DLCs of the
        # multiplexer while it runs (``mux``)
        self._out: list[bytes] = []
        self.line = Channel(self, self._out.append, hold=self._hold_serial)
        self.ch = self.line
        self.channels: list[Channel] = [self.line]  # those that take input
        self.mux: Mux | None = None
        self.notes: list[str] | None = None  # decoded frames, for a traffic log (None: off)
        # sockets and queries of a DLC's commands: their results go back to it
        self._routes: dict[int, Channel] = {}
        self._serial_held = False  # HoldSerial(True) is in force
        self._requests: list[Request] = []
        self._next_sock = 1
        self._next_query = 1
        self.ntp_server = "pool.ntp.org"
        self.ntp_tz = 0
        self._timers: dict[str, tuple[Callable[[], None], Channel]] = {}
        # sockets of the applications (HTTP, FTP): sock -> who takes its results
        self._sock_owners: dict[int, Callable[[Result], None]] = {}
        if self.config.cold_boot:
            self.begin_boot()

    # ================================================================ API

    def feed(self, data: bytes, now: float) -> None:
        """Bytes from the serial line (any size, any content)."""
        self.now = now
        if self.mux is not None:
            self.mux.feed(data)
            return
        self.line.feed(data)

    def handle(self, result: Result, now: float) -> None:
        """A result from a driver (network, timer)."""
        self.now = now
        if type(result) is Received:  # data: most of what a busy modem handles
            self._to_owner(result, result.sock)
            return
        if isinstance(result, TimerFired):
            entry = self._timers.pop(result.key, None)
            if entry is not None:
                action, ch = entry
                if ch is not self.ch:
                    self.use(ch if ch.open else self.urc_channel)
                action()
            return
        if isinstance(result, SettingsSaved):  # AT&W / AT+CIPSCONT answered
            if result.ok:
                self.saved = dict(result.settings)
            self.complete(None if result.ok else CommandError(None))
            return
        if isinstance(result, Fault):
            self.use(self.urc_channel)
            self._on_fault(result)
            return
        if isinstance(result, CALL_EVENTS):
            self.use(self.urc_channel)
            if not (made(self, "ppp") and self.ppp.far_end(result)):  # ctl hangup of a PPP call
                self.voice.handle(result)
            return
        if isinstance(result, (SmsIncoming, SmsStatus, SimContents)):
            self.use(self.urc_channel)
            self.sms.handle(result)
            return
        key = result.server if isinstance(result, Accepted) else getattr(result, "sock", 0)
        if not key and hasattr(result, "query"):  # Resolved, PingReply, PingDone, NtpTime
            key = _query_key(result.query)  # own_query's key space
        self._to_owner(result, key)

    def _to_owner(self, result: Result, key: int) -> None:
        """A network result to whoever owns its socket or query (an
        application), else the IP stack."""
        if self.mux is not None:
            self._route(result, key)
        owner = self._sock_owners.get(key)
        if owner is not None:
            owner(result)
            return
        self.ip.handle(result)

    def take_output(self) -> bytes:
        """Bytes to write to the serial line, in order (and forget them)."""
        if not self._out:
            return b""
        out = self._out[0] if len(self._out) == 1 else b"".join(self._out)
        self._out.clear()
        return out

    def take_requests(self) -> list[Request]:
        """Requests for the drivers, in order (and forget them)."""
        for ch in self.channels:
            ch.sync_hold()
        reqs = self._requests
        self._requests = []
        return reqs

    def shutdown(self, now: float) -> None:
        """The emulator is stopping: close every link and the server."""
        self.now = now
        if made(self, "ip"):
            self.ip.close_all()
        self.stop_apps()

    # ============================================================ channels

    def use(self, ch: Channel) -> Channel:
        """Make ``ch`` the channel in context (its per-channel settings into
        ``settings``); returns the one that was."""
        prev = self.ch
        if ch is not prev:
            prev.save_line(self.settings)
            ch.load_line(self.settings)
            self.ch = ch
        return prev

    @property
    def urc_channel(self) -> Channel:
        """Where results nobody asked for go: the plain line, or under the
        multiplexer DLCI 1 (the lowest open DLC when 1 is closed)."""
        return self.line if self.mux is None else self.mux.urc_channel()

    def _route(self, result: Result, key: int) -> None:
        """A network result under the multiplexer: to the channel whose
        command opened the socket or asked the query."""
        if isinstance(result, Accepted) and key in self._routes:
            self._routes[result.sock] = self._routes[key]
            key = result.sock
        ch = self._routes.get(key)
        if isinstance(result, (Resolved, PingDone, NtpTime)):
            self._routes.pop(key, None)
        self.use(ch if ch is not None and ch.open else self.urc_channel)

    def _note_route(self, req: Request) -> None:
        if isinstance(req, (Connect, Listen)):
            key = req.sock
        elif isinstance(req, (Resolve, Ping, NtpSync)):
            key = _query_key(req.query)
        elif isinstance(req, (Close, StopListen)):
            self._routes.pop(req.sock, None)
            return
        else:
            return
        if len(self._routes) >= MAX_ROUTES:
            del self._routes[next(iter(self._routes))]
        self._routes[key] = self.ch

    def start_mux(self, params: MuxParams) -> None:
        """AT+CMUX answered OK: from now on the line speaks 27.010, its
        bytes go to the multiplexer (core/cmux.py), which opens the DLCs."""
        mux = Mux(self, params, self._out.append, msc_after_open=self.config.cmux_msc)
        self.mux = mux
        self.line.begin_stream(mux.feed)
        self.line.open = False  # nothing may print on the raw line now
        self.channels = []

    def end_mux(self) -> None:
        """Back to plain AT (CLD, power loss, reboot): every DLC closes."""
        mux, self.mux = self.mux, None
        if mux is None:
            return
        self.use(self.line)
        mux.close_all()
        self.line.open = True
        self.line.end_stream()
        self.channels = [self.line]
        self._routes.clear()

    def _hold_serial(self, want: bool) -> None:
        if want != self._serial_held:
            self._serial_held = want
            self._requests.append(HoldSerial(want))

    # ============================================================ output (the channel in context)

    def raw_output(self, data: bytes) -> None:
        """Bytes inside a response, unframed (CIPRXGET data)."""
        self.ch.out(data)

    def info(self, *lines: str) -> None:
        """An information response block (lines separated by one CR LF)."""
        self.ch.info(*lines)

    def final(self, code: str) -> None:
        """A final result code: OK, ERROR, CONNECT ..."""
        self.ch.final(code)

    def text_result(self, text: str) -> None:
        """A TCP/IP result text (SHUT OK, CLOSE OK, SEND OK ...): framed like
        information text, so ATV0 keeps the words and drops the leading CR LF."""
        self.ch.info(text)

    def error(self, err: CommandError) -> None:
        self.ch.error(err)

    def fail(self, err: CommandError) -> Outcome:
        """Print an error result from inside a handler and stop the line."""
        self.ch.error(err)
        return FAILED

    def urc(self, text: str) -> None:
        """An unsolicited line; it waits while the line is not idle."""
        self.ch.urc(text)

    def urc_code(self, code: str) -> None:
        """An unsolicited result code (RING, NO CARRIER ...): framed like a
        final result code (ATV0 digits, ATQ1 silence), held back like a URC."""
        ch = self.ch
        ch.urc_bytes(lambda: ch.final(code))

    def urc_bytes(self, data: Deferred) -> None:
        self.ch.urc_bytes(data)

    def flush_urcs(self) -> None:
        """Print what waited, if the line is idle now."""
        self.ch.flush_deferred()

    def settle(self) -> None:
        """The line is idle again: print the URCs that waited."""
        self.ch.flush_deferred()

    def complete(self, error: CommandError | None = None, code: str | None = None) -> None:
        """The pending command finished (its channel: the one in context, or
        the one whose command is pending): see ``Channel.complete``."""
        ch = self.ch if self.ch.busy else next((c for c in self.channels if c.busy), None)
        if ch is None:
            return
        prev = self.use(ch)
        ch.complete(error, code)
        self.use(prev)

    # ------------------------------------------------------------ data entry, data modes

    def begin_send(self, link: Link, length: int | None) -> Outcome:
        return self.ch.begin_send(link, length)

    def begin_entry(
        self, length: int, sink: Callable[[bytes], None], timeout: float | None = None
    ) -> Outcome:
        """Fixed-length data entry for an application (HTTPDATA, FTPPUT=2)."""
        return self.ch.begin_entry(length, sink, timeout)

    def begin_line_entry(
        self, feed: Callable[[bytes, int], int], on_close: Callable[[], None] | None = None
    ) -> Outcome:
        """The line belongs to ``feed`` until ``end_line_entry`` (SMS text);
        ``on_close`` if the channel closes first."""
        return self.ch.begin_line_entry(feed, on_close)

    def end_line_entry(self) -> None:
        self.ch.end_line_entry()

    def busy_for(self, wait: float, action: Callable[[], None]) -> None:
        """After a line entry: busy ``wait`` s, then ``action`` prints the result."""
        self.ch.busy_for(wait, action)

    @property
    def mode(self) -> Mode:
        """The plain line's mode (``Mode.OFF`` when powered down)."""
        return self.line.mode

    @mode.setter
    def mode(self, mode: Mode) -> None:
        self.line.mode = mode

    @property
    def line_reserved(self) -> bool:
        """Data entry or data mode: URCs cannot be given now."""
        return self.ch.mode is not Mode.COMMAND

    def _data_channel(self) -> Channel | None:
        """The channel in transparent mode (link 0's stream), if any."""
        for ch in self.channels:
            if ch.mode is Mode.DATA:
                return ch
        return None

    @property
    def in_data_mode(self) -> bool:
        """A line is the link's stream (transparent mode)."""
        return self._data_channel() is not None

    def enter_data_mode(self) -> None:
        """Print CONNECT and make the line the link's stream."""
        if self.mux is not None and self.ip.links[0].sock:
            self._routes[self.ip.links[0].sock] = self.ch
        self.ch.enter_data_mode()

    def resume_data_mode(self) -> Outcome:
        """ATO: back to the link's stream (the rule checked the link is up)."""
        self.enter_data_mode()
        return DATA

    def end_data_mode(self) -> None:
        """The link of transparent mode is gone: CLOSED, back to commands."""
        ch = self._data_channel()
        if ch is not None:
            prev = self.use(ch)
            ch.end_data_mode()
            self.use(prev)

    def reset_stream(self) -> None:
        """Forget the transparent stream's packing and escape state. Under the
        multiplexer another DLC may close the link of one in transparent mode
        (AT+CIPCLOSE, AT+CIPSHUT): that DLC says CLOSED and takes commands."""
        for ch in self.channels:
            ch.reset_stream()
            if ch is not self.ch and ch.mode is Mode.DATA:
                prev = self.use(ch)
                ch.end_data_mode()
                self.use(prev)

    def pace_rx(self) -> None:
        """AT+CIPCCFG RxMode 1 (see ``Channel.pace_rx``)."""
        ch = self._data_channel()
        if ch is not None:
            prev = self.use(ch)
            ch.pace_rx()
            self.use(prev)

    # ============================================================ requests

    # ============================================================ requests

    def request(self, req: Request) -> None:
        if self.mux is not None:
            self._note_route(req)
        self._requests.append(req)

    def new_query(self) -> int:
        query = self._next_query
        self._next_query += 1
        return query

    def grant(self, link: Link, size: int) -> None:
        """``size`` bytes of ``link``'s receive window were passed on: the
        driver may read that much more (one request per step and link).
        While data still waits to be read, room is handed back in steps of
        half the module's buffer, so a large ``--rx-buffer`` is not refilled
        after every 1460-byte read; an empty buffer always gets it all."""
        sock = link.sock
        if size <= 0 or not sock:
            return
        link.owed += size
        if link.rx and link.owed < self.config.rx_buffer // 2:
            return
        size, link.owed = link.owed, 0
        reqs = self._requests
        last = reqs[-1] if reqs else None
        if isinstance(last, ReadCredit) and last.sock == sock:
            reqs[-1] = ReadCredit(sock, last.size + size)
        else:
            reqs.append(ReadCredit(sock, size))

    def new_sock(self) -> int:
        sock = self._next_sock
        self._next_sock += 1
        return sock

    def own_sock(self, sock: int, owner: Callable[[Result], None]) -> None:
        """Results about ``sock`` (or, for a listener, its ``Accepted``)
        go to ``owner``: the applications' sockets, beside the CIP links."""
        self._sock_owners[sock] = owner

    def disown_sock(self, sock: int) -> None:
        self._sock_owners.pop(sock, None)

    def own_query(self, query: int, owner: Callable[[Result], None]) -> None:
        """The answers to ``query`` (``Resolve``, ``Ping``, ``NtpSync``) go
        to ``owner`` instead of the IP stack; ``disown_query`` when done."""
        self._sock_owners[_query_key(query)] = owner

    def disown_query(self, query: int) -> None:
        self._sock_owners.pop(_query_key(query), None)

    def stop_apps(self) -> None:
        """Power loss, reboot, shutdown: the HTTP and FTP sessions end
        silently and their sockets close."""
        if made(self, "http"):
            self.http.stop()
        if made(self, "ftp"):
            self.ftp.stop()
        if made(self, "ppp"):
            self.ppp.abort()

    def delay(self, name: str) -> float:
        """The simulated delay ``name`` (a ``Timing`` field), with the
        profile's seeded spread (core/timing.py)."""
        return self.pace.delay(name)

    def start_timer(self, key: str, delay: float, action: Callable[[], None]) -> None:
        self._timers[key] = (action, self.ch)  # it runs on the channel that started it
        self.request(StartTimer(key, self.now + delay))

    def cancel_timer(self, key: str) -> None:
        if self._timers.pop(key, None) is not None:
            self.request(CancelTimer(key))

    def timer_running(self, key: str) -> bool:
        return key in self._timers

    # ============================================================ state

    @property
    def sim_key(self) -> str:
        """Where the SIM's data is kept in the saved profile (per ICCID)."""
        return f"sim.{self.config.identity.iccid}"

    @property
    def multi(self) -> bool:
        return self.settings.cipmux == 1

    @property
    def transparent(self) -> bool:
        return self.settings.cipmode == 1 and not self.multi

    def after(self, key: str, wait: float, action: Callable[[], None]) -> Callable[[], None]:
        """``action``, postponed by ``wait`` seconds on timer ``key``."""
        return lambda: self.start_timer(key, wait, action)

    # ============================================================ dispatcher

    def dispatch(self, cmd: Command) -> Outcome | None:
        spec = REGISTRY.get(cmd.name)
        if spec is None:
            raise CommandError(None)
        form = spec.forms.get(cmd.form)
        if form is None:
            raise CommandError(None)
        values: tuple[int | str | None, ...] = ()
        if cmd.form is Form.WRITE and form.sig is not None:
            sig = form.sig(self) if callable(form.sig) else form.sig
            values = bind(sig, cmd.args)
        if spec.needs_sim:
            self.require_sim()
        if not form.when.test(self, values):
            raise CommandError(form.when.refusal)
        return form.handler(self, values, cmd)

    def require_sim(self) -> None:
        """The error of a command that needs the SIM while it is not ready:
        its PIN or PUK is wanted, it is still starting, or the radio is off."""
        if self.radio.sim_ready:
            return
        if self.radio.cfun == 1:  # SIM PIN / SIM PUK required, or busy
            raise CommandError({"SIM PIN": 11, "SIM PUK": 12}.get(self.sim.pin_state, 14))
        raise CommandError(3, "CFUN state is 0 or 4")

    # ============================================================ boot, radio

    def begin_boot(self) -> None:
        """After power-on or AT+CFUN=1,1: the SIM is busy for a while, then
        the boot URCs come."""
        self.radio.sim_ready = False
        timing = self.config.timing

        def sim_ready() -> None:
            if self.sim.power_on():  # locked: +CPIN: SIM PIN, the rest after AT+CPIN
                self.urc(f"+CPIN: {self.sim.pin_state}")
            else:
                self.sim_up()

        def boot_urcs() -> None:
            if self.settings.ipr != 0:
                self.urc("RDY")
            self.urc("+CFUN: 1")
            self.start_timer("sim-ready", max(0.0, timing.sim_busy - timing.boot_urcs), sim_ready)

        self.start_timer("boot", timing.boot_urcs, boot_urcs)

    def sim_up(self) -> None:
        """The SIM is ready (at boot, or once AT+CPIN unlocked it)."""
        self.radio.sim_ready = True
        self.urc("+CPIN: READY")
        if self.settings.ciurc:
            self.urc("Call Ready")
        self.urc("SMS Ready")
        for line in self.radio.time_urcs(self.settings.clts, self.now):
            self.urc(line)

    def reboot(self) -> None:
        """AT+CFUN=1,1: links gone, settings back to the saved profile."""
        self.end_mux()  # the line speaks plain AT again
        self.ip.drop_links()
        self.ip.ctx = Ctx.INITIAL
        self.settings = Settings.from_dict(self.saved)
        self.charset = TeCharset()
        self.voice.reset()
        self.ussd.reset()
        self.sms.reset()
        self.line.power_reset()
        self.radio.radio_on()
        self.bearers = Bearers()
        self.stop_apps()
        self.pdp_active = False
        self.request(Reboot())
        self.begin_boot()

    def registration_changed(self) -> None:
        """The +CREG/+CGREG URCs (per their <n>), then the network's time."""
        for line in self.radio.registration_urcs(self.settings, self.now):
            self.urc(line)

    def _on_fault(self, fault: Fault) -> None:
        if fault.kind == "pdp-deact":
            self.ip.lose_context()
        elif fault.kind == "signal":
            self.radio.rssi = fault.value
        elif fault.kind == "register":
            self.radio.creg_stat = self.radio.cgreg_stat = fault.value
            self.registration_changed()
            if fault.value in (1, 5):
                self.cancel_timer("dpdp")
            elif self.settings.dpdp_mode == 1 and self.ip.ctx not in (Ctx.INITIAL, Ctx.START):
                # CIPDPDP: the check fails <timer> times, <interval> s apart
                s = self.settings
                self.start_timer("dpdp", s.dpdp_interval * s.dpdp_timer, self.ip.lose_context)
        elif fault.kind == "under-voltage" and self.mode is not Mode.OFF:
            if not fault.value:
                self.urc("UNDER-VOLTAGE WARNNING")
                return
            self.end_mux()
            self.line.out(b"\r\nUNDER-VOLTAGE POWER DOWN\r\n")  # the supply fails: said at once
            self._on_fault(Fault("power-off"))
        elif fault.kind == "power-off" and self.mode is not Mode.OFF:
            self.end_mux()
            self.voice.reset()
            self.ussd.reset()
            self.sms.reset()  # a message on its way (sms_send) never leaves
            self.ip.drop_links()
            self.stop_apps()
            self.ip.ctx = Ctx.INITIAL
            self.mode = Mode.OFF
        elif fault.kind == "power-on" and self.mode is Mode.OFF:
            self.mode = Mode.COMMAND
            self.line.clear_line()
            self.reboot()
        elif fault.kind == "dtr":
            self.ppp.set_dtr(bool(fault.value))
        elif fault.kind == "drop-link" and 0 <= fault.value < len(self.ip.links):
            link = self.ip.links[fault.value]
            self.ip.drop_link(link)

    def status(self) -> str:
        """One line for humans (the control channel's status)."""
        if self.mode is Mode.OFF:
            return "powered off (power-on boots it)"
        parts = [self.ip.state_text()]
        for link in self.ip.links:
            if link.used:
                parts.append(
                    f"link {link.n} {link.proto} {link.remote_ip}:{link.remote_port} "
                    f"{link.client_state_text()}"
                    # transparent bytes a stalled peer could not take (docs/buffers.md)
                    + (f" ({link.dropped} B dropped)" if link.dropped else "")
                )
        if self.ip.server.on:
            parts.append(f"server {self.ip.server.proto} :{self.ip.server.port} {self.ip.server.state.value}")
        if self.mux is not None:
            parts.append(self.mux.status())
        return "; ".join(parts)

    def power_down(self, notice: bool = True) -> None:
        """AT+CPOWD: =1 says NORMAL POWER DOWN, =0 (urgent) nothing."""
        self.voice.reset()
        self.ussd.reset()
        self.ip.drop_links()
        self.stop_apps()
        self.ip.ctx = Ctx.INITIAL
        if notice:
            self.ch.out(b"\r\nNORMAL POWER DOWN\r\n")
        self.end_mux()
        self.mode = Mode.OFF
