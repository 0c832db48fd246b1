"""PPP frames as one line each, for the traffic log.

``describe(frame)`` takes one deframed frame (FCS removed, Address/Control
and Protocol as on the wire) and never raises::

    LCP Configure-Request id=1 asyncmap=0x000a0000 auth=pap pfc acfc
    IPCP Configure-Nak id=2 addr=10.0.0.2 dns1=8.8.8.8 dns2=8.8.4.4
    PAP Authenticate-Request id=1 user='user' password=(4 bytes)
    IP 10.0.0.2:40000 > 93.184.216.34:80 TCP SYN len=0 seq=1000 win=64240
    IP 10.0.0.2:5353 > 8.8.8.8:53 UDP len=29 DNS query example.com A
    IP 10.0.0.2 > 1.1.1.1 ICMP echo-request id=1 seq=1 len=56
    proto 0x8057 (IPV6CP) len=14

``FrameLog`` keeps a ``Deframer`` per direction and turns the raw serial
chunks of a PPP session into such lines (plus a line for every frame the
deframer dropped).
"""

from __future__ import annotations

import ipaddress

import dns.exception
import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype

from .hdlc import Deframer
from .link import PROTOCOL_NAMES, split_frame, split_packet

CODES = {
    1: "Configure-Request",
    2: "Configure-Ack",
    3: "Configure-Nak",
    4: "Configure-Reject",
    5: "Terminate-Request",
    6: "Terminate-Ack",
    7: "Code-Reject",
    8: "Protocol-Reject",
    9: "Echo-Request",
    10: "Echo-Reply",
    11: "Discard-Request",
    12: "Identification",
    13: "Time-Remaining",
}
PAP_CODES = {1: "Authenticate-Request", 2: "Authenticate-Ack", 3: "Authenticate-Nak"}
CHAP_CODES = {1: "Challenge", 2: "Response", 3: "Success", 4: "Failure"}
AUTH_NAMES = {0xC023: "pap", 0xC227: "eap"}
CHAP_ALGORITHMS = {5: "md5", 0x80: "ms", 0x81: "ms-v2"}
TCP_FLAGS = ((0x02, "SYN"), (0x10, "ACK"), (0x01, "FIN"), (0x04, "RST"), (0x08, "PSH"), (0x20, "URG"))
ICMP_TYPES = {
    0: "echo-reply",
    3: "unreachable",
    4: "source-quench",
    5: "redirect",
    8: "echo-request",
    11: "time-exceeded",
    12: "parameter-problem",
}


def _text(data: bytes) -> str:
    return repr(data.decode("latin-1"))


def _u(data: bytes) -> int:
    return int.from_bytes(data, "big")


def _ip(data: bytes) -> str:
    return str(ipaddress.IPv4Address(data)) if len(data) == 4 else f"?{data.hex()}"


def _options(data: bytes) -> list[tuple[int, bytes]] | None:
    out = []
    i = 0
    while i < len(data):
        if i + 2 > len(data) or data[i + 1] < 2 or i + data[i + 1] > len(data):
            return None
        out.append((data[i], data[i + 2 : i + data[i + 1]]))
        i += data[i + 1]
    return out


def _lcp_option(typ: int, value: bytes) -> str:
    n = len(value)
    if typ == 1 and n == 2:
        return f"mru={_u(value)}"
    if typ == 2 and n == 4:
        return f"asyncmap=0x{_u(value):08x}"
    if typ == 3 and n >= 2:
        proto = _u(value[:2])
        if proto == 0xC223:
            algo = value[2] if n > 2 else -1
            return f"auth=chap-{CHAP_ALGORITHMS.get(algo, hex(algo))}"
        return f"auth={AUTH_NAMES.get(proto, f'0x{proto:04x}')}"
    if typ == 4 and n >= 2:
        return f"quality=0x{_u(value[:2]):04x}"
    if typ == 5 and n == 4:
        return f"magic=0x{_u(value):08x}"
    if typ == 7 and n == 0:
        return "pfc"
    if typ == 8 and n == 0:
        return "acfc"
    return f"opt{typ}={value.hex() or '-'}"


def _ipcp_option(typ: int, value: bytes) -> str:
    names = {3: "addr", 129: "dns1", 130: "nbns1", 131: "dns2", 132: "nbns2"}
    if typ in names and len(value) == 4:
        return f"{names[typ]}={_ip(value)}"
    if typ == 2 and len(value) >= 2:
        proto = _u(value[:2])
        return "compress=vj" if proto == 0x002D else f"compress=0x{proto:04x}"
    if typ == 1 and len(value) == 8:
        return f"addrs={_ip(value[:4])},{_ip(value[4:])}"
    return f"opt{typ}={value.hex() or '-'}"


def _control(name: str, info: bytes, lcp: bool) -> str:
    parsed = split_packet(info)
    if parsed is None:
        return f"{name} malformed len={len(info)}"
    code, ident, data = parsed
    head = f"{name} {CODES.get(code, f'code={code}')} id={ident}"
    if code in (1, 2, 3, 4):
        opts = _options(data)
        if opts is None:
            return f"{head} bad-options={data.hex()}"
        fmt = _lcp_option if lcp else _ipcp_option
        return " ".join([head, *(fmt(t, v) for t, v in opts)])
    if code in (5, 6):
        return f"{head} {_text(data)}" if data else head
    if code == 7:
        return f"{head} rejected={CODES.get(data[0], data[0]) if data else '?'}"
    if code == 8 and len(data) >= 2:
        proto = _u(data[:2])
        return f"{head} proto=0x{proto:04x} ({PROTOCOL_NAMES.get(proto, '?')})"
    if code in (9, 10, 11) and len(data) >= 4:
        return f"{head} magic=0x{_u(data[:4]):08x} len={len(data) - 4}"
    return f"{head} len={len(data)}"


def _pap(info: bytes) -> str:
    parsed = split_packet(info)
    if parsed is None:
        return f"PAP malformed len={len(info)}"
    code, ident, data = parsed
    head = f"PAP {PAP_CODES.get(code, f'code={code}')} id={ident}"
    if code == 1 and data:
        user = data[1 : 1 + data[0]]
        rest = data[1 + data[0] :]
        size = rest[0] if rest else 0
        return f"{head} user={_text(user)} password=({size} bytes)"
    if code in (2, 3) and data:
        msg = data[1 : 1 + data[0]]
        return f"{head} {_text(msg)}" if msg else head
    return head


def _chap(info: bytes) -> str:
    parsed = split_packet(info)
    if parsed is None:
        return f"CHAP malformed len={len(info)}"
    code, ident, data = parsed
    head = f"CHAP {CHAP_CODES.get(code, f'code={code}')} id={ident}"
    if code in (1, 2) and data:
        name = data[1 + data[0] :]
        return f"{head} name={_text(name)}"
    if code in (3, 4) and data:
        return f"{head} {_text(data)}"
    return head


def _dns(payload: bytes) -> str:
    try:
        msg = dns.message.from_wire(payload)
    except (dns.exception.DNSException, ValueError, UnicodeError, IndexError):
        return " DNS (malformed)"
    q = msg.question[0] if msg.question else None
    what = f" {q.name.to_text(omit_final_dot=True)} {dns.rdatatype.to_text(q.rdtype)}" if q is not None else ""
    if not msg.flags & dns.flags.QR:
        return f" DNS query{what}"
    answers = [rd.to_text() for rrset in msg.answer for rd in rrset][:4]
    rcode = dns.rcode.to_text(msg.rcode())
    return f" DNS answer{what} {rcode}" + (f" {','.join(answers)}" if answers else "")


def _ipv4(info: bytes) -> str:
    if len(info) < 20 or info[0] >> 4 != 4:
        return f"IP malformed len={len(info)}"
    ihl = (info[0] & 0x0F) * 4
    total = _u(info[2:4])
    if ihl < 20 or total < ihl or len(info) < ihl:
        return f"IP malformed len={len(info)}"
    proto = info[9]
    src, dst = _ip(info[12:16]), _ip(info[16:20])
    frag = _u(info[6:8])
    body = info[ihl:total]
    if frag & 0x1FFF or frag & 0x2000:
        return f"IP {src} > {dst} proto {proto} fragment off={(frag & 0x1FFF) * 8} len={len(body)}"
    if proto == 6 and len(body) >= 20:
        sport, dport = _u(body[0:2]), _u(body[2:4])
        off = (body[12] >> 4) * 4
        flags = body[13]
        names = ",".join(n for bit, n in TCP_FLAGS if flags & bit) or "-"
        text = f"IP {src}:{sport} > {dst}:{dport} TCP {names} len={max(0, len(body) - off)}"
        text += f" seq={_u(body[4:8])}"
        if flags & 0x10:
            text += f" ack={_u(body[8:12])}"
        return text + f" win={_u(body[14:16])}"
    if proto == 17 and len(body) >= 8:
        sport, dport = _u(body[0:2]), _u(body[2:4])
        text = f"IP {src}:{sport} > {dst}:{dport} UDP len={len(body) - 8}"
        if 53 in (sport, dport):
            text += _dns(body[8:])
        return text
    if proto == 1 and len(body) >= 8:
        typ, code = body[0], body[1]
        name = ICMP_TYPES.get(typ, f"type={typ}")
        text = f"IP {src} > {dst} ICMP {name}"
        if typ in (0, 8):
            return text + f" id={_u(body[4:6])} seq={_u(body[6:8])} len={len(body) - 8}"
        return text + f" code={code}"
    return f"IP {src} > {dst} proto {proto} len={len(body)}"


def describe(frame: bytes) -> str:
    """One line for one deframed PPP frame; never raises."""
    try:
        parsed = split_frame(frame)
        if parsed is None:
            return f"bad header {frame[:8].hex()} len={len(frame)}"
        proto, info = parsed
        if proto == 0xC021:
            return _control("LCP", info, lcp=True)
        if proto == 0x8021:
            return _control("IPCP", info, lcp=False)
        if proto == 0xC023:
            return _pap(info)
        if proto == 0xC223:
            return _chap(info)
        if proto == 0x0021:
            return _ipv4(info)
        name = PROTOCOL_NAMES.get(proto, "?")
        return f"proto 0x{proto:04x} ({name}) len={len(info)}"
    except Exception as exc:  # a decoding gap must never take the log (or the modem) down
        return f"undecodable frame len={len(frame)} ({type(exc).__name__})"


class FrameLog:
    """PPP lines for the traffic log: one ``Deframer`` per direction.

    ``host_to_modem`` / ``modem_to_host`` take the raw serial chunks of the
    data mode and return a line per complete frame (``describe``), plus
    ``dropped: ...`` lines for the frames the deframer refused."""

    def __init__(self, max_len: int = 1600) -> None:
        self._in = Deframer(max_len)
        self._out = Deframer(max_len)

    def reset(self) -> None:
        """Data mode ended: forget partial frames."""
        self._in.reset()
        self._out.reset()

    def host_to_modem(self, data: bytes) -> list[str]:
        return self._lines(self._in, data)

    def modem_to_host(self, data: bytes) -> list[str]:
        return self._lines(self._out, data)

    @staticmethod
    def _lines(d: Deframer, data: bytes) -> list[str]:
        before = (d.bad_fcs, d.too_long, d.runts)
        lines = [describe(f) for f in d.feed(data)]
        counts = (d.bad_fcs - before[0], d.too_long - before[1], d.runts - before[2])
        for n, what in zip(counts, ("bad FCS", "too long", "runt or aborted"), strict=True):
            if n:
                lines.append(f"dropped: {n} frame{'s' if n > 1 else ''} ({what})")
        return lines
