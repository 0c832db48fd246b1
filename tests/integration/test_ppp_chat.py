"""Debian's ``chat`` (package ``ppp``) with its stock GPRS chat script dials
the emulator as pppd would before handing the line to PPP (issue 16):
``AT``, ``ATH``, ``ATE1``, ``AT+CGDCONT=1,"IP","<apn>","",0,0``, ``ATD*99#``
expecting ``CONNECT`` (and aborting on ``ERROR``, ``NO CARRIER``, ...). After
it the modem is in PPP data mode: its LCP Configure-Request arrives, and
``+++`` / ``ATH`` bring it back.

Skipped (saying so) where ``chat`` is not installed (``apt-get install
ppp``); ``/etc/chatscripts/gprs`` is used when present, else the same
dialogue written here.
"""

from __future__ import annotations

import shutil
import subprocess
import time
import tty
from pathlib import Path

import pytest
from serial_helpers import Emulator

STOCK = Path("/etc/chatscripts/gprs")
# the stock script's dialogue, for machines without the file
GPRS = r"""ABORT BUSY
ABORT VOICE
ABORT "NO CARRIER"
ABORT "NO DIALTONE"
ABORT "NO DIAL TONE"
ABORT "NO ANSWER"
ABORT "DELAYED"
ABORT "ERROR"
ABORT "+CGATT: 0"
"" AT
TIMEOUT 12
OK ATH
OK ATE1
OK AT+CGDCONT=1,"IP","\T","",0,0
OK ATD*99#
TIMEOUT 22
CONNECT ""
"""
GUARD = 0.2

pytestmark = pytest.mark.skipif(shutil.which("chat") is None, reason="no chat program (apt-get install ppp)")


def test_stock_gprs_chat_script_dials(tmp_path: Path) -> None:
    script = STOCK if STOCK.exists() else tmp_path / "gprs"
    if script != STOCK:
        script.write_text(GPRS)
    with Emulator("--escape-guard", str(GUARD)) as emu:
        emu.close_line()
        with open(emu.link, "r+b", buffering=0) as port:
            tty.setraw(port.fileno())
            done = subprocess.run(
                ["chat", "-v", "-s", "-f", str(script), "-T", "internet"],
                stdin=port, stdout=port, stderr=subprocess.PIPE, timeout=40,
            )  # fmt: skip
        log = done.stderr.decode(errors="replace")
        assert done.returncode == 0, f"chat failed ({done.returncode}):\n{log}\n{emu.stderr_tail()}"
        assert "CONNECT" in log, log
        emu.open_line()
        # PPP data mode: the modem's LCP Configure-Request (7E FF 7D 23 C0 21 7D 21, stuffed)
        emu.expect(b"\x7e\xff\x7d\x23\xc0\x21\x7d\x21", timeout=10)
        time.sleep(GUARD * 2)  # the +++ guard time: silence from our side
        emu.buf.clear()
        emu.write_all(b"+++")
        emu.expect(b"\r\nOK\r\n", timeout=10)
        emu.command("ATH", timeout=10)
        emu.command("AT")
