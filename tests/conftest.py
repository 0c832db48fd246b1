"""Suite-wide settings.

Hypothesis: under ``HYPOTHESIS_PROFILE=ci`` (``.ci/run`` sets it) every
property test draws the same examples on every run, so CI passes or fails on
the code, not on which examples the run happened to draw; the random search
for new counterexamples is what a developer's ``make test`` (the default
profile) and ``make fuzz`` are for. A failure prints its reproduction blob
either way.
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("dev", print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
