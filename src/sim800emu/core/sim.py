"""The SIM card: what lives on it and survives a restart.

Phone books (SM, FD, ON; the module's own ME book is kept here too),
the preferred operator list (CPOL), facility locks and passwords (CLCK,
CPWD) and the advice-of-charge meters (CACM, CAMM, CPUC).

Pure. ``to_json`` / ``load`` give the data the modem stores in the saved
profile (one key per ICCID, so another SIM in the same module starts
empty); the command modules ask the modem to save after every change
(``commands/sim.py``: ``persist``).
"""

from __future__ import annotations

from .config import Identity
from .phonebook import PhoneBook

# name -> locations (manual 19.2: "+CPBS: (\"SM\",\"ME\",\"ON\",\"FD\")", SM 1-250)
BOOKS = {"SM": 250, "ME": 100, "ON": 1, "FD": 10}
BARRINGS = ("AO", "OI", "OX", "AI", "IR")
LOCK_FACILITIES = (*BARRINGS, "FD", "SC", "PN", "PU", "PP")  # manual 20.13 (SIM800L)
# CPWD: facility -> password length (27.007 +CPWD=? pairs)
PASSWORDS = {"AO": 4, "OI": 4, "OX": 4, "AI": 4, "IR": 4, "AB": 4, "P2": 8, "SC": 8}
CPOL_SIZE = 50
DEFAULT_PIN = "1234"
DEFAULT_PIN2 = "1234"
DEFAULT_BARRING_PASSWORD = "0000"
DEFAULT_PUK = "12345678"
PIN_TRIES = 3
PUK_TRIES = 10
READY, SIM_PIN, SIM_PUK = "READY", "SIM PIN", "SIM PUK"  # AT+CPIN? codes
INCORRECT_PASSWORD = 16
SIM_FAILURE = 13


class SimCard:
    __slots__ = (
        "_books",
        "_msisdn",
        "_own_number_written",
        "acm",
        "acm_max",
        "barring_pwd",
        "cpol",
        "currency",
        "current",
        "locks",
        "pin",
        "pin2",
        "pin_state",
        "pin_tries",
        "ppu",
        "puk_tries",
    )

    def __init__(self, identity: Identity, saved: object = None) -> None:
        self._books: dict[str, PhoneBook] | None = None  # made on first use: books
        self._msisdn = identity.msisdn
        self.current = "SM"
        self.cpol: dict[int, tuple[int, str]] = {}  # index -> (format, operator)
        self.locks: dict[str, bool] = {}
        self.pin = DEFAULT_PIN
        self.pin2 = DEFAULT_PIN2
        self.barring_pwd = DEFAULT_BARRING_PASSWORD
        self.acm = 0
        self.acm_max = 0
        self.currency = ""
        self.ppu = ""
        self._own_number_written = False
        self.pin_state = READY  # what AT+CPIN? shows
        self.pin_tries = PIN_TRIES
        self.puk_tries = PUK_TRIES
        self.load(saved)

    @property
    def books(self) -> dict[str, PhoneBook]:
        """The phone books, made on first use (a fleet of modems that never
        read them does not pay for them)."""
        books = self._books
        if books is None:
            books = self._books = {name: PhoneBook(name, size) for name, size in BOOKS.items()}
            if not self._own_number_written and self._msisdn:
                # the MSISDN record: what AT+CNUM shows (--msisdn)
                books["ON"].write(1, self._msisdn, None, "")
        return books

    @property
    def book(self) -> PhoneBook:
        return self.books[self.current]

    def own_number_changed(self) -> None:
        """The ON book was written: keep it across restarts."""
        self._own_number_written = True

    # ------------------------------------------------------------ PIN

    def power_on(self) -> bool:
        """The SIM starts (power-on, AT+CFUN=1,1, AT+CFUN=0 -> 1): with the
        SC lock on it asks for its PIN (or its PUK once the PIN is blocked).
        True when it does."""
        if self.pin_tries == 0:
            self.pin_state = SIM_PUK
        else:
            self.pin_state = SIM_PIN if self.locked("SC") else READY
        return self.pin_state != READY

    def enter(self, code: str, new_pin: str | None) -> int | None:
        """AT+CPIN=<pin>[,<new pin>] while the SIM waits: None when it is
        now ready, else the +CME code (16 wrong, 13 blocked)."""
        if self.pin_state == SIM_PIN:
            if code != self.pin:
                self.pin_tries -= 1
                if self.pin_tries == 0:
                    self.pin_state = SIM_PUK
                return INCORRECT_PASSWORD
        elif self.pin_state == SIM_PUK:
            if self.puk_tries == 0:
                return SIM_FAILURE
            if new_pin is None or code != DEFAULT_PUK:
                self.puk_tries -= 1
                return INCORRECT_PASSWORD
            self.pin = new_pin
            self.puk_tries = PUK_TRIES
        self.pin_state = READY
        self.pin_tries = PIN_TRIES
        return None

    def locked(self, fac: str) -> bool:
        return self.locks.get(fac, False)

    def password_ok(self, fac: str, given: str) -> bool:
        if fac == "SC":
            return given == self.pin
        if fac in ("P2", "FD"):
            return given == self.pin2
        return given == self.barring_pwd

    def set_password(self, fac: str, new: str) -> None:
        if fac == "SC":
            self.pin = new
        elif fac == "P2":
            self.pin2 = new
        else:
            self.barring_pwd = new

    # ------------------------------------------------------------ persistence

    def to_json(self) -> dict[str, object]:
        books = {name: b.to_json() for name, b in self.books.items()
                 if name != "ON" or self._own_number_written}
        return {
            "books": books,
            "cpol": {str(i): [f, op] for i, (f, op) in sorted(self.cpol.items())},
            "locks": dict(self.locks),
            "pin": self.pin,
            "pin2": self.pin2,
            "barring_pwd": self.barring_pwd,
            "acm": self.acm,
            "acm_max": self.acm_max,
            "currency": self.currency,
            "ppu": self.ppu,
        }

    def load(self, data: object) -> None:
        if not isinstance(data, dict):
            return
        books = data.get("books")
        if isinstance(books, dict):
            if "ON" in books:  # the own number was written: no MSISDN record then
                self._own_number_written = True
            for name, content in books.items():
                if name in self.books:
                    self.books[name].load(content)
        cpol = data.get("cpol")
        if isinstance(cpol, dict):
            for key, item in cpol.items():
                if (isinstance(key, str) and key.isdecimal() and isinstance(item, list)
                        and len(item) == 2 and isinstance(item[0], int)
                        and isinstance(item[1], str)):
                    self.cpol[int(key)] = (item[0], item[1])
        locks = data.get("locks")
        if isinstance(locks, dict):
            self.locks = {k: v for k, v in locks.items() if k in LOCK_FACILITIES
                          and isinstance(v, bool)}
        for attr in ("pin", "pin2", "barring_pwd", "currency", "ppu"):
            value = data.get(attr)
            if isinstance(value, str):
                setattr(self, attr, value)
        for attr in ("acm", "acm_max"):
            value = data.get(attr)
            if isinstance(value, int):
                setattr(self, attr, value)
