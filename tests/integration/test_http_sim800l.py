"""sim800l-gsm-module's ``http()`` (PyPI, unchanged) through the real pty:
GET and POST against a local HTTP server and a local HTTPS server with a
self-signed certificate (the emulator, like the SIM800, does not check it).

The client is set up as its documentation says (``setup()``: ATE0 and the
general commands of issue 11); ``http()`` then brings the bearer up itself
(AT+SAPBR), runs AT+HTTPINIT, AT+HTTPPARA (chained), AT+HTTPSSL (with
AT+SSLOPT for HTTPS), AT+IFC=0,0, AT+HTTPDATA for POST, AT+HTTPACTION,
AT+HTTPREAD, AT+HTTPTERM and closes the bearer. Each POST costs ~10 s of the
library's own waiting (it reads lines after DOWNLOAD until its time-out).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from http_servers import HELLO, http_server, server_tls_context
from serial_helpers import Emulator

sim800l = pytest.importorskip("sim800l", reason="pip install --no-build-isolation sim800l-gsm-module")


@pytest.fixture
def modem() -> Iterator[object]:
    with Emulator() as emu:
        client = sim800l.SIM800L(port=str(emu.link), baudrate=115200, timeout=0.2)
        assert client.setup() is True
        try:
            yield client
        finally:
            client.ser.close()


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
def test_http_get_and_post(modem: object, tls: bool) -> None:
    logging.getLogger().setLevel(logging.DEBUG)
    with http_server(server_tls_context() if tls else None) as server:
        port = server.server_address[1]
        scheme = "https" if tls else "http"
        status, body = modem.http(  # type: ignore[attr-defined]
            url=f"{scheme}://127.0.0.1:{port}/hello", method="GET", apn="internet",
            use_ssl=tls, http_timeout=20,
        )
        assert (status, body) == (200, HELLO.decode())
        payload = b'{"temperature": 21.5, "id": "sim800emu"}'
        status, body = modem.http(  # type: ignore[attr-defined]
            url=f"{scheme}://127.0.0.1:{port}/echo", method="POST", apn="internet",
            data=payload, use_ssl=tls, http_timeout=20,
        )
        assert (status, body) == (200, payload.decode())
        method, path, headers, sent = server.requests[-1]
        assert (method, path, sent) == ("POST", "/echo", payload)
        assert headers["Content-Type"] == "application/json"
        assert headers["User-Agent"] == "SIMCom_MODULE"
