"""What the pure modem core and the drivers around it say to each other.

The core never touches the world. It emits *requests* (open a socket, send
bytes, start a timer, save settings) and the drivers answer later with
*results* (connected, received, timer fired). Every socket the core knows is
named by an integer ``sock`` id:

* ids the core allocates itself (``Connect``, ``Listen``) are positive;
* ids of connections accepted by a listener are allocated by the network
  driver and are negative, so the two spaces never collide.

A result about a socket the core no longer knows (closed meanwhile) is
ignored by the core; the driver need not filter.

The driver must never call back into the core synchronously from inside the
handling of a request: results are delivered from the event loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Proto = Literal["TCP", "UDP"]


# ---------------------------------------------------------------- requests


@dataclass(frozen=True, slots=True)
class Connect:
    """Open a client link. ``host`` is an IP literal or a name to resolve
    with the modem's DNS servers (``dns``); ``local_port`` 0 means any."""

    sock: int
    proto: Proto
    host: str
    port: int
    dns: tuple[str, ...] = ()
    local_port: int = 0
    tls: bool = False
    # Receive window: the driver delivers at most this many bytes until the
    # core grants more (``ReadCredit``); 0 = no limit.
    rx_window: int = 0
    # TCP half-close: the peer's FIN (``PeerClosed``) ends only its
    # direction; ``Send`` still works until ``Close`` (PPP's TCP). Else the
    # peer's FIN ends the link.
    half_close: bool = False
    # UDP: report an ICMP port unreachable the host's socket got (the
    # kernel's ECONNREFUSED on a connected socket) as ``PortUnreachable``
    # (PPP's terminator passes it on to the client; CIP links ignore it).
    icmp_errors: bool = False


@dataclass(frozen=True, slots=True)
class Send:
    sock: int
    data: bytes


@dataclass(frozen=True, slots=True)
class Close:
    """Close a client or accepted link (``quick``: abort, no FIN wait)."""

    sock: int
    quick: bool = False


@dataclass(frozen=True, slots=True)
class Shutdown:
    """TCP half-close: the core sends nothing more on ``sock`` (FIN after
    what was sent), but the link stays open: ``Received`` and ``PeerClosed``
    still come, and ``Close`` still ends it. (TLS links and UDP: no-op.)"""

    sock: int


@dataclass(frozen=True, slots=True)
class Listen:
    """Open the module's server (CIPSERVER) on ``port`` (before any port
    mapping the driver applies)."""

    sock: int
    proto: Proto
    port: int
    rx_window: int = 0  # the receive window of every accepted link (see Connect)


@dataclass(frozen=True, slots=True)
class StopListen:
    sock: int


@dataclass(frozen=True, slots=True)
class Resolve:
    """Resolve ``name`` (CDNSGIP). ``query`` ties the answer to the request."""

    query: int
    name: str
    dns: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Ping:
    """AT+CIPPING: ``count`` ICMP echoes to ``host`` (name or address)."""

    query: int
    host: str
    count: int = 4
    size: int = 32
    timeout: float = 10.0
    ttl: int = 64
    dns: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class NtpSync:
    """AT+CNTP: ask ``server`` (name or address) for the time by SNTP."""

    query: int
    server: str
    port: int = 123
    dns: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PauseReading:
    """Stop reading ``sock`` (the core's buffer for it is full)."""

    sock: int


@dataclass(frozen=True, slots=True)
class ResumeReading:
    sock: int


@dataclass(frozen=True, slots=True)
class ReadCredit:
    """``size`` more bytes of ``sock``'s receive window are free (the core
    passed them on): the driver may read that much more from the socket.
    Until then it does not read it, so the peer's TCP window closes."""

    sock: int
    size: int


@dataclass(frozen=True, slots=True)
class HoldSerial:
    """Stop (``hold``) or resume reading the serial line: transparent mode's
    flow control while the link cannot take more data."""

    hold: bool


@dataclass(frozen=True, slots=True)
class StartTimer:
    """Call back with ``TimerFired(key)`` at monotonic time ``at``. Starting
    a key that is already running replaces it."""

    key: str
    at: float


@dataclass(frozen=True, slots=True)
class CancelTimer:
    key: str


@dataclass(frozen=True, slots=True)
class SaveSettings:
    """Persist the saved profile (CIPSCONT / AT&W): a JSON-able mapping."""

    settings: dict[str, object]


@dataclass(frozen=True, slots=True)
class SettingsSaved:
    """The answer to ``SaveSettings``: ``ok`` False when the profile could
    not be stored (the saving command then answers ERROR and the saved
    profile stays what it was). Every driver of the core must answer."""

    settings: dict[str, object]
    ok: bool = True


@dataclass(frozen=True, slots=True)
class Reboot:
    """The modem restarts (AT+CFUN=1,1): links are gone; the core has
    already reset itself and will print the boot URCs on its timers."""


@dataclass(frozen=True, slots=True)
class PowerDown:
    """AT+CPOWD: the module switched itself off."""


@dataclass(frozen=True, slots=True)
class SaveSim:
    """Persist the SIM's SMS content (messages, service centre): a JSON-able
    mapping, kept per ICCID and handed back as ``SimContents`` at start."""

    data: dict[str, object]


@dataclass(frozen=True, slots=True)
class SmsSent:
    """A whole message left the module for the SMS centre (the parts of a
    concatenated message are gathered first). ``reference``: TP-MR of a
    single message, the concatenation reference of a long one;
    ``report``: the TP-MRs whose status report the sender asked for."""

    to: str
    text: str
    encoding: str  # "gsm7", "8bit" or "ucs2"
    parts: int
    reference: int
    report: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class CallOut:
    """The module dials ``number`` (ATD): the call switch of the process puts
    it through to the modem with that number, if there is one. ``ref`` names
    the call in the switch's answers (``FarEndRinging`` ...) and in this
    modem's later requests; the module draws it (positive)."""

    number: str
    ref: int = 0


@dataclass(frozen=True, slots=True)
class CallAnswered:
    """The module answered its incoming call (ATA, ATS0, AT+CHLD=1/2 for a
    waiting call); ``ref`` as the call switch gave it in ``IncomingCall``."""

    ref: int = 0


@dataclass(frozen=True, slots=True)
class CallEnded:
    """The module's call ``ref`` ended on this side (ATH, AT+CHUP, AT+CHLD,
    no answer); ``busy``: the module rejected it (AT+CHLD=0 for a waiting
    call, no room for it): the caller hears busy."""

    ref: int = 0
    busy: bool = False


@dataclass(frozen=True, slots=True)
class CallTransfer:
    """AT+CHLD=4 (explicit call transfer): the module leaves its calls
    ``ref`` and ``other``, and their far ends talk to each other."""

    ref: int
    other: int


Request = (
    Connect
    | Send
    | Close
    | Shutdown
    | Listen
    | StopListen
    | Resolve
    | Ping
    | NtpSync
    | PauseReading
    | ResumeReading
    | ReadCredit
    | HoldSerial
    | StartTimer
    | CancelTimer
    | SaveSettings
    | Reboot
    | PowerDown
    | SaveSim
    | SmsSent
    | CallOut
    | CallAnswered
    | CallEnded
    | CallTransfer
)


# ---------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class Connected:
    """A client link is up. ``remote_ip`` is the address actually reached
    (after DNS), ``local_port`` the source port."""

    sock: int
    remote_ip: str
    remote_port: int
    local_port: int = 0


@dataclass(frozen=True, slots=True)
class ConnectFailed:
    sock: int
    reason: str = ""
    remote_ip: str = ""  # the address a name resolved to, when it did
    handshake: bool = False  # TCP was up but the TLS handshake failed


@dataclass(frozen=True, slots=True)
class Received:
    sock: int
    data: bytes
    # For UDP the datagram's source (needed for RECV FROM); TCP: the peer.
    from_ip: str = ""
    from_port: int = 0


@dataclass(frozen=True, slots=True)
class PeerClosed:
    """The peer closed (or reset) the link."""

    sock: int


@dataclass(frozen=True, slots=True)
class SendFailed:
    sock: int


@dataclass(frozen=True, slots=True)
class PortUnreachable:
    """A UDP link opened with ``Connect.icmp_errors``: the far end answered
    a datagram with ICMP port unreachable (ECONNREFUSED). The link stays."""

    sock: int


@dataclass(frozen=True, slots=True)
class Congestion:
    """The link's send buffer is full (``full``: what the core sent has not
    reached the peer; the peer does not read) or has room again."""

    sock: int
    full: bool


@dataclass(frozen=True, slots=True)
class Listening:
    """The listener is up; ``ip``:``port`` is the address actually bound
    (``Listen`` with port 0 gets an ephemeral one: active FTP)."""

    sock: int
    ip: str = ""
    port: int = 0


@dataclass(frozen=True, slots=True)
class ListenFailed:
    sock: int
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Accepted:
    """A client reached the server ``server``; ``sock`` (negative) is the new
    connection. The core answers with ``Close(sock)`` if it has no room."""

    server: int
    sock: int
    remote_ip: str
    remote_port: int


@dataclass(frozen=True, slots=True)
class Resolved:
    """Answer to ``Resolve``: ``addresses`` empty means failure with the
    manual's ``error`` code (8 = not found / common error, 3 = network)."""

    query: int
    addresses: tuple[str, ...] = ()
    error: int = 0


@dataclass(frozen=True, slots=True)
class PingReply:
    """One echo of a ``Ping``: ``time_ms`` None means it timed out."""

    query: int
    seq: int
    ip: str
    time_ms: float | None = None
    ttl: int = 0


@dataclass(frozen=True, slots=True)
class PingDone:
    """All echoes of a ``Ping`` are answered; ``error``: the name did not
    resolve or the address is not permitted."""

    query: int
    error: bool = False


@dataclass(frozen=True, slots=True)
class NtpTime:
    """Answer to ``NtpSync``: ``unix_time`` on success, else the module's
    error code (61 network, 62 DNS, 64 bad response, 65 time-out)."""

    query: int
    unix_time: float | None = None
    error: int = 0


@dataclass(frozen=True, slots=True)
class TimerFired:
    key: str


@dataclass(frozen=True, slots=True)
class SmsIncoming:
    """The SMS centre delivers a message (split into parts by the module's
    side of the network when long). ``unix_time``: the centre's time stamp;
    ``encoding`` "" picks GSM 7-bit or UCS2 by the text ("8bit": the text's
    code points below 256 are the octets)."""

    sender: str
    text: str
    unix_time: float
    encoding: str = ""


@dataclass(frozen=True, slots=True)
class SmsStatus:
    """The status report of a message this module sent with TP-SRR."""

    mr: int
    recipient: str
    unix_time: float
    status: int = 0  # 0: received by the recipient


@dataclass(frozen=True, slots=True)
class SimContents:
    """What ``SaveSim`` stored for this SIM, handed back at start."""

    data: dict[str, object]


FaultKind = Literal[
    "pdp-deact", "register", "signal", "drop-link", "power-off", "power-on", "under-voltage",
    "dtr",
]


@dataclass(frozen=True, slots=True)
class Fault:
    """Something the simulated network does to the module, injected by the
    user to reproduce field faults:

    * ``pdp-deact``: the network deactivates the PDP context (+PDP: DEACT);
    * ``register``: GSM and GPRS registration become ``value`` (0-5; with
      AT+CREG/AT+CGREG n=1/2 the URCs follow); losing it with CIPDPDP on
      loses the context after <interval> x <timer> seconds;
    * ``signal``: AT+CSQ's <rssi> becomes ``value``;
    * ``drop-link``: the network drops link ``value`` (CLOSED, as if the
      peer had closed it);
    * ``power-off``: the supply fails: every link is gone, the modem is
      silent (like after AT+CPOWD) until ``power-on``;
    * ``power-on``: a powered-down modem boots (RDY/+CFUN/+CPIN/Call Ready/
      SMS Ready as after AT+CFUN=1,1).
    * ``under-voltage``: the supply sags: ``UNDER-VOLTAGE WARNNING`` (the
      module's spelling), or with ``value`` 1 ``UNDER-VOLTAGE POWER DOWN``
      and the module switches off (as ``power-off``).
    * ``dtr``: the TE's DTR line goes off (``value`` 0) or on (1); off acts
      per AT&D in data mode (a pty has no modem lines: ``ctl dtr off``).
    """

    kind: FaultKind
    value: int = 0


@dataclass(frozen=True, slots=True)
class IncomingCall:
    """Someone (``number``) calls the modem (``sim800emu ctl SOCK ring FROM``);
    ``ref`` names the call when the call switch put it through (negative:
    drawn by the switch), 0 for a simulated caller."""

    number: str
    ref: int = 0


@dataclass(frozen=True, slots=True)
class CallerHangup:
    """The far end of a call hangs up (``ctl SOCK hangup [NUMBER]``): the call
    ``ref`` (from the call switch), else the call with ``number``, else the
    newest call."""

    ref: int = 0
    number: str = ""


@dataclass(frozen=True, slots=True)
class CallerDtmf:
    """The far end of the current call presses ``keys`` (``ctl SOCK dtmf KEYS``)."""

    keys: str


@dataclass(frozen=True, slots=True)
class FarEndRinging:
    """The number the module dialled belongs to another modem, which rings
    (``ref`` of the ``CallOut``; 0: the call being set up)."""

    ref: int = 0


@dataclass(frozen=True, slots=True)
class FarEndAnswered:
    """That modem answered."""

    ref: int = 0


@dataclass(frozen=True, slots=True)
class FarEndBusy:
    """That modem cannot take the call (or rejected it while it waited)."""

    ref: int = 0


CallEvent = (
    IncomingCall | CallerHangup | CallerDtmf | FarEndRinging | FarEndAnswered | FarEndBusy
)
CALL_EVENTS = (IncomingCall, CallerHangup, CallerDtmf, FarEndRinging, FarEndAnswered, FarEndBusy)


Result = (
    Connected
    | ConnectFailed
    | Received
    | PeerClosed
    | SendFailed
    | PortUnreachable
    | Congestion
    | Listening
    | ListenFailed
    | Accepted
    | Resolved
    | PingReply
    | PingDone
    | NtpTime
    | TimerFired
    | Fault
    | IncomingCall
    | CallerHangup
    | CallerDtmf
    | FarEndRinging
    | FarEndAnswered
    | FarEndBusy
    | SettingsSaved
    | SmsIncoming
    | SmsStatus
    | SimContents
)
