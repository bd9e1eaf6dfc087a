# llmpulse: `make demo` and `make test` set everything up themselves on a fresh machine (Python 3.11).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test lint bench clean help

help:
	@echo "make demo   - run the whole system on realistic traffic (embedded broker + ClickHouse engine)"
	@echo "make test   - the whole test suite (unit + integration against the real broker and chdb)"
	@echo "make lint   - ruff + mypy"
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

bench: $(STAMP)
	$(BIN)/llmpulse bench

clean:
	rm -rf $(VENV) .llmpulse .pytest_cache .mypy_cache .ruff_cache
