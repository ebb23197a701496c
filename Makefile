# Itemsense developer commands. `make help` lists them.
# The two that matter most: `make run` (set up and start the service) and `make test`.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
MODEL := models/sentiment.joblib
PIP_QUIET := --quiet --disable-pip-version-check
SERVER_FLAGS := --host $(HOST) --port $(PORT) --no-server-header \
	--proxy-headers --timeout-graceful-shutdown 20

.DEFAULT_GOAL := help
.PHONY: help run dev test lint format typecheck pre-commit model migrate bench bench-model \
	soak demo up down lock tools prometheusrule clean

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install $(PIP_QUIET) --upgrade pip

# Runtime dependencies only (what the image has); re-installed when the pins change.
$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install $(PIP_QUIET) -r requirements.txt
	touch $@

# Runtime + test, lint and deployment-check tools.
$(VENV)/.dev: requirements-dev.txt requirements.txt | $(BIN)/python
	$(BIN)/pip install $(PIP_QUIET) -r requirements-dev.txt
	touch $@ $(VENV)/.runtime

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
	$(BIN)/python scripts/render_prometheusrule.py

lint: $(VENV)/.dev ## ruff check, ruff format --check, mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy app

typecheck: $(VENV)/.dev ## mypy --strict on app/
	$(BIN)/mypy app

pre-commit: $(VENV)/.dev ## Run the pre-commit hooks on every file (enable: .venv/bin/pre-commit install)
	$(BIN)/pre-commit run --all-files

format: $(VENV)/.dev ## Fix lint findings and format the code
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

lock: $(BIN)/python ## Re-pin every dependency to its newest allowed version
	$(BIN)/pip install $(PIP_QUIET) uv
	$(BIN)/uv pip compile --upgrade pyproject.toml --extra dev -o requirements-dev.txt --python-version 3.11
	$(BIN)/uv pip compile pyproject.toml -c requirements-dev.txt -o requirements.txt --python-version 3.11

clean: ## Remove the virtualenv, caches, model and local database
	rm -rf $(VENV) models reports .mypy_cache .ruff_cache .pytest_cache itemsense.db*
