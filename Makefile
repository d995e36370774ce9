# Haven: `make run` serves it, `make test` checks everything. Both set up .venv themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TOOLS := .tools
UV := $(TOOLS)/bin/uv
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev
LOWEST := .venv-lowest
LANGUAGES := en es ar bn de fr hi id is it km ko ckb ml mr nl pt si ta th tl tr uk ur vi zh ru fa pl ja ht so sw am
# The `video` dependency group (Meta's vpdq, the suite's video-hash reference) compiles against
# FFmpeg's development libraries and cmake; it is installed where they are. CI installs them
# (.ci/run), and there the tests that need vpdq fail rather than skip without it.
VIDEO_GROUP := $(shell pkg-config --exists libavcodec libavformat libavutil libswscale 2>/dev/null \
	&& command -v cmake >/dev/null && echo --group video)
# uv uses this machine's Python and never downloads one; .venv is the project's environment.
export UV_PYTHON := $(PYTHON)
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: help run test lint typecheck pytest install install-dev lock upgrade test-lowest \
	wheel clean security fuzz
.DEFAULT_GOAL := help

help:
	@echo "make run          serve Haven on http://127.0.0.1:5000 (SQLite under instance/)"
	@echo "make test         lint, type-check and run the whole suite"
	@echo "make lock         re-resolve uv.lock after editing pyproject.toml (same versions where possible)"
	@echo "make upgrade      re-resolve uv.lock to the newest allowed versions"
	@echo "make test-lowest  run the suite on the lowest versions pyproject.toml allows"
	@echo "make security     the statistical checks (tests/security/: timing), not in make test"
	@echo "make fuzz         fuzz every API operation (300+ examples each, stateful too); slow"

$(UV): mk/uv.txt
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --require-hashes --no-deps -r mk/uv.txt
	touch $@

# Both installs come from uv.lock alone (--locked refuses a lock that no longer matches
# pyproject.toml) and are exact: each removes what the other added, so each drops the
# other's stamp.
$(RUN_STAMP): pyproject.toml uv.lock | $(UV)
	$(UV) sync --locked --no-dev
	rm -f $(DEV_STAMP)
	touch $@

$(DEV_STAMP): pyproject.toml uv.lock | $(UV)
	$(UV) sync --locked $(VIDEO_GROUP)
	rm -f $(RUN_STAMP)
	touch $@

# Tools the translation and vendor rules call: any install provides them.
$(BIN)/pybabel $(BIN)/python:
	$(MAKE) $(RUN_STAMP)

install: $(RUN_STAMP)
install-dev: $(DEV_STAMP)

lock: | $(UV)
	$(UV) lock

upgrade: | $(UV)
	$(UV) lock --upgrade

# The lower bounds in pyproject.toml, checked: the lowest allowed version of every direct
# dependency (transitive ones as uv resolves them), in .venv-lowest, uv.lock untouched.
test-lowest: | $(UV)
	$(UV) pip compile --quiet --universal --resolution lowest-direct --group dev \
		pyproject.toml -o $(LOWEST).txt
	$(UV) venv --quiet --allow-existing $(LOWEST)
	VIRTUAL_ENV=$(LOWEST) $(UV) pip sync --quiet $(LOWEST).txt
	VIRTUAL_ENV=$(LOWEST) $(UV) pip install --quiet --no-deps -e .
	$(MAKE) vendor translations BIN=$(LOWEST)/bin
	$(LOWEST)/bin/pytest $(PYTEST_ARGS)

## The wheel a deployment installs (dist/): code, templates, static files, translations,
## migrations and the SAME boundaries.
wheel: vendor translations | $(UV)
	$(UV) build --wheel --out-dir dist

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

## Fuzz the API from its OpenAPI document, far longer than the suite does (tests/fuzz/).
fuzz: $(DEV_STAMP)
	HAVEN_FUZZ=1 $(BIN)/pytest tests/fuzz -p no:logging $(PYTEST_ARGS)

## The statistical security checks (tests/security/), left out of `make test`: they measure
## timing, so they are slow and, on a busy machine, noisy. They print what they measured.
security: $(DEV_STAMP)
	HAVEN_SECURITY_TESTS=1 $(BIN)/pytest tests/security -s $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) $(TOOLS) $(LOWEST) $(LOWEST).txt dist build .mypy_cache .pytest_cache .ruff_cache
