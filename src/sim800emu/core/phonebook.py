"""Phone book storages (AT+CPBS/CPBR/CPBW/CPBF, manual V1.12 3.2.24-3.2.27).

Pure data and rules: each storage has fixed locations 1..size, numbers of
at most ``NLENGTH`` dialling characters and texts of at most ``TLENGTH``
characters. Texts are kept as Python strings; the command layer spells them
per AT+CSCS. Errors are 27.007 +CME codes (``PhoneBookError.cme``).
"""

from __future__ import annotations

from dataclasses import dataclass

NLENGTH = 40  # AT+CPBR=? "+CPBR: (1-250),40,14" (manual 19.2)
TLENGTH = 14
TYPES = (129, 145, 161, 177)  # unknown, international, national, network specific
DIAL_CHARS = frozenset("0123456789*#+pwPW,ABCD")

# CME codes (manual 18.1)
MEMORY_FULL = 20
INVALID_INDEX = 21
TEXT_TOO_LONG = 24
DIAL_STRING_TOO_LONG = 26
INVALID_DIAL_CHARS = 27


class PhoneBookError(Exception):
    def __init__(self, cme: int) -> None:
        super().__init__(cme)
        self.cme = cme


@dataclass(frozen=True, slots=True)
class Entry:
    number: str
    type: int
    text: str

    def to_json(self) -> list[object]:
        return [self.number, self.type, self.text]


def number_type(number: str, given: int | None) -> int:
    """A number written with a leading ``+`` is international (145)."""
    if number.startswith("+"):
        return 145
    return given if given is not None else 129


class PhoneBook:
    """One storage: locations 1..size."""

    __slots__ = ("entries", "name", "size")

    def __init__(self, name: str, size: int) -> None:
        self.name = name
        self.size = size
        self.entries: dict[int, Entry] = {}

    @property
    def used(self) -> int:
        return len(self.entries)

    def check_index(self, index: int) -> None:
        if not 1 <= index <= self.size:
            raise PhoneBookError(INVALID_INDEX)

    def read(self, first: int, last: int) -> list[tuple[int, Entry]]:
        """Entries in first..last (both valid indices, first <= last)."""
        self.check_index(first)
        self.check_index(last)
        if first > last:
            raise PhoneBookError(INVALID_INDEX)
        return [(i, self.entries[i]) for i in range(first, last + 1) if i in self.entries]

    def find(self, text: str) -> list[tuple[int, Entry]]:
        """Entries whose text contains ``text`` (case-insensitive); all for ''."""
        needle = text.casefold()
        return [(i, e) for i, e in sorted(self.entries.items()) if needle in e.text.casefold()]

    def write(self, index: int | None, number: str, type_: int | None, text: str) -> int:
        """Store an entry (at the first free location without ``index``);
        the location used is returned."""
        if len(number.lstrip("+")) > NLENGTH:
            raise PhoneBookError(DIAL_STRING_TOO_LONG)
        if not number or not set(number) <= DIAL_CHARS or "+" in number[1:]:
            raise PhoneBookError(INVALID_DIAL_CHARS)
        if len(text) > TLENGTH:
            raise PhoneBookError(TEXT_TOO_LONG)
        if index is None:
            free = [i for i in range(1, self.size + 1) if i not in self.entries]
            if not free:
                raise PhoneBookError(MEMORY_FULL)
            index = free[0]
        self.check_index(index)
        self.entries[index] = Entry(number, number_type(number, type_), text)
        return index

    def delete(self, index: int) -> None:
        self.check_index(index)
        self.entries.pop(index, None)

    def to_json(self) -> dict[str, list[object]]:
        return {str(i): e.to_json() for i, e in sorted(self.entries.items())}

    def load(self, data: object) -> None:
        """Entries from ``to_json`` output; malformed items are skipped."""
        if not isinstance(data, dict):
            return
        for key, item in data.items():
            if not (isinstance(key, str) and key.isdecimal() and isinstance(item, list)):
                continue
            if len(item) != 3:
                continue
            number, type_, text = item
            index = int(key)
            if (isinstance(number, str) and isinstance(type_, int) and isinstance(text, str)
                    and 1 <= index <= self.size):
                self.entries[index] = Entry(number, type_, text)
