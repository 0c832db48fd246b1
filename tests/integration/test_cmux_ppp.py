"""PPP on one DLC while another answers AT (issues 16 and 17), as esp_modem
runs a SIM800: PPP on DLCI 1, AT on DLCI 2.

The host's multiplexer is the test-side 27.010 peer (cmuxpeer.py); DLCI 1 is
relayed to a pty of its own (muxpty.py, a tiny gsm0710muxd) on which
``pppbridge.py`` (the test-side PPP client of pppclient.py, bridging a TUN
device in a network namespace) dials ``ATD*99#`` and runs PPP, so the Linux
kernel's TCP/IP downloads 1 MiB from a host server through the emulator's
terminator, framed in UIH frames of at most N1 = 127 octets. Meanwhile
DLCI 2 answers AT+CSQ, an SMS and a USSD. The SHA-256 of the download is
checked; the bridge then ends the link (LCP Terminate, NO CARRIER on
DLCI 1), DLCI 1 answers AT again, CLD returns the line to plain AT.

Root only (namespaces, TUN): skipped otherwise, saying why."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import pytest
from cmuxpeer import Peer
from http_servers import big_body, http_server
from muxpty import MuxRelay
from pppnet import Bridge, NetNs, missing
from serial_helpers import Emulator

HOST_ALIAS = "10.0.2.2"
MiB = 1 << 20
OK = b"\r\nOK\r\n"

pytestmark = pytest.mark.timeout(120)

FETCH = """
import hashlib, sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=60) as answer:
    body = answer.read()
print(len(body), hashlib.sha256(body).hexdigest())
"""


def test_ppp_download_on_dlci_1_while_dlci_2_answers_at() -> None:
    reason = missing()
    if reason:
        pytest.skip(reason)
    sha = hashlib.sha256(big_body(MiB)).hexdigest()
    with http_server() as http, Emulator() as emu:
        emu.init()
        emu.command("AT+CMUX=0")
        peer = Peer(emu.write_all, emu.read_some)
        peer.start((1, 2))
        relay = MuxRelay(emu.fd, peer, dlci=1)
        ns = NetNs()
        bridge = None
        try:
            bridge = Bridge(ns, relay.path, "--init", "AT", "--init", 'AT+CGDCONT=1,"IP","internet"')
            bridge.wait_up(30)
            url = f"http://{HOST_ALIAS}:{http.server_address[1]}/big?n={MiB}"
            fetch = ns.popen(sys.executable, "-c", FETCH, url, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)  # fmt: skip
            # DLCI 2 keeps answering while the download runs on DLCI 1
            answers = 0
            while fetch.poll() is None:
                assert relay.at(2, "AT+CSQ") == b"\r\n+CSQ: 24,0\r\n\r\nOK\r\n"
                answers += 1
                if answers == 2:
                    assert relay.at(2, 'AT+CUSD=1,"*100#"') == OK
                    assert b"+CUSD: " in relay.at(2, "AT", b"+CUSD: ")
                    relay.at(2, "AT", b"\r\n")
                if answers == 3:
                    assert relay.at(2, "AT+CMGF=1") == OK
                    assert relay.at(2, 'AT+CMGS="+4915112345678"', b"> ") == b"\r\n> "
                    assert b"+CMGS: " in relay.at(2, "from DLCI 2\x1a")
            out, err = fetch.communicate(timeout=60)
            assert fetch.returncode == 0, (err, bridge.output())
            assert out.decode().split() == [str(MiB), sha], (out, bridge.output())
            assert answers >= 1
            assert relay.to_pty > MiB  # it all came through DLCI 1's frames
            # the bridge ends the link: LCP Terminate, NO CARRIER on DLCI 1
            assert bridge.stop() == 0, bridge.output()
            bridge = None
        finally:
            if bridge is not None:
                bridge.stop()
            ns.delete()
            relay.stop()
        peer.text.clear()
        assert peer.at(1, "AT") == OK
        assert peer.at(2, "AT") == OK
        assert peer.close_down() == b""
        emu.command("AT", OK)
