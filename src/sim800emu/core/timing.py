"""The one place the core reads a simulated delay.

``Pace.delay(name)`` is the delay named ``name`` of the modem's ``Timing``
(core/config.py): the field itself, or, when the profile gives it a spread,
a value drawn uniformly between the field and its upper bound from a
generator seeded with ``Timing.seed``. The draws happen in the order the
modem asks for them, so the same seed and the same input give the same
delays (and the same serial transcript).

The core never sleeps: a delay becomes a timer (``StartTimer``) on the one
clock the runner feeds it (``now``), so tests of the core run on a fake
clock (tests/core/harness.py) and ``--time-scale`` shrinks them all.
"""

from __future__ import annotations

import random

from .config import Timing


class Pace:
    __slots__ = ("_rng", "timing")

    def __init__(self, timing: Timing) -> None:
        self.timing = timing
        # made at the first random draw: 2.5 KiB a modem that the fast
        # profile (no spread) never needs, in fleets of thousands
        self._rng: random.Random | None = None

    def delay(self, name: str) -> float:
        """Seconds for delay ``name`` (a ``Timing`` field)."""
        timing = self.timing
        low = getattr(timing, name)
        if not isinstance(low, float):
            raise KeyError(name)
        if not timing.spread:  # (the fast profile: asked on every command line)
            return low
        high = timing.upper(name)
        if high <= low:
            return low
        if self._rng is None:
            self._rng = random.Random(self.timing.seed)
        return self._rng.uniform(low, high)
