"""AT+CMUX (manual V1.12 3.2.38): the 27.010 multiplexer (core/cmux.py).

The write form is documented as ``AT+CMUX=<mode>``; clients also send the
full 27.007 form (Zephyr: ``AT+CMUX=0,0,5,127``, gsm0710muxd
``AT+CMUX=0,0,5,<N1>``), accepted within the ranges of the test response:
mode 0 (basic option), subset 0 (UIH frames only), port speed 1-6, N1
16-1510, T1 1-255, N2 0-100, T2 2-255, T3 1-255, k 1-7. A value out of range
is a plain ERROR, like every range error here. The port speed is kept, not
applied: the multiplexer runs at the current rate (the manual's note).

After ``OK`` the line speaks 27.010 (the rest of the command line is not
run). On a DLC, where the multiplexer already runs, the write form answers
+CME ERROR: operation not allowed. The read form shows the multiplexer's
parameters while it runs, else the defaults."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..cmux import MuxParams
from ..parser import Command
from ..registry import DATA, F, Int, Outcome, Rule, Value, command, text

if TYPE_CHECKING:
    from ..modem import Modem

MAN = "manual V1.12 "
NAMES = ("mode", "subset", "port_speed", "n1", "t1", "n2", "t2", "t3", "k")
SIG = (
    Int(0, 0, name="mode"),
    Int(0, 0, optional=True, name="subset"),
    Int(1, 6, optional=True, name="port_speed"),
    Int(16, 1510, optional=True, name="N1"),
    Int(1, 255, optional=True, name="T1"),
    Int(0, 100, optional=True, name="N2"),
    Int(2, 255, optional=True, name="T2"),
    Int(1, 255, optional=True, name="T3"),
    Int(1, 7, optional=True, name="k"),
)
NOT_MUXED = Rule("not on a multiplexer channel", lambda m, v: m.mux is None)


def _write(m: Modem, values: tuple[Value, ...], cmd: Command) -> Outcome:
    params = MuxParams()
    for name, value in zip(NAMES, values, strict=True):
        if isinstance(value, int):
            setattr(params, name, value)
    m.final("OK")
    m.start_mux(params)
    return DATA  # the line is the multiplexer's now: nothing more of it runs


def _read(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    params = m.mux.params if m.mux is not None else MuxParams()
    m.info(f"+CMUX: {params.text()}")


command("+CMUX", "Multiplexer (3GPP TS 27.010 basic option, UIH frames): DLCI 0 control, "
        "DLCIs 1-4 AT channels; after OK the line speaks 27.010 (docs/cmux.md)",
        MAN + "3.2.38",
        test=F(text("+CMUX: (0),(0),(1-6),(16-1510),(1-255),(0-100),(2-255),(1-255),(1-7)")),
        read=F(_read),
        write=F(_write, when=NOT_MUXED, sig=SIG))
