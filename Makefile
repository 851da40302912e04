# Set-up and everyday commands. `make run` and `make test` work on a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SCENARIO ?= suspected-breach
# The core: mypy --strict; the adapters (ui, net, cli) and the rest: plain mypy.
MYPY_CORE := tabletop/model.py tabletop/loader.py tabletop/catalog.py tabletop/checks.py \
	tabletop/yamlsource.py tabletop/templating.py tabletop/problems.py tabletop/engine.py tabletop/clock.py \
	tabletop/transcript.py tabletop/events.py tabletop/scoring.py tabletop/timing.py tabletop/risk.py \
	tabletop/report tabletop/script.py tabletop/sessions.py tabletop/port.py tabletop/files.py tabletop/keys.py \
	tabletop/untrusted.py tabletop/clocks.py tabletop/teammates.py tabletop/programme \
	tabletop/followups.py tabletop/review/facts.py tabletop/decisions.py tabletop/seating.py \
	tabletop/schedule.py tabletop/branches.py tabletop/hotwash.py tabletop/delegation.py \
	tabletop/datafolders.py tabletop/draft.py tabletop/resolving.py tabletop/injectlibrary.py tabletop/merging.py \
	tabletop/reachability.py tabletop/continuing.py

.PHONY: run test lint install install-test bench validate samples clean

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
	$(BIN)/tabletop run $(SCENARIO) --solo --hints

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

# The committed sample transcripts, re-recorded from their decision scripts (tests/data/scripts/
# NAME.yaml plays scenario NAME without its last -word), signed with the repository's sample key,
# then the golden post-mortems drafted from them. Run after a change to the scenarios, the
# scripts or the scoring rules.
SAMPLES := suspected-breach-good suspected-breach-poor suspected-breach-team restore-rehearsal-good
samples: install-test
	for name in $(SAMPLES); do \
		rm -f transcripts/samples/$$name.jsonl; \
		$(BIN)/tabletop simulate $${name%-*} --script tests/data/scripts/$$name.yaml \
			--out transcripts/samples/$$name.jsonl || exit 1; \
	done
	$(BIN)/tabletop keys resign --key transcripts/samples/sample-signing-key.pem \
		$(foreach name,$(SAMPLES),transcripts/samples/$(name).jsonl)
	UPDATE_GOLDEN=1 $(BIN)/python -m pytest -q tests/test_report.py -k golden

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
