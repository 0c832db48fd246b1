"""The TE character set of AT+CSCS: how text is spelled on the serial line.

One owner for the rule, asked by every family that prints or reads text
(SMS text mode, USSD replies, the phone book, CNUM): ``encode`` turns a
Python string into what the module prints under the current set, ``decode``
reads what the host typed. GSM 03.38 comes from the ``gsm0338`` codec.

Manual V1.12 3.2.12: "IRA" (the default), "GSM", "UCS2", "HEX", "PCCP",
"PCDN", "8859-1". "HEX" spells every character as two hex digits of its
GSM 7-bit code; "UCS2" as four hex digits of its UTF-16 code unit.
"""

from __future__ import annotations

import gsm0338  # type: ignore[import-untyped]  # noqa: F401  (registers the "gsm03.38" codec)

CHARSETS = ("IRA", "GSM", "UCS2", "HEX", "PCCP", "PCDN", "8859-1")
DEFAULT = "IRA"


class CharsetError(ValueError):
    """Text that the current character set cannot spell (or bad hex)."""


def _gsm(text: str) -> bytes:
    try:
        return text.encode("gsm03.38")
    except UnicodeEncodeError as exc:
        raise CharsetError(str(exc)) from None


class TeCharset:
    """The current AT+CSCS setting (not saved: back to IRA on restart)."""

    __slots__ = ("name",)

    def __init__(self, name: str = DEFAULT) -> None:
        self.name = name

    def encode(self, text: str) -> str:
        """``text`` as the module prints it under the current set. Characters
        the set lacks become ``?`` in the byte sets (as the module does)."""
        name = self.name
        if name == "UCS2":
            return text.encode("utf-16-be").hex().upper()
        if name == "HEX":
            return _gsm_lossy(text).hex().upper()
        if name == "GSM":
            return _gsm_lossy(text).decode("latin-1")
        # IRA, PCCP, PCDN, 8859-1: one byte per character
        return text.encode("latin-1", "replace").decode("latin-1")

    def decode(self, typed: str) -> str:
        """What the host typed under the current set, as text."""
        name = self.name
        try:
            if name == "UCS2":
                return bytes.fromhex(typed).decode("utf-16-be")
            if name == "HEX":
                return bytes.fromhex(typed).decode("gsm03.38")
            if name == "GSM":
                return typed.encode("latin-1").decode("gsm03.38")
        except (ValueError, UnicodeError) as exc:
            raise CharsetError(str(exc)) from None
        return typed


def _gsm_lossy(text: str) -> bytes:
    out = bytearray()
    for ch in text:
        try:
            out += ch.encode("gsm03.38")
        except UnicodeEncodeError:
            out += b"?"
    return bytes(out)


def gsm_encodable(text: str) -> bool:
    """Can ``text`` be sent in the GSM 7-bit default alphabet (with its
    extension table)? Otherwise the network uses UCS2 (USSD dcs 72, SMS)."""
    try:
        _gsm(text)
    except CharsetError:
        return False
    return True


def ucs2_hex(text: str) -> str:
    """``text`` as four hex digits per UTF-16 code unit (the UCS2 spelling)."""
    return text.encode("utf-16-be").hex().upper()
