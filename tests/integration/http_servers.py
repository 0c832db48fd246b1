"""Local HTTP and HTTPS servers (loopback, threads) for the HTTP application
tests: GET /hello, GET /big?n=<bytes>, POST /echo (answers the body and its
content type), GET /redirect (302 to /hello), GET /reset (a Content-Length
longer than what comes, then a reset), HEAD, DELETE."""

from __future__ import annotations

import hashlib
import socket
import ssl
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

HELLO = b"Hello from the test server\n"


def big_body(n: int) -> bytes:
    """``n`` reproducible bytes (every value 0-255 occurs)."""
    out = bytearray()
    counter = 0
    while len(out) < n:
        out += hashlib.sha256(counter.to_bytes(8, "big")).digest()
        counter += 1
    return bytes(out[:n])


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _answer(self, status: int, body: bytes, ctype: str = "text/plain", **headers: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _record(self, body: bytes = b"") -> None:
        self.server.requests.append((self.command, self.path, dict(self.headers.items()), body))

    def do_GET(self) -> None:
        self._record()
        url = urlsplit(self.path)
        if url.path == "/hello":
            self._answer(200, HELLO)
        elif url.path == "/big":
            n = int(parse_qs(url.query).get("n", ["1000"])[0])
            self._answer(200, big_body(n), "application/octet-stream")
        elif url.path == "/redirect":
            self._answer(302, b"", Location="/hello")
        elif url.path == "/range":
            self._answer(206, self.headers.get("Range", "").encode())
        elif url.path == "/reset":
            self.send_response(200)
            self.send_header("Content-Length", "100000")
            self.end_headers()
            self.wfile.write(b"x" * 1000)
            self.wfile.flush()
            self.connection.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
            )
            self.close_connection = True
        else:
            self._answer(404, b"not found\n")

    def do_HEAD(self) -> None:
        self._record()
        self._answer(200, HELLO)

    def do_DELETE(self) -> None:
        self._record()
        self._answer(200, b"deleted\n")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        self._record(body)
        self._answer(200, body, self.headers.get("Content-Type", "application/octet-stream"))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    requests: list[tuple[str, str, dict[str, str], bytes]]


@contextmanager
def http_server(context: ssl.SSLContext | None = None) -> Iterator[_Server]:
    server = _Server(("127.0.0.1", 0), _Handler)
    server.requests = []
    if context is not None:
        server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def server_tls_context() -> ssl.SSLContext:
    """A self-signed (trustme) certificate for 127.0.0.1 and localhost."""
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    cert.configure_cert(context)
    return context
