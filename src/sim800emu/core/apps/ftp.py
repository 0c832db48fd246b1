"""The module's FTP client (manual chapter 12).

Theory of operation
-------------------
Every operation (FTPGET, FTPPUT, FTPSIZE, FTPDELE, FTPMKD, FTPRMD, FTPLIST,
FTPEXTGET) is one FTP session of its own, as on the module: a control
connection to FTPSERV:FTPPORT, the greeting, USER/PASS, TYPE, then the
operation's commands, then QUIT. Transfers add a data connection: passive
mode sends PASV and connects to the address of the 227 reply; active mode
asks the driver for a listening socket on an ephemeral port (the same
``Listen``/``Accepted`` requests as AT+CIPSERVER), sends PORT with the
address the driver bound, and takes the server's connection.

Both connections go through the modem's requests like a CIP link (policy,
routes, DNS, shaping, faults). The object is sans-I/O: replies and data come
in as results, commands and URCs go out through the modem.

Downloads are kept until read: ``+FTPGET: 1,1`` when data waits and nobody
was told yet, ``AT+FTPGET=2,<n>`` takes up to n bytes, and ``+FTPGET: 1,0``
once the server confirmed the transfer (226), the data connection closed
and everything was read. Uploads: ``+FTPPUT: 1,1,<maxlength>`` when the data
connection is ready, again after every ``AT+FTPPUT=2,<n>`` block is sent;
``AT+FTPPUT=2,0`` closes the data connection and ``+FTPPUT: 1,0`` follows
the server's confirmation. While the data connection's send backlog is full
(``Congestion``) the next ``+FTPPUT: 1,1`` waits until it drained.

Error codes (manual 12.2.14): 61 net (no bearer, connection lost), 62 DNS,
63 connect, 64 time-out, 65 server (unexpected reply), 71 user, 72 password,
73 type, 74 rest, 75 passive, 76 active, 77 operate (the server refused the
operation: missing file...), 78 upload, 79 download, 86 manual quit.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, fields
from enum import Enum
from typing import TYPE_CHECKING

from ..events import (
    Accepted,
    Close,
    Congestion,
    Connect,
    Connected,
    ConnectFailed,
    Listen,
    ListenFailed,
    Listening,
    PeerClosed,
    Received,
    Result,
    Send,
    StopListen,
)

if TYPE_CHECKING:
    from ..modem import Modem

MAX_PUT = 1360  # <maxlength> of +FTPPUT: 1,1,<maxlength>
MAX_READ = 1460  # FTPGET=2 / FTPLIST=2 <reqlength>
EXTGET_LIMIT = 300 * 1024  # FTPEXTGET keeps the file in RAM
MAX_REPLY_LINE = 8192
IDLE_TIMEOUT = 75.0  # manual: max response time when the server is silent
SAVED_KEY = "ftpscont"  # saved parameters, if a later AT+FTPSCONT stores them

NET, DNS, CONNECT, TIMEOUT, SERVER, NOT_ALLOWED = 61, 62, 63, 64, 65, 66
USER, PASSWORD, TYPE, REST, PASSIVE, ACTIVE, OPERATE, UPLOAD, DOWNLOAD = (
    71, 72, 73, 74, 75, 76, 77, 78, 79)
MANUAL_QUIT = 86

_PASV = re.compile(rb"(\d+),(\d+),(\d+),(\d+),(\d+),(\d+)")


class Op(Enum):
    GET = "+FTPGET"
    PUT = "+FTPPUT"
    SIZE = "+FTPSIZE"
    DELE = "+FTPDELE"
    MKD = "+FTPMKD"
    RMD = "+FTPRMD"
    LIST = "+FTPLIST"
    EXTGET = "+FTPEXTGET"


TRANSFERS = (Op.GET, Op.PUT, Op.LIST, Op.EXTGET)


@dataclass(slots=True)
class Params:
    cid: int = 1
    serv: str = ""
    port: int = 21
    un: str = ""
    pw: str = ""
    mode: int = 0  # 0 active, 1 passive
    type: str = "I"
    putopt: str = "STOR"
    rest: int = 0
    getname: str = ""
    getpath: str = "/"
    putname: str = ""
    putpath: str = "/"


def join(path: str, name: str) -> str:
    if not name:
        return path or "/"
    return (path if path.endswith("/") else path + "/") + name


class FtpClient:
    """The FTP parameters and at most one operation at a time."""

    def __init__(self, m: Modem) -> None:
        self.m = m
        self.params = Params()
        self.load()
        self.op: Op | None = None
        self.ext_mode = False  # FTPEXTGET=1 ran: the file is in RAM
        self.ext_data = b""
        self._reset_session()

    def _reset_session(self) -> None:
        self.op = None
        self._ctrl = 0
        self._data = 0
        self._listen = 0
        self._lines = bytearray()
        self._stage = ""
        self._buffer = bytearray()  # downloaded, not read yet
        self._notified = False
        self._ctrl_done = False  # 226: the server confirmed the transfer
        self._data_done = False  # the data connection closed
        self._data_ready = False
        self._started = False  # 150/125 came
        self._closing_put = False
        self._congested = False  # the data connection's send backlog is full
        self._owe_ready = False  # a "+FTPPUT: 1,1" waits for the backlog to drain
        self._ctrl_host = ""

    # ------------------------------------------------------------ parameters

    def load(self) -> None:
        saved = self.m.saved.get(SAVED_KEY)
        self.params = Params()
        if isinstance(saved, dict):
            for f in fields(Params):
                value = saved.get(f.name)
                if type(value) is type(getattr(self.params, f.name)):
                    setattr(self.params, f.name, value)

    # ------------------------------------------------------------ lifecycle

    @property
    def busy(self) -> bool:
        return self.op is not None

    def stop(self) -> None:
        """Power loss, reboot: the session ends silently, parameters back to
        the saved ones."""
        self._close_all()
        self._reset_session()
        self.ext_mode, self.ext_data = False, b""
        self.load()

    def bearer_closed(self, cid: int) -> None:
        if self.op is not None and self.params.cid == cid:
            self._fail(NET)

    def quit(self) -> None:
        """AT+FTPQUIT: the running operation ends with 86."""
        if self.op is not None:
            self._fail(MANUAL_QUIT)

    # ------------------------------------------------------------ starting

    def start(self, op: Op) -> None:
        """The command's OK is out; the operation's URCs follow."""
        self._reset_session()
        self.op = op
        p = self.params
        if not self.m.bearers.is_open(p.cid) or not self.m.radio.gprs_registered:
            self._fail(NET)
            return
        if not p.serv:
            self._fail(DNS)
            return
        self._touch()
        wait = self.m.delay("ftp_open")  # field-conditions timing: 0 in the fast profile
        if wait > 0:
            self.m.start_timer("ftp_open", wait, self._connect)
        else:
            self._connect()

    def _connect(self) -> None:
        """The control connection to the server of the parameters."""
        p = self.params
        self._ctrl = self._open(p.serv, p.port, self._on_ctrl)
        self._ctrl_host = p.serv
        self._stage = "greeting"

    def _open(self, host: str, port: int, owner: Callable[[Result], None]) -> int:
        sock = self.m.new_sock()
        self.m.own_sock(sock, owner)
        self.m.request(Connect(sock, "TCP", host, port, dns=self.m.ip.usable_dns))
        return sock

    def _touch(self) -> None:
        self.m.start_timer("ftp", IDLE_TIMEOUT, lambda: self._fail(TIMEOUT))

    def _send(self, line: str) -> None:
        self.m.request(Send(self._ctrl, line.encode("latin-1") + b"\r\n"))

    # ------------------------------------------------------------ control

    def _on_ctrl(self, res: Result) -> None:
        if self.op is None or getattr(res, "sock", None) != self._ctrl:
            return
        self._touch()
        if isinstance(res, ConnectFailed):
            self._fail(DNS if res.reason.upper().startswith("DNS") else CONNECT)
        elif isinstance(res, Received):
            self._lines += res.data
            self._parse_replies()
            if len(self._lines) > MAX_REPLY_LINE:  # no line end in sight: not FTP
                self._fail(SERVER)
        elif isinstance(res, PeerClosed):
            self._fail(NET)

    def _parse_replies(self) -> None:
        while self.op is not None:
            end = self._lines.find(b"\r\n")
            if end < 0:
                end = self._lines.find(b"\n")
                if end < 0:
                    return
                line = bytes(self._lines[:end])
                del self._lines[: end + 1]
            else:
                line = bytes(self._lines[:end])
                del self._lines[: end + 2]
            # a reply ends with "ddd " (or a bare "ddd"); "ddd-" continues it
            if len(line) >= 3 and line[:3].isdigit() and line[3:4] in (b" ", b""):
                self._on_reply(int(line[:3]), line[4:])

    def _on_reply(self, code: int, text: bytes) -> None:
        p = self.params
        stage = self._stage
        if stage == "greeting":
            if code != 220:
                self._fail(SERVER)
                return
            self._stage = "user"
            self._send(f"USER {p.un or 'anonymous'}")
        elif stage == "user":
            if code == 230:
                self._logged_in()
            elif code == 331:
                self._stage = "pass"
                self._send(f"PASS {p.pw}")
            else:
                self._fail(USER)
        elif stage == "pass":
            if code in (230, 202):
                self._logged_in()
            else:
                self._fail(PASSWORD)
        elif stage == "type":
            if code // 100 != 2:
                self._fail(TYPE)
            else:
                self._command()
        elif stage == "simple":
            self._simple_done(code, text)
        elif stage == "rest":
            if code != 350:
                self._fail(REST)
            else:
                self._data_channel()
        elif stage == "pasv":
            self._on_pasv(code, text)
        elif stage == "port":
            if code // 100 != 2:
                self._fail(ACTIVE)
            else:
                self._transfer_command()
        elif stage == "transfer":
            self._on_transfer_reply(code)
        elif stage == "quit":
            pass

    def _logged_in(self) -> None:
        self._stage = "type"
        self._send(f"TYPE {self.params.type}")

    def _command(self) -> None:
        p = self.params
        op = self.op
        if op in (Op.SIZE, Op.DELE, Op.MKD, Op.RMD):
            self._stage = "simple"
            target = join(p.getpath, p.getname) if op in (Op.SIZE, Op.DELE) else p.getpath
            verb = {Op.SIZE: "SIZE", Op.DELE: "DELE", Op.MKD: "MKD", Op.RMD: "RMD"}[op]
            self._send(f"{verb} {target}")
        elif op in (Op.GET, Op.EXTGET) and p.rest > 0:
            self._stage = "rest"
            self._send(f"REST {p.rest}")
        else:
            self._data_channel()

    def _simple_done(self, code: int, text: bytes) -> None:
        op = self.op
        assert op is not None
        if op is Op.SIZE and code == 213 and text.strip().isdigit():
            self._end(f"{op.value}: 1,0,{int(text.strip())}")
        elif op is not Op.SIZE and code // 100 == 2:
            self._end(f"{op.value}: 1,0")
        else:
            self._fail(OPERATE)

    # ------------------------------------------------------------ data channel

    def _data_channel(self) -> None:
        if self.params.mode == 1:
            self._stage = "pasv"
            self._send("PASV")
            return
        self._stage = "listen"
        sock = self.m.new_sock()
        self._listen = sock
        self.m.own_sock(sock, self._on_listen)
        self.m.request(Listen(sock, "TCP", 0))

    def _on_pasv(self, code: int, text: bytes) -> None:
        match = _PASV.search(text)
        if code != 227 or match is None:
            self._fail(PASSIVE)
            return
        n = [int(x) for x in match.groups()]
        if max(n) > 255 or not 0 < n[4] * 256 + n[5] <= 65535:
            self._fail(PASSIVE)
            return
        ip = ".".join(str(x) for x in n[:4])
        if ip == "0.0.0.0":
            ip = self._ctrl_host
        self._stage = "connect-data"
        self._data = self._open(ip, n[4] * 256 + n[5], self._on_data)

    def _on_listen(self, res: Result) -> None:
        if self.op is None:
            return
        if isinstance(res, ListenFailed):
            self._fail(ACTIVE)
        elif isinstance(res, Listening) and res.sock == self._listen:
            ip = res.ip if res.ip and res.ip not in ("0.0.0.0", "::") else "127.0.0.1"
            if ":" in ip:
                self._fail(ACTIVE)
                return
            self._stage = "port"
            self._send(f"PORT {ip.replace('.', ',')},{res.port // 256},{res.port % 256}")
        elif isinstance(res, Accepted) and res.server == self._listen and not self._data:
            self._data = res.sock
            self.m.own_sock(res.sock, self._on_data)
            self.m.request(StopListen(self._listen))
            self.m.disown_sock(self._listen)
            self._listen = 0
            self._data_up()
        elif isinstance(res, Accepted):
            self.m.request(Close(res.sock))

    def _transfer_command(self) -> None:
        p = self.params
        op = self.op
        self._stage = "transfer"
        if op is Op.PUT:
            self._send(f"{p.putopt} {join(p.putpath, p.putname)}")
        elif op is Op.LIST:
            self._send(f"LIST {p.getpath}")
        else:
            self._send(f"RETR {join(p.getpath, p.getname)}")

    def _on_data(self, res: Result) -> None:
        if self.op is None or getattr(res, "sock", None) != self._data:
            return
        self._touch()
        if isinstance(res, Connected):
            self._transfer_command()  # passive: the connection first, then RETR/STOR
            self._data_up()
        elif isinstance(res, ConnectFailed):
            self._fail(PASSIVE)
        elif isinstance(res, Received):
            self._on_download(res.data)
        elif isinstance(res, Congestion):
            # the server does not take the upload as fast as the serial line
            # gives it: the next "ready" waits until the backlog drained
            self._congested = res.full
            if not res.full and self._owe_ready:
                self._put_ready()
        elif isinstance(res, PeerClosed):
            if self.op is Op.PUT:
                if not self._closing_put:
                    self._fail(UPLOAD)
                return
            self._data_done = True
            self.m.disown_sock(self._data)
            self.m.request(Close(self._data))
            self._data = 0
            self._check_download_end()

    def _data_up(self) -> None:
        self._data_ready = True
        self._put_ready()

    def _on_transfer_reply(self, code: int) -> None:
        op = self.op
        if code in (125, 150):
            self._started = True
            self._put_ready()
        elif code // 100 == 2:
            self._ctrl_done = True
            if op is Op.PUT:
                if self._closing_put:
                    self._end(f"{Op.PUT.value}: 1,0")
                else:
                    self._fail(UPLOAD)
            else:
                self._check_download_end()
        elif not self._started:
            self._fail(OPERATE)  # 550: no such file, no permission ...
        else:
            self._fail(UPLOAD if op is Op.PUT else DOWNLOAD)

    # ------------------------------------------------------------ download

    def _on_download(self, data: bytes) -> None:
        if self.op is Op.PUT:
            return
        self._buffer += data
        if self.op is Op.EXTGET:
            if len(self._buffer) > EXTGET_LIMIT:
                self._fail(DOWNLOAD)
            return
        self._notify()

    def _notify(self) -> None:
        op = self.op
        if self._buffer and not self._notified and op in (Op.GET, Op.LIST):
            self._notified = True
            self.m.urc(f"{op.value}: 1,1")

    def _check_download_end(self) -> None:
        op = self.op
        if not (self._ctrl_done and self._data_done):
            return
        if op is Op.EXTGET:
            self.ext_mode = True
            self.ext_data = bytes(self._buffer)
            self._end(f"{Op.EXTGET.value}: 1,0")
        elif not self._buffer and op is not None:
            self._end(f"{op.value}: 1,0")

    def read(self, op: Op, size: int) -> bytes | None:
        """FTPGET=2 / FTPLIST=2: None when no such download is running."""
        if self.op is not op:
            return None
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        if not self._buffer:
            self._notified = False
            if self._ctrl_done and self._data_done:
                self._end(f"{op.value}: 1,0")
        return data

    # ------------------------------------------------------------ upload

    def _put_ready(self) -> None:
        if self.op is Op.PUT and self._data_ready and self._started and not self._closing_put:
            self._owe_ready = self._congested
            if not self._congested:
                self.m.urc(f"{Op.PUT.value}: 1,1,{MAX_PUT}")

    @property
    def can_put(self) -> bool:
        return (self.op is Op.PUT and self._data_ready and self._started
                and not self._closing_put)

    def put(self, data: bytes) -> None:
        """FTPPUT=2,<n> data (n > 0), or the end of the upload (empty)."""
        if not self.can_put:
            return
        if data:
            self.m.request(Send(self._data, data))
            self._put_ready()
            return
        self._closing_put = True
        self.m.request(Close(self._data))  # graceful: flushed, then FIN
        self.m.disown_sock(self._data)
        self._data = 0
        if self._ctrl_done:
            self._end(f"{Op.PUT.value}: 1,0")

    # ------------------------------------------------------------ ending

    def _end(self, urc: str) -> None:
        """The operation succeeded: QUIT, close, print its final URC."""
        if self._ctrl:
            self._send("QUIT")
        self._close_all(graceful=True)
        self._reset_session()
        self.m.urc(urc)

    def _fail(self, code: int) -> None:
        op = self.op
        if op is None:
            return
        self._close_all()
        self._reset_session()
        self.m.urc(f"{op.value}: 1,{code}")

    def _close_all(self, graceful: bool = False) -> None:
        self.m.cancel_timer("ftp")
        self.m.cancel_timer("ftp_open")
        for sock in (self._data, self._ctrl):
            if sock:
                self.m.disown_sock(sock)
                self.m.request(Close(sock, quick=not graceful))
        if self._listen:
            self.m.disown_sock(self._listen)
            self.m.request(StopListen(self._listen))
        self._data = self._ctrl = self._listen = 0
