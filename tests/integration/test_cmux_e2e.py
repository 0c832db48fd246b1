"""AT+CMUX end to end through the real pty (issue 17).

The host's side is the test-side 27.010 peer (cmuxpeer.py, written from
the specification). A ``serve`` subprocess is driven the way esp_modem,
Zephyr or n_gsm would: AT+CMUX, DLCIs 1-4 opened at once, AT on each, an SMS
and a USSD on one DLC while the others work, transparent data on one DLC
(1 MiB, SHA-256) while another answers AT, injected FCS errors and oversized
frames, DISC, CLD, and back to plain AT; the power path of ``ctl`` recovers a
host that lost the multiplexer; the traffic log shows the frames decoded; a
short fuzz of mutated frames leaves every open DLC answering."""

from __future__ import annotations

import hashlib
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cmuxpeer import CMD, DM, MT_FCON, MT_MSC, SABM, UA, UIH, Peer, encode, msg
from serial_helpers import Emulator, TcpServer, wait_quiet

OK = b"\r\nOK\r\n"
MSC_AFTER_SABM1 = bytes.fromhex("f9 01 ef 09 e3 05 07 0d 9a f9")  # a real SIM800's
GUARD = 1.2  # the +++ guard time of the default timing profile (1 s) and a margin


def ctl(sock: Path, *words: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "sim800emu", "ctl", str(sock), *words],
        capture_output=True, text=True, timeout=20, check=True,
    )
    return proc.stdout.strip()


@contextmanager
def muxed(*args: str, dlcis: tuple[int, ...] = (1, 2, 3, 4)) -> Iterator[tuple[Emulator, Peer]]:
    with Emulator(*args) as emu:
        emu.init()
        emu.command("AT+CMUX=0")
        peer = Peer(emu.write_all, emu.read_some)
        peer.start(dlcis)
        yield emu, peer


def test_four_dlcs_at_once_with_sms_and_ussd_beside_at(tmp_path: Path) -> None:
    sock = tmp_path / "ctl.sock"
    with Emulator("--control", str(sock)) as emu:
        emu.init()
        emu.command("AT+CMUX=0,0,5,127")
        peer = Peer(emu.write_all, emu.read_some)
        assert peer.sabm(0).control == UA
        for d in (1, 2, 3, 4):  # all four asked at once
            emu.write_all(encode(d, SABM, pf=True))
        for d in (1, 2, 3, 4):
            f = peer.wait_frame(lambda f, d=d: f.dlci == d and f.control in (UA, DM), f"UA {d}")
            assert f.control == UA and f.pf
        # the MSC after each UA, byte for byte as a real SIM800 sends it
        raw = [f.raw for f in peer.frames if f.dlci == 0 and f.control == UIH]
        assert raw[0] == MSC_AFTER_SABM1
        assert [r[6] >> 2 for r in raw] == [1, 2, 3, 4]
        for d in (1, 2, 3, 4):
            peer.send_control(msg(MT_MSC, bytes([d << 2 | 3, 0x0D]), command=False))
        for d in (1, 2, 3, 4):
            assert peer.at(d, "AT") == OK
        # an SMS typed on DLCI 3 while DLCIs 1, 2 and 4 keep answering
        assert peer.at(3, "AT+CMGF=1") == OK
        peer.send(3, b'AT+CMGS="+4915112345678"\r')
        assert peer.wait_text(3, b"> ") == b"\r\n> "
        peer.send(3, b"hello from DLCI 3")
        assert peer.at(1, "AT+CSQ") == b"\r\n+CSQ: 24,0\r\n\r\nOK\r\n"
        assert peer.at(2, "AT+CGMI") == b"\r\nSIMCOM_Ltd\r\n\r\nOK\r\n"
        peer.send(3, b"\x1a")
        assert b"+CMGS: " in peer.wait_text(3, OK)
        # a USSD on DLCI 4: its answer comes back on DLCI 4
        assert peer.at(4, 'AT+CUSD=1,"*100#"') == OK
        assert peer.at(2, "AT") == OK
        assert b"+CUSD: " in peer.wait_text(4, b"\r\n+CUSD: ")
        peer.wait_text(4, b"\r\n")
        # an incoming message: its URC comes on DLCI 1, as a SIM800 sends URCs there
        assert ctl(sock, "sms", "+4930111", "hi").startswith("ok")
        assert peer.wait_text(1, b"+CMTI: ").endswith(b"\r\n+CMTI: ")
        assert peer.wait_text(1, b"\r\n") == b'"SM",1\r\n'

        assert "CMUX N1 127, DLCs 1,2,3,4" in ctl(sock, "status")
        for d in (2, 3, 4):
            assert not peer.text.get(d)


def test_faults_disc_and_cld_back_to_plain_at() -> None:
    with muxed() as (emu, peer):
        good = encode(2, UIH, b"AT+CGMI\r")
        bad = bytearray(good)
        bad[-2] ^= 0x5A  # FCS
        emu.write_all(bytes(bad))
        emu.write_all(encode(1, UIH, b"X" * 200))  # longer than N1 (127)
        emu.write_all(b"noise without flags AT\r\n")
        emu.write_all(bytes(bad[:5]))  # a frame cut off, the next flag ends it
        emu.write_all(b"\xf9" * 140)
        for d in (1, 2, 3, 4):
            peer.text.pop(d, None)
            assert peer.at(d, "AT") == OK, d
        assert not peer.text.get(2)  # nothing of the bad AT+CGMI
        # DISC: the DLC stops answering (DM), the others go on
        assert peer.disc(3).control == UA
        peer.send(3, b"AT\r")
        assert peer.wait_frame(lambda f: f.dlci == 3, "DM").control == DM
        assert peer.at(4, "AT") == OK
        # CLD: the close-down answer, then plain AT
        assert peer.close_down() == b""
        emu.command("AT", OK)


def test_transparent_download_on_one_dlc_while_another_answers() -> None:
    size = 1 << 20
    data = random.Random(17).randbytes(size)
    with muxed(dlcis=(1, 2)) as (_emu, peer), TcpServer() as srv:
        assert peer.at(2, "AT+CIPMODE=1") == OK
        assert peer.at(2, 'AT+CSTT="CMNET"') == OK
        assert peer.at(2, "AT+CIICR", timeout=30) == OK
        peer.at(2, "AT+CIFSR", b"\r\n")
        peer.wait_text(2, b"\r\n")
        peer.send(2, f'AT+CIPSTART="TCP","127.0.0.1",{srv.port}\r'.encode())
        assert peer.wait_text(2, b"CONNECT\r\n", timeout=20).endswith(b"\r\nCONNECT\r\n")
        conn = srv.accept()
        peer.send(2, b"hello through DLCI 2")
        assert conn.wait_count(20) == b"hello through DLCI 2"
        conn.send_all(data)
        got = hashlib.sha256()
        n = 0
        deadline = time.monotonic() + 60
        asked = False
        while n < size:
            assert time.monotonic() < deadline, f"{n} of {size} bytes"
            peer.pump(0.5)
            chunk = peer.text.pop(2, bytearray())
            got.update(chunk)
            n += len(chunk)
            if n > size // 2 and not asked:  # DLCI 1 answers in the middle of it
                peer.send(1, b"AT+CSQ\r")
                asked = True
        assert n == size
        assert got.digest() == hashlib.sha256(data).digest()
        assert peer.wait_text(1, OK) == b"\r\n+CSQ: 24,0\r\n\r\nOK\r\n"
        # +++ on DLCI 2 only: its OK, then commands there again
        wait_quiet(GUARD)
        peer.send(2, b"+++")
        assert peer.wait_text(2, OK, timeout=5) == OK
        assert peer.at(2, "AT+CIPCLOSE", b"CLOSE OK\r\n").endswith(b"CLOSE OK\r\n")


def test_a_host_that_lost_the_multiplexer_recovers_with_the_power_path(tmp_path: Path) -> None:
    sock = tmp_path / "ctl.sock"
    with Emulator("--control", str(sock)) as emu:
        emu.init()
        emu.command("AT+CMUX=0")
        peer = Peer(emu.write_all, emu.read_some)
        peer.start((1,))
        # the host restarts and speaks plain AT: the module, still
        # multiplexing, does not answer
        emu.send("AT")
        emu.expect_silence(0.5)
        assert ctl(sock, "power-off").startswith("ok")
        assert ctl(sock, "power-on").startswith("ok")
        emu.expect(b"SMS Ready\r\n", timeout=15)
        emu.send("ATE0")
        emu.expect(OK)
        emu.command("AT", OK)


def test_traffic_log_shows_the_frames_decoded(tmp_path: Path) -> None:
    log = tmp_path / "traffic.log"
    with muxed("--log", str(log), dlcis=(1,)) as (_emu, peer):
        assert peer.at(1, "AT+CGMI") == b"\r\nSIMCOM_Ltd\r\n\r\nOK\r\n"
        peer.send_control(msg(0x91 | CMD, b"\x07"))  # RPN: not supported
        peer.wait_control(0x11)
    text = log.read_text()
    assert "cmux <- DLCI 0 SABM P/F len 0" in text
    assert "cmux -> DLCI 1 UA P/F len 0" in text
    assert "cmux -> DLCI 0 UIH len 4 MSC cmd 07 0d" in text
    assert "cmux <- DLCI 1 UIH len 8 'AT+CGMI\\r'" in text
    assert "cmux -> DLCI 1 UIH len 14 '\\r\\nSIMCOM_Ltd\\r\\n'" in text
    assert "cmux -> DLCI 0 UIH len 3 NSC resp 93" in text


def test_fuzz_smoke_mutated_frames_through_the_pty() -> None:
    rng = random.Random(417)
    seeds = [
        encode(1, UIH, b"AT+CSQ\r"), encode(2, UIH, b"ATI\r"), encode(3, UIH, b"AT+CPIN?\r"),
        encode(0, UIH, msg(MT_MSC, bytes([7, 0x0D]))), encode(4, UIH, b"AT\r"),
    ]
    with muxed() as (emu, _peer):
        for _ in range(400):
            frame = bytearray(rng.choice(seeds))
            for _ in range(rng.randrange(1, 3)):
                k = rng.randrange(len(frame))
                if rng.random() < 0.5:
                    frame[k] = rng.randrange(256)
                else:
                    del frame[k]
            emu.write_all(bytes(frame))
        # A mutation may have made a CLD or a DISC on DLCI 0 (the line is
        # plain AT again: start the multiplexer again; while it still runs
        # these bytes are noise between frames); flags end any frame a
        # mutated length left open.
        emu.write_all(b"\x1b\r\nAT+CMUX=0\r")
        emu.drain(0.3)
        emu.write_all(b"\xf9" * 140)
        emu.write_all(encode(0, UIH, msg(MT_FCON)))
        for d in (1, 2, 3, 4):
            emu.write_all(encode(0, UIH, msg(MT_MSC, bytes([d << 2 | 3, 0x0D]))))
        emu.drain(0.5)
        if emu.proc.poll() is not None:
            raise AssertionError(emu.stderr_tail())
        fresh = Peer(emu.write_all, emu.read_some)
        assert fresh.sabm(0).control == UA
        for d in (1, 2, 3, 4):
            assert fresh.sabm(d).control == UA
            fresh.send(d, b"\x1b\rATE0V1Q0\r")
        emu.drain(0.5)
        fresh.text.clear()
        for d in (1, 2, 3, 4):
            assert fresh.at(d, "AT") == OK, d
        assert fresh.close_down() == b""


def test_an_abrupt_stop_of_the_host_mid_frame_is_survived() -> None:
    """The host dies in the middle of a frame (the line closes); a new host
    that knows the module multiplexes sends flags (ending the cut frame) and
    opens the DLCs again; one that does not closes it down with CLD."""
    with muxed(dlcis=(1, 2)) as (emu, peer):
        assert peer.at(2, "AT") == OK
        emu.write_all(encode(1, UIH, b"AT+CSQ\r")[:5])  # cut off
        emu.close_line()
        emu.open_line()
        emu.write_all(b"\xf9" * 140)
        fresh = Peer(emu.write_all, emu.read_some)
        assert fresh.sabm(0).control == UA
        assert fresh.sabm(1).control == UA
        fresh.text.clear()
        assert fresh.at(1, "AT") == OK
        assert fresh.at(2, "AT") == OK  # DLCI 2 stayed open
        assert fresh.close_down() == b""
        emu.command("AT", OK)
