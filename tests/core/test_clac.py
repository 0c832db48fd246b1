"""AT+CLAC lists exactly the commands of docs/commands.md (issue 11): both
come from the registry, and this test fails when either drifts."""

from __future__ import annotations

import re
from pathlib import Path

from harness import OK, Harness

from sim800emu.core.registry import REGISTRY

DOCS = Path(__file__).resolve().parents[2] / "docs" / "commands.md"


def _clac_lines() -> list[str]:
    out = Harness().at("AT+CLAC")
    assert out.startswith(b"\r\n") and out.endswith(b"\r\n" + OK)
    return out[2 : -len(OK) - 2].decode().split("\r\n")


def _documented() -> set[str]:
    names: set[str] = set()
    for line in DOCS.read_text(encoding="utf-8").splitlines():
        if line.startswith("| `AT"):
            first_cell = line.split(" | ")[0]
            names.update(re.findall(r"`(AT[^`]+)`", first_cell))
    return names


def test_clac_lists_every_documented_command_and_no_other() -> None:
    listed = _clac_lines()
    assert len(listed) == len(set(listed))
    assert set(listed) == _documented()


def test_clac_lists_every_registry_name() -> None:
    assert set(_clac_lines()) == {"AT" + name for name in REGISTRY}


def test_clac_answers_in_v0_too() -> None:
    h = Harness()
    h.at("ATV0")
    out = h.at("AT+CLAC")
    assert out.startswith(b"AT+CACM\r\n") and out.endswith(b"\r\n0\r")
