"""The bearer profiles and the HTTP client on the pure core, fake clock."""

from __future__ import annotations

import pytest
from harness import OK, Harness

from sim800emu.core.apps.http import MAX_DATA, Url, parse_url
from sim800emu.core.events import Close, ConnectFailed, Fault


def bearer_up(h: Harness, cid: int = 1) -> None:
    assert h.at(f"AT+SAPBR=1,{cid}") == b""
    assert h.run_timers() == OK


def http_ready(h: Harness, url: str = "http://10.0.0.1:8080/x") -> None:
    bearer_up(h)
    assert h.at("AT+HTTPINIT") == OK
    assert h.at(f'AT+HTTPPARA="CID",1;+HTTPPARA="URL","{url}"') == OK


@pytest.mark.parametrize(
    ("text", "url"),
    [
        ("example.com", Url(False, "example.com", 80, "/")),
        ("http://example.com:8080/a?b=1", Url(False, "example.com", 8080, "/a?b=1")),
        ("https://example.com/a", Url(True, "example.com", 443, "/a")),
        ("http://example.com/file.txt:8081", Url(False, "example.com", 8081, "/file.txt")),
        ("HTTP://1.2.3.4?q", Url(False, "1.2.3.4", 80, "/?q")),
    ],
)
def test_url_forms(text: str, url: Url) -> None:
    assert parse_url(text) == url


@pytest.mark.parametrize("text", ["", "http://", "http://:80/", "http://a:0/", "http://a:70000/",
                                  "http://a:x/", "ftp://a/", "http://a b/"])
def test_bad_urls(text: str) -> None:
    assert parse_url(text) is None


def test_pdp_deact_fault_closes_every_open_bearer() -> None:
    h = Harness()
    bearer_up(h, 1)
    bearer_up(h, 3)
    out = h.handle(Fault("pdp-deact"))
    assert b"\r\n+SAPBR 1: DEACT\r\n" in out and b"\r\n+SAPBR 3: DEACT\r\n" in out
    assert h.at("AT+SAPBR=2,3") == b'\r\n+SAPBR: 3,3,"0.0.0.0"\r\n' + OK


def test_losing_the_bearer_ends_a_running_action_with_601() -> None:
    h = Harness()
    http_ready(h)
    assert h.at("AT+HTTPACTION=0") == OK
    sock, _ = h.connected()
    out = h.handle(Fault("pdp-deact"))
    assert b"+HTTPACTION: 0,601,0\r\n" in out
    assert Close(sock) in h.closed


def test_closing_the_bearer_with_sapbr_ends_the_action() -> None:
    h = Harness()
    http_ready(h)
    assert h.at("AT+HTTPACTION=0") == OK
    h.connected()
    assert h.at("AT+SAPBR=0,1") == b""  # the URC waits for the OK
    assert h.run_timers() == OK + b"\r\n+HTTPACTION: 0,601,0\r\n"


def test_session_timeout_is_601() -> None:
    h = Harness()
    http_ready(h)
    assert h.at('AT+HTTPPARA="TIMEOUT",30') == OK
    assert h.at("AT+HTTPACTION=0") == OK
    h.connected()
    assert h.advance(29.9) == b""
    assert h.advance(0.2) == b"\r\n+HTTPACTION: 0,601,0\r\n"


def test_body_over_the_buffer_is_602() -> None:
    h = Harness()
    http_ready(h)
    assert h.at("AT+HTTPACTION=0") == OK
    sock, _ = h.connected()
    head = f"HTTP/1.1 200 OK\r\nContent-Length: {MAX_DATA + 10}\r\n\r\n".encode()
    out = h.receive(sock, head + b"x" * (MAX_DATA + 10))
    assert out == b"\r\n+HTTPACTION: 0,602,0\r\n"


def test_tls_alert_is_606_and_dns_603() -> None:
    h = Harness()
    http_ready(h, "https://secure.example/")
    assert h.at("AT+HTTPSSL=1") == OK
    assert h.at("AT+HTTPACTION=0") == OK
    c = h.connects.pop()
    assert c.tls and c.port == 443 and c.host == "secure.example"
    out = h.handle(ConnectFailed(c.sock, "[SSL: TLSV1_ALERT_PROTOCOL_VERSION] alert", "", True))
    assert out == b"\r\n+HTTPACTION: 0,606,0\r\n"
    assert h.at("AT+HTTPACTION=0") == OK
    c = h.connects.pop()
    assert h.handle(ConnectFailed(c.sock, "DNS: not found")) == b"\r\n+HTTPACTION: 0,603,0\r\n"


def test_redirect_loop_stops_after_ten() -> None:
    h = Harness()
    http_ready(h)
    assert h.at('AT+HTTPPARA="REDIR",1') == OK
    assert h.at("AT+HTTPACTION=0") == OK
    for _ in range(11):
        sock, _ = h.connected()
        out = h.receive(sock, b"HTTP/1.1 302 Found\r\nLocation: /again\r\nContent-Length: 0\r\n\r\n")
    assert out == b"\r\n+HTTPACTION: 0,302,0\r\n"


def test_reboot_ends_the_session_silently() -> None:
    h = Harness()
    http_ready(h)
    assert h.at("AT+HTTPACTION=0") == OK
    sock, _ = h.connected()
    h.at("AT+CFUN=1,1")
    assert Close(sock) in h.closed
    assert not h.m.http.active
    h.run_timers()
    assert b"HTTPACTION" not in h.take()


def test_httpdata_times_out_with_what_came() -> None:
    h = Harness()
    http_ready(h)
    assert h.at("AT+HTTPDATA=100,2000") == b"\r\nDOWNLOAD\r\n"
    assert h.feed(b"abc") == b""
    assert h.advance(2.1) == OK
    assert h.at("AT+HTTPREAD") == b"\r\n+HTTPREAD: 3\r\nabc" + OK


def test_reboot_during_httpdata_then_cipsend_sends() -> None:
    h = Harness()
    http_ready(h)
    assert h.at("AT+HTTPDATA=10,5000") == b"\r\nDOWNLOAD\r\n"
    h.feed(b"abc")
    h.m.reboot()
    h.run_timers()
    h.take()
    h.at("ATE0")
    sock, _ = h.open_single("1.2.3.4", 80)
    assert h.at("AT+CIPSEND=2") == b"\r\n> "
    assert h.feed(b"hi") == b"\r\nSEND OK\r\n"
    assert h.sent(sock) == b"hi"
