"""The simulated module's identity, radio and timing: what a user may configure.

Everything here is plain data so that a profile file or the CLI can fill it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace


@dataclass(frozen=True, slots=True)
class Identity:
    imei: str = "868183038764457"
    iccid: str = "89445018101802445400"
    imsi: str = "460001234567890"
    msisdn: str = "+8613800000001"  # the SIM's own number (AT+CNUM, the SMS centre)
    manufacturer: str = "SIMCOM_Ltd"
    model: str = "SIMCOM_SIM800L"
    firmware: str = "SIM800 R14.18"  # ATI
    revision: str = "1418B04SIM800L24"  # AT+CGMR
    operator: str = "CHINA MOBILE"


@dataclass(frozen=True, slots=True)
class Radio:
    local_ip: str = "10.78.245.128"
    rssi: int = 24  # AT+CSQ <rssi> 0..31, 99
    ber: int = 0
    creg_stat: int = 1  # 1 home, 5 roaming, 2 searching ...
    cgreg_stat: int = 1
    lac: str = "1A2B"
    ci: str = "3C4D"
    dns_servers: tuple[str, str] = ("0.0.0.0", "0.0.0.0")
    timezone: int = 0  # the network's zone in quarters of an hour (CLTS, CCLK)
    dst: int = 0  # the network's daylight saving adjustment in hours (CLTS)


@dataclass(frozen=True, slots=True)
class Timing:
    """Simulated delays in seconds (real sockets add their own).

    Each field is a named delay; ``spread`` gives some of them an upper
    bound, and the delay is then drawn uniformly between the field and that
    bound from a generator seeded with ``seed``, so the same seed gives the
    same delays. Read a delay in the core with ``Modem.delay(name)`` (the
    one place: ``core/timing.py``), never the field directly, so that the
    spread applies. ``--time-scale`` multiplies every delay (``scaled``).
    ``TIMING_PROFILES`` holds the named profiles (``--timing``); see
    docs/field-conditions.md for how another family adds its own delay.
    """

    ciicr: float = 0.05  # context activation (CIICR, single-step CIPSTART)
    cgatt: float = 0.0
    sapbr: float = 0.05
    boot_urcs: float = 0.2  # after AT+CFUN=1,1: until RDY ... SMS Ready
    sim_busy: float = 1.0  # CPIN? answers SIM busy this long after a reboot
    escape_guard: float = 1.0  # +++ guard time (a setting, never scaled)
    ussd: float = 1.0  # AT+CUSD request until the network's +CUSD reply
    call_setup: float = 1.0  # ATD: dialling until the far end rings (or is busy)
    call_answer: float = 2.0  # the far end rings this long before it answers
    no_answer: float = 6.0  # ... or before the network gives up (NO ANSWER)
    ring_interval: float = 3.0  # an incoming call's RING repeats this often
    command: float = 0.0  # every command line: from its CR to its answer
    cgact: float = 0.0  # AT+CGACT=1: the PDP context comes up
    dns: float = 0.0  # AT+CDNSGIP: before the query leaves (beside the real lookup)
    connect: float = 0.0  # CIPSTART: before the connection is opened (CONNECT OK later)
    tls: float = 0.0  # CIPSSL=1: the handshake's extra time (added to connect)
    send_ok: float = 0.0  # SEND OK this long after the last byte of CIPSEND
    sms_send: float = 0.0  # AT+CMGS (after Ctrl-Z) / AT+CMSS until +CMGS / +CMSS and OK
    http_action: float = 0.0  # AT+HTTPACTION: before the request's connection is opened
    ftp_open: float = 0.0  # an FTP operation: before the control connection is opened
    spread: tuple[tuple[str, float], ...] = ()  # (name, upper bound) pairs
    seed: int = 0

    def upper(self, name: str) -> float:
        """The upper bound of delay ``name`` (its field when it has none)."""
        for key, high in self.spread:
            if key == name:
                return high
        value = getattr(self, name)
        assert isinstance(value, float)
        return value

    def scaled(self, factor: float) -> Timing:
        """Every delay times ``factor`` (the +++ guard time is a setting the
        host must respect, not a delay of the network: it stays)."""
        values: dict[str, object] = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if isinstance(value, float) and name != "escape_guard":
                values[name] = value * factor
        values["spread"] = tuple((k, v * factor) for k, v in self.spread)
        return replace(self, **values)  # type: ignore[arg-type]


# Field measurements (issue 13): plain commands 16-60 ms, CGACT/CIICR 2-7 s,
# SAPBR=1,1 about 1.3 s, CDNSGIP 0.5-3 s, CIPSTART -> CONNECT OK 1-3 s,
# SEND OK 0.2-1.5 s after the last byte, TLS handshake 3-10 s.
REALISTIC = Timing(
    ciicr=2.0, cgact=2.0, cgatt=0.5, sapbr=1.1, command=0.016, dns=0.5, connect=1.0,
    tls=3.0, send_ok=0.2, boot_urcs=2.0, sim_busy=3.0,
    ussd=1.0, call_setup=2.0, call_answer=3.0, no_answer=30.0,
    sms_send=1.5, http_action=1.0, ftp_open=1.0,
    spread=(
        ("ciicr", 7.0), ("cgact", 7.0), ("cgatt", 1.5), ("sapbr", 1.5), ("command", 0.060),
        ("dns", 3.0), ("connect", 3.0), ("tls", 10.0), ("send_ok", 1.5),
        ("ussd", 4.0), ("call_setup", 6.0), ("call_answer", 10.0), ("no_answer", 60.0),
        ("sms_send", 5.0), ("http_action", 4.0), ("ftp_open", 3.0),
    ),
)
TIMING_PROFILES: dict[str, Timing] = {"fast": Timing(), "realistic": REALISTIC}


DIAL_OUTCOMES = ("answer", "busy", "no-answer", "no-carrier")


@dataclass(frozen=True, slots=True)
class Services:
    """What the simulated network answers: USSD codes (``--ussd CODE=REPLY``;
    ``CODE>ANSWER`` keys continue a menu session) and the outcome of calls to
    given numbers (``--dial NUMBER=OUTCOME``, one of ``DIAL_OUTCOMES``;
    numbers not listed answer)."""

    ussd: tuple[tuple[str, str], ...] = ()
    dial: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class PppConfig:
    """Dial-up data (ATD*99#, AT+CGDATA; docs/ppp.md).

    ``auth``: the only PAP/CHAP credentials accepted (``--ppp-auth
    USER:PASS``; None accepts any); ``host_alias``: the address a PPP client
    reaches the host's loopback at (``--ppp-host-alias``, like slirp's
    10.0.2.2); ``dns_fallback``: announced by IPCP in place of a DNS server
    a client could not route to (0.0.0.0, 127/8), answered by the emulator's
    resolver all the same; ``connect_text``: what follows ``CONNECT`` with
    ATX>0 (``--connect-text``; empty: plain ``CONNECT``, which every client
    matches); ``restart``: the LCP/IPCP restart timer (``--ppp-restart``)."""

    auth: tuple[str, str] | None = None
    host_alias: str = "10.0.2.2"
    dns_fallback: str = "10.0.2.3"
    connect_text: str = ""
    restart: float = 3.0  # the link's restart timer (RFC 1661: 3 s)


# The module's receive buffer per link (docs/buffers.md): what waits for
# AT+CIPRXGET=2 never exceeds it, and the socket is not read beyond it.
RX_BUFFER = 2920
RX_BUFFER_RANGE = range(1460, 32768)  # counts must fit a signed 16-bit int
# In push and transparent modes data only passes through the module on its
# way to the UART; this much may be on its way (read, not yet written to the
# serial line) per link. Larger reads keep the byte path fast.
PUSH_WINDOW = 16 * 1024


@dataclass(frozen=True, slots=True)
class ModemConfig:
    # AT+CMUX: the MSC command a real SIM800 sends right after a DLC opens
    # (docs/cmux.md; --no-cmux-msc for clients that cannot take it)
    cmux_msc: bool = True
    identity: Identity = field(default_factory=Identity)
    radio: Radio = field(default_factory=Radio)
    timing: Timing = field(default_factory=Timing)
    services: Services = field(default_factory=Services)
    cold_boot: bool = False  # print the boot URCs at start
    rx_buffer: int = RX_BUFFER
    ppp: PppConfig = field(default_factory=PppConfig)


def luhn_digit(body: str) -> str:
    """The check digit that completes ``body`` (an IMEI's 15th digit)."""
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def _bump(number: str, n: int) -> str:
    """``number`` + n, keeping its width (wrapping within it)."""
    width = len(number)
    return str((int(number) + n) % 10**width).zfill(width)


def _bump_number(number: str, n: int) -> str:
    """A phone number + n (a leading ``+`` kept)."""
    plus = "+" if number.startswith("+") else ""
    digits = number[len(plus):]
    return plus + _bump(digits, n) if digits.isdecimal() else number


def nth_config(base: ModemConfig, n: int) -> ModemConfig:
    """The identity of modem ``n`` of a fleet: IMEI, ICCID, IMSI, number (MSISDN) and local IP
    counted up from the base (modem 0 is the base itself), so every modem
    is told apart by a backend and keeps its own saved settings."""
    if n == 0:
        return base
    ident = base.identity
    imei_body = _bump(ident.imei[:14], n)
    iccid = ident.iccid
    digits = len(iccid) - (1 if not iccid[-1].isdecimal() else 0)
    iccid = _bump(iccid[:digits], n) + iccid[digits:]
    octets = [int(x) for x in base.radio.local_ip.split(".")]
    value = (octets[0] << 24 | octets[1] << 16 | octets[2] << 8 | octets[3]) + n
    ip = ".".join(str(value >> s & 255) for s in (24, 16, 8, 0))
    return replace(
        base,
        identity=replace(ident, imei=imei_body + luhn_digit(imei_body), iccid=iccid,
                         imsi=_bump(ident.imsi, n), msisdn=_bump_number(ident.msisdn, n)),
        radio=replace(base.radio, local_ip=ip),
    )
