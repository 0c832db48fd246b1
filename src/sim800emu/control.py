"""The control channel: inject field faults into a running modem and ask
for its status, from another terminal or a test.

``sim800emu serve --control /tmp/modem.ctl`` listens on a Unix socket; each
line sent to it is one command, answered by one line (``ok ...`` or
``error: ...``). ``sim800emu ctl /tmp/modem.ctl pdp-deact`` is the client.

Commands (for every modem of the process; ``@N command`` for modem N of a
``--count`` fleet only):

    status               the IP state and every used link, the dial-up (PPP) call, DTR
                         and DCD (DCD per AT&C)
    pdp-deact            the network deactivates the PDP context (+PDP: DEACT)
    register <0-5>       GSM/GPRS registration (1 home, 5 roaming, 2 searching ...)
    signal <0-31|99>     what AT+CSQ reports
    drop <0-5>           the network drops a link (CLOSED)
    power-off            the supply fails: links gone, the modem silent
    power-on             a powered-down modem (AT+CPOWD, power-off) boots
    ring <number>        someone calls the modem (RING, +CLIP ...)
    hangup [number]      the far end of the newest call (or of the call with that
                         number) hangs up (NO CARRIER; calls between modems of the
                         process end with either modem's ATH); a dial-up (PPP) call:
                         the network ends it (LCP Terminate, NO CARRIER)
    dtr off|on           the host's DTR line (a pty has none): off in data mode acts
                         per AT&D (1: command mode, call kept; 2: hang up)
    dtmf <keys>          the far end presses keys (+DTMF with AT+DDET=1)
    latency <ms>         one-way delay of the radio link (slow GPRS)
    bandwidth <bytes/s>  per link and direction; 0 = unlimited
    sms <from> <text...> an incoming SMS (a long text arrives in concatenated parts)
    outbox               the SMS the modems sent: ``ok`` and a JSON list (``@N outbox``:
                         those modem N sent)
    freeze <D>           the module hangs for D (250ms, 5s): no answer, then it carries on
    slip <text>          TEXT comes between the next answer and its final result
    garbage <n>          n random bytes on the serial line
    under-voltage[-off]  UNDER-VOLTAGE WARNNING, or UNDER-VOLTAGE POWER DOWN and off
    dns-outage <D>       every name lookup fails for D
    refuse <host>        the next connect to HOST is refused
    timeout <host> [D]   the next connect to HOST times out (after D)
    nat-idle <D>         a carrier NAT forgets links idle longer than D (0s: never)
                         (the scenario actions, docs/field-conditions.md)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import re
import socket
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .core.events import CallerDtmf, CallerHangup, Fault, IncomingCall, Result, SmsIncoming
from .runtime import ModemRunner
from .smscentre import msisdn_of

_RANGES: dict[str, tuple[str, int, int]] = {
    "register": ("register", 0, 5),
    "signal": ("signal", 0, 31),  # or 99 (not known), as AT+CSQ reports
    "drop": ("drop-link", 0, 5),
}

MAX_LINE = 4096
"""The longest command line the control socket takes (bytes)."""


class ControlError(Exception):
    """The control socket cannot be opened (the message says why, in one line)."""


_PHONE = re.compile(r"\+?[0-9*#]{1,40}")
_KEYS = re.compile(r"[0-9*#A-Da-d]{1,40}")
_SENDER = re.compile(r"\+?[0-9A-Za-z]{1,20}")


def parse(line: str) -> Result | str:
    """A command line → a result (fault, call event) to deliver, or the name
    of a query."""
    words = line.split()
    if not words:
        raise ValueError("empty command")
    name, args = words[0].lower(), words[1:]
    if name in ("status", "help", "outbox") and not args:
        return name
    if name == "sms":
        parts = line.strip().split(maxsplit=2)
        if len(parts) == 3 and _SENDER.fullmatch(parts[1]):
            return SmsIncoming(parts[1], parts[2], time.time())
        raise ValueError("usage: sms FROM TEXT... (FROM: a number or a short name)")
    if name in ("latency", "bandwidth") and len(args) == 1 and args[0].isdigit():
        return f"{name} {int(args[0])}"
    if name in ("pdp-deact", "power-off", "power-on") and not args:
        return Fault(name)  # type: ignore[arg-type]
    if name == "ring" and len(args) == 1 and _PHONE.fullmatch(args[0]):
        return IncomingCall(args[0])
    if name == "hangup" and not args:
        return CallerHangup()
    if name == "hangup" and len(args) == 1 and _PHONE.fullmatch(args[0]):
        return CallerHangup(number=args[0])
    if name == "dtr" and len(args) == 1 and args[0].lower() in ("on", "off"):
        return Fault("dtr", 1 if args[0].lower() == "on" else 0)
    if name == "dtmf" and len(args) == 1 and _KEYS.fullmatch(args[0]):
        return CallerDtmf(args[0])
    if name in _RANGES and len(args) == 1 and args[0].isdigit():
        kind, lo, hi = _RANGES[name]
        value = int(args[0])
        if lo <= value <= hi or (name == "signal" and value == 99):
            return Fault(kind, value)  # type: ignore[arg-type]
        more = " or 99" if name == "signal" else ""
        raise ValueError(f"{name} takes {lo}-{hi}{more}, not {value}")
    raise ValueError(f"unknown or malformed command {line.strip()!r} (try 'help')")


def outbox(runners: Sequence[ModemRunner], every: bool = True) -> list[dict[str, object]]:
    """The messages the SMS centre recorded: all of them, or (``@N outbox``)
    those the given modems sent."""
    centres = [r.centre for r in runners if r.centre is not None]
    messages = list(centres[0].messages) if centres else []
    if every:
        return messages
    senders = {msisdn_of(r) for r in runners}
    return [m for m in messages if m["from"] in senders]


def _ip(modem: object) -> Any:
    """The modem's IP stack (``Modem.ip``), if the runner's modem has one."""
    return getattr(modem, "ip", None)


def summary(runners: Sequence[ModemRunner]) -> str:
    """One line for a whole process: modems per IP state, links, serial bytes."""
    states: dict[str, int] = {}
    links = 0
    for runner in runners:
        modem = runner.modem
        state_text: Callable[[], str] | None = getattr(_ip(modem), "state_text", None)
        state = state_text() if state_text is not None else "?"
        states[state] = states.get(state, 0) + 1
        links += sum(1 for link in getattr(_ip(modem), "links", ()) if link.active)
    total_in = sum(r.bytes_in for r in runners)
    total_out = sum(r.bytes_out for r in runners)
    by_state = ", ".join(f"{n} {state}" for state, n in sorted(states.items()))
    return (
        f"{len(runners)} modem(s): {by_state or 'none'}; {links} link(s) open; "
        f"serial {total_in:,} B in, {total_out:,} B out"
    )


def describe(runner: ModemRunner) -> str:
    status: Callable[[], str] | None = getattr(runner.modem, "status", None)
    text = status() if status is not None else "running"
    ppp = getattr(runner.modem, "ppp", None)  # the dial-up call, DTR, DCD
    powered = getattr(getattr(runner.modem, "mode", None), "value", "") != "off"
    more = str(ppp.status_text()) if ppp is not None and powered else ""
    if more:
        text += "; " + more
    return f"{runner.name or 'modem'}: {text}"



def _open_links(runner: ModemRunner) -> set[int]:
    return {link.n for link in getattr(_ip(runner.modem), "links", ()) if link.active}


def _answers(path: Path) -> bool:
    """Whether a process accepts connections on the Unix socket ``path``."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(1.0)
        try:
            sock.connect(str(path))
        except OSError:
            return False
    return True


class ControlServer:
    def __init__(self, path: Path, runners: Callable[[], Sequence[ModemRunner]]) -> None:
        self.path = path
        self._runners = runners
        self._server: asyncio.AbstractServer | None = None
        self._rng = random.Random(0)  # garbage bytes
        self._inode = -1

    async def start(self) -> None:
        """Listen on ``path``. A socket a running emulator answers on is not
        taken over, a stale one is replaced; anything else there, or a
        missing directory, is a :class:`ControlError`."""
        path = self.path
        if path.is_socket():
            if _answers(path):
                raise ControlError(f"--control {path} is in use by a running emulator")
            with contextlib.suppress(FileNotFoundError):
                path.unlink()  # left behind by an emulator that is gone
        elif path.exists() or path.is_symlink():
            raise ControlError(f"--control {path} exists and is not a socket")
        elif not path.parent.is_dir():
            raise ControlError(f"--control {path}: no such directory {path.parent}")
        try:
            self._server = await asyncio.start_unix_server(
                self._client, path=str(path), limit=MAX_LINE
            )
            os.chmod(path, 0o600)
            self._inode = path.stat().st_ino
        except OSError as exc:
            await self.aclose()
            raise ControlError(f"--control {path}: {exc.strerror or exc}") from None

    async def aclose(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        with contextlib.suppress(OSError):
            if self._inode >= 0 and self.path.stat().st_ino == self._inode:
                self.path.unlink()  # still ours
        self._inode = -1

    def execute(self, line: str) -> str:
        runners = list(self._runners())
        line_had_at = False
        words = line.split(maxsplit=1)
        if words and words[0].startswith("@"):
            index = words[0][1:]
            if not index.isdigit() or int(index) >= len(runners):
                return f"error: no modem {words[0]} (there are {len(runners)})"
            runners = [runners[int(index)]]
            line_had_at = True
            line = words[1] if len(words) > 1 else ""
        field = self._field(runners, line)
        if field is not None:
            return field
        try:
            what = parse(line)
        except ValueError as exc:
            return f"error: {exc}"
        if what == "help":
            return (
                "ok commands: status, pdp-deact, register 0-5, signal 0-31|99, drop 0-5, "
                "power-off, power-on, ring NUMBER, hangup [NUMBER], dtr off|on, dtmf KEYS, latency MS, "
                "bandwidth BYTES/S, sms FROM TEXT, outbox, freeze D, slip TEXT, garbage N, "
                "under-voltage, under-voltage-off, dns-outage D, refuse HOST, "
                "timeout HOST [D], nat-idle D; prefix @N for one modem"
            )
        if isinstance(what, str) and what.startswith(("latency", "bandwidth")):
            return self._shape(runners, what)
        if what == "outbox":
            return "ok " + json.dumps(outbox(runners, every=not line_had_at), ensure_ascii=True)
        if what == "status":
            if not runners:
                return "ok no modem"
            return "ok " + " | ".join(describe(r) for r in runners)
        assert not isinstance(what, str)
        if isinstance(what, Fault) and what.kind == "drop-link":
            runners = [r for r in runners if what.value in _open_links(r)]
            if not runners:
                return f"error: link {what.value} is not open"
        for runner in runners:
            runner.deliver(what)
        return f"ok {len(runners)} modem(s)"

    def _field(self, runners: Sequence[ModemRunner], line: str) -> str | None:
        """The scenario actions beyond the faults above (freeze, slip,
        garbage, under-voltage, dns-outage, refuse, timeout, nat-idle);
        None for any other command."""
        from .scenario import FIELD_ACTIONS, check_action, perform

        words = line.split()
        if not words or words[0].lower() not in FIELD_ACTIONS:
            return None
        try:
            action, args = check_action(line.strip())
        except ValueError as exc:
            return f"error: {exc}"
        done = [r for r in runners if perform(r, action, args, rng=self._rng)]
        if not done:
            return "error: this modem has no shaped link (start it with --control or --network)"
        return f"ok {len(done)} modem(s)"

    @staticmethod
    def _shape(runners: Sequence[ModemRunner], what: str) -> str:
        from .net.shaping import ShapedNet

        name, value = what.split()
        shaped = [r.net for r in runners if isinstance(r.net, ShapedNet)]
        if not shaped:
            return "error: this modem has no shaped link (start it with --control or --latency)"
        for net in shaped:
            if name == "latency":
                net.shape.latency = int(value) / 1000.0
            else:
                net.shape.set_bandwidth(int(value))
        return f"ok {len(shaped)} modem(s)"

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    line = await reader.readline()
                except ValueError:  # longer than MAX_LINE: answered, then hung up
                    writer.write(f"error: command longer than {MAX_LINE} bytes\n".encode())
                    await writer.drain()
                    return
                if not line:
                    return
                writer.write(self.execute(line.decode("utf-8", "replace")).encode() + b"\n")
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


def send(path: Path, command: str, timeout: float = 5.0) -> str:
    """The client side: one command, one answer line."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(str(path))
        sock.sendall(command.encode() + b"\n")
        answer = b""
        while not answer.endswith(b"\n"):
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
    return answer.decode().strip()
