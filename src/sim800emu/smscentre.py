"""The SMS centre of one ``serve`` process: where the modems' messages go.

* Every whole message a modem sends (``SmsSent``) is kept in memory (``ctl
  SOCKET outbox``, the pytest fixture's ``outbox()``) and, with
  ``--sms-outbox FILE``, appended to FILE as one JSON object per line:
  ``time`` (UTC, ISO 8601), ``from``, ``to``, ``text``, ``encoding``
  (``gsm7``, ``8bit``, ``ucs2``), ``parts`` and ``reference``.
* A message to the number of another modem of the process (a ``--count``
  fleet, or another TCP connection) arrives at that modem.
* A sender that asked for status reports (CSMP <fo> 49, TP-SRR in a PDU)
  gets one per part: the message counts as delivered once the centre has it.
* ``ctl SOCKET sms FROM TEXT`` (control.py) hands an ``SmsIncoming`` to
  the modems directly, like a field fault.

Everything is handed to the runners from the event loop (``call_soon``),
never from inside the runner step that produced the request.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .core.events import SmsIncoming, SmsSent, SmsStatus

if TYPE_CHECKING:
    from .runtime import ModemRunner

log = logging.getLogger(__name__)

KEEP = 10_000  # messages kept in memory for ``outbox``


def msisdn_of(runner: ModemRunner) -> str:
    config = getattr(runner.modem, "config", None)
    identity = getattr(config, "identity", None)
    return str(getattr(identity, "msisdn", ""))


def _digits(number: str) -> str:
    return number[1:] if number.startswith("+") else number


class SmsCentre:
    def __init__(self, outbox: Path | None = None) -> None:
        self.outbox_path = outbox
        self.messages: list[dict[str, Any]] = []
        # every live modem (the runner's close unregisters it): a dict, so
        # that a fleet's thousands of reconnections each cost O(1)
        self._runners: dict[ModemRunner, None] = {}

    def register(self, runner: ModemRunner) -> None:
        self._runners[runner] = None

    def unregister(self, runner: ModemRunner) -> None:
        self._runners.pop(runner, None)

    def _live(self) -> list[ModemRunner]:
        return [r for r in self._runners if not r.closing]

    def submit(self, sender: ModemRunner, msg: SmsSent) -> None:
        now = time.time()
        entry: dict[str, Any] = {
            "time": _dt.datetime.fromtimestamp(now, _dt.UTC).isoformat(timespec="seconds"),
            "from": msisdn_of(sender),
            "to": msg.to,
            "text": msg.text,
            "encoding": msg.encoding,
            "parts": msg.parts,
            "reference": msg.reference,
        }
        self.messages.append(entry)
        del self.messages[:-KEEP]
        if self.outbox_path is not None:
            try:
                with open(self.outbox_path, "a", encoding="utf-8") as f:
                    f.write(json.dumps(entry, ensure_ascii=False) + "\n")
            except OSError as exc:
                log.error("cannot write the SMS outbox %s: %s", self.outbox_path, exc)
        loop = sender.loop
        for target in self._live():
            if target is not sender and _digits(msisdn_of(target)) == _digits(msg.to):
                loop.call_soon(target.deliver,
                               SmsIncoming(entry["from"], msg.text, now, msg.encoding))
        for mr in msg.report:
            loop.call_soon(sender.deliver, SmsStatus(mr, msg.to, now))
