# The two commands README.md promises: `make up` and `make test`.
VENV ?= .venv

.PHONY: up test setup setup-test lint

up: setup
	$(VENV)/bin/reel up

test: setup-test
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

setup:
	scripts/setup.sh

setup-test:
	scripts/setup.sh --test

lint:
	$(VENV)/bin/ruff check sdk host plugins tests
