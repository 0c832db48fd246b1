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
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

from sim800emu.transcript.player import Player
from sim800emu.transcript.runner import CaseResult, run_transcript

TRANSCRIPTS = Path(__file__).parent / "transcripts"

# Which issue makes a file pass (README section 4, column "needs").
CORE = "issue 2 (core)"
LINKS = "issue 3 (six links and server)"
TRANSPARENT = "issue 4 (transparent mode)"
CLIENTS = "issue 5 (client libraries)"
APPS = "issue 12 (bearer, HTTP and FTP applications)"
VOICE = "issue 11 (USSD and calls)"
GENERAL = "issue 11 (the general command set)"
SMS = "issue 11 (SMS and the SMS centre)"
PPP = "issue 16 (dial-up data, PPP)"
CMUX = "issue 17 (the multiplexer)"

NEEDS: dict[str, str] = {
    "app-ftp.txt": APPS,
    "app-http-errors.txt": APPS,
    "app-http-fona.txt": APPS,
    "app-http-get.txt": APPS,
    "app-http-post.txt": APPS,
    "app-http-sim800l-driver.txt": APPS,
    "app-sapbr.txt": APPS,
    "cmd-calls.txt": VOICE,
    "cmd-calls-waiting.txt": VOICE,
    "cmd-forms-calls.txt": VOICE,
    "cmd-ussd.txt": VOICE,
    "cmd-forms-gprs.txt": GENERAL,
    "cmd-general-27007.txt": GENERAL,
    "cmd-general-v25ter.txt": GENERAL,
    "cmd-general-profiles.txt": GENERAL,
    "cmd-network-time.txt": GENERAL,
    "cmd-phonebook.txt": GENERAL,
    "cmd-sim-pin.txt": GENERAL,
    "cmd-simcom-general.txt": GENERAL,
    "cmd-sms-boot.txt": SMS,
    "cmd-sms-pdu.txt": SMS,
    "cmd-sms-text.txt": SMS,
    "cmd-sms-status-report.txt": SMS,
    "cmd-sms-tinygsm.txt": SMS,
    "ppp-dial.txt": PPP,
    "ppp-clients.txt": PPP,
    "ppp-dial-errors.txt": PPP,
    "cmux-esp-modem.txt": CMUX,
    "cmux-forms.txt": CMUX,
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

JOBS_VARIABLE = "SIM800EMU_CONFORMANCE_JOBS"
CONVENTION_ARGS = ("--host", "echo.test=127.0.0.1", "--dns-offline")
"""README section 3: the harness starts every modem with these options."""


def transcript_files() -> list[Path]:
    return sorted(TRANSCRIPTS.glob("*.txt"))


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
                args=CONVENTION_ARGS,
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
    issue = {"core": CORE, "links": LINKS, "transparent": TRANSPARENT, "clients": CLIENTS,
             "apps": APPS, "voice": VOICE, "general": GENERAL, "sms": SMS, "ppp": PPP,
             "cmux": CMUX}
    index: dict[str, str] = {}
    for line in (TRANSCRIPTS / "README.md").read_text().splitlines():
        match = re.match(r"\|\s*`([^`]+\.txt)`\s*\|\s*(\w+)\s*\|", line)
        if match:
            index[match.group(1)] = issue[match.group(2)]
    assert index == NEEDS
    assert set(index) == {path.name for path in transcript_files()}
