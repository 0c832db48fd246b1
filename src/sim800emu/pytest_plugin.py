"""pytest fixtures for testing your own modem code against sim800emu.

Installed with the package (entry point ``pytest11``), so in any project
that has ``sim800emu`` installed::

    def test_my_driver(sim800):
        with sim800.serial(timeout=1) as port:
            port.write(b"AT\\r")
            assert b"OK" in port.read_until(b"OK\\r\\n")

    def test_two_modems(sim800_factory):
        a = sim800_factory()
        b = sim800_factory("--imei", "123456789012345")

* ``sim800`` — one emulator (a ``sim800emu serve`` subprocess on a pty, with
  its own empty state directory and ``--dns-offline``), stopped after the
  test. Extra ``serve`` options come from a marker:
  ``@pytest.mark.sim800("--host", "echo.test=127.0.0.1", "--cold-boot")``; keywords
  are options too: ``@pytest.mark.sim800(scenario="flaky.toml", seed=3,
  time_scale=0.01)`` plays a scenario (docs/field-conditions.md).
* ``sim800_factory`` — call it (with extra ``serve`` options) for as many
  emulators as the test needs; all are stopped after the test.

Each emulator object has ``port`` (the pty device), ``link`` (a stable
symlink to it), ``state_dir``, ``serial(**kwargs)`` (an open
``serial.Serial``, closed with the emulator if you do not close it),
``fault(*words)`` (field faults and link speed through the control socket:
``fault("pdp-deact")``, ``fault("drop", "0")``, ``fault("latency", "800")``),
the far end of a voice call (``ring("+4915112345678")`` calls the modem,
``hangup()`` hangs up, ``dtmf("12#")`` presses keys), ``send_sms(sender, text)``
(an incoming SMS), ``outbox()`` (the SMS the modem sent, as dicts) and ``stop()``.

Nothing here runs unless a test asks for these fixtures.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    import serial

START_TIMEOUT = 15.0
STOP_TIMEOUT = 10.0


class EmulatorError(RuntimeError):
    pass


class Sim800Process:
    """A ``sim800emu serve`` subprocess on a pty (``launcher``: the command
    that stands for ``sim800emu``, by default this Python's ``-m sim800emu``)."""

    def __init__(
        self,
        workdir: Path,
        args: tuple[str, ...] = (),
        *,
        launcher: Sequence[str] | None = None,
        start_timeout: float = START_TIMEOUT,
        dns_offline: bool = True,
    ) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.workdir = workdir
        self.link = workdir / "modem"
        self.state_dir = workdir / "state"
        self.stderr_path = workdir / "stderr.txt"
        self.control = workdir / "control.sock"
        if launcher is None:
            launcher = (sys.executable, "-m", "sim800emu")
        cmd = [
            *launcher,
            "serve",
            "--link",
            str(self.link),
            "--state-dir",
            str(self.state_dir),
            "--control",
            str(self.control),
        ]
        if dns_offline and "--dns-offline" not in args:
            cmd.append("--dns-offline")
        cmd += list(args)
        self.command = cmd
        self._ports: list[serial.Serial] = []
        with open(self.stderr_path, "wb") as err:
            self.process = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=err, stderr=err)
        try:
            self._wait_ready(start_timeout)
        except BaseException:
            self.stop()
            raise
        self.port = os.path.realpath(self.link)

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if os.path.islink(self.link) and os.path.exists(self.link) and self.control.exists():
                return
            code = self.process.poll()
            if code is not None:
                raise EmulatorError(
                    f"sim800emu exited with code {code} before its port was ready:\n{self.stderr()}"
                )
            if time.monotonic() > deadline:
                raise EmulatorError(
                    f"sim800emu did not create {self.link} within {timeout} s:\n{self.stderr()}"
                )
            time.sleep(0.01)

    def stderr(self) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")
        except OSError:
            return ""

    def serial(self, **kwargs: Any) -> serial.Serial:
        """An open ``serial.Serial`` on the modem (8N1, ``timeout=1`` unless given)."""
        import serial as pyserial

        kwargs.setdefault("timeout", 1.0)
        kwargs.setdefault("baudrate", 115200)
        port = pyserial.Serial(self.port, **kwargs)
        self._ports.append(port)
        return port

    def fault(self, *words: str) -> str:
        """Inject a field fault or change the link, as ``sim800emu ctl``:
        ``fault("pdp-deact")``, ``fault("drop", "1")``, ``fault("register", "2")``,
        ``fault("latency", "800")``. Returns the answer; raises on an error."""
        from .control import send

        answer = send(self.control, " ".join(words))
        if not answer.startswith("ok"):
            raise EmulatorError(answer)
        return answer

    def ring(self, number: str) -> str:
        """Someone calls the modem from ``number`` (RING, +CLIP with AT+CLIP=1)."""
        return self.fault("ring", number)

    def hangup(self, number: str = "") -> str:
        """The far end of the newest call (or of the call with ``number``)
        hangs up (the modem prints NO CARRIER)."""
        return self.fault("hangup", number) if number else self.fault("hangup")

    def dtmf(self, keys: str) -> str:
        """The far end presses ``keys`` (+DTMF: <key> with AT+DDET=1)."""
        return self.fault("dtmf", keys)

    def send_sms(self, sender: str, text: str) -> str:
        """An incoming SMS from ``sender`` (the SMS centre splits a long
        text into concatenated parts), as ``sim800emu ctl SOCK sms``."""
        return self.fault("sms", sender, text)

    def outbox(self) -> list[dict[str, Any]]:
        """The messages the modem sent (time, from, to, text, encoding,
        parts, reference), oldest first."""
        import json

        answer = self.fault("outbox")
        messages: list[dict[str, Any]] = json.loads(answer[3:])
        return messages

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = STOP_TIMEOUT) -> int:
        """SIGTERM, wait (then SIGKILL); returns the exit code."""
        for port in self._ports:
            with contextlib.suppress(Exception):
                port.close()
        self._ports.clear()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def __enter__(self) -> Sim800Process:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _marker_args(request: pytest.FixtureRequest) -> tuple[str, ...]:
    args: list[str] = []
    for marker in reversed(list(request.node.iter_markers("sim800"))):
        args += [str(a) for a in marker.args]
        # keywords: scenario=PATH, seed=N, timing="realistic", time_scale=0.01, network=..., baud=N
        for key, value in marker.kwargs.items():
            args += [f"--{key.replace('_', '-')}", str(value)]
    return tuple(args)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "sim800(*args, **options): extra `sim800emu serve` options for the sim800 fixture "
        "(keywords too: scenario=PATH, seed=N, timing='realistic', time_scale=0.01)",
    )


@pytest.fixture
def sim800_factory(request: pytest.FixtureRequest) -> Iterator[Callable[..., Sim800Process]]:
    """Make emulators: ``sim800_factory(*serve_options)``; all stopped afterwards."""
    made: list[Sim800Process] = []
    # Short paths: a pty link in a deep pytest tmp dir is fine, but keep it tidy.
    root = Path(tempfile.mkdtemp(prefix="sim800emu-"))

    def make(*args: str, dns_offline: bool = True) -> Sim800Process:
        emu = Sim800Process(root / f"modem{len(made)}", tuple(args), dns_offline=dns_offline)
        made.append(emu)
        return emu

    try:
        yield make
    finally:
        for emu in made:
            emu.stop()
        import shutil

        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def sim800(
    request: pytest.FixtureRequest, sim800_factory: Callable[..., Sim800Process]
) -> Sim800Process:
    """One running emulator (options from ``@pytest.mark.sim800(...)``)."""
    return sim800_factory(*_marker_args(request))
