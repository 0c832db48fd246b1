"""Downloads of any size through every receive path (issue 9), end to end
through the real pty: 1 MiB from a local server, SHA-256 checked.

The manual-read clients behave like TinyGSM and Adafruit_FONA: they ask
``AT+CIPRXGET=4`` how much waits, keep that count in **16 bits**, and read
at most 1460 bytes per ``AT+CIPRXGET=2``. With a receive buffer of the
module's size no count ever reaches 65,536, so such a client never stalls.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from serial_helpers import HOST, Conn, Emulator, MuxStream, TcpServer, UdpServer, free_port

from sim800emu.core.config import RX_BUFFER

SIZE = 1 << 20
PAYLOAD = os.urandom(SIZE)
DIGEST = hashlib.sha256(PAYLOAD).hexdigest()
TIMEOUT = 60.0

RXGET4 = re.compile(rb"\+CIPRXGET: 4,(?:\d,)?(\d+)\r\n\r\nOK\r\n")
RXGET2 = re.compile(rb"\+CIPRXGET: 2,(?:\d,)?(\d+),(\d+)\r\n")
IPD = re.compile(rb"\r\n\+IPD,(\d+):")


def _serve_payload(conn: Conn) -> None:
    conn.send_all(PAYLOAD)


@pytest.fixture
def server() -> Iterator[TcpServer]:
    with TcpServer(_serve_payload, hash_only=True) as srv:
        yield srv


def _open(emu: Emulator, port: int, link: int | None = None, *, ssl_on: bool = False) -> None:
    if ssl_on:
        emu.command("AT+CIPSSL=1")
    if link is None:
        emu.send(f'AT+CIPSTART="TCP","{HOST}",{port}')
        emu.expect(b"\r\nOK\r\n")
        emu.expect(b"\r\nCONNECT OK\r\n", timeout=TIMEOUT)
    else:
        emu.send(f'AT+CIPSTART={link},"TCP","{HOST}",{port}')
        emu.expect(b"\r\nOK\r\n")
        emu.expect(f"\r\n{link}, CONNECT OK\r\n".encode(), timeout=TIMEOUT)


def manual_read(emu: Emulator, link: int | None) -> tuple[str, int]:
    """Read ``SIZE`` bytes the way the Arduino libraries do; return the
    SHA-256 and the largest count the module reported."""
    sel = "" if link is None else f",{link}"
    sha = hashlib.sha256()
    total = largest = 0
    while total < SIZE:
        emu.send(f"AT+CIPRXGET=4{sel}")
        got = emu.expect(RXGET4, timeout=TIMEOUT)
        m = RXGET4.search(got)
        assert m is not None
        count = int(m.group(1))
        largest = max(largest, count)
        count16 = count & 0xFFFF  # what a uint16_t keeps
        if count16 == 0:
            assert count == 0, f"a count of {count} reads as 0 in 16 bits"
            emu.expect(b"+CIPRXGET: 1", timeout=TIMEOUT)  # data lands in the empty buffer
            continue
        while count16 > 0:
            want = min(count16, 1460)
            emu.send(f"AT+CIPRXGET=2{sel},{want}")
            head = emu.expect(RXGET2, timeout=TIMEOUT)
            h = RXGET2.search(head)
            assert h is not None
            n = int(h.group(1))
            assert n == want  # it was there: the module gives all that was asked
            sha.update(emu.read_exact(n, timeout=TIMEOUT))
            emu.expect_exact(b"\r\nOK\r\n", timeout=TIMEOUT)
            total += n
            count16 -= n
    return sha.hexdigest(), largest


def test_ciprxget_single_link_1mib(server: TcpServer) -> None:
    with Emulator("--dns-offline") as emu:
        emu.init()
        emu.command("AT+CIPRXGET=1")
        _open(emu, server.port)
        digest, largest = manual_read(emu, None)
        assert digest == DIGEST
        assert 0 < largest <= RX_BUFFER


def test_ciprxget_multi_link_1mib(server: TcpServer) -> None:
    with Emulator("--dns-offline") as emu:
        emu.init()
        emu.command("AT+CIPMUX=1")
        emu.command("AT+CIPRXGET=1")
        _open(emu, server.port, 3)
        digest, largest = manual_read(emu, 3)
        assert digest == DIGEST
        assert 0 < largest <= RX_BUFFER


def test_rx_buffer_option_sets_the_largest_count(server: TcpServer) -> None:
    with Emulator("--dns-offline", "--rx-buffer", "8000") as emu:
        emu.init()
        emu.command("AT+CIPRXGET=1")
        _open(emu, server.port)
        digest, largest = manual_read(emu, None)
        assert digest == DIGEST
        assert RX_BUFFER < largest <= 8000


def test_push_single_link_ipd_1mib(server: TcpServer) -> None:
    with Emulator("--dns-offline") as emu:
        emu.init()
        emu.command("AT+CIPHEAD=1")
        _open(emu, server.port)
        sha = hashlib.sha256()
        total = 0
        while total < SIZE:
            head = emu.expect(IPD, timeout=TIMEOUT)
            m = IPD.search(head)
            assert m is not None
            n = int(m.group(1))
            assert 0 < n <= 1460
            sha.update(emu.read_exact(n, timeout=TIMEOUT))
            total += n
        assert sha.hexdigest() == DIGEST


def test_push_multi_link_receive_1mib(server: TcpServer) -> None:
    with Emulator("--dns-offline") as emu:
        emu.init()
        emu.command("AT+CIPMUX=1")
        mux = MuxStream(emu)
        emu.send(f'AT+CIPSTART=2,"TCP","{HOST}",{server.port}')
        mux.wait_line(b"OK")
        mux.wait_line(b"2, CONNECT OK", timeout=TIMEOUT)
        data = mux.wait_received(2, SIZE, timeout=TIMEOUT)
        assert hashlib.sha256(data).hexdigest() == DIGEST
        assert max(length for _, _, length in mux.blocks) <= 1460


def test_transparent_1mib(server: TcpServer) -> None:
    with Emulator("--dns-offline") as emu:
        emu.init()
        emu.command("AT+CIPMODE=1")
        emu.send(f'AT+CIPSTART="TCP","{HOST}",{server.port}')
        emu.expect(b"\r\nOK\r\n")
        emu.expect(b"\r\nCONNECT\r\n", timeout=TIMEOUT)
        sha = hashlib.sha256()
        emu.read_stream(SIZE, sha.update, timeout=TIMEOUT)
        assert sha.hexdigest() == DIGEST


def test_server_link_1mib() -> None:
    port = free_port()
    with Emulator("--dns-offline") as emu:
        emu.init()
        emu.command("AT+CIPMUX=1")
        emu.command("AT+CIPRXGET=1")
        emu.bring_up()
        emu.send(f"AT+CIPSERVER=1,{port}")
        emu.expect(b"\r\nSERVER OK\r\n", timeout=TIMEOUT)
        client = socket.create_connection((HOST, port), timeout=TIMEOUT)
        sender = threading.Thread(target=client.sendall, args=(PAYLOAD,), daemon=True)
        sender.start()
        emu.expect(re.compile(rb"0, REMOTE IP: 127\.0\.0\.1\r\n"), timeout=TIMEOUT)
        digest, largest = manual_read(emu, 0)
        sender.join(TIMEOUT)
        client.close()
        assert digest == DIGEST
        assert largest <= RX_BUFFER


class _TlsPayloadServer:
    """A TLS server on loopback that sends PAYLOAD to each client."""

    def __init__(self, cert: Path, key: Path) -> None:
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(cert, key)
        self.listener = socket.create_server((HOST, 0))
        self.port: int = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            raw, _ = self.listener.accept()
            with self.context.wrap_socket(raw, server_side=True) as conn:
                conn.sendall(PAYLOAD)
                conn.recv(1)  # until the modem closes
        except (OSError, ssl.SSLError):
            pass

    def close(self) -> None:
        self.listener.close()


def test_tls_link_1mib(tmp_path: Path) -> None:
    if shutil.which("openssl") is None:
        pytest.skip("no openssl CLI to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=tls.test"],
        check=True, capture_output=True,
    )
    srv = _TlsPayloadServer(cert, key)
    try:
        with Emulator("--dns-offline") as emu:
            emu.init()
            emu.command("AT+CIPRXGET=1")
            _open(emu, srv.port, ssl_on=True)
            digest, largest = manual_read(emu, None)
            assert digest == DIGEST
            assert largest <= RX_BUFFER
    finally:
        srv.close()


def test_udp_datagram_that_does_not_fit_is_dropped_whole() -> None:
    # --rx-buffer 1460: a 1000-byte datagram waits unread; the next one
    # (1000 > 460 free) is dropped whole; a 3-byte one still fits.
    with UdpServer() as udp, Emulator("--dns-offline", "--rx-buffer", "1460") as emu:
        emu.init()
        emu.command("AT+CIPRXGET=1")
        emu.send(f'AT+CIPSTART="UDP","{HOST}",{udp.port}')
        emu.expect(b"\r\nOK\r\n")
        emu.expect(b"\r\nCONNECT OK\r\n", timeout=TIMEOUT)
        emu.send("AT+CIPSEND=2")
        emu.expect(b"> ")
        emu.write_all(b"hi")
        emu.expect(b"SEND OK\r\n")
        udp.wait_bytes(2)
        first, second = b"1" * 1000, b"2" * 1000
        for datagram in (first, second, b"END"):
            udp.sendto_peer(datagram)
        deadline = time.monotonic() + TIMEOUT
        while True:
            emu.send("AT+CIPRXGET=4")
            got = emu.expect(RXGET4, timeout=TIMEOUT)
            m = RXGET4.search(got)
            assert m is not None
            if int(m.group(1)) == 1003:
                break
            assert int(m.group(1)) < 1003 and time.monotonic() < deadline, got
        emu.send("AT+CIPRXGET=2,1460")
        emu.expect(b"+CIPRXGET: 2,1003,0\r\n")
        assert emu.read_exact(1003) == first + b"END"
        emu.expect_exact(b"\r\nOK\r\n")


def test_bandwidth_releases_data_in_small_steps() -> None:
    # --bandwidth 20000: a 20,000-byte burst trickles in over about a second
    # in blocks of about 50 ms worth (1000 bytes), not as one lump.
    burst = os.urandom(20_000)

    def send_burst(conn: Conn) -> None:
        conn.send_all(burst)

    with TcpServer(send_burst) as srv, Emulator("--dns-offline", "--bandwidth", "20000") as emu:
        emu.init()
        emu.command("AT+CIPHEAD=1")
        _open(emu, srv.port)
        arrivals: list[tuple[float, int]] = []
        data = bytearray()
        while len(data) < len(burst):
            head = emu.expect(IPD, timeout=TIMEOUT)
            m = IPD.search(head)
            assert m is not None
            n = int(m.group(1))
            data += emu.read_exact(n, timeout=TIMEOUT)
            arrivals.append((time.monotonic(), n))
        assert bytes(data) == burst
        assert max(n for _, n in arrivals) <= 1000
        spread = arrivals[-1][0] - arrivals[0][0]
        assert spread > 0.6, f"arrived within {spread:.2f} s"
