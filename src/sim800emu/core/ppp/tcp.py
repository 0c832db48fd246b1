"""One TCP connection of the PPP client, ended here (RFC 9293), its data
carried on by a host socket of the modem's network layer.

The terminator plays the server's part towards the client: a SYN makes it
ask the host for a connection (``Connect``); the SYN-ACK goes out only when
the host is ``Connected`` (``ConnectFailed``: RST). Then:

* client -> host: in-order data is passed on at once (``Send``) and
  acknowledged; the window offered is ``RCV_WINDOW`` while the host socket
  takes data, and closes (the right edge is no longer moved, so it never
  shrinks) from ``Congestion(full=True)`` until ``Congestion(full=False)``.
  Out-of-order segments are dropped and answered with a duplicate ACK (the
  link is lossless; a client that dropped something retransmits);
* host -> client: the host delivers at most the receive window granted
  (``Connect.rx_window``); the bytes wait in the send buffer until the
  client acknowledges them, and only then is their room granted back
  (``ReadCredit``), so a connection never holds more than that window.
  Segments of at most the effective MSS go out within the client's window
  and a congestion window (slow start from 4 segments; after a timeout
  from one, RFC 5681 lite: it keeps the first burst from filling a slow
  serial line's queue past the retransmission timer);
* retransmission (RFC 6298): RTO from the measured round trip (Karn), at
  least ``RTO_MIN``, doubled at each time-out up to ``RTO_MAX``; after
  ``MAX_RETRIES`` time-outs in a row the connection is reset both ways.
  Three duplicate ACKs retransmit the first unacknowledged segment at once.
  A closed client window is probed (persist timer) and never given up on;
* FIN/RST both ways, each FIN a half-close: the far end's FIN
  (``PeerClosed``; the host socket is opened with ``half_close``) sends
  ours after the buffered data while the client may still send; the
  client's FIN shuts the host socket down for writing (``Shutdown``) while
  the far end may still answer; the socket is released (``Close``) once
  both have closed. Simultaneous close, TIME_WAIT (short: ``TIME_WAIT``
  s), RST checks of RFC 5961 (challenge ACK).

Sans-I/O: the connection talks to the world only through ``PppHost`` (its
requests and one timer) and ``emit`` (a segment for the client).
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..events import (
    Close,
    Congestion,
    Connected,
    ConnectFailed,
    PeerClosed,
    ReadCredit,
    Received,
    Result,
    Send,
    SendFailed,
    Shutdown,
)
from .packets import ACK, FIN, PSH, RST, SYN, TcpSegment

if TYPE_CHECKING:
    from .host import PppHost

MASK = 0xFFFFFFFF
RCV_WINDOW = 65535  # what the client may send ahead (no window scaling)
HOST_WINDOW = 65536  # rx_window of the host socket: the send buffer's bound
RTO_INITIAL = 1.0
RTO_MIN = 1.0
RTO_MAX = 60.0
MAX_RETRIES = 8  # time-outs in a row before the connection is reset
SYN_RETRIES = 5  # SYN-ACKs sent before a half-open connection is dropped
TIME_WAIT = 10.0  # short (RFC: 2 MSL), but longer than a client takes to resend its FIN
FIN_WAIT_2_TIMEOUT = 60.0  # the far end closed, the client is silent that long: forget
PERSIST_MAX = 60.0
INITIAL_CWND_SEGMENTS = 4
DEFAULT_MSS = 536  # RFC 9293 3.7.1: the client sent no MSS option


def seq_lt(a: int, b: int) -> bool:
    return a != b and ((b - a) & MASK) < 0x80000000


def seq_le(a: int, b: int) -> bool:
    return ((b - a) & MASK) < 0x80000000


class State(enum.Enum):
    CONNECTING = "connecting"  # SYN received, host connection pending
    SYN_RCVD = "syn-received"  # SYN-ACK sent
    ESTABLISHED = "established"
    FIN_WAIT_1 = "fin-wait-1"  # host closed: FIN queued or sent
    FIN_WAIT_2 = "fin-wait-2"  # our FIN acknowledged, the client's not yet
    CLOSING = "closing"  # both FINs sent, ours not yet acknowledged
    CLOSE_WAIT = "close-wait"  # the client's FIN came first: the host half-closed
    LAST_ACK = "last-ack"  # both closed, our FIN queued or sent
    TIME_WAIT = "time-wait"
    CLOSED = "closed"


Emit = Callable[["TcpConn", int, int, int, int, bytes, int], None]
"""emit(conn, flags, seq, ack, window, payload, mss_option)"""


class TcpConn:
    """One connection; ``key`` names it in the terminator's table."""

    def __init__(
        self,
        host: PppHost,
        *,
        flow: tuple[bytes, int, bytes, int],
        timer_key: str,
        sock: int,
        syn: TcpSegment,
        iss: int,
        mss: int,
        emit: Emit,
        forget: Callable[[TcpConn], None],
        stats: dict[str, int],
        departure: Callable[[], float] | None = None,
    ) -> None:
        self.host = host
        self.flow = flow  # client address, client port, destination, port
        self.timer_key = timer_key
        self.sock = sock
        self.emit = emit
        self.forget = forget
        self.stats = stats
        # when the segment just emitted will have left the serial line
        # (the terminator's model of the line's queue; now when unknown)
        self.departure: Callable[[], float] = departure or (lambda: host.now)
        self.state = State.CONNECTING
        self.created = host.now
        # receive side
        self.irs = syn.seq
        self.rcv_nxt = (syn.seq + 1) & MASK
        self.rcv_adv = self.rcv_nxt  # right edge of the window offered
        self.congested = False
        # send side
        self.iss = iss
        self.snd_una = iss
        self.snd_nxt = iss
        self.snd_max = iss
        self.snd_wnd = syn.window
        self.max_snd_wnd = syn.window
        self.snd_wl1 = syn.seq
        self.snd_wl2 = iss
        self.buf = bytearray()  # from buf_seq on: unacknowledged, then unsent
        self.buf_seq = (iss + 1) & MASK
        self.fin_queued = False
        self.fin_sent = False  # at or before snd_nxt (a time-out's go-back unsends it)
        self.fin_seq: int | None = None  # our FIN's sequence number, once sent
        self.host_open = True  # the host socket is ours (no Close sent yet)
        self.mss = max(48, min(mss, syn.mss or DEFAULT_MSS))  # 48: as Linux, against tiny MSS
        self.cwnd = INITIAL_CWND_SEGMENTS * self.mss
        self.ssthresh = 1 << 30
        self.dupacks = 0
        self.recover: int | None = None  # snd_max at the fast retransmit (NewReno)
        # timing (RFC 6298)
        self.srtt = 0.0
        self.rttvar = 0.0
        self.rto = RTO_INITIAL
        self.timed: tuple[int, float] | None = None  # (end seq, left the line at)
        self.sent: deque[tuple[int, float]] = deque()  # (end seq, left the line at)
        self.retries = 0
        self.owed = 0  # acknowledged bytes not yet granted back
        # one timer: retransmission, persist, TIME_WAIT
        self.deadline: float | None = None
        self.timer_at: float | None = None  # when the host timer fires
        self.persisting = False
        self.persist_backoff = 0

    # ------------------------------------------------------------ helpers

    @property
    def closed(self) -> bool:
        return self.state is State.CLOSED

    @property
    def flight(self) -> int:
        return (self.snd_nxt - self.snd_una) & MASK

    def _window(self) -> int:
        """The window to offer: the full one while the host takes data,
        else what is left of the last offer (it never shrinks)."""
        if (
            self.state
            in (
                State.CONNECTING,
                State.SYN_RCVD,
                State.ESTABLISHED,
                State.FIN_WAIT_1,
                State.FIN_WAIT_2,
            )
            and not self.congested
            and self.host_open
        ):
            self.rcv_adv = (self.rcv_nxt + RCV_WINDOW) & MASK
            return RCV_WINDOW
        left = (self.rcv_adv - self.rcv_nxt) & MASK
        return left if left < 0x80000000 else 0

    def _send(self, flags: int, seq: int, payload: bytes = b"", mss: int = 0) -> None:
        self.emit(self, flags, seq, self.rcv_nxt, self._window(), payload, mss)

    def _ack(self) -> None:
        self._send(ACK, self.snd_nxt)

    def _request(self, req: Send | Close | Shutdown | ReadCredit) -> None:
        self.host.request(req)

    def _close_host(self, quick: bool = False) -> None:
        if self.host_open:
            self.host_open = False
            self._request(Close(self.sock, quick))
            self.host.disown_sock(self.sock)

    def _grant(self, final: bool = False) -> None:
        """Room in the send buffer goes back to the host in steps of a
        quarter window (or all when the buffer is empty)."""
        if (
            self.owed
            and self.host_open
            and (final or not self.buf or self.owed >= HOST_WINDOW // 4)
        ):
            self._request(ReadCredit(self.sock, self.owed))
            self.owed = 0

    # ------------------------------------------------------------ timer

    def _arm(self, delay: float) -> None:
        self._arm_at(self.host.now + delay)

    def _arm_at(self, at: float) -> None:
        self.deadline = at
        if self.timer_at is None or self.timer_at > at + 1e-6:
            self.timer_at = at
            self.host.start_timer(self.timer_key, max(0.0, at - self.host.now), self._fire)

    def _arm_rto(self) -> None:
        """The retransmission timer: RTO after the first unacknowledged
        segment left the serial line (not while it waits in its queue)."""
        sent = self.sent
        una = self.snd_una
        while sent and seq_le(sent[0][0], una):
            sent.popleft()
        base = self.host.now
        if sent and sent[0][1] > base:
            base = sent[0][1]
        self._arm_at(base + self.rto)

    def _disarm(self) -> None:
        self.deadline = None  # the running timer finds nothing to do

    def _fire(self) -> None:
        self.timer_at = None
        deadline = self.deadline
        if deadline is None or self.state is State.CLOSED:
            return
        now = self.host.now
        if now < deadline - 1e-6:
            self.timer_at = deadline
            self.host.start_timer(self.timer_key, deadline - now, self._fire)
            return
        self.deadline = None
        if self.state in (State.TIME_WAIT, State.FIN_WAIT_2):
            self._finish()
        elif self.state is State.SYN_RCVD:
            self._retransmit_syn()
        elif self.persisting:
            self._probe()
        elif self.snd_una != self.snd_max:
            self._timeout()

    def _finish(self) -> None:
        """The connection is over: nothing more is sent."""
        if self.closed:
            return
        self.state = State.CLOSED
        self._close_host()
        self.deadline = None
        if self.timer_at is not None:
            self.timer_at = None
            self.host.cancel_timer(self.timer_key)
        self.forget(self)

    def abort(self, reason: str) -> None:
        """Reset both ways (RST to the client, the host socket aborted)."""
        if self.closed:
            return
        self.stats[reason] = self.stats.get(reason, 0) + 1
        self.stats["tcp_rst_out"] = self.stats.get("tcp_rst_out", 0) + 1
        if self.state is not State.CONNECTING:
            self._send(RST | ACK, self.snd_nxt)
        else:
            self.emit(self, RST | ACK, 0, self.rcv_nxt, 0, b"", 0)
        self._close_host(quick=True)
        self._finish()

    def drop(self) -> None:
        """Forget at once, nothing sent (PPP ended)."""
        self._close_host(quick=True)
        self._finish()

    # ------------------------------------------------------------ host side

    def on_result(self, res: Result) -> None:
        if self.closed:
            return
        if isinstance(res, Received):
            self._on_received(res.data)
        elif isinstance(res, Connected):
            self._on_connected()
        elif isinstance(res, ConnectFailed):
            self.host_open = False
            self.host.disown_sock(self.sock)
            self.abort("tcp_refused")
        elif isinstance(res, PeerClosed):
            self._on_peer_closed()
        elif isinstance(res, Congestion):
            self._on_congestion(res.full)
        elif isinstance(res, SendFailed):
            self.abort("tcp_send_failed")

    def _on_connected(self) -> None:
        if self.state is not State.CONNECTING:
            return
        self.state = State.SYN_RCVD
        self._send_syn_ack()

    def _send_syn_ack(self) -> None:
        self.snd_nxt = self.snd_max = (self.iss + 1) & MASK
        self._send(SYN | ACK, self.iss, mss=self.mss)
        left = self.departure()
        if self.timed is None:
            self.timed = (self.snd_nxt, left)
        self._arm_at(left + self.rto)

    def _retransmit_syn(self) -> None:
        self.retries += 1
        if self.retries > SYN_RETRIES:
            self.abort("tcp_syn_timeout")
            return
        self.stats["tcp_retransmits"] = self.stats.get("tcp_retransmits", 0) + 1
        self.timed = None
        self.rto = min(self.rto * 2, RTO_MAX)
        self._send_syn_ack()

    def _on_received(self, data: bytes) -> None:
        if not data:
            return
        if self.fin_queued or not self.host_open:
            return  # cannot happen: nothing is read after the host's close
        self.buf += data
        self._output()

    def _on_peer_closed(self) -> None:
        """The far end's FIN: ours to the client after what is buffered
        (everything the driver read was delivered before this). Its
        direction only: the client may still send (the host socket is a
        half-close one) until it closes too; after the client's own FIN
        (CLOSE-WAIT) both are done and the socket is released."""
        if self.state is State.CLOSE_WAIT or self.state is State.CONNECTING:
            self._close_host()
        if self.fin_queued:
            return
        self.fin_queued = True  # (in SYN-RECEIVED: FIN-WAIT-1 once the client ACKs)
        if self.state is State.ESTABLISHED:
            self.state = State.FIN_WAIT_1
        elif self.state is State.CLOSE_WAIT:
            self.state = State.LAST_ACK
        elif self.state is State.CONNECTING:
            self.abort("tcp_refused")
            return
        self._output()

    def _on_congestion(self, full: bool) -> None:
        if full == self.congested:
            return
        self.congested = full
        if not full and self.state in (State.ESTABLISHED, State.FIN_WAIT_1, State.FIN_WAIT_2):
            self._ack()  # the window opens again: tell the client

    # ------------------------------------------------------------ output

    def _output(self) -> bool:
        """Send what the windows allow; True when a segment went out."""
        if self.state in (State.CONNECTING, State.SYN_RCVD, State.CLOSED, State.TIME_WAIT):
            return False
        sent = False
        window = min(self.snd_wnd, self.cwnd)
        buf_len = len(self.buf)
        while True:
            off = (self.snd_nxt - self.buf_seq) & MASK
            if off > buf_len:  # only the FIN is beyond the data
                break
            avail = buf_len - off
            usable = window - self.flight
            if avail > 0 and usable > 0:
                n = min(avail, usable, self.mss)
                if n < self.mss and n < avail and n < self.max_snd_wnd // 2 and self.flight:
                    break  # sender-side silly window avoidance: wait for a bigger window
                payload = bytes(self.buf[off : off + n])
                flags = ACK
                if n == avail:
                    flags |= PSH
                    if self.fin_queued:
                        flags |= FIN
                self._send_data(flags, payload)
                sent = True
                continue
            if avail == 0 and self.fin_queued and not self.fin_sent:
                self._send_data(ACK | FIN, b"")
                sent = True
            break
        if self.snd_una != self.snd_max:
            if self.persisting or self.deadline is None:
                self.persisting = False
                self._arm_rto()
        elif self.buf and self.snd_wnd == 0 and not self.persisting:
            self.persisting = True
            self.persist_backoff = 0
            self._arm(self.rto)
        return sent

    def _send_data(self, flags: int, payload: bytes) -> None:
        seq = self.snd_nxt
        end = (seq + len(payload) + (1 if flags & FIN else 0)) & MASK
        if flags & FIN:
            self.fin_sent = True
            self.fin_seq = (end - 1) & MASK
        again = seq_lt(seq, self.snd_max)
        if again:
            self.stats["tcp_retransmits"] = self.stats.get("tcp_retransmits", 0) + 1
        self._send(flags, seq, payload)
        left = self.departure()
        self.sent.append((end, left))
        if not again and self.timed is None:
            self.timed = (end, left)
        self.snd_nxt = end
        if seq_lt(self.snd_max, end):
            self.snd_max = end

    def _timeout(self) -> None:
        self.retries += 1
        if self.retries > MAX_RETRIES:
            self.abort("tcp_timeout")
            return
        self.ssthresh = max(self.flight // 2, 2 * self.mss)
        self.cwnd = self.mss
        self.rto = min(self.rto * 2, RTO_MAX)
        self.timed = None  # Karn: no sample from a retransmitted segment
        self.snd_nxt = self.snd_una  # go back: resend from the first unacknowledged
        self.recover = None
        self.fin_sent = False  # sent again after the data (fin_seq tells when it is acked)
        self.dupacks = 0
        self.sent.clear()
        self._disarm()
        self._output_one()  # arms the timer again

    def _output_one(self) -> None:
        """After a time-out: whatever ``_output`` sends within one MSS, even
        if the client's window closed meanwhile (that is the probe)."""
        wnd = self.snd_wnd
        if self.snd_wnd == 0:
            self.snd_wnd = 1
        self._output()
        self.snd_wnd = wnd

    def _probe(self) -> None:
        """Persist: the client's window is closed and data waits; an ACK
        one byte below what it expects makes it say its window again."""
        if not self.buf or self.snd_wnd > 0 or self.snd_una != self.snd_max:
            self.persisting = False
            return
        self.stats["tcp_probes"] = self.stats.get("tcp_probes", 0) + 1
        self._send(ACK, (self.snd_una - 1) & MASK)
        self.persist_backoff += 1
        interval = min(self.rto * (1 << min(self.persist_backoff, 6)), PERSIST_MAX)
        self._arm_at(self.departure() + interval)

    # ------------------------------------------------------------ client side

    def on_syn_again(self, seg: TcpSegment) -> None:
        """A SYN for this connection's addresses."""
        if self.state is State.CONNECTING and seg.seq == self.irs:
            return  # the client retransmits while the host connects
        if self.state is State.SYN_RCVD and seg.seq == self.irs:
            self._send(SYN | ACK, self.iss, mss=self.mss)  # our SYN-ACK was lost
            return
        self._challenge()

    def _challenge(self) -> None:
        self.stats["tcp_challenge_acks"] = self.stats.get("tcp_challenge_acks", 0) + 1
        self._ack()

    def segment(self, seg: TcpSegment) -> None:
        """A segment from the client for this connection (not a new SYN)."""
        if self.closed:
            return
        if self.state is State.CONNECTING:
            if seg.flags & RST and not seg.flags & ACK and seg.seq == self.rcv_nxt:
                self.drop()  # the client gave up before the host answered
            return
        flags = seg.flags
        payload = seg.payload
        seq = seg.seq
        seg_len = len(payload) + (1 if flags & SYN else 0) + (1 if flags & FIN else 0)
        wnd = (self.rcv_adv - self.rcv_nxt) & MASK
        if wnd >= 0x80000000:
            wnd = 0
        # 1. sequence acceptability (RFC 9293 3.10.7.4)
        nxt = self.rcv_nxt
        if seg_len == 0:
            ok = seq == nxt if wnd == 0 else seq_le(nxt, seq) and seq_lt(seq, (nxt + wnd) & MASK)
        elif wnd == 0:
            ok = False
        else:
            last = (seq + seg_len - 1) & MASK
            edge = (nxt + wnd) & MASK
            ok = (seq_le(nxt, seq) and seq_lt(seq, edge)) or (
                seq_le(nxt, last) and seq_lt(last, edge)
            )
        if not ok:
            if seg_len and wnd == 0 and seq == nxt and flags & (RST | SYN | ACK) == ACK:
                # zero window: the ACK and the window still count
                self._process_ack(seg)
                if self.closed:
                    return
                self._output()
            if not flags & RST:
                self.stats["tcp_out_of_window"] = self.stats.get("tcp_out_of_window", 0) + 1
                self._ack()
                if flags & FIN and self.state is State.TIME_WAIT:
                    # the client's FIN again (it lies below rcv_nxt): our
                    # ACK was lost; restart the timeout (RFC 9293 3.10.7.4)
                    self._arm(TIME_WAIT)
            return
        # 2. RST (RFC 5961 3.2)
        if flags & RST:
            if seq == nxt:
                self.stats["tcp_rst_in"] = self.stats.get("tcp_rst_in", 0) + 1
                self._close_host(quick=True)
                self._finish()
            else:
                self._challenge()
            return
        # 4. SYN in a synchronized state (RFC 5961 4.2), old or new
        if flags & SYN:
            self._challenge()
            return
        # trim what was received already, and what is beyond the window
        if seq_lt(seq, nxt):
            payload = payload[(nxt - seq) & MASK :]
            seq = nxt
            self.stats["tcp_duplicates"] = self.stats.get("tcp_duplicates", 0) + 1
        if len(payload) > wnd:
            payload = payload[:wnd]
            flags &= ~FIN
        # 5. ACK
        if not flags & ACK:
            return
        if self.state is State.SYN_RCVD:
            if not (seq_lt(self.snd_una, seg.ack) and seq_le(seg.ack, self.snd_max)):
                self.emit(self, RST, seg.ack, 0, 0, b"", 0)
                return
            self.state = State.FIN_WAIT_1 if self.fin_queued else State.ESTABLISHED
            self.snd_wnd = self.max_snd_wnd = seg.window
            self.snd_wl1 = seq
            self.snd_wl2 = seg.ack
            self.retries = 0
            self._disarm()
        if not self._process_ack(seg):
            return
        if self.closed:
            return
        # 7. data
        need_ack = False
        if payload:
            if self.state in (State.ESTABLISHED, State.FIN_WAIT_1, State.FIN_WAIT_2):
                if seq == self.rcv_nxt:
                    if not self.host_open:
                        self.abort("tcp_data_after_close")  # nobody to take it
                        return
                    self._request(Send(self.sock, payload))
                    self.rcv_nxt = (self.rcv_nxt + len(payload)) & MASK
                    if self.state is State.FIN_WAIT_2:
                        self._arm(FIN_WAIT_2_TIMEOUT)  # idle time, not age
                    self.stats["tcp_bytes_in"] = self.stats.get("tcp_bytes_in", 0) + len(payload)
                else:
                    self.stats["tcp_out_of_order"] = self.stats.get("tcp_out_of_order", 0) + 1
                    flags &= ~FIN
            need_ack = True
        # 8. FIN
        if flags & FIN and seq_le((seq + len(payload)) & MASK, self.rcv_nxt):
            if (seq + len(payload)) & MASK == self.rcv_nxt:
                self.rcv_nxt = (self.rcv_nxt + 1) & MASK
                self._on_client_fin()
            need_ack = True
        if self.closed:
            return
        if not self._output() and need_ack:
            self._ack()

    def _on_client_fin(self) -> None:
        state = self.state
        if state is State.ESTABLISHED:
            # the client is done sending: the host socket half-closes after
            # the data (FIN); what the far end still sends goes on to the
            # client until it closes too (PeerClosed: our FIN)
            self.state = State.CLOSE_WAIT
            self._request(Shutdown(self.sock))
        elif state is State.FIN_WAIT_1:
            self.state = State.CLOSING
            self._close_host()  # both directions done
        elif state is State.FIN_WAIT_2:
            self._enter_time_wait()
        elif state is State.TIME_WAIT:
            self._arm(TIME_WAIT)

    def _enter_time_wait(self) -> None:
        self.state = State.TIME_WAIT
        self.persisting = False
        self._close_host()
        self._arm(TIME_WAIT)

    def _process_ack(self, seg: TcpSegment) -> bool:
        """RFC 9293 3.10.7.4 fifth check; False: drop the segment."""
        ack = seg.ack
        if seq_lt(self.snd_max, ack):
            self._ack()  # acknowledges something never sent
            return False
        if seq_lt(self.snd_una, ack):
            self._on_new_ack(ack)
        elif (
            ack == self.snd_una
            and not seg.payload
            and not seg.flags & FIN
            and seg.window == self.snd_wnd
            and self.snd_una != self.snd_max
        ):
            self.dupacks += 1
            if self.dupacks == 3:
                self._fast_retransmit()
        # window update
        if seq_lt(self.snd_wl1, seg.seq) or (self.snd_wl1 == seg.seq and seq_le(self.snd_wl2, ack)):
            self.snd_wnd = seg.window
            self.snd_wl1 = seg.seq
            self.snd_wl2 = ack
            if seg.window > self.max_snd_wnd:
                self.max_snd_wnd = seg.window
        state = self.state
        # our FIN acknowledged: the ACK covers its sequence number, also
        # when a time-out had gone back to resend the data before it (an
        # ACK of that copy acknowledges the FIN the client already had)
        fin = self.fin_seq
        fin_acked = fin is not None and self.snd_una == (fin + 1) & MASK
        if fin_acked:
            if state is State.FIN_WAIT_1:
                self.state = State.FIN_WAIT_2
                self.persisting = False
                self._arm(FIN_WAIT_2_TIMEOUT)
            elif state is State.CLOSING:
                self._enter_time_wait()
            elif state is State.LAST_ACK:
                self._finish()
        return True

    def _on_new_ack(self, ack: int) -> None:
        now = self.host.now
        acked = (ack - self.buf_seq) & MASK
        if acked < 0x80000000:
            n = min(acked, len(self.buf))
            if n:
                del self.buf[:n]
                self.buf_seq = (self.buf_seq + n) & MASK
                self.owed += n
                self.stats["tcp_bytes_out"] = self.stats.get("tcp_bytes_out", 0) + n
        else:
            n = 0
        self.snd_una = ack
        if seq_lt(self.snd_nxt, ack):
            self.snd_nxt = ack
        self.dupacks = 0
        self.retries = 0
        if self.recover is not None:
            if seq_lt(ack, self.recover):
                self._resend_first()  # a partial ACK: the next hole (RFC 6582)
            else:
                self.recover = None
        timed = self.timed
        if timed is not None and seq_le(timed[0], ack):
            self._sample(max(0.0, now - timed[1]))
            self.timed = None
        if self.cwnd < self.ssthresh:
            self.cwnd += min(max(n, 1), self.mss)
        else:
            self.cwnd += max(1, self.mss * self.mss // self.cwnd)
        self.cwnd = min(self.cwnd, 1 << 20)
        if self.snd_una == self.snd_max:
            self._disarm()
            self.sent.clear()
        else:
            self._arm_rto()
        self._grant()

    def _sample(self, rtt: float) -> None:
        if self.srtt == 0.0:
            self.srtt = rtt
            self.rttvar = rtt / 2
        else:
            self.rttvar = 0.75 * self.rttvar + 0.25 * abs(self.srtt - rtt)
            self.srtt = 0.875 * self.srtt + 0.125 * rtt
        self.rto = min(max(self.srtt + max(0.01, 4 * self.rttvar), RTO_MIN), RTO_MAX)

    def _fast_retransmit(self) -> None:
        self.stats["tcp_fast_retransmits"] = self.stats.get("tcp_fast_retransmits", 0) + 1
        self.ssthresh = max(self.flight // 2, 2 * self.mss)
        self.cwnd = self.ssthresh
        self.timed = None
        self.recover = self.snd_max
        self._resend_first()

    def _resend_first(self) -> None:
        """The first unacknowledged segment again (snd_nxt unchanged)."""
        off = (self.snd_una - self.buf_seq) & MASK
        sent = min((self.snd_max - self.buf_seq) & MASK, len(self.buf))  # never past snd_max
        if off < sent:
            payload = bytes(self.buf[off : min(off + self.mss, sent)])
            self.stats["tcp_retransmits"] = self.stats.get("tcp_retransmits", 0) + 1
            self._send(ACK, self.snd_una, payload)
            if self.sent:  # the timer now waits for this copy
                self.sent[0] = (self.sent[0][0], self.departure())
