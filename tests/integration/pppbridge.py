"""Bridge a dial-up modem's PPP link to a TUN device, so the Linux kernel's
own TCP/IP is the PPP client (the kernels we run on have no PPP driver).

    ip netns exec NS python tests/integration/pppbridge.py /path/to/modem \\
        --resolv-conf /etc/resolv.conf

Opens the serial path (raw), sends the init commands (``AT``) and the dial
command (``ATD*99#``) and waits for ``CONNECT``; negotiates LCP/PAP/IPCP with
:mod:`pppclient`; creates a TUN device in the network namespace it runs in,
gives it the address IPCP assigned (point to point to the peer's), a
default route and (``--resolv-conf``) the DNS servers; then relays IPv4
datagrams both ways until the link ends or SIGTERM/SIGINT (which sends an
LCP Terminate-Request first). After the link ends it waits briefly for the
modem's ``NO CARRIER``.

Progress goes to stdout, one line each, flushed: ``bridge: connect``,
``bridge: up local=A peer=B dns=D1,D2 dev=NAME mtu=N``, ``bridge: down
REASON``, ``bridge: modem NO CARRIER``, ``bridge: stats ...``. The exit
status is 0 after a link that came up and ended, 1 otherwise. Needs root
(CAP_NET_ADMIN) and ``ip`` (iproute2). Refuses to touch the default route
or a resolv.conf in the initial network namespace unless
``--allow-init-netns``.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
import tty

from pppclient import PppClient, Settings

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
HIGH_WATER = 64 * 1024  # serial bytes queued before the TUN is no longer read
CONNECT_RE = re.compile(rb"\r\nCONNECT[^\r\n]*\r\n")
FAIL_RE = re.compile(rb"\r\n(ERROR|NO CARRIER|BUSY|NO ANSWER|NO DIALTONE|\+CME ERROR:[^\r]*)\r\n")


class BridgeError(RuntimeError):
    pass


def say(text: str) -> None:
    print(f"bridge: {text}", flush=True)


def in_named_netns() -> bool:
    """Whether this process runs in a namespace made by ``ip netns add``."""
    got = subprocess.run(["ip", "netns", "identify", str(os.getpid())],
                         capture_output=True, text=True, check=False)  # fmt: skip
    return got.returncode == 0 and bool(got.stdout.strip())


def open_serial(path: str) -> int:
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    if os.isatty(fd):
        tty.setraw(fd)
        attrs = termios.tcgetattr(fd)
        attrs[3] &= ~termios.ECHO
        termios.tcsetattr(fd, termios.TCSANOW, attrs)
    return fd


def open_tun(name: str) -> tuple[int, str]:
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    ifr = struct.pack("16sH22x", name.encode(), IFF_TUN | IFF_NO_PI)
    got = fcntl.ioctl(fd, TUNSETIFF, ifr)
    return fd, got[:16].rstrip(b"\0").decode()


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


def configure(dev: str, settings: Settings, mtu: int, default_route: bool) -> None:
    ip("link", "set", "dev", dev, "mtu", str(mtu), "up")
    ip("addr", "add", settings.local, "peer", settings.peer, "dev", dev)
    if default_route:
        ip("route", "replace", "default", "dev", dev)


def write_resolv(path: str, dns: list[str]) -> None:
    # written in place (not replaced): under ``ip netns exec`` /etc/resolv.conf
    # is a bind mount of /etc/netns/NAME/resolv.conf
    text = "".join(f"nameserver {server}\n" for server in dns)
    with open(path, "w", encoding="ascii") as f:
        f.write(text)


def _read(fd: int, timeout: float) -> bytes:
    ready, _, _ = select.select([fd], [], [], max(0.0, timeout))
    if not ready:
        return b""
    try:
        data = os.read(fd, 65536)
    except (BlockingIOError, InterruptedError):
        return b""
    if not data:
        raise BridgeError("serial line closed")
    return data


def write_all(fd: int, data: bytes, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view) :]
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise BridgeError("the serial line does not take our bytes") from None
            select.select([], [fd], [], 0.5)


def chat(fd: int, init: list[str], dial: str, timeout: float) -> bytes:
    """The dial dialog; returns what came after ``CONNECT...\\r\\n`` (PPP already)."""
    buf = b""
    for command in init:
        write_all(fd, command.encode() + b"\r", timeout)
        deadline = time.monotonic() + timeout
        while b"\r\nOK\r\n" not in buf:
            if FAIL_RE.search(buf):
                raise BridgeError(f"{command!r} failed: {buf!r}")
            if time.monotonic() > deadline:
                raise BridgeError(f"no OK to {command!r}: {buf!r}")
            buf += _read(fd, deadline - time.monotonic())
        buf = buf[buf.index(b"\r\nOK\r\n") + 6 :]
    buf = b""
    write_all(fd, dial.encode() + b"\r", timeout)
    deadline = time.monotonic() + timeout
    while True:
        m = CONNECT_RE.search(buf)
        if m:
            return buf[m.end() :]
        if FAIL_RE.search(buf):
            raise BridgeError(f"{dial!r} failed: {buf!r}")
        if time.monotonic() > deadline:
            raise BridgeError(f"no CONNECT to {dial!r}: {buf!r}")
        buf += _read(fd, deadline - time.monotonic())


class Bridge:
    def __init__(self, args: argparse.Namespace, serial: int) -> None:
        self.args = args
        self.serial = serial
        self.tun = -1
        self.dev = ""
        self.out = bytearray()
        self.stop = False
        self.up = False
        self.tun_dropped = 0
        self.tail = b""  # the last serial bytes (NO CARRIER may follow the last frame at once)
        log = (lambda text: print(f"ppp: {text}", file=sys.stderr, flush=True)) if args.verbose else None
        self.client = PppClient(
            user=args.user, password=args.password, auth_mode=args.auth, accm=args.accm,
            pfc=not args.no_pfc, acfc=not args.no_acfc, restart=args.restart, log=log,
            address=args.address, request_dns=not args.no_dns, mru=args.mru,
        )  # fmt: skip
        self.client.echo_interval = args.echo_interval
        self.client.on_output = self.out.extend
        self.client.on_ip = self._to_tun
        self.client.on_up = self._up
        self.client.on_down = lambda reason: say(f"down {reason}")

    def _up(self, settings: Settings) -> None:
        if settings.local == "0.0.0.0":
            raise BridgeError("IPCP opened without an address for us")
        self.tun, self.dev = open_tun(self.args.tun)
        mtu = min(self.args.mtu, self.client.peer_mru)
        configure(self.dev, settings, mtu, not self.args.no_default_route)
        if self.args.resolv_conf and settings.dns:
            write_resolv(self.args.resolv_conf, settings.dns)
        self.up = True
        say(f"up local={settings.local} peer={settings.peer} dns={','.join(settings.dns)} "
            f"dev={self.dev} mtu={mtu}")  # fmt: skip

    def _to_tun(self, packet: bytes) -> None:
        if self.tun < 0:
            return
        try:
            os.write(self.tun, packet)
        except OSError:
            self.tun_dropped += 1

    def _flush(self) -> None:
        while self.out:
            try:
                n = os.write(self.serial, self.out[:65536])
            except BlockingIOError:
                return
            del self.out[:n]

    def run(self, early: bytes) -> int:
        client = self.client
        client.start()
        if early:
            client.feed(early)
        deadline_up = time.monotonic() + self.args.timeout
        closing_since: float | None = None
        while not client.done:
            if self.stop and closing_since is None:
                closing_since = time.monotonic()
                client.close()
            if closing_since is not None and time.monotonic() - closing_since > 3.0:
                say("down no Terminate-Ack")
                break
            if not self.up and closing_since is None and time.monotonic() > deadline_up:
                say(f"down not up after {self.args.timeout} s")
                client.close()
                closing_since = time.monotonic()
            self._flush()
            readers = [self.serial]
            if self.tun >= 0 and len(self.out) < HIGH_WATER:
                readers.append(self.tun)
            writers = [self.serial] if self.out else []
            wait = client.next_timeout()
            wait = 0.5 if wait is None else min(wait, 0.5)
            try:
                readable, _, _ = select.select(readers, writers, [], wait)
            except InterruptedError:
                continue
            if self.serial in readable:
                try:
                    data = os.read(self.serial, 65536)
                except BlockingIOError:
                    data = None
                except OSError as exc:
                    say(f"down serial line: {exc}")
                    break
                if data == b"":
                    say("down serial line closed")
                    break
                if data:
                    self.tail = (self.tail + data)[-256:]
                    client.feed(data)
            if self.tun in readable:
                for _ in range(64):
                    try:
                        packet = os.read(self.tun, 65536)
                    except BlockingIOError:
                        break
                    if packet and packet[0] >> 4 == 4:
                        client.send_ip(packet)
                    if len(self.out) >= HIGH_WATER:
                        break
            client.tick()
        self._flush()
        tail = self._wait_no_carrier()
        if tail:
            say("modem NO CARRIER")
        counts = " ".join(f"{k}={v}" for k, v in client.counts.items() if v)
        df = client.deframer
        say(f"stats {counts} bad_fcs={df.bad_fcs} runts={df.runts} too_long={df.too_long} "
            f"tun_dropped={self.tun_dropped}")  # fmt: skip
        return 0 if self.up else 1

    def _wait_no_carrier(self) -> bool:
        buf = self.tail[self.tail.rfind(b"\x7e") + 1 :]
        if b"NO CARRIER" in buf:
            return True
        deadline = time.monotonic() + self.args.no_carrier_wait
        while time.monotonic() < deadline:
            try:
                buf += _read(self.serial, deadline - time.monotonic())
            except (BridgeError, OSError):
                return False
            if b"NO CARRIER" in buf:
                return True
        return False


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("serial", help="the modem's serial path (the emulator's pty link)")
    p.add_argument("--init", action="append", help="commands before dialling, each expecting OK (default: AT)")
    p.add_argument("--dial", default="ATD*99#", help="the dial command (default: %(default)s)")
    p.add_argument("--no-dial", action="store_true", help="the line is in PPP already (no AT dialog)")
    p.add_argument("--address", default="0.0.0.0", help="the address IPCP asks for (default: %(default)s)")
    p.add_argument("--no-dns", action="store_true", help="do not ask for DNS servers")
    p.add_argument("--tun", default="ppp%d", help="TUN device name (default: %(default)s)")
    p.add_argument("--mtu", type=int, default=1500, help="the TUN MTU (at most the peer's MRU)")
    p.add_argument("--mru", type=int, default=1500, help="the MRU LCP asks for (default: %(default)s)")
    p.add_argument("--user", default="user")
    p.add_argument("--password", default="pass")
    p.add_argument("--auth", choices=("accept", "reject"), default="accept",
                   help="accept the modem's PAP/CHAP, or Configure-Reject it as lwIP does")
    p.add_argument("--accm", type=lambda s: int(s, 0), default=0,
                   help="the ACCM we ask for (default: 0)")
    p.add_argument("--no-pfc", action="store_true")
    p.add_argument("--no-acfc", action="store_true")
    p.add_argument("--restart", type=float, default=1.0, help="restart timer, s")
    p.add_argument("--echo-interval", type=float, help="send LCP Echo-Requests every N s")
    p.add_argument("--no-default-route", action="store_true")
    p.add_argument("--resolv-conf", help="write the DNS servers to this file (e.g. /etc/resolv.conf)")
    p.add_argument("--allow-init-netns", action="store_true",
                   help="allow a default route / resolv.conf outside a named network namespace")
    p.add_argument("--timeout", type=float, default=20.0, help="dialling and negotiation, s")
    p.add_argument("--no-carrier-wait", type=float, default=2.0,
                   help="how long to wait for NO CARRIER after the link ends, s")
    p.add_argument("-v", "--verbose", action="store_true", help="log the negotiation to stderr")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    touches = not args.no_default_route or args.resolv_conf
    if touches and not args.allow_init_netns and not in_named_netns():
        print("pppbridge: refusing to change the default route or resolv.conf of a namespace "
              "not made by `ip netns add` (run it under `ip netns exec`, or --allow-init-netns)",
              file=sys.stderr)  # fmt: skip
        return 2
    serial = open_serial(args.serial)
    bridge = Bridge(args, serial)

    def stop(signum: int, frame: object) -> None:
        bridge.stop = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        early = b"" if args.no_dial else chat(serial, args.init or ["AT"], args.dial, args.timeout)
        say("connect")
        return bridge.run(early)
    except BridgeError as exc:
        say(f"error {exc}")
        return 1
    finally:
        with contextlib.suppress(OSError):
            os.close(serial)
        if bridge.tun >= 0:
            with contextlib.suppress(OSError):
                os.close(bridge.tun)


if __name__ == "__main__":
    sys.exit(main())
