# The two commands: `make demo` and `make test`. Both build everything from nothing.
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
MANIFEST := dbt_project/target/manifest.json
DBT_SOURCES := $(shell find dbt_project/models dbt_project/macros dbt_project/tests -type f) dbt_project/dbt_project.yml dbt_project/profiles.yml
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
# This machine's pip config lists index folders that may not exist; its warnings are noise.
PIP_QUIET := sed "/is ignored: it is neither a file nor a directory/d"

.PHONY: help demo test lint format install clean bench bench-ml

help:
	@echo "make demo   - set up, load the sandbox world, serve Dagster (:3000) and the API (:8000)"
	@echo "make test   - set up, lint, run every test against the embedded PostgreSQL"
	@echo "make bench  - benchmarks (bench/), printing ratios against same-run baselines"
	@echo "make bench-ml - embeddings, scoring and HNSW benchmark (ARGS='--vectors 1000000')"

# Re-install only when the dependency pins change.
$(INSTALLED): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required"'
	$(BIN)/python -m pip install -q --upgrade pip 2>&1 | $(PIP_QUIET)
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev]' 2>&1 | $(PIP_QUIET)
	@$(BIN)/python -m pip check
	@touch $@

install: $(INSTALLED)

# dagster-dbt loads the manifest at import time, so it must exist before definitions load.
$(MANIFEST): $(INSTALLED) $(DBT_SOURCES)
	cd dbt_project && ../$(BIN)/dbt parse --profiles-dir . --quiet
	@touch $@

demo: $(MANIFEST)
	$(BIN)/bizo demo

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(INSTALLED)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: $(MANIFEST) lint
	$(BIN)/pytest

# Benchmarks print ratios against a baseline measured in the same run (see bench/).
bench: $(MANIFEST)
	$(BIN)/python -m bench.ingest
	$(BIN)/python -m bench.transform
	$(BIN)/python -m bench.api

bench-ml: $(INSTALLED)
	$(BIN)/python -m bench.ml $(ARGS)

clean:
	-$(BIN)/bizo db stop
	rm -rf $(VENV) .bizo dbt_project/target dbt_project/logs
