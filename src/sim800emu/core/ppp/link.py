"""The module's side of PPP's link layer: LCP, PAP/CHAP and IPCP.

``PppLink`` takes the client's serial bytes (``feed``) and hands back serial
bytes for the client (``on_output``) and the client's IPv4 datagrams
(``on_ip``). It negotiates the way a real SIM800 does (docs/ppp-link.md):

* LCP (RFC 1661): it asks for asyncmap 0x000A0000, PAP, PFC and ACFC, no
  magic number; it Naks a client asyncmap lacking XON/XOFF (0 becomes
  0x000A0000); it goes on without authentication when the client rejects it;
* PAP (RFC 1334) or CHAP-MD5 (RFC 1994) if the client Naks PAP with it: any
  credentials unless ``auth`` is set;
* IPCP (RFC 1332, 1877): its own address ``peer_ip``; the client's address
  and DNS servers Naked to ``client_ip`` and ``dns``; VJ compression and
  anything unknown rejected;
* IPV6CP, CCP and every unknown protocol get an LCP Protocol-Reject.

Both LCP and IPCP run the option negotiation automaton of RFC 1661 section
4 (``_Fsm``), with its restart timer and Max-Configure/Max-Terminate/
Max-Failure counters. Nothing here raises on input, and memory is bounded:
the only buffer is the ``Deframer``'s.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
from collections.abc import Callable
from enum import IntEnum

from .hdlc import DEFAULT_ACCM, Deframer, encode
from .host import PppHost

# protocol numbers
PROTO_IP = 0x0021
PROTO_IPV6 = 0x0057
PROTO_IPCP = 0x8021
PROTO_IPV6CP = 0x8057
PROTO_CCP = 0x80FD
PROTO_LCP = 0xC021
PROTO_PAP = 0xC023
PROTO_CHAP = 0xC223

PROTOCOL_NAMES = {
    PROTO_IP: "IP",
    PROTO_IPV6: "IPV6",
    PROTO_IPCP: "IPCP",
    PROTO_IPV6CP: "IPV6CP",
    PROTO_CCP: "CCP",
    PROTO_LCP: "LCP",
    PROTO_PAP: "PAP",
    PROTO_CHAP: "CHAP",
    0x002D: "VJ-COMP",
    0x002F: "VJ-UNCOMP",
    0x00FD: "COMP",
    0x003D: "MP",
    0x8207: "CDPCP",
    0xC025: "LQR",
    0xC227: "EAP",
    0x80FB: "ECP",
}

# LCP (and IPCP) codes
CONF_REQ = 1
CONF_ACK = 2
CONF_NAK = 3
CONF_REJ = 4
TERM_REQ = 5
TERM_ACK = 6
CODE_REJ = 7
PROTO_REJ = 8
ECHO_REQ = 9
ECHO_REP = 10
DISCARD_REQ = 11

# LCP options
LCP_MRU = 1
LCP_ACCM = 2
LCP_AUTH = 3
LCP_QUALITY = 4
LCP_MAGIC = 5
LCP_PFC = 7
LCP_ACFC = 8

# IPCP options
IPCP_ADDRESSES = 1
IPCP_COMPRESSION = 2
IPCP_ADDRESS = 3
IPCP_DNS1 = 129
IPCP_NBNS1 = 130
IPCP_DNS2 = 131
IPCP_NBNS2 = 132

PEER_IP = "192.168.254.254"  # the module's own address in IPCP, as a SIM800 gives it
MODULE_ACCM = 0x000A0000  # XON and XOFF escaped, as the SIM800 asks
CHAP_MD5 = 5
DEFAULT_MRU = 1500
MIN_MRU = 128  # what pppd accepts at least; smaller requests are Naked up to this
MAX_FAILURE = 5  # RFC 1661 Max-Failure: Naks in a row before rejecting instead
CHAP_NAME = b"SIM800"

Option = tuple[int, bytes]


class State(IntEnum):
    """RFC 1661 section 4.2."""

    INITIAL = 0
    STARTING = 1
    CLOSED = 2
    STOPPED = 3
    CLOSING = 4
    STOPPING = 5
    REQ_SENT = 6
    ACK_RCVD = 7
    ACK_SENT = 8
    OPENED = 9


class Phase(IntEnum):
    DEAD = 0
    ESTABLISH = 1
    AUTHENTICATE = 2
    NETWORK = 3
    TERMINATE = 4


def split_frame(frame: bytes) -> tuple[int, bytes] | None:
    """(protocol, information) of a deframed frame, Address/Control and a
    compressed Protocol field accepted; ``None`` for a malformed header."""
    i = 0
    if len(frame) >= 2 and frame[0] == 0xFF:
        if frame[1] != 0x03:
            return None
        i = 2
    if len(frame) <= i:
        return None
    first = frame[i]
    if first & 1:
        return first, frame[i + 1 :]
    if len(frame) < i + 2:
        return None
    proto = first << 8 | frame[i + 1]
    if not proto & 1:
        return None
    return proto, frame[i + 2 :]


def split_packet(info: bytes) -> tuple[int, int, bytes] | None:
    """(code, identifier, data) of an LCP-like packet; padding after the
    Length field is dropped; ``None`` when malformed."""
    if len(info) < 4:
        return None
    length = info[2] << 8 | info[3]
    if length < 4 or length > len(info):
        return None
    return info[0], info[1], info[4:length]


def packet(code: int, ident: int, data: bytes) -> bytes:
    n = 4 + len(data)
    return bytes((code, ident & 0xFF, n >> 8 & 0xFF, n & 0xFF)) + data


def parse_options(data: bytes) -> list[Option] | None:
    """Type/Length/Value options; ``None`` if a length is impossible."""
    out: list[Option] = []
    i = 0
    while i < len(data):
        if i + 2 > len(data):
            return None
        typ, length = data[i], data[i + 1]
        if length < 2 or i + length > len(data):
            return None
        out.append((typ, data[i + 2 : i + length]))
        i += length
    return out


def build_options(options: list[Option]) -> bytes:
    return b"".join(bytes((typ, len(value) + 2)) + value for typ, value in options)


def _u32(value: bytes) -> int:
    return int.from_bytes(value, "big")


def _addr(text: str) -> bytes | None:
    try:
        packed = ipaddress.IPv4Address(text).packed
    except ValueError:
        return None
    return None if packed == b"\0\0\0\0" else packed


class _Fsm:
    """The option negotiation automaton of RFC 1661 section 4, one per
    protocol. Subclasses say which options to ask for and how to answer
    the peer's (``request_options``, ``check_request``, ``got_ack``,
    ``got_nak``, ``got_reject``) and what the layer changes mean
    (``this_layer_up`` ...)."""

    name = "?"
    proto = 0

    def __init__(self, link: PppLink) -> None:
        self.link = link
        self.state = State.INITIAL
        self.restart_count = 0
        self.failures = 0  # Configure-Naks sent in a row
        self.naks_received = 0  # Configure-Naks received since the last Ack
        self.req_id = 0  # identifier of our last Configure-Request
        self._next_id = 0
        self._timer = f"{link.key}.{self.name.lower()}"

    # ---------------------------------------------------- what subclasses say

    def request_options(self) -> list[Option]:
        return []

    def check_request(self, options: list[Option]) -> tuple[list[Option], list[Option]]:
        """(naks, rejects) for the peer's options; ``apply_request`` is called
        when the request is acked."""
        return [], list(options)

    def apply_request(self, options: list[Option]) -> None:
        pass

    def got_ack(self, options: list[Option]) -> None:
        pass

    def got_nak(self, options: list[Option]) -> None:
        pass

    def got_reject(self, options: list[Option]) -> None:
        pass

    def this_layer_up(self) -> None:
        pass

    def this_layer_down(self) -> None:
        pass

    def this_layer_started(self) -> None:
        pass

    def this_layer_finished(self) -> None:
        pass

    def extra_code(self, code: int, ident: int, data: bytes) -> bool:
        """LCP's codes 8-11; ``False`` = unknown (Code-Reject)."""
        return False

    def terminate_request(self, ident: int) -> None:
        self.rtr(ident)

    # ------------------------------------------------------------- actions

    def send(self, code: int, ident: int, data: bytes) -> None:
        self.link.send_packet(self.proto, packet(code, ident, data))

    def new_id(self) -> int:
        self._next_id = (self._next_id + 1) & 0xFF
        return self._next_id

    def irc(self, terminate: bool = False) -> None:
        self.restart_count = self.link.max_terminate if terminate else self.link.max_configure

    def start_timer(self) -> None:
        self.link.host.start_timer(self._timer, self.link.restart, self.timeout)

    def stop_timer(self) -> None:
        self.link.host.cancel_timer(self._timer)

    def scr(self) -> None:
        self.req_id = self.new_id()
        self.restart_count -= 1
        self.send(CONF_REQ, self.req_id, build_options(self.request_options()))
        self.start_timer()

    def str_(self) -> None:
        self.restart_count -= 1
        self.send(TERM_REQ, self.new_id(), b"")
        self.start_timer()

    def sta(self, ident: int) -> None:
        self.send(TERM_ACK, ident, b"")

    def scj(self, rejected: bytes) -> None:
        self.link.stats["code_rejects"] += 1
        room = max(0, self.link.client_mru - 4)
        self.send(CODE_REJ, self.new_id(), rejected[:room])

    def set_state(self, state: State) -> None:
        if state in (State.INITIAL, State.STARTING, State.CLOSED, State.STOPPED, State.OPENED):
            self.stop_timer()
        self.state = state

    def reset(self) -> None:
        self.stop_timer()
        self.state = State.INITIAL
        self.failures = 0

    # -------------------------------------------------------------- events

    def up(self) -> None:
        if self.state == State.INITIAL:
            self.set_state(State.CLOSED)
        elif self.state == State.STARTING:
            self.irc()
            self.scr()
            self.set_state(State.REQ_SENT)

    def down(self) -> None:
        s = self.state
        if s == State.CLOSED or s == State.CLOSING:
            self.set_state(State.INITIAL)
        elif s == State.STOPPED:
            self.set_state(State.STARTING)
            self.this_layer_started()
        elif s in (State.STOPPING, State.REQ_SENT, State.ACK_RCVD, State.ACK_SENT):
            self.set_state(State.STARTING)
        elif s == State.OPENED:
            self.set_state(State.STARTING)
            self.this_layer_down()

    def open(self) -> None:
        s = self.state
        if s == State.INITIAL:
            self.set_state(State.STARTING)
            self.this_layer_started()
        elif s == State.CLOSED:
            self.irc()
            self.scr()
            self.set_state(State.REQ_SENT)
        elif s == State.CLOSING:
            self.set_state(State.STOPPING)

    def close(self) -> None:
        s = self.state
        if s == State.STARTING:
            self.set_state(State.INITIAL)
            self.this_layer_finished()
        elif s == State.STOPPED:
            self.set_state(State.CLOSED)
        elif s == State.STOPPING:
            self.set_state(State.CLOSING)
        elif s in (State.REQ_SENT, State.ACK_RCVD, State.ACK_SENT, State.OPENED):
            was_open = s == State.OPENED
            self.set_state(State.CLOSING)
            if was_open:
                self.this_layer_down()
            self.irc(terminate=True)
            self.str_()

    def timeout(self) -> None:
        s = self.state
        if s not in (State.CLOSING, State.STOPPING, State.REQ_SENT, State.ACK_RCVD, State.ACK_SENT):
            return
        if self.restart_count > 0:  # TO+
            if s in (State.CLOSING, State.STOPPING):
                self.str_()
            else:
                self.scr()
                if s == State.ACK_RCVD:
                    self.set_state(State.REQ_SENT)
        else:  # TO-
            self.set_state(State.CLOSED if s == State.CLOSING else State.STOPPED)
            self.this_layer_finished()

    def receive(self, info: bytes) -> None:
        """One packet of this protocol from the peer."""
        if self.state in (State.INITIAL, State.STARTING):
            self.link.stats["discarded"] += 1
            return
        parsed = split_packet(info)
        if parsed is None:
            self.link.stats["discarded"] += 1
            return
        code, ident, data = parsed
        if code == CONF_REQ:
            self.rcr(ident, data)
        elif code == CONF_ACK:
            self.rca(ident, data)
        elif code in (CONF_NAK, CONF_REJ):
            self.rcn(code, ident, data)
        elif code == TERM_REQ:
            self.terminate_request(ident)
        elif code == TERM_ACK:
            self.rta()
        elif code == CODE_REJ:
            self.rxj(data)
        elif not self.extra_code(code, ident, data):
            self.scj(info[: 4 + len(data)])

    def rcr(self, ident: int, data: bytes) -> None:
        s = self.state
        if s in (State.CLOSING, State.STOPPING):
            return
        if s == State.CLOSED:
            self.sta(ident)
            return
        options = parse_options(data)
        if options is None:
            self.link.stats["discarded"] += 1
            return
        naks, rejects = self.check_request(options)
        if rejects:
            code, reply, good = CONF_REJ, rejects, False
        elif naks:
            self.failures += 1
            if self.failures > MAX_FAILURE:  # RFC 1661 Max-Failure: reject what we keep Naking
                nak_types = {t for t, _ in naks}
                code, reply = CONF_REJ, [o for o in options if o[0] in nak_types]
            else:
                code, reply = CONF_NAK, naks
            good = False
        else:
            code, reply, good = CONF_ACK, options, True
        if s == State.OPENED:
            self.set_state(State.REQ_SENT)
            self.this_layer_down()
            self.irc()
            self.scr()
        elif s == State.STOPPED:
            self.irc()
            self.scr()
        if good:
            self.failures = 0
            self.apply_request(options)
        self.send(code, ident, build_options(reply))
        s = self.state
        if good:
            if s == State.ACK_RCVD:
                self.set_state(State.OPENED)
                self.this_layer_up()
            elif s in (State.REQ_SENT, State.ACK_SENT, State.STOPPED):
                self.set_state(State.ACK_SENT)
        elif s in (State.ACK_SENT, State.STOPPED):
            self.set_state(State.REQ_SENT)

    def rca(self, ident: int, data: bytes) -> None:
        if ident != self.req_id:
            self.link.stats["discarded"] += 1
            return
        s = self.state
        if s in (State.CLOSED, State.STOPPED):
            self.sta(ident)
        self.naks_received = 0
        if s == State.REQ_SENT:
            self.irc()
            self.got_ack(parse_options(data) or [])
            self.set_state(State.ACK_RCVD)
        elif s == State.ACK_SENT:
            self.irc()
            self.got_ack(parse_options(data) or [])
            self.set_state(State.OPENED)
            self.this_layer_up()
        elif s == State.ACK_RCVD:  # crossed: start again
            self.scr()
            self.set_state(State.REQ_SENT)
        elif s == State.OPENED:
            self.set_state(State.REQ_SENT)
            self.this_layer_down()
            self.scr()

    def rcn(self, code: int, ident: int, data: bytes) -> None:
        if ident != self.req_id:
            self.link.stats["discarded"] += 1
            return
        s = self.state
        if s in (State.CLOSED, State.STOPPED):
            self.sta(ident)
            return
        if s not in (State.REQ_SENT, State.ACK_RCVD, State.ACK_SENT, State.OPENED):
            return
        options = parse_options(data)
        if options is None:
            self.link.stats["discarded"] += 1
            return
        if code == CONF_NAK and self.naks_received < MAX_FAILURE:
            self.naks_received += 1
            self.got_nak(options)
        else:  # a Reject, or a peer that keeps Naking: drop what it objects to
            self.got_reject(options)
        if s == State.OPENED:
            self.set_state(State.REQ_SENT)
            self.this_layer_down()
        elif s in (State.REQ_SENT, State.ACK_SENT):
            self.irc()
        self.scr()
        if s == State.ACK_RCVD:
            self.set_state(State.REQ_SENT)

    def rtr(self, ident: int) -> None:
        s = self.state
        self.sta(ident)
        if s in (State.ACK_RCVD, State.ACK_SENT):
            self.set_state(State.REQ_SENT)
        elif s == State.OPENED:
            self.set_state(State.STOPPING)
            self.this_layer_down()
            self.restart_count = 0  # zrc: one restart period, then finished
            self.start_timer()

    def rta(self) -> None:
        s = self.state
        if s == State.CLOSING:
            self.set_state(State.CLOSED)
            self.this_layer_finished()
        elif s == State.STOPPING:
            self.set_state(State.STOPPED)
            self.this_layer_finished()
        elif s == State.ACK_RCVD:
            self.set_state(State.REQ_SENT)
        elif s == State.OPENED:
            self.set_state(State.REQ_SENT)
            self.this_layer_down()
            self.scr()

    def rxj(self, data: bytes) -> None:
        """A Code-Reject from the peer: harmless unless it rejects a code
        the automaton needs (1-7)."""
        rejected = data[0] if data else 0
        if 1 <= rejected <= 7:
            self.rxj_minus()
        elif self.state == State.ACK_RCVD:
            self.set_state(State.REQ_SENT)

    def rxj_minus(self) -> None:
        s = self.state
        if s in (State.CLOSED, State.STOPPED):
            self.this_layer_finished()
        elif s == State.CLOSING:
            self.set_state(State.CLOSED)
            self.this_layer_finished()
        elif s in (State.STOPPING, State.REQ_SENT, State.ACK_RCVD, State.ACK_SENT):
            self.set_state(State.STOPPED)
            self.this_layer_finished()
        elif s == State.OPENED:
            self.set_state(State.STOPPING)
            self.this_layer_down()
            self.irc(terminate=True)
            self.str_()


class _Lcp(_Fsm):
    name = "LCP"
    proto = PROTO_LCP

    def __init__(self, link: PppLink) -> None:
        super().__init__(link)
        self.reset_options()

    def reset_options(self) -> None:
        # what we ask for
        self.want_accm: int | None = MODULE_ACCM
        self.want_auth: tuple[int, int] | None = (PROTO_PAP, 0)  # (protocol, CHAP algorithm)
        self.tried_auth: set[int] = {PROTO_PAP}
        self.want_pfc = True
        self.want_acfc = True
        self.want_mru = self.link.mru if self.link.mru != DEFAULT_MRU else None
        # what the peer acked of it
        self.auth: tuple[int, int] | None = None
        # what we acked of the peer's request (applied to our output once opened)
        self.peer_accm = DEFAULT_ACCM
        self.peer_pfc = False
        self.peer_acfc = False

    def request_options(self) -> list[Option]:
        opts: list[Option] = []
        if self.want_mru is not None:
            opts.append((LCP_MRU, self.want_mru.to_bytes(2, "big")))
        if self.want_accm is not None:
            opts.append((LCP_ACCM, self.want_accm.to_bytes(4, "big")))
        if self.want_auth is not None:
            proto, algo = self.want_auth
            value = proto.to_bytes(2, "big") + (bytes((algo,)) if proto == PROTO_CHAP else b"")
            opts.append((LCP_AUTH, value))
        if self.want_pfc:
            opts.append((LCP_PFC, b""))
        if self.want_acfc:
            opts.append((LCP_ACFC, b""))
        return opts

    def check_request(self, options: list[Option]) -> tuple[list[Option], list[Option]]:
        naks: list[Option] = []
        rejects: list[Option] = []
        for typ, value in options:
            if typ == LCP_MRU and len(value) == 2:
                if _u32(value) < MIN_MRU:
                    naks.append((typ, MIN_MRU.to_bytes(2, "big")))
            elif typ == LCP_ACCM and len(value) == 4:
                accm = _u32(value)
                if accm & MODULE_ACCM != MODULE_ACCM:
                    naks.append((typ, (accm | MODULE_ACCM).to_bytes(4, "big")))
            elif typ == LCP_MAGIC and len(value) == 4:
                if _u32(value) == 0:  # RFC 1661 6.4: zero is illegal and always Naked
                    naks.append((typ, (0x53494D38).to_bytes(4, "big")))
            elif typ in (LCP_PFC, LCP_ACFC) and not value:
                pass
            else:  # auth (we have no credentials to give), quality, callback, MRRU ...
                rejects.append((typ, value))
        return naks, rejects

    def apply_request(self, options: list[Option]) -> None:
        link = self.link
        link.client_mru = DEFAULT_MRU
        self.peer_accm = DEFAULT_ACCM
        self.peer_pfc = self.peer_acfc = False
        for typ, value in options:
            if typ == LCP_MRU:
                link.client_mru = _u32(value)
            elif typ == LCP_ACCM:
                self.peer_accm = _u32(value)
            elif typ == LCP_PFC:
                self.peer_pfc = True
            elif typ == LCP_ACFC:
                self.peer_acfc = True

    def got_ack(self, options: list[Option]) -> None:
        self.auth = self.want_auth

    def got_nak(self, options: list[Option]) -> None:
        for typ, value in options:
            if typ == LCP_ACCM and len(value) == 4 and self.want_accm is not None:
                self.want_accm = _u32(value)
            elif typ == LCP_MRU and len(value) == 2 and self.want_mru is not None:
                self.want_mru = max(MIN_MRU, _u32(value))
            elif typ == LCP_AUTH and self.want_auth is not None:
                self._next_auth(value)

    def _next_auth(self, suggested: bytes) -> None:
        """The client Naked our auth: its suggestion if we speak it, else
        the method not yet tried, else none (each method is tried once)."""
        proto = _u32(suggested[:2]) if len(suggested) >= 2 else 0
        choice: int | None
        if proto == PROTO_CHAP and suggested[2:3] == bytes((CHAP_MD5,)):
            choice = PROTO_CHAP
        elif proto == PROTO_PAP:
            choice = PROTO_PAP
        else:
            choice = next((p for p in (PROTO_PAP, PROTO_CHAP) if p not in self.tried_auth), None)
        if choice is None or choice in self.tried_auth:
            self.want_auth = None
        else:
            self.tried_auth.add(choice)
            self.want_auth = (choice, CHAP_MD5 if choice == PROTO_CHAP else 0)

    def got_reject(self, options: list[Option]) -> None:
        for typ, _ in options:
            if typ == LCP_ACCM:
                self.want_accm = None
            elif typ == LCP_AUTH:
                self.want_auth = None
            elif typ == LCP_PFC:
                self.want_pfc = False
            elif typ == LCP_ACFC:
                self.want_acfc = False
            elif typ == LCP_MRU:
                self.want_mru = None

    def this_layer_up(self) -> None:
        self.link.lcp_up()

    def this_layer_down(self) -> None:
        self.link.lcp_down()

    def this_layer_finished(self) -> None:
        self.link.finish()

    def terminate_request(self, ident: int) -> None:
        """The client hangs up: Terminate-Ack, then the call ends at once
        (no restart period: esp_modem waits only 2 s for NO CARRIER)."""
        s = self.state
        self.sta(ident)
        if s in (State.CLOSED, State.STOPPED):
            return
        self.link.end_reason = self.link.end_reason or "terminated by the client"
        was_open = s == State.OPENED
        self.set_state(State.CLOSED if s == State.CLOSING else State.STOPPED)
        if was_open:
            self.this_layer_down()
        self.this_layer_finished()

    def rxj_minus(self) -> None:
        self.link.end_reason = self.link.end_reason or "the client rejected a vital LCP code"
        super().rxj_minus()

    def extra_code(self, code: int, ident: int, data: bytes) -> bool:
        link = self.link
        if code == PROTO_REJ:
            if self.state == State.OPENED and len(data) >= 2:
                link.protocol_rejected(_u32(data[:2]))
            return True
        if code == ECHO_REQ:
            if self.state == State.OPENED and len(data) >= 4:
                link.stats["echo_replies"] += 1
                room = max(0, link.client_mru - 8)
                # no magic number was negotiated: ours is sent as zero (RFC 1661 5.8)
                self.send(ECHO_REP, ident, b"\0\0\0\0" + data[4 : 4 + room])
            return True
        return code in (ECHO_REP, DISCARD_REQ)


class _Ipcp(_Fsm):
    name = "IPCP"
    proto = PROTO_IPCP

    def __init__(self, link: PppLink) -> None:
        super().__init__(link)
        self.want_addr: bytes | None = _addr(link.peer_ip)
        self.why = "IPCP negotiation failed"

    def request_options(self) -> list[Option]:
        return [] if self.want_addr is None else [(IPCP_ADDRESS, self.want_addr)]

    def check_request(self, options: list[Option]) -> tuple[list[Option], list[Option]]:
        link = self.link
        naks: list[Option] = []
        rejects: list[Option] = []
        wanted = {
            IPCP_ADDRESS: link.client_addr,
            IPCP_DNS1: link.dns_addrs[0],
            IPCP_DNS2: link.dns_addrs[1],
        }
        for typ, value in options:
            ours = wanted.get(typ)
            if ours is None or len(value) != 4:  # VJ, NBNS, IP-Addresses, unknown
                rejects.append((typ, value))
            elif value != ours:
                naks.append((typ, ours))
        return naks, rejects

    def got_nak(self, options: list[Option]) -> None:
        for typ, value in options:
            if typ == IPCP_ADDRESS and len(value) == 4 and value != b"\0\0\0\0":
                self.want_addr = value

    def got_reject(self, options: list[Option]) -> None:
        for typ, _ in options:
            if typ == IPCP_ADDRESS:
                self.want_addr = None

    def this_layer_up(self) -> None:
        self.link.ipcp_up()

    def this_layer_down(self) -> None:
        self.link.ipcp_down()

    def this_layer_finished(self) -> None:
        self.link.close(self.why)

    def rtr(self, ident: int) -> None:
        if self.state == State.OPENED:
            self.why = "the client closed IPCP"
        super().rtr(ident)


def _nothing(*_args: object) -> None:
    pass


class PppLink:
    """The module's end of the PPP link (see the module docstring)."""

    def __init__(
        self,
        host: PppHost,
        *,
        client_ip: str,
        dns: tuple[str, str],
        peer_ip: str = PEER_IP,
        auth: tuple[str, str] | None = None,
        restart: float = 3.0,
        max_configure: int = 10,
        max_terminate: int = 2,
        mru: int = DEFAULT_MRU,
        key: str = "ppp",
    ) -> None:
        self.host = host
        self.client_ip = client_ip
        self.dns = dns
        self.peer_ip = peer_ip
        self.auth = auth
        self.restart = restart
        self.max_configure = max(1, max_configure)
        self.max_terminate = max(1, max_terminate)
        self.mru = max(MIN_MRU, min(mru, 65535))
        self.key = key
        self.on_output: Callable[[bytes], None] = _nothing
        self.on_ip: Callable[[bytes], None] = _nothing
        self.on_up: Callable[[], None] = _nothing
        self.on_down: Callable[[str], None] = _nothing
        self.client_addr = _addr(client_ip) or b"\x0a\x00\x00\x02"
        first = _addr(dns[0]) if dns else None
        second = _addr(dns[1]) if len(dns) > 1 else None
        self.dns_addrs: tuple[bytes | None, bytes | None] = (first, second or first)
        self.stats: dict[str, int] = dict.fromkeys(
            (
                "frames_in",
                "frames_out",
                "bytes_in",
                "bytes_out",
                "bad_fcs",
                "too_long",
                "runts",
                "bad_header",
                "discarded",
                "protocol_rejects",
                "code_rejects",
                "echo_replies",
                "ip_in",
                "ip_out",
                "ip_in_dropped",
                "ip_out_dropped",
            ),
            0,
        )
        self._deframer = Deframer(max(self.mru, DEFAULT_MRU) + 100)
        self._reset()

    def _reset(self) -> None:
        self.phase = Phase.DEAD
        self.opened = False
        self.client_mru = DEFAULT_MRU
        self.end_reason = ""
        self.authenticated_as: str | None = None
        self._running = False
        self._chap_id = 0
        self._chap_challenge = b""
        self._chap_tries = 0
        self._chap_done = False
        self._lcp = _Lcp(self)
        self._ipcp = _Ipcp(self)
        self._deframer.reset()

    # ------------------------------------------------------------ the API

    @property
    def lcp_state(self) -> State:
        return self._lcp.state

    @property
    def ipcp_state(self) -> State:
        return self._ipcp.state

    @property
    def running(self) -> bool:
        """Started and not finished (``on_down`` not yet called)."""
        return self._running

    def start(self) -> None:
        """Right after CONNECT: LCP Configure-Request."""
        if self._running:
            self.abort()
        self._reset()
        self._running = True
        self.phase = Phase.ESTABLISH
        self._ipcp.open()
        self._lcp.open()
        self._lcp.up()

    def feed(self, data: bytes) -> None:
        if not data:
            return
        d = self._deframer
        before = (d.bad_fcs, d.too_long, d.runts)
        frames = d.feed(data)
        st = self.stats
        st["bytes_in"] += len(data)
        st["bad_fcs"] += d.bad_fcs - before[0]
        st["too_long"] += d.too_long - before[1]
        st["runts"] += d.runts - before[2]
        for frame in frames:
            st["frames_in"] += 1
            if self._running:
                self._frame(frame)
            else:
                st["discarded"] += 1

    def send_ip(self, packet: bytes) -> None:
        if not self.opened:
            self.stats["ip_out_dropped"] += 1
            return
        self.stats["ip_out"] += 1
        self._emit(PROTO_IP, packet)

    def close(self, reason: str = "closed") -> None:
        if not self._running:
            return
        self.end_reason = self.end_reason or reason
        if self._lcp.state in (State.INITIAL, State.STARTING, State.CLOSED, State.STOPPED):
            self.finish()
        else:
            self._lcp.close()
            self.phase = Phase.TERMINATE

    def abort(self) -> None:
        self._running = False
        self.opened = False
        self._lcp.reset()
        self._ipcp.reset()
        self.host.cancel_timer(f"{self.key}.auth")
        self.phase = Phase.DEAD

    # --------------------------------------------------------- the inside

    def _frame(self, frame: bytes) -> None:
        parsed = split_frame(frame)
        if parsed is None:
            self.stats["bad_header"] += 1
            return
        proto, info = parsed
        if proto == PROTO_LCP:
            self._lcp.receive(info)
        elif proto == PROTO_IP:
            if self.opened:
                self.stats["ip_in"] += 1
                self.on_ip(info)
            else:
                self.stats["ip_in_dropped"] += 1
        elif proto == PROTO_IPCP:
            if self.phase == Phase.NETWORK:
                self._ipcp.receive(info)
            else:
                self.stats["discarded"] += 1
        elif proto == PROTO_PAP:
            self._pap(info)
        elif proto == PROTO_CHAP:
            self._chap(info)
        elif self._lcp.state == State.OPENED:
            # IPV6CP, CCP, IPv6 and everything else (RFC 1661 5.7)
            self.stats["protocol_rejects"] += 1
            room = max(0, self.client_mru - 6)
            data = proto.to_bytes(2, "big") + info[:room]
            self._lcp.send(PROTO_REJ, self._lcp.new_id(), data)
        else:
            self.stats["discarded"] += 1

    def send_packet(self, proto: int, data: bytes) -> None:
        self._emit(proto, data)

    def _emit(self, proto: int, data: bytes) -> None:
        lcp = self._lcp
        negotiated = proto != PROTO_LCP and lcp.state == State.OPENED
        head = b"" if negotiated and lcp.peer_acfc else b"\xff\x03"
        if negotiated and lcp.peer_pfc and proto < 0x100:
            head += bytes((proto,))
        else:
            head += proto.to_bytes(2, "big")
        wire = encode(head + data, lcp.peer_accm if negotiated else DEFAULT_ACCM)
        self.stats["frames_out"] += 1
        self.stats["bytes_out"] += len(wire)
        self.on_output(wire)

    def finish(self) -> None:
        """The link is over: on_down once."""
        if not self._running:
            return
        reason = self.end_reason or "LCP negotiation failed"
        self.abort()
        self.on_down(reason)

    # phases

    def lcp_up(self) -> None:
        auth = self._lcp.auth
        if auth is None:
            if self.auth is not None:
                self.close("the client refused to authenticate")
                return
            self._network()
            return
        self.phase = Phase.AUTHENTICATE
        self._chap_done = False
        if auth[0] == PROTO_CHAP:
            self._chap_tries = self.max_configure
            self._chap_send()
        else:
            self.host.start_timer(
                f"{self.key}.auth",
                self.restart * self.max_configure,
                lambda: self.close("no PAP authentication"),
            )

    def lcp_down(self) -> None:
        self.host.cancel_timer(f"{self.key}.auth")
        self.phase = Phase.ESTABLISH if self._running else Phase.DEAD
        self._ipcp.down()

    def _network(self) -> None:
        self.host.cancel_timer(f"{self.key}.auth")
        self.phase = Phase.NETWORK
        self._ipcp.up()

    def ipcp_up(self) -> None:
        self.opened = True
        self.on_up()

    def ipcp_down(self) -> None:
        self.opened = False

    def protocol_rejected(self, proto: int) -> None:
        if proto in (PROTO_IPCP, PROTO_IP):
            self.close(f"the client rejected {PROTOCOL_NAMES[proto]}")
        elif proto in (PROTO_PAP, PROTO_CHAP) and self.phase == Phase.AUTHENTICATE:
            self.close("the client rejected authentication")

    # authentication

    def _auth_ok(self, user: bytes, password: bytes) -> bool:
        if self.auth is None:
            return True
        return user == self.auth[0].encode() and password == self.auth[1].encode()

    def _auth_done(self, user: bytes) -> None:
        self.authenticated_as = user.decode("utf-8", "replace")
        if self.phase == Phase.AUTHENTICATE:
            self._network()

    def _pap(self, info: bytes) -> None:
        parsed = split_packet(info)
        if (
            parsed is None
            or parsed[0] != 1
            or self.phase not in (Phase.AUTHENTICATE, Phase.NETWORK)
            or (self._lcp.auth is not None and self._lcp.auth[0] != PROTO_PAP)
        ):
            self.stats["discarded"] += 1
            return
        _, ident, data = parsed
        n = data[0] if data else 0
        user = data[1 : 1 + n]
        m = data[1 + n] if len(data) > 1 + n else -1
        password = data[2 + n : 2 + n + m]
        if m < 0 or len(password) != m or len(user) != n:
            self.stats["discarded"] += 1
            return
        if self._auth_ok(user, password):
            self.send_packet(PROTO_PAP, packet(2, ident, b"\x00"))
            self._auth_done(user)
        else:
            msg = b"authentication failed"
            self.send_packet(PROTO_PAP, packet(3, ident, bytes((len(msg),)) + msg))
            self.close("PAP authentication failed")

    def _chap_send(self) -> None:
        if self._chap_tries <= 0:
            self.close("no CHAP response")
            return
        self._chap_tries -= 1
        self._chap_id = (self._chap_id + 1) & 0xFF
        self._chap_challenge = os.urandom(16)
        data = bytes((16,)) + self._chap_challenge + CHAP_NAME
        self.send_packet(PROTO_CHAP, packet(1, self._chap_id, data))
        self.host.start_timer(f"{self.key}.auth", self.restart, self._chap_send)

    def _chap(self, info: bytes) -> None:
        parsed = split_packet(info)
        if (
            parsed is None
            or parsed[0] != 2
            or self._lcp.auth is None
            or self._lcp.auth[0] != PROTO_CHAP
            or self.phase not in (Phase.AUTHENTICATE, Phase.NETWORK)
        ):
            self.stats["discarded"] += 1
            return
        _, ident, data = parsed
        size = data[0] if data else 0
        value = data[1 : 1 + size]
        name = data[1 + size :]
        if ident != self._chap_id or not data or len(value) != size:
            self.stats["discarded"] += 1
            return
        if self._chap_done:  # our Success was lost: say it again
            self.send_packet(PROTO_CHAP, packet(3, ident, b""))
            return
        ok = True
        if self.auth is not None:
            secret = self.auth[1].encode()
            expected = hashlib.md5(bytes((ident,)) + secret + self._chap_challenge).digest()
            ok = value == expected and name == self.auth[0].encode()
        if ok:
            self._chap_done = True
            self.host.cancel_timer(f"{self.key}.auth")
            self.send_packet(PROTO_CHAP, packet(3, ident, b""))
            self._auth_done(name)
        else:
            self.send_packet(PROTO_CHAP, packet(4, ident, b"authentication failed"))
            self.close("CHAP authentication failed")
