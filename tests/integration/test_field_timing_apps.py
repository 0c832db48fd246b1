"""The field-conditions delays of SMS sending, HTTP and FTP through the real
pty (docs/field-conditions.md): at ``--timing realistic --time-scale 0.1``
AT+CMGS answers 0.15-0.5 s after Ctrl-Z, AT+HTTPACTION's URC and an FTP
operation's connection come at least their scaled delay later than at host
speed; the fast default answers at once."""

from __future__ import annotations

import re
import time

from http_servers import HELLO, http_server
from serial_helpers import Emulator, TcpServer

OK = b"\r\nOK\r\n"
ACTION = re.compile(rb"\r\n\+HTTPACTION: 0,(\d+),(\d+)\r\n")
SLACK = 0.4  # a loaded machine's scheduling, on top of the scaled delay


def _cmgs_time(emu: Emulator) -> float:
    emu.command("AT+CMGF=1")
    emu.command('AT+CMGS="+8613912345678"', b"> ")
    start = time.monotonic()
    emu.write_all(b"hello\x1a")
    emu.expect(b"\r\n+CMGS: ")
    emu.expect(OK)
    return time.monotonic() - start


def test_realistic_tenth_scale_sms_http_ftp() -> None:
    with Emulator("--timing", "realistic", "--time-scale", "0.1", "--seed", "5") as emu, \
            http_server() as server, TcpServer() as ftp:
        emu.init()
        sms = _cmgs_time(emu)
        assert 0.15 <= sms <= 0.5 + SLACK, sms
        emu.command('AT+SAPBR=3,1,"APN","internet"')
        emu.command("AT+SAPBR=1,1", timeout=5)
        emu.command("AT+HTTPINIT")
        port = server.server_address[1]
        emu.command(f'AT+HTTPPARA="CID",1;+HTTPPARA="URL","http://127.0.0.1:{port}/hello"')
        emu.command("AT+HTTPACTION=0")
        start = time.monotonic()
        got = emu.expect(ACTION, timeout=10)
        http = time.monotonic() - start
        match = ACTION.search(got)
        assert match is not None and (int(match.group(1)), int(match.group(2))) == (200, len(HELLO))
        assert 0.1 <= http <= 0.4 + SLACK, http
        emu.command('AT+FTPCID=1;+FTPSERV="127.0.0.1"')
        emu.command(f'AT+FTPPORT={ftp.port};+FTPUN="u";+FTPPW="p"')
        emu.command("AT+FTPSIZE")
        start = time.monotonic()
        ftp.accept(timeout=10)
        opened = time.monotonic() - start
        assert 0.1 <= opened <= 0.3 + SLACK, opened
        emu.command("AT+FTPQUIT")


def test_fast_default_sends_sms_at_host_speed() -> None:
    with Emulator() as emu:
        emu.init()
        assert _cmgs_time(emu) < 0.15
