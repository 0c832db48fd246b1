"""The module's FTP client against a real FTP server (pyftpdlib on
loopback), through the real pty: FTPGET and FTPPUT of a 200 KB file in
passive and active mode (SHA-256 checked), the other operations, and the
manual's error codes for a refused login and a missing file."""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from http_servers import big_body
from serial_helpers import Emulator

pyftpdlib = pytest.importorskip("pyftpdlib")
from pyftpdlib.authorizers import DummyAuthorizer  # noqa: E402
from pyftpdlib.handlers import FTPHandler  # noqa: E402
from pyftpdlib.servers import ThreadedFTPServer  # noqa: E402

SIZE = 200 * 1024 + 77
USER, PASSWORD = "modem", "s3cret"
OK = b"\r\nOK\r\n"


@pytest.fixture
def ftp_root(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    root = tmp_path / "ftp"
    root.mkdir()
    authorizer = DummyAuthorizer()
    authorizer.add_user(USER, PASSWORD, str(root), perm="elradfmwMT")
    handler = type("Handler", (FTPHandler,), {"authorizer": authorizer, "banner": "test ready"})
    server = ThreadedFTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"timeout": 0.05})
    thread.start()
    try:
        yield root, server.address[1]
    finally:
        server.close_all()
        thread.join(5)


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator() as e:
        e.init()
        e.command('AT+SAPBR=3,1,"APN","internet"')
        e.command("AT+SAPBR=1,1")
        yield e


def configure(emu: Emulator, port: int, mode: int, password: str = PASSWORD) -> None:
    emu.command("AT+FTPCID=1")
    emu.command('AT+FTPSERV="127.0.0.1"')
    emu.command(f"AT+FTPPORT={port}")
    emu.command(f'AT+FTPUN="{USER}"')
    emu.command(f'AT+FTPPW="{password}"')
    emu.command(f"AT+FTPMODE={mode}")
    emu.command('AT+FTPTYPE="I"')


def ftp_get(emu: Emulator, name: str) -> bytes:
    emu.command('AT+FTPGETPATH="/"')
    emu.command(f'AT+FTPGETNAME="{name}"')
    emu.command("AT+FTPGET=1")
    emu.expect(b"\r\n+FTPGET: 1,1\r\n", timeout=15)
    got = bytearray()
    header = re.compile(rb"\r\n\+FTPGET: 2,(\d+)\r\n")
    while True:
        emu.send("AT+FTPGET=2,1460")
        before = emu.expect(header)
        match = header.search(before)
        assert match is not None
        n = int(match.group(1))
        got += emu.read_exact(n)
        emu.expect_exact(OK)
        if n == 0:
            tail = emu.expect(re.compile(rb"\r\n\+FTPGET: 1,([01])\r\n"), timeout=15)
            if tail.endswith(b"1,0\r\n"):
                return bytes(got)
        elif len(got) == SIZE:
            emu.expect(b"\r\n+FTPGET: 1,0\r\n", timeout=15)
            return bytes(got)


def ftp_put(emu: Emulator, name: str, data: bytes) -> None:
    emu.command('AT+FTPPUTPATH="/"')
    emu.command(f'AT+FTPPUTNAME="{name}"')
    emu.command("AT+FTPPUT=1")
    emu.expect(b"\r\n+FTPPUT: 1,1,1360\r\n", timeout=15)
    for start in range(0, len(data), 1360):
        block = data[start : start + 1360]
        emu.send(f"AT+FTPPUT=2,{len(block)}")
        emu.expect_exact(f"\r\n+FTPPUT: 2,{len(block)}\r\n".encode())
        emu.write_all(block)
        emu.expect_exact(OK + b"\r\n+FTPPUT: 1,1,1360\r\n")
    emu.command("AT+FTPPUT=2,0")
    emu.expect(b"\r\n+FTPPUT: 1,0\r\n", timeout=15)


@pytest.mark.parametrize("mode", [1, 0], ids=["passive", "active"])
def test_get_and_put_200_kb(
    emu: Emulator, ftp_root: tuple[Path, int], mode: int
) -> None:
    root, port = ftp_root
    body = big_body(SIZE)
    (root / "down.bin").write_bytes(body)
    configure(emu, port, mode)
    got = ftp_get(emu, "down.bin")
    assert hashlib.sha256(got).hexdigest() == hashlib.sha256(body).hexdigest()
    ftp_put(emu, "up.bin", body[::-1])
    assert hashlib.sha256((root / "up.bin").read_bytes()).hexdigest() == (
        hashlib.sha256(body[::-1]).hexdigest()
    )
    emu.command("AT+FTPSTATE", b"\r\n+FTPSTATE: 0\r\n" + OK)


def test_other_operations_and_errors(emu: Emulator, ftp_root: tuple[Path, int]) -> None:
    root, port = ftp_root
    (root / "a.txt").write_bytes(b"0123456789" * 50)
    configure(emu, port, 1)
    emu.command('AT+FTPGETPATH="/"')
    emu.command('AT+FTPGETNAME="a.txt"')
    emu.command("AT+FTPSIZE")
    emu.expect(b"\r\n+FTPSIZE: 1,0,500\r\n")
    # FTPEXTGET: the whole file into RAM, then parts of it
    emu.command("AT+FTPEXTGET=1")
    emu.expect(b"\r\n+FTPEXTGET: 1,0\r\n")
    emu.command("AT+FTPEXTGET?", b"\r\n+FTPEXTGET: 1,500\r\n" + OK)
    emu.command("AT+FTPEXTGET=3,495,10", b"\r\n+FTPEXTGET: 3,5\r\n56789" + OK)
    emu.command("AT+FTPEXTGET=0")
    emu.command('AT+FTPGETPATH="/newdir"')
    emu.command("AT+FTPMKD")
    emu.expect(b"\r\n+FTPMKD: 1,0\r\n")
    assert (root / "newdir").is_dir()
    emu.command("AT+FTPMKD")
    emu.expect(b"\r\n+FTPMKD: 1,77\r\n")  # it exists now
    emu.command("AT+FTPRMD")
    emu.expect(b"\r\n+FTPRMD: 1,0\r\n")
    emu.command('AT+FTPGETPATH="/"')
    emu.command("AT+FTPLIST=1")
    emu.expect(b"\r\n+FTPLIST: 1,1\r\n")
    emu.send("AT+FTPLIST=2,1460")
    listing = emu.expect(b"\r\nOK\r\n")
    assert b"a.txt" in listing
    emu.expect(b"\r\n+FTPLIST: 1,0\r\n")
    emu.command("AT+FTPDELE")
    emu.expect(b"\r\n+FTPDELE: 1,0\r\n")
    assert not (root / "a.txt").exists()
    # a missing file: operate error; a wrong password: 72
    emu.command("AT+FTPGET=1")
    emu.expect(b"\r\n+FTPGET: 1,77\r\n")
    emu.command("AT+FTPSIZE")
    emu.expect(b"\r\n+FTPSIZE: 1,77\r\n")
    emu.command('AT+FTPPW="wrong"')
    emu.command("AT+FTPGET=1")
    emu.expect(b"\r\n+FTPGET: 1,72\r\n", timeout=15)
    # FTPGET=2 with no download running
    emu.command("AT+FTPGET=2,100", b"\r\nERROR\r\n")
