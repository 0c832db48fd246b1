"""Network namespaces and the PPP/TUN bridge for end-to-end PPP tests (and
``bench/ppp.py``): the Linux kernel's TCP/IP as the PPP client of the
emulator, through :mod:`pppbridge`.

* :class:`NetNs`: ``ip netns add`` under a unique name, loopback up, its own
  ``/etc/netns/NAME/resolv.conf`` (what ``ip netns exec`` mounts over
  ``/etc/resolv.conf``), always deleted by :meth:`NetNs.delete`;
  :meth:`NetNs.run` / :meth:`NetNs.popen` run a program inside.
* :class:`Bridge`: ``pppbridge.py`` on a serial path inside a namespace;
  :meth:`Bridge.wait_up` waits for its ``bridge: up ...`` line and returns
  the negotiated settings; :meth:`Bridge.stop` ends it (LCP Terminate first).

Needs root (CAP_NET_ADMIN / CAP_SYS_ADMIN), ``ip`` and ``/dev/net/tun``;
:func:`missing` says what is missing, for skip reasons.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
BRIDGE = HERE / "pppbridge.py"
UP_RE = re.compile(r"bridge: up local=(\S+) peer=(\S+) dns=(\S*) dev=(\S+) mtu=(\d+)")


def missing(*programs: str) -> str | None:
    """Why an end-to-end PPP test cannot run here (None: it can)."""
    if os.geteuid() != 0:
        return "needs root (a network namespace and a TUN device)"
    if not Path("/dev/net/tun").exists():
        return "no /dev/net/tun"
    for program in ("ip", *programs):
        if shutil.which(program) is None:
            return f"no {program!r} program"
    probe = f"s8eprobe{uuid.uuid4().hex[:8]}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if made.returncode != 0:
        return f"ip netns add failed: {made.stderr.strip()}"
    try:
        # inside it: ip netns exec (remounts /sys), and a TUN device can be made
        tun = subprocess.run(["ip", "netns", "exec", probe, sys.executable, "-c", TUN_PROBE],
                             capture_output=True, text=True, timeout=30)  # fmt: skip
        if tun.returncode != 0:
            return f"no TUN device in a network namespace: {(tun.stderr.strip() or '?')[-300:]}"
    finally:
        subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


TUN_PROBE = """
import fcntl, os, struct
fd = os.open("/dev/net/tun", os.O_RDWR)
fcntl.ioctl(fd, 0x400454CA, struct.pack("16sH22x", b"probe0", 0x1001))
"""


class NetNs:
    """One network namespace with a unique name."""

    def __init__(self, prefix: str = "s8e") -> None:
        self.name = f"{prefix}{os.getpid()}{uuid.uuid4().hex[:6]}"
        self.etc = Path("/etc/netns") / self.name
        subprocess.run(["ip", "netns", "add", self.name], check=True, capture_output=True)
        try:
            self.etc.mkdir(parents=True, exist_ok=True)
            (self.etc / "resolv.conf").write_text("")  # mounted over /etc/resolv.conf inside
            self.run("ip", "link", "set", "lo", "up", check=True)
        except BaseException:
            self.delete()
            raise

    def command(self, *argv: str) -> list[str]:
        return ["ip", "netns", "exec", self.name, *argv]

    def run(self, *argv: str, timeout: float = 30.0, check: bool = False,
            input: bytes | None = None) -> subprocess.CompletedProcess[bytes]:  # fmt: skip
        return subprocess.run(self.command(*argv), capture_output=True, timeout=timeout,
                              check=check, input=input)  # fmt: skip

    def popen(self, *argv: str, **kwargs: object) -> subprocess.Popen[bytes]:
        return subprocess.Popen(self.command(*argv), **kwargs)  # type: ignore[call-overload, no-any-return]

    def python(self, code: str, *args: str, timeout: float = 30.0) -> subprocess.CompletedProcess[bytes]:
        """Run a Python snippet inside (``sys.argv[1:]`` = ``args``)."""
        return self.run(sys.executable, "-c", code, *args, timeout=timeout)

    def delete(self) -> None:
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True)
        with contextlib.suppress(OSError):
            shutil.rmtree(self.etc)

    def __enter__(self) -> NetNs:
        return self

    def __exit__(self, *exc: object) -> None:
        self.delete()


class Bridge:
    """``pppbridge.py SERIAL`` running inside ``ns`` (stdout collected by a thread)."""

    def __init__(self, ns: NetNs, serial: str | Path, *args: str) -> None:
        self.ns = ns
        argv = [sys.executable, str(BRIDGE), str(serial), "--resolv-conf", "/etc/resolv.conf", *args]
        self.proc = ns.popen(*argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.lines: list[str] = []
        self.errors: list[str] = []
        self._cond = threading.Condition()
        threading.Thread(target=self._pump, args=(self.proc.stdout, self.lines), daemon=True).start()
        threading.Thread(target=self._pump, args=(self.proc.stderr, self.errors), daemon=True).start()

    def _pump(self, stream: object, into: list[str]) -> None:
        assert stream is not None
        for raw in stream:  # type: ignore[attr-defined]
            with self._cond:
                into.append(raw.decode(errors="replace").rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def output(self) -> str:
        with self._cond:
            return "\n".join([*self.lines, "--- stderr:", *self.errors[-40:]])

    def wait_line(self, pattern: re.Pattern[str], timeout: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for line in self.lines:
                    m = pattern.search(line)
                    if m:
                        return m
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not self._cond.wait(0.2)):
                    raise AssertionError(
                        f"the bridge printed no {pattern.pattern!r} within {timeout} s "
                        f"(exit {self.proc.poll()}):\n{self.output()}"
                    )
                self._cond.wait(min(left, 0.5))

    def wait_up(self, timeout: float = 20.0) -> dict[str, str]:
        m = self.wait_line(UP_RE, timeout)
        return {"local": m[1], "peer": m[2], "dns": m[3], "dev": m[4], "mtu": m[5]}

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM (the bridge sends LCP Terminate-Request and waits for NO
        CARRIER), SIGKILL after ``timeout``; the exit status."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode
