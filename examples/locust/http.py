"""A fleet posting readings over the module's HTTP client (AT+HTTP*), and
now and then an SMS alert (docs/locust.md).

    locust -f examples/locust/http.py --headless -u 50 -r 25 -t 20s --csv out

Without --host every Locust process starts its own reference backend on
loopback (below: POST /readings answers {"ok": true, "n": <bytes>}). With
--host http://HOST:PORT the devices post to your server instead (give the
modems the name's address with modem_options, e.g. "--host", "api.test=...",
or "--host-resolver").
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Callable, Iterable
from typing import Any, ClassVar

from gevent.pywsgi import WSGIServer
from locust import between, task

from sim800emu.locust import Sim800User

BACKEND_NAME = "api.test"
_backend: WSGIServer | None = None


def _app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """The reference backend: POST /readings -> {"ok": true, "n": <bytes>}."""
    size = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(size)
    if environ["REQUEST_METHOD"] != "POST" or environ["PATH_INFO"] != "/readings":
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found"]
    answer = json.dumps({"ok": True, "n": len(body)}).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [answer]


def reference_backend() -> str:
    """This process's backend on loopback (started on first use): its URL."""
    global _backend
    if _backend is None:
        _backend = WSGIServer(("127.0.0.1", 0), _app, log=None)
        _backend.start()
    return f"http://{BACKEND_NAME}:{_backend.server_port}"


class HttpDevice(Sim800User):
    """Posts a JSON reading every 1-2 s; one time in eleven it
    texts an alert instead; it texts "online" once at start."""

    wait_time = between(1, 2)
    modem_options: ClassVar[list[str]] = ["--host", f"{BACKEND_NAME}=127.0.0.1"]

    def base_url(self) -> str:
        return self.host.rstrip("/") if self.host else reference_backend()

    def on_start(self) -> None:
        m = self.modem
        m.at("ATE0")
        with m.phase("attach"):
            m.at("AT+CPIN?", expect="+CPIN: READY")
            m.at("AT+CGATT?", expect="+CGATT: 1")
        with m.phase("bearer"):
            m.at('AT+SAPBR=3,1,"Contype","GPRS"')
            m.at('AT+SAPBR=3,1,"APN","internet"')
            m.at("AT+SAPBR=1,1")
            m.at("AT+SAPBR=2,1", expect="+SAPBR: 1,1,")
        m.at("AT+CMGF=1")
        self.alert(b"online")

    def alert(self, text: bytes) -> None:
        self.modem.at_data('AT+CMGS="+8613912345678"', text + b"\x1a",
                           expect="+CMGS:", timeout=60, phase="sms")

    @task(10)
    def post_reading(self) -> None:
        m = self.modem
        body = json.dumps({"imei": self.identity.imei, "t": 21.5, "rh": 40}).encode()
        url = urllib.parse.urljoin(self.base_url() + "/", "readings")
        m.at("AT+HTTPINIT")
        try:
            m.at('AT+HTTPPARA="CID",1')
            m.at(f'AT+HTTPPARA="URL","{url}"')
            m.at('AT+HTTPPARA="CONTENT","application/json"')
            m.at_data(f"AT+HTTPDATA={len(body)},10000", body, prompt="DOWNLOAD")
            with m.phase("http"):
                line = m.at("AT+HTTPACTION=1", expect="+HTTPACTION:", timeout=60)[-1]
                status = int(line.split(",")[1])
                if status != 200:
                    raise RuntimeError(f"HTTP status {status}")
            answer = m.at_read("AT+HTTPREAD", re.compile(r"\+HTTPREAD: (\d+)"),
                               phase="receive")
            if json.loads(answer) != {"ok": True, "n": len(body)}:
                raise RuntimeError(f"unexpected answer {answer!r}")
        finally:
            m.at("AT+HTTPTERM")

    @task(1)
    def door_open(self) -> None:
        self.alert(b"door open")
