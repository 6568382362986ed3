# Two commands: `make run` serves the hub, `make test` runs the whole suite.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
PY ?= python3
PG_DIR ?= $(CURDIR)/var/pgtest

.PHONY: run test install migrate demo schema lint bench clean

$(BIN)/uv:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check uv

install: $(BIN)/uv
	UV_PROJECT_ENVIRONMENT=$(VENV) $(BIN)/uv sync --frozen --inexact --quiet
	scripts/echarts.sh

migrate: install
	$(BIN)/hub migrate

demo: migrate
	$(BIN)/hub demo --if-empty

run: demo
	$(BIN)/hub serve

schema: install
	$(BIN)/hub export-schema

# A throwaway PostgreSQL (installed from Debian's packages if missing) runs beside SQLite.
test: install
	@scripts/chromium.sh
	@url=$$(scripts/pg.sh start $(PG_DIR)) || exit 1; \
	HUB_TEST_POSTGRES_URL=$$url HUB_REQUIRE_POSTGRES=1 $(BIN)/pytest -q -p no:cacheprovider; \
	status=$$?; scripts/pg.sh stop $(PG_DIR); exit $$status

lint: install
	$(BIN)/ruff check hub schema mappings adapters tests
	$(BIN)/ruff format --check hub schema mappings adapters tests

bench: install
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) var
