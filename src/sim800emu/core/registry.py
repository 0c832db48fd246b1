"""The command registry: every command declared once, with its forms, the
argument types of its write form, the states where each form is allowed and
the source (manual or reference section) it comes from.

The dispatcher (``Modem._execute``) enforces all of that, so handlers never
check a state or a range themselves: a handler only runs when the command
is well formed and allowed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .parser import Arg, Command, Form

if TYPE_CHECKING:
    from .modem import Modem


class CommandError(Exception):
    """Refuse the command. ``cme`` None: plain ERROR whatever CMEE says
    (syntax, unknown); otherwise the 27.007 code shown per AT+CMEE."""

    prefix = "+CME ERROR"

    def __init__(self, cme: int | None = None, text: str = "") -> None:
        super().__init__(cme)
        self.cme = cme
        self.text = text  # a verbose text other than the code's usual one

    def code_text(self) -> str:
        """The verbose (AT+CMEE=2) text of the code."""
        return self.text or CME_TEXTS.get(self.cme or 0, "unknown")


class CmsError(CommandError):
    """A message service failure (27.005 3.2.5): ``+CMS ERROR: <err>``,
    shown per AT+CMEE like +CME ERROR."""

    prefix = "+CMS ERROR"

    def code_text(self) -> str:
        return self.text or CMS_TEXTS.get(self.cme or 0, "unknown error")


def syntax_error() -> CommandError:
    return CommandError(None)


OPERATION_NOT_ALLOWED = 3
CME_TEXTS: dict[int, str] = {
    3: "operation not allowed",
    4: "operation not supported",
    10: "SIM not inserted",
    11: "SIM PIN required",
    12: "SIM PUK required",
    13: "SIM failure",
    14: "SIM busy",
    16: "incorrect password",
    20: "memory full",
    21: "invalid index",
    22: "not found",
    24: "text string too long",
    25: "invalid characters in text string",
    26: "dial string too long",
    27: "invalid characters in dial string",
    30: "no network service",
    50: "Incorrect parameters",
    100: "unknown",
    765: "invalid input value",
}
CMS_TEXTS: dict[int, str] = {
    300: "ME failure",
    301: "SMS service of ME reserved",
    302: "operation not allowed",
    303: "operation not supported",
    304: "invalid PDU mode parameter",
    305: "invalid text mode parameter",
    310: "SIM not inserted",
    311: "SIM PIN required",
    313: "SIM failure",
    314: "SIM busy",
    315: "SIM wrong",
    320: "memory failure",
    321: "invalid memory index",
    322: "memory full",
    330: "SMSC address unknown",
    331: "no network service",
    332: "network timeout",
    500: "unknown error",
}


# ------------------------------------------------------------ argument types


@dataclass(frozen=True, slots=True)
class Int:
    lo: int
    hi: int
    optional: bool = False
    name: str = ""

    def convert(self, arg: Arg) -> int:
        text = arg.text.strip()
        digits = text[1:] if text[:1] == "-" and self.lo < 0 else text
        if not (digits.isascii() and digits.isdigit()):
            raise syntax_error()
        value = int(text)
        if not self.lo <= value <= self.hi:
            raise syntax_error()
        return value

    def describe(self) -> str:
        return f"{self.name or 'n'}:{self.lo}-{self.hi}"


@dataclass(frozen=True, slots=True)
class Str:
    max_len: int = 255
    optional: bool = False
    name: str = ""

    def convert(self, arg: Arg) -> str:
        if len(arg.text) > self.max_len:
            raise syntax_error()
        return arg.text

    def describe(self) -> str:
        return f'"{self.name or "text"}"'


@dataclass(frozen=True, slots=True)
class Choice:
    choices: tuple[str, ...]
    optional: bool = False
    name: str = ""

    def convert(self, arg: Arg) -> str:
        value = arg.text.strip().upper()
        if value not in self.choices:
            raise syntax_error()
        return value

    def describe(self) -> str:
        return "/".join(f'"{c}"' for c in self.choices)


Param = Int | Str | Choice
Signature = tuple[Param, ...]
Value = int | str | None


def bind(sig: Signature, args: Sequence[Arg]) -> tuple[Value, ...]:
    """Convert ``args`` by ``sig``: too many or too few arguments, a bad
    value or a missing required one is a syntax error. Omitted optional
    trailing arguments (and empty optional ones) are None."""
    if len(args) > len(sig):
        raise syntax_error()
    values: list[Value] = []
    for i, param in enumerate(sig):
        if i >= len(args) or (args[i].text == "" and not args[i].quoted):
            if not param.optional:
                if isinstance(param, Str) and i < len(args):
                    values.append("")
                    continue
                raise syntax_error()
            values.append(None)
            continue
        values.append(param.convert(args[i]))
    return tuple(values)


# ------------------------------------------------------------ state rules


@dataclass(frozen=True, slots=True)
class Rule:
    """Where a form is allowed. ``text`` is what the docs print."""

    text: str
    test: Callable[[Modem, tuple[Value, ...]], bool]
    refusal: int = OPERATION_NOT_ALLOWED

    def __and__(self, other: Rule) -> Rule:
        return Rule(
            f"{self.text}; {other.text}",
            lambda m, v: self.test(m, v) and other.test(m, v),
            self.refusal,
        )


ANYWHERE = Rule("any state", lambda m, v: True)


# ------------------------------------------------------------ commands

Handler = Callable[["Modem", tuple[Value, ...], Command], "Outcome | None"]


class Outcome:
    """What a handler's final result is, when it is not a plain OK."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"Outcome.{self.name}"


# The handler printed its own final text (SHUT OK, CLOSE OK, CIFSR's address):
# no OK follows. The rest of a chained line still runs.
DONE = Outcome("DONE")
# The final result comes later (CIICR); the line is busy until it does.
PENDING = Outcome("PENDING")
# The line switched to data entry (CIPSEND prompt, transparent data mode).
DATA = Outcome("DATA")
# The handler printed an error result itself (ERROR + ALREADY CONNECT): stop the line.
FAILED = Outcome("FAILED")


@dataclass(frozen=True, slots=True)
class FormSpec:
    handler: Handler
    when: Rule = ANYWHERE
    # Signature for WRITE; a callable picks one by the modem's mode. None: the
    # handler gets raw args (only for commands with several syntaxes).
    sig: Signature | Callable[[Modem], Signature] | None = ()
    doc: str = ""


@dataclass(frozen=True, slots=True)
class CommandSpec:
    name: str
    summary: str
    source: str
    forms: dict[Form, FormSpec] = field(default_factory=dict)
    needs_sim: bool = False


REGISTRY: dict[str, CommandSpec] = {}


def command(
    name: str,
    summary: str,
    source: str,
    *,
    needs_sim: bool = False,
    **forms: FormSpec,
) -> CommandSpec:
    spec = CommandSpec(
        name=name,
        summary=summary,
        source=source,
        forms={Form(k): v for k, v in forms.items()},
        needs_sim=needs_sim,
    )
    if name in REGISTRY:
        raise ValueError(f"{name} registered twice")
    REGISTRY[name] = spec
    return spec


def alias(name: str, target: str) -> None:
    REGISTRY[name] = REGISTRY[target]


def text(*lines: str) -> Handler:
    """A form that prints fixed information lines then OK."""

    def handler(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
        m.info(*lines)

    return handler


def ok(m: Modem, values: tuple[Value, ...], cmd: Command) -> None:
    """A form that only answers OK."""


def F(
    handler: Handler,
    when: Rule = ANYWHERE,
    sig: Signature | Callable[[Modem], Signature] | None = (),
    doc: str = "",
) -> FormSpec:
    return FormSpec(handler, when, sig, doc)


