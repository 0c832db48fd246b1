"""The settings store: one JSON file per module identity, written atomically."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from sim800emu.store import SettingsStore, default_state_dir


def test_load_missing_is_none(tmp_path: Path) -> None:
    assert SettingsStore(tmp_path / "none", "868183038764457").load() is None


def test_save_then_load_round_trip_and_creates_dir(tmp_path: Path) -> None:
    state = tmp_path / "a" / "b"
    store = SettingsStore(state, "868183038764457")
    settings: dict[str, object] = {"cipmux": 1, "apn": "CMNET", "dns": ["1.1.1.1", "0.0.0.0"]}
    store.save(settings)
    assert store.path == state / "868183038764457.json"
    assert json.loads(store.path.read_text()) == settings
    assert SettingsStore(state, "868183038764457").load() == settings


def test_files_are_per_identity(tmp_path: Path) -> None:
    a = SettingsStore(tmp_path, "111111111111111")
    b = SettingsStore(tmp_path, "222222222222222")
    a.save({"x": 1})
    assert b.load() is None
    b.save({"x": 2})
    assert a.load() == {"x": 1}
    assert b.load() == {"x": 2}


def test_save_replaces_and_leaves_no_temp_files(tmp_path: Path) -> None:
    store = SettingsStore(tmp_path, "k")
    for i in range(5):
        store.save({"n": i})
    assert store.load() == {"n": 4}
    assert sorted(os.listdir(tmp_path)) == ["k.json"]


def test_failed_save_keeps_old_file(tmp_path: Path) -> None:
    store = SettingsStore(tmp_path, "k")
    store.save({"n": 1})
    with pytest.raises(TypeError):
        store.save({"bad": object()})
    assert store.load() == {"n": 1}
    assert sorted(os.listdir(tmp_path)) == ["k.json"]


def test_corrupt_or_non_object_file_is_ignored(tmp_path: Path) -> None:
    store = SettingsStore(tmp_path, "k")
    store.path.write_text("{not json")
    assert store.load() is None
    store.path.write_text("[1, 2]")
    assert store.load() is None


def test_key_cannot_escape_the_directory(tmp_path: Path) -> None:
    store = SettingsStore(tmp_path / "s", "../../etc/passwd")
    assert store.path.parent == tmp_path / "s"
    with pytest.raises(ValueError):
        SettingsStore(tmp_path, "...")


def test_ensure_dir_creates_and_rejects_files(tmp_path: Path) -> None:
    SettingsStore(tmp_path / "new", "k").ensure_dir()
    assert (tmp_path / "new").is_dir()
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(OSError):
        SettingsStore(blocker / "sub", "k").ensure_dir()


def test_default_state_dir_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    assert default_state_dir() == tmp_path / "sim800emu"
    monkeypatch.setenv("XDG_STATE_HOME", "relative/ignored")
    assert default_state_dir() == Path.home() / ".local" / "state" / "sim800emu"


def _dead_pid() -> int:
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_the_temporary_file_names_the_file_and_the_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SettingsStore(tmp_path, "868183038764457")
    seen: list[str] = []
    real_replace = os.replace

    def spy(src: str, dst: object) -> None:
        seen.append(os.path.basename(src))
        real_replace(src, dst)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "replace", spy)
    store.save({"cmee": 1})
    assert len(seen) == 1
    assert seen[0].startswith(f".868183038764457.json.{os.getpid()}.save-")
    assert seen[0].endswith(".tmp")


def test_load_removes_the_leftovers_of_interrupted_saves(tmp_path: Path) -> None:
    store = SettingsStore(tmp_path, "k")
    store.save({"cmee": 1})
    dead, alive = _dead_pid(), os.getppid()
    stale = [
        f".k.json.{dead}.save-abcd1234.tmp",  # its process was killed
        f".k.json.{os.getpid()}.save-zz.tmp",  # this process, an earlier life
        ".k.json.ab12cd34.tmp",  # the name older versions used
    ]
    kept = [
        f".k.json.{alive}.save-live.tmp",  # another emulator saving right now
        f".other.json.{dead}.save-x.tmp",  # another identity's: its own store cleans it
        "k.json.tmp",  # not ours
    ]
    for name in stale + kept:
        (tmp_path / name).write_text("{")
    assert store.load() == {"cmee": 1}
    assert sorted(os.listdir(tmp_path)) == sorted(["k.json", *kept])


def test_loaded_entries_are_checked_one_by_one(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = SettingsStore(tmp_path, "k")
    store.path.write_text(json.dumps({"cipmux": 7, "echo": "no", "cmee": 2, "x": 1}))
    with caplog.at_level("WARNING", logger="sim800emu.store"):
        assert store.load() == {"cmee": 2, "x": 1}
    messages = sorted(r.getMessage() for r in caplog.records)
    assert len(messages) == 2
    assert messages[0].endswith("cipmux: 7 is not in 0-1; the default is used")
    assert messages[1].endswith("echo: 'no' is not true/false; the default is used")
    assert str(store.path) in messages[0]
