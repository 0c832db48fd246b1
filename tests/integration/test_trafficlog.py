"""The serial transcript log: readable text, hex, timestamps, both directions."""

from __future__ import annotations

import datetime
import io
import re
from pathlib import Path

import pytest

from sim800emu.trafficlog import TrafficLog, escape, format_entry

WHEN = datetime.datetime(2026, 11, 26, 10, 0, 0, 123456)


def test_escape_control_bytes() -> None:
    assert escape(b"AT+CSQ\r\n") == "AT+CSQ\\r\\n"
    assert escape(b"\x1a\x1b\x00\xff\t'\\") == "\\x1a\\x1b\\x00\\xff\\t\\'\\\\"
    assert escape(b"OK") == "OK"


def test_entry_format() -> None:
    line = format_entry(WHEN, "modem<-host", b"AT+CSQ\r")
    assert line == "2026-11-26T10:00:00.123456 modem<-host 'AT+CSQ\\r' | 41 54 2b 43 53 51 0d\n"


def test_tagged_entry() -> None:
    line = format_entry(WHEN, "modem->host", b"OK", tag="conn 2")
    assert line.startswith("2026-11-26T10:00:00.123456 [conn 2] modem->host 'OK' | 4f 4b")


def test_long_chunks_are_wrapped_with_offsets() -> None:
    data = bytes(range(70))
    text = format_entry(WHEN, "modem->host", data, wrap=32)
    lines = text.splitlines()
    assert lines[0] == "2026-11-26T10:00:00.123456 modem->host 70 bytes"
    assert [ln.split()[0] for ln in lines[1:]] == ["0000", "0020", "0040"]
    # every byte is in the hex columns, in order
    hexes = " ".join(ln.split(" | ")[1] for ln in lines[1:])
    assert bytes.fromhex(hexes) == data


def test_log_file_both_directions(tmp_path: Path) -> None:
    path = tmp_path / "traffic.log"
    log = TrafficLog.open(str(path))
    log.host_to_modem(b"AT\r")
    log.modem_to_host(b"\r\nOK\r\n")
    log.modem_to_host(b"")  # nothing to record
    log.close()
    lines = path.read_text().splitlines()
    assert len(lines) == 2
    pattern = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6} "
    assert re.match(pattern + r"modem<-host 'AT\\r' \| 41 54 0d$", lines[0])
    assert re.match(pattern + r"modem->host '\\r\\nOK\\r\\n' \| 0d 0a 4f 4b 0d 0a$", lines[1])
    # a closed log ignores further records
    log.host_to_modem(b"AT\r")
    assert len(path.read_text().splitlines()) == 2


def test_log_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    log = TrafficLog.open("-")
    log.host_to_modem(b"ATI\r")
    log.close()
    assert "modem<-host 'ATI\\r' | 41 54 49 0d" in capsys.readouterr().err


def test_broken_stream_does_not_raise() -> None:
    stream = io.StringIO()
    log = TrafficLog(stream)
    stream.close()
    log.host_to_modem(b"AT\r")  # swallowed
    log.host_to_modem(b"AT\r")
