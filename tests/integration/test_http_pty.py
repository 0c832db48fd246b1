"""The HTTP client end to end through the real pty and real sockets, with
plain AT commands (no client library): HTTPS against a self-signed server,
a 300 KB body read whole and in ranges, a redirect, a server that resets in
the middle of the body, and a TLS handshake against a plain HTTP server."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator

import pytest
from http_servers import HELLO, big_body, http_server, server_tls_context
from serial_helpers import Emulator

OK = b"\r\nOK\r\n"
ACTION = re.compile(rb"\r\n\+HTTPACTION: (\d),(\d+),(\d+)\r\n")


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator() as e:
        e.init()
        e.command("AT+SAPBR=1,1")
        e.command("AT+HTTPINIT")
        e.command('AT+HTTPPARA="CID",1')
        yield e


def action(emu: Emulator, method: int = 0) -> tuple[int, int]:
    emu.command(f"AT+HTTPACTION={method}")
    got = emu.expect(ACTION, timeout=20)
    match = ACTION.search(got)
    assert match is not None and int(match.group(1)) == method
    return int(match.group(2)), int(match.group(3))


def read(emu: Emulator, form: str, n: int) -> bytes:
    emu.send(form)
    emu.expect_exact(f"\r\n+HTTPREAD: {n}\r\n".encode())
    data = emu.read_exact(n, timeout=30)
    emu.expect_exact(OK)
    return data


def test_https_get_big_body_ranges_and_redirect(emu: Emulator) -> None:
    size = 300 * 1024
    with http_server(server_tls_context()) as server:
        port = server.server_address[1]
        emu.command("AT+HTTPSSL=1")
        emu.command(f'AT+HTTPPARA="URL","https://127.0.0.1:{port}/big?n={size}"')
        assert action(emu) == (200, size)
        body = read(emu, "AT+HTTPREAD", size)
        assert hashlib.sha256(body).digest() == hashlib.sha256(big_body(size)).digest()
        assert read(emu, "AT+HTTPREAD=1000,1460", 1460) == big_body(size)[1000:2460]
        emu.command('AT+HTTPPARA="REDIR",1')
        emu.command(f'AT+HTTPPARA="URL","https://127.0.0.1:{port}/redirect"')
        assert action(emu) == (200, len(HELLO))
        assert read(emu, "AT+HTTPREAD", len(HELLO)) == HELLO
        assert [r[1] for r in server.requests[-2:]] == ["/redirect", "/hello"]


def test_reset_mid_body_and_tls_to_a_plain_server(emu: Emulator) -> None:
    with http_server() as server:
        port = server.server_address[1]
        emu.command(f'AT+HTTPPARA="URL","127.0.0.1:{port}/reset"')
        assert action(emu) == (601, 0)
        emu.command("AT+HTTPSSL=1")
        emu.command(f'AT+HTTPPARA="URL","127.0.0.1:{port}/hello"')
        assert action(emu) == (605, 0)
        emu.command("AT+HTTPSSL=0")
        assert action(emu, 2) == (200, 0)  # HEAD
        assert action(emu, 3) == (200, 8)  # DELETE
