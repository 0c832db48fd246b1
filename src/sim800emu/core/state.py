"""The IP state machine of the manual (3.5.1, 3.10) and the link table.

Theory of operation
-------------------
The module has one PDP context (``Ctx``) and up to six links (single-link
mode uses link 0 only) plus an optional server. The ``STATE:`` text that
CIPSTATUS prints is *derived* from these, never stored:

* context not active → ``IP INITIAL`` / ``IP START`` / ``IP CONFIG`` /
  ``IP GPRSACT`` / ``PDP DEACT``;
* context active, multi-link → ``IP PROCESSING`` once a link or the server
  has been used, else ``IP STATUS``;
* context active, single-link → the link's state (``TCP CONNECTING``,
  ``CONNECT OK``, ``TCP CLOSING``, ``TCP CLOSED`` after a remote close or a
  failed connect, ``IP CLOSE`` after a local CIPCLOSE), ``SERVER LISTENING``
  while the server waits with no client, else ``IP STATUS``.

Every transition of a link is a method of ``Link``; the context moves only
in the context commands (CSTT, CIICR, CIFSR, CIPSHUT) and on loss.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from .events import Proto


class Ctx(Enum):
    INITIAL = "IP INITIAL"
    START = "IP START"
    CONFIG = "IP CONFIG"
    GPRSACT = "IP GPRSACT"
    STATUS = "IP STATUS"  # CIFSR done (or single-step): links may be opened
    DEACT = "PDP DEACT"


class LinkState(Enum):
    INITIAL = "INITIAL"
    CONNECTING = "CONNECTING"
    CONNECTED = "CONNECTED"
    CLOSING = "CLOSING"
    CLOSED = "CLOSED"  # by the peer, a failed connect, or the context lost
    LOCAL_CLOSED = "LOCAL CLOSED"  # by CIPCLOSE (single link: IP CLOSE)

    # Members are singletons: hash by identity (Enum's own hashes the name in
    # Python; ``Link.active`` asks on every send and receive).
    __hash__ = object.__hash__


ACTIVE = frozenset({LinkState.CONNECTING, LinkState.CONNECTED})


@dataclass(slots=True)
class Link:
    n: int
    state: LinkState = LinkState.INITIAL
    sock: int = 0
    proto: Proto = "TCP"
    remote_ip: str = ""
    remote_port: int = 0
    accepted: bool = False  # a client of our server
    rx: bytearray = field(default_factory=bytearray)  # CIPRXGET buffer
    congested: bool = False  # the send buffer is full (the peer does not read)
    owed: int = 0  # receive-window room not yet handed back (Modem.grant)
    sent: int = 0  # CIPACK counters
    dropped: int = 0  # transparent bytes dropped while the peer stalled

    @property
    def used(self) -> bool:
        return self.state is not LinkState.INITIAL

    @property
    def active(self) -> bool:
        return self.state in ACTIVE

    def open(self, sock: int, proto: Proto, host: str, port: int, accepted: bool = False) -> None:
        self.state = LinkState.CONNECTING if not accepted else LinkState.CONNECTED
        self.sock = sock
        self.proto = proto
        self.remote_ip = host
        self.remote_port = port
        self.accepted = accepted
        self.rx.clear()
        self.congested = False
        self.owed = 0
        self.sent = 0
        self.dropped = 0

    def closed(self, locally: bool) -> None:
        self.state = LinkState.LOCAL_CLOSED if locally else LinkState.CLOSED
        self.sock = 0
        self.congested = False

    def reset(self) -> None:
        self.state = LinkState.INITIAL
        self.sock = 0
        self.remote_ip = ""
        self.remote_port = 0
        self.rx.clear()
        self.accepted = False

    def client_state_text(self) -> str:
        """The client state of CIPSTATUS's C: and +CIPSTATUS: lines."""
        if self.state is LinkState.LOCAL_CLOSED:
            return "CLOSED"
        return str(self.state.value)


class ServerState(Enum):
    OFF = "OFF"
    OPENING = "OPENING"
    LISTENING = "LISTENING"


@dataclass(slots=True)
class Server:
    state: ServerState = ServerState.OFF
    sock: int = 0
    port: int = 0
    proto: Proto = "TCP"
    blog: int = 5  # most clients at once

    @property
    def on(self) -> bool:
        return self.state is not ServerState.OFF


def single_link_state(ctx: Ctx, link: Link, server: Server) -> str:
    if ctx is Ctx.CONFIG and link.state is LinkState.CONNECTING:
        return f"{link.proto} CONNECTING"  # single-step: the context is coming up for it
    if ctx is not Ctx.STATUS:
        return str(ctx.value)
    st = link.state
    if st is LinkState.CONNECTING:
        return f"{link.proto} CONNECTING"
    if st is LinkState.CONNECTED:
        return "CONNECT OK"
    if st is LinkState.CLOSING:
        return f"{link.proto} CLOSING"
    if server.state is ServerState.LISTENING:
        return "SERVER LISTENING"
    if st is LinkState.CLOSED:
        return f"{link.proto} CLOSED"
    if st is LinkState.LOCAL_CLOSED:
        return "IP CLOSE"
    return str(Ctx.STATUS.value)


def multi_link_state(ctx: Ctx, links: list[Link], server: Server) -> str:
    if ctx is not Ctx.STATUS:
        return str(ctx.value)
    if server.on or any(link.used for link in links):
        return "IP PROCESSING"
    return str(Ctx.STATUS.value)
