"""One dial-up call: the PPP link and the IP terminator joined to a modem.

``Modem.ppp`` holds one ``PppSession`` for the modem's life; a *call* runs
from ``CONNECT`` (ATD*99#, AT+CGDATA="PPP") to ``NO CARRIER`` (or ATH), on
the channel that dialled (the plain line, or a DLC under AT+CMUX).
While the call is *online* that channel belongs to PPP (``begin_stream``):
every byte goes, through the ``+++`` guard-time filter of transparent mode, to the
link (``PppLink``, RFC 1661/1662), whose IPv4 datagrams go to the
terminator (``Terminator``) and back. After ``+++`` (or DTR off with
AT&D1) the call is *held*: the line is in command mode, the link and its
connections stay up, and what the link would send waits (bounded) for
``ATO``.

The call ends, always with the context deactivated, when

* the client's LCP terminates the link, or the negotiation fails
  (``on_down``): ``NO CARRIER``;
* the network drops the context (``ctl pdp-deact``, AT+CGATT=0, AT+CFUN=0,
  ``ctl hangup``): online, the link first sends its Terminate-Request
  (``close``), then ``NO CARRIER``; held, ``NO CARRIER`` at once (the TE is
  in command mode and takes no PPP frames);
* ATH (held): at once, no PPP frame, and ATH's own ``OK``;
* DTR off with AT&D2: at once, ``NO CARRIER``;
* power loss, reboot, the DLC closed: silently (``abort``).

Choices where the manual is silent are in docs/ppp.md.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from ..channel import Channel, Mode
from ..datamode import TransparentStream
from ..events import CallerHangup
from .link import PppLink
from .terminator import Terminator

if TYPE_CHECKING:
    from ..config import ModemConfig
    from ..modem import Modem
    from ..settings import Settings

HELD_LIMIT = 64 * 1024  # link output kept for ATO while the call is held
# The module's first LCP Configure-Request follows CONNECT this much later,
# in a read of its own: esp_modem drops PPP bytes that come in the same read
# as CONNECT, and would then wait for our restart timer (docs/ppp.md).
# Bytes from the client before then start the link at once.
LCP_START_DELAY = 0.05
CONNECT = "CONNECT"


class LinkLike(Protocol):
    """What the session uses of ``link.PppLink`` (see the PPP contract)."""

    on_output: Callable[[bytes], None]
    on_ip: Callable[[bytes], None]
    on_up: Callable[[], None]
    on_down: Callable[[str], None]
    opened: bool
    client_mru: int
    stats: dict[str, int]

    def start(self) -> None: ...
    def feed(self, data: bytes) -> None: ...
    def send_ip(self, packet: bytes) -> None: ...
    def close(self, reason: str = "closed") -> None: ...
    def abort(self) -> None: ...


class TerminatorLike(Protocol):
    """What the session uses of ``terminator.Terminator``."""

    on_packet: Callable[[bytes], None]
    stats: dict[str, int]
    mss: int  # lowered to the client's MRU - 40 once IPCP is up
    line_rate: float  # bytes/s of the serial line (0: not modelled)

    def packet(self, data: bytes) -> None: ...
    def close_all(self) -> None: ...


class _EscapeFilter(TransparentStream):
    """Transparent mode's ``+++`` detector (guard times, CIPCCFG esc) with
    no packing: whatever is not an escape goes to the link at once."""

    def _queue(self, chunk: bytes) -> None:
        self._send(chunk)


class _FilterHost:
    """The escape filter's clock, settings and timers: the modem's, with
    keys of its own (``ppp.esc``), so the channel's transparent stream and
    the filter never cancel each other's timers."""

    def __init__(self, m: Modem) -> None:
        self.m = m

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
        self.m.start_timer("ppp." + key, delay, action)

    def cancel_timer(self, key: str) -> None:
        self.m.cancel_timer("ppp." + key)


class PppSession:
    def __init__(self, m: Modem) -> None:
        self.m = m
        self.link: LinkLike | None = None
        self.term: TerminatorLike | None = None
        self.ch: Channel = m.line  # the channel of the call
        self.cid = 1
        self.online = False  # the serial line is PPP's (else: held, or no call)
        self.dialling = False  # ATD / CGDATA waits for the context
        self.dtr = True  # the TE's DTR (ctl dtr on|off; a pty has none)
        self.calls = 0  # calls connected since power-on
        self.last_end = ""  # why the last call ended (ctl status)
        self._held: list[bytes] = []
        self._held_size = 0
        self.held_dropped = 0  # link output lost while held (over HELD_LIMIT)
        self._closing = False  # close() sent, on_down awaited
        self._started = False  # link.start() was called for this call
        self._filter = _EscapeFilter(_FilterHost(m), self._from_serial, self._escape)
        # the PPP bytes as they pass, for the traffic log: (to_host, bytes)
        self.tap: Callable[[bool, bytes], None] | None = None
        self._line_rate = 0.0

    # ------------------------------------------------------------ state

    @property
    def call(self) -> bool:
        """A call is up (online or held)."""
        return self.link is not None

    @property
    def held(self) -> bool:
        """A call waits in command mode (after ``+++`` or DTR off): ATO resumes it."""
        return self.link is not None and not self.online and not self._closing

    def can_resume(self) -> bool:
        """ATO on the channel in context resumes the held call: it is the
        call's own channel."""
        return self.held and self.m.ch is self.ch

    @property
    def dcd(self) -> bool:
        """Circuit 109 as AT&C says: 0 always on, 1 on while a call is up."""
        return self.m.settings.dcd == 0 or self.call

    def status_text(self) -> str:
        """For ``ctl status``: the call, DTR and DCD; empty for a modem that
        never dialled, with DTR on and DCD off (the quiet default)."""
        s = self.m.settings
        if self.link is not None:
            what = "online" if self.online else "held (ATO resumes)"
            ipcp = "IPCP opened" if self.link.opened else "negotiating"
            st = self.link.stats
            frames = f"{st.get('frames_in', 0)}/{st.get('frames_out', 0)} frames in/out"
            bad = sum(st.get(k, 0) for k in ("bad_fcs", "too_long", "runts"))
            call = f"ppp cid {self.cid} {what}, {ipcp}, {frames}" + (f", {bad} bad" if bad else "")
        elif self.dialling:
            call = "ppp dialling"
        elif self.last_end:
            call = f"ppp idle (last call: {self.last_end})"
        elif self.dtr and not self.dcd:
            return ""
        else:
            call = "ppp idle"
        lines = f"DTR {'on' if self.dtr else 'off'} (&D{s.dtr}), DCD {'on' if self.dcd else 'off'} (&C{s.dcd})"
        return f"{call}; {lines}"

    @property
    def line_rate(self) -> float:
        """Bytes per second of the serial line (``--baud``, AT+IPR; 0: a
        fast pty): the terminator's TCP timers start when a segment has
        left the line (docs/ppp-ip.md). The runtime sets it."""
        return self._line_rate

    @line_rate.setter
    def line_rate(self, rate: float) -> None:
        self._line_rate = rate
        if self.term is not None:
            self.term.line_rate = self._payload_rate()

    def _payload_rate(self) -> float:
        """The line's rate as PPP has it: on a DLC of the multiplexer each
        UIH frame of up to N1 octets costs 6 more (flags, address, control,
        length, FCS; 7 with a two-octet length), docs/cmux.md."""
        mux = self.m.mux
        if mux is None or self.ch is self.m.line:
            return self._line_rate
        n1 = mux.n1_of(self.ch)
        return self._line_rate * n1 / (n1 + (6 if n1 < 128 else 7))

    def stats(self) -> dict[str, int]:
        out: dict[str, int] = {"calls": self.calls, "held_dropped": self.held_dropped}
        if self.link is not None:
            out.update({f"link.{k}": v for k, v in self.link.stats.items()})
        if self.term is not None:
            out.update({f"ip.{k}": v for k, v in self.term.stats.items()})
        return out

    # ------------------------------------------------------------ dialling

    def connect(self, cid: int, *, pending: bool) -> None:
        """The context is up: ``CONNECT`` and the line is PPP's. ``pending``:
        the dial command waited for the context (its final result now)."""
        m = self.m
        self.dialling = False
        self.cid = cid
        self.ch = m.ch  # the dialling channel (its timer brought it back)
        m.pdp_active = True
        m.radio.attached = True
        link, term = self._make(cid)
        self.link, self.term = link, term
        link.on_output = self._to_serial
        link.on_ip = term.packet
        link.on_up = self._up
        link.on_down = self._down
        term.on_packet = link.send_ip
        self.calls += 1
        self._closing = False
        self._go_online()
        self._started = False
        if pending:
            m.complete(code=self.connect_code())
        else:
            m.final(self.connect_code())
        if self.link is link and not self._started:
            m.start_timer("ppp.start", LCP_START_DELAY, self._start_link)

    def _start_link(self) -> None:
        if self.link is not None and not self._started:
            self._started = True
            self.m.cancel_timer("ppp.start")
            self.link.start()

    def _make(self, cid: int) -> tuple[LinkLike, TerminatorLike]:
        m = self.m
        cfg = m.config.ppp
        dns = tuple(
            d if _routable(d) else cfg.dns_fallback for d in m.dns
        )
        dns2 = (dns[0], dns[1] if len(dns) > 1 else dns[0])
        link_cls, term_cls = _classes()
        link: LinkLike = link_cls(
            m, client_ip=m.local_ip, dns=dns2, auth=cfg.auth, restart=cfg.restart, key="ppp"
        )
        # the fallback DNS address exists only in the emulator (docs/ppp-ip.md)
        local = tuple(a for a in (cfg.dns_fallback,) if a in dns2)
        term: TerminatorLike = term_cls(
            m, client_ip=m.local_ip, dns_servers=dns2, host_alias=cfg.host_alias,
            local_addrs=local, key="ppp.ip",
        )
        term.line_rate = self._payload_rate()
        return link, term

    def connect_code(self) -> str:
        """``CONNECT``, or with ATX>0 ``CONNECT <text>`` (``--connect-text``;
        V0 prints the code's digit alone)."""
        m = self.m
        text = m.config.ppp.connect_text
        if text and m.settings.atx > 0 and m.settings.verbose:
            return f"{CONNECT} {text}"
        return CONNECT

    def _go_online(self) -> None:
        self.online = True
        self.ch.begin_stream(self.feed, self._channel_gone)
        self._filter.start()
        if self._held:
            data = b"".join(self._held)
            self._held, self._held_size = [], 0
            self.ch.out(data)
            if self.tap is not None:
                self.tap(True, data)

    # ------------------------------------------------------------ the line

    def feed(self, data: bytes) -> None:
        """Serial bytes in PPP data mode."""
        self._filter.feed(data)

    def _from_serial(self, data: bytes) -> None:
        if self.link is not None:
            if not self._started:
                self._start_link()  # the client did not wait for our request
            if self.tap is not None:
                self.tap(False, data)
            self.link.feed(data)

    def _to_serial(self, data: bytes) -> None:
        if self.online:
            self.ch.out(data)  # whichever channel is in context now
            if self.tap is not None:
                self.tap(True, data)
            return
        if self.link is None:
            return
        if self._held_size + len(data) > HELD_LIMIT:
            self.held_dropped += len(data)
            return
        self._held.append(data)
        self._held_size += len(data)

    def _escape(self) -> None:
        """``+++`` with its guard times: OK, command mode, the call held."""
        self.suspend()
        self._say(lambda: self.ch.final("OK"))

    def suspend(self) -> None:
        """Command mode with the call kept (``+++``, DTR off with AT&D1)."""
        self.online = False
        self._filter.reset()
        self.ch.end_stream()

    def _say(self, what: Callable[[], None]) -> None:
        """Print on the call's channel (its ATV/ATQ in force), then the URCs
        that waited there."""
        m = self.m
        prev = m.use(self.ch)
        try:
            what()
            self.ch.flush_deferred()
        finally:
            m.use(prev)

    def resume(self) -> None:
        """ATO: ``CONNECT`` and back to PPP (the rule checked ``held``)."""
        self.m.final(self.connect_code())
        self._go_online()

    # ------------------------------------------------------------ the end

    def _up(self) -> None:
        """IPCP opened: nothing to print (the client knows); the terminator's
        segments fit the client's MRU."""
        if self.link is not None and self.term is not None:
            mss = max(536, self.link.client_mru - 40)
            self.term.mss = min(self.term.mss, mss)

    def _down(self, reason: str) -> None:
        """The link ended (the client's Terminate, failed negotiation, or
        our close() done): NO CARRIER."""
        self._end(reason, "NO CARRIER")

    def hang_up(self) -> None:
        """ATH (in command mode, the call held): at once, no PPP frame."""
        if self.link is not None:
            self._end("ATH", None)
        self._cancel_dial()

    def context_lost(self, reason: str = "context deactivated") -> None:
        """The network dropped the context, or the radio went off: online,
        the link says Terminate-Request first; held, NO CARRIER at once;
        while dialling, the dial command ends with NO CARRIER."""
        if self._cancel_dial():
            self.m.complete(code="NO CARRIER")
        link = self.link
        if link is None or self._closing:
            return
        if self.online:
            self._closing = True
            if self.term is not None:
                self.term.close_all()
            link.close(reason)
        else:
            self._end(reason, "NO CARRIER")

    def _channel_gone(self) -> None:
        """The call's DLC closed (or the multiplexer ended) while online."""
        self.online = False
        self.abort()

    def abort(self) -> None:
        """Power loss, reboot, shutdown: gone without a word."""
        self._cancel_dial()
        if self.link is not None:
            self._end("power", None)
        self._held, self._held_size = [], 0

    def far_end(self, event: object) -> bool:
        """``ctl hangup`` (``CallerHangup``) while a dial-up call is up and no
        voice call: the network ends the dial-up call. Taken?"""
        if isinstance(event, CallerHangup) and self.call and not self.m.voice.busy:
            self.context_lost("network hang-up")
            return True
        return False

    def set_dtr(self, on: bool) -> None:
        """DTR ON->OFF acts per AT&D (manual 2.2.29) while online."""
        was, self.dtr = self.dtr, on
        if on or not was or not self.online:
            return
        mode = self.m.settings.dtr
        if mode == 1:
            self._escape()
        elif mode == 2:
            self._end("DTR off", "NO CARRIER")

    def _cancel_dial(self) -> bool:
        """Stop a dial that waits for the context; was there one?"""
        if not self.dialling:
            return False
        self.dialling = False
        self.m.cancel_timer("ppp-dial")
        return True

    def _end(self, reason: str, code: str | None) -> None:
        m = self.m
        link, term = self.link, self.term
        self.link = self.term = None
        was_online = self.online
        self.online = False
        self._closing = False
        self._held, self._held_size = [], 0
        self._filter.reset()
        m.cancel_timer("ppp.start")
        self.last_end = reason
        if term is not None:
            term.close_all()
        if link is not None:
            link.abort()  # no output, no callback (a no-op once it is down)
        m.pdp_active = False  # the call's context goes with it
        ch = self.ch
        if ch.mode is Mode.STREAM:
            ch.end_stream()
        if code is None or not ch.open:
            return
        if was_online:
            self._say(lambda: ch.final(code))
        else:
            self._say(lambda: ch.urc_bytes(lambda: ch.final(code)))


def _routable(addr: str) -> bool:
    """Can a PPP client send packets to ``addr`` (not 0.0.0.0, not 127/8)?"""
    return addr not in ("", "0.0.0.0") and not addr.startswith("127.")


def _classes() -> tuple[Callable[..., LinkLike], Callable[..., TerminatorLike]]:
    """PppLink and Terminator (tests put fakes here)."""
    return PppLink, Terminator
