# Haven: `make run` serves it, `make test` checks everything. Both set up .venv themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev
LANGUAGES := en es ar bn de fr hi id is it km ko ckb ml mr nl pt si ta th tl tr uk ur vi zh

.PHONY: help run test lint typecheck pytest install install-dev clean
.DEFAULT_GOAL := help

help:
	@echo "make run    serve Haven on http://127.0.0.1:5000 (SQLite under instance/)"
	@echo "make test   lint, type-check and run the whole suite"

$(RUN_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $@

$(DEV_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(RUN_STAMP)

install: $(RUN_STAMP)
install-dev: $(DEV_STAMP)

include mk/vendor.mk
include mk/i18n.mk

## Serve Haven on http://127.0.0.1:5000 with an SQLite database under instance/.
run: $(RUN_STAMP) vendor translations
	$(BIN)/haven db upgrade
	$(BIN)/haven serve --host 127.0.0.1 --port 5000

## Lint, type-check and run the whole suite.
test: lint typecheck pytest

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(DEV_STAMP)
	$(BIN)/mypy

pytest: $(DEV_STAMP) vendor translations
	$(BIN)/pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
