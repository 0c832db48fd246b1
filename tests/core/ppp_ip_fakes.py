"""Test-side pieces for the PPP terminator: a fake ``PppHost`` with a fake
clock (it records requests, the test feeds results back) and a small
client TCP endpoint that builds and reads packets as the PPP client would.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sim800emu.core.events import (
    Close,
    Connect,
    Connected,
    ReadCredit,
    Received,
    Request,
    Result,
    Send,
)
from sim800emu.core.ppp.packets import (
    ACK,
    FIN,
    PROTO_ICMP,
    PROTO_TCP,
    PROTO_UDP,
    RST,
    SYN,
    IcmpMessage,
    IpPacket,
    TcpSegment,
    UdpDatagram,
    build_icmp,
    build_ipv4,
    build_tcp,
    build_udp,
    ip_bytes,
    parse_icmp,
    parse_ipv4,
    parse_tcp,
    parse_udp,
)
from sim800emu.core.ppp.terminator import Terminator

CLIENT = "10.64.1.2"
DNS1 = "10.64.0.1"
DNS2 = "10.64.0.2"
SERVER = "93.184.216.34"
MASK = 0xFFFFFFFF


def naive_checksum(data: bytes) -> int:
    """RFC 1071 the slow, obvious way (cross-check of packets.checksum)."""
    if len(data) % 2:
        data += b"\0"
    total = 0
    for i in range(0, len(data), 2):
        total += (data[i] << 8) | data[i + 1]
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


class FakeHost:
    """``PppHost`` on a fake clock."""

    def __init__(self) -> None:
        self.now = 0.0
        self.timers: dict[str, tuple[float, Callable[[], None]]] = {}
        self.requests: list[Request] = []
        self.socks: dict[int, Callable[[Result], None]] = {}
        self.queries: dict[int, Callable[[Result], None]] = {}
        self._next_sock = 1
        self._next_query = 1
        self.credit: dict[int, int] = {}  # bytes the host may still deliver per sock
        self.sent: dict[int, bytearray] = {}  # Send payloads per sock

    # PppHost
    def start_timer(self, key: str, delay: float, action: Callable[[], None]) -> None:
        self.timers[key] = (self.now + delay, action)

    def cancel_timer(self, key: str) -> None:
        self.timers.pop(key, None)

    def new_sock(self) -> int:
        self._next_sock += 1
        return self._next_sock - 1

    def own_sock(self, sock: int, owner: Callable[[Result], None]) -> None:
        self.socks[sock] = owner

    def disown_sock(self, sock: int) -> None:
        self.socks.pop(sock, None)

    def new_query(self) -> int:
        self._next_query += 1
        return self._next_query - 1

    def own_query(self, query: int, owner: Callable[[Result], None]) -> None:
        self.queries[query] = owner

    def disown_query(self, query: int) -> None:
        self.queries.pop(query, None)

    def request(self, req: Request) -> None:
        self.requests.append(req)
        if isinstance(req, Connect):
            self.credit[req.sock] = req.rx_window
        elif isinstance(req, ReadCredit):
            self.credit[req.sock] = self.credit.get(req.sock, 0) + req.size
        elif isinstance(req, Send):
            self.sent.setdefault(req.sock, bytearray()).extend(req.data)

    # test side
    def take(self) -> list[Request]:
        reqs, self.requests = self.requests, []
        return reqs

    def of(self, kind: type) -> list[Request]:
        return [r for r in self.requests if isinstance(r, kind)]

    def result(self, res: Result) -> None:
        sock = getattr(res, "sock", None)
        owner = self.socks.get(sock) if sock is not None else None
        if owner is None and hasattr(res, "query"):
            owner = self.queries.get(res.query)
        if owner is not None:
            owner(res)

    def feed(self, sock: int, data: bytes) -> int:
        """Deliver as much of ``data`` as the credit allows; returns how much."""
        n = min(len(data), self.credit.get(sock, 0))
        if n:
            self.credit[sock] -= n
            self.result(Received(sock, bytes(data[:n])))
        return n

    def advance(self, dt: float) -> None:
        end = self.now + dt
        while True:
            due = [(at, key) for key, (at, _) in self.timers.items() if at <= end + 1e-9]
            if not due:
                break
            at, key = min(due)
            self.now = max(self.now, at)
            _, action = self.timers.pop(key)
            action()
        self.now = end

    def closed(self, sock: int) -> Close | None:
        for r in self.requests:
            if isinstance(r, Close) and r.sock == sock:
                return r
        return None


@dataclass
class Out:
    """A packet the terminator sent, parsed."""

    ip: IpPacket
    tcp: TcpSegment | None = None
    udp: UdpDatagram | None = None
    icmp: IcmpMessage | None = None
    raw: bytes = b""


def parse_out(raw: bytes) -> Out:
    ip = parse_ipv4(raw, fragments=True)  # raises on a bad header checksum
    assert naive_checksum(raw[:20]) == 0
    out = Out(ip, raw=raw)
    if ip.more or ip.offset:
        pass  # a fragment: the test puts them together
    elif ip.proto == PROTO_TCP:
        out.tcp = parse_tcp(ip.src, ip.dst, ip.payload)
    elif ip.proto == PROTO_UDP:
        out.udp = parse_udp(ip.src, ip.dst, ip.payload)
    elif ip.proto == PROTO_ICMP:
        out.icmp = parse_icmp(ip.payload)
    return out


@dataclass
class Wire:
    """What the terminator sent the client, parsed, in order."""

    term: Terminator
    out: list[Out] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.term.on_packet = lambda raw: self.out.append(parse_out(raw))

    def take(self) -> list[Out]:
        out, self.out = self.out, []
        return out


def make(
    *, max_flows: int = 256, mss: int = 1460, **kw: object
) -> tuple[FakeHost, Terminator, Wire]:
    host = FakeHost()
    term = Terminator(
        host, client_ip=CLIENT, dns_servers=(DNS1, DNS2), max_flows=max_flows, mss=mss
    )
    for name, value in kw.items():
        setattr(term, name, value)
    return host, term, Wire(term)


def ip_packet(src: str, dst: str, proto: int, payload: bytes) -> bytes:
    return build_ipv4(ip_bytes(src), ip_bytes(dst), proto, payload, 1)


def tcp_packet(
    sport: int,
    dport: int,
    seq: int,
    ack: int,
    flags: int,
    window: int = 65535,
    payload: bytes = b"",
    mss: int = 0,
    src: str = CLIENT,
    dst: str = SERVER,
) -> bytes:
    seg = build_tcp(
        ip_bytes(src), ip_bytes(dst), sport, dport, seq, ack, flags, window, payload, mss
    )
    return ip_packet(src, dst, PROTO_TCP, seg)


def udp_packet(
    sport: int, dport: int, payload: bytes, src: str = CLIENT, dst: str = SERVER
) -> bytes:
    return ip_packet(
        src, dst, PROTO_UDP, build_udp(ip_bytes(src), ip_bytes(dst), sport, dport, payload)
    )


def icmp_echo(ident: int, seq: int, payload: bytes, dst: str = SERVER) -> bytes:
    return ip_packet(CLIENT, dst, PROTO_ICMP, build_icmp(8, 0, ident, seq, payload))


class Client:
    """One client TCP connection: a well-behaved, simple peer (in-order
    receive, immediate ACKs, a fixed receive window)."""

    def __init__(
        self,
        host: FakeHost,
        term: Terminator,
        wire: Wire,
        *,
        sport: int = 40000,
        dst: str = SERVER,
        dport: int = 80,
        window: int = 65535,
        mss: int = 1460,
        iss: int = 1000,
    ) -> None:
        self.host, self.term, self.wire = host, term, wire
        self.sport, self.dst, self.dport = sport, dst, dport
        self.window = window
        self.mss = mss
        self.iss = iss
        self.snd_nxt = iss
        self.snd_una = iss
        self.rcv_nxt = 0
        self.peer_wnd = 0
        self.peer_mss = 0
        self.received = bytearray()
        self.fin = False
        self.reset = False
        self.sock = 0
        self.drop_next = 0  # drop this many incoming data segments (a client short of buffers)

    def send_raw(
        self,
        seq: int,
        ack: int,
        flags: int,
        payload: bytes = b"",
        window: int | None = None,
        mss: int = 0,
    ) -> None:
        self.term.packet(
            tcp_packet(
                self.sport,
                self.dport,
                seq,
                ack,
                flags,
                self.window if window is None else window,
                payload,
                mss,
                dst=self.dst,
            )
        )

    def syn(self) -> int:
        """Send the SYN; returns the host socket the terminator opened."""
        self.send_raw(self.iss, 0, SYN, mss=self.mss)
        self.snd_nxt = (self.iss + 1) & MASK
        connects = [r for r in self.host.requests if isinstance(r, Connect)]
        self.sock = connects[-1].sock
        return self.sock

    def connect(self) -> None:
        """SYN, the host connects, SYN-ACK, ACK."""
        sock = self.syn()
        self.host.result(Connected(sock, self.dst, self.dport))
        self.pump()
        assert self.peer_mss, "no SYN-ACK"

    def mine(self, out: Out) -> bool:
        t = out.tcp
        return t is not None and t.dport == self.sport and t.sport == self.dport

    def pump(self) -> list[Out]:
        """Handle every segment for this connection the terminator sent;
        the others stay on the wire."""
        mine = [o for o in self.wire.out if self.mine(o)]
        self.wire.out = [o for o in self.wire.out if not self.mine(o)]
        for out in mine:
            self.handle(out)
        return mine

    def handle(self, out: Out) -> None:
        seg = out.tcp
        assert seg is not None
        if seg.flags & RST:
            self.reset = True
            return
        if seg.flags & SYN:
            assert seg.flags & ACK
            self.rcv_nxt = (seg.seq + 1) & MASK
            self.peer_mss = seg.mss
            self.peer_wnd = seg.window
            self.snd_una = seg.ack
            self.send_raw(self.snd_nxt, self.rcv_nxt, ACK)
            return
        if seg.flags & ACK:
            if ((seg.ack - self.snd_una) & MASK) < 0x80000000:
                self.snd_una = seg.ack
            self.peer_wnd = seg.window
        if seg.payload:
            assert len(seg.payload) <= self.mss
            if self.drop_next:
                self.drop_next -= 1
                return
            room = self.window - 0  # the app reads at once: the window stays open
            if seg.seq == self.rcv_nxt and len(seg.payload) <= room:
                self.received += seg.payload
                self.rcv_nxt = (self.rcv_nxt + len(seg.payload)) & MASK
            self.send_raw(self.snd_nxt, self.rcv_nxt, ACK)
        if seg.flags & FIN and ((seg.seq + len(seg.payload)) & MASK) == self.rcv_nxt:
            self.rcv_nxt = (self.rcv_nxt + 1) & MASK
            self.fin = True
            self.send_raw(self.snd_nxt, self.rcv_nxt, ACK)

    def send(self, data: bytes) -> int:
        """Send what the terminator's window allows; returns how much."""
        sent = 0
        while data:
            in_flight = (self.snd_nxt - self.snd_una) & MASK
            room = self.peer_wnd - in_flight
            if room <= 0:
                break
            n = min(len(data), room, self.peer_mss or 536)
            self.send_raw(self.snd_nxt, self.rcv_nxt, ACK | 0x08, data[:n])
            self.snd_nxt = (self.snd_nxt + n) & MASK
            data = data[n:]
            sent += n
            self.pump()
        return sent

    def close(self) -> None:
        self.send_raw(self.snd_nxt, self.rcv_nxt, FIN | ACK)
        self.snd_nxt = (self.snd_nxt + 1) & MASK


def slow_line_downloads(
    baud: int, size: int, n: int = 1, *, line_rate: bool = True, window: int = 65535
) -> tuple[Terminator, float, list[Client]]:
    """``n`` downloads of ``size`` bytes at once over a serial line of
    ``baud`` (10 bits a byte, 8 bytes of framing a packet) to clients that
    acknowledge every second segment or after 200 ms (delayed ACK), on the
    fake clock. Returns the terminator, the time taken and the clients."""
    rate = baud / 10.0
    host, term, wire = make()
    if line_rate:
        term.line_rate = rate
    clients = [Client(host, term, wire, sport=4000 + i, window=window) for i in range(n)]
    for c in clients:
        c.connect()
    by_port = {c.sport: c for c in clients}
    line: list[tuple[float, bytes]] = []
    busy = [0.0]

    def out(raw: bytes) -> None:
        busy[0] = max(host.now, busy[0]) + (len(raw) + 8) / rate
        line.append((busy[0], raw))

    term.on_packet = out
    data = bytes(size)
    fed = dict.fromkeys((c.sock for c in clients), 0)
    unacked = dict.fromkeys(by_port, 0)
    delack: dict[int, float | None] = dict.fromkeys(by_port)
    start = host.now
    while any(len(c.received) < size for c in clients):
        assert host.now - start < 3600, "stuck"
        for c in clients:
            fed[c.sock] += host.feed(c.sock, data[fed[c.sock] : fed[c.sock] + 65536])
        events = [t for t, _ in line] + [at for at, _ in host.timers.values()]
        events += [d for d in delack.values() if d is not None] + [host.now + 10]
        host.advance(max(0.0, min(events) - host.now))
        due = [r for t, r in line if t <= host.now + 1e-9]
        line[:] = [(t, r) for t, r in line if t > host.now + 1e-9]
        for raw in due:
            seg = parse_out(raw).tcp
            assert seg is not None
            c = by_port[seg.dport]
            if seg.payload and seg.seq == c.rcv_nxt:
                c.received += seg.payload
                c.rcv_nxt = (c.rcv_nxt + len(seg.payload)) & MASK
                unacked[c.sport] += 1
                if delack[c.sport] is None:
                    delack[c.sport] = host.now + 0.2
                if unacked[c.sport] >= 2:
                    unacked[c.sport], delack[c.sport] = 0, None
                    c.send_raw(c.snd_nxt, c.rcv_nxt, ACK)
            elif seg.payload:
                c.send_raw(c.snd_nxt, c.rcv_nxt, ACK)
        for c in clients:
            when = delack[c.sport]
            if when is not None and when <= host.now + 1e-9:
                unacked[c.sport], delack[c.sport] = 0, None
                c.send_raw(c.snd_nxt, c.rcv_nxt, ACK)
    return term, host.now - start, clients
