"""The general command set end to end through the real pty (issue 11):
network time URCs after registration (AT+CLTS=1, `ctl register`, a boot
with the saved profile) from the host clock and --timezone, and the SIM's
phone book surviving a restart of the emulator."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
from pathlib import Path

from serial_helpers import Emulator

OK = b"\r\nOK\r\n"
PSUTTZ = re.compile(
    rb'\r\n\*PSUTTZ: (\d{4}),(\d+),(\d+),(\d+),(\d+),(\d+),"\+32",0\r\n'
    rb'\r\n\+CTZV: "\+32"\r\n\r\nDST: 0\r\n'
)


def ctl(sock: Path, *words: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "sim800emu", "ctl", str(sock), *words],
        capture_output=True, text=True, timeout=20, check=True,
    )
    return proc.stdout.strip()


def _near_now(urcs: bytes) -> None:
    match = PSUTTZ.fullmatch(urcs)
    assert match is not None, urcs
    stamp = dt.datetime(*(int(g) for g in match.groups()), tzinfo=dt.UTC)
    assert abs((dt.datetime.now(dt.UTC) - stamp).total_seconds()) < 60


def test_clts_time_urcs_after_register_and_at_boot(tmp_path: Path) -> None:
    sock = tmp_path / "modem.ctl"
    work = tmp_path / "w"
    with Emulator("--control", str(sock), "--timezone", "+08:00", workdir=work) as e:
        e.init()
        e.command("AT+CREG=1")
        e.command("AT+CLTS=1")
        e.command("AT&W")
        assert ctl(sock, "register", "0") == "ok 1 modem(s)"
        e.expect(b"\r\n+CREG: 0\r\n")
        assert ctl(sock, "register", "1") == "ok 1 modem(s)"
        e.expect(b"\r\n+CREG: 1\r\n")
        _near_now(e.expect(PSUTTZ))  # *PSUTTZ is UTC (manual 6.2.12)
        clock = re.search(rb'\+CCLK: "(\d\d/\d\d/\d\d,\d\d:\d\d:\d\d)\+32"',
                          e.command("AT+CCLK?"))
        assert clock is not None
        local = dt.datetime.strptime(clock.group(1).decode(), "%y/%m/%d,%H:%M:%S")
        expected = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(hours=8)
        assert abs((expected - local).total_seconds()) < 60  # CCLK is local time
    # a cold boot with the saved CLTS=1: the time follows SMS Ready
    with Emulator("--cold-boot", "--timezone", "32", workdir=work) as e:
        e.expect(b"\r\nSMS Ready\r\n", timeout=15)
        _near_now(e.expect(PSUTTZ))


def test_phone_book_survives_a_restart(tmp_path: Path) -> None:
    work = tmp_path / "w"
    with Emulator(workdir=work) as e:
        e.init()
        e.command('AT+CPBW=,"+447700900123",145,"Alice"')
        e.command('AT+CPBW=7,"0123456",129,"Bob"')
    with Emulator(workdir=work) as e:
        e.init()
        out = e.command("AT+CPBR=1,10")
        assert out.endswith(
            b'\r\n+CPBR: 1,"+447700900123",145,"Alice"\r\n+CPBR: 7,"0123456",129,"Bob"\r\n' + OK
        )
        assert e.command('AT+CPBF="bo"').endswith(b'\r\n+CPBF: 7,"0123456",129,"Bob"\r\n' + OK)
    # another SIM (ICCID) in the same module: its own, empty phone book
    with Emulator("--iccid", "89445018101802445499", workdir=work) as e:
        e.init()
        assert e.command("AT+CPBS?").endswith(b'\r\n+CPBS: "SM",0,250\r\n' + OK)


def test_a_pin_locked_sim_after_a_restart(tmp_path: Path) -> None:
    work = tmp_path / "w"
    with Emulator(workdir=work) as e:
        e.init()
        e.command('AT+CLCK="SC",1,"1234"')
    with Emulator("--cold-boot", workdir=work) as e:
        e.expect(b"\r\n+CPIN: SIM PIN\r\n", timeout=15)
        e.init()
        e.command("AT+CMEE=2")
        assert e.command("AT+CPIN?").endswith(b"\r\n+CPIN: SIM PIN\r\n" + OK)
        e.send("AT+CREG?")
        e.expect(b"\r\n+CME ERROR: SIM PIN required\r\n")
        e.send('AT+CPIN="1234"')
        e.expect(b"\r\nOK\r\n\r\n+CPIN: READY\r\n\r\nCall Ready\r\n\r\nSMS Ready\r\n")
        assert e.command("AT+CREG?").endswith(b"\r\n+CREG: 0,1\r\n" + OK)


def _profiles(listing: bytes) -> dict[bytes, list[bytes]]:
    """AT&V's answer as {title: lines}; the profiles are apart by an empty line."""
    body = listing.split(b"\r\n\r\nOK\r\n")[0].strip(b"\r\n")
    sections = body.split(b"\r\n\r\n")
    return {s.split(b"\r\n")[0]: s.split(b"\r\n")[1:] for s in sections}


def test_at_v_lists_factory_saved_and_active_profiles_across_a_restart(tmp_path: Path) -> None:
    """AT&V through the pty (manual 2.2.31; docs/general.md): AT&W's profile
    is the USER PROFILE, also after a restart from the state directory, and
    the ACTIVE PROFILE shows what is in use (cmd-general-profiles.txt)."""
    work = tmp_path / "w"
    with Emulator(workdir=work) as e:
        e.init()
        e.command('AT+CMGF=1;+CNMI=2,2,0,1,0;+CSCS="UCS2"')
        e.command("AT&W")
        e.command("AT+CMGF=0")
        p = _profiles(e.command("AT&V"))
        assert list(p) == [b"DEFAULT PROFILE", b"USER PROFILE", b"ACTIVE PROFILE"]
        assert len({len(lines) for lines in p.values()}) == 1  # the same lines in each
        assert b"+CMGF: 0" in p[b"DEFAULT PROFILE"] and b"+CNMI: 2,1,0,0,0" in p[b"DEFAULT PROFILE"]
        assert b"+CMGF: 1" in p[b"USER PROFILE"] and b"+CNMI: 2,2,0,1,0" in p[b"USER PROFILE"]
        assert b"+CMGF: 0" in p[b"ACTIVE PROFILE"] and b'+CSCS: "UCS2"' in p[b"ACTIVE PROFILE"]
        assert b'+CSCS: "IRA"' in p[b"USER PROFILE"]  # not saved
    with Emulator(workdir=work) as e:
        e.init()
        p = _profiles(e.command("AT&V"))
        assert b"+CMGF: 1" in p[b"USER PROFILE"] and b"+CMGF: 1" in p[b"ACTIVE PROFILE"]
        assert b"+CNMI: 2,2,0,1,0" in p[b"ACTIVE PROFILE"]
        assert b'+CSCS: "IRA"' in p[b"ACTIVE PROFILE"]
