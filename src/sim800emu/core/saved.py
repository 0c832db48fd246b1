"""Checking a saved profile (the file AT&W / AT+CIPSCONT wrote) before it is
used: every known entry must have the type of its setting and a value the
command that sets it accepts, by the very parameter the registry declares for
that command. Pure: the caller logs what was rejected.

A rejected entry is dropped, so the setting keeps its default (and the next
save writes a good value); entries this version does not know are kept
untouched (a file from another version may add some).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields

from . import commands as _commands  # noqa: F401  (registers every command)
from .commands.basic import BAUDS
from .parser import Form
from .registry import REGISTRY, Int, Param, Str
from .settings import Settings

__all__ = ["check_saved"]

# Which write parameter of which command sets each saved integer or string
# setting (the booleans echo/verbose/quiet are only type-checked).
SOURCES: dict[str, tuple[str, int]] = {
    "cmee": ("+CMEE", 0),
    "creg_n": ("+CREG", 0),
    "cgreg_n": ("+CGREG", 0),
    "ipr": ("+IPR", 0),
    "ciurc": ("+CIURC", 0),
    "cipmux": ("+CIPMUX", 0),
    "cipmode": ("+CIPMODE", 0),
    "apn": ("+CSTT", 0),
    "user": ("+CSTT", 1),
    "pwd": ("+CSTT", 2),
    "csgp_mode": ("+CIPCSGP", 0),
    "csgp_apn": ("+CIPCSGP", 1),
    "csgp_dial": ("+CIPCSGP", 1),
    "csgp_user": ("+CIPCSGP", 2),
    "csgp_pwd": ("+CIPCSGP", 3),
    "csgp_rate": ("+CIPCSGP", 4),
    "clport_tcp": ("+CLPORT", 1),
    "clport_udp": ("+CLPORT", 1),
    "ciphead": ("+CIPHEAD", 0),
    "cipshowtp": ("+CIPSHOWTP", 0),
    "cipsrip": ("+CIPSRIP", 0),
    "cipats_mode": ("+CIPATS", 0),
    "cipats_time": ("+CIPATS", 1),
    "cipsprt": ("+CIPSPRT", 0),
    "ccfg_retry": ("+CIPCCFG", 0),
    "ccfg_waittm": ("+CIPCCFG", 1),
    "ccfg_sendsz": ("+CIPCCFG", 2),
    "ccfg_esc": ("+CIPCCFG", 3),
    "ccfg_rxmode": ("+CIPCCFG", 4),
    "ccfg_rxsize": ("+CIPCCFG", 5),
    "ccfg_rxtimer": ("+CIPCCFG", 6),
    "dpdp_mode": ("+CIPDPDP", 0),
    "dpdp_interval": ("+CIPDPDP", 1),
    "dpdp_timer": ("+CIPDPDP", 2),
    "cipqsend": ("+CIPQSEND", 0),
    "cipssl": ("+CIPSSL", 0),
    # the rest of the manual's AT&W table (docs/general.md)
    "s0": ("S0", 0),
    "s5": ("S5", 0),
    "s6": ("S6", 0),
    "s7": ("S7", 0),
    "s8": ("S8", 0),
    "s10": ("S10", 0),
    "atx": ("X", 0),
    "dcd": ("&C", 0),
    "dtr": ("&D", 0),
    "icf_format": ("+ICF", 0),
    "icf_parity": ("+ICF", 1),
    "ifc_rx": ("+IFC", 0),
    "ifc_tx": ("+IFC", 1),
    "crlp_iws": ("+CRLP", 0),
    "crlp_mws": ("+CRLP", 1),
    "crlp_t1": ("+CRLP", 2),
    "crlp_n2": ("+CRLP", 3),
    "clts": ("+CLTS", 0),
    "csclk": ("+CSCLK", 0),
    "cfgri": ("+CFGRI", 0),
    "csgs": ("+CSGS", 0),
    "cnetlight": ("+CNETLIGHT", 0),
    "csmins": ("+CSMINS", 0),
    "csns": ("+CSNS", 0),
    "csdt": ("+CSDT", 0),
}

# AT+CIPRXGET parses its own arguments (sig None): its mode setting is 0 or 1.
_OWN_PARSING: dict[str, Param] = {"ciprxget": Int(0, 1)}

_DEFAULTS = Settings().to_dict()
_TYPES = {f.name: type(_DEFAULTS[f.name]) for f in fields(Settings)}


def _param(key: str) -> Param | None:
    if key in _OWN_PARSING:
        return _OWN_PARSING[key]
    source = SOURCES.get(key)
    if source is None:
        return None
    name, index = source
    sig = REGISTRY[name].forms[Form.WRITE].sig
    assert isinstance(sig, tuple), f"{name}: no fixed write signature"
    return sig[index]


def _problem(key: str, value: object) -> str | None:
    """Why ``value`` cannot be the saved ``key``, or ``None`` when it can."""
    wanted = _TYPES[key]
    if type(value) is not wanted:  # bool is not int here, nor int bool
        return f"{value!r} is not {'true/false' if wanted is bool else wanted.__name__}"
    if value == _DEFAULTS[key]:
        return None  # the default is always fine (cipats_time 0: no timer)
    param = _param(key)
    if isinstance(param, Int):
        assert isinstance(value, int)
        if not param.lo <= value <= param.hi:
            return f"{value} is not in {param.lo}-{param.hi}"
        if key == "ipr" and value not in BAUDS:
            return f"{value} is not a rate AT+IPR takes"
    elif isinstance(param, Str):
        assert isinstance(value, str)
        if len(value) > param.max_len:
            return f"longer than {param.max_len} characters"
        if '"' in value or not value.isprintable():
            return "not printable text without double quotes"
    return None


def check_saved(data: Mapping[str, object]) -> tuple[dict[str, object], list[str]]:
    """``data`` without the entries that are not valid settings, and one
    message per entry dropped (``"cipmux: 7 is not in 0-1"``)."""
    kept: dict[str, object] = {}
    problems: list[str] = []
    for key, value in data.items():
        if key in _TYPES:
            problem = _problem(key, value)
            if problem is not None:
                problems.append(f"{key}: {problem}")
                continue
        kept[key] = value
    # The two modes exclude each other (AT+CIPMODE=1 needs CIPMUX=0).
    if kept.get("cipmux") == 1 and kept.get("cipmode") == 1:
        del kept["cipmode"]
        problems.append("cipmode: 1 is not possible with cipmux 1")
    return kept, problems
