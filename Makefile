# Thin wrappers around the CLI and pytest. `make demo` and `make test` do all set-up on a fresh machine.
SHELL := /bin/bash
export PATH := $(HOME)/.local/bin:$(PATH)
UV := $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
RUN := $(UV) run --frozen

.PHONY: help uv install demo test up down status lint format bench

help:
	@echo "make demo   run the whole platform end to end on embedded services"
	@echo "make test   run the test suite"
	@echo "make up / down / status / lint / format / bench"

uv:
	@command -v $(UV) >/dev/null 2>&1 || python3 -m pip install --user --quiet uv

install: uv
	$(UV) sync --frozen

demo: install
	$(RUN) ecomflow demo

test: install
	$(RUN) pytest $(PYTEST_ARGS)

up: install
	$(RUN) ecomflow up

down: install
	$(RUN) ecomflow down

status: install
	$(RUN) ecomflow status

lint: install
	$(RUN) ruff check .
	$(RUN) ruff format --check .

format: install
	$(RUN) ruff format .
	$(RUN) ruff check --fix .

bench: install
	$(RUN) python -m bench
