# Two commands on a fresh machine: `make demo` and `make test`. Every target sets up what it needs,
# idempotently: a virtualenv per dependency set (re-installed when pyproject.toml changes) and the
# Go-built backend tools (cached outside the repository by scripts/tools.sh).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: demo test compat setup setup-dev tools lint typecheck unit e2e bench dashboards generate clean

demo: setup  ## Run the routed demo workload against fake providers (no keys, no services).
	$(BIN)/python -m otel_llm.demo

# The decision core (engine, policies, breakers, routing, budgets, stream commitment) and the wire parsers
# are held to full branch coverage; the rest to 90 %.
PURE_CORE_FILES := otel_llm/_engine.py otel_llm/_policies.py otel_llm/_breaker.py otel_llm/_cost.py \
	otel_llm/_routing.py otel_llm/_route_stats.py otel_llm/_call_routing.py otel_llm/_spending.py \
	otel_llm/_budget.py otel_llm/_stream_session.py otel_llm/providers/*
comma := ,
space := $(subst ,, )
PURE_CORE := $(subst $(space),$(comma),$(strip $(PURE_CORE_FILES)))

test: setup-dev tools lint typecheck compat  ## Lint, types, unit and e2e tests (real collector + Prometheus).
	$(BIN)/python -m pytest --cov --cov-report=term $(PYTEST_ARGS)
	$(BIN)/python -m coverage report --include='$(PURE_CORE)' --fail-under=100

# The instrumentors against the oldest SDK versions we support (the newest are in $(VENV)).
OLDEST_VENV := .venv-oldest
OLDEST_SDKS := requirements/oldest-sdks.txt

compat: $(OLDEST_VENV)/.installed  ## Instrumentation tests against the oldest supported SDKs.
	$(OLDEST_VENV)/bin/python -m pytest -q -p no:cacheprovider tests/instrumentation

$(OLDEST_VENV)/bin/python:
	$(PYTHON) -m venv $(OLDEST_VENV)
	$(OLDEST_VENV)/bin/python -m pip install --quiet --upgrade pip

$(OLDEST_VENV)/.installed: pyproject.toml $(OLDEST_SDKS) | $(OLDEST_VENV)/bin/python
	$(OLDEST_VENV)/bin/python -m pip install --quiet -e '.[test]' -r $(OLDEST_SDKS)
	touch $@

setup: $(VENV)/.runtime-installed
setup-dev: $(VENV)/.dev-installed

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.runtime-installed: pyproject.toml | $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.dev-installed: pyproject.toml | $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.runtime-installed

tools:  ## Build otelcol-llm, prometheus and promtool from Go modules (cached).
	bash scripts/tools.sh

lint: setup-dev
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

typecheck: setup-dev
	$(BIN)/mypy

unit: setup-dev
	$(BIN)/python -m pytest -m "not e2e" $(PYTEST_ARGS)

e2e: setup-dev tools
	$(BIN)/python -m pytest -m e2e $(PYTEST_ARGS)

bench: setup-dev  ## Per-call overhead, import time; writes bench/results.json.
	$(BIN)/python bench/run.py

dashboards: setup-dev  ## Regenerate dashboards/*.json from code.
	$(BIN)/python dashboards/generate.py

generate: dashboards  ## Regenerate every generated file (dashboards, the sync client).
	$(BIN)/python scripts/unasync.py

clean:
	rm -rf $(VENV) $(OLDEST_VENV) .tools .pytest_cache .mypy_cache .ruff_cache
