# Thin wrappers around the CLI and pytest. `make demo` and `make test` do all set-up on a fresh machine.
SHELL := /bin/bash
export PATH := $(HOME)/.local/bin:$(PATH)
UV := $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
RUN := $(UV) run --frozen
CHROMIUM := /usr/bin/chromium

.PHONY: help uv install chromium demo test test-fast up down status lint format bench

help:
	@echo "make demo   run the whole platform end to end on embedded services"
	@echo "make test   run the test suite"
	@echo "make test-fast  the everyday loop: units, ingest, warehouse, ml, dbt; no Airflow UI, no browser, no e2e"
	@echo "make up / down / status / lint / format / bench"

uv:
	@command -v $(UV) >/dev/null 2>&1 || python3 -m pip install --user --quiet uv

install: uv
	$(UV) sync --frozen

demo: install
	$(RUN) ecomflow demo

# Debian's Chromium for the UI test (tests/ui): Playwright's own browser download does not work here.
chromium:
	@test -x $(CHROMIUM) && exit 0; \
	if ! command -v apt-get >/dev/null 2>&1; then \
		echo "make chromium: no apt-get; install Chromium at $(CHROMIUM), or the UI test (tests/ui) fails" >&2; exit 0; \
	fi; \
	sudo=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	echo "installing Debian's chromium for the UI test"; \
	$$sudo apt-get update -qq && $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null \
		|| echo "make chromium: apt-get could not install chromium; the UI test (tests/ui) will fail" >&2

test: install chromium
	$(RUN) pytest $(PYTEST_ARGS)

# The everyday loop: everything but the end-to-end pipeline, the UIs in a browser and the deployment checks.
test-fast: install
	$(RUN) pytest --ignore=tests/e2e --ignore=tests/ui --ignore=tests/deploy $(PYTEST_ARGS)

up: install
	$(RUN) ecomflow up

down: install
	$(RUN) ecomflow down

status: install
	$(RUN) ecomflow status

lint: install
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) sqlfluff lint dbt_project

format: install
	$(RUN) ruff format .
	$(RUN) ruff check --fix .

bench: install
	$(RUN) python -m bench
