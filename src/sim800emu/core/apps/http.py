"""The module's HTTP client (manual chapter 11; AT+HTTPSSL from SIMCom's SSL
application note): one session between AT+HTTPINIT and AT+HTTPTERM.

Theory of operation
-------------------
The session keeps the HTTPPARA values, the data of the last AT+HTTPDATA and
the outcome of the last action. AT+HTTPACTION opens one TCP (or TLS) socket
through the modem's requests, exactly as a CIP link does (the driver applies
the policy, routes, DNS servers of AT+CDNSCFG, shaping and faults), writes
one request with h11 and feeds every received byte to h11 until the response
ends; then the socket is closed and ``+HTTPACTION: <method>,<status>,<len>``
is printed. A redirect (30x with ``Location``) is followed when REDIR=1.

The module's own codes replace the server's status when the exchange fails:
601 (no bearer, connection refused or reset, time-out), 602 (the body is
larger than the module's buffer), 603 (the name did not resolve), 604 (an
action is already running), 605/606 (the TLS handshake failed / the server
sent a TLS alert), 600 (the answer is not HTTP). The exact request bytes are
in ``docs/http-ftp.md``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urljoin

import h11

from ..events import Close, Connect, Connected, ConnectFailed, PeerClosed, Received, Result, Send

if TYPE_CHECKING:
    from ..modem import Modem

MAX_DATA = 319_488  # HTTPDATA size and the response buffer (manual 11.2.4)
MAX_REDIRECTS = 10
DEFAULT_UA = "SIMCom_MODULE"
METHODS = {0: "GET", 1: "POST", 2: "HEAD", 3: "DELETE"}
REDIRECTS = (301, 302, 303, 307, 308)

NOT_HTTP, NETWORK_ERROR, NO_MEMORY, DNS_ERROR, STACK_BUSY = 600, 601, 602, 603, 604
TLS_FAILED, TLS_ALERT = 605, 606


@dataclass(frozen=True, slots=True)
class Url:
    tls: bool  # the scheme was https (the default port is then 443)
    host: str
    port: int
    target: str  # path and query, from "/"

    def authority(self) -> str:
        default = 443 if self.tls else 80
        return self.host if self.port == default else f"{self.host}:{self.port}"

    def text(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}{self.target}"


_PORT_AT_END = re.compile(r":(\d{1,5})$")


def parse_url(text: str) -> Url | None:
    """A URL as AT+HTTPPARA="URL" takes it: an optional ``http://`` or
    ``https://``, a host, an optional ``:port``, a path. The manual's own
    form ``server/path:port`` (port after the path) is accepted too. None
    when there is no host or the port is not 1-65535."""
    rest = text.strip()
    low = rest.lower()
    tls = False
    if low.startswith("http://"):
        rest = rest[7:]
    elif low.startswith("https://"):
        rest = rest[8:]
        tls = True
    elif "://" in rest:
        return None
    cut = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
    authority, target = rest[:cut], rest[cut:]
    if not target.startswith("/"):
        target = "/" + target
    host, sep, port_text = authority.rpartition(":")
    if not sep:
        host, port_text = authority, ""
    port = 443 if tls else 80
    if port_text:
        if not port_text.isdecimal():
            return None
        port = int(port_text)
    elif "?" not in target and (match := _PORT_AT_END.search(target)):
        port = int(match.group(1))
        target = target[: match.start()] or "/"
    if not host or any(c in host for c in " /@\t") or not 1 <= port <= 65535:
        return None
    return Url(tls, host, port, target)


@dataclass(slots=True)
class Params:
    """The HTTPPARA values (and HTTPSSL), per session."""

    cid: int = 0  # unset: the action fails with 601
    url: str = ""
    ua: str = DEFAULT_UA
    proip: str = ""
    proport: int = 0
    redir: int = 0
    brk: int = 0
    brkend: int = 0
    timeout: int = 120
    content: str = ""
    userdata: str = ""
    ssl: int = 0
    gethead: int = 0


class HttpClient:
    """One HTTP session (``active`` between HTTPINIT and HTTPTERM)."""

    def __init__(self, m: Modem) -> None:
        self.m = m
        self.active = False
        self.params = Params()
        self.data = b""  # of the last HTTPDATA
        self.readable = b""  # what HTTPREAD reads: the last HTTPDATA or response
        self.head = b""  # what HTTPHEAD shows
        self.method = 0  # of the last action
        self.status = 0  # of the last action
        self.running = False
        self.sending = False
        self.received = 0
        self.expected = 0
        self._sock = 0
        self._conn: h11.Connection | None = None
        self._body = bytearray()
        self._got_bytes = False
        self._response: h11.Response | None = None
        self._redirects = 0
        self._url: Url | None = None
        self._action_method = "GET"

    # ------------------------------------------------------------ session

    def init(self) -> bool:
        if self.active:
            return False
        self.active = True
        self.params = Params()
        self.data = self.readable = self.head = b""
        self.status = self.method = 0
        return True

    def term(self) -> bool:
        if not self.active:
            return False
        self._abort()
        self.active = False
        return True

    def stop(self) -> None:
        """Power loss, reboot: the session is gone, silently."""
        self._abort()
        self.active = False

    def bearer_closed(self, cid: int) -> None:
        if self.running and self.params.cid == cid:
            self._finish(NETWORK_ERROR)

    # ------------------------------------------------------------ action

    def action(self, method: int) -> None:
        """AT+HTTPACTION (its OK is out): the URC follows, now or later."""
        if self.running:
            self.m.urc(f"+HTTPACTION: {method},{STACK_BUSY},0")
            return
        self.method = method
        url = parse_url(self.params.url)
        if url is None:
            self.m.urc(f"+HTTPACTION: {method},{NETWORK_ERROR},0")
            return
        self.readable = self.head = b""
        self.status = 0
        self.running = True
        self._redirects = 0
        self._action_method = METHODS[method]
        if not self.m.bearers.is_open(self.params.cid) or not self.m.radio.gprs_registered:
            self._finish(NETWORK_ERROR)
            return
        self.m.start_timer("http", float(self.params.timeout), lambda: self._finish(NETWORK_ERROR))
        wait = self.m.delay("http_action")  # field-conditions timing: 0 in the fast profile
        if wait > 0:
            self.m.start_timer("http_open", wait, lambda: self._open(url))
        else:
            self._open(url)

    def _open(self, url: Url) -> None:
        self._url = url
        self._conn = h11.Connection(h11.CLIENT)
        self._body = bytearray()
        self._response = None
        self._got_bytes = False
        self.received = self.expected = 0
        self.sending = True
        sock = self.m.new_sock()
        self._sock = sock
        self.m.own_sock(sock, self._on_result)
        p = self.params
        host, port = url.host, url.port
        if p.proip and p.proip != "0.0.0.0" and p.proport:
            host, port = p.proip, p.proport
        tls = p.ssl == 1
        self.m.request(Connect(sock, "TCP", host, port, dns=self.m.ip.usable_dns, tls=tls))

    def request_bytes(self, url: Url, conn: h11.Connection | None = None) -> bytes:
        """The request the module writes (docs/http-ftp.md), through ``conn``
        (which then expects the answer to it)."""
        p = self.params
        method = self._action_method
        proxied = bool(p.proip and p.proip != "0.0.0.0" and p.proport)
        target = url.text() if proxied else url.target
        headers: list[tuple[str, str]] = [("Host", url.authority()), ("User-Agent", p.ua)]
        if method == "GET" and (p.brk or p.brkend):
            end = str(p.brkend) if p.brkend > p.brk else ""
            headers.append(("Range", f"bytes={p.brk}-{end}"))
        for line in re.split(r"\r\n|\\r\\n|\n", p.userdata):
            name, sep, value = line.partition(":")
            if sep and name.strip() and " " not in name.strip():
                headers.append((name.strip(), value.strip()))
        body = b""
        if method == "POST":
            if p.content:
                headers.append(("Content-Type", p.content))
            body = self.data
            headers.append(("Content-Length", str(len(body))))
        if conn is None:
            conn = h11.Connection(h11.CLIENT)
        out = conn.send(h11.Request(method=method, target=target, headers=headers)) or b""
        if body:
            out += conn.send(h11.Data(data=body)) or b""
        return out + (conn.send(h11.EndOfMessage()) or b"")

    # ------------------------------------------------------------ network

    def _on_result(self, res: Result) -> None:
        if not self.running or getattr(res, "sock", None) != self._sock:
            return
        if isinstance(res, Connected):
            assert self._url is not None and self._conn is not None
            try:
                data = self.request_bytes(self._url, self._conn)
            # a header h11 refuses (USERDATA, UA), or one it cannot spell in
            # ASCII (a non-ASCII host, path or UA): not a request at all
            except (h11.LocalProtocolError, UnicodeError):
                self._finish(NOT_HTTP)
                return
            self.m.request(Send(self._sock, data))
            self.sending = False
        elif isinstance(res, ConnectFailed):
            reason = res.reason.upper()
            if reason.startswith("DNS"):
                self._finish(DNS_ERROR)
            elif res.handshake:
                self._finish(TLS_ALERT if "ALERT" in reason else TLS_FAILED)
            else:
                self._finish(NETWORK_ERROR)
        elif isinstance(res, Received):
            self._got_bytes = True
            self._feed(res.data)
        elif isinstance(res, PeerClosed):
            self._feed(b"")
            if self.running:  # the answer did not end: reset mid-way
                self._finish(NETWORK_ERROR if self._response is not None or not self._got_bytes
                             else NOT_HTTP)

    def _feed(self, data: bytes) -> None:
        conn = self._conn
        if conn is None:
            return
        try:
            conn.receive_data(data)
            while self.running:
                event = conn.next_event()
                if event is h11.NEED_DATA or event is h11.PAUSED:
                    return
                if isinstance(event, h11.Response):
                    self._on_response(event)
                elif isinstance(event, h11.Data):
                    self._body += event.data
                    self.received = len(self._body)
                    if len(self._body) > MAX_DATA:
                        self._finish(NO_MEMORY)
                elif isinstance(event, h11.EndOfMessage):
                    self._on_end()
                elif isinstance(event, h11.ConnectionClosed):
                    return
        except h11.RemoteProtocolError:
            if data or self._response is None:
                self._finish(NOT_HTTP if self._response is None and data else NETWORK_ERROR)

    def _on_response(self, event: h11.Response) -> None:
        self._response = event
        reason = event.reason.decode("latin-1")
        lines = [f"HTTP/{event.http_version.decode()} {event.status_code} {reason}"]
        lines += [f"{k.decode('latin-1')}: {v.decode('latin-1')}" for k, v in event.headers.raw_items()]
        self.head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        for name, value in event.headers:
            if name == b"content-length" and value.isdigit():
                self.expected = int(value)

    def _on_end(self) -> None:
        response = self._response
        assert response is not None
        status = response.status_code
        if self.params.redir == 1 and status in REDIRECTS and self._redirects < MAX_REDIRECTS:
            location = next((v for k, v in response.headers if k == b"location"), None)
            url = parse_url(urljoin(self._url.text(), location.decode("latin-1"))) if (
                location is not None and self._url is not None) else None
            if url is not None:
                self._redirects += 1
                if status == 303:
                    self._action_method = "GET" if self._action_method != "HEAD" else "HEAD"
                self._close_sock()
                self._open(url)
                return
        self.status = status
        body = bytes(self._body)
        self.readable = (self.head + body) if self.params.gethead else body
        self._finish(status, len(body))

    # ------------------------------------------------------------ ending

    def _finish(self, status: int, length: int = 0) -> None:
        if not self.running:
            return
        self.running = False
        self.sending = False
        self.status = status
        self._close_sock()
        self.m.cancel_timer("http")
        self.m.cancel_timer("http_open")
        self.m.urc(f"+HTTPACTION: {self.method},{status},{length}")

    def _close_sock(self) -> None:
        if self._sock:
            self.m.request(Close(self._sock))
            self.m.disown_sock(self._sock)
            self._sock = 0
        self._conn = None

    def _abort(self) -> None:
        self.running = False
        self.sending = False
        self._close_sock()
        self.m.cancel_timer("http")
        self.m.cancel_timer("http_open")

    # ------------------------------------------------------------ reading

    def read(self, start: int = 0, size: int | None = None) -> bytes:
        data = self.readable[start:]
        return data if size is None else data[:size]

