"""Plays every golden transcript against the real emulator through a real pty.

Each file in ``transcripts/`` is one case (README section 1): a fresh
``python -m sim800emu serve`` with its own empty state directory, started as
README section 3 prescribes; its pty is opened raw and the transcript is
played by :mod:`.player`; at the end, pass or fail, peers are closed, the
serial fd is closed and the emulator gets SIGTERM (SIGKILL after 5 s).  A
failure shows the player's diagnostic plus the emulator's stderr.

Files whose feature is not written yet are listed in ``EXPECTED_FAILURES``
(strict xfail: an unexpected pass fails too, so remove the entry when the
feature lands).  To see the real failure of one of them::

    .venv/bin/pytest tests/conformance -k echo.txt --runxfail

``--runxfail`` makes pytest ignore the xfail marks that :func:`cases` puts on
the parameters, so the case fails with its full diagnostic.  From Python,
``run_transcript(path, workdir)`` runs one case and returns its result.

Speed: the cases are independent and mostly wait (on the modem, on ``<!`` and
``~``), so a module fixture plays the selected cases in a thread pool
(``SIM800EMU_CONFORMANCE_JOBS``, default twice the CPU count, 2 to 8) and each
test reports its own case's result.  ``SIM800EMU_CONFORMANCE_JOBS=1`` plays
them one after the other.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from .player import Player, TranscriptFailure, make_raw
from .transcript import load

TRANSCRIPTS = Path(__file__).parent / "transcripts"

# Which issue makes a file pass (README section 4, column "needs").
CORE = "issue 2 (core)"
LINKS = "issue 3 (six links and server)"
TRANSPARENT = "issue 4 (transparent mode)"
CLIENTS = "issue 5 (client libraries)"

NEEDS: dict[str, str] = {
    "4.2.1-single-step-single-link.txt": CORE,
    "4.2.10-dns.txt": CORE,
    "4.2.11-udp.txt": CORE,
    "4.2.2-single-step-transparent.txt": TRANSPARENT,
    "4.2.3-single-step-multi-link.txt": LINKS,
    "4.2.4-multi-step-single-link.txt": CORE,
    "4.2.5-multi-step-transparent.txt": TRANSPARENT,
    "4.2.6-multi-step-multi-link.txt": LINKS,
    "4.2.7-server-multi-step.txt": LINKS,
    "4.2.7-server-single-step.txt": LINKS,
    "4.2.8-status-multi.txt": LINKS,
    "4.2.8-status-single.txt": CORE,
    "4.2.9-save-query-config.txt": CORE,
    "cmd-basic-startup.txt": CORE,
    "cmd-cipats.txt": CORE,
    "cmd-cipqsend.txt": CLIENTS,
    "cmd-ciprxget-multi.txt": CLIENTS,
    "cmd-ciprxget-single.txt": CLIENTS,
    "cmd-cipsend-variants.txt": CORE,
    "cmd-cipserver-multi-link.txt": LINKS,
    "cmd-cipshut-any-state.txt": CORE,
    "cmd-cipshut-multi.txt": LINKS,
    "cmd-cipsprt.txt": CORE,
    "cmd-cipstart-variants.txt": CORE,
    "cmd-cipstatus-single-states.txt": CORE,
    "cmd-cmee-errors.txt": CORE,
    "cmd-connect-fail-multi.txt": LINKS,
    "cmd-connect-fail.txt": CORE,
    "cmd-forms-apn.txt": CORE,
    "cmd-forms-ccfg-clport.txt": CORE,
    "cmd-forms-cipserver.txt": LINKS,
    "cmd-forms-dpdp-dns.txt": CORE,
    "cmd-forms-mux-mode.txt": CORE,
    "cmd-forms-network.txt": CORE,
    "cmd-forms-receive-headers.txt": CORE,
    "cmd-forms-send-options.txt": CORE,
    "cmd-framing-exact.txt": CORE,
    "cmd-line-discipline.txt": CORE,
    "cmd-multi-link-close-status.txt": LINKS,
    "cmd-receive-headers.txt": CORE,
    "cmd-remote-close-multi.txt": LINKS,
    "cmd-remote-close-single.txt": CORE,
    "cmd-state-refusals.txt": CORE,
    "echo.txt": CORE,
}
"""File name -> the issue whose feature it exercises (README section 4, "needs")."""

EXPECTED_FAILURES: dict[str, str] = {}
"""File name -> the issue that will make it pass, e.g. ``"x.txt": NEEDS["x.txt"]``.

Applied as ``xfail(strict=True)``: an entry whose file passes fails the run
(XPASS), so remove entries as features land.  Empty since every transcript
passes against the emulator (checked at commit e4a857a, 44 of 44).
"""

STARTUP_TIMEOUT = 10.0
"""Seconds the emulator has to create its ``--link`` symlink."""
STOP_TIMEOUT = 5.0
"""Seconds between SIGTERM and SIGKILL."""
LOG_TAIL = 4000
"""Characters of the emulator's stderr/stdout shown with a failure."""
JOBS_VARIABLE = "SIM800EMU_CONFORMANCE_JOBS"
_POLL = 0.01


# --------------------------------------------------------------------------- one case


def transcript_files() -> list[Path]:
    return sorted(TRANSCRIPTS.glob("*.txt"))


def emulator_command(workdir: Path) -> list[str]:
    """The command of README section 3, for a case playing in ``workdir``."""
    return [
        sys.executable,
        "-m",
        "sim800emu",
        "serve",
        "--link",
        str(workdir / "modem"),
        "--state-dir",
        str(workdir / "state"),
        "--host",
        "echo.test=127.0.0.1",
        "--dns-offline",
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
    command = emulator_command(workdir)
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
            player = Player(fd, transcript)
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


# --------------------------------------------------------------------------- parallel runs


def _jobs() -> int:
    value = os.environ.get(JOBS_VARIABLE)
    if value:
        return max(1, int(value))
    return max(2, min(8, 2 * (os.cpu_count() or 1)))


class ConformanceRuns:
    """Plays cases in a thread pool; :meth:`result` waits for one case."""

    def __init__(self, jobs: int, tmp_path_factory: pytest.TempPathFactory) -> None:
        self._factory = tmp_path_factory
        self._executor = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="conformance")
        self._futures: dict[str, Future[CaseResult]] = {}
        self._cancelled = threading.Event()
        self._players: set[Player] = set()

    def submit(self, name: str) -> None:
        if name not in self._futures:
            workdir = self._factory.mktemp(name, numbered=True)  # made in this thread
            self._futures[name] = self._executor.submit(
                run_transcript,
                TRANSCRIPTS / name,
                workdir,
                cancelled=self._cancelled,
                players=self._players,
            )

    def result(self, name: str) -> CaseResult:
        self.submit(name)
        return self._futures[name].result()

    def shutdown(self) -> None:
        self._cancelled.set()
        for player in list(self._players):
            player.cancel("the test session is finishing")
        self._executor.shutdown(wait=True, cancel_futures=True)


def cases() -> list[object]:
    """One parameter per transcript file, id = file name, xfail-marked per EXPECTED_FAILURES."""
    params: list[object] = []
    for path in transcript_files():
        reason = EXPECTED_FAILURES.get(path.name)
        marks = (
            [pytest.mark.xfail(strict=True, reason=reason, raises=pytest.fail.Exception)]
            if reason is not None
            else []
        )
        params.append(pytest.param(path.name, id=path.name, marks=marks))
    return params


@pytest.fixture(scope="module")
def conformance(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ConformanceRuns]:
    runs = ConformanceRuns(_jobs(), tmp_path_factory)
    # Start every selected case now, in collection order; each test then waits for its own.
    for item in request.session.items:
        callspec = getattr(item, "callspec", None)
        if getattr(item, "function", None) is test_transcript and callspec is not None:
            runs.submit(callspec.params["name"])
    try:
        yield runs
    finally:
        runs.shutdown()


@pytest.mark.parametrize("name", cases())
def test_transcript(name: str, conformance: ConformanceRuns) -> None:
    result = conformance.result(name)
    if result.error is not None:
        raise RuntimeError(f"the conformance runner broke on {name}:\n{result.error}")
    if result.failure is not None:
        pytest.fail(result.failure, pytrace=False)


# --------------------------------------------------------------------------- bookkeeping


def test_expected_failures_name_existing_transcripts() -> None:
    names = {path.name for path in transcript_files()}
    stale = sorted(set(EXPECTED_FAILURES) - names)
    assert not stale, f"EXPECTED_FAILURES names files that do not exist: {stale}"
    reasons = set(NEEDS.values())
    odd = {name: reason for name, reason in EXPECTED_FAILURES.items() if reason not in reasons}
    assert not odd, f"reasons that name no issue: {odd}"


def test_needs_matches_the_readme_index() -> None:
    """NEEDS must classify every transcript exactly as README section 4 does."""
    issue = {"core": CORE, "links": LINKS, "transparent": TRANSPARENT, "clients": CLIENTS}
    index: dict[str, str] = {}
    for line in (TRANSCRIPTS / "README.md").read_text().splitlines():
        match = re.match(r"\|\s*`([^`]+\.txt)`\s*\|\s*(\w+)\s*\|", line)
        if match:
            index[match.group(1)] = issue[match.group(2)]
    assert index == NEEDS
    assert set(index) == {path.name for path in transcript_files()}
