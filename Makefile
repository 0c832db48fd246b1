# One command to run the emulator, one to run the whole suite.
PY ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
STAMP = $(VENV)/.installed

.PHONY: run test lint typecheck docs bench clean

$(STAMP): pyproject.toml
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
	$(BIN)/ruff check src tests $(wildcard bench)
	$(BIN)/mypy
	$(BIN)/python -m sim800emu.docs --check docs/commands.md
	$(BIN)/pytest -q $(PYTEST_ARGS)

docs: $(STAMP)
	$(BIN)/python -m sim800emu.docs docs/commands.md

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
