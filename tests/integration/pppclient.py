"""A test-side PPP client, written from the RFCs and independent of the
emulator's own PPP code (``sim800emu.core.ppp`` is never imported here, so the
two sides cannot share a mistake).

* RFC 1662 HDLC-like framing: flags, byte stuffing, the async control
  character map (ACCM) both ways, FCS-16 (computed with ``binascii.crc_hqx``
  on bit-reversed bytes, so bulk data costs C speed, not a Python loop);
  address/control and protocol field compression (ACFC/PFC) received always,
  sent once the peer asked for them.
* RFC 1661 LCP: MRU, ACCM, magic number, PFC, ACFC in our request; the
  peer's MRU, ACCM, authentication (PAP, CHAP-MD5), magic, PFC and ACFC
  accepted, anything else rejected; Configure-Nak/Reject handling, the
  restart timer and Max-Configure, Terminate both ways, Echo and Discard,
  Code-Reject, Protocol-Reject of unknown protocols once opened.
* RFC 1334 PAP / RFC 1994 CHAP (MD5) as the authenticatee.
* RFC 1332 IPCP / RFC 1877: we ask for 0.0.0.0 and the primary/secondary
  DNS (options 129/131) and take what the peer's Configure-Nak gives;
  the peer's address is acknowledged, VJ compression and anything else
  rejected.

:class:`PppClient` is sans-I/O: bytes in with :meth:`PppClient.feed`,
serial bytes out through ``on_output``, IPv4 datagrams through ``on_ip``;
time comes from an injectable clock and :meth:`PppClient.tick` fires the
timers (:meth:`PppClient.next_timeout` says when).
"""

from __future__ import annotations

import binascii
import hashlib
import ipaddress
import os
import struct
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

FLAG = 0x7E
ESCAPE = 0x7D

PROTO_IP = 0x0021
PROTO_IPCP = 0x8021
PROTO_LCP = 0xC021
PROTO_PAP = 0xC023
PROTO_CHAP = 0xC223

# control packet codes (RFC 1661 5.)
CONF_REQ, CONF_ACK, CONF_NAK, CONF_REJ = 1, 2, 3, 4
TERM_REQ, TERM_ACK, CODE_REJ, PROTO_REJ = 5, 6, 7, 8
ECHO_REQ, ECHO_REP, DISCARD_REQ = 9, 10, 11

# LCP options
LCP_MRU, LCP_ACCM, LCP_AUTH, LCP_QUALITY, LCP_MAGIC, LCP_PFC, LCP_ACFC = 1, 2, 3, 4, 5, 7, 8
# IPCP options
IPCP_ADDRESSES, IPCP_COMPRESSION, IPCP_ADDRESS, IPCP_DNS1, IPCP_DNS2 = 1, 2, 3, 129, 131

CODE_NAMES = {
    1: "Configure-Request", 2: "Configure-Ack", 3: "Configure-Nak", 4: "Configure-Reject",
    5: "Terminate-Request", 6: "Terminate-Ack", 7: "Code-Reject", 8: "Protocol-Reject",
    9: "Echo-Request", 10: "Echo-Reply", 11: "Discard-Request",
}  # fmt: skip


# --------------------------------------------------------------------------- FCS-16

def _reverse_bits(byte: int) -> int:
    return int(f"{byte:08b}"[::-1], 2)


_REVERSE = bytes(_reverse_bits(b) for b in range(256))


def _reverse16(value: int) -> int:
    return (_REVERSE[value & 0xFF] << 8) | _REVERSE[value >> 8]


def fcs16(data: bytes, fcs: int = 0xFFFF) -> int:
    """The running RFC 1662 FCS-16 (reflected polynomial 0x8408) over
    ``data``, starting from ``fcs``, without the final complement.

    The reflected CRC equals the non-reflected CCITT CRC (``crc_hqx``,
    polynomial 0x1021) of the bit-reversed bytes, bit-reversed."""
    return _reverse16(binascii.crc_hqx(data.translate(_REVERSE), _reverse16(fcs)))


def fcs16_slow(data: bytes, fcs: int = 0xFFFF) -> int:
    """The same, bit by bit as RFC 1662 appendix C describes (for tests)."""
    for byte in data:
        fcs ^= byte
        for _ in range(8):
            fcs = (fcs >> 1) ^ 0x8408 if fcs & 1 else fcs >> 1
    return fcs


GOOD_FCS = 0xF0B8  # the FCS over a frame and its own (complemented) FCS


# --------------------------------------------------------------------------- framing

def _escape_table(accm: int) -> list[tuple[bytes, bytes]]:
    # 0x7D first, so the escapes added for the others are not escaped again
    chars = [ESCAPE, FLAG] + [c for c in range(32) if accm >> c & 1]
    return [(bytes([c]), bytes([ESCAPE, c ^ 0x20])) for c in chars]


_ESCAPES: dict[int, list[tuple[bytes, bytes]]] = {}


def stuff(data: bytes, accm: int) -> bytes:
    """Byte stuffing: 0x7E, 0x7D and the control characters set in ``accm``."""
    table = _ESCAPES.get(accm)
    if table is None:
        table = _ESCAPES[accm] = _escape_table(accm)
    for plain, escaped in table:
        if plain in data:
            data = data.replace(plain, escaped)
    return data


def encode_frame(protocol: int, info: bytes, *, accm: int = 0xFFFFFFFF,
                 acfc: bool = False, pfc: bool = False) -> bytes:
    """One frame as it goes on the wire: flag, address/control (unless
    ``acfc``), the protocol (one byte if ``pfc`` allows), information, FCS,
    flag; everything stuffed per ``accm``."""
    head = b"" if acfc else b"\xff\x03"
    if pfc and protocol < 0x100 and protocol & 1:
        head += bytes([protocol])
    else:
        head += struct.pack("!H", protocol)
    body = head + info
    fcs = fcs16(body) ^ 0xFFFF
    body += struct.pack("<H", fcs)
    return b"\x7e" + stuff(body, accm) + b"\x7e"


class Deframer:
    """Splits the serial stream into frames: removes flags and stuffing,
    drops what ``accm`` says the sender must escape but arrived plain
    (RFC 1662 7.1: inserted by the link), checks and strips the FCS.
    Counts ``good``, ``bad_fcs``, ``runts`` and ``too_long`` frames."""

    def __init__(self, max_len: int = 4096) -> None:
        self.max_len = max_len
        self.accm = 0xFFFFFFFF  # what we asked the peer to escape (all until LCP says)
        self._partial = bytearray()
        self._overflow = False
        self._deleted: tuple[int, bytes] = (-1, b"")
        self.good = self.bad_fcs = self.runts = self.too_long = 0

    def _delete(self) -> bytes:
        if self._deleted[0] != self.accm:
            self._deleted = (self.accm, bytes(c for c in range(32) if self.accm >> c & 1))
        return self._deleted[1]

    def feed(self, data: bytes) -> list[bytes]:
        return list(self.frames(data))

    def frames(self, data: bytes) -> Iterator[bytes]:
        """The good frames in ``data``, one at a time: each is unstuffed only
        when asked for, so a change of :attr:`accm` made after one frame
        applies to the next (a peer switches maps right after LCP opens)."""
        pieces = data.split(b"\x7e")
        for i, piece in enumerate(pieces):
            if not self._overflow:
                self._partial += piece
                if len(self._partial) > 2 * self.max_len + 8:
                    self._overflow = True
                    self._partial.clear()
            if i == len(pieces) - 1:
                break  # no flag after this piece yet
            if self._overflow:
                self.too_long += 1
                self._overflow = False
            elif self._partial:
                raw = bytes(self._partial)
                self._partial.clear()
                frame = self._unstuff(raw)
                if frame is not None:
                    yield frame
            self._partial.clear()

    def _unstuff(self, raw: bytes) -> bytes | None:
        if self.accm:
            raw = raw.translate(None, self._delete())
        if ESCAPE in raw:
            parts = raw.split(b"\x7d")
            out = bytearray(parts[0])
            for part in parts[1:]:
                if part:
                    out.append(part[0] ^ 0x20)
                    out += part[1:]
            # a trailing 0x7D (an abort sequence 7D 7E) invalidates the frame
            if raw.endswith(b"\x7d"):
                self.runts += 1
                return None
            frame = bytes(out)
        else:
            frame = raw
        if len(frame) < 4:
            self.runts += 1
            return None
        if len(frame) > self.max_len + 4:
            self.too_long += 1
            return None
        if fcs16(frame) != GOOD_FCS:
            self.bad_fcs += 1
            return None
        self.good += 1
        return frame[:-2]


def split_frame(frame: bytes) -> tuple[int, bytes] | None:
    """(protocol, information) of a deframed frame, with or without the
    address/control field and protocol compression; None if malformed."""
    if frame[:2] == b"\xff\x03":
        frame = frame[2:]
    if not frame:
        return None
    if frame[0] & 1:  # a compressed (one-byte) protocol field
        return frame[0], frame[1:]
    if len(frame) < 2 or not frame[1] & 1:
        return None
    return (frame[0] << 8) | frame[1], frame[2:]


# --------------------------------------------------------------------------- control packets

def parse_options(data: bytes) -> list[tuple[int, bytes]] | None:
    options = []
    i = 0
    while i < len(data):
        if i + 2 > len(data):
            return None
        kind, length = data[i], data[i + 1]
        if length < 2 or i + length > len(data):
            return None
        options.append((kind, data[i + 2 : i + length]))
        i += length
    return options


def pack_options(options: list[tuple[int, bytes]]) -> bytes:
    return b"".join(bytes([kind, len(value) + 2]) + value for kind, value in options)


def control(code: int, ident: int, data: bytes = b"") -> bytes:
    return struct.pack("!BBH", code, ident, len(data) + 4) + data


def describe_options(options: list[tuple[int, bytes]]) -> str:
    return " ".join(f"{kind}={value.hex()}" if value else str(kind) for kind, value in options)


# --------------------------------------------------------------------------- negotiation

class Negotiation:
    """The option negotiation automaton of RFC 1661 4. for one control
    protocol (LCP or IPCP), reduced to what a client needs: Starting ->
    Req-Sent -> (Ack-Rcvd | Ack-Sent) -> Opened, renegotiation when the
    peer sends a Configure-Request while opened, Terminate both ways."""

    name = "?"
    protocol = 0

    def __init__(self, client: PppClient) -> None:
        self.client = client
        self.state = "initial"  # initial, req-sent, ack-rcvd, ack-sent, opened, closing, closed, stopped
        self.ident = 0
        self.sent_ident = -1
        self.counter = 0
        self.deadline: float | None = None
        self.naks = 0

    # what we ask; subclasses fill these in
    def request_options(self) -> list[tuple[int, bytes]]:
        raise NotImplementedError

    def on_nak(self, options: list[tuple[int, bytes]]) -> None:
        raise NotImplementedError

    def on_reject(self, options: list[tuple[int, bytes]]) -> None:
        raise NotImplementedError

    def check_request(
        self, options: list[tuple[int, bytes]]
    ) -> tuple[list[tuple[int, bytes]], list[tuple[int, bytes]]]:
        """(to Nak with our values, to Reject) for the peer's options."""
        raise NotImplementedError

    def apply_peer(self, options: list[tuple[int, bytes]]) -> None:
        """The peer's request was acknowledged as it was."""

    def this_layer_up(self) -> None: ...

    def this_layer_down(self) -> None: ...

    def other(self, code: int, ident: int, data: bytes) -> None:
        self.send(CODE_REJ, self.next_ident(), (struct.pack("!BBH", code, ident, len(data) + 4) + data))

    # --------------------------------------------------------------- plumbing

    def next_ident(self) -> int:
        self.ident = (self.ident + 1) & 0xFF
        return self.ident

    def send(self, code: int, ident: int, data: bytes = b"") -> None:
        self.client.log(f"sent {self.name} {CODE_NAMES.get(code, code)} id={ident} {data.hex()}")
        self.client.send_frame(self.protocol, control(code, ident, data))

    def send_request(self) -> None:
        self.sent_ident = self.next_ident()
        self.send(CONF_REQ, self.sent_ident, pack_options(self.request_options()))
        self.deadline = self.client.clock() + self.client.restart

    def open(self) -> None:
        self.counter = self.client.max_configure
        self.state = "req-sent"
        self.send_request()
        self.counter -= 1

    def close(self) -> None:
        if self.state in ("opened", "req-sent", "ack-rcvd", "ack-sent"):
            if self.state == "opened":
                self.this_layer_down()
            self.state = "closing"
            self.counter = self.client.max_terminate
            self.send(TERM_REQ, self.next_ident())
            self.deadline = self.client.clock() + self.client.restart

    def timeout(self) -> None:
        self.deadline = None
        if self.state == "closing":
            if self.counter > 0:
                self.counter -= 1
                self.send(TERM_REQ, self.next_ident())
                self.deadline = self.client.clock() + self.client.restart
            else:
                self.state = "closed"
                self.client.finished(f"{self.name}: no Terminate-Ack")
        elif self.state in ("req-sent", "ack-rcvd", "ack-sent"):
            if self.counter <= 0:
                self.state = "stopped"
                self.client.finished(f"{self.name}: no answer to Configure-Request")
                return
            self.counter -= 1
            if self.state == "ack-rcvd":
                self.state = "req-sent"
            self.send_request()

    def receive(self, info: bytes) -> None:
        if len(info) < 4:
            return
        code, ident, length = struct.unpack("!BBH", info[:4])
        if length < 4 or length > len(info):
            return
        data = info[4:length]  # padding beyond the length is ignored
        self.client.log(f"got {self.name} {CODE_NAMES.get(code, code)} id={ident} {data.hex()}")
        if code == CONF_REQ:
            self._conf_req(ident, data)
        elif code in (CONF_ACK, CONF_NAK, CONF_REJ):
            self._conf_answer(code, ident, data)
        elif code == TERM_REQ:
            was_open = self.state == "opened"
            self.send(TERM_ACK, ident)
            if was_open:
                self.this_layer_down()
            self.state = "stopped"
            self.deadline = None
            self.client.peer_terminated(self)
        elif code == TERM_ACK:
            if self.state == "closing":
                self.state = "closed"
                self.deadline = None
                self.client.finished(f"{self.name} closed")
            elif self.state == "ack-rcvd":
                self.state = "req-sent"
        elif code == CODE_REJ:
            self.client.counts["code_rejects"] += 1
        else:
            self.other(code, ident, data)

    def _conf_req(self, ident: int, data: bytes) -> None:
        if self.state in ("closing", "closed", "stopped", "initial"):
            if self.state in ("closed", "stopped"):
                self.send(TERM_ACK, ident)
            return
        options = parse_options(data)
        if options is None:
            return  # malformed: silently discarded
        if self.state == "opened":
            # renegotiation: This-Layer-Down, send our request again
            self.this_layer_down()
            self.state = "req-sent"
            self.counter = self.client.max_configure
            self.send_request()
        nak, rej = self.check_request(options)
        if rej:
            self.send(CONF_REJ, ident, pack_options(rej))
            ok = False
        elif nak:
            self.send(CONF_NAK, ident, pack_options(nak))
            ok = False
        else:
            self.apply_peer(options)
            self.send(CONF_ACK, ident, data)
            ok = True
        if ok:
            if self.state == "ack-rcvd":
                self._opened()
            elif self.state in ("req-sent", "ack-sent"):
                self.state = "ack-sent"
        elif self.state == "ack-sent":
            self.state = "req-sent"

    def _conf_answer(self, code: int, ident: int, data: bytes) -> None:
        if ident != self.sent_ident or self.state not in ("req-sent", "ack-sent", "ack-rcvd", "opened"):
            return  # not an answer to our last request
        options = parse_options(data)
        if options is None:
            return
        if code == CONF_ACK:
            if data != pack_options(self.request_options()):
                return  # not what we asked: discard (RFC 1661 5.2)
            if self.state == "req-sent":
                self.state = "ack-rcvd"
                self.counter = self.client.max_configure
                self.deadline = self.client.clock() + self.client.restart  # keep waiting for theirs
            elif self.state == "ack-sent":
                self.counter = self.client.max_configure
                self._opened()
            elif self.state in ("ack-rcvd", "opened"):
                if self.state == "opened":
                    self.this_layer_down()
                self.state = "req-sent"
                self.send_request()
            return
        if code == CONF_NAK:
            self.naks += 1
            if self.naks > self.client.max_failure:
                self.client.finished(f"{self.name}: Configure-Nak loop")
                return
            self.on_nak(options)
        else:
            self.on_reject(options)
        if self.state == "opened":
            self.this_layer_down()
            self.state = "req-sent"
        elif self.state == "ack-rcvd":
            self.state = "req-sent"
        if not self.client.done:
            self.send_request()

    def _opened(self) -> None:
        self.state = "opened"
        self.deadline = None
        self.this_layer_up()


def _u32(value: bytes) -> int | None:
    return struct.unpack("!I", value)[0] if len(value) == 4 else None


def _u16(value: bytes) -> int | None:
    return struct.unpack("!H", value)[0] if len(value) == 2 else None


class Lcp(Negotiation):
    name = "LCP"
    protocol = PROTO_LCP

    def __init__(self, client: PppClient) -> None:
        super().__init__(client)
        self.want: dict[int, bytes] = {}
        if client.mru != 1500:
            self.want[LCP_MRU] = struct.pack("!H", client.mru)
        if client.accm is not None:
            self.want[LCP_ACCM] = struct.pack("!I", client.accm)
        if client.magic:
            self.want[LCP_MAGIC] = struct.pack("!I", client.magic)
        if client.pfc:
            self.want[LCP_PFC] = b""
        if client.acfc:
            self.want[LCP_ACFC] = b""
        self.peer: dict[int, bytes] = {}

    def request_options(self) -> list[tuple[int, bytes]]:
        return sorted(self.want.items())

    def on_nak(self, options: list[tuple[int, bytes]]) -> None:
        for kind, value in options:
            if kind == LCP_MRU and _u16(value) is not None:
                self.want[kind] = value
            elif kind == LCP_ACCM and _u32(value) is not None:
                # the peer wants more characters escaped towards it: the union
                accm = _u32(value) or 0
                self.want[kind] = struct.pack("!I", accm | (_u32(self.want.get(kind, b"\0" * 4)) or 0))
            elif kind == LCP_MAGIC:
                self.want[kind] = struct.pack("!I", self.client.new_magic())
            # an option we did not ask for (e.g. auth from a server): ignored

    def on_reject(self, options: list[tuple[int, bytes]]) -> None:
        for kind, _ in options:
            self.want.pop(kind, None)

    def check_request(
        self, options: list[tuple[int, bytes]]
    ) -> tuple[list[tuple[int, bytes]], list[tuple[int, bytes]]]:
        nak: list[tuple[int, bytes]] = []
        rej: list[tuple[int, bytes]] = []
        for kind, value in options:
            if kind == LCP_MRU:
                mru = _u16(value)
                if mru is None:
                    rej.append((kind, value))
                elif mru < 128:
                    nak.append((kind, struct.pack("!H", 1500)))
            elif kind == LCP_ACCM:
                if _u32(value) is None:
                    rej.append((kind, value))
            elif kind == LCP_AUTH:
                proto = _u16(value[:2]) if len(value) >= 2 else None
                mode = self.client.auth_mode
                pap = proto == PROTO_PAP and len(value) == 2
                chap_md5 = proto == PROTO_CHAP and value[2:] == b"\x05"
                if mode == "reject" or proto is None:
                    rej.append((kind, value))
                elif not (pap or chap_md5):
                    nak.append((kind, struct.pack("!H", PROTO_PAP)))
            elif kind == LCP_MAGIC:
                magic = _u32(value)
                if magic is None:
                    rej.append((kind, value))
                elif magic and magic == self.client.magic:
                    self.client.counts["looped_back"] += 1
                    nak.append((kind, struct.pack("!I", self.client.new_magic())))
            elif kind in (LCP_PFC, LCP_ACFC):
                if value:
                    rej.append((kind, value))
            else:
                rej.append((kind, value))
        return nak, rej

    def apply_peer(self, options: list[tuple[int, bytes]]) -> None:
        self.peer = dict(options)

    def this_layer_up(self) -> None:
        self.client.lcp_up(self.peer, dict(self.want))

    def this_layer_down(self) -> None:
        self.client.lcp_down()

    def other(self, code: int, ident: int, data: bytes) -> None:
        if code == ECHO_REQ:
            if self.state == "opened":
                self.send(ECHO_REP, ident, struct.pack("!I", self.client.magic) + data[4:])
                self.client.counts["echo_replies"] += 1
        elif code == ECHO_REP:
            self.client.counts["echo_answered"] += 1
        elif code == DISCARD_REQ:
            pass
        elif code == PROTO_REJ:
            proto = _u16(data[:2]) if len(data) >= 2 else None
            self.client.counts["protocol_rejects"] += 1
            if proto in (PROTO_IPCP, PROTO_IP):
                self.client.finished("the peer rejected IP")
        else:
            super().other(code, ident, data)


class Ipcp(Negotiation):
    name = "IPCP"
    protocol = PROTO_IPCP

    def __init__(self, client: PppClient) -> None:
        super().__init__(client)
        self.want: dict[int, bytes] = {IPCP_ADDRESS: ipaddress.IPv4Address(client.address).packed}
        if client.request_dns:
            self.want[IPCP_DNS1] = bytes(4)
            self.want[IPCP_DNS2] = bytes(4)
        self.peer_address = bytes(4)

    def request_options(self) -> list[tuple[int, bytes]]:
        return sorted(self.want.items())

    def on_nak(self, options: list[tuple[int, bytes]]) -> None:
        for kind, value in options:
            if kind in self.want and len(value) == 4:
                self.want[kind] = value

    def on_reject(self, options: list[tuple[int, bytes]]) -> None:
        for kind, _ in options:
            if kind == IPCP_ADDRESS and self.want.get(kind) == bytes(4):
                self.client.finished("IPCP: the peer rejected the address option")
            self.want.pop(kind, None)

    def check_request(
        self, options: list[tuple[int, bytes]]
    ) -> tuple[list[tuple[int, bytes]], list[tuple[int, bytes]]]:
        rej = [(k, v) for k, v in options if k != IPCP_ADDRESS or len(v) != 4]
        return [], rej

    def apply_peer(self, options: list[tuple[int, bytes]]) -> None:
        self.peer_address = dict(options).get(IPCP_ADDRESS, bytes(4))

    def this_layer_up(self) -> None:
        self.client.ipcp_up()

    def this_layer_down(self) -> None:
        self.client.ipcp_down()


# --------------------------------------------------------------------------- the client

@dataclass
class Settings:
    """What the client was given by the peer once IPCP opened."""

    local: str
    peer: str
    dns: list[str] = field(default_factory=list)


class PppClient:
    """The client's side of one PPP link (see the module docstring)."""

    def __init__(
        self,
        *,
        user: str = "user",
        password: str = "pass",
        auth_mode: str = "accept",  # "accept" PAP/CHAP, or "reject" (as lwIP without credentials)
        mru: int = 1500,
        accm: int | None = 0,
        magic: bool = True,
        pfc: bool = True,
        acfc: bool = True,
        request_dns: bool = True,
        address: str = "0.0.0.0",
        restart: float = 1.0,
        max_configure: int = 10,
        max_terminate: int = 2,
        max_failure: int = 10,
        clock: Callable[[], float] = time.monotonic,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.user = user
        self.password = password
        self.auth_mode = auth_mode
        self.mru = mru
        self.accm = accm
        self._rng_magic = magic
        self.magic = self.new_magic() if magic else 0
        self.pfc = pfc
        self.acfc = acfc
        self.request_dns = request_dns
        self.address = address
        self.restart = restart
        self.max_configure = max_configure
        self.max_terminate = max_terminate
        self.max_failure = max_failure
        self.clock = clock
        self._log = log
        self.on_output: Callable[[bytes], None] = lambda data: None
        self.on_ip: Callable[[bytes], None] = lambda packet: None
        self.on_up: Callable[[Settings], None] = lambda settings: None
        self.on_down: Callable[[str], None] = lambda reason: None
        self.deframer = Deframer()
        self.tx_accm = 0xFFFFFFFF
        self.tx_pfc = self.tx_acfc = False
        self.peer_mru = 1500
        self.phase = "dead"  # dead, establish, authenticate, network, terminate
        self.done = False
        self.reason = ""
        self.settings: Settings | None = None
        self.lcp = Lcp(self)
        self.ipcp = Ipcp(self)
        self.auth: str | None = None  # "pap" / "chap" once LCP opened with it
        self.auth_ident = 0
        self.auth_deadline: float | None = None
        self.auth_tries = 0
        self.echo_interval: float | None = None
        self.echo_deadline: float | None = None
        self.counts: dict[str, int] = dict.fromkeys(
            ("frames_in", "frames_out", "ip_in", "ip_out", "ip_dropped", "unknown_protocols",
             "code_rejects", "protocol_rejects", "echo_replies", "echo_answered", "looped_back",
             "over_mru"),
            0,
        )  # fmt: skip

    # ------------------------------------------------------------ helpers

    def log(self, text: str) -> None:
        if self._log is not None:
            self._log(text)

    def new_magic(self) -> int:
        return struct.unpack("!I", os.urandom(4))[0] | 1

    @property
    def opened(self) -> bool:
        return self.ipcp.state == "opened"

    def send_frame(self, protocol: int, info: bytes) -> None:
        lcp = protocol == PROTO_LCP  # LCP always goes with the defaults (RFC 1662 7.1, 6.)
        accm = 0xFFFFFFFF if lcp else self.tx_accm
        data = encode_frame(
            protocol, info, accm=accm, acfc=self.tx_acfc and not lcp, pfc=self.tx_pfc and not lcp
        )
        self.counts["frames_out"] += 1
        self.on_output(data)

    # ------------------------------------------------------------ the API

    def start(self) -> None:
        """Begin: LCP Configure-Request (call right after CONNECT)."""
        self.phase = "establish"
        self.lcp.open()

    def close(self) -> None:
        """Terminate the link (LCP Terminate-Request; ``on_down`` after the ack)."""
        if self.done:
            return
        if self.ipcp.state == "opened":
            self.ipcp_down()
        self.ipcp.state = "closed"
        self.ipcp.deadline = None
        self.phase = "terminate"
        self.lcp.close()
        if self.lcp.state != "closing":
            self.finished("closed")

    def send_ip(self, packet: bytes) -> bool:
        if not self.opened:
            self.counts["ip_dropped"] += 1
            return False
        self.counts["ip_out"] += 1
        self.send_frame(PROTO_IP, packet)
        return True

    def feed(self, data: bytes) -> None:
        for frame in self.deframer.frames(data):
            parsed = split_frame(frame)
            if parsed is None:
                continue
            self.counts["frames_in"] += 1
            protocol, info = parsed
            if len(info) > self.mru:
                self.counts["over_mru"] += 1  # the peer ignored our MRU (kept all the same)
            self._dispatch(protocol, info)

    def next_timeout(self) -> float | None:
        """Seconds until :meth:`tick` has something to do (None: nothing pending)."""
        deadlines = [d for d in (self.lcp.deadline, self.ipcp.deadline, self.auth_deadline,
                                 self.echo_deadline) if d is not None]  # fmt: skip
        if not deadlines:
            return None
        return max(0.0, min(deadlines) - self.clock())

    def tick(self) -> None:
        now = self.clock()
        for negotiation in (self.lcp, self.ipcp):
            if negotiation.deadline is not None and now >= negotiation.deadline:
                negotiation.timeout()
        if self.auth_deadline is not None and now >= self.auth_deadline:
            self.auth_deadline = None
            self._auth_retry()
        if self.echo_deadline is not None and now >= self.echo_deadline:
            self.echo_deadline = now + (self.echo_interval or 1.0)
            self.send_echo()

    def send_echo(self, data: bytes = b"") -> None:
        if self.lcp.state == "opened":
            self.lcp.send(ECHO_REQ, self.lcp.next_ident(), struct.pack("!I", self.magic) + data)

    # ------------------------------------------------------------ dispatch

    def _dispatch(self, protocol: int, info: bytes) -> None:
        if protocol == PROTO_LCP:
            self.lcp.receive(info)
            return
        if self.lcp.state != "opened":
            return  # RFC 1661 3.4: only LCP before the link is established
        if protocol == PROTO_PAP:
            self._pap(info)
        elif protocol == PROTO_CHAP:
            self._chap(info)
        elif protocol == PROTO_IPCP:
            if self.phase == "network":
                self.ipcp.receive(info)
        elif protocol == PROTO_IP:
            if self.opened:
                self.counts["ip_in"] += 1
                self.on_ip(info)
        else:
            self.counts["unknown_protocols"] += 1
            data = struct.pack("!H", protocol) + info
            self.lcp.send(PROTO_REJ, self.lcp.next_ident(), data[: self.peer_mru - 4])

    # ------------------------------------------------------------ layers

    def lcp_up(self, peer: dict[int, bytes], ours: dict[int, bytes]) -> None:
        tx_accm = _u32(peer.get(LCP_ACCM, b""))
        self.tx_accm = 0xFFFFFFFF if tx_accm is None else tx_accm
        self.tx_pfc = LCP_PFC in peer
        self.tx_acfc = LCP_ACFC in peer
        self.peer_mru = _u16(peer.get(LCP_MRU, b"")) or 1500
        rx_accm = _u32(ours.get(LCP_ACCM, b""))
        self.deframer.accm = 0xFFFFFFFF if rx_accm is None else rx_accm
        auth = peer.get(LCP_AUTH)
        if auth is not None and auth[:2] == struct.pack("!H", PROTO_PAP):
            self.auth = "pap"
            self.phase = "authenticate"
            self.auth_tries = self.max_configure
            self._auth_retry()
        elif auth is not None:
            self.auth = "chap"
            self.phase = "authenticate"  # wait for the Challenge
        else:
            self._network()
        if self.echo_interval:
            self.echo_deadline = self.clock() + self.echo_interval

    def lcp_down(self) -> None:
        if self.ipcp.state == "opened":
            self.ipcp.this_layer_down()
        self.ipcp.state = "initial"
        self.ipcp.deadline = None
        self.auth_deadline = None
        self.echo_deadline = None
        self.tx_accm = 0xFFFFFFFF
        self.tx_pfc = self.tx_acfc = False
        self.deframer.accm = 0xFFFFFFFF
        if self.phase != "terminate":
            self.phase = "establish"

    def _network(self) -> None:
        self.phase = "network"
        self.auth_deadline = None
        self.ipcp.open()

    def ipcp_up(self) -> None:
        want = self.ipcp.want
        dns = [str(ipaddress.IPv4Address(want[k])) for k in (IPCP_DNS1, IPCP_DNS2)
               if k in want and want[k] != bytes(4)]  # fmt: skip
        self.settings = Settings(
            local=str(ipaddress.IPv4Address(want[IPCP_ADDRESS])),
            peer=str(ipaddress.IPv4Address(self.ipcp.peer_address)),
            dns=dns,
        )
        self.log(f"IPCP up: {self.settings}")
        self.on_up(self.settings)

    def ipcp_down(self) -> None:
        self.settings = None

    def peer_terminated(self, negotiation: Negotiation) -> None:
        if negotiation is self.lcp:
            self.lcp_down()
            self.finished("the peer terminated the link")

    def finished(self, reason: str) -> None:
        if self.done:
            return
        self.done = True
        self.reason = reason
        self.phase = "dead"
        self.lcp.deadline = self.ipcp.deadline = self.auth_deadline = self.echo_deadline = None
        self.log(f"link down: {reason}")
        self.on_down(reason)

    # ------------------------------------------------------------ authentication

    def _auth_retry(self) -> None:
        if self.auth != "pap" or self.phase != "authenticate":
            return
        if self.auth_tries <= 0:
            self.finished("PAP: no answer")
            return
        self.auth_tries -= 1
        self.auth_ident = (self.auth_ident + 1) & 0xFF
        user, password = self.user.encode(), self.password.encode()
        body = bytes([len(user)]) + user + bytes([len(password)]) + password
        self.log(f"sent PAP Authenticate-Request id={self.auth_ident}")
        self.send_frame(PROTO_PAP, control(1, self.auth_ident, body))
        self.auth_deadline = self.clock() + self.restart

    def _pap(self, info: bytes) -> None:
        if len(info) < 4 or self.auth != "pap" or self.phase != "authenticate":
            return
        code, ident = info[0], info[1]
        if ident != self.auth_ident:
            return
        if code == 2:
            self.log("got PAP Authenticate-Ack")
            self._network()
        elif code == 3:
            self.finished("PAP: Authenticate-Nak")

    def _chap(self, info: bytes) -> None:
        if len(info) < 4 or self.auth != "chap":
            return
        code, ident, length = struct.unpack("!BBH", info[:4])
        data = info[4:length]
        if code == 1 and data:  # Challenge (also repeated later: answer each)
            size = data[0]
            challenge = data[1 : 1 + size]
            digest = hashlib.md5(bytes([ident]) + self.password.encode() + challenge).digest()
            name = self.user.encode()
            self.log(f"got CHAP Challenge id={ident}")
            self.send_frame(PROTO_CHAP, control(2, ident, bytes([len(digest)]) + digest + name))
        elif code == 3 and self.phase == "authenticate":
            self._network()
        elif code == 4:
            self.finished("CHAP: Failure")
