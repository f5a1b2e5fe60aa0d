# One entry point for every developer task. Everything starts from the repo's
# own files: Python 3.12, Node, make and (for `make test`) Chromium are the only
# prerequisites.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
PYTHON312 = $(shell devstack/bin/find-python312)

.PHONY: deps help chromium dev lint test db-reset migration bench bench-10m fuzz soak vercel-check clean

help: ## List the targets and the local stack's ports
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'
	@echo
	@if [ -x $(PY) ]; then $(PY) -m devstack ports || true; \
	  else echo "Ports: shown here once the virtualenv exists (make deps, or any target that needs it)."; fi

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@py="$(PYTHON312)"; [ -n "$$py" ] || exit 1; \
	  if [ ! -x $(PY) ] || ! $(PY) -c 'import sys; assert sys.version_info[:2] == (3, 12)' 2>/dev/null; then \
	    rm -rf $(VENV) && "$$py" -m venv $(VENV); fi
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

deps: $(VENV)/.installed node_modules/.installed

dev: deps ## Run the local Supabase-compatible stack and the API (ports below)
	$(PY) -m devstack up

# Needs only the virtualenv: no stack, no Node, no browser. mypy checks the files
# pyproject.toml lists (lib, api, devstack, tests, bench).
lint: $(VENV)/.installed ## ruff check, ruff format --check and mypy (strict); no stack or browser needed
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

# Listed first, so a missing browser stops `make test` before installing or linting.
chromium:
	@devstack/bin/find-chromium >/dev/null

test: chromium deps lint ## `make lint`, then the whole test suite against a throwaway stack (needs Chromium)
	$(PY) -m pytest

fuzz: deps ## Property-based fuzzing of every operation from /api/openapi.json (schemathesis)
	$(PY) -m pytest tests/fuzz -o addopts="-ra --strict-markers -p no:cacheprovider"

vercel-check: deps ## Build with the real Vercel CLI and check what would ship
	$(PY) -m devstack.vercel_check

bench: deps ## Benchmarks against baselines; writes bench/results/ and docs/performance.md
	$(PY) -m bench

bench-10m: deps ## The list at 10k, 1M and 10M rows, a run of its own (~25-40 min, ~15 GB): bench/results/scale-10m.json, then the report
	$(PY) -m bench.scale10m
	$(PY) -m bench --report-only

soak: deps ## Five minutes of mixed load against the local stack (not in CI)
	$(PY) -m bench.soak

db-reset: deps ## Drop the local database, migrate and seed it again
	$(PY) -m devstack db-reset

migration: deps ## Create supabase/migrations/<timestamp>_$(name).sql
	@[ -n "$(name)" ] || { echo "usage: make migration name=add_something" >&2; exit 2; }
	$(PY) -m devstack new-migration "$(name)"

clean: ## Remove the virtualenv, node_modules and local data
	rm -rf $(VENV) node_modules .local .mypy_cache .ruff_cache .pytest_cache
