"""The SMS family's state and rules (3GPP TS 27.005 as the SIM800 manual
V1.12 chapter 4 has it): one object per modem, ``Modem.sms``.

It owns the message settings (CMGF, CSDH, CSMP, CSCA, CPMS, CNMI, CSMS),
the storages (``store.Storages``, kept on the SIM: saved through the
``SaveSim`` request), the message reference counter, and the two directions
of traffic:

* outgoing: ``submit`` takes an SMS-SUBMIT from CMGS/CMSS, answers its
  TP-MR and hands whole messages to the SMS centre (``SmsSent``); the parts
  of a concatenated message are gathered by reference first;
* incoming: ``SmsIncoming`` (from the centre) becomes one SMS-DELIVER per
  part, stored in <mem3> or routed to the host per CNMI <mt>;
  ``SmsStatus`` becomes an SMS-STATUS-REPORT per CNMI <ds>.

Indications follow CNMI <mode>: 0 keeps them in the module's buffer (given
out when a later CNMI selects mode 1-3 with <bfr> 0); 1 drops them while the
line is reserved (data entry, data mode) -- the message itself stays
stored; 2 and 3 hold them while the line is reserved and give them out after
(the modem's URC rule). Text formatting of the result codes lives in
``commands/sms.py``; this module only asks it through ``render``.
"""

from __future__ import annotations

import datetime as _dt
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from ..events import SaveSim, SimContents, SmsIncoming, SmsSent, SmsStatus
from . import pdu as P
from .store import Stat, Storage, StorageFull, Storages

if TYPE_CHECKING:
    from ..modem import Modem

DEFAULT_SCA = "+8613800200500"
BUFFER_MAX = 32  # indications kept with CNMI mode 0 (the oldest go first)


class Cnmi:
    """AT+CNMI's five values, kept in the modem's settings (AT&W saves them,
    ATZ and a restart bring the saved ones back)."""

    __slots__ = ("_m",)

    def __init__(self, modem: Modem) -> None:
        self._m = modem

    def values(self) -> tuple[int, int, int, int, int]:
        s = self._m.settings
        return (s.cnmi_mode, s.cnmi_mt, s.cnmi_bm, s.cnmi_ds, s.cnmi_bfr)

    def set(self, mode: int, mt: int, bm: int, ds: int, bfr: int) -> None:
        s = self._m.settings
        s.cnmi_mode, s.cnmi_mt, s.cnmi_bm, s.cnmi_ds, s.cnmi_bfr = mode, mt, bm, ds, bfr

    @property
    def mode(self) -> int:
        return self._m.settings.cnmi_mode

    @property
    def mt(self) -> int:
        return self._m.settings.cnmi_mt

    @property
    def ds(self) -> int:
        return self._m.settings.cnmi_ds

    @property
    def bfr(self) -> int:
        return self._m.settings.cnmi_bfr


@dataclass(slots=True)
class Csmp:
    fo: int = 17
    vp: int = 167
    pid: int = 0
    dcs: int = 0


@dataclass(slots=True)
class _Gathering:
    """The parts of one outgoing concatenated message seen so far."""

    total: int
    alphabet: str
    parts: dict[int, bytes] = field(default_factory=dict)
    report: list[int] = field(default_factory=list)


class SmsService:
    def __init__(self, modem: Modem) -> None:
        self.m = modem
        self.csdh = 0
        self.csmp = Csmp()
        self.service = 0  # CSMS
        self.sca = DEFAULT_SCA  # CSCA (kept on the SIM)
        self.tosca = P.TOA_INTERNATIONAL
        self.mems = ["SM", "SM", "SM"]  # CPMS <mem1>,<mem2>,<mem3>
        self.cnmi = Cnmi(modem)  # in the settings (AT&W)
        self.cmms = 0
        self.cmghex = 0  # AT+CMGHEX (SIMCom): kept
        self.ccode = 0  # AT+CCODE (SIMCom): kept
        self.stores = Storages()
        self._mr = 0
        self._concat_ref = 1  # 1-255: a reference 0 trips some clients (docs/sms.md)
        self._buffer: deque[str] = deque(maxlen=BUFFER_MAX)  # CNMI mode 0
        self._waiting: deque[bytes] = deque()  # delivers that found <mem3> full
        self._gathering: dict[tuple[str, int], _Gathering] = {}
        self.restarts = 0  # a message on its way (sms_send) is lost at a restart
        # messages being typed after ``> `` (one per channel at most): their
        # ``abandon``; a channel closed under its entry (DISC of its DLC,
        # CLD) makes the family forget it (commands/sms.py ``_Entry``)
        self.entries: dict[object, Callable[[], None]] = {}

    # ------------------------------------------------------------ settings

    @property
    def text_mode(self) -> bool:
        """AT+CMGF (in the settings: AT&W saves it)."""
        return self.m.settings.cmgf == 1

    @text_mode.setter
    def text_mode(self, on: bool) -> None:
        self.m.settings.cmgf = int(on)

    def reset(self) -> None:
        """A restart: volatile settings back to their defaults (the SIM's
        content and centre stay; CMGF and CNMI come with the saved profile)."""
        self.csdh = 0
        self.csmp = Csmp()
        self.service = 0
        self.mems = ["SM", "SM", "SM"]
        self.cmghex = self.ccode = 0
        self._buffer.clear()
        self.restarts += 1
        self.forget_entries()
        self.m.cancel_timer("sms_send")

    @property
    def entry_pending(self) -> bool:
        """A message is being typed after ``> `` on some channel."""
        return bool(self.entries)

    def forget_entries(self) -> None:
        for abandon in list(self.entries.values()):
            abandon()
        self.entries.clear()

    def storage(self, which: int) -> Storage:
        """<mem1> (0), <mem2> (1) or <mem3> (2)."""
        return self.stores.get(self.mems[which])

    def next_mr(self) -> int:
        mr = self._mr
        self._mr = (self._mr + 1) % 256
        return mr

    # ------------------------------------------------------------ persistence

    def save(self) -> None:
        data: dict[str, object] = {"sca": self.sca, "tosca": self.tosca}
        data.update(self.stores.to_dict())
        self.m.request(SaveSim(data))

    def load(self, data: Mapping[str, object]) -> None:
        sca, tosca = data.get("sca"), data.get("tosca")
        if isinstance(sca, str):
            self.sca = sca
        if isinstance(tosca, int):
            self.tosca = tosca
        self.stores.load(data)

    # ------------------------------------------------------------ results

    def handle(self, result: SmsIncoming | SmsStatus | SimContents) -> None:
        if isinstance(result, SimContents):
            self.load(result.data)
        elif isinstance(result, SmsIncoming):
            self.receive(result)
        else:
            self.receive_status(result)

    def _timestamp(self, unix_time: float) -> P.Timestamp:
        """The centre's time stamp in the zone the module's clock keeps."""
        tz = self.m.radio.clock_tz
        when = _dt.datetime.fromtimestamp(unix_time, _dt.UTC) + _dt.timedelta(minutes=15 * tz)
        return P.Timestamp.from_datetime(when, tz)

    # ------------------------------------------------------------ outgoing

    def submit(self, submit: P.Submit) -> int:
        """An SMS-SUBMIT goes to the network: its TP-MR, and the centre
        learns of the message once it is whole."""
        mr = self.next_mr()
        alphabet = submit.alphabet
        info = P.concat_info(submit.udh) if submit.udh else None
        if info is None or info[1] <= 1:
            self.m.request(SmsSent(submit.da, P.text_of(submit.body, alphabet), alphabet, 1, mr,
                                   (mr,) if submit.srr else ()))
            return mr
        ref, total, seq = info
        key = (submit.da, ref)
        gathering = self._gathering.setdefault(key, _Gathering(total, alphabet))
        gathering.parts[seq] = submit.body
        if submit.srr:
            gathering.report.append(mr)
        if len(gathering.parts) >= gathering.total:
            del self._gathering[key]
            text = "".join(P.text_of(gathering.parts[k], gathering.alphabet)
                           for k in sorted(gathering.parts))
            self.m.request(SmsSent(submit.da, text, gathering.alphabet, gathering.total, ref,
                                   tuple(gathering.report)))
        return mr

    def submit_pdu_of(self, submit: P.Submit, mr: int) -> bytes:
        """How a SUBMIT is stored: the configured centre, then the TPDU."""
        return P.encode_sca(self.sca, self.tosca) + replace(submit, mr=mr).encode()

    # ------------------------------------------------------------ incoming

    def receive(self, msg: SmsIncoming) -> None:
        scts = self._timestamp(msg.unix_time)
        if msg.encoding == P.OCTET:
            alphabet = P.OCTET
            body = bytes(ord(c) & 0xFF for c in msg.text)
        else:
            alphabet = P.choose_alphabet(msg.text)
            body = P.body_of(msg.text, alphabet)
        parts = P.split_body(body, alphabet)
        ref = self._concat_ref
        if len(parts) > 1:
            self._concat_ref = self._concat_ref % 255 + 1
        centre = P.encode_sca(self.sca, self.tosca)
        for seq, part in enumerate(parts, 1):
            udh = P.concat_header(ref, len(parts), seq) if len(parts) > 1 else b""
            deliver = P.Deliver(msg.sender, P.default_toa(msg.sender), scts, part,
                                P.dcs_for(alphabet), udh=udh)
            self._route(centre + deliver.encode())

    def _route(self, pdu: bytes) -> None:
        mt = self.cnmi.mt
        if mt == 2 and self._may_indicate():
            from ..commands.sms import render_cmt

            self._indicate(render_cmt(self.m, pdu))
            return
        self._store_incoming(pdu, notify=mt in (1, 2, 3))

    def _store_incoming(self, pdu: bytes, notify: bool) -> None:
        mem = self.mems[2]
        try:
            index = self.stores.get(mem).add(Stat.REC_UNREAD, pdu)
        except StorageFull:
            self._waiting.append(pdu)  # the network keeps it until there is room
            return
        self.save()
        if notify:
            self._indicate(f'+CMTI: "{mem}",{index}')

    def room_made(self) -> None:
        """Messages were deleted: the network hands over what waited."""
        while self._waiting:
            storage = self.stores.get(self.mems[2])
            if storage.used >= storage.capacity:
                return
            self._store_incoming(self._waiting.popleft(), notify=self.cnmi.mt != 0)

    def receive_status(self, res: SmsStatus) -> None:
        scts = self._timestamp(res.unix_time)
        report = P.StatusReport(res.mr, res.recipient, P.default_toa(res.recipient), scts, scts,
                                res.status)
        if self.cnmi.ds != 1:
            return  # not routed to the TE: the module keeps no status report store
        from ..commands.sms import render_cds

        self._indicate(render_cds(self.m, report.encode()))

    # ------------------------------------------------------------ indications

    def _may_indicate(self) -> bool:
        """CNMI mode 1 drops indications while the line is reserved."""
        return not (self.cnmi.mode == 1 and self.m.line_reserved)

    def _indicate(self, text: str) -> None:
        mode = self.cnmi.mode
        if mode == 0:
            self._buffer.append(text)
        elif mode == 1 and self.m.line_reserved:
            return
        else:
            self.m.urc(text)

    def cnmi_changed(self) -> None:
        """CNMI <mode> 1-3 entered: the buffer is given out (bfr 0, after the
        OK) or cleared (bfr 1)."""
        if self.cnmi.mode == 0:
            return
        items = list(self._buffer)
        self._buffer.clear()
        if self.cnmi.bfr == 0:
            for text in items:
                self.m.urc(text)

