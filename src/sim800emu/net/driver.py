"""The network driver: performs the modem core's socket requests with real
sockets on the host (asyncio) and hands the results back.

Theory of operation
-------------------
The core names every link by an integer ``sock``; this driver keeps one
:class:`_Link` per live id (client links: the core's positive ids; accepted
links: negative ids allocated here, ``-1, -2, ...``, never reused).

Every result goes through :meth:`NetDriver._emit`, which schedules it with
``loop.call_soon``. All protocol callbacks run on the loop, in the order the
kernel reported the events, and ``call_soon`` is FIFO, so a link's results
reach ``deliver`` in order: ``Connected``/``Accepted`` first, then
``Received``..., then ``PeerClosed``. Nothing is ever delivered from inside
:meth:`NetDriver.submit`.

At delivery time a result is dropped when its link was closed by the core
(``Close``/``StopListen`` submitted meanwhile) or when :meth:`close_all` ran
since it was scheduled: after ``Close(sock)`` nothing more is delivered for
that link, even what was already read.

Every link has a receive window (``Connect.rx_window``, ``Listen.rx_window``
for accepted links): the driver delivers at most that many bytes until the
core frees room with ``ReadCredit``. It reads ahead at most one more window
(the read buffer it hands the kernel is never larger than the room left),
so that a credit is answered at once, and then stops reading: the kernel's
buffer fills and the peer's TCP window closes, as with a module whose buffer
is full. A peer's close is reported after what was read ahead. A UDP datagram larger than the free window is dropped, as a full
module drops it.

Reading is also stopped for a link when the core asked (``PauseReading``) or
the serial side is backed up (:meth:`pause_all`); it resumes only when none
of the three applies. While a link is stopped, data already read (and
scheduled) is held back, so the core sees no ``Received`` for a paused link
until it is resumed.

Sending: a link whose transport buffers more than ``SEND_HIGH`` unsent bytes
(the peer does not read) reports ``Congestion(full=True)``, and
``Congestion(full=False)`` once it drained below ``SEND_LOW``; the core then
refuses sends to that link instead of the serial line stalling.

Destinations and what the core sees
-----------------------------------
For ``Connect`` the host is resolved (IP literal, hosts table, then DNS at the
modem's servers; see :mod:`sim800emu.net.resolver`), then the route table may
rewrite the destination (see :mod:`sim800emu.net.policy`), matching first the
name the firmware gave (then no DNS query is made for it) and else the
resolved IP. The allow/deny lists are checked on the rewritten destination.

The core is always told the address the firmware asked for, *before* route
rewriting: ``Connected.remote_ip``/``remote_port`` and the ``from_ip``/
``from_port`` of ``Received`` on client links are the resolved address and
the requested port, so ``AT+CIPSTATUS`` and ``RECV FROM`` show what the
firmware expects. (For a name matched by a route, ``remote_ip`` is the
hosts-table entry of the name if any, else the route's target.) TLS uses the
name the firmware gave for SNI and for certificate checks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
import threading
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, cast

from sim800emu.core.events import (
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
    PauseReading,
    PeerClosed,
    Ping,
    PingDone,
    PingReply,
    PortUnreachable,
    ReadCredit,
    Received,
    Request,
    Resolve,
    Resolved,
    Result,
    ResumeReading,
    Send,
    SendFailed,
    Shutdown,
    StopListen,
)
from sim800emu.net import ntp, ping
from sim800emu.net.config import NetConfig
from sim800emu.net.policy import (
    canonical_destination,
    find_route,
    is_permitted,
    normalize_host,
    parse_address,
)
from sim800emu.net.resolver import ERR_NOT_FOUND, Resolution, Resolver
from sim800emu.writebatch import defer

__all__ = ["NetDriver"]

_log = logging.getLogger("sim800emu.net")

Deliver = Callable[[Result], None]

DRAIN_TIMEOUT = 60.0
"""Seconds a gracefully closed link may take to flush what it was sent."""

READ_MAX = 256 * 1024  # the largest single read (asyncio's own)
SEND_HIGH = 64 * 1024  # unsent bytes on a link before it is congested
SEND_LOW = 16 * 1024

_scratch = threading.local()  # one read buffer per thread (reads never interleave)


def _read_buffer(size: int) -> memoryview:
    buf: memoryview | None = getattr(_scratch, "buf", None)
    if buf is None:
        buf = _scratch.buf = memoryview(bytearray(READ_MAX))
    return buf[:size]


class _Owner:
    """Something results belong to; once ``closed``, its results are dropped."""

    __slots__ = ("closed", "queued")

    def __init__(self) -> None:
        self.closed = False
        self.queued = 0  # results emitted and not dispatched yet


class _Link(_Owner):
    """One socket the core knows: a client link, an accepted TCP connection
    or one remote of a UDP server (``listener`` set, no transport of its own)."""

    __slots__ = (
        "ahead",
        "congested",
        "connected",
        "credit",
        "eof_pending",
        "half_close",
        "held",
        "icmp_errors",
        "listener",
        "lost",
        "out",
        "paused",
        "peer_closed",
        "peer_ip",
        "peer_port",
        "reading",
        "remote",
        "shut",
        "sock",
        "task",
        "transport",
        "udp",
        "window",
    )

    def __init__(self, sock: int, udp: bool, listener: _Listener | None = None) -> None:
        super().__init__()
        self.sock = sock
        self.udp = udp
        self.listener = listener
        self.transport: asyncio.BaseTransport | None = None
        # What the core is told about the peer (before route rewriting).
        self.peer_ip = ""
        self.peer_port = 0
        # The address really used (UDP: where datagrams go / come from).
        self.remote: tuple[Any, ...] | None = None
        self.task: asyncio.Task[None] | None = None
        self.connected = False
        self.peer_closed = False
        self.half_close = False  # Connect.half_close: sending goes on after the peer's FIN
        self.icmp_errors = False  # Connect.icmp_errors: PortUnreachable reported (UDP)
        self.shut = False  # Shutdown: nothing more is sent (half-close)
        self.lost = False  # the transport is gone
        self.paused = False  # PauseReading from the core
        self.reading = True  # the transport's actual state
        self.held: deque[Result] = deque()  # read while stopped, not delivered yet
        self.credit: int | None = None  # bytes the core takes now; None: no window
        self.window = 0  # the receive window (read-ahead holds at most this much more)
        self.ahead = bytearray()  # read beyond the credit, delivered as credit comes
        self.eof_pending = False  # the peer closed while data was still ahead
        self.congested = False  # Congestion(full=True) reported last
        self.out: bytearray | None = None  # sent this loop turn, not yet written (TCP)

    def write_out(self) -> None:
        """Hand what was sent this loop turn to the transport (writebatch)."""
        out, self.out = self.out, None
        transport = self.transport
        if out and transport is not None and not transport.is_closing():
            transport.write(out)  # type: ignore[attr-defined]  # (TCP; cast() is a call)


class _Listener(_Owner):
    __slots__ = ("peers", "reading", "rx_window", "server", "sock", "task", "transport", "udp")

    def __init__(self, sock: int, udp: bool, rx_window: int = 0) -> None:
        super().__init__()
        self.sock = sock
        self.udp = udp
        self.rx_window = rx_window
        self.server: asyncio.Server | None = None
        self.transport: asyncio.DatagramTransport | None = None
        self.peers: dict[tuple[str, int], _Link] = {}
        self.task: asyncio.Task[None] | None = None
        self.reading = True


@dataclass(frozen=True, slots=True)
class _Plan:
    """Where a ``Connect`` goes (``ip``:``port``) and what the core is told
    (``shown_ip``:``shown_port``)."""

    shown_ip: str
    shown_port: int
    ip: str
    port: int


class _Refused(Exception):
    """A connect that fails before any socket is opened."""


def _set_reading(transport: asyncio.BaseTransport, on: bool) -> None:
    # Datagram transports have pause_reading/resume_reading on the selector
    # and proactor loops, but the abstract DatagramTransport does not declare
    # them; look them up rather than assume.
    method = getattr(transport, "resume_reading" if on else "pause_reading", None)
    if callable(method):
        method()


def _write_buffer_size(transport: asyncio.BaseTransport | None) -> int:
    if transport is None:
        return 0
    method = getattr(transport, "get_write_buffer_size", None)
    return int(method()) if callable(method) else 0


def _set_nodelay(transport: asyncio.BaseTransport) -> None:
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.type == socket.SOCK_STREAM:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _set_send_limits(transport: asyncio.BaseTransport) -> None:
    """pause_writing/resume_writing (→ Congestion) at the link's limits."""
    setter = getattr(transport, "set_write_buffer_limits", None)
    if callable(setter):
        setter(high=SEND_HIGH, low=SEND_LOW)


def _abort(transport: asyncio.BaseTransport) -> None:
    """Close at once, dropping unsent data (an RST for TCP)."""
    abort = getattr(transport, "abort", None)
    if callable(abort):
        abort()
    else:
        transport.close()


def _peer(transport: asyncio.BaseTransport) -> tuple[str, int]:
    name = transport.get_extra_info("peername")
    if isinstance(name, tuple) and len(name) >= 2:
        return str(name[0]), int(name[1])
    return "", 0


def _family(ip: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in ip else socket.AF_INET


# ------------------------------------------------------------------ protocols


class _StreamProtocol(asyncio.BufferedProtocol):
    """Reads of one TCP (or TLS) link; ``_link`` is set once connected.
    Buffered, so that a read never takes more than the link's window."""

    def __init__(self, driver: NetDriver) -> None:
        self._driver = driver
        self._link: _Link | None = None
        self._buf: memoryview | None = None

    def get_buffer(self, sizehint: int) -> memoryview:
        link = self._link
        size = READ_MAX
        if link is not None and link.credit is not None:
            room = link.credit + link.window - len(link.ahead)
            size = max(1, min(size, room))
        self._buf = _read_buffer(size)
        return self._buf

    def buffer_updated(self, nbytes: int) -> None:
        buf, self._buf = self._buf, None
        link = self._link
        if buf is not None and link is not None and not link.closed and nbytes > 0:
            self._driver._on_stream_data(link, bytes(buf[:nbytes]))

    def pause_writing(self) -> None:
        if self._link is not None:
            self._driver._on_congestion(self._link, True)

    def resume_writing(self) -> None:
        if self._link is not None:
            self._driver._on_congestion(self._link, False)

    def eof_received(self) -> bool:
        link = self._link
        if link is not None:
            self._driver._on_peer_closed(link)
            return link.half_close  # True: keep the transport for sending
        return False  # let the transport close

    def connection_lost(self, exc: Exception | None) -> None:
        if self._link is not None:
            self._driver._on_lost(self._link)


class _ClientProtocol(_StreamProtocol):
    def __init__(self, driver: NetDriver, link: _Link) -> None:
        super().__init__(driver)
        self._link = link

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert self._link is not None
        self._driver._on_client_made(self._link, transport)


class _AcceptedProtocol(_StreamProtocol):
    def __init__(self, driver: NetDriver, listener: _Listener) -> None:
        super().__init__(driver)
        self._listener = listener

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._link = self._driver._on_accepted(self._listener, transport)


class _ClientDatagramProtocol(asyncio.DatagramProtocol):
    def __init__(self, driver: NetDriver, link: _Link) -> None:
        self._driver = driver
        self._link = link

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._driver._on_client_made(self._link, transport)

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        link = self._link
        if link.closed:
            return
        if link.remote is not None and tuple(addr[:2]) == tuple(link.remote[:2]):
            ip, port = link.peer_ip, link.peer_port
        else:
            ip, port = str(addr[0]), int(addr[1])
        if self._driver._take_datagram(link, data):
            self._driver._emit(link, Received(link.sock, data, ip, port))

    def error_received(self, exc: Exception) -> None:
        # ICMP errors (port unreachable...): UDP has no connection to fail;
        # a link that asked (Connect.icmp_errors) hears of a refusal.
        link = self._link
        _log.debug("UDP link %d: %s", link.sock, exc)
        if isinstance(exc, ConnectionRefusedError) and link.icmp_errors and not link.closed:
            self._driver._emit(link, PortUnreachable(link.sock))

    def connection_lost(self, exc: Exception | None) -> None:
        self._driver._on_lost(self._link)


class _ServerDatagramProtocol(asyncio.DatagramProtocol):
    def __init__(self, driver: NetDriver, listener: _Listener) -> None:
        self._driver = driver
        self._listener = listener

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        self._driver._on_server_datagram(self._listener, data, addr)

    def error_received(self, exc: Exception) -> None:
        _log.debug("UDP server %d: %s", self._listener.sock, exc)

    def connection_lost(self, exc: Exception | None) -> None:
        for link in list(self._listener.peers.values()):
            self._driver._on_lost(link)


# --------------------------------------------------------------------- driver


class NetDriver:
    """Performs ``Connect``/``Send``/``Close``/``Listen``/``StopListen``/
    ``Resolve``/``PauseReading``/``ResumeReading`` requests; other requests
    (timers, settings, power) are not the network's and are ignored.

    ``deliver`` is called on the event loop with each result, never from
    inside :meth:`submit`. ``loop`` defaults to the running loop at the first
    request.
    """

    __slots__ = (
        "_all_paused",
        "_config",
        "_deliver",
        "_draining",
        "_generation",
        "_links",
        "_listeners",
        "_loop_arg",
        "_next_accepted",
        "_resolver_made",
        "_shut",
        "_ssl",
        "_tasks",
    )

    def __init__(
        self,
        config: NetConfig,
        deliver: Callable[[Result], None],
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self._config = config
        self._deliver = deliver
        self._loop_arg = loop
        self._resolver_made: Resolver | None = None  # made on first use: _resolver
        self._links: dict[int, _Link] = {}
        # (dicts used as sets: an empty dict is 64 bytes, an empty set 216,
        # and a fleet has one driver per modem)
        self._draining: dict[_Link, None] = {}  # closed by the core, still flushing
        self._listeners: dict[int, _Listener] = {}
        # running tasks -> whether close_all cancels it (resolves, pings, NTP)
        self._tasks: dict[asyncio.Task[None], bool] = {}
        self._next_accepted = -1
        self._all_paused = False
        self._generation = 0
        self._shut = False
        self._ssl: ssl.SSLContext | None = None

    # ------------------------------------------------------------ public API

    def submit(self, req: Request) -> None:
        """Start performing ``req``; its results follow through ``deliver``."""
        if self._shut:
            _log.debug("driver closed, request ignored: %r", req)
            return
        handler = _HANDLERS.get(type(req))
        if handler is not None:
            handler(self, req)

    def pause_all(self) -> None:
        """Stop reading every socket (the serial side is backed up) until
        :meth:`resume_all`. Per-link ``PauseReading`` still applies after."""
        if not self._all_paused:
            self._all_paused = True
            self._apply_all()

    def resume_all(self) -> None:
        if self._all_paused:
            self._all_paused = False
            self._apply_all()

    def write_backlog(self) -> int:
        """Bytes accepted by ``Send`` and not yet handed to the kernel, over
        every socket the core still has open. (A link closed gracefully keeps
        flushing, for at most ``DRAIN_TIMEOUT`` seconds, but no longer counts:
        the core is done with it, and a peer that never reads must not hold
        the serial line back.)"""
        return sum(_write_buffer_size(link.transport) + len(link.out or b"")
                   for link in self._links.values())

    def close_all(self) -> None:
        """Close every socket and listener at once (abort: no FIN wait,
        nothing flushed); no result is delivered afterwards for anything that
        was open or pending. The driver stays usable."""
        self._generation += 1
        listeners = set(self._listeners.values())
        for link in [*self._links.values(), *self._draining]:
            if link.listener is not None:
                listeners.add(link.listener)
            self._discard(link, quick=True)
        self._links.clear()
        self._draining.clear()
        for listener in listeners:
            listener.peers.clear()
            self._stop_listener(listener)
            if listener.transport is not None:
                listener.transport.abort()
        self._listeners.clear()
        for task, cancel in self._tasks.items():
            if cancel:
                task.cancel()

    async def aclose(self) -> None:
        """:meth:`close_all`, refuse further requests, and wait until every
        pending operation has finished."""
        self._shut = True
        self.close_all()
        while pending := [task for task in self._tasks if not task.done()]:
            await asyncio.gather(*pending, return_exceptions=True)
        await asyncio.sleep(0)  # let the transports' connection_lost run

    # -------------------------------------------------------------- plumbing

    def _get_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop_arg is None:
            self._loop_arg = asyncio.get_running_loop()
        return self._loop_arg

    @property
    def _resolver(self) -> Resolver:
        resolver = self._resolver_made
        if resolver is None:
            resolver = self._resolver_made = Resolver(self._config)
        return resolver

    def _spawn(
        self, coro: Coroutine[Any, Any, None], cancel_on_close: bool = False
    ) -> asyncio.Task[None]:
        task = self._get_loop().create_task(coro)
        self._tasks[task] = cancel_on_close
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.pop(task, None)
        if not task.cancelled() and task.exception() is not None:
            _log.error("network task failed", exc_info=task.exception())

    def _emit(self, owner: _Owner | None, result: Result) -> None:
        """Deliver ``result`` from the loop's next turn (never from inside
        whatever called this: a ``submit`` must not be answered from within)."""
        if owner is not None:
            owner.queued += 1
        self._get_loop().call_soon(self._dispatch, self._generation, owner, result)

    def _emit_now(self, link: _Link, result: Result) -> None:
        """Deliver ``result`` at once when nothing of ``link`` is still queued
        or held (called from the loop itself: a read). Data read is most of
        what a busy fleet delivers, and a turn of the loop per chunk costs
        more than handling it; the order of a link's results stays the same."""
        if link.queued:
            self._emit(link, result)
        elif link.held or link.closed or self._stopped(link):
            self._route(self._generation, link, result)
        else:
            self._hand_over(result)

    def _dispatch(self, generation: int, owner: _Owner | None, result: Result) -> None:
        if owner is not None:
            owner.queued -= 1
        self._route(generation, owner, result)

    def _route(self, generation: int, owner: _Owner | None, result: Result) -> None:
        if generation != self._generation or (owner is not None and owner.closed):
            return
        if isinstance(owner, _Link) and (
            owner.held or (isinstance(result, Received) and self._stopped(owner))
        ):
            owner.held.append(result)
            return
        self._hand_over(result)

    def _hand_over(self, result: Result) -> None:
        try:
            self._deliver(result)
        except Exception:  # the consumer's bug must not break the driver
            _log.exception("deliver(%r) failed", result)

    def _flush(self, generation: int, link: _Link) -> None:
        """Deliver what ``link`` held while it was stopped, in order, until
        it is stopped again (``deliver`` may pause it)."""
        while link.held and generation == self._generation and not link.closed:
            if isinstance(link.held[0], Received) and self._stopped(link):
                return
            self._hand_over(link.held.popleft())
        if link.lost and not link.held:
            self._forget(link)

    def _stopped(self, link: _Link) -> bool:
        return link.paused or self._all_paused

    def _new_accepted_id(self) -> int:
        sock = self._next_accepted
        self._next_accepted -= 1
        return sock

    # -------------------------------------------------------------- reading

    def _pause(self, sock: int, paused: bool) -> None:
        link = self._links.get(sock)
        if link is not None and link.paused != paused:
            link.paused = paused
            self._apply_reading(link)

    def _apply_all(self) -> None:
        listeners = {lst for lst in self._listeners.values() if lst.udp}
        for link in self._links.values():
            self._apply_reading(link)
            if link.listener is not None:
                listeners.add(link.listener)
        for listener in listeners:
            want = not self._all_paused
            if listener.transport is not None and listener.reading != want:
                listener.reading = want
                if not listener.transport.is_closing():
                    _set_reading(listener.transport, want)

    def _apply_reading(self, link: _Link) -> None:
        stopped = self._stopped(link)
        if not stopped and link.held:
            self._get_loop().call_soon(self._flush, self._generation, link)
        want = not stopped and (
            link.credit is None or link.credit > 0 or len(link.ahead) < link.window
        )
        transport = link.transport
        if link.listener is not None or transport is None or link.reading == want:
            return
        link.reading = want
        if not transport.is_closing():
            _set_reading(transport, want)

    def _credit(self, sock: int, size: int) -> None:
        """The core passed ``size`` bytes on: deliver what was read ahead,
        read again if the window had closed."""
        link = self._links.get(sock)
        if link is None or link.credit is None:
            return
        link.credit += size
        if link.ahead:
            take = min(len(link.ahead), link.credit)
            if take:
                link.credit -= take
                data = bytes(link.ahead[:take])
                del link.ahead[:take]
                self._emit(link, Received(link.sock, data, link.peer_ip, link.peer_port))
            if not link.ahead and link.eof_pending:
                link.eof_pending = False
                self._emit(link, PeerClosed(link.sock))
                if link.lost:
                    self._get_loop().call_soon(self._forget, link)
        self._apply_reading(link)

    def _on_stream_data(self, link: _Link, data: bytes) -> None:
        """Deliver within the credit; keep the rest ahead (at most one more
        window) so that the next credit is answered at once. The socket is
        read no further than that: the peer's window closes."""
        if link.credit is not None:
            take = min(len(data), link.credit)
            link.credit -= take
            if take < len(data):
                link.ahead += data[take:]
                data = data[:take]
            self._apply_reading(link)
            if not data:
                return
        self._emit_now(link, Received(link.sock, data, link.peer_ip, link.peer_port))

    def _take_datagram(self, link: _Link, data: bytes) -> bool:
        """Room in the window for this datagram? Else it is dropped."""
        if link.credit is None:
            return True
        if len(data) > link.credit:
            _log.debug("link %d: receive buffer full, datagram of %d dropped", link.sock, len(data))
            return False
        link.credit -= len(data)
        return True

    def _on_congestion(self, link: _Link, full: bool) -> None:
        if link.closed or link.congested == full:
            return
        link.congested = full
        self._emit(link, Congestion(link.sock, full))

    # -------------------------------------------------------------- connect

    def _connect(self, req: Connect) -> None:
        old = self._links.pop(req.sock, None)
        if old is not None:
            _log.debug("link %d reopened: dropping the old one", req.sock)
            self._discard(old, quick=True)
        link = _Link(req.sock, udp=req.proto == "UDP")
        link.credit = req.rx_window or None
        link.window = req.rx_window
        link.half_close = req.half_close and req.proto == "TCP" and not req.tls
        link.icmp_errors = req.icmp_errors and link.udp
        self._links[req.sock] = link
        link.task = self._spawn(self._run_connect(link, req))

    async def _run_connect(self, link: _Link, req: Connect) -> None:
        try:
            plan = await self._plan(req)
            link.peer_ip, link.peer_port = plan.shown_ip, plan.shown_port
            link.remote = (plan.ip, plan.port)
            async with asyncio.timeout(self._config.connect_timeout):
                if link.udp:
                    await self._open_udp(link, plan, req.local_port)
                else:
                    await self._open_tcp(link, plan, req)
        except _Refused as exc:
            self._connect_failed(link, req, str(exc))
        except TimeoutError:
            self._connect_failed(link, req, "time-out")
        except (OSError, ValueError) as exc:  # refused, unreachable, TLS, bind...
            reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
            self._connect_failed(link, req, reason, handshake=isinstance(exc, ssl.SSLError))
        except Exception as exc:  # a bug here must still end the CIPSTART
            _log.exception("connection %d to %s:%d", req.sock, req.host, req.port)
            self._connect_failed(link, req, f"internal error: {exc!r}")
        finally:
            link.task = None

    def _connect_failed(
        self, link: _Link, req: Connect, reason: str, handshake: bool = False
    ) -> None:
        if link.connected:  # timed out after connection_made: PeerClosed follows
            return
        _log.info(
            "%s connection %d to %s:%d failed: %s", req.proto, req.sock, req.host, req.port, reason
        )
        if self._links.get(link.sock) is link:
            del self._links[link.sock]
        self._emit(link, ConnectFailed(link.sock, reason, link.peer_ip, handshake))

    async def _plan(self, req: Connect) -> _Plan:
        config = self._config
        host = req.host.strip()
        literal = parse_address(host)  # any IPv4 spelling, IPv4-mapped unwrapped
        route = None if literal is not None else find_route(config.routes, host, req.port)
        if route is not None:
            # A route for the name itself: the firmware's name is not looked up.
            target, port = route.apply(req.port)
            ip = await self._local_address(target)
            shown = self._resolver.lookup_hosts(host) or ip
        else:
            if literal is not None:
                shown = str(literal)
            else:
                resolution = await self._resolver.resolve(host, req.dns)
                if not resolution.addresses:
                    raise _Refused(f"DNS: {resolution.reason or resolution.error}")
                shown = resolution.addresses[0]
            route = find_route(config.routes, shown, req.port)
            if route is not None:
                target, port = route.apply(req.port)
                ip = await self._local_address(target)
            else:
                ip, port = shown, req.port
        if route is not None:
            _log.info("route %s: %s:%d -> %s:%d", route, host, req.port, ip, port)
        if not is_permitted(ip, config.allow, config.deny):
            _log.warning(
                "%s connection to %s:%d (%s:%d) denied by policy",
                req.proto,
                host,
                req.port,
                ip,
                port,
            )
            raise _Refused("denied by policy")
        # Connect where the host's stack would go anyway (0.0.0.0: loopback).
        return _Plan(shown, req.port, str(canonical_destination(ip) or ip), port)

    async def _local_address(self, host: str) -> str:
        try:
            return await self._resolver.resolve_local(host)
        except OSError as exc:
            raise _Refused(f"route target: {exc}") from None

    @staticmethod
    def _bound_socket(ip: str, kind: socket.SocketKind, local_port: int) -> socket.socket:
        family = _family(ip)
        sock = socket.socket(family, kind)
        try:
            sock.setblocking(False)
            if kind == socket.SOCK_STREAM:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if local_port:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind(("::" if family == socket.AF_INET6 else "0.0.0.0", local_port))
        except BaseException:
            sock.close()
            raise
        return sock

    async def _open_tcp(self, link: _Link, plan: _Plan, req: Connect) -> None:
        loop = self._get_loop()
        sock = self._bound_socket(plan.ip, socket.SOCK_STREAM, req.local_port)
        try:
            await loop.sock_connect(sock, (plan.ip, plan.port))
            context = self._ssl_context() if req.tls else None
            await loop.create_connection(
                lambda: _ClientProtocol(self, link),
                sock=sock,
                ssl=context,
                server_hostname=normalize_host(req.host) if context is not None else None,
            )
        except BaseException:
            sock.close()
            raise

    async def _open_udp(self, link: _Link, plan: _Plan, local_port: int) -> None:
        loop = self._get_loop()
        sock = self._bound_socket(plan.ip, socket.SOCK_DGRAM, local_port)
        try:
            sock.connect((plan.ip, plan.port))
            await loop.create_datagram_endpoint(
                lambda: _ClientDatagramProtocol(self, link), sock=sock
            )
        except BaseException:
            sock.close()
            raise

    def _ssl_context(self) -> ssl.SSLContext:
        if self._ssl is None:
            if self._config.tls_verify:
                context = ssl.create_default_context(cafile=self._config.tls_ca)
            else:
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            self._ssl = context
        return self._ssl

    def _on_client_made(self, link: _Link, transport: asyncio.BaseTransport) -> None:
        link.transport = transport
        if link.closed:
            _abort(transport)
            return
        link.connected = True
        if not link.udp:
            _set_nodelay(transport)
            _set_send_limits(transport)
        self._apply_reading(link)
        sockname = transport.get_extra_info("sockname")
        local_port = int(sockname[1]) if isinstance(sockname, tuple) else 0
        self._emit(link, Connected(link.sock, link.peer_ip, link.peer_port, local_port))

    # ---------------------------------------------------------- data, close

    def _send(self, req: Send) -> None:
        link = self._links.get(req.sock)
        transport = link.transport if link is not None else None
        if link is not None and link.listener is not None:
            transport = link.listener.transport
        if (
            link is None
            or transport is None
            or not link.connected
            or (link.peer_closed and not link.half_close)
            or link.shut
            or transport.is_closing()
        ):
            self._emit(link, SendFailed(req.sock))
            return
        if not req.data:
            return
        if link.udp:
            # Not isinstance(): on 3.11 the selector loop's datagram transport
            # does not derive from asyncio.DatagramTransport.
            datagrams = cast(asyncio.DatagramTransport, transport)
            if link.listener is not None:
                datagrams.sendto(req.data, link.remote)
            else:
                datagrams.sendto(req.data)
        elif link.out is not None:
            link.out += req.data
        else:
            link.out = bytearray(req.data)
            defer(link.write_out)  # with every other link's and line's, once per loop turn

    def _shutdown(self, sock: int) -> None:
        """Half-close: FIN once what was sent is flushed; reading goes on."""
        link = self._links.get(sock)
        transport = link.transport if link is not None else None
        if link is None or link.udp or link.shut or transport is None or transport.is_closing():
            return
        writer = cast(asyncio.WriteTransport, transport)
        if writer.can_write_eof():
            link.write_out()  # the FIN after what was sent
            link.shut = True
            writer.write_eof()

    def _close(self, req: Close) -> None:
        link = self._links.pop(req.sock, None)
        if link is not None:
            self._discard(link, req.quick)

    def _discard(self, link: _Link, quick: bool) -> None:
        """The core is done with ``link``: close it, report nothing more."""
        link.closed = True
        link.held.clear()
        link.ahead.clear()
        if link.task is not None:
            link.task.cancel()
        listener = link.listener
        if listener is not None:
            key = (str(link.remote[0]), int(link.remote[1])) if link.remote else ("", 0)
            if listener.peers.get(key) is link:
                del listener.peers[key]
            if listener.closed and not listener.peers and listener.transport is not None:
                listener.transport.close()
            return
        transport = link.transport
        if transport is None:
            return
        link.write_out()  # what was sent goes first, as it did before the close
        if quick:
            _abort(transport)  # also ends a graceful close still flushing
        elif not transport.is_closing():
            transport.close()
            if _write_buffer_size(transport):
                # Flushing to a peer that may never read: give up after a while.
                self._draining[link] = None
                self._get_loop().call_later(DRAIN_TIMEOUT, self._drain_expired, link)

    def _drain_expired(self, link: _Link) -> None:
        if link in self._draining:
            self._draining.pop(link, None)
            if link.transport is not None:
                _log.info(
                    "link %d: unsent data dropped %.0f s after close", link.sock, DRAIN_TIMEOUT
                )
                _abort(link.transport)

    def _on_peer_closed(self, link: _Link) -> None:
        if not link.peer_closed and not link.closed and link.connected:
            link.peer_closed = True
            if link.ahead:
                link.eof_pending = True  # after the data read ahead
            else:
                self._emit(link, PeerClosed(link.sock))

    def _on_lost(self, link: _Link) -> None:
        self._on_peer_closed(link)
        self._draining.pop(link, None)
        if link.lost:
            return
        link.lost = True
        if link.listener is not None and link.remote is not None:
            link.listener.peers.pop((str(link.remote[0]), int(link.remote[1])), None)
        # Forget the link once what was already emitted for it is dispatched
        # (call_soon is FIFO); results held while it is stopped come first.
        self._get_loop().call_soon(self._forget, link)

    def _forget(self, link: _Link) -> None:
        """Drop a link whose transport is gone and whose results are all out
        (a later ``Send`` fails, a later ``Close`` is a no-op)."""
        if (
            not link.held
            and not link.ahead
            and link.connected
            and self._links.get(link.sock) is link
        ):
            del self._links[link.sock]

    # --------------------------------------------------------------- server

    def _listen(self, req: Listen) -> None:
        old = self._listeners.pop(req.sock, None)
        if old is not None:
            self._stop_listener(old)
        listener = _Listener(req.sock, udp=req.proto == "UDP", rx_window=req.rx_window)
        self._listeners[req.sock] = listener
        listener.task = self._spawn(self._run_listen(listener, req.port))

    async def _run_listen(self, listener: _Listener, port: int) -> None:
        # Never cancelled (create_server may leak its socket when cancelled):
        # when stopped meanwhile, the new server is closed here.
        loop = self._get_loop()
        host = self._config.listen_host
        bound = self._config.listen_map.get(port, port)
        try:
            if listener.udp:
                transport, _ = await loop.create_datagram_endpoint(
                    lambda: _ServerDatagramProtocol(self, listener), local_addr=(host, bound)
                )
                listener.transport = transport
            else:
                listener.server = await loop.create_server(
                    lambda: _AcceptedProtocol(self, listener),
                    host=host,
                    port=bound,
                    reuse_address=True,
                )
        except OSError as exc:
            reason = exc.strerror or str(exc)
            _log.warning("cannot listen on %s:%d: %s", host, bound, reason)
            if self._listeners.get(listener.sock) is listener:
                del self._listeners[listener.sock]
            self._emit(listener, ListenFailed(listener.sock, reason))
            return
        finally:
            listener.task = None
        if listener.closed:
            self._stop_listener(listener)
            return
        if port != bound:
            _log.info(
                "%s server %d: modem port %d listens on %s:%d",
                "UDP" if listener.udp else "TCP",
                listener.sock,
                port,
                host,
                bound,
            )
        if listener.transport is not None and self._all_paused:
            listener.reading = False
            _set_reading(listener.transport, False)
        sockets = listener.server.sockets if listener.server is not None else ()
        name = sockets[0].getsockname() if sockets else (host, bound)
        self._emit(listener, Listening(listener.sock, str(name[0]), int(name[1])))

    def _stop_listen(self, sock: int) -> None:
        listener = self._listeners.pop(sock, None)
        if listener is not None:
            self._stop_listener(listener)

    def _stop_listener(self, listener: _Listener) -> None:
        """Stop accepting; accepted links stay open."""
        listener.closed = True
        if listener.server is not None:
            listener.server.close()
        if listener.transport is not None and not listener.peers:
            listener.transport.close()

    def _on_accepted(self, listener: _Listener, transport: asyncio.BaseTransport) -> _Link | None:
        if listener.closed or self._shut:
            _abort(transport)
            return None
        link = _Link(self._new_accepted_id(), udp=False)
        link.transport = transport
        link.credit = listener.rx_window or None
        link.window = listener.rx_window
        link.peer_ip, link.peer_port = _peer(transport)
        link.connected = True
        self._links[link.sock] = link
        _set_nodelay(transport)
        _set_send_limits(transport)
        self._apply_reading(link)
        self._emit(link, Accepted(listener.sock, link.sock, link.peer_ip, link.peer_port))
        return link

    def _on_server_datagram(self, listener: _Listener, data: bytes, addr: tuple[Any, ...]) -> None:
        ip, port = str(addr[0]), int(addr[1])
        link = listener.peers.get((ip, port))
        if link is None:
            if listener.closed:
                return
            link = _Link(self._new_accepted_id(), udp=True, listener=listener)
            link.credit = listener.rx_window or None
            link.remote = addr
            link.peer_ip, link.peer_port = ip, port
            link.connected = True
            listener.peers[(ip, port)] = link
            self._links[link.sock] = link
            self._emit(link, Accepted(listener.sock, link.sock, ip, port))
        if link.paused:
            _log.debug("UDP link %d paused: datagram from %s:%d dropped", link.sock, ip, port)
            return
        if self._take_datagram(link, data):
            self._emit(link, Received(link.sock, data, ip, port))

    # -------------------------------------------------------------- resolve

    async def _run_ntp(self, req: NtpSync) -> None:
        """AT+CNTP: routes, DNS and the policy apply as for a UDP link."""
        try:
            plan = await self._plan(Connect(0, "UDP", req.server, req.port, dns=req.dns))
        except _Refused as exc:
            error = 62 if str(exc).startswith("DNS") else 61
            self._emit(None, NtpTime(req.query, error=error))
            return
        try:
            when = await ntp.query(plan.ip, plan.port, self._config.dns_timeout)
        except OSError as exc:
            _log.info("NTP %s: %s", req.server, exc)
            self._emit(None, NtpTime(req.query, error=61))
            return
        self._emit(None, NtpTime(req.query, when, 0 if when is not None else 65))

    async def _run_ping(self, req: Ping) -> None:
        """AT+CIPPING: resolve like CDNSGIP, obey the policy, then real
        ICMP echoes one after the other."""
        literal = parse_address(req.host)
        ip = str(literal) if literal is not None else ""
        if literal is None:
            resolution = await self._resolver.resolve(req.host, req.dns)
            if resolution.error or not resolution.addresses:
                self._emit(None, PingDone(req.query, error=True))
                return
            ip = resolution.addresses[0]
        if not is_permitted(ip, self._config.allow, self._config.deny):
            _log.warning("ping %s denied by policy", ip)
            self._emit(None, PingDone(req.query, error=True))
            return
        target = str(canonical_destination(ip) or ip)
        for seq in range(1, req.count + 1):
            answer = await ping.echo(target, seq, req.size, req.timeout, req.ttl)
            if answer is None:
                self._emit(None, PingReply(req.query, seq, ip))
            else:
                self._emit(None, PingReply(req.query, seq, ip, answer[0], answer[1]))
        self._emit(None, PingDone(req.query))

    def _resolve(self, req: Resolve) -> None:
        self._spawn(self._run_resolve(req), cancel_on_close=True)

    async def _run_resolve(self, req: Resolve) -> None:
        try:
            resolution = await self._resolver.resolve(req.name, req.dns)
        except Exception as exc:  # a bug here must still answer the CDNSGIP
            _log.exception("resolving %r", req.name)
            resolution = Resolution(error=ERR_NOT_FOUND, reason=repr(exc))
        if resolution.error:
            _log.info("DNS %s: error %d (%s)", req.name, resolution.error, resolution.reason)
        self._emit(None, Resolved(req.query, resolution.addresses, resolution.error))


# What each request makes the driver do (one lookup per request: a fleet
# submits tens of thousands a second); other requests are not the network's.
_HANDLERS: dict[type, Callable[[NetDriver, Any], object]] = {
    Connect: NetDriver._connect,
    Send: NetDriver._send,
    Close: NetDriver._close,
    Shutdown: lambda d, req: d._shutdown(req.sock),
    Listen: NetDriver._listen,
    StopListen: lambda d, req: d._stop_listen(req.sock),
    Resolve: NetDriver._resolve,
    Ping: lambda d, req: d._spawn(d._run_ping(req), cancel_on_close=True),
    NtpSync: lambda d, req: d._spawn(d._run_ntp(req), cancel_on_close=True),
    ReadCredit: lambda d, req: d._credit(req.sock, req.size),
    PauseReading: lambda d, req: d._pause(req.sock, True),
    ResumeReading: lambda d, req: d._pause(req.sock, False),
}
