"""More than 1460 bytes at the CIPSEND prompt, through the real pty: the same
answer however the OS splits the reads, ERROR once, the rest up to Ctrl-Z
discarded and never run as a command (docs/hardening.md)."""

from __future__ import annotations

import pytest
from serial_helpers import Emulator, TcpServer

PAYLOAD = b"A" * 1500 + b"\rAT+CIPCLOSE\r" + b"B" * 100 + b"\x1a"


@pytest.mark.parametrize("cuts", [(), (1400, 1500)], ids=["one-write", "three-writes"])
def test_overflow_answers_once_however_split(cuts: tuple[int, ...]) -> None:
    with TcpServer() as server, Emulator() as emu:
        emu.init()
        emu.bring_up()
        emu.command(f'AT+CIPSTART="TCP","127.0.0.1",{server.port}', b"\r\nCONNECT OK\r\n")
        conn = server.accept()
        emu.send("AT+CIPSEND")
        emu.expect_exact(b"\r\n> ")
        for a, b in zip((0, *cuts), (*cuts, len(PAYLOAD)), strict=True):
            emu.write_all(PAYLOAD[a:b])
            if b == 1400:
                # let the emulator read the first piece on its own (it has
                # nothing to say until the limit is passed)
                emu.expect_silence(0.3)
        emu.expect_exact(b"\r\nERROR\r\n")
        emu.expect_silence(0.5)  # no CLOSE OK: the payload never ran
        # the link is still up and usable
        emu.send("AT+CIPSTATUS")
        emu.expect(b"STATE: CONNECT OK\r\n")
        emu.send("AT+CIPSEND=5")
        emu.expect_exact(b"\r\n> ")
        emu.write_all(b"hello")
        emu.expect_exact(b"\r\nSEND OK\r\n")
        assert conn.wait_count(5) == b"hello"  # nothing of the overflow went out
