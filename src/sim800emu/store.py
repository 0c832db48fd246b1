"""Where a modem's saved profile (AT+CIPSCONT, AT&W) lives between runs.

One JSON file per module identity in a state directory, e.g.
``~/.local/state/sim800emu/868183038764457.json``. Writes are atomic: the
new content goes to a temporary file in the same directory, is flushed to
disk, and then replaces the old file, so a crash leaves either the old or
the new settings, never half of each.
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

from .resources import is_resource_error

log = logging.getLogger(__name__)

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


class SettingsStore:
    """The saved settings of one module, keyed by its identity (the IMEI)."""

    def __init__(self, state_dir: Path | str, key: str) -> None:
        cleaned = _UNSAFE.sub("_", key).lstrip(".")
        if not cleaned:
            raise ValueError(f"unusable settings key {key!r}")
        self.state_dir = Path(state_dir).expanduser()
        self.key = key
        self.path = self.state_dir / f"{cleaned}.json"

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

    def load(self) -> dict[str, object] | None:
        """The saved settings, or ``None`` if nothing was saved (or the file is
        unreadable, which is logged)."""
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
        return {str(k): v for k, v in data.items()}

    def save(self, settings: Mapping[str, object]) -> None:
        """Write ``settings`` atomically (temp file, fsync, rename, fsync dir)."""
        text = json.dumps(dict(settings), indent=2, sort_keys=True) + "\n"
        self.state_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.state_dir)
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
