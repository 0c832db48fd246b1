"""The terminator's TCP against a client over a channel that loses,
duplicates and reorders packets both ways (the serial link never does, but
client stacks short of buffers drop, and the state machine must hold up):
both directions' bytes arrive intact and in order, the connection closes
cleanly, buffers stay within their bounds.

The channel loses at most ``MAX_BURST`` packets in a row each way. Without
that bound the claim is false: the terminator gives up (RST both ways) after
``MAX_RETRIES`` time-outs in a row, as RFC 9293 asks of every TCP, and
independent losses sooner or later take a segment or its ACK that many
times running (LossyRun(2986763485, 0.15, 0.1, 0.0, 2000, burst=None): a
segment or the client's ACK of it lost at the first send and at each of
eight retransmissions, the terminator right to reset). With the bound, the terminator's retransmission
of a segment to an otherwise silent client fails at most 3 * MAX_BURST times
running (lost on the way there, then its ACK, then there again), inside the
budget; bursts of two still exercise the time-outs."""

from __future__ import annotations

import random

from hypothesis import example, given, settings
from hypothesis import strategies as st
from ppp_ip_fakes import MASK, SERVER, Client, make, parse_out, tcp_packet

from sim800emu.core.events import Congestion, Connected, PeerClosed
from sim800emu.core.ppp.packets import ACK, FIN, RST, SYN
from sim800emu.core.ppp.tcp import HOST_WINDOW, MAX_RETRIES

MAX_BURST = 2  # packets the channel loses in a row, each way
assert 3 * MAX_BURST < MAX_RETRIES + 1


def lt(a: int, b: int) -> bool:
    return a != b and ((b - a) & MASK) < 0x80000000


class LossyRun:
    def __init__(
        self,
        seed: int,
        loss: float,
        dup: float,
        swap: float,
        window: int,
        burst: int | None = MAX_BURST,  # None: independent losses, no bound
    ) -> None:
        self.rng = random.Random(seed)
        self.loss, self.dup, self.swap = loss, dup, swap
        self.burst = MASK if burst is None else burst
        self.host, self.term, self.wire = make()
        self.term.on_packet = self.to_client
        self.window = window
        self.upload = self.rng.randbytes(self.rng.randint(0, 40_000))
        self.download = self.rng.randbytes(self.rng.randint(0, 40_000))
        self.iss = self.rng.randint(0, MASK)
        # client state
        self.snd_una = self.snd_nxt = self.snd_max = self.iss
        self.rcv_nxt = 0
        self.peer_wnd = 0
        self.received = bytearray()
        self.got_fin = False
        self.fin_sent = False
        self.fin_acked = False
        self.reset = False
        self.synced = False
        self.inbox: list[bytes] = []  # packets on their way to the client
        self.lost = {"up": 0, "down": 0}  # packets lost in a row, each way
        self.rto_at = 0.0

    # the channel
    def chaos(self, packets: list[bytes], way: str) -> list[bytes]:
        out: list[bytes] = []
        for p in packets:
            if self.rng.random() < self.loss and self.lost[way] < self.burst:
                self.lost[way] += 1
                continue
            self.lost[way] = 0
            out.append(p)
            if self.rng.random() < self.dup:
                out.append(p)
        for i in range(len(out) - 1):
            if self.rng.random() < self.swap:
                out[i], out[i + 1] = out[i + 1], out[i]
        return out

    def to_client(self, raw: bytes) -> None:
        self.inbox.append(raw)

    def to_term(self, packets: list[bytes]) -> None:
        for p in self.chaos(packets, "up"):
            self.term.packet(p)

    def seg(self, seq: int, flags: int, payload: bytes = b"") -> bytes:
        ack = self.rcv_nxt if self.synced else 0
        return tcp_packet(
            40000, 80, seq, ack, flags, self.window, payload, 1460 if flags & SYN else 0
        )

    # the client: go-back-N on its own timer, in-order receiver
    def client_output(self, again: bool = False) -> list[bytes]:
        out: list[bytes] = []
        if not self.synced:
            return [self.seg(self.iss, SYN)] if again else []
        if again:
            self.snd_nxt = self.snd_una
        base = (self.iss + 1) & MASK
        while True:
            off = (self.snd_nxt - base) & MASK
            inflight = (self.snd_nxt - self.snd_una) & MASK
            room = min(self.peer_wnd, 8000) - inflight
            if off < len(self.upload) and room > 0:
                n = min(536, room, len(self.upload) - off)
                out.append(self.seg(self.snd_nxt, ACK, self.upload[off : off + n]))
                self.snd_nxt = (self.snd_nxt + n) & MASK
                if lt(self.snd_max, self.snd_nxt):
                    self.snd_max = self.snd_nxt
                continue
            if off == len(self.upload) and (not self.fin_sent or again):
                out.append(self.seg(self.snd_nxt, FIN | ACK))
                self.fin_sent = True
                self.snd_nxt = (self.snd_nxt + 1) & MASK
                if lt(self.snd_max, self.snd_nxt):
                    self.snd_max = self.snd_nxt
            break
        return out

    def client_input(self) -> list[bytes]:
        packets, self.inbox = self.chaos(self.inbox, "down"), []
        out: list[bytes] = []
        for raw in packets:
            seg = parse_out(raw).tcp
            assert seg is not None
            if seg.flags & RST:
                self.reset = True
                continue
            if seg.flags & SYN:
                if not self.synced:
                    self.synced = True
                    self.rcv_nxt = (seg.seq + 1) & MASK
                    self.snd_una = self.snd_nxt = self.snd_max = seg.ack
                    self.peer_wnd = seg.window
                out.append(self.seg(self.snd_nxt, ACK))
                continue
            if not self.synced:
                continue
            if seg.flags & ACK and lt(self.snd_una, seg.ack) and not lt(self.snd_max, seg.ack):
                self.snd_una = seg.ack
                if lt(self.snd_nxt, seg.ack):
                    self.snd_nxt = seg.ack
                if self.fin_sent and self.snd_una == self.snd_max:
                    self.fin_acked = True
            self.peer_wnd = seg.window
            if seg.payload or seg.flags & FIN:
                if seg.seq == self.rcv_nxt and len(seg.payload) <= self.window:
                    self.received += seg.payload
                    self.rcv_nxt = (self.rcv_nxt + len(seg.payload)) & MASK
                    if seg.flags & FIN:
                        self.rcv_nxt = (self.rcv_nxt + 1) & MASK
                        self.got_fin = True
                out.append(self.seg(self.snd_nxt, ACK))
        return out

    def run(self) -> None:
        host, term = self.host, self.term
        self.to_term([self.seg(self.iss, SYN)])
        sock = None
        fed = 0
        closed_host = False
        for _step in range(20_000):
            assert host.now < 3000, "no progress"
            if sock is None and host.requests:
                sock = host.requests[0].sock  # type: ignore[union-attr]
                host.result(Connected(sock, SERVER, 80))
            if sock is not None:
                fed += host.feed(sock, self.download[fed : fed + 3000])
                # the far end half-closes once it has sent all (the client
                # may still be sending: that goes on)
                if fed == len(self.download) and not closed_host:
                    host.result(PeerClosed(sock))
                    closed_host = True
            replies = self.client_input()
            replies += self.client_output()
            self.to_term(replies)
            for conn in term.connections():
                assert len(conn.buf) <= HOST_WINDOW
            if self.reset:
                break
            if self.got_fin and self.fin_acked and not term.connections():
                break
            if not self.inbox:
                host.advance(0.25)
                if host.now >= self.rto_at:
                    self.rto_at = host.now + 1.5
                    self.to_term(self.client_output(again=True))
        assert not self.reset, term.stats
        sent = bytes(host.sent.get(sock, b"")) if sock is not None else b""
        assert sent == self.upload
        assert bytes(self.received) == self.download
        assert self.got_fin and self.fin_acked
        host.advance(11)
        assert not term.connections()


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32),
    loss=st.sampled_from([0.0, 0.05, 0.15]),
    dup=st.sampled_from([0.0, 0.1]),
    swap=st.sampled_from([0.0, 0.1]),
    window=st.sampled_from([536, 2000, 8192, 65535]),
)
# the ACK of a retransmission acknowledged our FIN too (test_ppp_tcp.py)
@example(seed=3355657358, loss=0.15, dup=0.1, swap=0.0, window=2000)
def test_lossy_channel_both_ways(
    seed: int, loss: float, dup: float, swap: float, window: int
) -> None:
    LossyRun(seed, loss, dup, swap, window).run()


def test_lossy_channel_example() -> None:
    LossyRun(7, 0.15, 0.1, 0.1, 2000).run()


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(-3, 3),  # seq: rcv_nxt plus this many 100-byte steps
            st.integers(-3, 3),  # ack: snd_una plus this many 500-byte steps
            st.integers(0, 0x3F),  # flags
            st.integers(0, 300),  # payload size
            st.integers(0, 65535),  # window
            st.sampled_from(["none", "feed", "close", "congest", "relieve", "time"]),
        ),
        max_size=60,
    )
)
def test_random_segments_keep_the_invariants(
    steps: list[tuple[int, int, int, int, int, str]],
) -> None:
    """Segments with sequence and acknowledgement numbers near the
    connection's own (random flags, sizes, windows) and host events in
    between: never an exception, the windows and buffers keep their bounds,
    the host gets the client's bytes at most once and in order."""

    host, term, wire = make()
    c = Client(host, term, wire)
    c.connect()
    conn = term.connections()[0]
    sock = c.sock
    sent_seq: dict[int, int] = {}  # stream offset -> byte, what the client sent
    base = c.snd_nxt
    for dseq, dack, flags, size, window, event in steps:
        if event == "feed":
            host.feed(sock, bytes(5000))
        elif event == "close":
            host.result(PeerClosed(sock))
        elif event in ("congest", "relieve"):
            host.result(Congestion(sock, event == "congest"))
        elif event == "time":
            host.advance(7)
        if conn.closed:
            break
        seq = (conn.rcv_nxt + 100 * dseq) & MASK
        ack = (conn.snd_una + 500 * dack) & MASK
        offset = (seq - base) & MASK
        payload = bytes((offset + i) & 0xFF for i in range(size))  # the stream's own bytes
        term.packet(tcp_packet(c.sport, 80, seq, ack, flags, window, payload))
        wire.take()
        assert term.stats.get("errors", 0) == 0
        if conn.closed:
            break
        assert len(conn.buf) <= HOST_WINDOW
        assert not lt(conn.snd_max, conn.snd_nxt) and not lt(conn.snd_nxt, conn.snd_una)
        for i in range(size):
            sent_seq.setdefault((offset + i) & MASK, (offset + i) & 0xFF)
    got = bytes(host.sent.get(sock, b""))
    assert got == bytes(i & 0xFF for i in range(len(got)))  # in order, each byte once
