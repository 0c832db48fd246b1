"""Shared pieces for declaring commands: state rules and simple settings."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..parser import Command
from ..registry import ANYWHERE, F, Int, Rule, Value, command, text
from ..state import Ctx

if TYPE_CHECKING:
    from ..modem import Modem


def in_ctx(*ctxs: Ctx) -> Rule:
    names = " or ".join(c.value for c in ctxs)
    return Rule(names, lambda m, v: m.ip.ctx in ctxs)


IP_INITIAL = in_ctx(Ctx.INITIAL)
SINGLE = Rule("single-link mode (CIPMUX=0)", lambda m, v: not m.multi)
MULTI = Rule("multi-link mode (CIPMUX=1)", lambda m, v: m.multi)


def setting(
    name: str,
    attr: str,
    lo: int,
    hi: int,
    summary: str,
    source: str,
    *,
    test_text: str | None = None,
    when: Rule = ANYWHERE,
) -> None:
    """A command that sets one integer setting: test, read and write forms."""

    def read(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
        m.info(f"{name}: {getattr(m.settings, attr)}")

    def write(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
        setattr(m.settings, attr, values[0])

    shown = test_text if test_text is not None else (f"({lo},{hi})" if hi == lo + 1 else f"({lo}-{hi})")
    command(
        name,
        summary,
        source,
        test=F(text(f"{name}: {shown}")),
        read=F(read),
        write=F(write, when, (Int(lo, hi),)),
    )
