# Two entry points on a fresh machine: `make demo` and `make test` (see README).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The browser tests' Chromium: Debian's (Playwright's own browser download does not work here).
CHROMIUM := /usr/bin/chromium
# The report tests turn PDF pages into PNG with poppler's pdftoppm.
PDFTOPPM := /usr/bin/pdftoppm

.PHONY: demo test lint docs bench clean browser

$(STAMP): pyproject.toml setup.py src/consentry/_sha256.c src/consentry/_blake2b.c src/consentry/_idhash.c src/consentry/_offsets.h
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,names,ray]'
	touch $(STAMP)

demo: $(STAMP)
	bash scripts/demo.sh

# Installed once, when missing, as root (apt-get update first only when the lists are unknown or
# stale: the first install fails then); its file is the stamp. Without root the browser tests
# skip saying why, except under CI=true, where nothing may skip: there this fails at once.
$(CHROMIUM):
	@if [ "$$(id -u)" -ne 0 ]; then \
		echo "make: $@ is missing and only root can install it (apt-get install chromium)" >&2; \
		[ "$${CI:-}" != true ] || { echo "make: CI=true: browser tests may not skip" >&2; exit 1; }; \
		echo "make: the browser tests will skip" >&2; \
	else \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get install -y -qq chromium >/dev/null 2>&1 || \
			{ apt-get update -qq >/dev/null && apt-get install -y -qq chromium >/dev/null; } || \
			{ echo "make: apt-get install chromium failed (after apt-get update)" >&2; exit 1; }; \
		[ -x $@ ] || { echo "make: chromium installed, but not as $@" >&2; exit 1; }; \
	fi

browser: $(CHROMIUM)

$(PDFTOPPM):
	@if [ "$$(id -u)" -ne 0 ]; then \
		echo "make: $@ is missing and only root can install it (apt-get install poppler-utils)" >&2; \
		[ "$${CI:-}" != true ] || { echo "make: CI=true: the PDF tests may not skip" >&2; exit 1; }; \
	else \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get install -y -qq poppler-utils >/dev/null 2>&1 || \
			{ apt-get update -qq >/dev/null && apt-get install -y -qq poppler-utils >/dev/null; } || \
			{ echo "make: apt-get install poppler-utils failed (after apt-get update)" >&2; exit 1; }; \
	fi

test: $(STAMP) $(CHROMIUM) $(PDFTOPPM)
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
