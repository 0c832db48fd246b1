"""Run a transcript against a fresh emulator: start ``sim800emu serve`` with
its own pty link and empty state directory, open the pty raw, play every step
(:mod:`.player`), and tear everything down, pass or fail. A failure comes
back as text: the player's diagnostic and the end of the emulator's stderr.

Used by the project's conformance suite and by ``sim800emu check``.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..transports.pty import make_raw
from .language import load
from .player import Player, TranscriptFailure

STARTUP_TIMEOUT = 10.0
"""Seconds the emulator has to create its ``--link`` symlink."""
STOP_TIMEOUT = 5.0
"""Seconds between SIGTERM and SIGKILL."""
LOG_TAIL = 4000
"""Characters of the emulator's stderr/stdout shown with a failure."""
_POLL = 0.01


# --------------------------------------------------------------------------- one case


def emulator_command(workdir: Path, args: Sequence[str] = ()) -> list[str]:
    """A fresh ``serve`` with its pty link and empty state in ``workdir``,
    plus ``args``."""
    return [
        sys.executable,
        "-m",
        "sim800emu",
        "serve",
        "--link",
        str(workdir / "modem"),
        "--state-dir",
        str(workdir / "state"),
        *args,
    ]


@dataclass(frozen=True)
class CaseResult:
    name: str
    seconds: float
    failure: str | None = None
    """The diagnostic when the transcript failed (or the emulator did not start)."""
    error: str | None = None
    """A traceback when the runner itself broke; never an expected failure."""


class _Stopped(Exception):
    pass


def _display_path(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _tail(path: Path, limit: int = LOG_TAIL) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"(cannot read {path}: {exc})"
    if len(text) > limit:
        text = f"[... {len(text) - limit} characters before ...]\n" + text[-limit:]
    return text


def _wait_for_link(
    proc: subprocess.Popen[bytes], link: Path, cancelled: threading.Event
) -> str | None:
    """Wait until the emulator's symlink points at an existing pty; return a problem or None."""
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while not link.exists():
        if proc.poll() is not None:
            return f"the emulator exited with status {proc.returncode} before creating {link}"
        if time.monotonic() >= deadline:
            return f"the emulator did not create {link} within {STARTUP_TIMEOUT:g} s"
        if cancelled.wait(_POLL):
            raise _Stopped
    return None


def _open_serial(link: Path) -> int:
    fd = os.open(link, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    try:
        make_raw(fd)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _stop(proc: subprocess.Popen[bytes]) -> str:
    """SIGTERM, then SIGKILL after STOP_TIMEOUT; describe how it ended."""
    if proc.poll() is not None:
        return f"had already exited with status {proc.returncode}"
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(STOP_TIMEOUT)
        return f"exited with status {proc.returncode} after SIGTERM"
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return f"did not exit within {STOP_TIMEOUT:g} s of SIGTERM and was killed"


def run_transcript(
    path: Path,
    workdir: Path,
    *,
    args: Sequence[str] = (),
    cancelled: threading.Event | None = None,
    players: set[Player] | None = None,
) -> CaseResult:
    """Run one case: fresh emulator in ``workdir``, play ``path``, tear everything down.

    ``cancelled`` stops a running case early; ``players`` receives the live
    player so that a supervisor can cancel its waiting step.
    """
    cancelled = cancelled or threading.Event()
    start = time.monotonic()
    name = path.name
    transcript = load(path, display_path=_display_path(path))
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "state").mkdir()
    link = workdir / "modem"
    stdout_path, stderr_path = workdir / "emulator.stdout", workdir / "emulator.stderr"
    control: Path | None = None
    extra = [*args, *transcript.serve_options]  # '# serve:' options come after the harness's
    if transcript.uses_control:
        control = workdir / "control.sock"
        extra += ["--control", str(control)]
    command = emulator_command(workdir, extra)
    failure: str | None = None
    error: str | None = None
    with open(stdout_path, "wb") as out, open(stderr_path, "wb") as err:
        proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            cwd=workdir,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    fd: int | None = None
    player: Player | None = None
    try:
        failure = _wait_for_link(proc, link, cancelled)
        if failure is None:
            fd = _open_serial(link)
            player = Player(fd, transcript, control=control)
            if players is not None:
                players.add(player)
            if cancelled.is_set():
                raise _Stopped
            player.run()
    except TranscriptFailure as exc:
        failure = str(exc)
    except _Stopped:
        failure = "stopped before the end (the test session is finishing)"
    except Exception:
        error = traceback.format_exc()
    finally:
        if player is not None:
            if players is not None:
                players.discard(player)
            player.close()
        if fd is not None:
            os.close(fd)
        ending = _stop(proc)
    if failure is None and error is None:
        return CaseResult(name, time.monotonic() - start)
    report = [
        failure if failure is not None else f"runner error:\n{error}",
        "",
        f"emulator: {ending}",
        f"  command: {shlex.join(command)}",
        f"  workdir: {workdir}",
        "emulator stderr:",
        _tail(stderr_path) or "(empty)",
    ]
    stdout = _tail(stdout_path)
    if stdout:
        report += ["emulator stdout:", stdout]
    text = "\n".join(report)
    if error is not None:
        return CaseResult(name, time.monotonic() - start, error=text)
    return CaseResult(name, time.monotonic() - start, failure=text)


