# Power Balance — the two commands: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Raw inputs: $POWERBALANCE_RAW_DIR, else ../shared/data when present, else data/raw (fetched if missing).
RAW ?= $(abspath $(or $(POWERBALANCE_RAW_DIR),$(if $(wildcard ../shared/data),../shared/data,data/raw)))
DB ?= data/powerbalance.duckdb
PORT ?= 8501
# `make run` and `make serve` listen on 127.0.0.1 only unless told otherwise (HOST=0.0.0.0: see docs/operations.md).
HOST ?= 127.0.0.1
WORKERS ?= 2

.PHONY: run serve nginx db rebuild test test-fast lint format bench fuzz fetch browser pdflibs clean help

help:
	@echo "make run      set up .venv, build the database if missing, start the dashboard on http://$(HOST):$(PORT)"
	@echo "make serve    the same with WORKERS=N processes behind nginx on http://$(HOST):$(PORT) (cookie-sticky sessions)"
	@echo "make test     set up .venv (and Chromium for browser tests), lint, and run the whole test suite"
	@echo "make lint     ruff check and ruff format --check (settings in pyproject.toml); make format fixes"
	@echo "make bench    print page timings, bytes and memory on the real data"
	@echo "make fuzz     feed every loader and the upload new random damaged files"
	@echo "make rebuild  rebuild the database from $(RAW)"
	@echo "make fetch    download the raw files from their public origins into data/raw"

$(STAMP): requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

# Build only when the database is missing; `make rebuild` forces a new build.
$(DB): | $(STAMP)
	POWERBALANCE_RAW_DIR=$(RAW) $(BIN)/python -m etl build --raw $(RAW) --db $(DB)

db: $(DB)

rebuild: | $(STAMP)
	POWERBALANCE_RAW_DIR=$(RAW) $(BIN)/python -m etl build --raw $(RAW) --db $(DB)

fetch: | $(STAMP)
	$(BIN)/python -m etl fetch --into data/raw

run: $(DB) pdflibs
	POWERBALANCE_DB=$(DB) $(BIN)/python -m powerbalance.serve dashboard.py --server.port $(PORT) --server.address $(HOST)

# WORKERS Streamlit processes (ports PORT+1…) behind nginx on HOST:PORT; config, logs and pids in run/serve/.
serve: $(DB) nginx
	POWERBALANCE_DB=$(abspath $(DB)) $(BIN)/python -m powerbalance.cluster --workers $(WORKERS) --host $(HOST) \
	  --port $(PORT) --run-dir run/serve

# Debian's nginx fronts `make serve` and the tests through it; installed when missing and we are allowed to.
nginx:
	@if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then \
	  if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null) \
	      || echo "warning: could not install nginx; tests through nginx will be skipped"; \
	  else echo "note: nginx missing and cannot install it; tests through nginx will be skipped"; fi; \
	fi

# Debian's Chromium drives the browser tests; installed when missing and we are allowed to.
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	      || echo "warning: could not install chromium; browser tests will be skipped"; \
	  else echo "note: /usr/bin/chromium missing and cannot install it; browser tests will be skipped"; fi; \
	fi

# WeasyPrint (the PDF brief) loads Pango from the system and needs one font; installed from Debian
# when missing and we are allowed to, like chromium.
PDF_DEBS := libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-liberation
pdflibs:
	@if ! ldconfig -p | grep -q 'libpangoft2-1.0.so.0' || ! fc-list 2>/dev/null | grep -qi 'liberation'; then \
	  if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(PDF_DEBS) fontconfig >/dev/null) \
	      || echo "warning: could not install $(PDF_DEBS); the PDF brief will be unavailable"; \
	  else echo "note: Pango or a font is missing and cannot install it; the PDF brief will be unavailable"; fi; \
	fi

# ruff's checks and format check (pyproject.toml) come first: a lint failure fails the test run
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: $(STAMP) lint browser nginx pdflibs
	POWERBALANCE_RAW_DIR=$(RAW) $(BIN)/python -m pytest -q

test-fast: $(STAMP)
	POWERBALANCE_RAW_DIR=$(RAW) $(BIN)/python -m pytest -q -m "not browser and not slow"

bench: $(STAMP) $(DB) nginx
	POWERBALANCE_RAW_DIR=$(RAW) POWERBALANCE_DB=$(DB) $(BIN)/python -m bench

# new random inputs for every loader and the upload (make test runs a fixed set); FUZZ_EXAMPLES scales
fuzz: $(STAMP)
	POWERBALANCE_RAW_DIR=$(RAW) FUZZ_RANDOM=1 FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-5} $(BIN)/python -m pytest -q tests/test_fuzz_loaders.py

clean:
	rm -rf $(VENV) data/*.duckdb static/geo .pytest_cache run
