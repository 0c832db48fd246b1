"""The modem: serial bytes and network results in, serial bytes and requests out.

The hub of the core. Each family keeps its state and rules in an object of
its own, held here as an attribute: ``ip`` (context, links, server:
``ip.py``), ``radio``, ``sim``, ``gprs``, ``voice``, ``ussd``, ``sms``,
``http``, ``ftp``. The modem itself owns

* the serial line discipline (``_feed_*``): command lines with echo,
  backspace, ``A/`` and the CR/LF rules of SPEC; the CIPSEND data entry
  (prompt and fixed length); transparent data mode with the ``+++`` escape;
* the output framing (``info``, ``final``, ``text_result``, ``urc``) in V1
  and V0, and the rule that a URC never splits a response or a data block:
  URCs and pushed data wait in ``_deferred`` while a command is running or
  data is being entered, and follow once the line is idle;
* the dispatcher (``_execute``) that applies the registry's declarations
  (forms, signatures, state rules) before any handler runs;
* results and timers in (``handle``), passed to the family they belong to;
  requests out (``request``, ``start_timer``, ``grant``).

The commands themselves live in ``commands/``, one module per family.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from enum import Enum

from . import commands as _commands  # noqa: F401  (registers every command)
from .apps.bearer import Bearers
from .apps.ftp import FtpClient
from .apps.http import HttpClient
from .charset import TeCharset
from .config import ModemConfig
from .datamode import TransparentStream
from .events import (
    CALL_EVENTS,
    Accepted,
    CancelTimer,
    Fault,
    HoldSerial,
    ReadCredit,
    Reboot,
    Request,
    Result,
    Send,
    SettingsSaved,
    SimContents,
    SmsIncoming,
    SmsStatus,
    StartTimer,
    TimerFired,
)
from .gprs import GprsState
from .ip import IpStack
from .parser import Command, Form, ParseError, parse_line
from .radio import RadioState
from .registry import (
    DATA,
    DONE,
    FAILED,
    PENDING,
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
    LinkState,
)
from .timing import Pace
from .ussd import UssdService
from .voice import Voice

MAX_LINE = 556  # characters after "AT" (reference 1.6)
MAX_SEND = 1460  # bytes of one CIPSEND
CR, LF, CTRL_Z = 0x0D, 0x0A, 0x1A
NUMERIC_CODES = {
    "OK": "0",
    "CONNECT": "1",
    "RING": "2",
    "NO CARRIER": "3",
    "ERROR": "4",
    "NO DIALTONE": "6",
    "BUSY": "7",
    "NO ANSWER": "8",
}



class Mode(Enum):
    COMMAND = "command"
    PROMPT = "prompt"  # CIPSEND variable length, until Ctrl-Z / ESC
    ENTRY = "entry"  # another family's data entry (SMS text or PDU): see begin_line_entry
    FIXED = "fixed"  # CIPSEND=<len>
    DATA = "data"  # transparent data mode
    OFF = "off"  # powered down (AT+CPOWD)


Deferred = bytes | Callable[[], None]


class Modem:
    # Declared here for the command modules, which are type-checked before
    # __init__ is (they import this module and this module imports them).
    settings: Settings
    dns: tuple[str, str]
    pdp_apn: str
    pdp_active: bool
    bearers: Bearers
    http: HttpClient
    ftp: FtpClient
    switches: dict[str, int]
    local_ip: str
    ntp_server: str
    ntp_tz: int
    charset: TeCharset
    voice: Voice
    ussd: UssdService
    sms: SmsService
    radio: RadioState
    sim: SimCard
    gprs: GprsState
    ip: IpStack

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
        self.gprs = GprsState()  # QoS, class, event reporting (core/gprs.py)
        self.local_ip = radio.local_ip
        self.dns: tuple[str, str] = radio.dns_servers
        self.bearers = Bearers()  # AT+SAPBR profiles 1-3
        self.switches: dict[str, int] = {}  # CLTS, CVHU ...: kept, no effect
        self.charset = TeCharset()  # AT+CSCS: shared by SMS, USSD, phone book
        services, timing = self.config.services, self.config.timing
        self.pace = Pace(timing)  # every simulated delay: self.delay(name)
        self.voice = Voice(self, services.dial)  # calls (core/voice.py)
        self.ussd = UssdService(self, services.ussd)  # USSD (core/ussd.py)
        self.sms = SmsService(self)  # the SMS family (core/sms)
        self.pdp_apn = ""
        self.pdp_active = False  # CGACT
        self.ip = IpStack(self)  # IP context, links, server (core/ip.py)
        # line discipline
        self.mode = Mode.COMMAND
        self._line = bytearray()
        self._line_overflow = False
        self._skip_lf = False
        self._last_body: str | None = None
        self._busy = False
        self._executing = False
        self._partial_expired = False
        self._busy_rest: list[Command] = []
        self._held = bytearray()
        # data entry (CIPSEND; HTTPDATA and FTPPUT give a sink for the bytes)
        self._entry = bytearray()
        self._entry_link: Link | None = None
        self._entry_sink: Callable[[bytes], None] | None = None
        self._entry_len = 0
        self._entry_feed: Callable[[bytes, int], int] | None = None  # begin_line_entry
        # transparent data mode
        self._stream = TransparentStream(self, self._send_transparent, self._escape)
        self._serial_held = False  # HoldSerial(True) is in force
        self._tx_dropping = False  # the peer stalled past the guard: drop, keep reading
        # output
        self._out: list[bytes] = []
        self._deferred: deque[Deferred] = deque()
        self._requests: list[Request] = []
        self._next_sock = 1
        self._next_query = 1
        self.ntp_server = "pool.ntp.org"
        self.ntp_tz = 0
        self._timers: dict[str, Callable[[], None]] = {}
        # sockets of the applications (HTTP, FTP): sock -> who takes its results
        self._sock_owners: dict[int, Callable[[Result], None]] = {}
        self.http = HttpClient(self)
        self.ftp = FtpClient(self)
        if self.config.cold_boot:
            self.begin_boot()

    # ================================================================ API

    def feed(self, data: bytes, now: float) -> None:
        """Bytes from the serial line (any size, any content)."""
        self.now = now
        i, n = 0, len(data)
        while i < n:
            if self._busy:
                # A command is running: keep its input for later (bounded:
                # a real module's buffer overflows too).
                room = 4096 - len(self._held)
                if room > 0:
                    self._held += data[i : i + room]
                return
            mode = self.mode
            if mode is Mode.COMMAND:
                i = self._feed_command(data, i)
            elif mode is Mode.FIXED:
                i = self._feed_fixed(data, i)
            elif mode is Mode.PROMPT:
                i = self._feed_prompt(data, i)
            elif mode is Mode.DATA:
                self._stream.feed(data[i:] if i else data)
                return
            elif mode is Mode.ENTRY and self._entry_feed is not None:
                i = self._entry_feed(data, i)
            else:
                return

    def handle(self, result: Result, now: float) -> None:
        """A result from a driver (network, timer)."""
        self.now = now
        if isinstance(result, TimerFired):
            action = self._timers.pop(result.key, None)
            if action is not None:
                action()
            return
        if isinstance(result, SettingsSaved):  # AT&W / AT+CIPSCONT answered
            if result.ok:
                self.saved = dict(result.settings)
            self.complete(None if result.ok else CommandError(None))
            return
        if isinstance(result, Fault):
            self._on_fault(result)
            return
        if isinstance(result, CALL_EVENTS):
            self.voice.handle(result)
            return
        if isinstance(result, (SmsIncoming, SmsStatus, SimContents)):
            self.sms.handle(result)
            return
        key = result.server if isinstance(result, Accepted) else getattr(result, "sock", 0)
        if not key and hasattr(result, "query"):  # Resolved, PingReply, PingDone, NtpTime
            key = -(1 << 40) - result.query  # own_query's key space
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
        self._sync_serial_hold()
        reqs = self._requests
        self._requests = []
        return reqs

    def shutdown(self, now: float) -> None:
        """The emulator is stopping: close every link and the server."""
        self.now = now
        self.ip.close_all()
        self.stop_apps()

    # ============================================================ output

    def _emit(self, data: bytes) -> None:
        self._out.append(data)

    @property
    def in_data_mode(self) -> bool:
        """The serial line is the link's stream (transparent mode)."""
        return self.mode is Mode.DATA

    def end_data_mode(self) -> None:
        """The link of transparent mode is gone: CLOSED, back to commands."""
        self._stream.reset()
        self.mode = Mode.COMMAND
        self._emit(b"\r\nCLOSED\r\n")

    def reset_stream(self) -> None:
        """Forget the transparent stream's packing and escape state."""
        self._stream.reset()

    def flush_urcs(self) -> None:
        """Print what waited, if the line is idle now."""
        self._flush_deferred()

    def timer_running(self, key: str) -> bool:
        return key in self._timers

    def raw_output(self, data: bytes) -> None:
        """Bytes inside a response, unframed (CIPRXGET data)."""
        self._emit(data)

    def info(self, *lines: str) -> None:
        """An information response block (lines separated by one CR LF)."""
        body = "\r\n".join(lines).encode("latin-1", "replace")
        if self.settings.verbose:
            self._emit(b"\r\n" + body + b"\r\n")
        else:
            self._emit(body + b"\r\n")

    def final(self, code: str) -> None:
        """A final result code: OK, ERROR, CONNECT ..."""
        if self.settings.quiet:
            return
        if self.settings.verbose:
            self._emit(b"\r\n" + code.encode() + b"\r\n")
        else:
            self._emit(NUMERIC_CODES.get(code, code).encode() + b"\r")

    def text_result(self, text: str) -> None:
        """A TCP/IP result text (SHUT OK, CLOSE OK, SEND OK ...): framed like
        information text, so ATV0 keeps the words and drops the leading CR LF."""
        self.info(text)

    def error(self, err: CommandError) -> None:
        if err.cme is None or self.settings.cmee == 0:
            self.final("ERROR")
        elif not self.settings.quiet:
            what = str(err.cme) if self.settings.cmee == 1 else err.code_text()
            self.info(f"{err.prefix}: {what}")

    def urc(self, text: str) -> None:
        """An unsolicited line; it waits while the line is not idle."""
        body = text.encode("latin-1", "replace")
        self.urc_bytes(b"\r\n" + body + b"\r\n" if self.settings.verbose else body + b"\r\n")

    def urc_code(self, code: str) -> None:
        """An unsolicited result code (RING, NO CARRIER ...): framed like a
        final result code (ATV0 digits, ATQ1 silence), held back like a URC."""
        self.urc_bytes(lambda: self.final(code))

    def urc_bytes(self, data: bytes | Callable[[], None]) -> None:
        if self._idle() and not self._deferred:
            if isinstance(data, bytes):
                self._emit(data)
            else:
                data()
            return
        self._deferred.append(data)

    def _idle(self) -> bool:
        """May a URC be printed now? Not inside a response (a command line
        being executed or pending, or one being typed with echo on) nor
        inside a data block."""
        if self.mode is not Mode.COMMAND or self._busy or self._executing:
            return False
        if self._line and self.settings.echo and not self._partial_expired:
            if "partial" not in self._timers:
                # a half-typed line must not hold URCs back for ever
                self.start_timer("partial", 2.0, self._expire_partial)
            return False
        return True

    def _expire_partial(self) -> None:
        self._partial_expired = True
        self._flush_deferred()

    def _flush_deferred(self) -> None:
        while self._deferred and self._idle():
            item = self._deferred.popleft()
            if isinstance(item, bytes):
                self._emit(item)
            else:
                item()

    # ============================================================ requests

    def request(self, req: Request) -> None:
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
        self._sock_owners[-(1 << 40) - query] = owner

    def disown_query(self, query: int) -> None:
        self._sock_owners.pop(-(1 << 40) - query, None)

    def stop_apps(self) -> None:
        """Power loss, reboot, shutdown: the HTTP and FTP sessions end
        silently and their sockets close."""
        self.http.stop()
        self.ftp.stop()

    def delay(self, name: str) -> float:
        """The simulated delay ``name`` (a ``Timing`` field), with the
        profile's seeded spread (core/timing.py)."""
        return self.pace.delay(name)

    def start_timer(self, key: str, delay: float, action: Callable[[], None]) -> None:
        self._timers[key] = action
        self.request(StartTimer(key, self.now + delay))

    def cancel_timer(self, key: str) -> None:
        if self._timers.pop(key, None) is not None:
            self.request(CancelTimer(key))

    # ============================================================ state

    @property
    def line_reserved(self) -> bool:
        """Data entry or data mode: URCs cannot be given now."""
        return self.mode is not Mode.COMMAND

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

    # ------------------------------------------------------------ context

    # ------------------------------------------------------------ links

    def after(self, key: str, wait: float, action: Callable[[], None]) -> Callable[[], None]:
        """``action``, postponed by ``wait`` seconds on timer ``key``."""
        return lambda: self.start_timer(key, wait, action)

    # ============================================================ network results

    # ============================================================ command line

    def _feed_command(self, data: bytes, i: int) -> int:
        n = len(data)
        if self._skip_lf:
            self._skip_lf = False
            if data[i] == LF:
                i += 1
                if i >= n:
                    return n
        cr = data.find(b"\r", i)
        lf = data.find(b"\n", i)
        end = cr if lf < 0 else lf if cr < 0 else min(cr, lf)
        piece = data[i:] if end < 0 else data[i:end]
        if self.settings.echo and piece:
            self._emit(piece)
        self._add_to_line(piece)
        if end < 0:
            return n
        if self.settings.echo:
            self._emit(data[end : end + 1])
        nxt = end + 1
        if data[end] == CR:
            if nxt < n and data[nxt] == LF:
                nxt += 1
            elif nxt >= n:
                self._skip_lf = True
        line = bytes(self._line)
        overflow = self._line_overflow
        self._line.clear()
        self._line_overflow = False
        self._partial_expired = False
        self.cancel_timer("partial")
        wait = self.delay("command")
        if wait > 0:
            # the module takes its time to answer; what comes meanwhile waits
            self._busy = True
            self._busy_rest = []
            self.start_timer("command", wait, lambda: self._run_line(line, overflow, True))
            return nxt
        self._run_line(line, overflow, False)
        return nxt

    def _run_line(self, line: bytes, overflow: bool, later: bool) -> None:
        if later:
            self._busy = False
        self._executing = True
        try:
            self._execute_line(line, overflow)
        finally:
            self._executing = False
        if self.mode is not Mode.COMMAND:
            self._skip_lf = False  # the answer is out: what follows is data
        if later:
            self._resume_after_busy()
        elif self._idle():
            self._flush_deferred()

    def _add_to_line(self, piece: bytes) -> None:
        bs = self.settings.s5  # ATS5: the editing character (8, backspace)
        if bs in piece:
            for b in piece:
                if b == bs:
                    if self._line:
                        self._line.pop()
                else:
                    self._line.append(b)
        else:
            self._line += piece
        if len(self._line) > MAX_LINE + 64:
            # keep the head (to find "AT"), remember the line was too long
            del self._line[MAX_LINE + 64 :]
            self._line_overflow = True

    def _execute_line(self, raw: bytes, overflow: bool) -> None:
        text = raw.decode("latin-1")
        upper = text.upper()
        at = upper.find("AT")
        if at < 0:
            if upper.strip().endswith("A/") and self._last_body is not None:
                self._run_body(self._last_body)
            return  # not a command: ignored silently
        body = text[at + 2 :].rstrip(" ")
        if overflow or len(body) > MAX_LINE:
            self.final("ERROR")
            return
        self._last_body = body
        self._run_body(body)

    def _run_body(self, body: str) -> None:
        try:
            cmds = parse_line(body)
        except ParseError:
            self.final("ERROR")
            return
        self._run_commands(cmds)

    def _run_commands(self, cmds: list[Command]) -> None:
        done = False
        for k, cmd in enumerate(cmds):
            try:
                outcome = self._execute(cmd)
            except CommandError as err:
                self.error(err)
                return
            if outcome is FAILED or outcome is DATA:
                return
            if outcome is PENDING:
                self._busy = True
                self._busy_rest = cmds[k + 1 :]
                return
            done = outcome is DONE
        if not done:
            self.final("OK")

    def complete(self, error: CommandError | None = None, code: str | None = None) -> None:
        """The pending command finished: its final result (``error``, or a
        result ``code`` such as BUSY that ends the line), then the rest of its
        line, then whatever arrived meanwhile."""
        if not self._busy:
            return
        self._busy = False
        rest, self._busy_rest = self._busy_rest, []
        self._executing = True
        try:
            if error is not None:
                self.error(error)
            elif code is not None:
                self.final(code)
            elif rest:
                self._run_commands(rest)
            else:
                self.final("OK")
        finally:
            self._executing = False
        self._resume_after_busy()

    def _execute(self, cmd: Command) -> Outcome | None:
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
        if spec.needs_sim and not self.radio.sim_ready:
            if self.radio.cfun == 1:  # SIM PIN / SIM PUK required, or busy
                raise CommandError({"SIM PIN": 11, "SIM PUK": 12}.get(self.sim.pin_state, 14))
            raise CommandError(3, "CFUN state is 0 or 4")
        if not form.when.test(self, values):
            raise CommandError(form.when.refusal)
        return form.handler(self, values, cmd)

    def fail(self, err: CommandError) -> Outcome:
        """Print an error result from inside a handler and stop the line."""
        self.error(err)
        return FAILED

    # ============================================================ CIPSEND entry

    def begin_send(self, link: Link, length: int | None) -> Outcome:
        if self.settings.cipsprt == 1:
            self._emit(b"\r\n> ")
        self._entry.clear()
        self._entry_link = link
        self._entry_sink = None
        if length is None:
            self.mode = Mode.PROMPT
            if self.settings.cipats_mode == 1:
                self.start_timer("cipats", self.settings.cipats_time, self._finish_send)
        else:
            self.mode = Mode.FIXED
            self._entry_len = length
        return DATA

    def begin_entry(
        self, length: int, sink: Callable[[bytes], None], timeout: float | None = None
    ) -> Outcome:
        """Fixed-length data entry for an application (HTTPDATA, FTPPUT=2):
        the next ``length`` bytes of the line go to ``sink``, which prints the
        final result; after ``timeout`` seconds it gets what came so far."""
        self._entry.clear()
        self._entry_link = None
        self._entry_sink = sink
        self._entry_len = length
        self.mode = Mode.FIXED
        if timeout is not None:
            self.start_timer("entry", timeout, self._finish_fixed)
        return DATA

    def _feed_fixed(self, data: bytes, i: int) -> int:
        need = self._entry_len - len(self._entry)
        take = data[i : i + need]
        self._entry += take
        if len(self._entry) >= self._entry_len:
            self._finish_fixed()
        return i + len(take)

    def _finish_fixed(self) -> None:
        sink = self._entry_sink
        if sink is None:
            self._finish_send()
            return
        if self.mode is not Mode.FIXED:  # the entry ended meanwhile (reboot)
            self._entry_sink = None
            return
        data = bytes(self._entry)
        self._entry.clear()
        self._end_entry()
        sink(data)
        self._flush_deferred()

    def _feed_prompt(self, data: bytes, i: int) -> int:
        z = data.find(b"\x1a", i)
        e = data.find(b"\x1b", i)
        end = z if e < 0 else e if z < 0 else min(z, e)
        if self._entry_link is None:
            # Over the limit (below): the rest of the entry, up to its Ctrl-Z
            # or ESC, is discarded however the reads were split.
            if end < 0:
                return len(data)
            self._end_entry()
            self._flush_deferred()
            return end + 1
        piece = data[i:] if end < 0 else data[i:end]
        self._entry += piece
        if len(self._entry) > MAX_SEND:
            # longer than one send may be: ERROR once, nothing sent, and the
            # rest discarded (docs/hardening.md)
            self._entry.clear()
            self._entry_link = None
            self.cancel_timer("cipats")
            self.final("ERROR")
            return self._feed_prompt(data, i + len(piece))
        if end < 0:
            return len(data)
        if data[end] == CTRL_Z:
            self._finish_send()
        else:
            self._end_entry()
            self.final("OK")
            self._flush_deferred()
        return end + 1

    def _end_entry(self) -> None:
        self.mode = Mode.COMMAND
        self._entry_link = None
        self.cancel_timer("cipats")
        if self._entry_sink is not None:
            self._entry_sink = None
            self.cancel_timer("entry")

    def _finish_send(self) -> None:
        link = self._entry_link
        data = bytes(self._entry)
        self._entry.clear()
        self._end_entry()
        if link is None:
            return
        sprt = self.settings.cipsprt
        if not link.active or link.state is not LinkState.CONNECTED:
            if sprt != 2:
                self.text_result(f"{self.ip.prefix(link)}SEND FAIL")
        else:
            if data:
                self.request(Send(link.sock, data))
                link.sent += len(data)
            if sprt != 2:
                if self.settings.cipqsend == 1:
                    where = f"{link.n}," if self.multi else ""
                    self.text_result(f"DATA ACCEPT:{where}{len(data)}")
                else:
                    wait = self.delay("send_ok")
                    if wait > 0:
                        self._result_later(wait, f"{self.ip.prefix(link)}SEND OK")
                        return
                    self.text_result(f"{self.ip.prefix(link)}SEND OK")
        self._flush_deferred()

    def _result_later(self, wait: float, text: str) -> None:
        """The module is busy for ``wait`` seconds, then prints ``text``
        (what the host types meanwhile waits, as after any command)."""
        self._busy = True
        self._busy_rest = []

        def done() -> None:
            self._busy = False
            self.text_result(text)
            self._resume_after_busy()

        self.start_timer("result", wait, done)

    def _resume_after_busy(self) -> None:
        if self._idle():
            self._flush_deferred()
        if not self._busy and self._held:
            held = bytes(self._held)
            self._held.clear()
            self.feed(held, self.now)

    # ============================================================ other data entry

    def begin_line_entry(self, feed: Callable[[bytes, int], int]) -> Outcome:
        """The serial line belongs to ``feed(data, start)`` (it returns how
        far it read) until ``end_line_entry``: SMS text or PDU after a ``> ``,
        ended by the owner's own rule (Ctrl-Z / ESC)."""
        self._entry_feed = feed
        self.mode = Mode.ENTRY
        return DATA

    def end_line_entry(self) -> None:
        """Back to command mode; the owner prints its result, then ``settle``."""
        self._entry_feed = None
        if self.mode is Mode.ENTRY:
            self.mode = Mode.COMMAND

    def settle(self) -> None:
        """The line is idle again: print the URCs that waited."""
        self._flush_deferred()

    # ============================================================ transparent mode

    def enter_data_mode(self) -> None:
        """Print CONNECT and make the serial line the link's stream."""
        link = self.ip.links[0]
        if not link.active:
            return
        self.final("CONNECT")
        self.mode = Mode.DATA
        self._stream.start()
        if link.rx:
            self._emit(self.ip.take_rx(link, len(link.rx)))

    def resume_data_mode(self) -> Outcome:
        """ATO: back to the link's stream (the rule checked the link is up)."""
        self.enter_data_mode()
        return DATA

    def _escape(self) -> None:
        """``+++`` with its guard times: back to command mode, link open."""
        self.mode = Mode.COMMAND
        self.final("OK")
        self._flush_deferred()

    def _send_transparent(self, data: bytes) -> None:
        link = self.ip.links[0]
        if link.state is not LinkState.CONNECTED or not link.sock:
            return
        if link.congested and self._tx_dropping:
            # the peer has not read for longer than the guard time: like a
            # module without flow control, the UART input is lost (and
            # +++ can still be seen)
            link.dropped += len(data)
            return
        self.request(Send(link.sock, data))
        link.sent += len(data)

    def pace_rx(self) -> None:
        """AT+CIPCCFG RxMode 1: transparent data goes to the UART in blocks
        of RxSize bytes, Rxtimer ms apart (manual 8.2.22)."""
        link = self.ip.links[0]
        if self.mode is not Mode.DATA or not link.rx:
            return
        s = self.settings
        self._emit(self.ip.take_rx(link, s.ccfg_rxsize))
        self.start_timer("rxpace", s.ccfg_rxtimer / 1000, self.pace_rx)

    def _sync_serial_hold(self) -> None:
        """Transparent mode's flow control: while the link's send buffer is
        full the serial line is not read (the host's writes block, nothing
        is lost). A peer that stays stalled past the escape guard time would
        make ``+++`` impossible, so then the line is read again and what
        cannot be sent is dropped until the peer reads (docs/buffers.md)."""
        congested = self.mode is Mode.DATA and self.ip.links[0].congested
        want = congested and not self._tx_dropping
        if not congested:
            self._tx_dropping = False
        if want == self._serial_held:
            return
        self._serial_held = want
        self._requests.append(HoldSerial(want))
        if want:
            self.start_timer("stall", self.config.timing.escape_guard + 1.0, self._stalled)
        else:
            self.cancel_timer("stall")

    def _stalled(self) -> None:
        if self.mode is Mode.DATA and self.ip.links[0].congested:
            self._tx_dropping = True

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
        self.ip.drop_links()
        self.ip.ctx = Ctx.INITIAL
        self.settings = Settings.from_dict(self.saved)
        self.charset = TeCharset()
        self.voice.reset()
        self.ussd.reset()
        self.sms.reset()
        self.mode = Mode.COMMAND
        self._deferred.clear()
        self._held.clear()
        self._busy = False  # a command pending at a power loss never completes
        self._busy_rest = []
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
            self._emit(b"\r\nUNDER-VOLTAGE POWER DOWN\r\n")  # the supply fails: said at once
            self._on_fault(Fault("power-off"))
        elif fault.kind == "power-off" and self.mode is not Mode.OFF:
            self.voice.reset()
            self.ussd.reset()
            self.ip.drop_links()
            self.stop_apps()
            self.ip.ctx = Ctx.INITIAL
            self.mode = Mode.OFF
        elif fault.kind == "power-on" and self.mode is Mode.OFF:
            self.mode = Mode.COMMAND
            self._line.clear()
            self.reboot()
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
        return "; ".join(parts)

    def power_down(self, notice: bool = True) -> None:
        """AT+CPOWD: =1 says NORMAL POWER DOWN, =0 (urgent) nothing."""
        self.voice.reset()
        self.ussd.reset()
        self.ip.drop_links()
        self.stop_apps()
        self.ip.ctx = Ctx.INITIAL
        if notice:
            self._emit(b"\r\nNORMAL POWER DOWN\r\n")
        self.mode = Mode.OFF
