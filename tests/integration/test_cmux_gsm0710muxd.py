"""An independent 27.010 peer: Debian's gsm0710muxd (issue 17).

gsm0710muxd is the muxer of the Openmoko/FSO world, written long before this
emulator: it chats the modem up (Ctrl-Z, AT, ATZ, ATE0, AT+CFUN=0, then
``AT+CMUX=0,0,5,<N1>``), opens the control channel and, asked over D-Bus
(``org.pyneo.Powered.GetDevice``), opens DLCs and hands each one out as a pty.
Here it runs in basic mode with N1 127 against ``serve``, on a private
D-Bus (its own ``dbus-daemon``, never the system's), and two programs type AT
on two DLCs at once.

Skipped unless ``gsm0710muxd`` and ``dbus-daemon`` are installed
(``apt-get install gsm0710muxd``)."""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import time
import tty
from pathlib import Path

import pytest
from serial_helpers import Emulator

pytestmark = pytest.mark.timeout(60)

BUS_CONF = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={path}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
"""


def _dbus(env: dict[str, str], method: str, *args: str) -> str:
    got = subprocess.run(
        ["dbus-send", "--system", "--print-reply", "--reply-timeout=20000", "--dest=org.pyneo.mux",
         "/org/pyneo/Muxer", f"org.pyneo.Powered.{method}", *args],
        env=env, capture_output=True, text=True, timeout=25, check=True,
    )  # fmt: skip
    return got.stdout


def _device(env: dict[str, str], purpose: str, timeout: float = 20.0) -> str:
    """The pty of a new DLC (an empty URL while the muxer is not up yet)."""
    deadline = time.monotonic() + timeout
    while True:
        out = _dbus(env, "GetDevice", f"string:{purpose}")
        if "file:///dev/" in out:
            return out.split("file://", 1)[1].split('"', 1)[0]
        assert time.monotonic() < deadline, out
        time.sleep(0.3)  # the muxer chats the modem up on its own schedule


def _talk(fd: int, line: bytes, timeout: float = 5.0) -> bytes:
    os.write(fd, line)
    out = b""
    deadline = time.monotonic() + timeout
    while b"OK\r\n" not in out and b"ERROR\r\n" not in out:
        left = deadline - time.monotonic()
        assert left > 0, out
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            out += os.read(fd, 4096)
    return out


def test_gsm0710muxd_opens_two_dlcs_and_both_answer_at(tmp_path: Path) -> None:
    muxd, daemon = shutil.which("gsm0710muxd"), shutil.which("dbus-daemon")
    if muxd is None or daemon is None or shutil.which("dbus-send") is None:
        pytest.skip("needs gsm0710muxd and dbus (apt-get install gsm0710muxd)")
    bus = tmp_path / "bus"
    conf = tmp_path / "bus.conf"
    conf.write_text(BUS_CONF.format(path=bus))
    env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=f"unix:path={bus}")
    log = tmp_path / "traffic.log"
    procs: list[subprocess.Popen[bytes]] = []
    fds: list[int] = []
    try:
        procs.append(subprocess.Popen([daemon, f"--config-file={conf}", "--nofork"]))
        deadline = time.monotonic() + 10
        while not bus.exists():
            assert time.monotonic() < deadline, "dbus-daemon did not start"
            time.sleep(0.05)
        with Emulator("--log", str(log)) as emu:
            emu.close_line()  # the muxer is the only one on the line
            procs.append(subprocess.Popen(
                [muxd, "-s", str(emu.link), "-m", "basic", "-f", "127", "-l", str(tmp_path / "mux.log")],
                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            ))  # fmt: skip
            deadline = time.monotonic() + 10
            while "org.pyneo.mux" not in subprocess.run(
                ["dbus-send", "--system", "--print-reply", "--dest=org.freedesktop.DBus",
                 "/org/freedesktop/DBus", "org.freedesktop.DBus.ListNames"],
                env=env, capture_output=True, text=True, timeout=10,
            ).stdout:  # fmt: skip
                assert time.monotonic() < deadline, "gsm0710muxd did not come up"
                time.sleep(0.1)
            _dbus(env, "SetPower", "string:test", "boolean:true")
            paths = [_device(env, "first"), _device(env, "second")]
            for path in paths:
                fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
                tty.setraw(fd)
                fds.append(fd)
            one, two = fds
            assert _talk(one, b"AT+CGMI\r").endswith(b"\r\nSIMCOM_Ltd\r\n\r\nOK\r\n")
            assert _talk(two, b"ATE0\r").endswith(b"\r\nOK\r\n")
            assert _talk(two, b"AT+CGSN\r").endswith(b"\r\nOK\r\n")
            assert _talk(one, b"AT+CMUX?\r").endswith(b"\r\n+CMUX: 0,0,5,127,10,3,30,10,2\r\n\r\nOK\r\n")
            assert _talk(two, b"AT\r") == b"\r\nOK\r\n"
        text = log.read_text()
        assert "modem<-host 'AT+CMUX=0,0,5,127\\r\\n'" in text
        assert "cmux <- DLCI 0 SABM P/F len 0" in text
        assert "cmux -> DLCI 1 UA P/F len 0" in text and "cmux -> DLCI 2 UA P/F len 0" in text
        assert "cmux <- DLCI 0 UIH len 4 MSC resp 07 0d" in text  # it answered our MSC
        assert "bad FCS" not in text
    finally:
        for fd in fds:
            os.close(fd)
        for proc in reversed(procs):
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
