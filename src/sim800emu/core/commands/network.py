"""Network registration and GPRS attach (manual 3.1-3.3; reference 6)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..parser import Command
from ..registry import PENDING, F, Int, Outcome, Str, Value, command, ok, text

if TYPE_CHECKING:
    from ..modem import Modem


def _registration(name: str, what: str, source: str, n_attr: str, stat_attr: str) -> None:
    """CREG and CGREG: the same forms over their own <n> and <stat>."""

    def read(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
        n = getattr(m.settings, n_attr)
        m.info(f"{name}: {n},{m.registration(n, getattr(m, stat_attr))}")

    def write(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
        setattr(m.settings, n_attr, int(values[0] if values[0] is not None else 0))

    command(name, what, source, test=F(text(f"{name}: (0-2)")), read=F(read),
            write=F(write, sig=(Int(0, 2, optional=True),)), needs_sim=True)


_registration("+CREG", "GSM network registration (URC +CREG: <stat> with n=1/2)",
              "manual 3.1", "creg_n", "creg_stat")
_registration("+CGREG", "GPRS network registration", "manual 3.2", "cgreg_n", "cgreg_stat")


def _cgatt_read(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    m.info(f"+CGATT: {1 if m.attached else 0}")


def _cgatt_write(m: Modem, values: tuple[Value, ...], cmd: Command) -> Outcome | None:
    if values[0] == 0:
        m.lose_context()  # detach tears the PDP context down (+PDP: DEACT)
        m.attached = False
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
