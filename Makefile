# Two entry points on a fresh machine: `make demo` and `make test` (see README).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint docs bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,names]'
	touch $(STAMP)

demo: $(STAMP)
	bash scripts/demo.sh

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest -n 2 -q

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy

# docs/cli.md from the code (every command's --help, the exit codes); a test fails when stale.
docs: $(STAMP)
	$(BIN)/python scripts/gen_cli_docs.py

# Quick figures at modest sizes; the README gives the full-size commands behind the notes.
bench: $(STAMP)
	$(BIN)/python -m benchmarks.bench_ledger --scale 0.1 --runs 3
	$(BIN)/python -m benchmarks.bench_scrub --posts 200000 --runs 3 --no-presidio
	$(BIN)/python -m benchmarks.bench_snapshot --posts 200000 --runs 3
	$(BIN)/python -m benchmarks.bench_compliance --scale 0.05 --snapshots 10 --runs 3

clean:
	rm -rf $(VENV) demo-out .pytest_cache .mypy_cache .ruff_cache
