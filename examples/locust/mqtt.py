"""A fleet publishing MQTT over the module's TCP link (AT+CIPSTART/CIPSEND),
the way small firmware does it: MQTT 3.1.1 packets built by hand, QoS 1
(docs/locust.md).

    locust -f examples/locust/mqtt.py --headless -u 100 -r 50 -t 20s --csv out

Without --host every Locust process starts its own reference broker on
loopback (below: just enough MQTT for CONNECT, QoS 1 PUBLISH, PINGREQ and
DISCONNECT). With --host mqtt://HOST:PORT the devices use your broker.

When ``trustme`` is installed (it is in sim800emu's ``dev`` extra) one device
in four speaks MQTT over TLS instead (AT+CIPSSL=1: the handshake is part of
CIPSTART, reported as the ``tls`` phase) to a TLS broker on loopback with a
certificate trustme makes; the modem does not check it (no --tls-verify).
"""

from __future__ import annotations

import re
import struct
import urllib.parse
from typing import Any, ClassVar

from gevent.server import StreamServer
from locust import between, task

from sim800emu.locust import Sim800User

try:
    import trustme
except ImportError:  # TLS devices only with trustme
    trustme = None

_broker: StreamServer | None = None
_tls_broker: StreamServer | None = None


def _remaining_length(n: int) -> bytes:
    out = bytearray()
    while True:
        n, digit = divmod(n, 128)
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


def packet(kind: int, body: bytes) -> bytes:
    return bytes([kind]) + _remaining_length(len(body)) + body


def _string(text: str) -> bytes:
    raw = text.encode()
    return struct.pack("!H", len(raw)) + raw


def connect_packet(client_id: str, keepalive: int = 60) -> bytes:
    # protocol name, level 4 (3.1.1), flags: clean session
    return packet(0x10, _string("MQTT") + bytes([4, 0x02]) + struct.pack("!H", keepalive)
                  + _string(client_id))


def publish_packet(topic: str, payload: bytes, packet_id: int) -> bytes:
    return packet(0x32, _string(topic) + struct.pack("!H", packet_id) + payload)  # QoS 1


def _read_packet(f: Any) -> tuple[int, bytes] | None:
    head = f.read(1)
    if not head:
        return None
    n, shift = 0, 0
    while True:
        byte = f.read(1)
        if not byte:
            return None
        n |= (byte[0] & 0x7F) << shift
        shift += 7
        if not byte[0] & 0x80:
            break
    return head[0], f.read(n)


def _handle(sock: Any, _address: object) -> None:
    """The reference broker: CONNACK, PUBACK, PINGRESP; nothing is routed."""
    f = sock.makefile("rb")
    while (got := _read_packet(f)) is not None:
        kind, body = got
        if kind >> 4 == 1:  # CONNECT
            sock.sendall(b"\x20\x02\x00\x00")
        elif kind >> 4 == 3 and kind & 0x06:  # PUBLISH, QoS 1
            (topic_len,) = struct.unpack("!H", body[:2])
            sock.sendall(b"\x40\x02" + body[2 + topic_len:4 + topic_len])
        elif kind >> 4 == 12:  # PINGREQ
            sock.sendall(b"\xd0\x00")
        elif kind >> 4 == 14:  # DISCONNECT
            return


def reference_broker() -> tuple[str, int]:
    global _broker
    if _broker is None:
        _broker = StreamServer(("127.0.0.1", 0), _handle)
        _broker.start()
    return "127.0.0.1", _broker.server_port


def reference_tls_broker() -> tuple[str, int]:
    global _tls_broker
    if _tls_broker is None:
        import ssl

        ca = trustme.CA()
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1").configure_cert(context)
        _tls_broker = StreamServer(("127.0.0.1", 0), _handle, ssl_context=context)
        _tls_broker.start()
    return "127.0.0.1", _tls_broker.server_port


class MqttDevice(Sim800User):
    """Connects once, then publishes a QoS 1 reading every 1-2 s."""

    wait_time = between(1, 2)
    weight = 3
    tls = False
    modem_options: ClassVar[list[str]] = []
    connected = False
    packet_id = 0

    def broker(self) -> tuple[str, int]:
        if not self.host:
            return reference_broker()
        parts = urllib.parse.urlsplit(self.host if "//" in self.host else f"mqtt://{self.host}")
        return parts.hostname or "127.0.0.1", parts.port or 1883

    def on_start(self) -> None:
        m = self.modem
        m.at("ATE0")
        with m.phase("attach"):
            m.at("AT+CGATT?", expect="+CGATT: 1")
        m.at("AT+CIPHEAD=1")
        with m.phase("bearer"):
            m.at("AT+CIPSHUT", expect="SHUT OK")
            m.at('AT+CSTT="internet"')
            m.at("AT+CIICR")
            m.at("AT+CIFSR", expect=re.compile(r"\d+\.\d+\.\d+\.\d+$"))

    def mqtt_connect(self) -> None:
        m = self.modem
        host, port = self.broker()
        m.at(f"AT+CIPSSL={int(self.tls)}")
        m.at(f'AT+CIPSTART="TCP","{host}",{port}', expect="CONNECT OK",
             phase="tls" if self.tls else "connect")
        with m.phase("mqtt connect"):
            m.send(connect_packet(f"sim800-{self.identity.imei}"), phase=None)
            if m.receive(size=4, phase=None) != b"\x20\x02\x00\x00":
                raise RuntimeError("the broker refused the connection")
        self.connected = True

    @task
    def publish(self) -> None:
        m = self.modem
        try:
            if not self.connected:
                self.mqtt_connect()
            self.packet_id = self.packet_id % 65535 + 1
            payload = b'{"t":21.5,"rh":40}'
            topic = f"devices/{self.identity.imei}/telemetry"
            with m.phase("publish"):
                m.send(publish_packet(topic, payload, self.packet_id), phase=None)
                ack = m.receive(size=4, phase=None)
                if ack != b"\x40\x02" + struct.pack("!H", self.packet_id):
                    raise RuntimeError(f"unexpected answer {ack!r}")
        except Exception:
            self.connected = False
            m.at("AT+CIPCLOSE=1", expect=re.compile("CLOSE OK|ERROR"), timeout=5)
            raise


if trustme is not None:

    class MqttTlsDevice(MqttDevice):
        """The same over TLS (port 8883 on a real broker)."""

        weight = 1
        tls = True

        def broker(self) -> tuple[str, int]:
            if not self.host:
                return reference_tls_broker()
            parts = urllib.parse.urlsplit(self.host if "//" in self.host
                                          else f"mqtts://{self.host}")
            return parts.hostname or "127.0.0.1", parts.port or 8883
