"""Scenario files: field conditions on a timeline and on triggers, repeatable.

A scenario is a TOML file of ``[[step]]`` tables. Each step has one trigger
and one action (``do``)::

    [[step]]
    at = "30s"                          # once, 30 s after the start
    do = "signal 5"

    [[step]]
    every = "600s±60s"                  # again and again, seeded spread
    do = "pdp-deact"

    [[step]]
    after = "3rd CIPSEND on link 0"     # once, at the 3rd such command
    delay = "200ms"                     # ... and this long after it
    do = "drop 0"

    [[step]]
    when = "CIPSTART to api.example.com"   # every time (``times`` limits it)
    do = "refuse api.example.com"

Triggers: ``at``, ``every`` (``D`` or ``D±S``), ``after = "<Nth> <what>"``
and ``when = "<what>"``, where ``<what>`` is a command name (``CIPSEND``,
``CIPSEND on link 1``), ``CIPSTART to HOST``, ``state <IP STATE>`` (the
state AT+CIPSTATUS reports), ``data mode`` or a line the module prints in
double quotes (``"SEND OK"``). Actions: every ``ctl`` command (``pdp-deact``,
``register N``, ``signal N``, ``drop N``, ``power-off``, ``power-on``,
``ring NUMBER``, ``hangup``, ``dtmf KEYS``, ``latency MS``, ``bandwidth B/S``,
``sms FROM TEXT``) and ``freeze S``, ``slip TEXT``, ``garbage N``,
``under-voltage``, ``under-voltage-off``, ``dns-outage S``, ``refuse HOST``,
``timeout HOST [S]``, ``nat-idle S``.

Durations are ``250ms``, ``30s``, ``2m`` or ``1h``; every time in a scenario
is multiplied by ``--time-scale``. Random choices (the ``±`` spread, garbage
bytes) come from a generator seeded with ``--seed``: the same seed and the
same host behaviour give the same serial transcript.

Errors name the file, the line and the key (``scenario.toml:7: key 'do':
unknown action 'reboot'``); ``load`` raises ``ScenarioError`` with that line.
"""

from __future__ import annotations

import random
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .runtime import ModemRunner


class ScenarioError(ValueError):
    """A scenario that cannot be used; the message is one line."""


# ------------------------------------------------------------ the file


@dataclass(frozen=True, slots=True)
class Step:
    line: int  # of its [[step]] header
    trigger: str  # at, every, after, when
    time: float = 0.0  # at / every: seconds
    spread: float = 0.0  # every: ± seconds
    count: int = 1  # after: the Nth occurrence
    what: str = ""  # after / when: what to watch (normalised)
    link: int | None = None  # "... on link N"
    delay: float = 0.0
    times: int = 0  # when: at most this many times (0: no limit)
    action: str = ""
    args: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    steps: tuple[Step, ...]


_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)\s*")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_ORDINAL = re.compile(r"(\d+)(?:st|nd|rd|th)\s+(.+)", re.IGNORECASE)
_ON_LINK = re.compile(r"(.+?)\s+on\s+link\s+([0-5])", re.IGNORECASE)
_TO_HOST = re.compile(r"CIPSTART\s+to\s+(\S+)", re.IGNORECASE)
_COMMAND = re.compile(r"(?:AT)?\+?([A-Z][A-Z0-9]*)", re.IGNORECASE)
_KEYS = {"at", "every", "after", "when", "delay", "do", "times"}
ACTIONS = (
    "pdp-deact", "register", "signal", "drop", "power-off", "power-on", "ring", "hangup",
    "dtmf", "latency", "bandwidth", "sms", "freeze", "slip", "garbage", "under-voltage",
    "under-voltage-off", "dns-outage", "refuse", "timeout", "nat-idle",
)


def duration(text: str) -> float:
    m = _DURATION.fullmatch(text)
    if m is None:
        raise ValueError(f"{text!r} is not a duration (e.g. 250ms, 30s, 2m)")
    return float(m.group(1)) * _UNITS[m.group(2)]


def _key_lines(text: str) -> tuple[list[int], dict[tuple[int, str], int]]:
    """Where each [[step]] starts, and the line of each key in it."""
    headers: list[int] = []
    keys: dict[tuple[int, str], int] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if re.fullmatch(r"\[\[\s*step\s*\]\]", line):
            headers.append(number)
            continue
        m = re.match(r"([A-Za-z_-]+)\s*=", line)
        if m is not None:
            keys.setdefault((len(headers) - 1, m.group(1)), number)
    return headers, keys


def parse(text: str, name: str = "scenario") -> Scenario:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{name}: not valid TOML: {exc}") from None
    headers, key_lines = _key_lines(text)

    def fail(index: int, key: str | None, message: str) -> ScenarioError:
        line = key_lines.get((index, key or ""), headers[index] if 0 <= index < len(headers) else 1)
        where = f" key {key!r}:" if key else ""
        return ScenarioError(f"{name}:{line}:{where} {message}")

    for key in data:
        if key != "step":
            raise fail(-1, key, "unknown key (a scenario is a list of [[step]] tables)")
    raw_steps = data.get("step", [])
    if not isinstance(raw_steps, list) or not raw_steps:
        raise ScenarioError(f"{name}:1: no [[step]] (a scenario is a list of [[step]] tables)")
    steps = []
    for index, raw in enumerate(raw_steps):
        if not isinstance(raw, dict):
            raise fail(index, None, "a step is a table")
        steps.append(_step(raw, index, headers[index] if index < len(headers) else 1, fail))
    return Scenario(name, tuple(steps))


def _step(
    raw: dict[str, object], index: int, line: int,
    fail: Callable[[int, str | None, str], ScenarioError],
) -> Step:
    for key, value in raw.items():
        if key not in _KEYS:
            raise fail(index, key, f"unknown key (one of {', '.join(sorted(_KEYS))})")
        if key == "times":
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise fail(index, key, "must be a whole number >= 1")
        elif not isinstance(value, str):
            raise fail(index, key, "must be a string")
    triggers = [k for k in ("at", "every", "after", "when") if k in raw]
    if len(triggers) != 1:
        raise fail(index, None, "needs exactly one of at, every, after, when")
    trigger = triggers[0]
    text = str(raw[trigger]).strip()
    fields: dict[str, object] = {"line": line, "trigger": trigger}
    try:
        if trigger == "at":
            fields["time"] = duration(text)
        elif trigger == "every":
            base, _, spread = text.replace("+/-", "±").partition("±")
            fields["time"] = duration(base)
            fields["spread"] = duration(spread) if spread else 0.0
            if fields["time"] == 0.0:
                raise ValueError("the period must be more than 0")
        elif trigger == "after":
            m = _ORDINAL.fullmatch(text)
            if m is None:
                raise ValueError(f"{text!r}: expected '<Nth> <what>', e.g. '3rd CIPSEND'")
            fields["count"] = int(m.group(1))
            if fields["count"] == 0:
                raise ValueError("counts start at 1st")
            fields.update(_what(m.group(2)))
        else:
            fields.update(_what(text))
    except ValueError as exc:
        raise fail(index, trigger, str(exc)) from None
    if "delay" in raw:
        try:
            fields["delay"] = duration(str(raw["delay"]))
        except ValueError as exc:
            raise fail(index, "delay", str(exc)) from None
    if "times" in raw:
        if trigger != "when" and trigger != "every":
            raise fail(index, "times", "only 'when' and 'every' steps repeat")
        fields["times"] = raw["times"]
    if "do" not in raw:
        raise fail(index, None, "needs 'do' (the action)")
    try:
        action, args = check_action(str(raw["do"]))
    except ValueError as exc:
        raise fail(index, "do", str(exc)) from None
    fields["action"], fields["args"] = action, args
    return Step(**fields)  # type: ignore[arg-type]


def _what(text: str) -> dict[str, object]:
    """A trigger's subject, normalised: ``cmd:CIPSEND``, ``to:host``,
    ``state:IP STATUS``, ``data``, ``out:SEND OK``."""
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return {"what": "out:" + text[1:-1]}
    if text.lower() == "data mode":
        return {"what": "data"}
    if text.lower().startswith("state "):
        return {"what": "state:" + text[6:].strip().upper()}
    m = _TO_HOST.fullmatch(text)
    if m is not None:
        return {"what": "to:" + m.group(1).strip('"').lower()}
    link = None
    m = _ON_LINK.fullmatch(text)
    if m is not None:
        text, link = m.group(1), int(m.group(2))
    m = _COMMAND.fullmatch(text.strip())
    if m is None:
        raise ValueError(
            f"{text!r}: expected a command (CIPSEND), 'CIPSTART to HOST', 'state IP STATUS', "
            "'data mode' or a line in double quotes"
        )
    return {"what": "cmd:+" + m.group(1).upper(), "link": link}


def check_action(text: str) -> tuple[str, tuple[str, ...]]:
    """``do = "..."``: the action and its arguments (ValueError if wrong)."""
    from . import control

    words = text.split()
    if not words:
        raise ValueError("empty action")
    action, args = words[0].lower(), tuple(words[1:])
    if action not in ACTIONS:
        raise ValueError(f"unknown action {words[0]!r} (one of {', '.join(ACTIONS)})")
    if action == "sms":
        control.parse(text)
        return action, tuple(text.split(maxsplit=2)[1:])
    if action == "slip":
        if not args:
            raise ValueError("usage: slip TEXT (the line slipped before a final result)")
        return action, (" ".join(args),)
    if action in ("freeze", "dns-outage", "nat-idle"):
        if len(args) != 1:
            raise ValueError(f"usage: {action} DURATION")
        duration(args[0])
        return action, args
    if action == "garbage":
        if len(args) != 1 or not args[0].isdigit() or not 1 <= int(args[0]) <= 4096:
            raise ValueError("usage: garbage N (1-4096 bytes)")
        return action, args
    if action in ("under-voltage", "under-voltage-off"):
        if args:
            raise ValueError(f"{action} takes no argument")
        return action, args
    if action in ("refuse", "timeout"):
        if not 1 <= len(args) <= (2 if action == "timeout" else 1):
            raise ValueError("usage: refuse HOST" if action == "refuse" else
                             "usage: timeout HOST [DURATION]")
        if len(args) == 2:
            duration(args[1])
        return action, args
    control.parse(text)  # every other ctl command, checked as ctl checks it
    return action, args


def load(path: Path) -> Scenario:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{path}: cannot read it: {exc}") from None
    return parse(text, str(path))


# ------------------------------------------------------------ playing it


_STATE_LINE = re.compile(rb"\r\n([^\r\n]*)\r\n")


class ScenarioPlayer:
    """Plays one scenario on one modem (a ``runtime.Watcher``)."""

    def __init__(self, runner: ModemRunner, scenario: Scenario, *, seed: int = 0,
                 scale: float = 1.0, connect_timeout: float = 75.0) -> None:
        self.runner = runner
        self.scenario = scenario
        self.scale = scale
        self.connect_timeout = connect_timeout
        self.rng = random.Random(seed)
        self.fired: list[tuple[float, int, str]] = []  # (time, step line, action) for tests
        self._counts: dict[int, int] = {}
        self._done: set[int] = set()
        self._line = bytearray()  # the host's command line being typed
        self._out = bytearray()  # the modem's output line being printed
        self._state = ""
        self._data = False
        self._handles: list[object] = []
        self._start = runner.loop.time()

    def start(self) -> None:
        self.runner.watchers.append(self)
        for i, step in enumerate(self.scenario.steps):
            if step.trigger == "at":
                self._later(step.time * self.scale, i)
            elif step.trigger == "every":
                self._schedule_every(i)
        self._state = self._modem_state()

    def stop(self) -> None:
        for handle in self._handles:
            handle.cancel()  # type: ignore[attr-defined]
        self._handles.clear()

    # ---------------------------------------------------------- time

    def _later(self, seconds: float, index: int) -> None:
        loop = self.runner.loop
        self._handles.append(loop.call_later(max(0.0, seconds), self._fire, index))

    def _schedule_every(self, index: int) -> None:
        step = self.scenario.steps[index]
        period = step.time + (self.rng.uniform(-step.spread, step.spread) if step.spread else 0)
        loop = self.runner.loop

        def again() -> None:
            self._fire(index)
            if not step.times or self._counts.get(index, 0) < step.times:
                self._schedule_every(index)

        self._handles.append(loop.call_later(max(0.001, period * self.scale), again))

    # ---------------------------------------------------------- watching

    def host_bytes(self, data: bytes) -> None:
        if self._data or getattr(self.runner.modem, "line_reserved", False):
            return  # data, not commands
        for byte in data:
            if byte in (13, 10):
                if self._line:
                    self._command_line(bytes(self._line).decode("latin-1"))
                    self._line.clear()
            elif len(self._line) < 600:
                self._line.append(byte)

    def modem_bytes(self, data: bytes) -> None:
        self._out += data
        *lines, rest = self._out.split(b"\r\n")
        self._out = bytearray(rest[-600:])
        for line in lines:
            if line:
                self._seen(f"out:{line.decode('latin-1')}", None)

    def stepped(self) -> None:
        state = self._modem_state()
        if state != self._state:
            self._state = state
            self._seen(f"state:{state.upper()}", None)
        mode = getattr(self.runner.modem, "mode", None)
        data = getattr(mode, "name", "") == "DATA"
        if data and not self._data:
            self._seen("data", None)
        self._data = data

    def _modem_state(self) -> str:
        state_text: Callable[[], str] | None = getattr(getattr(self.runner.modem, "ip", None), "state_text", None)
        return state_text() if state_text is not None else ""

    def _command_line(self, line: str) -> None:
        upper = line.upper()
        if "AT" not in upper:
            return
        multi = bool(getattr(self.runner.modem, "multi", False))
        for m in re.finditer(r"\+([A-Z][A-Z0-9]*)(=[^;]*)?", upper):
            name, args = m.group(1), (m.group(2) or "")[1:]
            link = 0
            if multi and args[:1].isdigit():
                link = int(args[:1])
            self._seen(f"cmd:+{name}", link)
            if name == "CIPSTART":
                host = re.search(r'"(?:TCP|UDP)"\s*,\s*"([^"]*)"', upper)
                if host is not None:
                    self._seen(f"to:{host.group(1).lower()}", link)

    def _seen(self, what: str, link: int | None) -> None:
        for i, step in enumerate(self.scenario.steps):
            if step.trigger not in ("after", "when") or step.what != what or i in self._done:
                continue
            if step.link is not None and step.link != link:
                continue
            seen = self._counts.get(i, 0) + 1
            self._counts[i] = seen
            if step.trigger == "after":
                if seen < step.count:
                    continue
                self._done.add(i)
            elif step.times and seen >= step.times:
                self._done.add(i)
            if step.delay:
                self._later(step.delay * self.scale, i)
            else:
                self._fire(i)

    # ---------------------------------------------------------- acting

    def _fire(self, index: int) -> None:
        step = self.scenario.steps[index]
        if step.trigger == "every":
            self._counts[index] = self._counts.get(index, 0) + 1
        runner = self.runner
        if runner.closing:
            return
        self.fired.append((runner.loop.time() - self._start, step.line, step.action))
        self.act(step.action, step.args)

    def act(self, action: str, args: tuple[str, ...]) -> None:
        perform(self.runner, action, args, rng=self.rng, scale=self.scale,
                connect_timeout=self.connect_timeout)


# The actions beyond ctl's own commands (``ctl`` takes them too).
FIELD_ACTIONS = ("freeze", "slip", "garbage", "under-voltage", "under-voltage-off",
                 "dns-outage", "refuse", "timeout", "nat-idle")


def perform(runner: ModemRunner, action: str, args: tuple[str, ...], *, rng: random.Random,
            scale: float = 1.0, connect_timeout: float = 75.0) -> bool:
    """Carry out a checked action (``check_action``) on ``runner``; False
    when it needs a shaped link the modem does not have."""
    from . import control
    from .core.events import Fault
    from .net.shaping import ShapedNet

    net = runner.net if isinstance(runner.net, ShapedNet) else None
    now = runner.loop.time()
    if action == "freeze":
        runner.freeze(duration(args[0]) * scale)
    elif action == "slip":
        runner.slip(args[0])
    elif action == "garbage":
        runner.inject(rng.randbytes(int(args[0])))
    elif action in ("under-voltage", "under-voltage-off"):
        runner.deliver(Fault("under-voltage", 1 if action.endswith("off") else 0))
    elif action in ("dns-outage", "refuse", "timeout", "nat-idle", "latency", "bandwidth"):
        if net is None:
            return False
        faults = net.faults
        if action == "dns-outage":
            faults.dns_down_until = now + duration(args[0]) * scale
        elif action == "refuse":
            faults.refuse[args[0].lower()] = 1
        elif action == "timeout":
            seconds = duration(args[1]) if len(args) > 1 else connect_timeout
            faults.blackhole[args[0].lower()] = (1, seconds * scale)
        elif action == "nat-idle":
            faults.nat_idle = duration(args[0]) * scale
        elif action == "latency":
            net.shape.latency = int(args[0]) / 1000.0 * scale
        else:
            net.shape.set_bandwidth(int(args[0]))
    else:
        what = control.parse(" ".join((action, *args)))
        if not isinstance(what, str):
            runner.deliver(what)
    return True


def attach(runner: ModemRunner, scenario: Scenario, *, seed: int = 0, scale: float = 1.0,
           connect_timeout: float = 75.0) -> ScenarioPlayer:
    player = ScenarioPlayer(runner, scenario, seed=seed, scale=scale,
                            connect_timeout=connect_timeout)
    player.start()
    return player
