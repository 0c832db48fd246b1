"""The FTP client on the pure core: scripted server replies, fake clock."""

from __future__ import annotations

from harness import OK, Harness, crlf

from sim800emu.core.events import (
    Accepted,
    Close,
    Congestion,
    ConnectFailed,
    Fault,
    Listen,
    Listening,
    StopListen,
)


def ready(mode: int = 1) -> Harness:
    h = Harness()
    h.at("AT+SAPBR=1,1")
    h.run_timers()
    for line in ('AT+FTPSERV="ftp.test"', f"AT+FTPMODE={mode}", 'AT+FTPUN="u"', 'AT+FTPPW="p"',
                 'AT+FTPGETNAME="f.bin"', 'AT+FTPPUTNAME="up.bin"'):
        assert h.at(line) == OK
    return h


def login(h: Harness) -> int:
    ctrl, _ = h.connected()
    for reply in (b"220 hello\r\n", b"331 password\r\n", b"230-welcome\r\n230 in\r\n"):
        assert h.receive(ctrl, reply) == b""
    assert h.sent(ctrl) == b"USER u\r\nPASS p\r\nTYPE I\r\n"
    return ctrl


def test_download_passive_with_reads_and_the_end() -> None:
    h = ready()
    assert h.at("AT+FTPGET=1") == OK
    ctrl = login(h)
    h.receive(ctrl, b"200 binary\r\n")
    h.receive(ctrl, b"227 Entering Passive Mode (10,0,0,9,19,137)\r\n")
    data_connect = h.connects[-1]
    assert (data_connect.host, data_connect.port) == ("10.0.0.9", 19 * 256 + 137)
    data, _ = h.connected()
    assert h.sent(ctrl).endswith(b"PASV\r\nRETR /f.bin\r\n")
    h.receive(ctrl, b"150 opening\r\n")
    assert h.receive(data, b"abcdef") == crlf("+FTPGET: 1,1")
    assert h.receive(data, b"gh") == b""  # told already
    assert h.at("AT+FTPGET=2,5") == b"\r\n+FTPGET: 2,5\r\nabcde" + OK
    assert h.receive(ctrl, b"226 done\r\n") == b""
    assert h.peer_close(data) == b""
    assert h.at("AT+FTPGET=2,100") == b"\r\n+FTPGET: 2,3\r\nfgh" + OK + crlf("+FTPGET: 1,0")
    assert h.sent(ctrl).endswith(b"QUIT\r\n")
    assert h.at("AT+FTPSTATE") == b"\r\n+FTPSTATE: 0\r\n" + OK


def test_upload_active_mode() -> None:
    h = ready(mode=0)
    assert h.at("AT+FTPPUT=1") == OK
    ctrl = login(h)
    h.receive(ctrl, b"200 binary\r\n")
    listen = next(r for r in h.requests if isinstance(r, Listen))
    assert listen.port == 0
    h.handle(Listening(listen.sock, "127.0.0.1", 5001))
    assert h.sent(ctrl).endswith(b"PORT 127,0,0,1,19,137\r\n")
    h.receive(ctrl, b"200 PORT ok\r\n")
    assert h.sent(ctrl).endswith(b"STOR /up.bin\r\n")
    assert h.receive(ctrl, b"150 go\r\n") == b""
    assert h.handle(Accepted(listen.sock, -7, "127.0.0.1", 20)) == crlf("+FTPPUT: 1,1,1360")
    assert any(isinstance(r, StopListen) and r.sock == listen.sock for r in h.requests)
    assert h.at("AT+FTPPUT=2,4") == b"\r\n+FTPPUT: 2,4\r\n"
    assert h.feed(b"\x00\r\n\x1a") == OK + crlf("+FTPPUT: 1,1,1360")
    assert h.sent(-7) == b"\x00\r\n\x1a"
    assert h.at("AT+FTPPUT=2,0") == OK
    assert Close(-7) in h.closed
    assert h.receive(ctrl, b"226 stored\r\n") == crlf("+FTPPUT: 1,0")


def test_login_refusals_and_missing_file() -> None:
    h = ready()
    assert h.at("AT+FTPGET=1") == OK
    ctrl, _ = h.connected()
    h.receive(ctrl, b"220 hi\r\n")
    assert h.receive(ctrl, b"530 no such user\r\n") == crlf("+FTPGET: 1,71")
    assert h.at("AT+FTPSIZE") == OK
    ctrl, _ = h.connected()
    h.receive(ctrl, b"220 hi\r\n")
    h.receive(ctrl, b"331 pw\r\n")
    assert h.receive(ctrl, b"530 Login incorrect.\r\n") == crlf("+FTPSIZE: 1,72")
    assert h.at("AT+FTPGET=1") == OK
    ctrl = login(h)
    h.receive(ctrl, b"200 binary\r\n")
    h.receive(ctrl, b"227 (127,0,0,1,1,1)\r\n")
    h.connected()
    assert h.receive(ctrl, b"550 No such file.\r\n") == crlf("+FTPGET: 1,77")


def test_network_failures() -> None:
    h = ready()
    assert h.at("AT+FTPGET=1") == OK
    c = h.connects.pop()
    assert h.handle(ConnectFailed(c.sock, "DNS: not found")) == crlf("+FTPGET: 1,62")
    assert h.at("AT+FTPGET=1") == OK
    assert h.connect_failed()[1] == crlf("+FTPGET: 1,63")
    assert h.at("AT+FTPGET=1") == OK
    h.connected()
    assert h.advance(75.1) == crlf("+FTPGET: 1,64")
    assert h.at("AT+FTPGET=1") == OK
    h.connected()
    assert h.handle(Fault("pdp-deact")).startswith(crlf("+FTPGET: 1,61"))


def test_quit_and_busy() -> None:
    h = ready()
    assert h.at("AT+FTPGET=1") == OK
    h.connected()
    assert h.at("AT+FTPSTATE") == b"\r\n+FTPSTATE: 1\r\n" + OK
    assert h.at("AT+FTPSIZE") == b"\r\nERROR\r\n"
    assert h.at("AT+FTPPUT=1") == b"\r\nERROR\r\n"
    assert h.at("AT+FTPQUIT") == OK + crlf("+FTPGET: 1,86")
    assert h.at("AT+FTPQUIT") == OK


def test_reboot_resets_the_parameters() -> None:
    h = ready()
    h.at("AT+CFUN=1,1")
    h.run_timers()
    h.at("ATE0")
    assert h.at("AT+FTPSERV?") == b'\r\n+FTPSERV: ""\r\n' + OK


def test_bad_pasv_and_endless_line() -> None:
    h = ready()
    assert h.at("AT+FTPGET=1") == OK
    ctrl = login(h)
    h.receive(ctrl, b"200 binary\r\n")
    assert h.receive(ctrl, b"227 (127,0,0,1,300,1)\r\n") == crlf("+FTPGET: 1,75")
    assert h.at("AT+FTPGET=1") == OK
    ctrl, _ = h.connected()
    assert h.receive(ctrl, b"x" * 9000) == crlf("+FTPGET: 1,65")


def test_upload_ready_waits_while_the_server_is_slow() -> None:
    h = ready()
    assert h.at("AT+FTPPUT=1") == OK
    ctrl = login(h)
    h.receive(ctrl, b"200 binary\r\n")
    h.receive(ctrl, b"227 (127,0,0,1,1,1)\r\n")
    data, _ = h.connected()
    assert h.receive(ctrl, b"150 go\r\n") == crlf("+FTPPUT: 1,1,1360")
    assert h.handle(Congestion(data, True)) == b""
    assert h.at("AT+FTPPUT=2,3") == b"\r\n+FTPPUT: 2,3\r\n"
    assert h.feed(b"abc") == OK  # no "ready" yet
    assert h.handle(Congestion(data, False)) == crlf("+FTPPUT: 1,1,1360")
