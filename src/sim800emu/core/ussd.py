"""USSD: the simulated network's service codes and the one session a module
has with it (AT+CUSD, manual V1.12 3.2.53; 3GPP TS 27.007 7.15).

Theory of operation
-------------------
The network knows a table of codes (``--ussd CODE=REPLY``). A request is
answered, ``Timing.ussd`` seconds later (``Host.delay``), by the URC
``+CUSD: <m>,"<str>",<dcs>`` when result codes are presented (``<n>`` = 1):

* ``<m>`` 0: the reply ends the session; 1: the network waits for an answer
  (a menu). A key ``CODE>ANSWER`` in the table is what the network replies to
  ANSWER sent inside the session that CODE opened (``*111#>1``, then
  ``*111#>1>2`` ...); a reply whose key has such continuations opens (keeps)
  the session, the others end it.
* a code the network does not know, or an answer it does not expect, ends the
  session with ``+CUSD: 4`` ("operation not supported": the manual's "When
  ussd is not suport or return error, TE will print +CUSD:4").
* ``<str>`` is spelled in the TE character set (AT+CSCS, ``core/charset.py``):
  a text the GSM 7-bit alphabet can carry has ``<dcs>`` 15 (GSM 7 bit,
  language unspecified) and is spelled as that set spells it (IRA/GSM as
  text, HEX two digits per GSM character, UCS2 four digits per character);
  any other text has ``<dcs>`` 72 (UCS2) and is spelled as UCS2 hex whatever
  the set, which is how TinyGSM and python-gsmmodem decode it.

``AT+CUSD=2`` ends the session (and forgets a reply still on its way).
"""

from __future__ import annotations

from collections.abc import Iterable

from .charset import CharsetError, gsm_encodable, ucs2_hex
from .host import Host

DCS_GSM = 15  # CBS data coding scheme: GSM 7 bit default alphabet, language unspecified
DCS_UCS2 = 72  # general data coding, uncompressed, UCS2
M_DONE, M_MORE, M_UNSUPPORTED = 0, 1, 4
SEP = ">"  # joins a session's path in the table keys: "*111#>1"
TIMER = "ussd"


class UssdService:
    """The network's USSD table and the module's USSD state."""

    __slots__ = ("_host", "_table", "pending", "presentation", "session")

    def __init__(self, host: Host, table: Iterable[tuple[str, str]]) -> None:
        self._host = host
        self._table = {code.strip(): reply for code, reply in table}
        self.presentation: int = 0  # AT+CUSD <n>: 1 shows the +CUSD result codes
        self.session: tuple[str, ...] = ()  # the path while the network waits for an answer
        self.pending: bool = False  # a request is on its way

    def reset(self) -> None:
        """Power cycle: no session, presentation off."""
        self._host.cancel_timer(TIMER)
        self.presentation = 0
        self.session = ()
        self.pending = False

    # ------------------------------------------------------------ requests

    def decode_request(self, typed: str) -> str:
        """What the host typed, as text: per CSCS when it spells something in
        that set (UCS2 hex ...), else as typed (TinyGSM sends ``*100#`` with
        CSCS="HEX")."""
        try:
            text = self._host.charset.decode(typed)
        except CharsetError:
            return typed
        return text if text else typed

    def request(self, text: str, reachable: bool = True, show: bool = False) -> None:
        """Send ``text`` (a code, or an answer inside the session); the reply
        comes later as a URC (also with presentation off when ``show``, for a
        code dialled with ATD). Without the network (``reachable`` False) it
        is +CUSD: 4 as for an unknown code."""
        self.pending = True
        if reachable:
            m, reply = self._lookup(text.strip())
        else:
            self.session = ()
            m, reply = M_UNSUPPORTED, ""
        self._host.start_timer(TIMER, self._host.delay("ussd"), lambda: self._reply(m, reply, show))

    def cancel(self) -> None:
        """AT+CUSD=2: end the session; a reply still on its way is dropped."""
        self._host.cancel_timer(TIMER)
        self.session = ()
        self.pending = False

    def _lookup(self, text: str) -> tuple[int, str]:
        candidates = [(*self.session, text)] if self.session else []
        candidates.append((text,))
        for path in candidates:
            key = SEP.join(path)
            reply = self._table.get(key)
            if reply is None:
                continue
            prefix = key + SEP
            if any(k.startswith(prefix) for k in self._table):
                self.session = path
                return M_MORE, reply
            self.session = ()
            return M_DONE, reply
        self.session = ()
        return M_UNSUPPORTED, ""

    def _reply(self, m: int, reply: str, show: bool) -> None:
        self.pending = False
        if not (self.presentation or show):
            return
        if m == M_UNSUPPORTED:
            self._host.urc(f"+CUSD: {M_UNSUPPORTED}")
            return
        text, dcs = self.spell(reply)
        self._host.urc(f'+CUSD: {m},"{text}",{dcs}')

    def spell(self, reply: str) -> tuple[str, int]:
        """``<str>`` and ``<dcs>`` of a reply under the current TE character set."""
        if gsm_encodable(reply):
            return self._host.charset.encode(reply), DCS_GSM
        return ucs2_hex(reply), DCS_UCS2
