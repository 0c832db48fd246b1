"""The PPP client's IPv4 traffic, ended here like QEMU's slirp.

Every TCP connection and UDP flow of the client is re-originated through
the modem's own network requests (``Connect``/``Send``/``Close``), so the
driver applies ``--allow``/``--deny``, routes, shaping, faults and the
traffic log exactly as for CIP links. ICMP echo goes through ``Ping``;
DNS queries to the servers IPCP announced are answered from ``Resolve``.
The gateway address ``host_alias`` (10.0.2.2, as in slirp) stands for the
host's 127.0.0.1. The module's own address ``peer_ip`` (192.168.254.254,
what IPCP gives it) and ``local_addrs`` (the fallback DNS server) are
answered here: echo replied at once, TCP reset, UDP port unreachable (DNS
still answered if it is an announced server).

Sans-I/O: ``packet`` takes a datagram from the client, ``on_packet`` gives
one to the client; everything else goes through ``PppHost``. The design
choices (windows, RTO, limits) are in docs/ppp-ip.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from ..events import (
    Close,
    Connect,
    Connected,
    ConnectFailed,
    PeerClosed,
    Ping,
    PingDone,
    PingReply,
    PortUnreachable,
    Received,
    Result,
    Send,
    SendFailed,
)
from .dnsproxy import DnsProxy
from .host import PppHost
from .link import PEER_IP
from .packets import (
    ACK,
    FIN,
    ICMP_ECHO_REPLY,
    ICMP_ECHO_REQUEST,
    PROTO_ICMP,
    PROTO_TCP,
    PROTO_UDP,
    RST,
    SYN,
    IpPacket,
    PacketError,
    build_fragments,
    build_icmp,
    build_ipv4,
    build_tcp,
    build_udp,
    build_unreachable,
    ip_bytes,
    ip_str,
    parse_icmp,
    parse_ipv4,
    parse_tcp,
    parse_udp,
)
from .tcp import HOST_WINDOW, MASK, State, TcpConn, seq_lt

Flow = tuple[bytes, int, bytes, int]  # client address, client port, destination, port

UDP_IDLE = 60.0  # seconds without a datagram either way before a flow's socket closes
UDP_QUEUE = 16  # datagrams held while a flow's host socket connects
MAX_PINGS = 32  # echo requests waiting for their answer
PING_TIMEOUT = 5.0
MAX_PING_SIZE = 1472
MAX_REASSEMBLY = 16  # datagrams being reassembled from fragments at a time
REASSEMBLY_BYTES = 256 * 1024  # ... holding at most this much
REASSEMBLY_TIMEOUT = 15.0  # seconds a datagram's fragments may take
LINE_OVERHEAD = 1.15  # HDLC escaping of the worst ACCM (32 of 256 values) and then some
LINE_FRAME = 8  # flags, address, control, protocol, FCS


@dataclass(slots=True, eq=False)
class _UdpFlow:
    flow: Flow
    sock: int
    timer: str
    up: bool = False
    last: float = 0.0
    queue: list[bytes] = field(default_factory=list)
    first: bytes = b""  # the first datagram (quoted by ICMP unreachable)
    quote: bytes = b""  # the latest datagram's IP header and 8 bytes (port unreachable)


@dataclass(slots=True, eq=False)
class _Reassembly:
    started: float
    parts: dict[int, bytes] = field(default_factory=dict)  # offset -> payload
    end: int = -1  # the payload's length, once the last fragment came
    size: int = 0


def _ipv4(text: str) -> bool:
    try:
        ip_bytes(text)
    except ValueError:
        return False
    return True


class Terminator:
    """The client's IPv4 ended here; see the module docstring."""

    def __init__(
        self,
        host: PppHost,
        *,
        client_ip: str,
        dns_servers: tuple[str, ...],
        host_alias: str = "10.0.2.2",
        peer_ip: str = PEER_IP,
        local_addrs: tuple[str, ...] = (),
        mss: int = 1460,
        max_flows: int = 256,
        key: str = "ppp.ip",
        udp_idle: float = UDP_IDLE,
        ping_timeout: float = PING_TIMEOUT,
    ) -> None:
        self.host = host
        self.client_ip = client_ip
        self.dns_servers = tuple(d for d in dns_servers if _ipv4(d) and d != "0.0.0.0")
        self._dns_set = {ip_bytes(d) for d in self.dns_servers}
        self.host_alias = host_alias
        # addresses that exist only in the emulator: the module's own
        # (IPCP's peer address) and e.g. the fallback DNS server
        self._local = {
            ip_bytes(a) for a in (peer_ip, *local_addrs) if _ipv4(a) and a != host_alias
        }
        self.mss = mss  # the session may lower it to the client's MRU - 40
        # bytes per second of the serial line to the client (0: fast, not
        # modelled); the session sets it from --baud so that the TCP timers
        # start when a segment has left the line, not while it is queued
        self.line_rate = 0.0
        self._line_free = 0.0  # when what was sent so far has left the line
        self.max_flows = max_flows
        self.key = key
        self.udp_idle = udp_idle
        self.ping_timeout = ping_timeout
        self.on_packet: Callable[[bytes], None] = lambda packet: None
        self.stats: dict[str, int] = {}
        self._tcp: dict[Flow, TcpConn] = {}
        self._udp: dict[Flow, _UdpFlow] = {}
        self._pings: dict[int, tuple[bytes, bytes, int, int, bytes] | None] = {}
        self.dns = DnsProxy(
            host,
            servers=self.dns_servers,
            host_alias=host_alias,
            reply=self._dns_reply,
            stats=self.stats,
            guard=self._guard,
        )
        self._ident = 0
        self._serial = 0
        self._reassembly: dict[tuple[bytes, bytes, int, int], _Reassembly] = {}

    # ------------------------------------------------------------ public

    def packet(self, data: bytes) -> None:
        """An IPv4 datagram from the client; never raises."""
        try:
            self._packet(bytes(data))
        except PacketError as exc:
            self._count(str(exc.args[0]) if exc.args else "malformed")
        except Exception:  # a bug must not end the PPP session
            self._count("errors")

    def close_all(self) -> None:
        """PPP ended: every host socket closed, all state dropped, nothing
        sent to the client."""
        for conn in list(self._tcp.values()):
            conn.drop()
        self._tcp.clear()
        for flow in list(self._udp.values()):
            self._drop_udp(flow)
        for query in self._pings:
            self.host.disown_query(query)
        self._pings.clear()
        self.dns.close()
        self._reassembly.clear()

    @property
    def flows(self) -> int:
        """TCP connections and UDP flows held now."""
        return len(self._tcp) + len(self._udp)

    def connections(self) -> list[TcpConn]:
        return list(self._tcp.values())

    # ------------------------------------------------------------ plumbing

    def _count(self, name: str, n: int = 1) -> None:
        self.stats[name] = self.stats.get(name, 0) + n

    def _target(self, dst: bytes) -> str:
        text = ip_str(dst)
        return "127.0.0.1" if text == self.host_alias else text

    def _send_ip(self, src: bytes, dst: bytes, proto: int, payload: bytes) -> None:
        self._ident = (self._ident + 1) & 0xFFFF
        mtu = self.mss + 40  # the client's MRU, as the session set mss
        if 20 + len(payload) > mtu:
            packets = build_fragments(src, dst, proto, payload, self._ident, mtu)
            self._count("fragmented_out")
        else:
            packets = [build_ipv4(src, dst, proto, payload, self._ident)]
        for packet in packets:
            self._count("ip_out")
            if self.line_rate > 0:
                now = self.host.now
                start = self._line_free if self._line_free > now else now
                size = len(packet) * LINE_OVERHEAD + LINE_FRAME
                self._line_free = start + size / self.line_rate
            self.on_packet(packet)

    def _departure(self) -> float:
        """When the packet sent last will have left the serial line."""
        now = self.host.now
        return self._line_free if self.line_rate > 0 and self._line_free > now else now

    def _guard(self, fn: Callable[[Result], None]) -> Callable[[Result], None]:
        def run(res: Result) -> None:
            try:
                fn(res)
            except Exception:
                self._count("errors")

        return run

    def _packet(self, data: bytes) -> None:
        ip = parse_ipv4(data, fragments=True)
        self._count("ip_in")
        if ip.more or ip.offset:
            reassembled = self._reassemble(ip)
            if reassembled is None:
                return
            ip = reassembled
        dst = ip.dst
        if dst[0] == 0 or dst[0] >= 224 or dst[0] == 127:
            raise PacketError("bad_destination")  # multicast, broadcast, "this" net, loopback
        if dst in self._local:
            self._to_module(ip, data)
        elif ip.proto == PROTO_TCP:
            self._tcp_in(ip)
        elif ip.proto == PROTO_UDP:
            self._udp_in(ip, data)
        elif ip.proto == PROTO_ICMP:
            self._icmp_in(ip)
        else:  # ICMP protocol unreachable (RFC 1122 3.2.2.1)
            self._count("unsupported_protocol")
            if not (ip.more or ip.offset):
                unreachable = build_unreachable(data, 2)
                self._send_ip(ip.dst, ip.src, PROTO_ICMP, unreachable)

    def _reassemble(self, ip: IpPacket) -> IpPacket | None:
        """RFC 791 reassembly, bounded: at most ``MAX_REASSEMBLY`` datagrams
        (the oldest goes), ``REASSEMBLY_BYTES`` in all, 15 s each;
        overlapping fragments drop the datagram (RFC 5722's rule)."""
        self._count("fragments_in")
        now = self.host.now
        table = self._reassembly
        for key in [k for k, r in table.items() if now - r.started > REASSEMBLY_TIMEOUT]:
            del table[key]
            self._count("reassembly_timeouts")
        key = (ip.src, ip.dst, ip.proto, ip.ident)
        entry = table.get(key)
        if entry is None:
            if len(table) >= MAX_REASSEMBLY:
                del table[next(iter(table))]
                self._count("reassembly_dropped")
            entry = table[key] = _Reassembly(now)
        start, stop = ip.offset, ip.offset + len(ip.payload)
        held = sum(r.size for r in table.values())
        parts = entry.parts
        overlap = any(start < off + len(part) and off < stop for off, part in parts.items())
        end = entry.end if ip.more else stop
        if entry.end >= 0 and end != entry.end:
            end = -2  # two different last fragments
        beyond = end != -1 and (
            end < 0 or stop > end or any(off + len(p) > end for off, p in parts.items())
        )
        if (
            overlap
            or beyond
            or stop > 65535 - 20
            or (ip.more and len(ip.payload) % 8)
            or held + len(ip.payload) > REASSEMBLY_BYTES
        ):
            del table[key]
            self._count("reassembly_dropped")
            return None
        entry.parts[start] = ip.payload
        entry.size += len(ip.payload)
        if not ip.more:
            entry.end = stop
        if entry.end < 0 or entry.size != entry.end:
            return None
        del table[key]  # no overlaps and every byte there: complete
        payload = b"".join(part for _, part in sorted(entry.parts.items()))
        self._count("reassembled")
        return IpPacket(ip.src, ip.dst, ip.proto, ip.ttl, payload)

    def _full(self) -> bool:
        """No room for another flow? A connection in TIME_WAIT makes room,
        else the UDP flow quiet the longest (a new datagram opens it again)."""
        if self.flows < self.max_flows:
            return False
        for conn in self._tcp.values():
            if conn.state is State.TIME_WAIT:
                conn.drop()
                return False
        if self._udp:
            quiet = min(self._udp.values(), key=lambda flow: flow.last)
            self._count("udp_evicted")
            self._drop_udp(quiet)
            return False
        return True

    def _to_module(self, ip: IpPacket, raw: bytes) -> None:
        """A datagram for the module's own address: answered here, never
        sent on to the host's network (nothing listens there)."""
        if ip.proto == PROTO_ICMP:
            msg = parse_icmp(ip.payload)
            if msg.type == ICMP_ECHO_REQUEST and msg.code == 0:
                self._count("ping_local")
                reply = build_icmp(ICMP_ECHO_REPLY, 0, msg.ident, msg.seq, msg.payload)
                self._send_ip(ip.dst, ip.src, PROTO_ICMP, reply)
            else:
                self._count("icmp_ignored")
        elif ip.proto == PROTO_TCP:
            seg = parse_tcp(ip.src, ip.dst, ip.payload)
            self._count("tcp_in")
            if not seg.flags & RST:
                self._reset(ip, seg.sport, seg.dport, seg.seq, seg.ack, seg.flags, len(seg.payload))
        elif ip.proto == PROTO_UDP:
            dgram = parse_udp(ip.src, ip.dst, ip.payload)
            if dgram.dport == 53 and ip.dst in self._dns_set:
                self._udp_in(ip, raw)  # the module as the announced DNS server
                return
            self._count("udp_in")
            self._count("udp_port_unreachable")
            self._send_ip(ip.dst, ip.src, PROTO_ICMP, build_unreachable(raw, 3))
        else:
            self._count("unsupported_protocol")
            self._send_ip(ip.dst, ip.src, PROTO_ICMP, build_unreachable(raw, 2))

    # ------------------------------------------------------------ TCP

    def _tcp_in(self, ip: IpPacket) -> None:
        seg = parse_tcp(ip.src, ip.dst, ip.payload)
        self._count("tcp_in")
        flow = (ip.src, seg.sport, ip.dst, seg.dport)
        conn = self._tcp.get(flow)
        syn = seg.flags & (SYN | ACK | RST) == SYN
        if conn is not None:
            if not syn:
                conn.segment(seg)
                return
            if conn.state is State.TIME_WAIT and seq_lt(conn.rcv_nxt, seg.seq):
                conn.drop()  # a new incarnation (RFC 9293 3.10.7.4)
            else:
                conn.on_syn_again(seg)
                return
        if seg.flags & RST:
            return
        if not syn or seg.dport == 0:
            self._reset(ip, seg.sport, seg.dport, seg.seq, seg.ack, seg.flags, len(seg.payload))
            return
        if self._full():
            self._count("flows_full")
            self._reset(ip, seg.sport, seg.dport, seg.seq, seg.ack, seg.flags, len(seg.payload))
            return
        sock = self.host.new_sock()
        self._serial += 1
        iss = (int(self.host.now * 250_000) + self._serial * 0x01000193) & MASK
        conn = TcpConn(
            self.host,
            flow=flow,
            timer_key=f"{self.key}.t{self._serial}",
            sock=sock,
            syn=seg,
            iss=iss,
            mss=self.mss,
            emit=self._emit_tcp,
            forget=self._forget_tcp,
            stats=self.stats,
            departure=self._departure,
        )
        self._tcp[flow] = conn
        self._count("tcp_connections")
        self.host.own_sock(sock, self._guard(conn.on_result))
        self.host.request(
            Connect(
                sock,
                "TCP",
                self._target(ip.dst),
                seg.dport,
                rx_window=HOST_WINDOW,
                half_close=True,
            )
        )

    def _emit_tcp(
        self, conn: TcpConn, flags: int, seq: int, ack: int, window: int, payload: bytes, mss: int
    ) -> None:
        client, cport, dst, dport = conn.flow
        segment = build_tcp(dst, client, dport, cport, seq, ack, flags, window, payload, mss)
        self._send_ip(dst, client, PROTO_TCP, segment)

    def _forget_tcp(self, conn: TcpConn) -> None:
        if self._tcp.get(conn.flow) is conn:
            del self._tcp[conn.flow]

    def _reset(
        self, ip: IpPacket, sport: int, dport: int, seq: int, ack: int, flags: int, size: int
    ) -> None:
        """RST for a segment that belongs to no connection (RFC 9293 3.10.7.1)."""
        self._count("tcp_rst_out")
        if flags & ACK:
            segment = build_tcp(ip.dst, ip.src, dport, sport, ack, 0, RST, 0)
        else:
            size += (1 if flags & SYN else 0) + (1 if flags & FIN else 0)
            segment = build_tcp(ip.dst, ip.src, dport, sport, 0, seq + size, RST | ACK, 0)
        self._send_ip(ip.dst, ip.src, PROTO_TCP, segment)

    # ------------------------------------------------------------ UDP

    def _udp_in(self, ip: IpPacket, raw: bytes) -> None:
        dgram = parse_udp(ip.src, ip.dst, ip.payload)
        self._count("udp_in")
        if dgram.dport == 53 and ip.dst in self._dns_set:
            self.dns.query(ip.src, dgram.sport, ip.dst, dgram.payload)
            return
        if dgram.dport == 0:
            raise PacketError("udp_port_0")
        flow_key = (ip.src, dgram.sport, ip.dst, dgram.dport)
        flow = self._udp.get(flow_key)
        if flow is None:
            if self._full():
                self._count("flows_full")
                return
            sock = self.host.new_sock()
            self._serial += 1
            flow = _UdpFlow(flow_key, sock, f"{self.key}.u{self._serial}", first=raw)
            self._udp[flow_key] = flow
            self._count("udp_flows")
            self.host.own_sock(sock, self._guard(partial(self._on_udp_result, flow)))
            self.host.request(
                Connect(sock, "UDP", self._target(ip.dst), dgram.dport, icmp_errors=True)
            )
            self._arm_udp(flow, self.udp_idle)
        flow.last = self.host.now
        flow.quote = raw[: (raw[0] & 0x0F) * 4 + 8]
        if flow.up:
            self.host.request(Send(flow.sock, dgram.payload))
        elif len(flow.queue) < UDP_QUEUE:
            flow.queue.append(dgram.payload)
        else:
            self._count("udp_queue_full")

    def _arm_udp(self, flow: _UdpFlow, delay: float) -> None:
        self.host.start_timer(flow.timer, delay, lambda: self._udp_idle(flow))

    def _udp_idle(self, flow: _UdpFlow) -> None:
        if self._udp.get(flow.flow) is not flow:
            return
        left = flow.last + self.udp_idle - self.host.now
        if left > 1e-6:
            self._arm_udp(flow, left)
            return
        self._count("udp_idle_closed")
        self._drop_udp(flow)

    def _drop_udp(self, flow: _UdpFlow, close: bool = True) -> None:
        if self._udp.get(flow.flow) is flow:
            del self._udp[flow.flow]
        self.host.cancel_timer(flow.timer)
        if close:
            self.host.request(Close(flow.sock, quick=True))
        self.host.disown_sock(flow.sock)
        flow.queue.clear()

    def _on_udp_result(self, flow: _UdpFlow, res: Result) -> None:
        if self._udp.get(flow.flow) is not flow:
            return
        if isinstance(res, Received):
            flow.last = self.host.now
            client, cport, dst, dport = flow.flow
            self._count("udp_out")
            self._send_ip(dst, client, PROTO_UDP, build_udp(dst, client, dport, cport, res.data))
        elif isinstance(res, Connected):
            flow.up = True
            for payload in flow.queue:
                self.host.request(Send(flow.sock, payload))
            flow.queue.clear()
            flow.first = b""
        elif isinstance(res, ConnectFailed):
            self._count("udp_refused")
            client, _cport, dst, _dport = flow.flow
            if flow.first:
                code = 13 if "denied" in res.reason else 1  # administratively prohibited / host
                self._send_ip(dst, client, PROTO_ICMP, build_unreachable(flow.first, code))
            self._drop_udp(flow, close=False)
        elif isinstance(res, PortUnreachable):
            # the host's socket heard ICMP port unreachable: so does the
            # client, about its latest datagram; the flow stays
            if flow.up and flow.quote:
                self._count("udp_port_unreachable")
                client, _cport, dst, _dport = flow.flow
                self._send_ip(dst, client, PROTO_ICMP, build_unreachable(flow.quote, 3))
        elif isinstance(res, (PeerClosed, SendFailed)):
            self._drop_udp(flow)

    # ------------------------------------------------------------ ICMP

    def _icmp_in(self, ip: IpPacket) -> None:
        msg = parse_icmp(ip.payload)
        if msg.type != ICMP_ECHO_REQUEST or msg.code != 0:
            self._count("icmp_ignored")
            return
        if len(self._pings) >= MAX_PINGS:
            self._count("ping_dropped")
            return
        self._count("pings")
        query = self.host.new_query()
        self._pings[query] = (ip.src, ip.dst, msg.ident, msg.seq, msg.payload)
        self.host.own_query(query, self._guard(self._on_ping))
        size = min(len(msg.payload), MAX_PING_SIZE)
        self.host.request(
            Ping(query, self._target(ip.dst), count=1, size=size, timeout=self.ping_timeout)
        )

    def _on_ping(self, res: Result) -> None:
        if isinstance(res, PingReply):
            ping = self._pings.get(res.query)
            if ping is None or res.time_ms is None:
                return  # answered already, or timed out: nothing
            self._pings[res.query] = None
            client, dst, ident, seq, payload = ping
            self._count("ping_replies")
            reply = build_icmp(ICMP_ECHO_REPLY, 0, ident, seq, payload)
            self._send_ip(dst, client, PROTO_ICMP, reply)
        elif isinstance(res, PingDone) and res.query in self._pings:
            del self._pings[res.query]
            self.host.disown_query(res.query)

    def _dns_reply(self, server: bytes, client: bytes, port: int, message: bytes) -> None:
        self._send_ip(server, client, PROTO_UDP, build_udp(server, client, 53, port, message))
