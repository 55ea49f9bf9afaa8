# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test install bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

## Start a small local federation (three associations) with sample data.
demo: $(STAMP)
	$(BIN)/maillage demo --dir demo-homes

## Run the whole test suite (starts its own throwaway PostgreSQL when needed).
test: $(STAMP)
	$(BIN)/python -m pytest -q

## Print the benchmark figures recorded in docs/performance.md.
bench: $(STAMP)
	$(BIN)/python bench/envelope_verify.py
	$(BIN)/python bench/ingest_http.py

clean:
	rm -rf $(VENV) demo-homes .pytest_cache .hypothesis
