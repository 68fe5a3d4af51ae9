# Two commands do all the set-up on a fresh machine (see README):
#   make run    the whole bus over every configured source into the embedded store
#   make test   the test suite
# Both create the virtualenv (.venv) when it is missing.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: run sample test lint clean-data

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "Python 3.11 is required (found %d.%d); set PYTHON=python3.11" % sys.version_info[:2])'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[airflow,dev]"
	touch $(STAMP)

## the main job: every configured source; an unreachable one falls back to its bundled sample
run: $(STAMP)
	GX_ANALYTICS_ENABLED=False $(BIN)/transiscope run --offline-fallback

## the same over the bundled samples only (no request leaves 127.0.0.1)
sample: $(STAMP)
	GX_ANALYTICS_ENABLED=False $(BIN)/transiscope run --sample

test: $(STAMP)
	GX_ANALYTICS_ENABLED=False $(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .

## forget the local store and run files (var/)
clean-data:
	rm -rf var
