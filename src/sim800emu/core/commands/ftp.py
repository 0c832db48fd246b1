"""The FTP application (manual chapter 12): the commands drive ``m.ftp``
(core/apps/ftp.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..apps.ftp import EXTGET_LIMIT, MAX_PUT, MAX_READ, Op
from ..parser import Command
from ..registry import (
    DONE,
    Choice,
    CommandError,
    F,
    Handler,
    Int,
    Outcome,
    Param,
    Rule,
    Str,
    Value,
    command,
    ok,
)

if TYPE_CHECKING:
    from ..modem import Modem

MAN = "manual 12.2"
IDLE = Rule("no FTP operation running", lambda m, v: not m.ftp.busy)


def _parameter(name: str, attr: str, param: Param, section: str, summary: str,
               quoted: bool = True) -> None:
    def read(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
        value = getattr(m.ftp.params, attr)
        shown = f'"{value}"' if quoted and isinstance(value, str) else str(value)
        m.info(f"{name}: {shown}")

    def write(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
        value = values[0]
        setattr(m.ftp.params, attr, value if value is not None else "")

    command(name, summary, f"manual {section}", test=F(ok), read=F(read),
            write=F(write, sig=(param,)))


_parameter("+FTPPORT", "port", Int(1, 65535), "12.2.1", "FTP control port (21)")
_parameter("+FTPMODE", "mode", Int(0, 1), "12.2.2", "0 active (default), 1 passive")
_parameter("+FTPTYPE", "type", Choice(("A", "I")), "12.2.3", "A ASCII, I binary (default)",
           quoted=False)
_parameter("+FTPPUTOPT", "putopt", Choice(("APPE", "STOU", "STOR")), "12.2.4",
           "Upload command: STOR (default), APPE, STOU", quoted=False)
_parameter("+FTPCID", "cid", Int(1, 3), "12.2.5", "Bearer profile of the FTP client")
_parameter("+FTPREST", "rest", Int(0, 2**31 - 1), "12.2.6", "Offset to resume a download at (REST)")
_parameter("+FTPSERV", "serv", Str(255), "12.2.7", "FTP server: address or name")
_parameter("+FTPUN", "un", Str(49), "12.2.8", "User name (empty: anonymous)")
_parameter("+FTPPW", "pw", Str(49), "12.2.9", "Password")
_parameter("+FTPGETNAME", "getname", Str(99), "12.2.10", "Download (SIZE, DELE) file name")
_parameter("+FTPGETPATH", "getpath", Str(255), "12.2.11", "Download path (also MKD, RMD, LIST)")
_parameter("+FTPPUTNAME", "putname", Str(99), "12.2.12", "Upload file name")
_parameter("+FTPPUTPATH", "putpath", Str(255), "12.2.13", "Upload path")


def _starter(op: Op) -> Handler:
    def handler(m: Modem, values: tuple[Value, ...], cmd: Command) -> Outcome:
        m.final("OK")
        m.ftp.start(op)
        return DONE

    return handler


def _show(m: Modem, head: str, data: bytes) -> None:
    """``<head>,<length>``, the bytes, then OK."""
    m.info(f"{head},{len(data)}")
    if data:
        m.raw_output(data)


def _reader(op: Op) -> Handler:
    def handler(m: Modem, values: tuple[Value, ...], cmd: Command) -> Outcome | None:
        mode, size = values
        if mode == 1:
            if m.ftp.busy:
                raise CommandError(3)
            m.final("OK")
            m.ftp.start(op)
            return DONE
        if size is None:
            raise CommandError(None)
        data = m.ftp.read(op, int(size))
        if data is None:
            raise CommandError(3)
        _show(m, f"{op.value}: 2", data)
        return None

    return handler


for _op, _section, _summary in (
    (Op.GET, "12.2.14", "Download: =1 opens (+FTPGET: 1,1 when data waits, 1,0 at the end), "
                        "=2,<n> reads up to n bytes"),
    (Op.LIST, "12.2.23", "List FTPGETPATH: =1 opens (+FTPLIST: 1,1 / 1,0), =2,<n> reads"),
):
    command(_op.value, _summary, f"manual {_section}", test=F(ok),
            write=F(_reader(_op), sig=(Int(1, 2), Int(1, MAX_READ, optional=True))))


def _put(m: Modem, values: tuple[Value, ...], cmd: Command) -> Outcome | None:
    mode, size = values
    if mode == 1:
        if m.ftp.busy:
            raise CommandError(3)
        m.final("OK")
        m.ftp.start(Op.PUT)
        return DONE
    if size is None or not m.ftp.can_put:
        raise CommandError(3)
    if size == 0:
        m.ftp.put(b"")
        return None

    def sent(data: bytes) -> None:
        m.final("OK")
        m.ftp.put(data)

    m.info(f"+FTPPUT: 2,{size}")
    return m.begin_entry(int(size), sent)


command("+FTPPUT", "Upload: =1 opens (+FTPPUT: 1,1,<maxlength> when ready), =2,<n> then n "
        "bytes, =2,0 ends (+FTPPUT: 1,0)", "manual 12.2.15", test=F(ok),
        write=F(_put, sig=(Int(1, 2), Int(0, MAX_PUT, optional=True))))

for _op, _section, _summary in (
    (Op.SIZE, "12.2.18", "Size of FTPGETPATH/FTPGETNAME: +FTPSIZE: 1,0,<size>"),
    (Op.DELE, "12.2.17", "Delete FTPGETPATH/FTPGETNAME: +FTPDELE: 1,0"),
    (Op.MKD, "12.2.21", "Make directory FTPGETPATH: +FTPMKD: 1,0"),
    (Op.RMD, "12.2.22", "Remove directory FTPGETPATH: +FTPRMD: 1,0"),
):
    command(_op.value, _summary, f"manual {_section}", test=F(ok),
            exec=F(_starter(_op), IDLE))


def _extget_read(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    f = m.ftp
    running = f.op is Op.EXTGET
    status = 1 if (f.ext_mode or running) else 0
    m.info(f"+FTPEXTGET: {status},{len(f.ext_data) if f.ext_mode else 0}")


def _extget(m: Modem, values: tuple[Value, ...], cmd: Command) -> Outcome | None:
    mode, second, third = values
    f = m.ftp
    if mode == 0 and second is None:
        f.ext_mode, f.ext_data = False, b""
        return None
    if mode == 1 and second is None:
        if f.busy:
            raise CommandError(3)
        m.final("OK")
        f.start(Op.EXTGET)
        return DONE
    if mode == 3 and second is not None and third is not None and str(second).isdecimal():
        if not f.ext_mode:
            raise CommandError(3)
        start = int(str(second))
        data = f.ext_data[start : start + int(third)]
        _show(m, "+FTPEXTGET: 3", data)
        return None
    raise CommandError(3)  # mode 2 (to the file system): no file system here


command("+FTPEXTGET", "Download into RAM: =1 (+FTPEXTGET: 1,0), =3,<pos>,<len> reads, =0 "
        "frees; ? shows <status>,<length>", "manual 12.2.26", test=F(ok), read=F(_extget_read),
        write=F(_extget, sig=(Int(0, 3), Str(64, optional=True),
                              Int(1, EXTGET_LIMIT, optional=True))))


def _quit(m: Modem, values: tuple[Value, ...], cmd: Command) -> Outcome:
    m.final("OK")
    m.ftp.quit()
    return DONE


command("+FTPQUIT", "End the running FTP operation (its URC reports 86)", "manual 12.2.28",
        test=F(ok), exec=F(_quit))
command("+FTPSTATE", "+FTPSTATE: 1 while an operation runs, else 0", "manual 12.2.19",
        test=F(ok), exec=F(lambda m, v, c: m.info(f"+FTPSTATE: {1 if m.ftp.busy else 0}")))
