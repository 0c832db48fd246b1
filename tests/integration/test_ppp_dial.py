"""Dial-up data through the real pty (issue 16): ATD*99# / AT+CGDATA,
CONNECT, +++ with its guard times, ATO, ATH, NO CARRIER when the network
or DTR ends the call (``serve --control``), and Debian's ``chat`` with its
stock GPRS chat script (docs/ppp.md).

Whatever PPP the modem sends after CONNECT (LCP Configure-Requests) is
skipped here: these tests are about the dial path and the modes; the link
itself has its own tests.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from serial_helpers import Emulator

from sim800emu.control import send as ctl

OK = b"\r\nOK\r\n"
CONNECT = b"\r\nCONNECT\r\n"
NO_CARRIER = b"\r\nNO CARRIER\r\n"
GUARD = "0.3"  # --escape-guard: short, so the tests are quick
WAIT = 0.45  # a little more than the guard time
CHAT = shutil.which("chat") or "/usr/sbin/chat"
GPRS_SCRIPT = Path("/etc/chatscripts/gprs")


def modem(tmp_path: Path, *extra: str) -> tuple[Emulator, Path]:
    sock = tmp_path / "modem.ctl"
    emu = Emulator("--control", str(sock), "--escape-guard", GUARD, "--ppp-restart", "0.5",
                   *extra, workdir=tmp_path / "w")
    return emu, sock


def status(sock: Path) -> str:
    answer = ctl(sock, "status")
    assert answer.startswith("ok "), answer
    return answer


def test_dial_escape_ato_ath(tmp_path: Path) -> None:
    emu, sock = modem(tmp_path)
    with emu:
        emu.init()
        emu.command('AT+CGDCONT=1,"IP","CMNET"')
        emu.send("ATD*99***1#")
        emu.expect(CONNECT)
        assert "ppp cid 1 online" in status(sock)
        emu.escape(WAIT)
        emu.command("AT+CSQ")  # command mode, the call kept
        assert "held" in status(sock)
        assert "DCD on" in status(sock)
        emu.send("ATO")
        emu.expect(CONNECT)
        emu.escape(WAIT)
        emu.command("ATH")
        assert "ppp idle" in status(sock) and "DCD off" in status(sock)
        emu.send("ATO")
        emu.expect(b"\r\nERROR\r\n")
        # the CGDATA form, then the network drops the held call's context
        emu.send('AT+CGDATA="PPP",1')
        emu.expect(CONNECT)
        emu.escape(WAIT)
        assert ctl(sock, "pdp-deact").startswith("ok")
        emu.expect(NO_CARRIER)
        emu.command("AT")


def test_network_hangup_online(tmp_path: Path) -> None:
    emu, sock = modem(tmp_path)
    with emu:
        emu.init()
        emu.send("ATD*99#")
        emu.expect(CONNECT)
        assert ctl(sock, "hangup").startswith("ok")
        # the link says Terminate-Request; nobody acknowledges it here, so the
        # restart timer (0.5 s, twice) ends it: NO CARRIER
        emu.expect(NO_CARRIER, timeout=10)
        emu.command("AT")
        assert "last call" in status(sock)


def test_dtr_per_and_d(tmp_path: Path) -> None:
    emu, sock = modem(tmp_path)
    with emu:
        emu.init()
        emu.send("ATD*99#")
        emu.expect(CONNECT)
        assert ctl(sock, "dtr off").startswith("ok")  # AT&D1: command mode, call kept
        emu.expect(OK)
        assert "DTR off (&D1)" in status(sock)
        assert ctl(sock, "dtr on").startswith("ok")
        emu.command("AT&D2")
        emu.send("ATO")
        emu.expect(CONNECT)
        assert ctl(sock, "dtr off").startswith("ok")  # AT&D2: hang up
        emu.expect(NO_CARRIER)
        emu.command("AT")
        assert "ppp idle" in status(sock)
        assert ctl(sock, "dtr sideways").startswith("error")


@pytest.mark.skipif(not os.access(CHAT, os.X_OK) or not GPRS_SCRIPT.is_file(),
                    reason="Debian's chat (package ppp) and /etc/chatscripts/gprs are not "
                    "installed (apt-get install ppp)")
def test_debian_chat_with_stock_gprs_script(tmp_path: Path) -> None:
    """``chat -f /etc/chatscripts/gprs -T <APN>`` on the pty, as pppd runs
    it: AT, ATH, ATE1, AT+CGDCONT, ATD*99#, CONNECT; exit status 0."""
    emu, sock = modem(tmp_path)
    with emu:
        emu.close_line()
        with open(emu.link, "r+b", buffering=0) as line:
            done = subprocess.run(
                [CHAT, "-v", "-s", "-f", str(GPRS_SCRIPT), "-T", "internet"],
                stdin=line, stdout=line, stderr=subprocess.PIPE, timeout=60, check=False,
            )
        log = done.stderr.decode(errors="replace")
        assert done.returncode == 0, log
        assert "CONNECT" in log and "-- got it" in log
        assert "ppp cid 1 online" in status(sock)
        emu.open_line()
        emu.escape(WAIT)
        emu.send("AT+CGDCONT?")
        emu.expect(b'+CGDCONT: 1,"IP","internet","0.0.0.0",0,0\r\n\r\nOK\r\n')
        emu.command("ATH")


def test_traffic_log_decodes_ppp_frames(tmp_path: Path) -> None:
    """``--log``: each PPP frame on a line of its own, both ways."""
    log = tmp_path / "traffic.log"
    emu, _ = modem(tmp_path, "--log", str(log))
    with emu:
        emu.init()
        emu.send("ATD*99#")
        emu.expect(CONNECT)
        emu.expect(b"\x7e", timeout=5)  # the module's Configure-Request has begun
        # the client's LCP Terminate-Request: Terminate-Ack, NO CARRIER
        emu.write_all(bytes.fromhex("7eff7d23c0217d257d297d207d24ff7d217e"))
        emu.expect(NO_CARRIER)
        emu.command("AT")
    text = log.read_text()
    assert "modem->host PPP LCP Configure-Request id=1" in text, text
    assert "modem<-host PPP LCP Terminate-Request id=9" in text, text
    assert "modem->host PPP LCP Terminate-Ack id=9" in text, text
    assert "PPP" not in text.split("modem<-host 'AT\\r'")[-1]  # command mode again: text only
