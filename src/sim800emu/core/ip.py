"""The IP stack of the TCP/IP manual: the PDP context as CIP sees it, the
six links, the module's server, and what the network's results do to them.

Everything that changes the IP state lives here (``state.py`` derives the
STATE text from it); the modem (``modem.py``) holds one ``IpStack`` as
``m.ip`` and stays the hub: it frames what is printed (``urc``, ``info``),
owns the serial line and its data modes, and passes socket results here.
The command modules (``commands/context.py``, ``links.py``, ``server.py``,
``dns.py``) read and change this object.

Receive windows (docs/buffers.md): every link is opened with a window
(``rx_window``); the driver never delivers more, and the room comes back
with ``Modem.grant`` as data leaves the module.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from .config import PUSH_WINDOW
from .events import (
    Accepted,
    Close,
    Congestion,
    Connect,
    Connected,
    ConnectFailed,
    Listen,
    ListenFailed,
    Listening,
    NtpSync,
    NtpTime,
    PeerClosed,
    Ping,
    PingDone,
    PingReply,
    Proto,
    Received,
    Resolve,
    Resolved,
    Result,
    SendFailed,
    StopListen,
)
from .lazy import made
from .registry import CommandError
from .state import (
    Ctx,
    Link,
    LinkState,
    Server,
    ServerState,
    multi_link_state,
    single_link_state,
)

if TYPE_CHECKING:
    from .modem import Modem

MAX_PUSH = 1460  # bytes of one +IPD / +RECEIVE block
SocketResult = Connected | ConnectFailed | Received | PeerClosed | Congestion | SendFailed
SOCKET_RESULTS = (Connected, ConnectFailed, Received, PeerClosed, Congestion, SendFailed)


class IpStack:
    """The context, the links and the server of one modem."""

    def __init__(self, m: Modem) -> None:
        self.m = m
        self.ctx = Ctx.INITIAL
        self.links = [Link(n) for n in range(6)]
        self.server = Server()
        # single-step use: what runs once the context is up
        self._ctx_waiters: list[Callable[[], None]] = []
        self._queries: dict[int, str] = {}  # CDNSGIP query -> name
        self._ping_query = 0
        self._ntp_query = 0

    def handle(self, result: Result) -> None:
        """A result of the network for the IP stack (a CIP link, the server,
        DNS, ping, NTP)."""
        if isinstance(result, SOCKET_RESULTS):  # first: Received is most of what comes
            link = self.link_by_sock(result.sock)
            if link is not None:
                self._on_link_result(link, result)
        elif isinstance(result, Resolved):
            self._on_resolved(result)
        elif isinstance(result, (PingReply, PingDone)):
            self._on_ping(result)
        elif isinstance(result, NtpTime):
            self._on_ntp(result)
        elif isinstance(result, Accepted):
            self._on_accepted(result)
        elif isinstance(result, (Listening, ListenFailed)):
            self._on_listen_result(result)

    def _on_link_result(self, link: Link, result: SocketResult) -> None:
        if type(result) is Received:  # data: most of what a busy link gets
            self._on_received(link, result.data, result.from_ip, result.from_port)
        elif isinstance(result, Connected):
            self._on_connected(link, result)
        elif isinstance(result, ConnectFailed):
            if result.remote_ip:
                link.remote_ip = result.remote_ip
            if result.handshake:
                # CIPSSL=1 and the TLS handshake failed: the module closes the
                # link it had opened (reference 3, AT+CIPSTART: CLOSE OK)
                link.closed(locally=False)
                self.m.urc(f"{self.prefix(link)}CLOSE OK")
            else:
                self._on_connect_failed(link)
        elif isinstance(result, PeerClosed):
            self._on_peer_closed(link)
        elif isinstance(result, Congestion):
            link.congested = result.full
        # SendFailed: SEND OK was already printed when the kernel took the bytes

    def drop_link(self, link: Link) -> None:
        """The network drops ``link`` (the drop-link fault): CLOSED, as if
        the peer had closed it."""
        if link.active:
            self.m.request(Close(link.sock, quick=True))
            self._on_peer_closed(link)

    def state_text(self) -> str:
        if self.m.multi:
            return multi_link_state(self.ctx, self.links, self.server)
        return single_link_state(self.ctx, self.links[0], self.server)

    @property
    def activating(self) -> bool:
        """A single-step context activation is running (IP CONFIG)."""
        return self.ctx is Ctx.CONFIG and bool(self._ctx_waiters)

    def link_by_sock(self, sock: int) -> Link | None:
        if sock == 0:
            return None
        for link in self.links:
            if link.sock == sock:
                return link
        return None

    def prefix(self, link: Link) -> str:
        """``"<n>, "`` in multi-link mode, nothing in single-link mode."""
        return f"{link.n}, " if self.m.multi else ""

    def bring_up_context(self, then: Callable[[], None]) -> None:
        """Single-step use (CIPSTART/CIPSERVER from IP INITIAL): CSTT, CIICR
        and CIFSR happen by themselves, then ``then`` runs."""
        self._ctx_waiters.append(then)
        if self.ctx is Ctx.CONFIG:
            return
        self.ctx = Ctx.CONFIG
        self.m.radio.attached = True

        def up() -> None:
            self.ctx = Ctx.STATUS
            waiters, self._ctx_waiters = self._ctx_waiters, []
            for w in waiters:
                w()

        self.m.start_timer("ctx-up", self.m.delay("ciicr"), up)

    def drop_links(self) -> None:
        """Close every link and the server without printing anything
        (CIPSHUT, context loss, reboot)."""
        self.close_all()
        for link in self.links:
            link.reset()
        self.server = Server()
        self._ctx_waiters.clear()
        self.m.cancel_timer("ctx-up")
        self.m.reset_stream()

    def shut(self) -> None:
        """CIPSHUT: everything closed, context deactivated → IP INITIAL."""
        self.drop_links()
        self.m.cancel_timer("ciicr")
        self.ctx = Ctx.INITIAL

    def lose_bearer(self) -> None:
        """The network closed the SAPBR bearers: +SAPBR <cid>: DEACT each."""
        for cid in self.m.bearers.drop_all():
            self.m.http.bearer_closed(cid)
            self.m.ftp.bearer_closed(cid)
            self.m.urc(f"+SAPBR {cid}: DEACT")

    def lose_context(self) -> None:
        """The network dropped the PDP context (+PDP: DEACT); a SAPBR bearer
        goes with it (reference 6: AT+CFUN=0), and so does a dial-up call
        (NO CARRIER)."""
        if made(self.m, "ppp"):
            self.m.ppp.context_lost()
        self.lose_bearer()
        if self.ctx in (Ctx.INITIAL, Ctx.START, Ctx.DEACT):
            return
        was_data = self.m.in_data_mode
        self.drop_links()
        self.ctx = Ctx.DEACT
        if was_data:
            self.m.end_data_mode()
        self.m.urc("+PDP: DEACT")

    @property
    def usable_dns(self) -> tuple[str, ...]:
        """The CDNSCFG servers that are set (0.0.0.0 means none)."""
        return tuple(d for d in self.m.dns if d and d != "0.0.0.0")

    def open_link(self, link: Link, proto: Proto, host: str, port: int) -> None:
        """Start a client link (the context is up or coming up)."""
        sock = self.m.new_sock()
        link.open(sock, proto, host, port)
        if self.ctx is not Ctx.STATUS and not self.m.radio.gprs_registered:
            # single-step with no network: the activation fails
            self._on_connect_failed(link)
            return
        local = self.m.settings.clport_tcp if proto == "TCP" else self.m.settings.clport_udp
        tls = self.m.settings.cipssl == 1 and proto == "TCP"

        def go() -> None:
            if link.sock != sock:
                return  # closed meanwhile
            self.m.request(
                Connect(
                    sock,
                    proto,
                    host,
                    port,
                    dns=self.usable_dns,
                    local_port=0 if self.m.multi else local,
                    tls=tls,
                    rx_window=self.rx_window(),
                )
            )

        wait = self.m.delay("connect") + (self.m.delay("tls") if tls else 0.0)
        if wait > 0:
            # the network's own time to connect (and to shake hands) beside the real one
            go = self.m.after(f"open{sock}", wait, go)
        if self.ctx is Ctx.STATUS:
            go()
        else:
            self.bring_up_context(go)

    def close_link(self, link: Link, quick: bool = False) -> None:
        """CIPCLOSE: the caller prints CLOSE OK."""
        if link.sock:
            self.m.request(Close(link.sock, quick))
        link.closed(locally=True)
        link.rx.clear()
        if link is self.links[0] and self.m.transparent:
            self.m.reset_stream()

    def resolve(self, name: str) -> int:
        query = self.m.new_query()
        self._queries[query] = name
        req = Resolve(query, name, self.usable_dns)
        wait = self.m.delay("dns")
        if wait > 0:
            self.m.start_timer(f"dns{query}", wait, lambda: self.m.request(req))
        else:
            self.m.request(req)
        return query

    def ping(self, host: str, count: int, size: int, timeout: float, ttl: int) -> None:
        """AT+CIPPING (a pending command: the replies come as results)."""
        query = self.m.new_query()
        self._ping_query = query
        dns = self.usable_dns
        self.m.request(Ping(query, host, count, size, timeout, ttl, dns))

    def ntp_sync(self) -> None:
        query = self.m.new_query()
        self._ntp_query = query
        dns = self.usable_dns
        self.m.request(NtpSync(query, self.m.ntp_server, 123, dns))

    def _on_ntp(self, res: NtpTime) -> None:
        if res.query != self._ntp_query:
            return
        self._ntp_query = 0
        if res.unix_time is None:
            self.m.urc(f"+CNTP: {res.error or 61}")
            return
        self.m.radio.set_clock_unix(res.unix_time, self.m.ntp_tz, self.m.now)
        self.m.urc("+CNTP: 1")

    def _on_ping(self, res: PingReply | PingDone) -> None:
        if res.query != self._ping_query:
            return
        if isinstance(res, PingReply):
            if res.time_ms is None:  # time-out: what the module prints
                self.m.info(f'+CIPPING: {res.seq},"{res.ip}",600,255')
            else:
                ms = max(1, round(res.time_ms / 100))  # in units of 100 ms
                self.m.info(f'+CIPPING: {res.seq},"{res.ip}",{ms},{res.ttl}')
            return
        self._ping_query = 0
        self.m.complete(CommandError(None) if res.error else None)

    def listen(self, proto: Proto, port: int, blog: int) -> None:
        sock = self.m.new_sock()
        self.server = Server(ServerState.OPENING, sock, port, proto, blog)
        if self.ctx is not Ctx.STATUS and not self.m.radio.gprs_registered:
            self._on_listen_result(ListenFailed(sock, "no network"))
            return

        def go() -> None:
            if self.server.sock == sock:
                self.m.request(Listen(sock, proto, port, self.rx_window()))

        if self.ctx is Ctx.STATUS:
            go()
        else:
            self.bring_up_context(go)

    def stop_listening(self) -> None:
        if self.server.sock:
            self.m.request(StopListen(self.server.sock))
        self.server = Server()

    def _on_connected(self, link: Link, res: Connected) -> None:
        link.state = LinkState.CONNECTED
        if res.remote_ip:
            link.remote_ip = res.remote_ip
        if self.m.transparent and link.n == 0:
            self.m.urc_bytes(self.m.enter_data_mode)
        else:
            self.m.urc(f"{self.prefix(link)}CONNECT OK")

    def _on_connect_failed(self, link: Link) -> None:
        link.closed(locally=False)
        if self.m.multi:
            self.m.urc(f"{link.n}, CONNECT FAIL")
        else:
            self.m.urc(f"STATE: {self.state_text()}")
            self.m.urc("CONNECT FAIL")

    def _on_received(self, link: Link, data: bytes, from_ip: str = "", from_port: int = 0) -> None:
        """Data from the peer. The driver never delivers more than the link's
        receive window (``config.rx_buffer``); the window reopens by what
        leaves the module (``grant``): pushed to the serial line, or read
        with AT+CIPRXGET=2/3 (docs/buffers.md)."""
        if not data:
            return
        if self.m.transparent and link.n == 0:
            if not self.m.in_data_mode:
                link.rx += data  # shown after ATO
            elif self.m.settings.ccfg_rxmode == 1:
                link.rx += data  # paced out: RxSize bytes every Rxtimer ms
                if not self.m.timer_running("rxpace"):
                    self.m.pace_rx()
            else:
                self.m.raw_output(data)
                self.m.grant(link, len(data))
            return
        if self.m.settings.ciprxget == 1:
            was_empty = not link.rx
            link.rx += data
            if was_empty:
                self.m.urc("+CIPRXGET: 1" + (f",{link.n}" if self.m.multi else ""))
            return
        sock = link.sock

        def push() -> None:
            # blocks of at most 1460 bytes, each with its header
            for start in range(0, len(data), MAX_PUSH):
                block = data[start : start + MAX_PUSH]
                self.m.raw_output(self._push_header(link, len(block), from_ip, from_port))
                self.m.raw_output(block)
            if link.sock == sock:
                self.m.grant(link, len(data))

        self.m.urc_bytes(push)

    def _push_header(self, link: Link, size: int, from_ip: str = "", from_port: int = 0) -> bytes:
        """What precedes pushed data (reference 3, receive headers)."""
        if self.m.multi:
            return f"\r\n+RECEIVE,{link.n},{size}:\r\n".encode()
        s = self.m.settings
        head = ""
        if s.cipsrip:
            ip, port = (from_ip, from_port) if from_ip else (link.remote_ip, link.remote_port)
            head += f"\r\nRECV FROM:{ip}:{port}\r\n"
        if s.ciphead:
            proto = f",{link.proto}" if s.cipshowtp else ""
            head += f"\r\n+IPD,{size}{proto}:"
        return head.encode()

    def take_rx(self, link: Link, size: int) -> bytes:
        """Up to ``size`` buffered bytes of ``link`` (AT+CIPRXGET=2/3); the
        room they leave reopens the receive window."""
        data = bytes(link.rx[:size])
        del link.rx[:size]
        self.m.grant(link, len(data))
        return data

    def _on_peer_closed(self, link: Link) -> None:
        link.closed(locally=False)
        if self.m.transparent and link.n == 0:
            self.m.reset_stream()
            if self.m.in_data_mode:
                if link.rx:  # still being paced out (CIPCCFG RxMode 1)
                    self.m.raw_output(bytes(link.rx))
                    link.rx.clear()
                self.m.end_data_mode()
                self.m.flush_urcs()
                return
            if link.rx:
                # received in command mode, never shown: deliver before CLOSED
                data = bytes(link.rx)
                link.rx.clear()
                self.m.urc_bytes(data)
        self.m.urc(f"{self.prefix(link)}CLOSED")

    def _on_listen_result(self, res: Listening | ListenFailed) -> None:
        if res.sock != self.server.sock or not res.sock:
            return
        if isinstance(res, Listening):
            self.server.state = ServerState.LISTENING
            self.m.urc("SERVER OK")
        else:
            self.server = Server()
            self.m.urc("CONNECT FAIL")

    def _on_accepted(self, res: Accepted) -> None:
        server = self.server
        if res.server != server.sock or server.state is not ServerState.LISTENING:
            self.m.request(Close(res.sock))
            return
        clients = sum(1 for link in self.links if link.accepted and link.active)
        if self.m.multi:
            free = [link for link in self.links if not link.active]
        else:
            free = [self.links[0]] if not self.links[0].active else []
        if not free or clients >= server.blog:
            self.m.request(Close(res.sock))
            return
        link = free[0]
        link.open(res.sock, server.proto, res.remote_ip, res.remote_port, accepted=True)
        self.m.urc(f"{self.prefix(link)}REMOTE IP: {res.remote_ip}")
        if self.m.transparent and link.n == 0:
            self.m.urc_bytes(self.m.enter_data_mode)

    def _on_resolved(self, res: Resolved) -> None:
        name = self._queries.pop(res.query, None)
        if name is None:
            return
        if res.addresses:
            ips = ",".join(f'"{ip}"' for ip in res.addresses[:2])
            self.m.urc(f'+CDNSGIP: 1,"{name}",{ips}')
        else:
            self.m.urc(f"+CDNSGIP: 0,{res.error or 8}")

    def rx_window(self) -> int:
        """The receive window of a link opened now: the module's buffer with
        AT+CIPRXGET=1 (what waits there is what AT+CIPRXGET=4 counts), else
        what may be on its way to the UART (docs/buffers.md)."""
        if self.m.settings.ciprxget == 1 and not self.m.transparent:
            return self.m.config.rx_buffer
        return max(PUSH_WINDOW, self.m.config.rx_buffer)

    def close_all(self) -> None:
        for link in self.links:
            if link.sock:
                self.m.request(Close(link.sock))
                link.closed(locally=True)
        if self.server.sock:
            self.m.request(StopListen(self.server.sock))
            self.server = Server()
