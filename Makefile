# One command to run the emulator, one to run the whole suite.
PY ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
STAMP = $(VENV)/.installed

.PHONY: run test lint typecheck docs bench fuzz soak clean

# The stamp is written last, so it exists only after a complete install;
# without it (a first install that failed, or pyproject.toml changed) the
# venv is made again from scratch instead of reusing a half-made one.
$(STAMP): pyproject.toml
	@$(PY) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "sim800emu needs Python >= 3.11; PY=$(PY) is: $$($(PY) -V 2>&1)"; exit 1; }
	rm -rf $(VENV)
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	# sim800l-gsm-module has no wheel and its setup.py needs pkg_resources
	$(BIN)/pip install --quiet 'setuptools<81' wheel
	$(BIN)/pip install --quiet --no-build-isolation 'sim800l-gsm-module>=2.0.5,<3'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/sim800emu serve $(ARGS)

test: $(STAMP)
	$(BIN)/ruff check src tests $(wildcard bench) $(wildcard fuzz)
	$(BIN)/mypy
	$(BIN)/python -m sim800emu.docs --check docs/commands.md
	$(BIN)/pytest -q $(PYTEST_ARGS)

docs: $(STAMP)
	$(BIN)/python -m sim800emu.docs docs/commands.md

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

# Fuzzing (docs/fuzzing.md): the core under atheris for FUZZ_RUNS inputs of
# at most FUZZ_MAX_LEN bytes (1,000,000 take roughly 25-40 min on 2 quiet
# CPUs, about an hour on a shared machine), then the real process on a pty and on
# the TCP transport for FUZZ_PTY_SECONDS each. FUZZ_SKIP_KNOWN=1 passes the
# inputs of known findings (fuzz/known/); FUZZ_ARGS: more libFuzzer options.
# Not part of `make test` (tests/integration/test_fuzz_smoke.py is).
FUZZ_RUNS ?= 1000000
FUZZ_MAX_LEN ?= 512
FUZZ_PTY_SECONDS ?= 120
fuzz: $(STAMP)
	$(BIN)/python fuzz/core_fuzz.py -runs=$(FUZZ_RUNS) -max_len=$(FUZZ_MAX_LEN) -print_final_stats=1 $(FUZZ_ARGS)
	$(BIN)/python fuzz/pty_fuzz.py --seconds $(FUZZ_PTY_SECONDS)

# Soak (bench/README.md): SOAK_MODEMS modems, mixed traffic and faults for
# SOAK_SECONDS, a table of RSS, fds, errors and transactions every interval.
SOAK_SECONDS ?= 600
SOAK_MODEMS ?= 8
soak: $(STAMP)
	$(BIN)/python bench/soak.py --seconds $(SOAK_SECONDS) --modems $(SOAK_MODEMS) $(SOAK_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
