# Set-up and everyday commands. `make run` and `make test` work on a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SCENARIO ?= suspected-breach
# The core: mypy --strict; the adapters (ui, net, cli) and the rest: plain mypy.
MYPY_CORE := tabletop/model.py tabletop/loader.py tabletop/catalog.py tabletop/checks.py \
	tabletop/yamlsource.py tabletop/render.py tabletop/problems.py tabletop/engine.py tabletop/clock.py \
	tabletop/transcript.py tabletop/events.py tabletop/scoring.py tabletop/timing.py tabletop/risk.py \
	tabletop/report tabletop/script.py tabletop/sessions.py tabletop/port.py tabletop/files.py tabletop/keys.py \
	tabletop/untrusted.py

.PHONY: run test lint install install-test bench validate clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	touch $(VENV)/.installed $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

run: install
	$(BIN)/tabletop run $(SCENARIO) --solo

lint: install-test
	$(BIN)/ruff format --check tabletop tests benchmarks
	$(BIN)/ruff check tabletop tests benchmarks
	$(BIN)/mypy --strict $(MYPY_CORE)
	$(BIN)/mypy tabletop
	$(BIN)/lint-imports

test: lint
	$(BIN)/python -m pytest -n 2 -q

bench: install-test
	for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

validate: install
	$(BIN)/tabletop validate

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
