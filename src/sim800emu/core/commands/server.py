"""The module as a server: CIPSERVER (manual 3.16; SPEC; reference 3)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..parser import Command
from ..registry import DONE, F, Int, Outcome, Rule, Value, command, syntax_error, text
from ..state import Ctx

if TYPE_CHECKING:
    from ..modem import Modem


def _is_close(v: tuple[Value, ...]) -> bool:
    return v[0] == 0


def _may(m: Modem, v: tuple[Value, ...]) -> bool:
    if _is_close(v):
        return m.ip.server.on
    if m.ip.server.on:
        return False
    if m.multi:
        return m.ip.ctx is Ctx.STATUS
    return m.ip.state_text() in ("IP INITIAL", "IP STATUS")


SERVER_RULE = Rule(
    "close (=0): a server is on; open: single link IP INITIAL or IP STATUS, "
    "multi-link IP STATUS or IP PROCESSING",
    _may,
)


def _cipserver_write(m: Modem, values: tuple[Value, ...], cmd: Command) -> Outcome | None:
    first, second, _bearer, fourth = values
    if first == 0:
        m.ip.stop_listening()
        m.final("OK")
        m.text_result("SERVER CLOSE")
        return DONE
    if len(cmd.args) == 2 and first == 1 and isinstance(second, int) and second > 1:
        port, proto, blog = int(second), "TCP", 5  # shipped firmware: =<mode>,<port>
    else:
        # the manual: =<port>[,<type>[,<bearer>[,<blog>]]]
        if second not in (None, 0, 1) or int(first or 0) < 1:
            raise syntax_error()
        port = int(first or 0)
        proto = "UDP" if second == 1 else "TCP"
        blog = int(fourth) if fourth is not None else 5
    m.ip.listen("UDP" if proto == "UDP" else "TCP", port, blog)
    return None


def _cipserver_read(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    clients = sum(1 for link in m.ip.links if link.accepted and link.active)
    m.info(f"+CIPSERVER: {1 if m.ip.server.on else 0},{clients}")


command(
    "+CIPSERVER", "Listen for TCP/UDP clients: =<port>[,<type>[,<bearer>[,<blog>]]] or "
    "=<mode>[,<port>]; =0 closes", "manual 3.16; SPEC",
    test=F(text("+CIPSERVER: (1-65535),(0-1),(0-1),(1-5)")),
    read=F(_cipserver_read),
    write=F(_cipserver_write, SERVER_RULE,
            (Int(0, 65535), Int(0, 65535, optional=True), Int(0, 1, optional=True),
             Int(1, 5, optional=True))),
)
