"""One AT channel: the line discipline of one serial interpreter.

Without the multiplexer the modem has one channel, the plain serial line.
With AT+CMUX each of DLCIs 1-4 is a channel of its own (core/cmux.py): its
own mode, command line, echo and CR/LF state, pending command and the input
held while it runs, data entry (CIPSEND, HTTPDATA, SMS text), transparent
stream, output and deferred URCs. Everything else (the families, the
settings of the module) is shared through the modem.

Which settings are per channel (docs/cmux.md): the result-code framing of
V.25ter and 27.007 (ATE, ATV, ATQ, AT+CMEE). They live in the modem's
``Settings`` while the channel is the one in context (``Modem.ch``) and in
the channel's own ``echo``/``verbose``/``quiet``/``cmee`` otherwise; the
modem swaps them when it changes context (``Modem.use``), so AT&W, ATZ and
AT&V see the channel's own values, and no handler has to know.

A channel is only ever driven while it is the modem's context: the modem
switches to it for its input (``feed``), for the timers it started, for the
network results of the sockets and queries its commands opened, and to
print its URCs. So the output framing here reads ``m.settings`` directly.

The data modes live here too: a channel in ``Mode.DATA`` gives its bytes to
its transparent stream; a family's own data mode (``begin_stream``, e.g.
PPP) gets every byte of the channel until it ends it.

This is the line discipline that was the modem's before the multiplexer; its
rules (SPEC, docs/transcripts.md) are unchanged.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from enum import Enum
from typing import TYPE_CHECKING

from .datamode import TransparentStream
from .events import Send
from .parser import Command, ParseError, parse_line
from .registry import DATA, DONE, FAILED, PENDING, CommandError, Outcome
from .state import Link, LinkState

if TYPE_CHECKING:
    from .config import ModemConfig
    from .modem import Modem
    from .settings import Settings

MAX_LINE = 556  # characters after "AT" (reference 1.6)
MAX_SEND = 1460  # bytes of one CIPSEND
MAX_HELD = 4096  # input kept while a command runs
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
# the per-channel settings (module docstring)
LINE_KEYS = ("echo", "verbose", "quiet", "cmee")


class Mode(Enum):
    COMMAND = "command"
    PROMPT = "prompt"  # CIPSEND variable length, until Ctrl-Z / ESC
    ENTRY = "entry"  # another family's data entry (SMS text or PDU): see begin_line_entry
    FIXED = "fixed"  # CIPSEND=<len>
    DATA = "data"  # transparent data mode
    STREAM = "stream"  # a family's data mode (PPP): see begin_stream
    OFF = "off"  # powered down (AT+CPOWD)


Deferred = bytes | Callable[[], None]


class Channel:
    """One AT interpreter. ``out`` takes its serial output; ``key`` prefixes
    the keys of its own timers ("" for the plain line, so nothing changes
    without the multiplexer); ``hold(want)`` stops or resumes its input while
    a transparent link cannot take more (a plain line: ``HoldSerial``; a
    DLC: 27.010 flow control)."""

    # one per modem of a fleet (bench/fleet_memory.py): no __dict__
    __slots__ = (
        "_busy_rest",
        "_deferred",
        "_entry",
        "_entry_closed",
        "_entry_feed",
        "_entry_len",
        "_entry_link",
        "_entry_sink",
        "_executing",
        "_held",
        "_hold",
        "_last_body",
        "_line",
        "_line_overflow",
        "_partial_expired",
        "_serial_held",
        "_skip_lf",
        "_stream_closed",
        "_stream_feed",
        "_transparent",
        "_tx_dropping",
        "busy",
        "cmee",
        "echo",
        "key",
        "m",
        "mode",
        "name",
        "open",
        "out",
        "quiet",
        "verbose",
    )

    def __init__(
        self,
        modem: Modem,
        out: Callable[[bytes], None],
        key: str = "",
        hold: Callable[[bool], None] | None = None,
        name: str = "line",
    ) -> None:
        self.m = modem
        self.out = out
        self.key = key
        self.name = name
        self._hold = hold
        self.open = True
        # the per-channel settings while another channel is in context
        s = modem.settings
        self.echo, self.verbose, self.quiet, self.cmee = s.echo, s.verbose, s.quiet, s.cmee
        # line discipline
        self.mode = Mode.COMMAND
        self._line = bytearray()
        self._line_overflow = False
        self._skip_lf = False
        self._last_body: str | None = None
        self.busy = False
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
        self._entry_closed: Callable[[], None] | None = None  # its owner's on_close
        self._stream_feed: Callable[[bytes], None] | None = None  # begin_stream
        self._stream_closed: Callable[[], None] | None = None
        # transparent data mode (the stream is made on first use: _stream)
        self._transparent: TransparentStream | None = None
        self._serial_held = False  # hold(True) is in force
        self._tx_dropping = False  # the peer stalled past the guard: drop, keep reading
        # URCs and pushed data waiting for the line to be idle (made on first need)
        self._deferred: deque[Deferred] | None = None

    @property
    def _stream(self) -> TransparentStream:
        stream = self._transparent
        if stream is None:
            stream = self._transparent = TransparentStream(
                self, self._send_transparent, self._escape
            )
        return stream

    def _reset_stream(self) -> None:
        if self._transparent is not None:  # (a stream never made has nothing to drop)
            self._transparent.reset()

    # ------------------------------------------------ what the stream needs

    @property
    def now(self) -> float:
        return self.m.now

    @property
    def config(self) -> ModemConfig:
        return self.m.config

    @property
    def settings(self) -> Settings:
        return self.m.settings

    def start_timer(self, key: str, delay: float, action: Callable[[], None]) -> None:
        self.m.start_timer(self.key + key, delay, action)

    def cancel_timer(self, key: str) -> None:
        self.m.cancel_timer(self.key + key)

    def timer_running(self, key: str) -> bool:
        return self.m.timer_running(self.key + key)

    # ------------------------------------------------ per-channel settings

    def save_line(self, s: Settings) -> None:
        self.echo, self.verbose, self.quiet, self.cmee = s.echo, s.verbose, s.quiet, s.cmee

    def load_line(self, s: Settings) -> None:
        s.echo, s.verbose, s.quiet, s.cmee = self.echo, self.verbose, self.quiet, self.cmee

    # ================================================================ input

    def feed(self, data: bytes) -> None:
        """Bytes from the host for this channel (any size, any content)."""
        i, n = 0, len(data)
        while i < n:
            if self.busy:
                # A command is running: keep its input for later (bounded:
                # a real module's buffer overflows too).
                room = MAX_HELD - len(self._held)
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
            elif mode is Mode.STREAM and self._stream_feed is not None:
                self._stream_feed(data[i:] if i else data)
                return
            elif mode is Mode.ENTRY and self._entry_feed is not None:
                i = self._entry_feed(data, i)
            else:
                return

    def close(self) -> None:
        """The channel is gone (DISC, the multiplexer closed): its own timers
        stop, what it held is forgotten, its output goes nowhere."""
        self.open = False
        closed, self._stream_closed = self._stream_closed, None
        if closed is not None and self.mode is Mode.STREAM:
            closed()
        entry, self._entry_closed = self._entry_closed, None
        if entry is not None and self.mode is Mode.ENTRY:
            entry()
        self._reset_stream()
        self._cancel_timers()
        self._held.clear()
        self._deferred = None
        self._line.clear()
        self.busy = False
        self._busy_rest = []
        self._entry_link = None
        self._entry_sink = None
        self._entry_feed = None
        self._stream_feed = None
        self.mode = Mode.COMMAND

    # ============================================================ output

    def emit(self, data: bytes) -> None:
        self.out(data)

    def info(self, *lines: str) -> None:
        """An information response block (lines separated by one CR LF)."""
        body = "\r\n".join(lines).encode("latin-1", "replace")
        if self.m.settings.verbose:
            self.out(b"\r\n" + body + b"\r\n")
        else:
            self.out(body + b"\r\n")

    def final(self, code: str) -> None:
        """A final result code: OK, ERROR, CONNECT ..."""
        s = self.m.settings
        if s.quiet:
            return
        if s.verbose:
            self.out(b"\r\n" + code.encode() + b"\r\n")
        else:
            self.out(NUMERIC_CODES.get(code, code).encode() + b"\r")

    def error(self, err: CommandError) -> None:
        s = self.m.settings
        if err.cme is None or s.cmee == 0:
            self.final("ERROR")
        elif not s.quiet:
            what = str(err.cme) if s.cmee == 1 else err.code_text()
            self.info(f"{err.prefix}: {what}")

    def urc(self, text: str) -> None:
        """An unsolicited line; it waits while the line is not idle."""
        body = text.encode("latin-1", "replace")
        self.urc_bytes(b"\r\n" + body + b"\r\n" if self.m.settings.verbose else body + b"\r\n")

    def urc_bytes(self, data: Deferred) -> None:
        if self.idle() and not self._deferred:
            if isinstance(data, bytes):
                self.out(data)
            else:
                data()
            return
        if self._deferred is None:
            self._deferred = deque()
        self._deferred.append(data)

    def idle(self) -> bool:
        """May a URC be printed now? Not inside a response (a command line
        being executed or pending, or one being typed with echo on) nor
        inside a data block."""
        if self.mode is not Mode.COMMAND or self.busy or self._executing:
            return False
        if self._line and self.m.settings.echo and not self._partial_expired:
            if not self.timer_running("partial"):
                # a half-typed line must not hold URCs back for ever
                self.start_timer("partial", 2.0, self._expire_partial)
            return False
        return True

    def _expire_partial(self) -> None:
        self._partial_expired = True
        self.flush_deferred()

    def flush_deferred(self) -> None:
        while self._deferred and self.idle():
            item = self._deferred.popleft()
            if isinstance(item, bytes):
                self.out(item)
            else:
                item()

    @property
    def deferred(self) -> deque[Deferred]:
        return self._deferred if self._deferred is not None else deque()

    # ============================================================ command line

    def _feed_command(self, data: bytes, i: int) -> int:
        n = len(data)
        echo = self.m.settings.echo
        if self._skip_lf:
            self._skip_lf = False
            if data[i] == LF:
                i += 1
                if i >= n:
                    return n
        cr = data.find(b"\r", i)
        lf = data.find(b"\n", i)
        end = cr if lf < 0 else lf if cr < 0 else min(cr, lf)
        if end < 0:
            piece = data[i:]
            if echo and piece:
                self.out(piece)
            self._add_to_line(piece)
            return n
        if echo:
            self.out(data[i : end + 1])  # one piece: one frame on a DLC
        self._add_to_line(data[i:end])
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
        wait = self.m.delay("command")
        if wait > 0:
            # the module takes its time to answer; what comes meanwhile waits
            self.busy = True
            self._busy_rest = []
            self.start_timer("command", wait, lambda: self._run_line(line, overflow, True))
            return nxt
        self._run_line(line, overflow, False)
        return nxt

    def _run_line(self, line: bytes, overflow: bool, later: bool) -> None:
        if later:
            self.busy = False
        self._executing = True
        try:
            self._execute_line(line, overflow)
        finally:
            self._executing = False
        if self.mode is not Mode.COMMAND:
            self._skip_lf = False  # the answer is out: what follows is data
        if later:
            self.resume_after_busy()
        elif self.idle():
            self.flush_deferred()

    def _add_to_line(self, piece: bytes) -> None:
        bs = self.m.settings.s5  # ATS5: the editing character (8, backspace)
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

    def _run_commands(self, cmds: Sequence[Command]) -> None:
        done = False
        for k, cmd in enumerate(cmds):
            try:
                outcome = self.m.dispatch(cmd)
            except CommandError as err:
                self.error(err)
                return
            if outcome is FAILED or outcome is DATA:
                return
            if outcome is PENDING:
                self.busy = True
                self._busy_rest = list(cmds[k + 1 :])
                return
            done = outcome is DONE
        if not done:
            self.final("OK")

    def complete(self, error: CommandError | None = None, code: str | None = None) -> None:
        """The pending command finished: its final result (``error``, or a
        result ``code`` such as BUSY that ends the line), then the rest of its
        line, then whatever arrived meanwhile."""
        if not self.busy:
            return
        self.busy = False
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
        self.resume_after_busy()

    def result_later(self, wait: float, text: str) -> None:
        """The module is busy for ``wait`` seconds, then prints ``text``
        (what the host types meanwhile waits, as after any command)."""
        self.busy_for(wait, lambda: self.info(text))

    def busy_for(self, wait: float, action: Callable[[], None]) -> None:
        """The module is busy for ``wait`` seconds, then ``action`` prints
        the result (a command's answer after its data entry: SMS sent)."""
        self.busy = True
        self._busy_rest = []

        def done() -> None:
            self.busy = False
            action()
            self.resume_after_busy()

        self.start_timer("result", wait, done)

    def resume_after_busy(self) -> None:
        if self.idle():
            self.flush_deferred()
        if not self.busy and self._held:
            held = bytes(self._held)
            self._held.clear()
            self.feed(held)

    def clear_line(self) -> None:
        self._line.clear()

    def _cancel_timers(self) -> None:
        """The channel's own timers (a delayed line, a result such as SEND OK
        waiting on its delay, an entry's time-out) stop."""
        for key in ("partial", "command", "result", "cipats", "entry", "stall"):
            self.cancel_timer(key)

    def power_reset(self) -> None:
        """Reboot or power loss: nothing pending survives."""
        self._cancel_timers()
        self.mode = Mode.COMMAND
        self._deferred = None
        self._held.clear()
        self.busy = False  # a command pending at a power loss never completes
        self._busy_rest = []
        self._stream_feed = None
        self._stream_closed = None
        self._entry_feed = None
        self._entry_closed = None  # the families forget their own (SmsService.reset)

    # ============================================================ CIPSEND entry

    def begin_send(self, link: Link, length: int | None) -> Outcome:
        s = self.m.settings
        if s.cipsprt == 1:
            self.out(b"\r\n> ")
        self._entry.clear()
        self._entry_link = link
        self._entry_sink = None
        if length is None:
            self.mode = Mode.PROMPT
            if s.cipats_mode == 1:
                self.start_timer("cipats", s.cipats_time, self._finish_send)
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
        self.flush_deferred()

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
            self.flush_deferred()
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
            self.flush_deferred()
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
        m = self.m
        sprt = m.settings.cipsprt
        if not link.active or link.state is not LinkState.CONNECTED:
            if sprt != 2:
                self.info(f"{m.ip.prefix(link)}SEND FAIL")
        else:
            if data:
                m.request(Send(link.sock, data))
                link.sent += len(data)
            if sprt != 2:
                if m.settings.cipqsend == 1:
                    where = f"{link.n}," if m.multi else ""
                    self.info(f"DATA ACCEPT:{where}{len(data)}")
                else:
                    wait = m.delay("send_ok")
                    if wait > 0:
                        self.result_later(wait, f"{m.ip.prefix(link)}SEND OK")
                        return
                    self.info(f"{m.ip.prefix(link)}SEND OK")
        self.flush_deferred()

    @property
    def entry_size(self) -> int:
        """Bytes of the data entry gathered so far (the fuzzer's bound)."""
        return len(self._entry)

    @property
    def entry_left(self) -> int:
        """Bytes a fixed-length entry still waits for."""
        return self._entry_len - len(self._entry)

    @property
    def sizes(self) -> tuple[int, int, int]:
        """(typed line, held input, data entry) in bytes: the fuzzer's bounds."""
        return len(self._line), len(self._held), len(self._entry)

    # ============================================================ other data entry

    def begin_line_entry(
        self, feed: Callable[[bytes, int], int], on_close: Callable[[], None] | None = None
    ) -> Outcome:
        """The line belongs to ``feed(data, start)`` (it returns how far it
        read) until ``end_line_entry``: SMS text or PDU after a ``> ``, ended
        by the owner's own rule (Ctrl-Z / ESC). ``on_close`` runs if the
        channel goes away meanwhile (its DLC closed, the multiplexer closed)."""
        self._entry_feed = feed
        self._entry_closed = on_close
        self.mode = Mode.ENTRY
        return DATA

    def end_line_entry(self) -> None:
        """Back to command mode; the owner prints its result, then ``settle``."""
        self._entry_feed = None
        self._entry_closed = None
        if self.mode is Mode.ENTRY:
            self.mode = Mode.COMMAND

    def begin_stream(
        self, feed: Callable[[bytes], None], on_close: Callable[[], None] | None = None
    ) -> None:
        """A family's data mode (PPP): every byte of this channel goes to
        ``feed(chunk)`` until ``end_stream``; other channels keep answering
        AT. Output goes through the modem's ``raw_output`` in this channel's
        context (its timers and sockets bring the context back). ``on_close``
        runs if the channel itself goes away meanwhile (its DLC closed)."""
        self._stream_feed = feed
        self._stream_closed = on_close
        self.mode = Mode.STREAM

    def end_stream(self) -> None:
        """Back to command mode (the owner prints NO CARRIER or OK)."""
        self._stream_feed = None
        self._stream_closed = None
        if self.mode is Mode.STREAM:
            self.mode = Mode.COMMAND
            self._skip_lf = False

    # ============================================================ transparent mode

    def enter_data_mode(self) -> None:
        """Print CONNECT and make the line the link's stream."""
        m = self.m
        link = m.ip.links[0]
        if not link.active:
            return
        self.final("CONNECT")
        self.mode = Mode.DATA
        self._stream.start()
        if link.rx:
            self.out(m.ip.take_rx(link, len(link.rx)))

    def end_data_mode(self) -> None:
        """The link of transparent mode is gone: CLOSED, back to commands."""
        self._reset_stream()
        self.mode = Mode.COMMAND
        self.out(b"\r\nCLOSED\r\n")

    def reset_stream(self) -> None:
        self._reset_stream()

    def _escape(self) -> None:
        """``+++`` with its guard times: back to command mode, link open."""
        self.mode = Mode.COMMAND
        self.final("OK")
        self.flush_deferred()

    def _send_transparent(self, data: bytes) -> None:
        link = self.m.ip.links[0]
        if link.state is not LinkState.CONNECTED or not link.sock:
            return
        if link.congested and self._tx_dropping:
            # the peer has not read for longer than the guard time: like a
            # module without flow control, the UART input is lost (and
            # +++ can still be seen)
            link.dropped += len(data)
            return
        self.m.request(Send(link.sock, data))
        link.sent += len(data)

    def pace_rx(self) -> None:
        """AT+CIPCCFG RxMode 1: transparent data goes to the UART in blocks
        of RxSize bytes, Rxtimer ms apart (manual 8.2.22)."""
        m = self.m
        link = m.ip.links[0]
        if self.mode is not Mode.DATA or not link.rx:
            return
        s = m.settings
        self.out(m.ip.take_rx(link, s.ccfg_rxsize))
        self.m.start_timer("rxpace", s.ccfg_rxtimer / 1000, self.pace_rx)

    def sync_hold(self) -> None:
        """Transparent mode's flow control: while the link's send buffer is
        full the line is not read (the host's writes block, nothing is lost).
        A peer that stays stalled past the escape guard time would make
        ``+++`` impossible, so then the line is read again and what cannot
        be sent is dropped until the peer reads (docs/buffers.md)."""
        congested = self.mode is Mode.DATA and self.m.ip.links[0].congested
        want = congested and not self._tx_dropping
        if not congested:
            self._tx_dropping = False
        if want == self._serial_held:
            return
        self._serial_held = want
        if self._hold is not None:
            self._hold(want)
        if want:
            self.start_timer("stall", self.m.config.timing.escape_guard + 1.0, self._stalled)
        else:
            self.cancel_timer("stall")

    def _stalled(self) -> None:
        if self.mode is Mode.DATA and self.m.ip.links[0].congested:
            self._tx_dropping = True
