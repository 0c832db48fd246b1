"""TinyGSM's SIM800 driver, replayed byte for byte through the real pty.

Reference section 8.1 lists what TinyGSM v0.12.0 (``TinyGsmClientSIM800.h``,
``TINY_GSM_MUX_COUNT 5``) sends -- restart(), init(), the example's network
checks, gprsConnect(), isGprsConnected(), client.connect() / write() /
available() / read() / connected() / stop(), gprsDisconnect() and the other
helpers -- and what each step waits for. These tests send exactly those
lines (``AT...\\r\\n``, as TinyGSM does) to a real ``sim800emu serve`` and
check the exact bytes of every answer, each within TinyGSM's own timeout
for that step (1 s unless the driver waits longer), so a late answer fails
as it would fail the library.

The TLS tests check ``AT+CIPSSL=1``: the next ``CIPSTART`` is a real TLS
connection to a local TLS echo server (self-signed certificate made with the
``openssl`` CLI), unchecked by default as on the module, refused with
``--tls-verify`` and no CA, accepted with ``--tls-verify --tls-ca <cert>``.
"""

from __future__ import annotations

import contextlib
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
from ntpserver import SntpServer
from serial_helpers import Conn, Emulator, TcpServer, echo

IP = b"10.78.245.128"  # the emulator's default --local-ip
MUX = 1  # TinyGsmClient(modem, 1): not link 0, so link numbers are really checked
FIFO = 64  # TinyGSM's TINY_GSM_RX_BUFFER: CIPRXGET=2 asks for at most this many bytes
OK = b"\r\nOK\r\n"


class TinyGsm:
    """Sends what TinyGSM sends and checks exactly what comes back."""

    def __init__(self, emu: Emulator) -> None:
        self.emu = emu

    def at(self, cmd: str | bytes, answer: bytes = OK, timeout: float = 1.0) -> None:
        """``sendAT(cmd)`` then the whole answer, byte for byte, within ``timeout``."""
        self.send(cmd)
        self.emu.expect_exact(answer, timeout)

    def at_re(self, cmd: str | bytes, answer: bytes, timeout: float = 1.0) -> re.Match[bytes]:
        """Like :meth:`at`, with an answer given as a regex that must match it all."""
        self.send(cmd)
        got = self.emu.expect(re.compile(answer), timeout)
        m = re.fullmatch(answer, got, re.DOTALL)
        assert m, f"{cmd!r}: expected {answer!r}, got {got!r}"
        return m

    def send(self, cmd: str | bytes) -> None:
        data = cmd.encode() if isinstance(cmd, str) else cmd
        self.emu.write_all(data + b"\r\n")

    # ------------------------------------------------------ TinyGSM entry points

    def restart(self) -> None:
        # AT loop (200 ms each), AT&W, CFUN=0 (10 s, req), CFUN=1,1 (10 s, req), 3 s delay.
        self.at("AT", b"AT\r\r\nOK\r\n", 0.2)
        self.at("AT&W", b"AT&W\r\r\nOK\r\n")
        self.at("AT+CFUN=0", b"AT+CFUN=0\r\r\nOK\r\n\r\n+CPIN: NOT READY\r\n", 10)
        self.at("AT+CFUN=1,1", b"AT+CFUN=1,1\r\r\nOK\r\n", 10)
        # The reboot: boot URCs (no RDY: autobauding), all within TinyGSM's 3 s delay.
        self.emu.expect_exact(
            b"\r\n+CFUN: 1\r\n\r\n+CPIN: READY\r\n\r\nCall Ready\r\n\r\nSMS Ready\r\n", 3.0
        )

    def init(self) -> None:
        self.at("AT", b"AT\r\r\nOK\r\n", 0.2)
        self.at("ATE0", b"ATE0\r\r\nOK\r\n")  # the ATE0 line itself is still echoed
        self.at("AT+CMEE=0")  # a release build (CMEE=2 only with TINY_GSM_DEBUG)
        self.at("AT+CGMI", b"\r\nSIMCOM_Ltd\r\n" + OK)
        self.at("AT+CGMM", b"\r\nSIMCOM_SIM800L\r\n" + OK)
        self.at("AT+CLTS=1", OK, 10)
        self.at("AT+CBATCHK=1")
        self.at("AT+CPIN?", b"\r\n+CPIN: READY\r\n" + OK)  # wait "+CPIN:", "READY", OK

    def example_checks(self) -> None:
        self.at("ATI", b"\r\nSIM800 R14.18\r\n" + OK)
        self.at("AT+CREG?", b"\r\n+CREG: 0,1\r\n" + OK)  # 1 = home network: up
        self.at("AT+CSQ", b"\r\n+CSQ: 24,0\r\n" + OK)

    def gprs_connect(self, apn: str = "internet", user: str = "u", pwd: str = "p") -> None:
        self.at("AT+CIPSHUT", b"\r\nSHUT OK\r\n", 60)  # TinyGSM's OK wait ends on SHUT OK
        self.at("AT+CGATT=0", OK, 60)
        self.at('AT+SAPBR=3,1,"Contype","GPRS"')
        self.at(f'AT+SAPBR=3,1,"APN","{apn}"')
        self.at(f'AT+SAPBR=3,1,"USER","{user}"')
        self.at(f'AT+SAPBR=3,1,"PWD","{pwd}"')
        self.at(f'AT+CGDCONT=1,"IP","{apn}"')
        self.at("AT+CGACT=1,1", OK, 60)
        self.at("AT+SAPBR=1,1", OK, 85)
        self.at("AT+SAPBR=2,1", b'\r\n+SAPBR: 1,1,"' + IP + b'"\r\n' + OK, 30)
        self.at("AT+CGATT=1", OK, 60)
        self.at("AT+CIPMUX=1")
        self.at("AT+CIPQSEND=1")
        self.at("AT+CIPRXGET=1")
        self.at(f'AT+CSTT="{apn}","{user}","{pwd}"', OK, 60)
        self.at("AT+CIICR", OK, 60)
        self.at("AT+CIFSR;E0", b"\r\n" + IP + b"\r\n" + OK, 10)
        self.at('AT+CDNSCFG="8.8.8.8","8.8.4.4"')

    def is_gprs_connected(self) -> None:
        self.at("AT+CGATT?", b"\r\n+CGATT: 1\r\n" + OK)
        self.at("AT+CIFSR;E0", b"\r\n" + IP + b"\r\n" + OK, 10)

    def connect(self, mux: int, host: str, port: int, *, ssl_on: bool = False) -> bytes:
        """stop() + CIPSSL + CIPSTART; returns the asynchronous result line."""
        self.stop_unused(mux)
        self.at(f"AT+CIPSSL={int(ssl_on)}")
        self.send(f'AT+CIPSTART={mux},"TCP","{host}",{port}')
        self.emu.expect_exact(OK, 1.0)
        # TinyGSM waits (75 s) for CONNECT OK / CONNECT FAIL / ALREADY CONNECT / ERROR / CLOSE OK.
        got = self.emu.expect(
            re.compile(
                rb"\r\n[^\r\n]*(CONNECT OK|CONNECT FAIL|ALREADY CONNECT|ERROR|CLOSE OK)\r\n"
            ),
            75,
        )
        return got

    def stop_unused(self, mux: int) -> None:
        # Nothing cached to drain; CIPCLOSE=m,1 on a link that is not open: ERROR (CMEE=0).
        self.at(f"AT+CIPCLOSE={mux},1", b"\r\nERROR\r\n")

    def write(self, mux: int, data: bytes) -> None:
        self.send(f"AT+CIPSEND={mux},{len(data)}")
        self.emu.expect_exact(b"\r\n> ", 1.0)  # TinyGSM waits 1 s for ">"
        self.emu.write_all(data)  # fixed length: no Ctrl-Z
        self.emu.expect_exact(b"\r\nDATA ACCEPT:%d,%d\r\n" % (mux, len(data)), 1.0)

    def available(self, mux: int) -> int:
        m = self.at_re(f"AT+CIPRXGET=4,{mux}", rb"\r\n\+CIPRXGET: 4,%d,(\d+)\r\n\r\nOK\r\n" % mux)
        return int(m.group(1))

    def read(self, mux: int, n: int, left: int) -> bytes:
        """``AT+CIPRXGET=2,m,n`` must return n bytes and say ``left`` remain."""
        self.send(f"AT+CIPRXGET=2,{mux},{n}")
        # "+CIPRXGET: 2,<m>,<read>,<left>" CR LF, the bytes, CR LF "OK" CR LF
        self.emu.expect_exact(b"\r\n+CIPRXGET: 2,%d,%d,%d\r\n" % (mux, n, left), 1.0)
        data = self.emu.read_exact(n, 1.0)
        self.emu.expect_exact(OK, 1.0)
        return data

    def read_all(self, mux: int, total: int) -> bytes:
        out = b""
        while len(out) < total:
            n = min(FIFO, total - len(out))
            out += self.read(mux, n, total - len(out) - n)
        return out

    def status(self, mux: int, host: str, port: int, state: str) -> None:
        self.at(
            f"AT+CIPSTATUS={mux}",
            f'\r\n+CIPSTATUS: {mux},0,"TCP","{host}","{port}","{state}"\r\n'.encode() + OK,
        )

    def wait_data_urc(self, mux: int, expected: int, timeout: float = 5.0) -> None:
        """The ``+CIPRXGET: 1,m`` URC, then poll CIPRXGET=4 (as maintain() does) until
        all ``expected`` bytes are buffered."""
        self.emu.expect_exact(b"\r\n+CIPRXGET: 1,%d\r\n" % mux, timeout)
        deadline = time.monotonic() + timeout
        while (count := self.available(mux)) < expected:
            assert time.monotonic() < deadline, f"only {count} of {expected} bytes buffered"
        assert count == expected

    def gprs_disconnect(self) -> None:
        self.at("AT+CIPSHUT", b"\r\nSHUT OK\r\n", 60)
        # detaching closes the SAPBR bearer gprs_connect opened: its URC follows
        # the OK (reference 6, +SAPBR 1: DEACT; TinyGSM logs it as unhandled)
        self.at("AT+CGATT=0", OK + b"\r\n+SAPBR 1: DEACT\r\n", 60)


# ---------------------------------------------------------------- local peers


@pytest.fixture
def echo_server() -> Iterator[TcpServer]:
    with TcpServer(on_accept=echo, read=False) as server:
        yield server


@pytest.fixture
def modem() -> Iterator[Emulator]:
    # --dns-offline --host echo.test=127.0.0.1; TinyGSM's NTP server is routed
    # to a local SNTP server (AT+CNTP really queries it).
    with SntpServer() as sntp, Emulator("--route", f"pool.ntp.org:123=127.0.0.1:{sntp.port}") as emu:
        yield emu


PAYLOAD = bytes(range(256)) * 3 + b"\r\nAT\r\n\x1a\x1b+++" + bytes(range(255, -1, -1))


# ---------------------------------------------------------------- the sequence


def test_tinygsm_webclient_sequence(modem: Emulator, echo_server: TcpServer) -> None:
    tg = TinyGsm(modem)
    tg.restart()
    tg.init()
    tg.example_checks()
    tg.gprs_connect()
    tg.is_gprs_connected()

    port = echo_server.port
    got = tg.connect(MUX, "echo.test", port)
    assert got == b"\r\n%d, CONNECT OK\r\n" % MUX
    echo_server.accept(0)
    tg.status(MUX, "127.0.0.1", port, "CONNECTED")
    assert tg.available(MUX) == 0

    # write() a short text; the echo comes back; read() it in FIFO-sized reads.
    tg.write(MUX, b"GET / HTTP/1.0\r\n\r\n")
    tg.wait_data_urc(MUX, 18)
    assert tg.read_all(MUX, 18) == b"GET / HTTP/1.0\r\n\r\n"
    assert tg.available(MUX) == 0

    # Binary data with CR LF, Ctrl-Z, ESC and "+++" inside a fixed-length send.
    tg.write(MUX, PAYLOAD)
    tg.wait_data_urc(MUX, len(PAYLOAD))
    assert tg.read_all(MUX, len(PAYLOAD)) == PAYLOAD

    # The HEX build reads with mode 3: two upper-case hex digits per byte.
    tg.write(MUX, b"\x00\xabHi")
    tg.wait_data_urc(MUX, 4)
    tg.at(f"AT+CIPRXGET=3,{MUX},4", b"\r\n+CIPRXGET: 3,%d,4,0\r\n00AB4869" % MUX + OK)
    # Nothing buffered: zero bytes follow the header; connected() then asks CIPSTATUS.
    tg.at(f"AT+CIPRXGET=2,{MUX},{FIFO}", b"\r\n+CIPRXGET: 2,%d,0,0\r\n" % MUX + OK)
    assert tg.available(MUX) == 0
    tg.status(MUX, "127.0.0.1", port, "CONNECTED")
    # A link never used is INITIAL.
    tg.at("AT+CIPSTATUS=4", b'\r\n+CIPSTATUS: 4,,"","","","INITIAL"\r\n' + OK)

    # stop(): CIPCLOSE=m,1 on the open link, then the link reads CLOSED.
    tg.at(f"AT+CIPCLOSE={MUX},1", b"\r\n%d, CLOSE OK\r\n" % MUX)
    echo_server.accept(0).wait_eof(5)
    tg.status(MUX, "127.0.0.1", port, "CLOSED")
    tg.at(f"AT+CIPRXGET=2,{MUX},{FIFO}", b"\r\nERROR\r\n")  # closed locally

    tg.gprs_disconnect()
    tg.at("AT", OK)
    modem.expect_silence(0.2)


def test_tinygsm_reads_after_remote_close(modem: Emulator) -> None:
    """A server that answers and closes: the URCs, then the data is still readable."""
    page = b"HTTP/1.0 200 OK\r\n\r\n" + bytes(range(256)) * 2

    def answer_and_close(conn: Conn) -> None:
        conn.sock.recv(1024)
        conn.sock.sendall(page)
        conn.sock.shutdown(socket.SHUT_RDWR)
        conn.sock.close()

    with TcpServer(on_accept=answer_and_close, read=False) as server:
        tg = TinyGsm(modem)
        tg.init()
        tg.gprs_connect()
        for mux in (0, 4):  # TinyGSM's links are 0-4
            assert tg.connect(mux, "echo.test", server.port) == b"\r\n%d, CONNECT OK\r\n" % mux
            tg.write(mux, b"GET / HTTP/1.0\r\n\r\n")
            # The data URC, then the remote close (TinyGSM: line ending "CLOSED" -> not connected).
            modem.expect_exact(b"\r\n+CIPRXGET: 1,%d\r\n\r\n%d, CLOSED\r\n" % (mux, mux), 5)
            tg.status(mux, "127.0.0.1", server.port, "CLOSED")
            assert tg.available(mux) == len(page)  # still there after the close
            assert tg.read_all(mux, len(page)) == page
            assert tg.available(mux) == 0
        server.join()
        tg.gprs_disconnect()


def test_tinygsm_other_helpers(modem: Emulator) -> None:
    tg = TinyGsm(modem)
    tg.init()
    tg.at("AT+GSN", b"\r\n868183038764457\r\n" + OK)  # getIMEI
    tg.at("AT+CCID", b"\r\n89445018101802445400\r\n" + OK)  # getSimCCID
    tg.at("AT+COPS?", b'\r\n+COPS: 0,0,"CHINA MOBILE"\r\n' + OK)  # getOperator
    tg.at_re("AT+CBC", rb"\r\n\+CBC: [01],\d{1,3},\d{4}\r\n\r\nOK\r\n")  # getBattery
    tg.at_re(  # getGSMDateTime
        "AT+CCLK?", rb'\r\n\+CCLK: "\d\d/\d\d/\d\d,\d\d:\d\d:\d\d[+-]\d\d"\r\n\r\nOK\r\n'
    )
    tg.at("AT+CSCLK=1")  # sleepEnable(true)
    tg.at("AT+CSCLK=0")
    # NTP (TinyGSM waits for "+CNTP:" after OK).
    tg.gprs_connect()
    tg.at("AT+CNTPCID=1")
    tg.at('AT+CNTP="pool.ntp.org",0')
    tg.send("AT+CNTP")
    modem.expect_exact(OK, 1)
    modem.expect_exact(b"\r\n+CNTP: 1\r\n", 10)
    year = time.gmtime().tm_year % 100
    tg.at_re("AT+CCLK?", rb'\r\n\+CCLK: "%02d/\d\d/\d\d,' % year + rb'[^"]+"\r\n\r\nOK\r\n')
    tg.at("AT+CPOWD=1", b"\r\nNORMAL POWER DOWN\r\n", 10)  # poweroff()


# ---------------------------------------------------------------- TLS


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("no openssl CLI")
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2",
            "-subj", "/CN=tls.test", "-addext", "subjectAltName=DNS:tls.test,IP:127.0.0.1",
        ],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    return cert, key


class TlsEchoServer:
    """A TLS server on 127.0.0.1: greets each client, then echoes."""

    GREETING = b"hello over TLS\r\n"

    def __init__(self, cert: Path, key: Path) -> None:
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(cert, key)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.handshakes: list[str] = []  # the TLS versions negotiated
        self.failures: list[BaseException] = []
        self.received = bytearray()
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            try:
                raw, _ = self.listener.accept()
            except OSError:
                return
            try:
                with self.context.wrap_socket(raw, server_side=True) as tls:
                    self.handshakes.append(str(tls.version()))
                    tls.sendall(self.GREETING)
                    while data := tls.recv(65536):
                        self.received += data
                        tls.sendall(data)
            except (OSError, ssl.SSLError) as exc:
                self.failures.append(exc)
            finally:
                raw.close()
                self.done.set()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.listener.close()


@pytest.fixture
def tls_server(certificate: tuple[Path, Path]) -> Iterator[TlsEchoServer]:
    server = TlsEchoServer(*certificate)
    yield server
    server.close()


def _tls_modem(*args: str) -> Emulator:
    return Emulator("--host", "tls.test=127.0.0.1", *args)


def _secure_session(emu: Emulator, server: TlsEchoServer) -> None:
    tg = TinyGsm(emu)
    tg.init()
    tg.gprs_connect()
    assert tg.connect(0, "tls.test", server.port, ssl_on=True) == b"\r\n0, CONNECT OK\r\n"
    greeting = TlsEchoServer.GREETING
    tg.wait_data_urc(0, len(greeting))
    assert tg.read_all(0, len(greeting)) == greeting
    tg.write(0, PAYLOAD[:700])
    tg.wait_data_urc(0, 700)
    assert tg.read_all(0, 700) == PAYLOAD[:700]
    assert bytes(server.received) == PAYLOAD[:700]
    assert server.handshakes and server.handshakes[0].startswith("TLS")
    tg.at("AT+CIPCLOSE=0,1", b"\r\n0, CLOSE OK\r\n")
    assert server.done.wait(5)
    assert not server.failures, server.failures
    tg.gprs_disconnect()


def test_cipssl_tls_unverified_by_default(tls_server: TlsEchoServer) -> None:
    with _tls_modem() as emu:
        _secure_session(emu, tls_server)


def test_cipssl_tls_verify_with_ca(
    tls_server: TlsEchoServer, certificate: tuple[Path, Path]
) -> None:
    with _tls_modem("--tls-verify", "--tls-ca", str(certificate[0])) as emu:
        _secure_session(emu, tls_server)


def test_cipssl_tls_verify_without_ca_fails(tls_server: TlsEchoServer) -> None:
    with _tls_modem("--tls-verify") as emu:
        tg = TinyGsm(emu)
        tg.init()
        tg.gprs_connect()
        got = tg.connect(0, "tls.test", tls_server.port, ssl_on=True)
        # reference 3 (AT+CIPSTART): a failed TLS handshake ends in CLOSE OK
        assert got == b"\r\n0, CLOSE OK\r\n"
        assert tls_server.done.wait(5)
        assert tls_server.failures and not tls_server.handshakes
        # The link reads CLOSED (the address field: see test_cipstatus_after_connect_fail).
        tg.at_re(
            "AT+CIPSTATUS=0",
            rb'\r\n\+CIPSTATUS: 0,0,"TCP","[^"]+","%d","CLOSED"\r\n\r\nOK\r\n' % tls_server.port,
        )
        tg.at("AT+CIPSSL=0")
        tg.at("AT", OK)


def test_cipstatus_after_connect_fail(modem: Emulator) -> None:
    with socket.socket() as probe:  # a port nobody listens on: a real refusal
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    tg = TinyGsm(modem)
    tg.init()
    tg.gprs_connect()
    assert tg.connect(0, "echo.test", port) == b"\r\n0, CONNECT FAIL\r\n"
    tg.status(0, "127.0.0.1", port, "CLOSED")
