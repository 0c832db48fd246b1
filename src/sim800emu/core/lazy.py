"""Family state made on first use.

A fleet holds thousands of modems that mostly answer ``AT`` and little else;
the SMS storage, the HTTP client or the six CIP links of a modem that never
uses them are memory for nothing (bench/fleet_memory.py). ``lazy(make)`` as a
class attribute builds the object with ``make(instance)`` the first time the
attribute is read and stores it in the instance, so every later read is a
plain attribute read. Assigning the attribute (a reset making a fresh object)
works as for any attribute; ``made(obj, name)`` says whether it exists yet
(nothing to stop or reset otherwise).

``make`` must have no effect beyond building the object: the object has to
be the same whenever it is made (at start or at its first use).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar, overload

Owner = TypeVar("Owner")
T = TypeVar("T")


class lazy(Generic[Owner, T]):
    __slots__ = ("make", "name")

    def __init__(self, make: Callable[[Owner], T]) -> None:
        self.make = make
        self.name = ""

    def __set_name__(self, owner: type[Any], name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, owner: type[Any]) -> lazy[Owner, T]: ...
    @overload
    def __get__(self, obj: Owner, owner: type[Any]) -> T: ...

    def __get__(self, obj: Owner | None, owner: type[Any]) -> lazy[Owner, T] | T:
        if obj is None:
            return self
        value = self.make(obj)
        setattr(obj, self.name, value)  # an instance attribute: it wins from now on
        return value


def made(obj: object, name: str) -> bool:
    """Whether the lazy attribute ``name`` of ``obj`` was made (or assigned)."""
    return name in obj.__dict__
