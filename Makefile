# Itemsense developer commands. `make help` lists them.
# The two that matter most: `make run` (set up and start the service) and `make test`.

SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
MODEL := models/sentiment.joblib
SERVER_FLAGS := --host $(HOST) --port $(PORT) --no-server-header \
	--proxy-headers --timeout-graceful-shutdown 20

# uv installs exactly what uv.lock pins (hashes checked) into $(VENV), with $(PYTHON);
# it is itself pinned and lives in a small virtualenv of its own, .uv/.
UV_VERSION := 0.13.9
UV := .uv/bin/uv
export UV_PROJECT_ENVIRONMENT = $(VENV)
export UV_PYTHON = $(PYTHON)
export UV_PYTHON_DOWNLOADS = never
SYNC := $(UV) sync --locked --quiet

.DEFAULT_GOAL := help
.PHONY: help run dev test lint format typecheck pre-commit model migrate bench bench-model \
	soak demo up down lock tools prometheusrule clean

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(UV):
	$(PYTHON) -m venv .uv
	.uv/bin/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# Runtime dependencies only (what the image has). --inexact keeps the tools of the other
# groups if they are already there.
$(VENV)/.runtime: uv.lock | $(UV)
	$(SYNC) --no-default-groups --inexact
	touch $@

# Runtime + the linters.
$(VENV)/.lint: uv.lock | $(UV)
	$(SYNC) --no-default-groups --group lint --inexact
	touch $@

# Runtime + every tool: linters, tests, deployment checks, the Pulumi SDKs.
$(VENV)/.dev: uv.lock | $(UV)
	$(SYNC) --all-groups
	touch $@ $(VENV)/.runtime $(VENV)/.lint

$(MODEL): $(VENV)/.runtime $(wildcard data/sentiment/*.txt) $(wildcard app/sentiment/*.py app/sentiment/recipe/*.py app/sentiment/training/*.py)
	$(BIN)/python -m app.sentiment.training.train --cross-domain --output $(MODEL)

model: $(MODEL) ## Train the sentiment model with cross-domain evaluation (when data or code changed)

migrate: $(VENV)/.runtime ## Apply database migrations (alembic upgrade head)
	$(BIN)/alembic upgrade head

run: $(VENV)/.runtime $(MODEL) migrate ## Set up and start the service on http://127.0.0.1:8000
	$(BIN)/python -m app.server $(SERVER_FLAGS)

dev: $(VENV)/.runtime $(MODEL) migrate ## Start the service with auto-reload
	$(BIN)/python -m app.server $(SERVER_FLAGS) --reload --reload-dir app

tools: ## Install the system tools the tests use (Prometheus + promtool, wrk, PostgreSQL server tools)
	bash scripts/install-tools.sh

prometheusrule: $(VENV)/.runtime ## Regenerate monitoring/prometheusrule.yaml from monitoring/rules/
	$(BIN)/python -m scripts.render_prometheusrule

lint: $(VENV)/.lint ## ruff check, ruff format --check, mypy (installs only the linters)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy app

typecheck: $(VENV)/.lint ## mypy --strict on app/
	$(BIN)/mypy app

pre-commit: $(VENV)/.dev ## Run the pre-commit hooks on every file (enable: .venv/bin/pre-commit install)
	$(BIN)/pre-commit run --all-files

format: $(VENV)/.lint ## Fix lint findings and format the code
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: $(VENV)/.dev $(MODEL) tools lint ## Set up and run every check and test
	mkdir -p reports
	$(BIN)/python -m pytest --junitxml=reports/junit.xml

bench: $(VENV)/.dev $(MODEL) ## HTTP benchmark against a bare ASGI app (needs PostgreSQL and wrk)
	$(BIN)/python -m bench.http

bench-model: $(VENV)/.dev $(MODEL) ## Model latency and accuracy benchmark (with VADER)
	$(BIN)/python -m app.sentiment.training.bench

soak: $(VENV)/.dev $(MODEL) ## 60 s mixed load on PostgreSQL; checks errors and memory
	$(BIN)/python -m bench.soak

demo: $(VENV)/.runtime ## Against a running service: create items, print predictions
	$(BIN)/python scripts/demo.py --url http://$(HOST):$(PORT)

up: ## Full local stack (db, migrate, api, prometheus, grafana) with docker compose
	test -f .env || cp .env.example .env
	docker compose up --build

down: ## Stop the compose stack
	docker compose down

lock: | $(UV) ## Re-lock every dependency to its newest allowed version (uv.lock)
	$(UV) lock --upgrade

clean: ## Remove the virtualenv, caches, model and local database
	rm -rf $(VENV) .uv models reports .mypy_cache .ruff_cache .pytest_cache itemsense.db*
