"""Network registration and GPRS attach (manual 3.1-3.3; reference 6)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..parser import Command
from ..registry import PENDING, F, Int, Outcome, Str, Value, command, ok, text

if TYPE_CHECKING:
    from ..modem import Modem


def _reg_line(m: Modem, name: str, n: int, stat: int) -> str:
    radio = m.config.radio
    if n == 2 and stat in (1, 5):
        return f'{name}: {n},{stat},"{radio.lac}","{radio.ci}"'
    return f"{name}: {n},{stat}"


def _creg_read(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    m.info(_reg_line(m, "+CREG", m.settings.creg_n, m.creg_stat))


def _creg_write(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    m.settings.creg_n = int(values[0] if values[0] is not None else 0)


command("+CREG", "GSM network registration (URC +CREG: <stat> with n=1/2)", "manual 3.1",
        test=F(text("+CREG: (0-2)")), read=F(_creg_read),
        write=F(_creg_write, sig=(Int(0, 2, optional=True),)), needs_sim=True)


def _cgreg_read(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    m.info(_reg_line(m, "+CGREG", m.settings.cgreg_n, m.cgreg_stat))


def _cgreg_write(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    m.settings.cgreg_n = int(values[0] if values[0] is not None else 0)


command("+CGREG", "GPRS network registration", "manual 3.2",
        test=F(text("+CGREG: (0-2)")), read=F(_cgreg_read),
        write=F(_cgreg_write, sig=(Int(0, 2, optional=True),)), needs_sim=True)


def _cgatt_read(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    m.info(f"+CGATT: {1 if m.attached else 0}")


def _cgatt_write(m: Modem, values: tuple[Value, ...], cmd: Command) -> Outcome | None:
    if values[0] == 0:
        m.lose_context()  # detach tears the PDP context down (+PDP: DEACT)
        m.attached = False
        m.bearer_open = False
        m.pdp_active = False
        return None
    if m.cfun != 1 or m.creg_stat not in (1, 5):
        from ..registry import CommandError

        raise CommandError(100)
    delay = m.config.timing.cgatt
    if m.attached or delay <= 0:
        m.attached = True
        return None

    def done() -> None:
        m.attached = True
        m.complete()

    m.start_timer("cgatt", delay, done)
    return PENDING


command("+CGATT", "Attach to (1) or detach from (0) GPRS; detach tears the context down",
        "manual 3.3", test=F(text("+CGATT: (0,1)")), read=F(_cgatt_read),
        write=F(_cgatt_write, sig=(Int(0, 1),)), needs_sim=True)


def _cops_read(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    if m.creg_stat in (1, 5):
        m.info(f'+COPS: 0,0,"{m.config.identity.operator}"')
    else:
        m.info("+COPS: 0")


def _cops_test(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    op = m.config.identity.operator
    m.info(f'+COPS: (2,"{op}","{op}","46000"),,(0-4),(0-2)')


command("+COPS", "Operator selection", "reference 6",
        read=F(_cops_read), test=F(_cops_test),
        write=F(ok, sig=(Int(0, 4), Int(0, 2, optional=True), Str(32, optional=True))),
        needs_sim=True)
