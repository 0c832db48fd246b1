"""Saved settings through the real CLI and pty: leftovers of interrupted
saves are cleaned at start, a settings file with wrong types or out-of-range
values is used field by field (with a warning per bad entry), and AT&W /
AT+CIPSCONT answer ERROR when the save failed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from serial_helpers import Emulator

IMEI = "868183038764457"  # the default identity


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_bad_saved_settings_and_stale_temp_files(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / f"{IMEI}.json").write_text(
        json.dumps({"cipmux": 7, "cipqsend": 1, "echo": "no", "cmee": 2})
    )
    stale = [state / f".{IMEI}.json.{_dead_pid()}.save-{n}.tmp" for n in range(60)]
    for path in stale:
        path.write_text('{"half":')
    with Emulator(workdir=tmp_path) as emu:
        emu.send("AT")
        assert emu.expect(b"OK\r\n") == b"AT\r\r\nOK\r\n"  # echo: the default (on)
        emu.init()
        assert emu.command("AT+CIPMUX?") == b"\r\n+CIPMUX: 0\r\n\r\nOK\r\n"
        assert emu.command("AT+CIPQSEND?") == b"\r\n+CIPQSEND: 1\r\n\r\nOK\r\n"
        assert emu.command("AT+CMEE?") == b"\r\n+CMEE: 2\r\n\r\nOK\r\n"
        errors = emu.stderr_tail()
        assert "cipmux: 7 is not in 0-1; the default is used" in errors
        assert "echo: 'no' is not true/false; the default is used" in errors
        assert not [p for p in stale if p.exists()]
        # the next save writes good values only
        emu.command("AT+CIPSCONT")
        saved = json.loads((state / f"{IMEI}.json").read_text())
        assert saved["cipmux"] == 0 and saved["cipqsend"] == 1 and saved["cmee"] == 2
    assert sorted(os.listdir(state)) == [f"{IMEI}.json"]


def test_a_failed_save_answers_error(tmp_path: Path) -> None:
    state = tmp_path / "state"
    target = state / f"{IMEI}.json"
    with Emulator(workdir=tmp_path) as emu:
        emu.init()
        emu.command("AT+CMEE=1")
        emu.command("AT&W")
        assert json.loads(target.read_text())["cmee"] == 1
        # the settings file cannot be replaced: a non-empty directory in its place
        target.unlink()
        target.mkdir()
        (target / "blocker").write_text("")
        emu.command("AT+CMEE=2")
        emu.send("AT&W")
        emu.expect_exact(b"\r\nERROR\r\n")
        emu.send("AT+CIPSCONT")
        emu.expect_exact(b"\r\nERROR\r\n")
        assert "cannot save settings" in emu.stderr_tail()
        # ATZ restores what was really saved (CMEE 1), not the failed profile
        emu.command("ATZ")
        emu.init()
        assert emu.command("AT+CMEE?") == b"\r\n+CMEE: 1\r\n\r\nOK\r\n"
        # once the store works again, so does AT&W
        (target / "blocker").unlink()
        target.rmdir()
        emu.command("AT+CMEE=2")
        emu.command("AT&W")
        assert json.loads(target.read_text())["cmee"] == 2
    assert not list(state.glob(".*.tmp"))
