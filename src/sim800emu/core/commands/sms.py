"""SMS commands of 3GPP TS 27.005 (manual V1.12 chapter 4) and AT+CMGDA
(6.2.24). The family's state and rules live in ``core/sms`` (``m.sms``);
this module parses the commands and formats their answers and the +CMT /
+CDS result codes, in text mode (CMGF=1, per CSCS and CSDH) and PDU mode.

Errors: a malformed command is ``ERROR``; a message service failure is
``+CMS ERROR: <err>`` (27.005 3.2.5), shown per AT+CMEE like +CME ERROR.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from ..charset import CharsetError
from ..parser import Arg, Command
from ..registry import (
    PENDING,
    CmsError,
    CommandError,
    F,
    Int,
    Outcome,
    Str,
    Value,
    command,
    ok,
    syntax_error,
    text,
)
from ..sms import pdu as P
from ..sms.store import MEMORIES, STAT_BY_TEXT, Stat, Storage

if TYPE_CHECKING:
    from ..modem import Modem

MAN = "manual V1.12 4.2"
LF, CR, BS, CTRL_Z, ESC = 0x0A, 0x0D, 0x08, 0x1A, 0x1B
MAX_ENTRY = 4096  # bytes kept of one message entry (a longer one is refused)
NUMBER_CHARS = set("0123456789*#+abcABC")

INVALID_PDU = 304
INVALID_TEXT = 305
SIM_BUSY = 314
INVALID_INDEX = 321
MEMORY_FULL = 322
NO_NETWORK = 331
NOT_ALLOWED = 302


# ---------------------------------------------------------------- helpers


def _ready(m: Modem) -> None:
    """Storage and sending need the SIM's SMS part: SIM busy until SMS
    Ready; with the SIM off (AT+CFUN=0) the operation is not allowed."""
    if not m.radio.sim_ready:
        raise CmsError(SIM_BUSY if m.radio.cfun == 1 else NOT_ALLOWED)


def _network(m: Modem) -> None:
    """Sending needs the network: radio on and registered."""
    if not m.radio.registered:
        raise CmsError(NO_NETWORK)


def _int(args: Sequence[Arg], i: int, lo: int, hi: int, default: int | None = None) -> int:
    if i >= len(args) or (args[i].text == "" and not args[i].quoted):
        if default is None:
            raise syntax_error()
        return default
    t = args[i].text.strip()
    if args[i].quoted or not (t.isascii() and t.isdigit()):
        raise syntax_error()
    value = int(t)
    if not lo <= value <= hi:
        raise syntax_error()
    return value


def _is_number(text: str) -> bool:
    digits = text[1:] if text.startswith("+") else text
    return bool(digits) and set(digits) <= NUMBER_CHARS - {"+"} and len(digits) <= 20


def _number(m: Modem, arg: Arg, err: int) -> str:
    """A <da> in the TE character set. A number that the set cannot read
    (``"+8613..."`` under HEX or UCS2) is taken as typed, as the module
    does for sim800l-gsm-module's HEX mode (docs/sms.md)."""
    try:
        number = m.charset.decode(arg.text)
    except CharsetError:
        number = ""
    if _is_number(number):
        return number
    if _is_number(arg.text):
        return arg.text
    raise CmsError(err)


def _shown(m: Modem, number: str) -> str:
    return m.charset.encode(number)


def _stat_text(arg: Arg) -> Stat | None:
    """A text-mode <stat>; None for "ALL"."""
    name = arg.text.strip().upper()
    if name == "ALL":
        return None
    stat = STAT_BY_TEXT.get(name)
    if stat is None:
        raise CmsError(INVALID_TEXT)
    return stat


def _decode(pdu: bytes) -> tuple[str, int, bytes, P.Tpdu]:
    sca, tosca, tpdu = P.decode_sca(pdu)
    return sca, tosca, tpdu, P.decode_tpdu(tpdu)


def _data(m: Modem, t: P.Submit | P.Deliver) -> tuple[str, int]:
    """<data> in text mode and its <length>: GSM text in the TE character
    set (length in characters); 8-bit, UCS2 or a message with a user-data
    header in hex (length in octets)."""
    if t.alphabet == P.GSM7 and not t.udh:
        chars = P.text_of(t.body, P.GSM7)
        return m.charset.encode(chars), len(chars)
    raw = (bytes([len(t.udh)]) + t.udh if t.udh else b"") + t.body
    return raw.hex().upper(), len(raw)


def _report_fields(m: Modem, r: P.StatusReport) -> str:
    return (f'{r.fo},{r.mr},"{_shown(m, r.ra)}",{r.tora},"{r.scts.text()}",'
            f'"{r.dt.text()}",{r.st}')


def _text_lines(m: Modem, pdu: bytes, lead: str, listing: bool) -> list[str]:
    """A stored or routed message in text mode: the header after ``lead``
    (``+CMGR: "REC READ",`` ...) and its data line."""
    sca, tosca, _tpdu, t = _decode(pdu)
    csdh = m.sms.csdh == 1
    if isinstance(t, P.StatusReport):
        return [lead + _report_fields(m, t)]
    data, length = _data(m, t)
    if isinstance(t, P.Deliver):
        head = f'"{_shown(m, t.oa)}","","{t.scts.text()}"'
        if csdh and listing:
            head += f",{t.tooa},{length}"
        elif csdh:
            head += (f",{t.tooa},{t.fo},{t.pid},{t.dcs},"
                     f'"{_shown(m, sca)}",{tosca},{length}')
    else:
        head = f'"{_shown(m, t.da)}",""'
        if listing:
            head += "," + (f",{t.toda},{length}" if csdh else "")
        elif csdh:
            vp = f",{t.vp[0]}" if t.vpf == 2 and t.vp else ""
            head += (f",{t.toda},{t.fo},{t.pid},{t.dcs}{vp},"
                     f'"{_shown(m, sca)}",{tosca},{length}')
        if listing and not csdh:
            head = head[:-1]
    return [lead + head, data]


def render_cmt(m: Modem, pdu: bytes) -> str:
    """+CMT for a message routed to the host (CNMI <mt> 2)."""
    if not m.sms.text_mode:
        return f'+CMT: "",{len(P.decode_sca(pdu)[2])}\r\n{pdu.hex().upper()}'
    return "\r\n".join(_text_lines(m, pdu, "+CMT: ", listing=False))


def render_cds(m: Modem, tpdu: bytes) -> str:
    """+CDS for a status report routed to the host (CNMI <ds> 1)."""
    if not m.sms.text_mode:
        full = P.encode_sca(m.sms.sca, m.sms.tosca) + tpdu
        return f"+CDS: {len(tpdu)}\r\n{full.hex().upper()}"
    report = P.decode_tpdu(tpdu)
    assert isinstance(report, P.StatusReport)
    return "+CDS: " + _report_fields(m, report)


def _check_index(storage: Storage, index: int) -> None:
    if not 1 <= index <= storage.capacity:
        raise CmsError(INVALID_INDEX)


# ---------------------------------------------------------------- data entry


class _Entry:
    """The message typed after ``> ``: Ctrl-Z sends it, ESC abandons it
    (answered OK, nothing sent or stored). Text mode echoes what is typed
    (with ATE1) and starts a new ``> `` line on CR; PDU mode ignores blanks
    and line ends."""

    __slots__ = ("buf", "closed", "done", "first", "m", "overflow", "text_mode")

    def __init__(self, m: Modem, done: Callable[[bytes, bool], None]) -> None:
        self.m = m
        self.done = done
        self.text_mode = m.sms.text_mode
        self.buf = bytearray()
        self.first = True
        self.overflow = False
        self.closed = False
        m.sms.entries[self] = self.abandon

    def abandon(self) -> None:
        """The channel closed under the entry (DISC, CLD) or the module
        restarted: the message is forgotten, nothing is sent or stored."""
        self.closed = True
        self.buf.clear()
        self.m.sms.entries.pop(self, None)

    def feed(self, data: bytes, i: int) -> int:
        m = self.m
        n = len(data)
        if self.closed:
            return n
        if self.first:
            self.first = False
            if i < n and data[i] == LF:  # the LF of the command line's CR LF
                i += 1
        z = data.find(b"\x1a", i)
        e = data.find(b"\x1b", i)
        end = z if e < 0 else e if z < 0 else min(z, e)
        piece = data[i:] if end < 0 else data[i:end]
        if piece:
            self._add(piece)
        if end < 0:
            return n
        m.end_line_entry()
        m.sms.entries.pop(self, None)
        if data[end] == CTRL_Z:
            try:
                self.done(bytes(self.buf), self.overflow)
            except CommandError as err:
                m.error(err)
        else:
            m.final("OK")
        m.settle()
        return end + 1

    def _add(self, piece: bytes) -> None:
        m = self.m
        if not self.text_mode:
            piece = piece.translate(None, b" \r\n\t")
            if BS in piece:
                for b in piece:
                    if b == BS:
                        if self.buf:
                            self.buf.pop()
                    else:
                        self._keep(bytes([b]))
            else:
                self._keep(piece)
            return
        for chunk in _split_keep(piece):
            if chunk == b"\r":
                m.raw_output(b"\r\n> ")
                self._keep(b"\n")
            elif chunk == b"\n":
                if not self.buf or self.buf[-1:] != b"\n":
                    self._keep(b"\n")
            elif chunk == b"\x08":
                if self.buf:
                    self.buf.pop()
                if m.settings.echo:
                    m.raw_output(chunk)
            else:
                if m.settings.echo:
                    m.raw_output(chunk)
                self._keep(chunk)

    def _keep(self, data: bytes) -> None:
        if len(self.buf) + len(data) > MAX_ENTRY:
            self.overflow = True
            return
        self.buf += data


def _split_keep(piece: bytes) -> list[bytes]:
    """``piece`` cut around CR, LF and BS (each of those alone)."""
    out: list[bytes] = []
    start = 0
    for k, b in enumerate(piece):
        if b in (CR, LF, BS):
            if k > start:
                out.append(piece[start:k])
            out.append(piece[k : k + 1])
            start = k + 1
    if start < len(piece):
        out.append(piece[start:])
    return out


def _prompt(m: Modem, done: Callable[[bytes, bool], None]) -> Outcome:
    m.raw_output(b"\r\n> ")
    entry = _Entry(m, done)
    return m.begin_line_entry(entry.feed, entry.abandon)


def _text_submit(m: Modem, da: str, toda: int, data: bytes, overflow: bool) -> P.Submit:
    """An SMS-SUBMIT from text typed in text mode, per CSMP and CSCS."""
    csmp = m.sms.csmp
    alphabet = P.alphabet_of(csmp.dcs)
    typed = data.decode("latin-1")
    if overflow:
        raise CmsError(INVALID_TEXT)
    try:
        if alphabet == P.GSM7:
            body = P.to_septets(m.charset.decode(typed))
        else:
            body = bytes.fromhex(typed.replace("\n", ""))
    except (CharsetError, P.PduError, ValueError):
        raise CmsError(INVALID_TEXT) from None
    if len(body) > P.SINGLE_LIMIT[alphabet]:
        raise CmsError(INVALID_TEXT)
    vpf = csmp.fo >> 3 & 3
    vp = bytes([csmp.vp & 0xFF]) if vpf == 2 else (bytes(7) if vpf else b"")
    return P.Submit(da, toda, body, csmp.dcs, csmp.pid, b"", 0, bool(csmp.fo & 0x20), vpf, vp,
                    bool(csmp.fo & 0x04), bool(csmp.fo & 0x80))


def _pdu_entry(data: bytes, length: int, overflow: bool) -> tuple[str, int, bytes, P.Tpdu]:
    """The hex PDU typed in PDU mode: centre address, TPDU of ``length``."""
    if overflow:
        raise CmsError(INVALID_PDU)
    try:
        raw = bytes.fromhex(data.decode("latin-1"))
        sca, tosca, tpdu, t = _decode(raw)
    except (ValueError, P.PduError):
        raise CmsError(INVALID_PDU) from None
    if len(tpdu) != length:
        raise CmsError(INVALID_PDU)
    return sca, tosca, tpdu, t


def _da_args(m: Modem, args: Sequence[Arg]) -> tuple[str, int]:
    if not args:
        raise syntax_error()
    da = _number(m, args[0], INVALID_TEXT)
    toda = _int(args, 1, 0, 255, P.default_toa(da))
    return da, toda


# ---------------------------------------------------------------- settings


def _cmgf_read(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    m.info(f"+CMGF: {int(m.sms.text_mode)}")


def _cmgf_write(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    if not m.radio.sim_ready:
        raise CommandError(None)  # before SMS Ready (reference, Seeed #39)
    m.sms.text_mode = values[0] == 1


command("+CMGF", "SMS format: 0 PDU (default), 1 text; ERROR until SMS Ready", "manual V1.12 4.2.2",
        test=F(text("+CMGF: (0,1)")), read=F(_cmgf_read),
        write=F(_cmgf_write, sig=(Int(0, 1, optional=True),)))


def _csdh_read(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    m.info(f"+CSDH: {m.sms.csdh}")


def _csdh_write(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    m.sms.csdh = int(values[0] or 0)


command("+CSDH", "Show text mode parameters (full +CMGR/+CMGL/+CMT headers)", "manual V1.12 4.2.14",
        test=F(text("+CSDH: (0,1)")), read=F(_csdh_read),
        write=F(_csdh_write, sig=(Int(0, 1, optional=True),)))


def _csmp_read(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    c = m.sms.csmp
    m.info(f"+CSMP: {c.fo},{c.vp},{c.pid},{c.dcs}")


def _csmp_write(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    args = cmd.args
    if len(args) > 4:
        raise syntax_error()
    c = m.sms.csmp
    fo = _int(args, 0, 0, 255, c.fo)
    vp = c.vp
    if len(args) > 1 and args[1].quoted:
        if len(args[1].text) > 20:
            raise syntax_error()  # an absolute validity period: accepted, not kept
    else:
        vp = _int(args, 1, 0, 255, c.vp)
    pid = _int(args, 2, 0, 255, c.pid)
    dcs = _int(args, 3, 0, 255, c.dcs)
    c.fo, c.vp, c.pid, c.dcs = fo, vp, pid, dcs


command("+CSMP", "Text mode parameters <fo>,<vp>,<pid>,<dcs> (fo 49: status report)",
        "manual V1.12 4.2.15",
        test=F(text("+CSMP: (0-255),(0-255),(0-255),(0-255)")), read=F(_csmp_read),
        write=F(_csmp_write, sig=None))


def _csca_read(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    _ready(m)
    m.info(f'+CSCA: "{_shown(m, m.sms.sca)}",{m.sms.tosca}')


def _csca_write(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    _ready(m)
    typed = str(values[0])
    try:
        sca = m.charset.decode(typed)
    except CharsetError:
        sca = ""

    def digits_only(number: str) -> bool:
        digits = number[1:] if number.startswith("+") else number
        return digits.isascii() and digits.isdigit() and len(digits) <= 20

    if not digits_only(sca):
        if not digits_only(typed):
            raise syntax_error()
        sca = typed  # a number the TE set cannot read is taken as typed (as for <da>)
    m.sms.sca = sca
    m.sms.tosca = int(values[1]) if values[1] is not None else P.default_toa(sca)
    m.sms.save()


command("+CSCA", "SMS service centre address (kept on the SIM)", "manual V1.12 4.2.12",
        test=F(ok), read=F(_csca_read),
        write=F(_csca_write, sig=(Str(40), Int(0, 255, optional=True))))


def _csms_read(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    m.info(f"+CSMS: {m.sms.service},1,1,1")


def _csms_write(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    m.sms.service = int(values[0] or 0)
    m.info("+CSMS: 1,1,1")


command("+CSMS", "Select message service", "manual V1.12 4.2.16",
        test=F(text("+CSMS: (0,1)")), read=F(_csms_read),
        write=F(_csms_write, sig=(Int(0, 1),)))

_MEM_LIST = "(" + ",".join(f'"{x}"' for x in MEMORIES) + ")"


def _cpms_counts(m: Modem) -> list[str]:
    out = []
    for mem in m.sms.mems:
        storage = m.sms.stores.get(mem)
        out.append(f"{storage.used},{storage.capacity}")
    return out


def _cpms_read(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    _ready(m)
    parts = [f'"{mem}",{c}' for mem, c in zip(m.sms.mems, _cpms_counts(m), strict=True)]
    m.info("+CPMS: " + ",".join(parts))


def _cpms_write(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    _ready(m)
    mems = list(m.sms.mems)
    for k, value in enumerate(values):
        if value is None:
            continue
        name = str(value).strip().upper()
        if name not in MEMORIES:
            raise CmsError(NOT_ALLOWED)
        mems[k] = name
    m.sms.mems = mems
    m.info("+CPMS: " + ",".join(_cpms_counts(m)))


command("+CPMS", "Preferred message storages <mem1>,<mem2>,<mem3>: SM (50) or ME (150)",
        "manual V1.12 4.2.9",
        test=F(text(f"+CPMS: {_MEM_LIST},{_MEM_LIST},{_MEM_LIST}")), read=F(_cpms_read),
        write=F(_cpms_write, sig=(Str(8), Str(8, optional=True), Str(8, optional=True))))


def _cnmi_read(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    m.info("+CNMI: " + ",".join(str(v) for v in m.sms.cnmi.values()))


def _cnmi_write(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    cnmi = m.sms.cnmi
    if values[2] not in (None, 0, 2):
        raise syntax_error()
    new = [old if v is None else int(v) for v, old in zip(values, cnmi.values(), strict=True)]
    cnmi.set(*new)
    m.sms.cnmi_changed()


command("+CNMI", "New message indications: +CMTI, +CMT, +CDS per <mode>,<mt>,<bm>,<ds>,<bfr>",
        "manual V1.12 4.2.8",
        test=F(text("+CNMI: (0-3),(0-3),(0,2),(0,1),(0,1)")), read=F(_cnmi_read),
        write=F(_cnmi_write, sig=(Int(0, 3), Int(0, 3, optional=True), Int(0, 2, optional=True),
                                  Int(0, 1, optional=True), Int(0, 1, optional=True))))


def _cmms_read(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    m.info(f"+CMMS: {m.sms.cmms}")


def _cmms_write(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    m.sms.cmms = int(values[0] or 0)


command("+CMMS", "More messages to send (kept; every send is immediate here)", "3GPP TS 27.005 3.5.6 (not in manual V1.12)",
        test=F(text("+CMMS: (0-2)")), read=F(_cmms_read),
        write=F(_cmms_write, sig=(Int(0, 2, optional=True),)))


def _cscb_read(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    m.info('+CSCB: 0,"",""')


command("+CSCB", "Cell broadcast types (accepted; no broadcasts arrive)", "manual V1.12 4.2.13",
        test=F(text("+CSCB: (0,1)")), read=F(_cscb_read),
        write=F(ok, sig=(Int(0, 1), Str(100, optional=True), Str(100, optional=True))))


def _cmghex_read(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    m.info(f"+CMGHEX: {m.sms.cmghex}")


def _cmghex_write(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    m.sms.cmghex = int(values[0] or 0)


command("+CMGHEX", "Send GSM codes 0x00-0x7F as typed in text mode with CSCS \"GSM\" (kept; "
        "always so here)", "manual V1.12 6.2.30",
        test=F(text("+CMGHEX: (0,1)")), read=F(_cmghex_read),
        write=F(_cmghex_write, sig=(Int(0, 1),)))


def _ccode_read(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    m.info(f"+CCODE: {m.sms.ccode}")


def _ccode_write(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    m.sms.ccode = int(values[0] or 0)


command("+CCODE", "SMS code mode: 0 NOKIA, 1 SIEMENS compatible (kept, no effect)",
        "manual V1.12 6.2.31",
        test=F(text("+CCODE: (0,1)")), read=F(_ccode_read),
        write=F(_ccode_write, sig=(Int(0, 1),)))


def _csas(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    m.sms.save()


command("+CSAS", "Save SMS settings (the centre is always kept on the SIM)", "manual V1.12 4.2.11",
        test=F(text("+CSAS: (0-3)")), exec=F(_csas), write=F(_csas, sig=(Int(0, 3),)))
command("+CRES", "Restore SMS settings", "manual V1.12 4.2.10",
        test=F(text("+CRES: (0-3)")), exec=F(ok), write=F(ok, sig=(Int(0, 3),)))


# ---------------------------------------------------------------- sending


def _cmgs(m: Modem, values: tuple[Value, ...], cmd: Command) -> Outcome:
    _ready(m)
    svc = m.sms
    args = cmd.args
    if svc.text_mode:
        if len(args) > 2:
            raise syntax_error()
        da, toda = _da_args(m, args)

        def send_text(data: bytes, overflow: bool) -> None:
            submit = _text_submit(m, da, toda, data, overflow)
            _network(m)
            _send_later(m, submit)

        return _prompt(m, send_text)
    if len(args) != 1:
        raise syntax_error()
    length = _int(args, 0, 1, P.MAX_UD + 24)

    def send_pdu(data: bytes, overflow: bool) -> None:
        _sca, _tosca, _tpdu, t = _pdu_entry(data, length, overflow)
        if not isinstance(t, P.Submit):
            raise CmsError(INVALID_PDU)
        _network(m)
        _send_later(m, t)

    return _prompt(m, send_pdu)


def _send_later(m: Modem, submit: P.Submit) -> None:
    """The message leaves when the network took it: ``sms_send`` seconds
    (field-conditions timing; 0 in the fast profile: at once), then
    ``+CMGS: <mr>`` and OK. The line is busy meanwhile."""

    restarts = m.sms.restarts

    def sent() -> None:
        if m.sms.restarts != restarts:
            return  # the module restarted meanwhile: the message never left
        m.info(f"+CMGS: {m.sms.submit(submit)}")
        m.final("OK")

    wait = m.delay("sms_send")
    if wait > 0:
        m.busy_for(wait, sent)
    else:
        sent()


command("+CMGS", "Send a message: text (=\"<da>\") or PDU (=<length>) after the > prompt",
        "manual V1.12 4.2.5",
        test=F(ok), write=F(_cmgs, sig=None))


def _cmgw(m: Modem, values: tuple[Value, ...], cmd: Command) -> Outcome:
    _ready(m)
    svc = m.sms
    args = cmd.args
    storage = svc.storage(1)
    if svc.text_mode:
        if len(args) > 3:
            raise syntax_error()
        da, toda = _da_args(m, args) if args else ("", P.TOA_UNKNOWN)
        stat = Stat.STO_UNSENT
        if len(args) > 2:
            chosen = _stat_text(args[2])
            if chosen not in (Stat.STO_UNSENT, Stat.STO_SENT):
                raise CmsError(INVALID_TEXT)
            stat = chosen

        def store_text(data: bytes, overflow: bool) -> None:
            submit = _text_submit(m, da, toda, data, overflow)
            _store(m, storage, stat, svc.submit_pdu_of(submit, 0), "+CMGW")

        return _prompt(m, store_text)
    if not args or len(args) > 2:
        raise syntax_error()
    length = _int(args, 0, 1, P.MAX_UD + 24)
    stat = Stat(_int(args, 1, 0, 3, 2))

    def store_pdu(data: bytes, overflow: bool) -> None:
        sca, tosca, tpdu, _t = _pdu_entry(data, length, overflow)
        centre = P.encode_sca(sca, tosca) if sca else P.encode_sca(svc.sca, svc.tosca)
        _store(m, storage, stat, centre + tpdu, "+CMGW")

    return _prompt(m, store_pdu)


def _store(m: Modem, storage: Storage, stat: Stat, pdu: bytes, name: str) -> None:
    from ..sms.store import StorageFull

    try:
        index = storage.add(stat, pdu)
    except StorageFull:
        raise CmsError(MEMORY_FULL) from None
    m.sms.save()
    m.info(f"{name}: {index}")
    m.final("OK")


def _cmgw_exec(m: Modem, values: tuple[Value, ...], cmd: Command) -> Outcome:
    return _cmgw(m, values, cmd)


command("+CMGW", "Write a message to <mem2>: text (=\"<da>\"[,<toda>[,<stat>]]) or PDU "
        "(=<length>[,<stat>]) after the > prompt", "manual V1.12 4.2.6",
        test=F(ok), write=F(_cmgw, sig=None), exec=F(_cmgw_exec))


def _cmss(m: Modem, values: tuple[Value, ...], cmd: Command) -> Outcome | None:
    _ready(m)
    svc = m.sms
    args = cmd.args
    if not args or len(args) > 3:
        raise syntax_error()
    storage = svc.storage(1)
    index = _int(args, 0, 0, 65535)
    _check_index(storage, index)
    record = storage.get(index)
    if record is None:
        raise CmsError(INVALID_INDEX)
    try:
        _sca, _tosca, _tpdu, t = _decode(record.pdu)
    except P.PduError:
        raise CmsError(500) from None
    if not isinstance(t, P.Submit):
        raise CmsError(NOT_ALLOWED)
    if len(args) > 1:
        da = _number(m, args[1], INVALID_PDU if not svc.text_mode else INVALID_TEXT)
        t = replace(t, da=da, toda=_int(args, 2, 0, 255, P.default_toa(da)))
    elif not t.da:
        raise CmsError(INVALID_TEXT if svc.text_mode else INVALID_PDU)
    _network(m)

    def sent() -> None:
        mr = svc.submit(t)
        if record.stat is Stat.STO_UNSENT:
            record.stat = Stat.STO_SENT
            svc.save()
        m.info(f"+CMSS: {mr}")

    wait = m.delay("sms_send")
    if wait <= 0:
        sent()
        return None

    def later() -> None:
        sent()
        m.complete()

    m.start_timer("sms_send", wait, later)
    return PENDING


command("+CMSS", "Send a stored message from <mem2> (optionally to another number)",
        "manual V1.12 4.2.7", test=F(ok), write=F(_cmss, sig=None))


# ---------------------------------------------------------------- reading


def _cmgr(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    _ready(m)
    svc = m.sms
    storage = svc.storage(0)
    index, mode = values
    assert isinstance(index, int)
    _check_index(storage, index)
    record = storage.get(index)
    if record is None:
        return  # an empty place: OK alone
    if svc.text_mode:
        try:
            lines = _text_lines(m, record.pdu, f'+CMGR: "{record.stat.text}",', listing=False)
        except P.PduError:
            raise CmsError(500) from None
    else:
        tpdu_len = _tpdu_len(record.pdu)
        lines = [f'+CMGR: {int(record.stat)},"",{tpdu_len}', record.pdu.hex().upper()]
    m.info(*lines)
    if record.stat is Stat.REC_UNREAD and mode != 1:
        record.stat = Stat.REC_READ
        svc.save()


def _tpdu_len(pdu: bytes) -> int:
    try:
        return len(P.decode_sca(pdu)[2])
    except P.PduError:
        return max(0, len(pdu) - 1)


command("+CMGR", "Read a message from <mem1> (an unread one becomes read unless <mode> 1)",
        "manual V1.12 4.2.4",
        test=F(ok), write=F(_cmgr, sig=(Int(0, 65535), Int(0, 1, optional=True))))


def _cmgl_test(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    if m.sms.text_mode:
        m.info('+CMGL: ("REC UNREAD","REC READ","STO UNSENT","STO SENT","ALL")')
    else:
        m.info("+CMGL: (0-4)")


def _cmgl(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    _ready(m)
    svc = m.sms
    args = cmd.args
    if len(args) > 2:
        raise syntax_error()
    wanted: Stat | None
    if svc.text_mode:
        wanted = _stat_text(args[0]) if args else Stat.REC_UNREAD
    else:
        if args and args[0].quoted:
            raise CmsError(INVALID_PDU)
        code = _int(args, 0, 0, 4, 0)
        wanted = None if code == 4 else Stat(code)
    mode = _int(args, 1, 0, 1, 0)
    lines: list[str] = []
    changed = False
    for index, record in svc.storage(0).items():
        if wanted is not None and record.stat is not wanted:
            continue
        if svc.text_mode:
            try:
                lines += _text_lines(m, record.pdu, f'+CMGL: {index},"{record.stat.text}",',
                                     listing=True)
            except P.PduError:
                continue
        else:
            lines += [f'+CMGL: {index},{int(record.stat)},"",{_tpdu_len(record.pdu)}',
                      record.pdu.hex().upper()]
        if record.stat is Stat.REC_UNREAD and mode != 1:
            record.stat = Stat.REC_READ
            changed = True
    if lines:
        m.info(*lines)
    if changed:
        svc.save()


command("+CMGL", "List messages of <mem1> by status (text: \"ALL\" ...; PDU: 0-4)",
        "manual V1.12 4.2.3",
        test=F(_cmgl_test), exec=F(_cmgl), write=F(_cmgl, sig=None))


# ---------------------------------------------------------------- deleting

_DELFLAG: dict[int, tuple[Stat, ...]] = {
    1: (Stat.REC_READ,),
    2: (Stat.REC_READ, Stat.STO_SENT),
    3: (Stat.REC_READ, Stat.STO_SENT, Stat.STO_UNSENT),
    4: tuple(Stat),
}


def _delete_where(m: Modem, stats: tuple[Stat, ...]) -> None:
    storage = m.sms.storage(0)
    doomed = [i for i, r in storage.items() if r.stat in stats]
    for index in doomed:
        storage.delete(index)
    if doomed:
        m.sms.save()
        m.sms.room_made()


def _cmgd_test(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    used = ",".join(str(i) for i, _r in m.sms.storage(0).items())
    m.info(f"+CMGD: ({used}),(0-4)")


def _cmgd(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    _ready(m)
    index, flag = values
    assert isinstance(index, int)
    if flag:
        _delete_where(m, _DELFLAG[int(flag)])
        return
    storage = m.sms.storage(0)
    _check_index(storage, index)
    if storage.delete(index):
        m.sms.save()
        m.sms.room_made()


command("+CMGD", "Delete a message of <mem1>, or by <delflag> 1-4", "manual V1.12 4.2.1",
        test=F(_cmgd_test),
        write=F(_cmgd, sig=(Int(0, 65535), Int(0, 4, optional=True))))

_CMGDA_TEXT: dict[str, tuple[Stat, ...]] = {
    "DEL READ": (Stat.REC_READ,),
    "DEL UNREAD": (Stat.REC_UNREAD,),
    "DEL SENT": (Stat.STO_SENT,),
    "DEL UNSENT": (Stat.STO_UNSENT,),
    "DEL INBOX": (Stat.REC_READ, Stat.REC_UNREAD),
    "DEL ALL": tuple(Stat),
}
_CMGDA_PDU = dict(enumerate(_CMGDA_TEXT.values(), 1))


def _cmgda_test(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    if m.sms.text_mode:
        m.info("+CMGDA: (" + ",".join(f'"{k}"' for k in _CMGDA_TEXT) + ")")
    else:
        m.info("+CMGDA: (1-6)")


def _cmgda(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    _ready(m)
    args = cmd.args
    if len(args) != 1:
        raise syntax_error()
    if m.sms.text_mode:
        stats = _CMGDA_TEXT.get(args[0].text.strip().upper())
        if stats is None:
            raise CmsError(INVALID_TEXT)
    else:
        if args[0].quoted:
            raise CmsError(INVALID_PDU)
        stats = _CMGDA_PDU[_int(args, 0, 1, 6)]
    _delete_where(m, stats)


command("+CMGDA", "Delete all messages of a kind (text: \"DEL ALL\" ...; PDU: 1-6)",
        "manual V1.12 6.2.24",
        test=F(_cmgda_test), write=F(_cmgda, sig=None))

