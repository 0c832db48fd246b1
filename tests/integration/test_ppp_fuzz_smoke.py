"""PPP fuzz smoke (issue 16): random and mutated PPP frames in data mode
through the real pty; afterwards ``+++`` returns to command mode and the
modem answers ``AT``.

Phase 1 (before any negotiation): random bytes, frames with wrong FCS,
truncated and oversized frames, stray flags and escapes, unknown protocols,
IPCP/PAP/IP before LCP, mutations of a valid LCP Configure-Request.
Phase 2: a real negotiation with the independent test client
(``pppclient.py``), then valid frames carrying random IPv4 datagrams
(TCP/UDP/ICMP with random flags and fields) and a flood of SYNs: the link
survives, the terminator answers, an LCP echo still comes back. Phase 3:
mutated control packets of every protocol, which may end the link as the
RFCs allow (then ``NO CARRIER``); either way the modem ends in command mode. ``--allow 127.0.0.0/8`` keeps every re-originated flow on
loopback. The seed (16) is printed; ``PPP_FUZZ_SEED=N`` replays another,
``PPP_FUZZ_SEED=random`` picks one; ``PPP_FUZZ_LOG=FILE`` keeps the serial
traffic log (``serve --log``).
"""

from __future__ import annotations

import os
import random
import select
import socket
import struct
import time

import pytest
from pppclient import (
    PROTO_IP,
    PROTO_IPCP,
    PROTO_LCP,
    PROTO_PAP,
    PppClient,
    control,
    encode_frame,
    fcs16,
    pack_options,
)
from serial_helpers import Emulator

GUARD = 0.2  # --escape-guard: the +++ guard time (s) used here
HOST_ALIAS = "10.0.2.2"

pytestmark = pytest.mark.timeout(120)


def seed() -> int:
    """16 unless ``PPP_FUZZ_SEED`` says (a number, or ``random``)."""
    text = os.environ.get("PPP_FUZZ_SEED", "16")
    value = random.randrange(1 << 32) if text == "random" else int(text)
    print(f"PPP fuzz seed {value} (PPP_FUZZ_SEED={value} replays it)")
    return value


def checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    return ~(total + (total >> 16)) & 0xFFFF


def ipv4(src: str, dst: str, proto: int, payload: bytes, rng: random.Random) -> bytes:
    head = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), rng.randrange(65536), 0,
                       64, proto, 0, socket.inet_aton(src), socket.inet_aton(dst))  # fmt: skip
    head = head[:10] + struct.pack("!H", checksum(head)) + head[12:]
    return head + payload


def l4(src: str, dst: str, proto: int, segment: bytes) -> bytes:
    """``segment`` with its TCP/UDP checksum filled in (pseudo-header)."""
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, proto, len(segment))
    at = 16 if proto == 6 else 6
    segment = segment[:at] + b"\0\0" + segment[at + 2 :]
    return segment[:at] + struct.pack("!H", checksum(pseudo + segment)) + segment[at + 2 :]


def tcp(src: str, dst: str, sport: int, dport: int, flags: int, rng: random.Random,
        data: bytes = b"") -> bytes:  # fmt: skip
    seg = struct.pack("!HHIIBBHHH", sport, dport, rng.randrange(1 << 32), rng.randrange(1 << 32),
                      5 << 4, flags, rng.randrange(65536), 0, 0) + data  # fmt: skip
    return ipv4(src, dst, 6, l4(src, dst, 6, seg), rng)


def random_datagram(src: str, rng: random.Random, open_port: int) -> bytes:
    kind = rng.randrange(6)
    dst = rng.choice([HOST_ALIAS, "10.0.2.3", "127.0.0.1", "192.0.2.1", "224.0.0.1"])
    if kind == 0:
        return tcp(src, dst, rng.randrange(1024, 65536), rng.choice([open_port, rng.randrange(1, 65536)]),
                   rng.randrange(256), rng, rng.randbytes(rng.randrange(64)))  # fmt: skip
    if kind == 1:
        body = rng.randbytes(rng.randrange(64))
        seg = struct.pack("!HHHH", rng.randrange(1, 65536), rng.choice([53, rng.randrange(1, 65536)]),
                          8 + len(body), 0) + body  # fmt: skip
        return ipv4(src, dst, 17, l4(src, dst, 17, seg), rng)
    if kind == 2:
        body = struct.pack("!BBHHH", rng.choice([8, 0, 3, 11, rng.randrange(256)]), 0, 0,
                           rng.randrange(65536), rng.randrange(65536)) + rng.randbytes(16)  # fmt: skip
        body = body[:2] + struct.pack("!H", checksum(body)) + body[4:]
        return ipv4(src, dst, 1, body, rng)
    if kind == 3:  # a valid header with a random protocol or fragment bits
        packet = bytearray(ipv4(src, dst, rng.randrange(256), rng.randbytes(rng.randrange(40)), rng))
        packet[6] = rng.choice([0x20, 0x00, 0x40, rng.randrange(256)])
        return bytes(packet)
    if kind == 4:  # truncated or bit-flipped
        packet = bytearray(tcp(src, dst, 40000, open_port, 0x02, rng))
        packet[rng.randrange(len(packet))] ^= 1 << rng.randrange(8)
        return bytes(packet[: rng.randrange(1, len(packet) + 1)])
    return rng.randbytes(rng.randrange(1, 200))


class PtyPpp:
    """The test client driven over the emulator's pty."""

    def __init__(self, emu: Emulator, client: PppClient) -> None:
        self.emu = emu
        self.client = client
        client.on_output = lambda data: emu.write_all(data)
        self.ip: list[bytes] = []
        client.on_ip = self.ip.append
        self.tail = b""  # the last bytes read (text after the last frame: NO CARRIER)
        self.hung_up = False  # NO CARRIER came: the client stops (as on DCD dropping)

    def after_last_frame(self) -> bytes:
        return self.tail[self.tail.rfind(b"\x7e") + 1 :]

    def pump(self, seconds: float) -> None:
        """Read and feed what the modem sends for ``seconds`` (at least one
        non-blocking look), firing the client's timers."""
        deadline = time.monotonic() + seconds
        while True:
            left = max(0.0, deadline - time.monotonic())
            wait = self.client.next_timeout()
            ready, _, _ = select.select([self.emu.fd], [], [], left if wait is None else min(left, wait))
            if ready:
                try:
                    data = os.read(self.emu.fd, 65536)
                except BlockingIOError:
                    data = b""
                self.emu.total_read += len(data)
                self.tail = (self.tail + data)[-256:]
                self.client.feed(data)
                if b"NO CARRIER" in self.after_last_frame():
                    self.hung_up = True
                    return
            self.client.tick()
            if time.monotonic() >= deadline:
                return

    def until(self, condition: object, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not condition():  # type: ignore[operator]
            assert time.monotonic() < deadline, f"timed out; client log: {self.client.counts}"
            self.pump(0.05)


def dial(emu: Emulator) -> None:
    emu.command("AT")
    emu.send("ATD*99#")
    emu.expect(b"CONNECT", timeout=15)
    emu.expect(b"\r\n", timeout=5)


def back_to_command_mode(emu: Emulator) -> None:
    """+++ with the guard times, then AT must answer OK (PPP output before
    the OK is skipped)."""
    time.sleep(GUARD * 2)  # the guard time: silence from our side (a condition of +++)
    emu.buf.clear()
    emu.write_all(b"+++")
    emu.expect(b"\r\nOK\r\n", timeout=GUARD + 10)
    emu.command("AT", timeout=5)


def mutate(frame: bytes, rng: random.Random) -> bytes:
    data = bytearray(frame)
    for _ in range(rng.randrange(1, 4)):
        op = rng.randrange(4)
        if op == 0 and data:
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        elif op == 1 and data:
            del data[rng.randrange(len(data)) :]
        elif op == 2:
            at = rng.randrange(len(data) + 1)
            data[at:at] = rng.randbytes(rng.randrange(1, 8))
        else:
            data.insert(rng.randrange(len(data) + 1), rng.choice([0x7E, 0x7D]))
    return bytes(data)


def with_fcs(body: bytes) -> bytes:
    """A frame with a correct FCS around an arbitrary body (escaped fully)."""
    fcs = fcs16(body) ^ 0xFFFF
    raw = body + struct.pack("<H", fcs)
    out = bytearray(b"\x7e")
    for byte in raw:
        if byte < 0x20 or byte in (0x7D, 0x7E):
            out += bytes([0x7D, byte ^ 0x20])
        else:
            out.append(byte)
    return bytes(out + b"\x7e")


def phase1_inputs(rng: random.Random) -> list[bytes]:
    lcp_req = encode_frame(PROTO_LCP, control(1, 1, pack_options([(2, bytes(4)), (5, b"\x12\x34\x56\x78")])))
    inputs = [
        rng.randbytes(4096),
        b"\x7e" * 500,
        b"\x7d" * 300 + b"\x7e",
        b"\x7e" + rng.randbytes(5000).replace(b"\x7e", b"") + b"\x7e",  # oversized
        b"\x7e" + b"\xff\x03\xc0\x21\x01\x01\x00\x04" + b"\x00\x00\x7e",  # wrong FCS
        with_fcs(b"\xff\x03\x80\x57\x01\x01\x00\x04"),  # IPV6CP
        with_fcs(b"\xff\x03\x12\x35" + rng.randbytes(20)),  # unknown protocol
        with_fcs(b"\xff\x03\x80\x21\x01\x01\x00\x0a\x03\x06\x00\x00\x00\x00"),  # IPCP before LCP
        with_fcs(b"\xff\x03\xc0\x23\x01\x01\x00\x06\x00\x00"),  # PAP before LCP
        with_fcs(b"\xff\x03\x00\x21" + rng.randbytes(40)),  # IP before LCP
        with_fcs(b"\xff\x03\xc0\x21\x01\x02\xff\xff"),  # LCP length beyond the packet
        with_fcs(b"\xff\x03\xc0\x21\x01\x02\x00\x08\x02\x00\x05\xff"),  # options with bad lengths
        with_fcs(b"\xff\x03\xc0\x21\x63\x02\x00\x04"),  # unknown LCP code
        with_fcs(b"\xff\x03"),  # no protocol
        with_fcs(b""),  # runt
    ]
    inputs += [mutate(lcp_req, rng) for _ in range(60)]
    inputs += [rng.randbytes(rng.randrange(1, 300)) for _ in range(40)]
    rng.shuffle(inputs)
    return inputs


def test_random_and_mutated_frames_then_plus_plus_plus() -> None:
    rng = random.Random(seed())
    listener = socket.create_server(("127.0.0.1", 0), backlog=512)
    open_port = listener.getsockname()[1]
    try:
        log = ("--log", os.environ["PPP_FUZZ_LOG"]) if os.environ.get("PPP_FUZZ_LOG") else ()
        with Emulator("--escape-guard", str(GUARD), "--allow", "127.0.0.0/8", *log) as emu:
            emu.init()
            # phase 1: garbage before negotiation
            dial(emu)
            for chunk in phase1_inputs(rng):
                emu.write_all(chunk)
                emu.drain(0)  # keep the modem's output flowing
            emu.drain(0.2)
            back_to_command_mode(emu)
            emu.command("ATH", timeout=10)

            # phase 2: a negotiated link; random datagrams, a SYN flood: the link survives
            dial(emu)
            peer = PtyPpp(emu, PppClient(restart=0.5))
            client = peer.client
            client.start()
            peer.until(lambda: client.opened, 15)
            assert client.settings is not None and client.settings.local != "0.0.0.0"
            src = client.settings.local
            for _ in range(150):
                emu.write_all(encode_frame(PROTO_IP, random_datagram(src, rng, open_port),
                                           accm=client.tx_accm))  # fmt: skip
                peer.pump(0)
            for port in range(30000, 30300):  # a SYN flood to a listener
                emu.write_all(encode_frame(PROTO_IP, tcp(src, HOST_ALIAS, port, open_port, 0x02, rng),
                                           accm=client.tx_accm))  # fmt: skip
                peer.pump(0)
            peer.pump(1.0)
            assert emu.proc.poll() is None, emu.stderr_tail()
            assert client.opened, f"the link did not survive: {client.reason}"
            assert peer.ip, "the terminator answered none of the datagrams (no RST, no SYN-ACK)"
            before = client.counts["echo_answered"]
            client.send_echo(b"still there")
            peer.until(lambda: client.counts["echo_answered"] > before, 10)

            # phase 3: mutated control packets of every protocol; these may end
            # the link as the RFCs allow (a Terminate-Request, a Code-Reject of
            # a needed code ...): then NO CARRIER and command mode, else +++
            for _ in range(100):
                proto = rng.choice([PROTO_LCP, PROTO_IPCP, PROTO_PAP, 0x8057, 0x80FD, 0xC223])
                packet = mutate(control(rng.randrange(1, 14), rng.randrange(256),
                                        rng.randbytes(rng.randrange(12))), rng)  # fmt: skip
                emu.write_all(encode_frame(proto, packet, accm=client.tx_accm))
                peer.pump(0)
                if peer.hung_up:
                    break
            if not peer.hung_up:
                peer.pump(0.5)
            assert emu.proc.poll() is None, emu.stderr_tail()
            if peer.hung_up:
                # command mode again; a CR ends whatever line the last frames began
                # (an over-long one keeps only its head: an AT after it is not seen)
                emu.write_all(b"\r")
                emu.command("AT", timeout=5)
            else:
                back_to_command_mode(emu)
                emu.command("ATH", timeout=10)
            emu.command("AT")
            assert emu.rss_kib() < 200 * 1024
            assert "Traceback" not in emu.stderr_tail(100_000), emu.stderr_tail()
    finally:
        listener.close()
