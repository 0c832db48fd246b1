"""The bearer profiles of AT+SAPBR (manual 9.2.1): cid 1-3, each with its
parameters and a status.

All profiles ride on the one PDP context the module has (the same one CIP
uses, so CIICR is quick while a bearer is open); opening a profile needs GPRS
service, and losing the context (the network's ``pdp-deact``, AT+CGATT=0,
AT+CFUN=0) closes every open profile with ``+SAPBR <cid>: DEACT``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

CIDS = (1, 2, 3)

# tag -> (default, longest value); RATE and CONTYPE are checked by value
TAGS: dict[str, tuple[str, int]] = {
    "CONTYPE": ("GPRS", 4),
    "APN": ("", 64),
    "USER": ("", 32),
    "PWD": ("", 32),
    "PHONENUM": ("", 40),
    "RATE": ("2", 1),
}
CONTYPES = ("GPRS", "CSD")
RATES = ("0", "1", "2", "3")


class Status(IntEnum):
    """<Status> of AT+SAPBR=2."""

    CONNECTING = 0
    CONNECTED = 1
    CLOSING = 2
    CLOSED = 3


def _defaults() -> dict[str, str]:
    return {tag: default for tag, (default, _) in TAGS.items()}


@dataclass(slots=True)
class Profile:
    params: dict[str, str] = field(default_factory=_defaults)
    status: Status = Status.CLOSED


class Bearers:
    """The three profiles; nothing here prints or times anything."""

    __slots__ = ("profiles",)

    def __init__(self) -> None:
        self.profiles = {cid: Profile() for cid in CIDS}

    def is_open(self, cid: int) -> bool:
        profile = self.profiles.get(cid)
        return profile is not None and profile.status is Status.CONNECTED

    @property
    def any_open(self) -> bool:
        return any(p.status is Status.CONNECTED for p in self.profiles.values())

    def set_param(self, cid: int, tag: str, value: str) -> bool:
        """AT+SAPBR=3: False when the tag or its value is not acceptable."""
        tag = tag.strip().upper()
        spec = TAGS.get(tag)
        if spec is None or len(value) > spec[1]:
            return False
        if tag == "CONTYPE":
            value = value.upper()
            if value not in CONTYPES:
                return False
        if tag == "RATE" and value not in RATES:
            return False
        self.profiles[cid].params[tag] = value
        return True

    def drop_all(self) -> list[int]:
        """The context is gone: every open (or opening) profile closes; the
        cids that were open, for their DEACT URCs."""
        dropped = []
        for cid, profile in self.profiles.items():
            if profile.status is not Status.CLOSED:
                if profile.status is Status.CONNECTED:
                    dropped.append(cid)
                profile.status = Status.CLOSED
        return dropped
