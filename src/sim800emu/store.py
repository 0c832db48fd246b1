"""Where a modem's saved profile (AT+CIPSCONT, AT&W) lives between runs.

One JSON file per module identity in a state directory, e.g.
``~/.local/state/sim800emu/868183038764457.json``. Writes are atomic: the
new content goes to a temporary file in the same directory, is flushed to
disk, and then replaces the old file, so a crash leaves either the old or
the new settings, never half of each.

The temporary file is named after the settings file and the writing
process, ``.868183038764457.json.<pid>.save-XXXXXXXX.tmp``. A process killed
in the middle of a save leaves it behind; :meth:`SettingsStore.load` (run
when a modem starts) removes such leftovers of processes that are gone.

What is loaded is checked entry by entry (:func:`sim800emu.core.saved.check_saved`:
the type of each setting and the range its command accepts); an entry that
fails is dropped with a warning, so that setting starts at its default.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path

from .core.saved import check_saved
from .resources import is_resource_error

log = logging.getLogger(__name__)

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


_SAVING_PID = re.compile(r"(\d+)\.save-")


class SettingsStore:
    """The saved settings of one module, keyed by its identity (the IMEI)."""

    # one per modem of a fleet (bench/fleet_memory.py): no __dict__, and the
    # path is made when used (a fleet's modems share their state_dir)
    __slots__ = ("filename", "key", "state_dir")

    def __init__(self, state_dir: Path | str, key: str) -> None:
        cleaned = _UNSAFE.sub("_", key).lstrip(".")
        if not cleaned:
            raise ValueError(f"unusable settings key {key!r}")
        if not isinstance(state_dir, Path):
            state_dir = Path(state_dir)
        self.state_dir = state_dir.expanduser()  # itself when there is no ~
        self.key = key
        self.filename = f"{cleaned}.json"

    @property
    def path(self) -> Path:
        return self.state_dir / self.filename

    def ensure_dir(self) -> None:
        """Create the state directory if missing and check that it is writable.

        Raises ``OSError`` with a readable message otherwise.
        """
        self.state_dir.mkdir(parents=True, exist_ok=True)
        if not self.state_dir.is_dir():
            raise NotADirectoryError(f"{self.state_dir} is not a directory")
        fd, probe = tempfile.mkstemp(prefix=".probe-", dir=self.state_dir)
        os.close(fd)
        os.unlink(probe)

    def _temp_prefix(self) -> str:
        return f".{self.filename}.{os.getpid()}.save-"

    def clean_stale(self) -> list[Path]:
        """Remove the temporary files of saves that never finished (their
        process is gone, or is this one); return what was removed."""
        # .<filename>.[<pid>.save-]<anything>.tmp
        prefix = f".{self.filename}."
        removed: list[Path] = []
        try:
            names = os.listdir(self.state_dir)
        except OSError:
            return removed
        for name in names:
            if not (name.startswith(prefix) and name.endswith(".tmp")
                    and len(name) >= len(prefix) + 4):
                continue
            match = _SAVING_PID.match(name, len(prefix))
            pid = int(match.group(1)) if match else None
            if pid is not None and pid != os.getpid() and _alive(pid):
                continue  # another emulator is saving right now
            path = self.state_dir / name
            with contextlib.suppress(FileNotFoundError):
                try:
                    path.unlink()
                except OSError as exc:
                    log.warning("cannot remove the unfinished save %s: %s", path, exc)
                    continue
                removed.append(path)
        if removed:
            log.info("removed %d unfinished save(s) of %s", len(removed), self.filename)
        return removed

    def load(self) -> dict[str, object] | None:
        """The saved settings, or ``None`` if nothing was saved (or the file is
        unreadable, which is logged). Leftovers of interrupted saves are
        removed first; entries that are not valid settings are dropped, each
        with a warning."""
        self.clean_stale()
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            if is_resource_error(exc):
                raise  # out of descriptors: the modem cannot start at all
            log.warning("cannot read saved settings %s: %s", self.path, exc)
            return None
        try:
            data = json.loads(text)
        except ValueError as exc:
            log.warning("ignoring corrupt saved settings %s: %s", self.path, exc)
            return None
        if not isinstance(data, dict):
            log.warning("ignoring saved settings %s: not a JSON object", self.path)
            return None
        kept, problems = check_saved({str(k): v for k, v in data.items()})
        for problem in problems:
            log.warning("saved settings %s: %s; the default is used", self.path, problem)
        return kept

    def save(self, settings: Mapping[str, object]) -> None:
        """Write ``settings`` atomically (temp file, fsync, rename, fsync dir)."""
        text = json.dumps(dict(settings), indent=2, sort_keys=True) + "\n"
        self.state_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=self._temp_prefix(), suffix=".tmp", dir=self.state_dir)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        _fsync_dir(self.state_dir)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    return True


def _fsync_dir(path: Path) -> None:
    try:
        dfd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)


def default_state_dir() -> Path:
    """``$XDG_STATE_HOME/sim800emu``, or ``~/.local/state/sim800emu``."""
    base = os.environ.get("XDG_STATE_HOME") or ""
    root = Path(base) if base and os.path.isabs(base) else Path.home() / ".local" / "state"
    return root / "sim800emu"
