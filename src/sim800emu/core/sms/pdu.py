"""The SMS transfer layer (3GPP TS 23.040) and its alphabets (TS 23.038).

Pure functions and small immutable records; no I/O, no clock:

* addresses in semi-octets (``encode_address`` / ``decode_address``) and
  the RP service-centre address that prefixes a PDU on the AT interface
  (``encode_sca`` / ``decode_sca``); alphanumeric senders are 7-bit packed;
* service-centre time stamps with their zone in quarters of an hour
  (``Timestamp``);
* user data in the GSM 7-bit default alphabet with its extension table
  (via the ``gsm0338`` codec), 8-bit data and UCS2, with a user-data header
  (``encode_ud`` / ``decode_ud``; fill bits for 7-bit after a header);
* concatenation information elements with 8- and 16-bit references;
* the three TPDUs the module meets: ``Submit`` (host to network),
  ``Deliver`` (network to host) and ``StatusReport``, each with ``encode``,
  and ``decode_tpdu`` for all three.

Every malformed input raises ``PduError`` (a ``ValueError``), never anything
else, so the command layer can answer ``+CMS ERROR`` for it.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass

import gsm0338  # type: ignore[import-untyped]  # noqa: F401  (registers "gsm03.38")

GSM7 = "gsm7"
OCTET = "8bit"
UCS2 = "ucs2"

MAX_UD = 140  # octets of user data in one TPDU
SINGLE_LIMIT = {GSM7: 160, OCTET: 140, UCS2: 140}  # septets / octets without a header
CONCAT_LIMIT = {GSM7: 153, OCTET: 134, UCS2: 134}  # after an 8-bit-reference header

TOA_INTERNATIONAL = 145
TOA_UNKNOWN = 129
TOA_ALPHANUMERIC = 0xD0

_BCD = "0123456789*#abc"


class PduError(ValueError):
    """A PDU (or a part of one) that is not well formed."""


# ------------------------------------------------------------ data coding scheme


def alphabet_of(dcs: int) -> str:
    """The alphabet a TP-DCS value selects (TS 23.038 section 4)."""
    group = dcs >> 4
    if group <= 0x7:  # general data coding (with or without auto-deletion)
        if dcs & 0x20:
            return OCTET  # compressed: shown as octets
        return {0: GSM7, 1: OCTET, 2: UCS2}.get((dcs >> 2) & 3, OCTET)
    if group == 0xE:
        return UCS2
    if group == 0xF:
        return OCTET if dcs & 0x04 else GSM7
    return GSM7  # message waiting groups (C, D) and the reserved ones


def dcs_for(alphabet: str) -> int:
    return {GSM7: 0x00, OCTET: 0x04, UCS2: 0x08}[alphabet]


# ------------------------------------------------------------ 7-bit alphabet


def to_septets(text: str) -> bytes:
    """``text`` in the GSM default alphabet (extension characters take two
    septets: 0x1B and the character)."""
    try:
        septets: bytes = text.encode("gsm03.38")
    except UnicodeError as exc:
        raise PduError(f"not in the GSM alphabet: {exc}") from None
    return septets


def gsm_encodable(text: str) -> bool:
    try:
        text.encode("gsm03.38")
    except UnicodeError:
        return False
    return True


def from_septets(septets: bytes) -> str:
    text: str = bytes(s & 0x7F for s in septets).decode("gsm03.38", "replace")
    return text


def pack7(septets: bytes, fill: int = 0) -> bytes:
    """Pack septets into octets, least significant bit first, after ``fill``
    zero bits (the fill that aligns 7-bit text after a user-data header)."""
    acc = 0
    bits = fill
    out = bytearray()
    for s in septets:
        acc |= (s & 0x7F) << bits
        bits += 7
        while bits >= 8:
            out.append(acc & 0xFF)
            acc >>= 8
            bits -= 8
    if bits > 0:
        out.append(acc & 0xFF)
    return bytes(out)


def unpack7(data: bytes, count: int, fill: int = 0) -> bytes:
    """``count`` septets from ``data``, skipping ``fill`` leading bits."""
    if count < 0 or fill + 7 * count > 8 * len(data):
        raise PduError("user data shorter than its length")
    value = int.from_bytes(data, "little") >> fill
    return bytes((value >> (7 * k)) & 0x7F for k in range(count))


# ------------------------------------------------------------ addresses


def _digits_of(number: str) -> str:
    return number[1:] if number.startswith("+") else number


def _bcd(digits: str) -> bytes:
    out = bytearray()
    try:
        values = [_BCD.index(c) for c in digits.lower()]
    except ValueError:
        raise PduError(f"not a phone number: {digits!r}") from None
    if len(values) % 2:
        values.append(0xF)
    for i in range(0, len(values), 2):
        out.append(values[i] | values[i + 1] << 4)
    return bytes(out)


def _unbcd(data: bytes, count: int | None = None) -> str:
    out = []
    for b in data:
        for nibble in (b & 0xF, b >> 4):
            if nibble == 0xF:
                continue
            out.append(_BCD[nibble])
    text = "".join(out)
    return text if count is None else text[:count]


def default_toa(number: str) -> int:
    """27.005: 145 when the number starts with ``+``, else 129."""
    return TOA_INTERNATIONAL if number.startswith("+") else TOA_UNKNOWN


def _is_alphanumeric(toa: int) -> bool:
    return (toa >> 4) & 7 == 5


def _is_international(toa: int) -> bool:
    return (toa >> 4) & 7 == 1


def encode_address(number: str, toa: int | None = None) -> bytes:
    """A TP address (originating, destination, recipient): digit count,
    type of address, semi-octets."""
    toa = default_toa(number) if toa is None else toa
    if _is_alphanumeric(toa):
        septets = to_septets(number)
        packed = pack7(septets)
        return bytes([(len(septets) * 7 + 3) // 4, toa]) + packed
    digits = _digits_of(number)
    if len(digits) > 20:
        raise PduError("address longer than 20 digits")
    return bytes([len(digits), toa]) + _bcd(digits)


def decode_address(data: bytes, pos: int) -> tuple[str, int, int]:
    """(number, type of address, next position) of the TP address at ``pos``."""
    if pos + 2 > len(data):
        raise PduError("address cut short")
    count, toa = data[pos], data[pos + 1]
    octets = (count + 1) // 2
    end = pos + 2 + octets
    if count > 20 or end > len(data):
        raise PduError("address longer than the PDU")
    raw = data[pos + 2 : end]
    if _is_alphanumeric(toa):
        number = from_septets(unpack7(raw, count * 4 // 7))
    else:
        number = _unbcd(raw, count)
        if _is_international(toa):
            number = "+" + number
    return number, toa, end


def encode_sca(number: str, toa: int | None = None) -> bytes:
    """The RP service-centre address before a TPDU (length in octets); an
    empty number is the single octet 00 (use the configured centre)."""
    if not number:
        return b"\x00"
    toa = default_toa(number) if toa is None else toa
    semi = _bcd(_digits_of(number))
    return bytes([1 + len(semi), toa]) + semi


def decode_sca(data: bytes) -> tuple[str, int, bytes]:
    """Split a PDU as given on the AT interface: (centre, its type, TPDU)."""
    if not data:
        raise PduError("empty PDU")
    n = data[0]
    if n == 0:
        return "", 0, data[1:]
    if n > 11 or 1 + n > len(data):
        raise PduError("service centre address longer than the PDU")
    toa = data[1]
    number = _unbcd(data[2 : 1 + n])
    if _is_international(toa):
        number = "+" + number
    return number, toa, data[1 + n :]


# ------------------------------------------------------------ time stamps


def _swap(value: int) -> int:
    return (value % 10) << 4 | (value // 10)


def _unswap(b: int) -> int:
    lo, hi = b & 0xF, b >> 4
    if lo > 9 or hi > 9:
        raise PduError("time stamp digit out of range")
    return lo * 10 + hi


@dataclass(frozen=True, slots=True)
class Timestamp:
    """A TP-SCTS / TP-DT value: local time and the zone in quarter hours."""

    year: int  # two digits
    month: int
    day: int
    hour: int
    minute: int
    second: int
    tz: int = 0  # quarters of an hour east of GMT

    @classmethod
    def from_datetime(cls, when: _dt.datetime, tz: int = 0) -> Timestamp:
        return cls(when.year % 100, when.month, when.day, when.hour, when.minute,
                   when.second, tz)

    def text(self) -> str:
        """``yy/MM/dd,hh:mm:ss±zz`` as 27.005 prints it."""
        sign = "-" if self.tz < 0 else "+"
        return (f"{self.year:02d}/{self.month:02d}/{self.day:02d},"
                f"{self.hour:02d}:{self.minute:02d}:{self.second:02d}{sign}{abs(self.tz):02d}")

    def encode(self) -> bytes:
        if not -79 <= self.tz <= 79:
            raise PduError("time zone out of range")
        fields = (self.year, self.month, self.day, self.hour, self.minute, self.second)
        if any(not 0 <= f <= 99 for f in fields):
            raise PduError("time stamp field out of range")
        zone = _swap(abs(self.tz)) | (0x08 if self.tz < 0 else 0)
        return bytes(_swap(f) for f in fields) + bytes([zone])

    @classmethod
    def decode(cls, data: bytes) -> Timestamp:
        if len(data) != 7:
            raise PduError("time stamp cut short")
        y, mo, d, h, mi, s = (_unswap(b) for b in data[:6])
        zb = data[6]
        tz = _unswap(zb & 0xF7)
        return cls(y, mo, d, h, mi, s, -tz if zb & 0x08 else tz)


# ------------------------------------------------------------ user data


def concat_header(ref: int, total: int, seq: int, wide: bool = False) -> bytes:
    """The information element of a concatenated message (8- or 16-bit
    reference), as the content of a user-data header."""
    if wide:
        return bytes([0x08, 4, ref >> 8 & 0xFF, ref & 0xFF, total, seq])
    return bytes([0x00, 3, ref & 0xFF, total, seq])


def parse_udh(udh: bytes) -> list[tuple[int, bytes]]:
    """The information elements of a user-data header (without its length)."""
    out: list[tuple[int, bytes]] = []
    i = 0
    while i < len(udh):
        if i + 2 > len(udh):
            raise PduError("user-data header cut short")
        iei, n = udh[i], udh[i + 1]
        if i + 2 + n > len(udh):
            raise PduError("information element longer than its header")
        out.append((iei, udh[i + 2 : i + 2 + n]))
        i += 2 + n
    return out


def concat_info(udh: bytes) -> tuple[int, int, int] | None:
    """(reference, total parts, this part's number) of a concatenated
    message's header, or None."""
    try:
        elements = parse_udh(udh)
    except PduError:
        return None
    for iei, data in elements:
        if iei == 0x00 and len(data) == 3:
            return data[0], data[1], data[2]
        if iei == 0x08 and len(data) == 4:
            return data[0] << 8 | data[1], data[2], data[3]
    return None


def encode_ud(alphabet: str, body: bytes, udh: bytes = b"") -> tuple[int, bytes]:
    """(TP-UDL, TP-UD) for ``body`` (septets for 7-bit, octets otherwise)
    after an optional user-data header."""
    header = bytes([len(udh)]) + udh if udh else b""
    if alphabet == GSM7:
        fill = (7 - len(header) * 8 % 7) % 7 if header else 0
        udl = (len(header) * 8 + fill) // 7 + len(body)
        data = header + pack7(body, fill)
    else:
        udl = len(header) + len(body)
        data = header + body
    if len(data) > MAX_UD or udl > 255:
        raise PduError("user data longer than 140 octets")
    return udl, data


def decode_ud(alphabet: str, udhi: bool, udl: int, data: bytes) -> tuple[bytes, bytes]:
    """(user-data header content, body) from TP-UDL and TP-UD."""
    if alphabet == GSM7:
        if len(data) < (udl * 7 + 7) // 8 or udl > 160:
            raise PduError("user data shorter than its length")
        if not udhi:
            return b"", unpack7(data, udl)
        hl = data[0] if data else 0
        head_bits = (hl + 1) * 8
        head_septets = (head_bits + 6) // 7
        if head_septets > udl:
            raise PduError("user-data header longer than the user data")
        fill = head_septets * 7 - head_bits
        return data[1 : 1 + hl], unpack7(data[hl + 1 :], udl - head_septets, fill)
    if len(data) < udl or udl > MAX_UD:
        raise PduError("user data shorter than its length")
    data = data[:udl]
    if not udhi:
        return b"", data
    hl = data[0] if data else 0
    if hl + 1 > len(data):
        raise PduError("user-data header longer than the user data")
    return data[1 : 1 + hl], data[1 + hl :]


def body_of(text: str, alphabet: str) -> bytes:
    if alphabet == GSM7:
        return to_septets(text)
    if alphabet == UCS2:
        return text.encode("utf-16-be")
    return text.encode("latin-1", "replace")


def text_of(body: bytes, alphabet: str) -> str:
    if alphabet == GSM7:
        return from_septets(body)
    if alphabet == UCS2:
        return body[: len(body) // 2 * 2].decode("utf-16-be", "replace")
    return body.decode("latin-1")


def choose_alphabet(text: str) -> str:
    """GSM 7-bit when every character has a septet, else UCS2."""
    return GSM7 if gsm_encodable(text) else UCS2


def split_body(body: bytes, alphabet: str, wide: bool = False) -> list[bytes]:
    """The body in one part when it fits, else in parts that fit beside a
    concatenation header (8-bit reference; ``wide``: 16-bit, one octet
    more), never splitting an escape sequence (7-bit) or a surrogate pair
    (UCS2)."""
    if len(body) <= SINGLE_LIMIT[alphabet]:
        return [body]
    limit = CONCAT_LIMIT[alphabet]
    if wide:  # one more header octet: one septet (7-bit) or a UCS2 unit less
        limit -= {GSM7: 1, OCTET: 1, UCS2: 2}[alphabet]
    parts: list[bytes] = []
    i = 0
    while i < len(body):
        end = min(len(body), i + limit)
        if alphabet == GSM7 and end < len(body) and body[end - 1] == 0x1B:
            end -= 1
        elif alphabet == UCS2 and end < len(body) and 0xD8 <= body[end - 2] <= 0xDB:
            end -= 2
        parts.append(body[i:end])
        i = end
    return parts


# ------------------------------------------------------------ TPDUs


def _vp_len(vpf: int) -> int:
    return {0: 0, 2: 1, 1: 7, 3: 7}[vpf]


@dataclass(frozen=True, slots=True)
class Submit:
    """SMS-SUBMIT: a message the host sends (or stores to send)."""

    da: str
    toda: int
    body: bytes
    dcs: int = 0
    pid: int = 0
    udh: bytes = b""
    mr: int = 0
    srr: bool = False  # status report requested
    vpf: int = 0  # 0 none, 2 relative, 1 enhanced, 3 absolute
    vp: bytes = b""
    rd: bool = False
    rp: bool = False

    @property
    def fo(self) -> int:
        return (0x01 | self.rd << 2 | (self.vpf & 3) << 3 | self.srr << 5
                | bool(self.udh) << 6 | self.rp << 7)

    @property
    def alphabet(self) -> str:
        return alphabet_of(self.dcs)

    def encode(self) -> bytes:
        if len(self.vp) != _vp_len(self.vpf):
            raise PduError("validity period does not match its format")
        udl, ud = encode_ud(self.alphabet, self.body, self.udh)
        return (bytes([self.fo, self.mr & 0xFF]) + encode_address(self.da, self.toda)
                + bytes([self.pid, self.dcs]) + self.vp + bytes([udl]) + ud)


@dataclass(frozen=True, slots=True)
class Deliver:
    """SMS-DELIVER: a message the network hands to the module."""

    oa: str
    tooa: int
    scts: Timestamp
    body: bytes
    dcs: int = 0
    pid: int = 0
    udh: bytes = b""
    more: bool = False  # more messages waiting at the centre
    sri: bool = False  # a status report will go back to the sender
    rp: bool = False

    @property
    def fo(self) -> int:
        return ((0x00 if self.more else 0x04) | self.sri << 5 | bool(self.udh) << 6
                | self.rp << 7)

    @property
    def alphabet(self) -> str:
        return alphabet_of(self.dcs)

    def encode(self) -> bytes:
        udl, ud = encode_ud(self.alphabet, self.body, self.udh)
        return (bytes([self.fo]) + encode_address(self.oa, self.tooa)
                + bytes([self.pid, self.dcs]) + self.scts.encode() + bytes([udl]) + ud)


@dataclass(frozen=True, slots=True)
class StatusReport:
    """SMS-STATUS-REPORT: what became of a message sent with TP-SRR."""

    mr: int
    ra: str
    tora: int
    scts: Timestamp
    dt: Timestamp
    st: int = 0  # 0: received by the recipient
    srq: bool = False
    more: bool = False

    @property
    def fo(self) -> int:
        return 0x02 | (0x00 if self.more else 0x04) | self.srq << 5

    def encode(self) -> bytes:
        return (bytes([self.fo, self.mr & 0xFF]) + encode_address(self.ra, self.tora)
                + self.scts.encode() + self.dt.encode() + bytes([self.st]))


Tpdu = Submit | Deliver | StatusReport


def _need(data: bytes, end: int) -> None:
    if end > len(data):
        raise PduError("PDU cut short")


def decode_tpdu(data: bytes) -> Tpdu:
    """A TPDU (without the service-centre prefix) by its message type."""
    _need(data, 1)
    fo = data[0]
    mti = fo & 3
    udhi = bool(fo & 0x40)
    if mti == 1:
        _need(data, 2)
        mr = data[1]
        da, toda, pos = decode_address(data, 2)
        _need(data, pos + 2)
        pid, dcs = data[pos], data[pos + 1]
        pos += 2
        vpf = fo >> 3 & 3
        vp = data[pos : pos + _vp_len(vpf)]
        pos += _vp_len(vpf)
        _need(data, pos + 1)
        udl = data[pos]
        udh, body = decode_ud(alphabet_of(dcs), udhi, udl, data[pos + 1 :])
        return Submit(da, toda, body, dcs, pid, udh, mr, bool(fo & 0x20), vpf, vp,
                      bool(fo & 0x04), bool(fo & 0x80))
    if mti == 0:
        oa, tooa, pos = decode_address(data, 1)
        _need(data, pos + 10)
        pid, dcs = data[pos], data[pos + 1]
        scts = Timestamp.decode(data[pos + 2 : pos + 9])
        udl = data[pos + 9]
        udh, body = decode_ud(alphabet_of(dcs), udhi, udl, data[pos + 10 :])
        return Deliver(oa, tooa, scts, body, dcs, pid, udh, not fo & 0x04,
                       bool(fo & 0x20), bool(fo & 0x80))
    if mti == 2:
        _need(data, 2)
        mr = data[1]
        ra, tora, pos = decode_address(data, 2)
        _need(data, pos + 15)
        scts = Timestamp.decode(data[pos : pos + 7])
        dt = Timestamp.decode(data[pos + 7 : pos + 14])
        return StatusReport(mr, ra, tora, scts, dt, data[pos + 14], bool(fo & 0x20),
                            not fo & 0x04)
    raise PduError("reserved message type")
