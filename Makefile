# curate: two commands set everything up on a fresh machine.
#   make pipeline   installs curate into .venv and runs the default pipeline on the sample corpus
#   make test       installs the test extras and runs the test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
OUT ?= out/default
PIPELINE ?= pipelines/default.yaml
export RAY_AUTH_MODE ?= disabled

.PHONY: install install-test pipeline test test-fast bench lint sample clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(PIP) install --quiet -e .
	@touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(PIP) install --quiet -e ".[test,dev]"
	@touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

pipeline: $(VENV)/.installed
	$(BIN)/curate run $(PIPELINE) --input data/sample --output $(OUT)
	@echo "Output written to $(OUT)/ -- summarise it with: $(BIN)/curate inspect $(OUT)"

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest -q

test-fast: $(VENV)/.installed-test
	$(BIN)/python -m pytest -q -m "not slow"

bench: $(VENV)/.installed-test
	@for script in benchmarks/[!_]*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

lint: $(VENV)/.installed-test
	$(BIN)/python -m ruff check curate tests scripts benchmarks

sample: $(VENV)/.installed
	$(BIN)/python scripts/build_sample.py --corpora ../shared/corpora --out data/sample

clean:
	rm -rf out .pytest_cache
