"""A fleet of telemetry devices on Locust (docs/locust.md).

Every user is one SIM800 and its firmware: attach, bring the bearer up,
resolve the backend, connect, then every few seconds send a reading through
AT+CIPSEND and read the backend's acknowledgement.

    locust -f examples/locust/telemetry.py --headless -u 200 -r 50 -t 20s --processes 2 --csv out

Without --host every Locust process starts its own reference backend on
loopback (below: one line per reading, "ACK <seq>" back). With --host
tcp://HOST:PORT the devices talk to your backend instead (it must answer
each line with a line).
"""

from __future__ import annotations

import random
import re
import urllib.parse
from typing import Any, ClassVar

import gevent
from gevent.server import StreamServer
from locust import events, task

from sim800emu.locust import Sim800User

BACKEND_NAME = "telemetry.test"  # what the firmware resolves (AT+CDNSGIP)
_backend: StreamServer | None = None


def _handle(sock: object, _address: object) -> None:
    """The reference backend: ``T <imei> <seq> <value>`` -> ``ACK <seq>``."""
    f = sock.makefile("rb")  # type: ignore[attr-defined]
    for line in f:
        parts = line.split()
        if len(parts) == 4 and parts[0] == b"T":
            sock.sendall(b"ACK " + parts[2] + b"\n")  # type: ignore[attr-defined]
        else:
            sock.sendall(b"NAK\n")  # type: ignore[attr-defined]


def reference_backend() -> tuple[str, int]:
    """This process's backend on loopback (started on first use)."""
    global _backend
    if _backend is None:
        _backend = StreamServer(("127.0.0.1", 0), _handle)
        _backend.start()
    return "127.0.0.1", _backend.server_port


@events.init_command_line_parser.add_listener
def _options(parser: Any) -> None:
    parser.add_argument("--reading-interval", type=float, default=0.0, metavar="SECONDS",
                        help="seconds between a device's readings (default: 1-2 s at random)")


class Telemetry(Sim800User):
    """A device reporting a 64-byte reading every 1-2 s (--reading-interval)."""

    def wait_time(self) -> float:
        options = self.environment.parsed_options
        interval = float(getattr(options, "reading_interval", 0.0) or 0.0) if options else 0.0
        return interval or random.uniform(1.0, 2.0)
    weight = 9
    # every modem of the fleet resolves the backend's name (AT+CDNSGIP) to loopback
    modem_options: ClassVar[list[str]] = ["--host", f"{BACKEND_NAME}=127.0.0.1"]
    connected = False
    seq = 0

    def backend(self) -> tuple[str, int]:
        if not self.host:
            return reference_backend()
        parts = urllib.parse.urlsplit(self.host if "//" in self.host else f"tcp://{self.host}")
        return parts.hostname or "127.0.0.1", parts.port or 5000

    def on_start(self) -> None:
        m = self.modem
        m.at("ATE0")
        with m.phase("attach"):
            m.at("AT+CPIN?", expect="+CPIN: READY")
            m.at("AT+CGATT?", expect="+CGATT: 1")
        m.at("AT+CIPHEAD=1")
        with m.phase("bearer"):
            m.at("AT+CIPSHUT", expect="SHUT OK")
            m.at('AT+CSTT="internet"')
            m.at("AT+CIICR")
            m.at("AT+CIFSR", expect=re.compile(r"\d+\.\d+\.\d+\.\d+$"))
        # Devices of a real fleet boot at different moments; Locust starts a
        # worker's share of each second's users at one instant. Without a
        # phase of its own every device of such a batch would report at the
        # same instant for the rest of the run.
        gevent.sleep(random.uniform(0.0, self.wait_time()))

    def connect(self) -> None:
        m = self.modem
        host, port = self.backend()
        line = m.at(f'AT+CDNSGIP="{BACKEND_NAME}"', expect="+CDNSGIP:", phase="dns")[-1]
        if not line.startswith("+CDNSGIP: 1"):
            raise RuntimeError(f"no address for {BACKEND_NAME}: {line}")
        m.at(f'AT+CIPSTART="TCP","{host}",{port}', expect="CONNECT OK", phase="connect")
        self.connected = True

    @task
    def report(self) -> None:
        m = self.modem
        try:
            if not self.connected:
                self.connect()
            self.seq += 1
            reading = f"T {self.identity.imei} {self.seq} ".encode()
            reading += b"2" * (63 - len(reading)) + b"\n"  # 64 bytes
            m.send(reading)
            ack = m.receive(until=b"\n", phase="receive")
            if ack != f"ACK {self.seq}\n".encode():
                raise RuntimeError(f"unexpected answer {ack!r}")
        except Exception:
            self.connected = False
            m.at("AT+CIPCLOSE=1", expect=re.compile("CLOSE OK|ERROR"), timeout=5)
            raise


class BadNetworkTelemetry(Telemetry):
    """One device in ten on the edge of coverage, with a real module's delays."""

    weight = 1
    modem_options: ClassVar[list[str]] = [
        *Telemetry.modem_options, "--timing", "realistic", "--network", "bad", "--time-scale", "0.2"
    ]

