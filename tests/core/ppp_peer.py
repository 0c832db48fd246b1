"""Test doubles for the PPP link: a fake ``PppHost`` with a fake clock and the
client's end of the serial line (frames built and read from the RFC byte
layouts, with the project's own framing only for the HDLC layer)."""

from __future__ import annotations

from collections.abc import Callable

from sim800emu.core.ppp.hdlc import Deframer, encode
from sim800emu.core.ppp.link import PppLink, split_frame, split_packet

LCP = 0xC021
PAP = 0xC023
CHAP = 0xC223
IPCP = 0x8021
IP = 0x0021


class FakeHost:
    """Timers on a fake clock; no sockets or queries (the link needs none)."""

    def __init__(self) -> None:
        self.now = 0.0
        self.timers: dict[str, tuple[float, Callable[[], None]]] = {}

    def start_timer(self, key: str, delay: float, action: Callable[[], None]) -> None:
        self.timers[key] = (self.now + delay, action)

    def cancel_timer(self, key: str) -> None:
        self.timers.pop(key, None)

    def advance(self, seconds: float) -> None:
        """Move the clock, firing the due timers in order."""
        end = self.now + seconds
        while True:
            due = [(when, key) for key, (when, _) in self.timers.items() if when <= end]
            if not due:
                break
            when, key = min(due)
            action = self.timers.pop(key)[1]
            self.now = when
            action()
        self.now = end

    def new_sock(self) -> int:
        raise AssertionError("the link opens no sockets")

    def own_sock(self, sock: int, owner: object) -> None:
        raise AssertionError

    def disown_sock(self, sock: int) -> None:
        raise AssertionError

    def new_query(self) -> int:
        raise AssertionError

    def own_query(self, query: int, owner: object) -> None:
        raise AssertionError

    def disown_query(self, query: int) -> None:
        raise AssertionError

    def request(self, req: object) -> None:
        raise AssertionError


def opts(*items: tuple[int, bytes]) -> bytes:
    return b"".join(bytes((t, len(v) + 2)) + v for t, v in items)


def pkt(code: int, ident: int, data: bytes = b"") -> bytes:
    n = len(data) + 4
    return bytes((code, ident, n >> 8, n & 0xFF)) + data


class Peer:
    """The client: sends frames to the link, collects what it answers."""

    def __init__(self, link: PppLink) -> None:
        self.link = link
        self.deframer = Deframer(70000)
        self.raw = bytearray()
        self.frames: list[bytes] = []  # deframed, not yet taken
        self.ups = 0
        self.downs: list[str] = []
        self.ip: list[bytes] = []
        link.on_output = self._output
        link.on_up = self._up
        link.on_down = self.downs.append
        link.on_ip = self.ip.append

    def _up(self) -> None:
        self.ups += 1

    def _output(self, data: bytes) -> None:
        assert data[:1] == b"\x7e" and data[-1:] == b"\x7e"
        self.raw += data
        self.frames.extend(self.deframer.feed(data))

    # sending

    def send(self, proto: int, info: bytes, *, acfc: bool = False, pfc: bool = False,
             accm: int = 0xFFFFFFFF) -> None:
        head = b"" if acfc else b"\xff\x03"
        head += bytes((proto,)) if pfc and proto < 0x100 else proto.to_bytes(2, "big")
        self.link.feed(encode(head + info, accm))

    def lcp(self, code: int, ident: int, data: bytes = b"") -> None:
        self.send(LCP, pkt(code, ident, data))

    def ipcp(self, code: int, ident: int, data: bytes = b"") -> None:
        self.send(IPCP, pkt(code, ident, data), acfc=True, pfc=True)

    # receiving

    def take_frames(self) -> list[bytes]:
        out, self.frames = self.frames, []
        return out

    def take(self) -> list[tuple[int, int, int, bytes]]:
        """(protocol, code, identifier, data) of every control packet since
        the last call (IP datagrams are given as (0x21, -1, -1, datagram))."""
        out = []
        for frame in self.take_frames():
            parsed = split_frame(frame)
            assert parsed is not None, frame.hex()
            proto, info = parsed
            if proto == IP:
                out.append((proto, -1, -1, info))
                continue
            p = split_packet(info)
            assert p is not None, info.hex()
            out.append((proto, *p))
        return out

    def expect(self, proto: int, code: int) -> tuple[int, bytes]:
        """The one packet sent since the last call: its (identifier, data)."""
        got = self.take()
        assert len(got) == 1, got
        assert got[0][:2] == (proto, code), got
        return got[0][2], got[0][3]
