"""A test-side 3GPP TS 27.010 peer (basic option), the host's side of AT+CMUX.

Written from the specification (27.010 clauses 5.2 frame structure, 5.4.6
control channel messages, annex B FCS), not from the emulator's code, so a
shared misreading cannot pass unnoticed: it never imports sim800emu.core.cmux.
The FCS here is computed bit by bit from the polynomial, the emulator's from
a table.

* ``encode(dlci, control, info, cr=1, pf=False)``: one frame; C/R 1 is what
  the initiator (the host) puts on its commands.
* ``Decoder``: frames out of any byte split (flag, address, control, 1- or
  2-octet length, information, FCS, flag), with their FCS checked.
* ``Peer``: the host's multiplexer over a byte pipe (``write(bytes)`` and
  ``read(timeout) -> bytes``): open DLCs (SABM, waiting for UA or DM), send
  AT text on a DLC and wait for its answer, control messages on DLCI 0, and
  everything the modem sent kept per DLC for checks.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

FLAG = 0xF9
SABM, UA, DM, DISC, UIH = 0x2F, 0x63, 0x0F, 0x43, 0xEF
PF = 0x10
# control channel message types (27.010 5.4.6.3): type octet with EA 1, C/R 0
MT_PN, MT_CLD, MT_TEST, MT_FCON, MT_FCOFF, MT_MSC, MT_NSC, MT_PSC, MT_RPN = (
    0x81, 0xC1, 0x21, 0xA1, 0x61, 0xE1, 0x11, 0x41, 0x91,
)
CMD = 0x02  # the C/R bit of a message type: a command


def fcs_bits(data: bytes) -> int:
    """27.010 annex B: reversed CRC-8, generator x^8 + x^2 + x + 1 (bit
    order reversed: 0xE0), register preset to all ones, ones complement
    sent."""
    reg = 0xFF
    for byte in data:
        for bit in range(8):
            inbit = (byte >> bit) & 1
            top = (reg & 1) ^ inbit
            reg >>= 1
            if top:
                reg ^= 0xE0
    return reg ^ 0xFF


# UIH headers repeat (same DLC, same length): their checks are remembered
_header_fcs = lru_cache(maxsize=8192)(fcs_bits)


def encode(dlci: int, control: int, info: bytes = b"", *, cr: int = 1, pf: bool = False) -> bytes:
    address = 0x01 | (cr << 1) | (dlci << 2)
    ctl = control | (PF if pf else 0)
    n = len(info)
    length = bytes([n << 1 | 1]) if n <= 127 else bytes([(n & 0x7F) << 1, n >> 7])
    header = bytes([address, ctl]) + length
    covered = header if control == UIH else header + info
    return bytes([FLAG]) + header + info + bytes([fcs_bits(covered), FLAG])


def msg(mtype: int, value: bytes = b"", *, command: bool = True) -> bytes:
    """A control message (one-octet type and length)."""
    return bytes([mtype | (CMD if command else 0), len(value) << 1 | 1]) + value


@dataclass
class Frame:
    dlci: int
    control: int
    pf: bool
    cr: int
    info: bytes
    raw: bytes


@dataclass
class Decoder:
    """Frames from a byte stream; bytes that are not a good frame are
    counted as ``junk``."""

    buf: bytearray = field(default_factory=bytearray)
    junk: int = 0
    bad: int = 0

    def feed(self, data: bytes) -> list[Frame]:
        self.buf += data
        out: list[Frame] = []
        while True:
            start = self.buf.find(bytes([FLAG]))
            if start < 0:
                self.junk += len(self.buf)
                self.buf.clear()
                return out
            if start:
                self.junk += start
                del self.buf[:start]
            # skip repeated flags
            k = 0
            while k < len(self.buf) and self.buf[k] == FLAG:
                k += 1
            if k >= len(self.buf):
                del self.buf[: len(self.buf) - 1]
                return out
            del self.buf[: k - 1]
            b = self.buf
            if len(b) < 4:
                return out
            if b[3] & 1:
                n, hl = b[3] >> 1, 1
            else:
                if len(b) < 5:
                    return out
                n, hl = (b[3] >> 1) | (b[4] << 7), 2
            total = 1 + 2 + hl + n + 2
            if len(b) < total:
                return out
            header = bytes(b[1 : 3 + hl])
            info = bytes(b[3 + hl : 3 + hl + n])
            check = b[3 + hl + n]
            control = b[2] & ~PF
            good = _header_fcs(header) if control == UIH else fcs_bits(header + info)
            if b[total - 1] != FLAG or good != check:
                self.bad += 1
                del self.buf[:1]
                continue
            out.append(Frame(b[1] >> 2, control, bool(b[2] & PF), (b[1] >> 1) & 1, info, bytes(b[:total])))
            del self.buf[: total - 1]  # the closing flag may open the next


class Peer:
    """The host's side of the multiplexer over ``write`` / ``read``."""

    def __init__(
        self,
        write: Callable[[bytes], None],
        read: Callable[[float], bytes],
        *,
        n1: int = 127,
        data_cr: int = 1,
    ) -> None:
        self.write = write
        self.read = read
        self.n1 = n1
        self.data_cr = data_cr  # esp_modem sends its UIH frames with C/R 0
        self.dec = Decoder()
        self.frames: list[Frame] = []  # every frame received, in order
        self.keep_uih = True  # False: UIH frames of DLCs 1-63 are not kept in ``frames``
        self.text: dict[int, bytearray] = {}  # UIH information per DLC, unread
        self.control: list[tuple[int, bytes]] = []  # (type octet, value) on DLCI 0
        self._seen = 0

    # ------------------------------------------------ receiving

    def pump(self, timeout: float) -> int:
        data = self.read(timeout)
        for f in self.dec.feed(data):
            if self.keep_uih or f.control != UIH or f.dlci == 0:
                self.frames.append(f)
            if f.control == UIH and f.dlci == 0:
                self._parse_control(f.info)
            elif f.control == UIH:
                self.text.setdefault(f.dlci, bytearray()).extend(f.info)
        return len(data)

    def _parse_control(self, info: bytes) -> None:
        i = 0
        while i + 1 < len(info):
            mtype = info[i]
            n = info[i + 1] >> 1
            self.control.append((mtype, info[i + 2 : i + 2 + n]))
            i += 2 + n

    def wait_frame(self, pred: Callable[[Frame], bool], what: str, timeout: float = 5.0) -> Frame:
        deadline = time.monotonic() + timeout
        while True:
            for k in range(self._seen, len(self.frames)):
                if pred(self.frames[k]):
                    self._seen = k + 1
                    return self.frames[k]
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {what} within {timeout} s; frames {self.frames[-8:]!r}")
            self.pump(min(left, 0.2))

    def wait_text(self, dlci: int, needle: bytes, timeout: float = 10.0) -> bytes:
        """Everything received on ``dlci`` up to and including ``needle``."""
        deadline = time.monotonic() + timeout
        while True:
            buf = self.text.setdefault(dlci, bytearray())
            at = buf.find(needle)
            if at >= 0:
                got = bytes(buf[: at + len(needle)])
                del buf[: at + len(needle)]
                return got
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(
                    f"DLCI {dlci}: no {needle!r} within {timeout} s; have {bytes(buf)!r}; "
                    f"other DLCs {[(d, bytes(t)) for d, t in self.text.items() if d != dlci]!r}"
                )
            self.pump(min(left, 0.2))

    def wait_control(self, mtype: int, timeout: float = 5.0) -> bytes:
        """The value of the next control message of type octet ``mtype``."""
        deadline = time.monotonic() + timeout
        while True:
            for k, (t, value) in enumerate(self.control):
                if t == mtype:
                    del self.control[k]
                    return value
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no control message {mtype:#x}; have {self.control!r}")
            self.pump(min(left, 0.2))

    # ------------------------------------------------ sending

    def sabm(self, dlci: int, timeout: float = 5.0) -> Frame:
        """Open ``dlci``: the UA or DM that answers."""
        self.write(encode(dlci, SABM, pf=True))
        return self.wait_frame(
            lambda f: f.dlci == dlci and f.control in (UA, DM), f"UA/DM on DLCI {dlci}", timeout
        )

    def disc(self, dlci: int, timeout: float = 5.0) -> Frame:
        self.write(encode(dlci, DISC, pf=True))
        return self.wait_frame(
            lambda f: f.dlci == dlci and f.control in (UA, DM), f"UA/DM on DLCI {dlci}", timeout
        )

    def send(self, dlci: int, data: bytes) -> None:
        for k in range(0, len(data), self.n1):
            self.write(encode(dlci, UIH, data[k : k + self.n1], cr=self.data_cr))

    def send_control(self, message: bytes) -> None:
        self.write(encode(0, UIH, message))

    def at(self, dlci: int, line: str, expect: bytes = b"\r\nOK\r\n", timeout: float = 10.0) -> bytes:
        """A command line on ``dlci``; its answer up to ``expect``."""
        self.send(dlci, line.encode() + b"\r")
        return self.wait_text(dlci, expect, timeout)

    def start(self, dlcis: tuple[int, ...] = (1, 2, 3, 4)) -> None:
        """DLCI 0 then ``dlcis`` opened, each answered UA (and the MSC the
        module sends after each DLC answered)."""
        assert self.sabm(0).control == UA
        for d in dlcis:
            assert self.sabm(d).control == UA, d
            value = self.wait_control(MT_MSC | CMD)
            assert value[0] >> 2 == d
            self.send_control(msg(MT_MSC, value, command=False))

    def close_down(self, timeout: float = 5.0) -> bytes:
        """CLD: the module's CLD response (then it speaks plain AT)."""
        self.send_control(msg(MT_CLD))
        return self.wait_control(MT_CLD, timeout)
