"""The multiplexer: 3GPP TS 27.010 basic option, as the SIM800 speaks it.

After ``AT+CMUX=0`` answers OK the serial line carries frames::

    F9 | address | control | length (1 or 2 octets) | information | FCS | F9

* address: EA (bit 0, always 1), C/R (bit 1), DLCI (bits 2-7). The module is
  the responder: its commands and UIH frames carry C/R 0 (``01`` on DLCI 0,
  ``05`` on DLCI 1, as in a real SIM800's trace), its responses (UA, DM) C/R
  1. What the host sends is accepted with either C/R (esp_modem's UIH frames
  carry 0, other stacks 1).
* control: SABM 2F, UA 63, DM 0F, DISC 43, UIH EF, UI 03; P/F is bit 4.
* length: EA in bit 0; one octet up to 127, else two (bits 1-7 then 8-15).
* FCS (27.010 annex B): the reversed CRC-8 (x^8+x^2+x+1) over address,
  control and length (UIH), or over the information too (every other frame,
  UI included: 27.010 5.2.1.6, as n_gsm and Zephyr check it).

SIMCom's subset: UIH frames only, one-octet type fields (its multiplexer
application note). DLCI 0 is the control channel, DLCIs 1-4 are AT channels
(``Channel``s of their own, manual 3.2.38); a SABM for anything else gets
DM. On DLCI 0 the module answers MSC, PN, Test, FCon, FCoff and CLD, and NSC
for any other type. Right after a DLC opens it sends an MSC command of its
own (RTC and RTR set), as a real SIM800 does (esp-protocols issue 140:
``f9 01 ef 09 e3 05 07 0d 9a f9`` after the UA for DLCI 1).

A frame that fails the FCS, is longer than N1, or lacks its closing flag is
dropped and counted; the receiver then hunts for the next flag (the
application note: bytes are skipped to the next valid frame). Memory is
bounded: the receive buffer never holds more than one frame of N1 plus the
chunk being parsed, and output held back by the host's flow control (FCoff,
MSC FC) is capped per DLC (what does not fit is dropped and counted).

Choices where the sources are silent are in docs/cmux.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from .channel import Channel

if TYPE_CHECKING:
    from .modem import Modem

FLAG = 0xF9
SABM, UA, DM, DISC, UIH, UI = 0x2F, 0x63, 0x0F, 0x43, 0xEF, 0x03
PF = 0x10
FRAME_NAMES = {SABM: "SABM", UA: "UA", DM: "DM", DISC: "DISC", UIH: "UIH", UI: "UI"}
# control-channel message types (bits 2-7 of the type octet, EA and C/R clear)
PN, PSC, CLD, TEST, FCON, FCOFF, MSC, NSC, RPN, RLS, SNC = (
    0x80, 0x40, 0xC0, 0x20, 0xA0, 0x60, 0xE0, 0x10, 0x90, 0x50, 0xD0,
)
MSG_NAMES = {
    PN: "PN", PSC: "PSC", CLD: "CLD", TEST: "Test", FCON: "FCon", FCOFF: "FCoff",
    MSC: "MSC", NSC: "NSC", RPN: "RPN", RLS: "RLS", SNC: "SNC",
}
# V.24 signals of MSC (27.010 5.4.6.3.7)
V24_EA, V24_FC, V24_RTC, V24_RTR, V24_IC, V24_DV = 0x01, 0x02, 0x04, 0x08, 0x40, 0x80
AT_DLCIS = range(1, 5)  # manual 3.2.38: DLCIs 1-4 are 27.007/27.005 channels
HELD_MAX = 65536  # output per DLC kept while the host's flow control is off
NOTES_MAX = 512  # decoded frames kept for the traffic log between reads


def _table() -> bytes:
    out = bytearray()
    for i in range(256):
        f = i
        for _ in range(8):
            f = (f >> 1) ^ 0xE0 if f & 1 else f >> 1
        out.append(f)
    return bytes(out)


_CRC = _table()


def fcs(data: bytes | bytearray | memoryview) -> int:
    """The frame check sequence of 27.010 annex B over ``data``."""
    f = 0xFF
    for b in data:
        f = _CRC[f ^ b]
    return 0xFF - f


def _fcs_ok(data: bytes | bytearray | memoryview, received: int) -> bool:
    f = 0xFF
    for b in data:
        f = _CRC[f ^ b]
    return _CRC[f ^ received] == 0xCF


def frame(dlci: int, control: int, info: bytes = b"", cr: int = 0) -> bytes:
    """One basic-option frame (``cr``: the C/R bit of the address)."""
    addr = (dlci << 2) | (cr << 1) | 1
    n = len(info)
    length = bytes(((n << 1) | 1,)) if n < 128 else bytes(((n << 1) & 0xFE, n >> 7))
    head = bytes((addr, control)) + length
    check = head if control & ~PF == UIH else head + info
    return b"\xf9" + head + info + bytes((fcs(check), FLAG))


def message(kind: int, value: bytes = b"", command: bool = True) -> bytes:
    """A control-channel message: type (EA, C/R), length, value."""
    return bytes((kind | (2 if command else 0) | 1, (len(value) << 1) | 1)) + value


@dataclass(slots=True)
class MuxParams:
    """AT+CMUX's parameters (manual 3.2.38; the defaults of its read form)."""

    mode: int = 0
    subset: int = 0
    port_speed: int = 5
    n1: int = 127
    t1: int = 10
    n2: int = 3
    t2: int = 30
    t3: int = 10
    k: int = 2

    def text(self) -> str:
        return (
            f"{self.mode},{self.subset},{self.port_speed},{self.n1},{self.t1},"
            f"{self.n2},{self.t2},{self.t3},{self.k}"
        )


@dataclass(slots=True)
class Frame:
    dlci: int
    control: int  # without P/F
    pf: bool
    cr: int
    info: bytes


class Deframer:
    """Basic-option frames out of a byte stream, however it was split.

    ``feed`` returns the good frames; bad ones are counted: ``bad_fcs``,
    ``too_long`` (information longer than ``n1``), ``bad_frames`` (no
    closing flag, address without EA), ``skipped`` (bytes outside frames)."""

    def __init__(self, n1: int) -> None:
        self.n1 = n1
        self._buf = bytearray()
        self._synced = False  # _buf starts with a flag
        self.good = self.bad_fcs = self.too_long = self.bad_frames = self.skipped = 0

    def feed(self, data: bytes) -> list[Frame]:
        frames: list[Frame] = []

        def keep(f: Frame) -> bool:
            frames.append(f)
            return False

        self.feed_until(data, keep)
        return frames

    def feed_until(self, data: bytes, take: Callable[[Frame], bool]) -> bytes:
        """Each good frame to ``take`` in order; when ``take`` returns True
        the parsing stops there and the bytes after that frame (this chunk's
        and whatever was buffered) are returned and forgotten."""
        buf = self._buf
        buf += data
        p, n = 0, len(buf)
        while True:
            if not self._synced:
                k = buf.find(FLAG, p)
                if k < 0:
                    self.skipped += n - p
                    p = n
                    break
                self.skipped += k - p
                p = k
                self._synced = True
            j = p  # at a flag: skip repeated flags
            while j < n and buf[j] == FLAG:
                j += 1
            if j >= n:
                p = n - 1  # keep one flag
                break
            p = j - 1  # the opening flag
            if n - j < 3:
                break
            addr, ctrl, l0 = buf[j], buf[j + 1], buf[j + 2]
            if not addr & 1:
                self.bad_frames += 1
                self._lose_sync()
                p = j
                continue
            if l0 & 1:
                size, hl = l0 >> 1, 3
            else:
                if n - j < 4:
                    break
                size, hl = (l0 >> 1) | (buf[j + 3] << 7), 4
            if size > self.n1:
                self.too_long += 1
                self._lose_sync()
                p = j
                continue
            end = j + hl + size  # the FCS
            if end + 1 >= n:
                break  # not all here yet
            if buf[end + 1] != FLAG:
                self.bad_frames += 1
                self._lose_sync()
                p = j
                continue
            control = ctrl & ~PF
            check = buf[j : j + hl] if control == UIH else buf[j:end]
            if not _fcs_ok(check, buf[end]):
                self.bad_fcs += 1
                self._lose_sync()
                p = j
                continue
            self.good += 1
            p = end + 1  # the closing flag may open the next frame
            f = Frame(addr >> 2, control, bool(ctrl & PF), (addr >> 1) & 1, bytes(buf[j + hl : end]))
            if take(f):
                rest = bytes(buf[p + 1 :])  # after the closing flag
                buf.clear()
                self._synced = False
                return rest
        del buf[:p]
        return b""

    def _lose_sync(self) -> None:
        self._synced = False


def describe(f: Frame) -> str:
    """One line for the traffic log: DLCI, type, length and what is inside."""
    name = FRAME_NAMES.get(f.control, f"0x{f.control:02x}")
    head = f"DLCI {f.dlci} {name}{' P/F' if f.pf else ''} len {len(f.info)}"
    if not f.info:
        return head
    if f.dlci == 0 and f.control in (UIH, UI):
        return f"{head} {describe_messages(f.info)}"
    text = f.info.decode("latin-1")
    if f.info[:1] == b"\x7e" or f.info[-1:] == b"\x7e":
        return f"{head} PPP {len(f.info)} B"
    return f"{head} {text!r}"


def describe_messages(data: bytes) -> str:
    parts = []
    for kind, cmd, value, raw in _messages(data):
        name = MSG_NAMES.get(kind, f"type 0x{raw:02x}")
        parts.append(f"{name} {'cmd' if cmd else 'resp'} {value.hex(' ')}".rstrip())
    return "; ".join(parts) or repr(data)


def _messages(data: bytes) -> list[tuple[int, bool, bytes, int]]:
    """The control messages in one UIH frame of DLCI 0: (type, command?,
    value, the type octet as sent); a multi-octet type (EA clear: SIMCom
    supports one octet) gets type -1 and is answered NSC."""
    out: list[tuple[int, bool, bytes, int]] = []
    i, n = 0, len(data)
    while i + 1 < n:
        t = data[i]
        i += 1
        size, shift = 0, 0
        while i < n:
            b = data[i]
            i += 1
            size |= (b >> 1) << shift
            shift += 7
            if b & 1 or shift > 14:
                break
        value = data[i : i + size]
        i += size
        out.append((t & 0xFC if t & 1 else -1, bool(t & 2), value, t))
    return out


class Mux:
    """The multiplexer of one modem: DLCI 0 and the AT channels on DLCIs 1-4.

    ``Modem.start_mux`` makes one and has the plain line give its bytes to
    ``feed``; frames for an open DLC go to its ``Channel`` in that channel's
    context; a DLC's output is framed in UIH frames of at most N1 octets."""

    def __init__(
        self,
        modem: Modem,
        params: MuxParams,
        out: Callable[[bytes], None],
        *,
        msc_after_open: bool = True,
    ) -> None:
        self.m = modem
        self._out = out
        self.params = params
        self.msc_after_open = msc_after_open
        self._rx = Deframer(params.n1)
        self.dlcs: dict[int, Channel] = {}  # the open AT channels
        self.control_open = False  # DLCI 0
        self.stopped = False  # FCoff from the host: no DLC may send
        self._fc: set[int] = set()  # DLCs the host stopped with MSC FC=1
        self._held: dict[int, bytearray] = {}  # output waiting for flow control
        self._heads: dict[int, tuple[bytes, bytes]] = {}  # (DLC, length) -> UIH head, tail
        self._n1: dict[int, int] = {}  # N1 of a DLC as PN negotiated it (else params.n1)
        self.dropped = 0  # output bytes dropped because the host never resumed
        s = modem.settings
        self._line = (s.echo, s.verbose, s.quiet, s.cmee)  # what a new DLC starts with
        self._void = Channel(modem, lambda data: None, key="void.", name="none")
        self._void.open = False

    # ------------------------------------------------ what the modem asks

    def feed(self, data: bytes) -> None:
        rest = self._rx.feed_until(data, self._take)
        if rest and self.m.mux is None:
            # closed down (CLD, DISC on DLCI 0): what came in the same read
            # after that frame is the plain line's (a host that sends AT
            # right after its CLD gets its answer)
            self.m.line.feed(rest)

    def _take(self, f: Frame) -> bool:
        """One frame from the host; True when the multiplexer is gone."""
        if self.m.notes is not None:
            self._note("<-", describe(f))
        self._frame(f)
        return self.m.mux is not self

    def urc_channel(self) -> Channel:
        """DLCI 1 (a real SIM800 sends its URCs there); the lowest open DLC
        when 1 is closed; nowhere when none is open."""
        ch = self.dlcs.get(1)
        if ch is not None:
            return ch
        for dlci in sorted(self.dlcs):
            return self.dlcs[dlci]
        return self._void

    def n1_of(self, ch: Channel) -> int:
        """The largest information field of ``ch``'s UIH frames."""
        for dlci, open_ch in self.dlcs.items():
            if open_ch is ch:
                return self._n1.get(dlci, self.params.n1)
        return self.params.n1

    def close_all(self) -> None:
        for ch in self.dlcs.values():
            ch.close()
        self.dlcs.clear()
        self._held.clear()
        self.control_open = False

    @property
    def stats(self) -> dict[str, int]:
        rx = self._rx
        return {
            "good": rx.good, "bad_fcs": rx.bad_fcs, "too_long": rx.too_long,
            "bad_frames": rx.bad_frames, "skipped": rx.skipped, "dropped_out": self.dropped,
        }

    def status(self) -> str:
        """For ``ctl status``."""
        dlcs = ",".join(str(d) for d in sorted(self.dlcs)) or "none"
        s = self.stats
        return (
            f"CMUX N1 {self.params.n1}, DLCs {dlcs}; frames {s['good']} good, "
            f"{s['bad_fcs']} bad FCS, {s['too_long']} too long, {s['bad_frames']} bad"
        )

    # ------------------------------------------------ output

    def _write(self, data: bytes, f: Frame) -> None:
        if self.m.notes is not None:
            self._note("->", describe(f))
        self._out(data)

    def send(self, dlci: int, data: bytes) -> None:
        """A DLC's output: UIH frames of at most N1 octets (held while the
        host's flow control stops the DLC)."""
        if dlci not in self.dlcs or not data:
            return
        if self.stopped or dlci in self._fc:
            held = self._held.setdefault(dlci, bytearray())
            room = HELD_MAX - len(held)
            if room < len(data):
                self.dropped += len(data) - max(room, 0)
                data = data[: max(room, 0)]
            held += data
            return
        n1 = self._n1.get(dlci, self.params.n1)
        if self.m.notes is not None:
            for start in range(0, len(data), n1):
                piece = data[start : start + n1]
                self._write(frame(dlci, UIH, piece), Frame(dlci, UIH, False, 0, piece))
            return
        # the byte path: the flag, header and FCS of a UIH frame depend only
        # on the DLC and the length, so they are made once
        heads = self._heads
        out: list[bytes] = []
        for start in range(0, len(data), n1):
            piece = data[start : start + n1]
            key = (dlci << 16) | len(piece)
            pair = heads.get(key)
            if pair is None:
                whole = frame(dlci, UIH, piece)
                cut = len(whole) - len(piece) - 2
                pair = heads[key] = (whole[:cut], whole[-2:])
            out += (pair[0], piece, pair[1])
        self._out(b"".join(out))

    def _respond(self, dlci: int, control: int, pf: bool) -> None:
        self._write(frame(dlci, control | (PF if pf else 0), cr=1), Frame(dlci, control, pf, 1, b""))

    def _control(self, msg: bytes) -> None:
        self._write(frame(0, UIH, msg), Frame(0, UIH, False, 0, msg))

    def _release(self) -> None:
        for dlci in list(self._held):
            if not self.stopped and dlci not in self._fc:
                data = bytes(self._held.pop(dlci))
                self.send(dlci, data)

    def flow(self, dlci: int, stop: bool) -> None:
        """The DLC's transparent link cannot take more (``stop``) or can
        again: tell the host with MSC FC (27.010 5.4.6.3.7)."""
        if dlci in self.dlcs:
            signals = V24_EA | V24_RTC | V24_RTR | (V24_FC if stop else 0)
            self._control(message(MSC, bytes(((dlci << 2) | 3, signals))))

    # ------------------------------------------------ input

    def _frame(self, f: Frame) -> None:
        dlci, control = f.dlci, f.control
        if control == SABM:
            self._open(dlci, f.pf)
        elif control == DISC:
            self._disc(dlci, f.pf)
        elif control in (UIH, UI):
            if dlci == 0:
                if self.control_open:
                    self._messages(f.info)
                else:
                    self._respond(0, DM, f.pf)
            else:
                ch = self.dlcs.get(dlci)
                if ch is None:
                    self._respond(dlci, DM, f.pf)  # 27.010 5.3.3: not established
                elif f.info:
                    self.m.use(ch)
                    ch.feed(f.info)
        elif control == DM and dlci in self.dlcs:
            # the host has this DLC closed (27.010 5.3.3; n_gsm and Zephyr
            # answer DM to a frame for a DLC they do not have open): close it
            # without an answer (a DM is a response)
            self._drop_dlc(dlci)
        # a UA, and a DM on DLCI 0 or for a closed DLC, answer nothing the
        # module asked and wait for

    def _open(self, dlci: int, pf: bool) -> None:
        if dlci == 0:
            self.control_open = True
            self._respond(0, UA, pf)
            return
        if dlci not in AT_DLCIS or not self.control_open:
            self._respond(dlci, DM, pf)  # the module is unwilling (application note)
            return
        if dlci not in self.dlcs:
            ch = Channel(
                self.m,
                partial(self.send, dlci),
                key=f"dlc{dlci}.",
                hold=partial(self.flow, dlci),
                name=f"DLCI {dlci}",
            )
            ch.echo, ch.verbose, ch.quiet, ch.cmee = self._line
            self.dlcs[dlci] = ch
            self.m.channels.append(ch)
        self._respond(dlci, UA, pf)
        if self.msc_after_open:
            # what a real SIM800 sends right after the UA: its V.24 signals
            # for the DLC, RTC and RTR set (FC clear: ready to receive)
            self._control(message(MSC, bytes(((dlci << 2) | 3, V24_EA | V24_RTC | V24_RTR))))

    def _disc(self, dlci: int, pf: bool) -> None:
        if dlci == 0:
            if not self.control_open:
                self._respond(0, DM, pf)
                return
            # 27.010 5.8.2: DISC on DLCI 0 closes the multiplexer like CLD
            self._respond(0, UA, pf)
            self._close_down()
            return
        if dlci not in self.dlcs:
            self._respond(dlci, DM, pf)
            return
        self._respond(dlci, UA, pf)
        self._drop_dlc(dlci)

    def _drop_dlc(self, dlci: int) -> None:
        ch = self.dlcs.pop(dlci)
        self._held.pop(dlci, None)
        self._fc.discard(dlci)
        self._n1.pop(dlci, None)  # a later SABM without PN: the multiplexer's N1
        if ch in self.m.channels:
            self.m.channels.remove(ch)
        if self.m.ch is ch:
            self.m.use(self.urc_channel())
        ch.close()

    def _close_down(self) -> None:
        self.m.end_mux()

    def _messages(self, data: bytes) -> None:
        for kind, command, value, raw in _messages(data):
            if not command:
                continue  # responses (to our MSC): nothing waits for them
            if kind == MSC:
                self._msc(value)
            elif kind == PN and len(value) >= 8:
                self._control(message(PN, self._pn(value), command=False))
            elif kind == TEST:
                self._control(message(TEST, value, command=False))
            elif kind == FCON:
                self.stopped = False
                self._control(message(FCON, command=False))
                self._release()
            elif kind == FCOFF:
                self.stopped = True
                self._control(message(FCOFF, command=False))
            elif kind == CLD:
                self._control(message(CLD, command=False))
                self._close_down()
                return
            else:
                # not supported: NSC with the type octet as received
                self._control(message(NSC, bytes((raw,)), command=False))

    def _msc(self, value: bytes) -> None:
        if len(value) < 2:
            self._control(message(MSC, value, command=False))
            return
        dlci = value[0] >> 2
        self._control(message(MSC, value, command=False))
        if value[1] & V24_FC:
            self._fc.add(dlci)
        else:
            self._fc.discard(dlci)
            self._release()

    def _pn(self, value: bytes) -> bytes:
        """PN: accept the DLC's parameters within ours (UIH frames, type 1
        convergence, N1 at most ours). The N1 answered is that DLC's largest
        information field from then on (27.010 5.4.6.3.1), until it closes."""
        dlci = value[0] & 0x3F
        prio = value[2] & 0x3F
        n1 = value[4] | (value[5] << 8)
        n1 = max(1, min(n1, self.params.n1))
        if dlci in AT_DLCIS:
            self._n1[dlci] = n1
        k = value[7] & 0x07
        return bytes((dlci, 0x00, prio, value[3], n1 & 0xFF, n1 >> 8, value[6], k))

    def _note(self, direction: str, text: str) -> None:
        notes = self.m.notes
        if notes is not None and len(notes) < NOTES_MAX:
            notes.append(f"cmux {direction} {text}")
