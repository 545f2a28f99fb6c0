# Two commands on a fresh machine with only Python and make:
#   make sync   bootstrap .venv, install, run the main job against config.example.toml
#   make test   bootstrap .venv with test extras, lint (ruff, mypy), run the suite but its slow tests, and build the docs
#   make test-slow   the slow tests only (pytest -m slow); CI (.ci/run) runs both
#   make docs   serve the documentation site (docs/, mkdocs.yml) at http://127.0.0.1:8000
PYTHON ?= python3
VENV ?= .venv
CONFIG ?= config.example.toml
BIN := $(VENV)/bin

.PHONY: sync test test-slow lint pytest docs docs-build bench-engine bench-sync bench-ledger bench-sandbox bench-reliability clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

sync: $(VENV)/.installed
	$(BIN)/territory-sync sync --config $(CONFIG)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/mypy

pytest: $(VENV)/.installed-test
	$(BIN)/pytest -q -m 'not slow'

test-slow: $(VENV)/.installed-test
	$(BIN)/pytest -q -m slow

# --strict: a broken link or anchor, or a page missing from the nav, fails the build (and so CI);
# not --quiet, which hides the warnings from --strict as well and lets the build pass.
# NO_MKDOCS_2_WARNING silences Material's banner about its successor, which is not a problem of ours.
docs-build: $(VENV)/.installed-test
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

docs: $(VENV)/.installed-test
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve

test: lint pytest docs-build

bench-engine: $(VENV)/.installed
	$(BIN)/python bench/engine.py

bench-sync: $(VENV)/.installed
	$(BIN)/python bench/sync.py

bench-ledger: $(VENV)/.installed
	$(BIN)/python bench/ledger.py

bench-sandbox: $(VENV)/.installed
	$(BIN)/python bench/sandbox_demo.py

bench-reliability: $(VENV)/.installed
	$(BIN)/python bench/reliability.py

clean:
	rm -rf $(VENV) .territory-sync .pytest_cache .mypy_cache .ruff_cache site
