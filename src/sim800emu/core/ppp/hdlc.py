"""RFC 1662 asynchronous HDLC-like framing: flags, byte stuffing, ACCM, FCS-16.

A frame on the wire is ``7E <stuffed(frame + FCS)> 7E``. ``frame`` is what
RFC 1662 calls the Address, Control, Protocol and Information fields as they
go on the wire (Address/Control left out when ACFC applies, a one-byte
Protocol when PFC applies); this module neither adds nor checks them.

* ``fcs16`` is the 16-bit FCS of RFC 1662 appendix C (reflected CRC-CCITT,
  polynomial 0x8408). It is computed in C: ``binascii.crc_hqx`` is the same
  CRC unreflected, so the bytes are bit-reversed with ``bytes.translate``
  going in and the result reversed coming out (``_fcs16_table`` is the
  table-driven reference the tests compare it with).
* ``encode`` appends the FCS (ones' complement, least significant octet
  first) and escapes 0x7E, 0x7D and every control character whose bit is set
  in the ACCM.
* ``Deframer`` splits a byte stream into frames with bounded memory.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Callable

FLAG = 0x7E
ESCAPE = 0x7D
FCS_INIT = 0xFFFF
FCS_GOOD = 0xF0B8  # the FCS over a frame including its own (complemented) FCS

DEFAULT_ACCM = 0xFFFFFFFF  # every control character escaped (RFC 1662 7.1)


def _make_table() -> tuple[int, ...]:
    table = []
    for b in range(256):
        v = b
        for _ in range(8):
            v = (v >> 1) ^ 0x8408 if v & 1 else v >> 1
        table.append(v)
    return tuple(table)


_TABLE = _make_table()
_REVERSE_BITS = bytes(int(f"{b:08b}"[::-1], 2) for b in range(256))


def _rev16(v: int) -> int:
    return (_REVERSE_BITS[v & 0xFF] << 8) | _REVERSE_BITS[v >> 8]


def _fcs16_table(data: bytes, fcs: int = FCS_INIT) -> int:
    """The byte-at-a-time table algorithm of RFC 1662 appendix C.2."""
    for b in data:
        fcs = (fcs >> 8) ^ _TABLE[(fcs ^ b) & 0xFF]
    return fcs


def fcs16(data: bytes, fcs: int = FCS_INIT) -> int:
    """The running FCS-16 of ``data`` from ``fcs`` (not complemented)."""
    return _rev16(binascii.crc_hqx(data.translate(_REVERSE_BITS), _rev16(fcs & 0xFFFF)))


def with_fcs(frame: bytes) -> bytes:
    """``frame`` followed by its FCS, as it is stuffed on the wire."""
    fcs = fcs16(frame) ^ 0xFFFF
    return frame + bytes((fcs & 0xFF, fcs >> 8))


_STUFFED = {b: bytes((ESCAPE, b ^ 0x20)) for b in range(256)}
_Subber = Callable[[Callable[[re.Match[bytes]], bytes], bytes], bytes]
_SUBBERS: dict[int, _Subber] = {}


def _replace(m: re.Match[bytes]) -> bytes:
    return _STUFFED[m[0][0]]


def _subber(accm: int) -> _Subber:
    sub = _SUBBERS.get(accm)
    if sub is None:
        escaped = [FLAG, ESCAPE] + [c for c in range(32) if accm >> c & 1]
        pattern = re.compile(b"[" + b"".join(re.escape(bytes((c,))) for c in escaped) + b"]")
        sub = pattern.sub
        if len(_SUBBERS) < 64:  # a client renegotiating many maps must not grow this
            _SUBBERS[accm] = sub
    return sub


def stuff(data: bytes, accm: int = DEFAULT_ACCM) -> bytes:
    """Byte stuffing alone: 0x7E, 0x7D and the control characters in ``accm``."""
    return _subber(accm & 0xFFFFFFFF)(_replace, data)


def encode(frame: bytes, accm: int = DEFAULT_ACCM) -> bytes:
    """One frame for the wire: FCS appended, stuffed, between two flags."""
    return b"\x7e" + stuff(with_fcs(frame), accm) + b"\x7e"


def unstuff(data: bytes) -> bytes | None:
    """The reverse of ``stuff``; ``None`` when ``data`` ends with a lone escape."""
    if ESCAPE not in data:
        return data
    parts = data.split(b"\x7d")
    out = bytearray(parts[0])
    for part in parts[1:]:
        if not part:
            # 7D at the end, or 7D 7D: the second escape is escaped data of its own
            # only when stuffed (7D 5D); a raw 7D 7D or a trailing 7D is an error.
            return None
        out.append(part[0] ^ 0x20)
        out += part[1:]
    return bytes(out)


class Deframer:
    """Serial bytes in, good frames out (FCS checked and removed).

    Counters: ``good``, ``bad_fcs``, ``too_long`` (longer than ``max_len``
    before the FCS; dropped up to the next flag), ``runts`` (shorter than
    4 octets with the FCS, RFC 1662 4.3, and frames aborted by 7D 7E or a
    stuffing error). Empty frames (flags back to back) are inter-frame fill
    and not counted. Characters flagged in ``rx_accm`` that arrive unescaped
    are removed before the FCS check (RFC 1662 7.1); it is 0 unless set.

    Memory: at most about ``2 * max_len + 8`` bytes are kept between calls.
    """

    def __init__(self, max_len: int = 1600) -> None:
        self.max_len = max_len
        self.rx_accm = 0
        self.good = 0
        self.bad_fcs = 0
        self.too_long = 0
        self.runts = 0
        self._partial = bytearray()
        self._skipping = False
        # the stuffed form of a frame of max_len octets plus its FCS is at most this long
        self._raw_limit = 2 * (max_len + 2)

    def reset(self) -> None:
        """Forget any partial frame (e.g. when data mode ends)."""
        self._partial.clear()
        self._skipping = False

    @property
    def pending(self) -> int:
        """Bytes of an unfinished frame kept for the next call."""
        return len(self._partial)

    def feed(self, data: bytes) -> list[bytes]:
        frames: list[bytes] = []
        pieces = bytes(data).split(b"\x7e")
        # pieces[:-1] are each closed by a flag; pieces[-1] continues
        for piece in pieces[:-1]:
            if self._skipping:
                self._skipping = False
                self._partial.clear()
                continue
            if self._partial:
                self._partial += piece
                raw = bytes(self._partial)
                self._partial.clear()
            else:
                raw = piece
            if raw:
                frame = self._frame(raw)
                if frame is not None:
                    frames.append(frame)
        last = pieces[-1]
        if not self._skipping and last:
            if len(self._partial) + len(last) > self._raw_limit:
                self.too_long += 1
                self._skipping = True
                self._partial.clear()
            else:
                self._partial += last
        return frames

    def _frame(self, raw: bytes) -> bytes | None:
        if len(raw) > self._raw_limit:
            self.too_long += 1
            return None
        if self.rx_accm:
            raw = raw.translate(None, bytes(c for c in range(32) if self.rx_accm >> c & 1))
            if not raw:
                return None
        data = unstuff(raw)
        if data is None or len(data) < 4:
            self.runts += 1
            return None
        if len(data) - 2 > self.max_len:
            self.too_long += 1
            return None
        if fcs16(data) != FCS_GOOD:
            self.bad_fcs += 1
            return None
        self.good += 1
        return data[:-2]
