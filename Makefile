# llmpulse: `make demo` and `make test` set everything up themselves on a fresh machine (Python 3.11).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test lint bench clean help dashboards

help:
	@echo "make demo   - run the whole system on realistic traffic (embedded broker + ClickHouse engine)"
	@echo "make test   - the whole test suite (unit + integration against the real broker and chdb)"
	@echo "make lint   - ruff + mypy + the import contracts (lint-imports)"
	@echo "make bench  - the throughput/latency benchmark (prints JSON)"

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/llmpulse demo

test: $(STAMP)
	$(BIN)/python -m pytest -q -rs

lint: $(STAMP)
	$(BIN)/ruff check llmpulse tests benchmarks
	$(BIN)/mypy llmpulse
	$(BIN)/lint-imports

bench: $(STAMP)
	$(BIN)/llmpulse bench

# Apache Superset 6.1 in its own venv (.llmpulse/superset/venv), SQLite metadata, the admin from
# SUPERSET_ADMIN_USER / SUPERSET_ADMIN_PASSWORD, infra/superset/bundle imported and pointed at the store's
# ClickHouse HTTP endpoint (or LLMPULSE_CLICKHOUSE_URL) as the read-only reader; serves on :8088.
dashboards: $(STAMP)
	$(BIN)/python infra/superset/run.py

clean:
	rm -rf $(VENV) .llmpulse .pytest_cache .mypy_cache .ruff_cache
