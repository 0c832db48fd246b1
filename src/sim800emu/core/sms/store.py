"""The message storages of 27.005: ``SM`` (on the SIM) and ``ME`` (in the
module), each a fixed number of numbered places holding one PDU (service
centre address and TPDU, as the module stores it) and a status.

Indices start at 1; a new message takes the lowest free place. The whole
content is plain data (``to_dict`` / ``from_dict``) so the runtime can keep
it in the state directory, one file per SIM (ICCID).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import IntEnum

SM_CAPACITY = 50
ME_CAPACITY = 150
MEMORIES = ("SM", "ME", "SM_P", "ME_P", "MT")


class Stat(IntEnum):
    REC_UNREAD = 0
    REC_READ = 1
    STO_UNSENT = 2
    STO_SENT = 3

    @property
    def text(self) -> str:
        return self.name.replace("_", " ")


STAT_BY_TEXT = {s.text: s for s in Stat}


@dataclass(slots=True)
class Record:
    stat: Stat
    pdu: bytes  # service centre address + TPDU


class StorageFull(Exception):
    pass


class Storage:
    """One memory: ``capacity`` places numbered from 1."""

    __slots__ = ("capacity", "name", "records")

    def __init__(self, name: str, capacity: int) -> None:
        self.name = name
        self.capacity = capacity
        self.records: dict[int, Record] = {}

    @property
    def used(self) -> int:
        return len(self.records)

    def add(self, stat: Stat, pdu: bytes) -> int:
        for index in range(1, self.capacity + 1):
            if index not in self.records:
                self.records[index] = Record(stat, pdu)
                return index
        raise StorageFull(self.name)

    def get(self, index: int) -> Record | None:
        return self.records.get(index)

    def delete(self, index: int) -> bool:
        return self.records.pop(index, None) is not None

    def items(self) -> Iterator[tuple[int, Record]]:
        for index in sorted(self.records):
            yield index, self.records[index]


class Storages:
    """SM and ME; the other names of CPMS resolve to one of them."""

    __slots__ = ("me", "sm")

    def __init__(self, sm_capacity: int = SM_CAPACITY, me_capacity: int = ME_CAPACITY) -> None:
        self.sm = Storage("SM", sm_capacity)
        self.me = Storage("ME", me_capacity)

    def get(self, mem: str) -> Storage:
        """``SM``, ``SM_P`` and ``MT`` are the SIM; ``ME`` and ``ME_P`` the module."""
        return self.me if mem.startswith("ME") else self.sm

    def to_dict(self) -> dict[str, object]:
        return {
            s.name: {str(i): {"stat": int(r.stat), "pdu": r.pdu.hex().upper()} for i, r in s.items()}
            for s in (self.sm, self.me)
        }

    def load(self, data: Mapping[str, object]) -> None:
        """Content saved by ``to_dict`` (entries that do not fit are skipped)."""
        for storage in (self.sm, self.me):
            entries = data.get(storage.name)
            if not isinstance(entries, dict):
                continue
            storage.records.clear()
            for key, value in entries.items():
                if not (isinstance(key, str) and key.isdecimal() and isinstance(value, dict)):
                    continue
                index = int(key)
                stat, pdu = value.get("stat"), value.get("pdu")
                if not (1 <= index <= storage.capacity and isinstance(stat, int)
                        and stat in (0, 1, 2, 3) and isinstance(pdu, str)):
                    continue
                try:
                    storage.records[index] = Record(Stat(stat), bytes.fromhex(pdu))
                except ValueError:
                    continue
