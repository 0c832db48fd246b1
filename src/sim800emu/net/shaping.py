"""A slow radio link: latency and bandwidth between the modem and the network.

``ShapedNet`` wraps the real network driver. Every request for a socket
(and every result from it) is held for the one-way ``latency``, and bytes
cross at no more than ``rate`` bytes per second in each direction, per link,
as on a GPRS bearer. Order is kept per socket: a ``Close`` leaves after the
data sent before it, ``PeerClosed`` arrives after the data received before
it. Received data is released in small steps (at most 1460 bytes, and
about 50 ms worth at the link's rate), so the modem sees it arrive at the
configured rate, not in buffered lumps. What waits is bounded: the downlink
holds at most the link's receive window (the core grants more only after
data has arrived), a link whose downlink queue is full anyway stops being
read, and a link with more than ``SEND_HIGH`` queued uplink bytes is
reported congested to the core (as the real driver does for a peer that
does not read), so sends to it are refused or the serial line held.

The shape can change while the modem runs (``sim800emu ctl SOCK latency 800``).
"""

from __future__ import annotations

import asyncio
import ipaddress
import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from ..core.events import (
    Accepted,
    Close,
    Congestion,
    Connect,
    Connected,
    ConnectFailed,
    Listen,
    PauseReading,
    PeerClosed,
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
from ..runtime import Deliver, NetFactory, NetLike
from .driver import SEND_HIGH, SEND_LOW

DOWN_HIGH = 64 * 1024  # bytes queued towards the modem before a link is paused
DOWN_LOW = 16 * 1024
STEP_MAX = 1460  # largest piece of received data released at once
STEP_TIME = 0.05  # seconds of data at the link's rate per piece


@dataclass(slots=True)
class Shape:
    latency: float = 0.0  # seconds, each way
    rate: float = 0.0  # bytes per second, each way, per link; 0 = unlimited
    jitter: float = 0.0  # seconds: each item waits up to this much more (order kept)
    up_rate: float = 0.0  # modem -> network bytes per second, per link (0: ``rate``)
    down_rate: float = 0.0  # network -> modem (0: ``rate``)
    loss: float = 0.0  # probability that a UDP datagram is lost, each way
    seed: int = 0  # of the jitter and loss draws (--seed)

    @property
    def active(self) -> bool:
        return (
            self.latency > 0 or self.rate > 0 or self.jitter > 0 or self.up_rate > 0
            or self.down_rate > 0 or self.loss > 0
        )

    @property
    def up(self) -> float:
        return self.up_rate or self.rate

    @property
    def down(self) -> float:
        return self.down_rate or self.rate

    def set_bandwidth(self, rate: float) -> None:
        """One rate both ways (``--bandwidth``, ``ctl bandwidth``)."""
        self.rate = rate
        self.up_rate = self.down_rate = 0.0

    def copy(self) -> Shape:
        return replace(self)


@dataclass(slots=True)
class NetFaults:
    """What a scenario (docs/field-conditions.md) makes the network do:

    * ``dns_down_until``: until then every name lookup fails (CDNSGIP
      error, CIPSTART to a name CONNECT FAIL);
    * ``refuse``: host → how many more connects to it are refused (-1: all);
    * ``blackhole``: host → (how many, seconds): connects to it time out;
    * ``nat_idle``: a carrier NAT forgets links idle this many seconds (0:
      never); the module only notices when it sends (CLOSED).
    """

    dns_down_until: float = 0.0
    refuse: dict[str, int] = field(default_factory=dict)
    blackhole: dict[str, tuple[int, float]] = field(default_factory=dict)
    nat_idle: float = 0.0

    @staticmethod
    def _take(table: dict[str, int], host: str) -> bool:
        left = table.get(host)
        if left is None:
            return False
        if left > 0:
            if left == 1:
                del table[host]
            else:
                table[host] = left - 1
        return True

    def refused(self, host: str) -> bool:
        return self._take(self.refuse, host.lower())

    def timeout(self, host: str) -> float | None:
        entry = self.blackhole.get(host.lower())
        if entry is None:
            return None
        left, seconds = entry
        if left == 1:
            del self.blackhole[host.lower()]
        elif left > 1:
            self.blackhole[host.lower()] = (left - 1, seconds)
        return seconds


# Coding-scheme rates per timeslot (SIM800 datasheet: GPRS multi-slot class 12
# (class 10 optional), coding schemes CS-1 to CS-4): CS-1 9.05, CS-2 13.4,
# CS-3 15.6, CS-4 21.4 kbit/s. EDGE (MCS-9, 59.2 kbit/s a slot) is not a
# SIM800 feature; its profile is for comparison. Bytes per second below.
def _kbit(slots: int, kbit_per_slot: float) -> float:
    return slots * kbit_per_slot * 1000 / 8


NETWORK_PROFILES: dict[str, Shape] = {
    # class 10: 4 downlink + 2 uplink slots at CS-2, the usual coding scheme
    "gprs-class10": Shape(latency=0.35, jitter=0.15, down_rate=_kbit(4, 13.4),
                          up_rate=_kbit(2, 13.4), loss=0.01),
    # class 12: 4 downlink, up to 4 uplink slots at CS-2
    "gprs-class12": Shape(latency=0.35, jitter=0.15, down_rate=_kbit(4, 13.4),
                          up_rate=_kbit(4, 13.4), loss=0.01),
    "edge": Shape(latency=0.2, jitter=0.08, down_rate=_kbit(4, 59.2),
                  up_rate=_kbit(2, 59.2), loss=0.005),
    # a strong cell: class 12 at CS-4
    "good": Shape(latency=0.15, jitter=0.03, down_rate=_kbit(4, 21.4),
                  up_rate=_kbit(4, 21.4), loss=0.0),
    # the edge of coverage: one slot each way at CS-1, long and uneven delays
    "bad": Shape(latency=0.8, jitter=0.6, down_rate=_kbit(1, 9.05),
                 up_rate=_kbit(1, 9.05), loss=0.05),
}


@dataclass(slots=True)
class _Lane:
    """One direction of one socket: when it is free, and its last event."""

    free_at: float = 0.0
    last_at: float = 0.0
    queued: int = 0  # bytes scheduled, not yet passed on


def _sock_of(item: Request | Result) -> int | None:
    if isinstance(item, Accepted):
        return item.sock
    sock = getattr(item, "sock", None)
    return sock if isinstance(sock, int) else None


class ShapedNet:
    def __init__(
        self,
        inner_factory: NetFactory,
        deliver: Deliver,
        loop: asyncio.AbstractEventLoop,
        shape: Shape,
    ) -> None:
        self.shape = shape
        self._deliver = deliver
        self._loop = loop
        self._up: dict[int, _Lane] = {}
        self._down: dict[int, _Lane] = {}
        self._core_paused: set[int] = set()
        self._full: set[int] = set()
        self._congested_inner: set[int] = set()  # the driver says: full
        self._congested_lane: set[int] = set()  # our uplink queue is full
        self._congested: set[int] = set()  # what the core was told
        self._handles: set[asyncio.TimerHandle] = set()
        self._up_queued = 0
        self._udp: set[int] = set()  # UDP links and servers: loss applies
        self._rng = random.Random(shape.seed)
        self.lost = 0  # UDP datagrams dropped (both ways)
        self.faults = NetFaults()
        self._last_active: dict[int, float] = {}  # for the NAT's idle timer
        self._nat_dead: set[int] = set()
        self.inner = inner_factory(self._from_network, loop)

    # ---------------------------------------------------------- scheduling

    def _at(self, when: float, action: Callable[[], None]) -> None:
        handle: asyncio.TimerHandle | None = None

        def run() -> None:
            assert handle is not None
            self._handles.discard(handle)
            action()

        handle = self._loop.call_at(when, run)
        self._handles.add(handle)

    def _plan(self, lanes: dict[int, _Lane], sock: int | None, size: int) -> float:
        """When an item of ``size`` bytes on ``sock`` gets to the other side."""
        now = self._loop.time()
        delay = self.shape.latency
        if self.shape.jitter > 0:
            delay += self._rng.uniform(0.0, self.shape.jitter)
        if sock is None:
            return now + delay
        rate = self.shape.up if lanes is self._up else self.shape.down
        lane = lanes.setdefault(sock, _Lane())
        start = max(now, lane.free_at)
        if size and rate > 0:
            start += size / rate
        lane.free_at = start
        # strictly after the lane's previous item: equal times may run in any order
        at = max(start + delay, lane.last_at + 1e-6)
        lane.last_at = at
        lane.queued += size
        return at

    # ---------------------------------------------------------- modem -> network

    def submit(self, req: Request) -> None:
        if isinstance(req, PauseReading):
            self._core_paused.add(req.sock)
            self.inner.submit(req)
            return
        if isinstance(req, ResumeReading):
            self._core_paused.discard(req.sock)
            if req.sock not in self._full:
                self.inner.submit(req)
            return
        if self._intercept(req):
            return
        sock = _sock_of(req)
        if isinstance(req, Connect | Listen) and req.proto == "UDP":
            self._udp.add(req.sock)
        if isinstance(req, Send) and self._lose(req.sock):
            return  # the datagram never reaches the network
        idle = not self.shape.active and sock not in self._up
        if idle or not isinstance(req, Connect | Send | Close | Shutdown | Listen | StopListen):
            self.inner.submit(req)
            return
        size = len(req.data) if isinstance(req, Send) else 0
        at = self._plan(self._up, sock, size)
        self._up_queued += size
        if sock is not None and self._up[sock].queued > SEND_HIGH:
            self._congested_lane.add(sock)
            self._report(sock)

        def go() -> None:
            self._up_queued -= size
            if sock is not None and sock in self._up:
                self._up[sock].queued -= size
                if sock in self._congested_lane and self._up[sock].queued <= SEND_LOW:
                    self._congested_lane.discard(sock)
                    self._report(sock)
            self.inner.submit(req)
            if isinstance(req, Close | StopListen) and sock is not None:
                self._udp.discard(sock)
                self._up.pop(sock, None)
                self._congested_lane.discard(sock)
                self._congested_inner.discard(sock)
                self._congested.discard(sock)

        self._at(at, go)

    def _intercept(self, req: Request) -> bool:
        """The scenario's faults (``NetFaults``): True when ``req`` was
        answered here and goes no further."""
        faults = self.faults
        now = self._loop.time()
        later = now + 2 * self.shape.latency
        if isinstance(req, Resolve) and now < faults.dns_down_until:
            self._at(later, lambda: self._deliver(Resolved(req.query, (), 8)))
            return True
        if isinstance(req, Connect):
            fail: ConnectFailed | None = None
            at = later
            if now < faults.dns_down_until and not _is_address(req.host):
                fail = ConnectFailed(req.sock, "DNS outage (scenario)")
            elif faults.refused(req.host):
                fail = ConnectFailed(req.sock, "refused (scenario)")
            else:
                wait = faults.timeout(req.host)
                if wait is not None:
                    fail, at = ConnectFailed(req.sock, "timed out (scenario)"), now + wait
            if fail is not None:
                failed = fail
                self._at(at, lambda: self._deliver(failed))
                return True
            return False
        if isinstance(req, Send) and faults.nat_idle > 0 and self._nat_forgot(req.sock, now):
            sock = req.sock
            if sock not in self._nat_dead:
                self._nat_dead.add(sock)
                self._at(later, lambda: self._deliver(PeerClosed(sock)))
            else:  # sent on after the close (a half-close link, PPP): it fails
                self._at(later, lambda: self._deliver(SendFailed(sock)))
            return True
        if isinstance(req, Send):
            self._last_active[req.sock] = now
        if isinstance(req, Close):
            self._last_active.pop(req.sock, None)
            if req.sock in self._nat_dead:
                self._nat_dead.discard(req.sock)
                return True
        return False

    def _nat_forgot(self, sock: int, now: float) -> bool:
        """Whether the NAT dropped ``sock`` (idle too long); the first time,
        the real connection is aborted (the server sees a reset)."""
        if sock in self._nat_dead:
            return True
        last = self._last_active.get(sock)
        if last is None or now - last <= self.faults.nat_idle:
            return False
        self._last_active.pop(sock, None)
        self.inner.submit(Close(sock, quick=True))
        return True

    def _lose(self, sock: int | None) -> bool:
        """Whether a UDP datagram on ``sock`` is lost (``Shape.loss``)."""
        if sock is None or sock not in self._udp or self.shape.loss <= 0:
            return False
        if self._rng.random() >= self.shape.loss:
            return False
        self.lost += 1
        return True

    def _report(self, sock: int) -> None:
        """Tell the core when the link's congestion (ours or the driver's)
        changes."""
        full = sock in self._congested_lane or sock in self._congested_inner
        if full == (sock in self._congested):
            return
        if full:
            self._congested.add(sock)
        else:
            self._congested.discard(sock)
        self._loop.call_soon(self._deliver, Congestion(sock, full))

    # ---------------------------------------------------------- network -> modem

    def _from_network(self, result: Result) -> None:
        if isinstance(result, Congestion):
            # the module's own buffer state: no radio delay
            if result.full:
                self._congested_inner.add(result.sock)
            else:
                self._congested_inner.discard(result.sock)
            self._report(result.sock)
            return
        sock = _sock_of(result)
        if isinstance(result, Accepted) and result.server in self._udp:
            self._udp.add(result.sock)
        if isinstance(result, Connected | Accepted):
            self._last_active[result.sock] = self._loop.time()
        if isinstance(result, Received) and sock is not None and sock in self._last_active:
            now = self._loop.time()
            if self.faults.nat_idle > 0 and self._nat_forgot(sock, now):
                self._nat_dead.add(sock)  # the packet dies at the NAT; the module knows nothing
                return
            self._last_active[sock] = now
        if isinstance(result, Received) and sock in self._nat_dead:
            return
        if isinstance(result, Received) and self._lose(sock):
            # lost on the air: its room in the window comes back at once
            assert sock is not None
            self.inner.submit(ReadCredit(sock, len(result.data)))
            return
        if not self.shape.active and not (sock is not None and sock in self._down):
            self._deliver(result)
            return
        if isinstance(result, Received) and len(result.data) > self._step():
            step = self._step()
            data = result.data
            for start in range(0, len(data), step):
                self._schedule_down(sock, replace(result, data=data[start : start + step]))
            return
        self._schedule_down(sock, result)

    def _step(self) -> int:
        rate = self.shape.down
        return STEP_MAX if rate <= 0 else max(1, min(STEP_MAX, int(rate * STEP_TIME)))

    def _schedule_down(self, sock: int | None, result: Result) -> None:
        size = len(result.data) if isinstance(result, Received) else 0
        at = self._plan(self._down, sock, size)
        if sock is not None and self._down[sock].queued > DOWN_HIGH and sock not in self._full:
            self._full.add(sock)
            self.inner.submit(PauseReading(sock))

        def go() -> None:
            if sock is not None and sock in self._down:
                lane = self._down[sock]
                lane.queued -= size
                if sock in self._full and lane.queued < DOWN_LOW:
                    self._full.discard(sock)
                    if sock not in self._core_paused:
                        self.inner.submit(ResumeReading(sock))
                if lane.queued == 0 and lane.last_at <= self._loop.time():
                    del self._down[sock]
            self._deliver(result)

        self._at(at, go)

    # ---------------------------------------------------------- the rest of NetLike

    def pause_all(self) -> None:
        self.inner.pause_all()

    def resume_all(self) -> None:
        self.inner.resume_all()

    def write_backlog(self) -> int:
        return self.inner.write_backlog() + self._up_queued

    def close_all(self) -> None:
        for handle in self._handles:
            handle.cancel()
        self._handles.clear()
        self._up.clear()
        self._down.clear()
        self._full.clear()
        self._core_paused.clear()
        self._congested_inner.clear()
        self._congested_lane.clear()
        self._congested.clear()
        self._up_queued = 0
        self.inner.close_all()

    async def aclose(self) -> None:
        self.close_all()
        await self.inner.aclose()


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def shaped_factory(inner_factory: NetFactory, shape: Shape) -> NetFactory:
    def make(deliver: Deliver, loop: asyncio.AbstractEventLoop) -> NetLike:
        return ShapedNet(inner_factory, deliver, loop, shape.copy())

    return make
