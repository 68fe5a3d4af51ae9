# Two commands do all the set-up on a fresh machine (see README):
#   make run    the whole bus over every configured source into the embedded store
#   make test   the test suite
# Both create the virtualenv (.venv) when it is missing.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: run sample test lint clean-data virtuoso chromium map-assets export airflow

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "Python 3.11 is required (found %d.%d); set PYTHON=python3.11" % sys.version_info[:2])'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[airflow,dev,bench]"
	touch $(STAMP)

## the main job: every configured source; an unreachable one falls back to its bundled sample
run: $(STAMP)
	GX_ANALYTICS_ENABLED=False $(BIN)/transiscope run --offline-fallback

## the same over the bundled samples only (no request leaves 127.0.0.1)
sample: $(STAMP)
	GX_ANALYTICS_ENABLED=False $(BIN)/transiscope run --sample

## two workers, each taking whole test files (a file's module fixtures, such as the Airflow stack, start once);
## every server a test starts listens on a free loopback port and every store lives in its own temporary folder
TEST_WORKERS ?= 2
test: $(STAMP) virtuoso chromium map-assets
	GX_ANALYTICS_ENABLED=False $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --durations=25

## Virtuoso for the store tests (tests/integration/test_stores.py start it themselves on 127.0.0.1):
## the Debian package, installed when virtuoso-t is missing, without letting it start a system service
virtuoso:
	@command -v virtuoso-t >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" != 0 ]; then \
	    echo "virtuoso-t is missing: install the Debian package virtuoso-opensource as root (apt-get install virtuoso-opensource), then run make test again" >&2; exit 1; fi; \
	  echo "installing the Debian package virtuoso-opensource for the store tests"; \
	  policy=/usr/sbin/policy-rc.d; own_policy=; \
	  if [ ! -e $$policy ]; then printf '#!/bin/sh\nexit 101\n' > $$policy && chmod 755 $$policy && own_policy=1; fi; \
	  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq virtuoso-opensource >/dev/null; \
	  status=$$?; if [ -n "$$own_policy" ]; then rm -f $$policy; fi; \
	  if [ $$status != 0 ] || ! command -v virtuoso-t >/dev/null 2>&1; then \
	    echo "could not install virtuoso-opensource with apt-get (exit $$status): the store tests need Virtuoso" >&2; exit 1; fi; \
	  if command -v update-rc.d >/dev/null 2>&1; then update-rc.d virtuoso-opensource-7 disable >/dev/null 2>&1 || true; fi; \
	}

## the pages' JavaScript/CSS (Leaflet, Leaflet.markercluster for the map; YASGUI for the query page) from the npm registry, pinned in
## map/package.json, into map/node_modules (not committed); installs Debian's nodejs + npm when npm is missing
MAP_ASSETS := map/node_modules/leaflet/dist/leaflet.js map/node_modules/leaflet.markercluster/dist/leaflet.markercluster.js \
              map/node_modules/@zazuko/yasgui/build/yasgui.min.js
map-assets: $(MAP_ASSETS)
$(MAP_ASSETS): map/package.json
	@command -v npm >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" != 0 ]; then \
	    echo "npm is missing: install the Debian packages nodejs and npm as root, then run make map-assets again" >&2; exit 1; fi; \
	  echo "installing the Debian packages nodejs and npm for the map assets"; \
	  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null; \
	}
	cd map && npm install --no-package-lock --no-audit --no-fund --ignore-scripts --loglevel=error
	touch $(MAP_ASSETS)

## headless Chromium for the map page test (tests/integration/test_map_page.py): Debian's chromium and
## chromium-driver, installed as root when missing
chromium:
	@{ command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; } || { \
	  if [ "$$(id -u)" != 0 ]; then \
	    echo "chromium/chromedriver missing: install the Debian packages chromium and chromium-driver as root" >&2; exit 1; fi; \
	  echo "installing the Debian packages chromium and chromium-driver for the map page test"; \
	  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
	  command -v chromedriver >/dev/null 2>&1 || { echo "could not install chromium-driver with apt-get" >&2; exit 1; }; \
	}

## the exports (GoGoCarto, GeoJSON, JSON-LD, CSV, iCal) from the store into var/exports
export: $(STAMP)
	$(BIN)/transiscope export

## Airflow on this machine (the components of `airflow standalone`: api-server, scheduler with the LocalExecutor, dag-processor,
## triggerer) on SQLite in var/airflow-home, with dags/ and plugins/ of this checkout and the pools of
## `transiscope airflow-pools`; the UI and REST API on 127.0.0.1 only. The DAGs load the embedded store in var/.
AIRFLOW_PORT ?= 8080
AIRFLOW_LOCAL_HOME := $(CURDIR)/var/airflow-home
AIRFLOW_LOCAL_ENV := PATH="$(CURDIR)/$(BIN):$$PATH" AIRFLOW_HOME="$(AIRFLOW_LOCAL_HOME)" \
	AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="sqlite:///$(AIRFLOW_LOCAL_HOME)/airflow.db" \
	AIRFLOW__CORE__DAGS_FOLDER="$(CURDIR)/dags" AIRFLOW__CORE__PLUGINS_FOLDER="$(CURDIR)/plugins" \
	AIRFLOW__CORE__LOAD_EXAMPLES=False AIRFLOW__CORE__EXECUTOR=LocalExecutor \
	AIRFLOW__API__HOST=127.0.0.1 AIRFLOW__API__PORT=$(AIRFLOW_PORT) \
	AIRFLOW__API__BASE_URL=http://127.0.0.1:$(AIRFLOW_PORT) \
	AIRFLOW__CORE__EXECUTION_API_SERVER_URL=http://127.0.0.1:$(AIRFLOW_PORT)/execution/ \
	AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK=False GX_ANALYTICS_ENABLED=False
airflow: $(STAMP)
	mkdir -p "$(AIRFLOW_LOCAL_HOME)"
	$(AIRFLOW_LOCAL_ENV) $(BIN)/airflow db migrate >/dev/null
	$(BIN)/transiscope airflow-pools --out "$(AIRFLOW_LOCAL_HOME)/pools.json"
	$(AIRFLOW_LOCAL_ENV) $(BIN)/airflow pools import "$(AIRFLOW_LOCAL_HOME)/pools.json" >/dev/null
	@echo ""
	@echo "Airflow UI and REST API: http://127.0.0.1:$(AIRFLOW_PORT)   (Ctrl-C stops every component)"
	@echo "user: admin   password: generated at the first start, in $(AIRFLOW_LOCAL_HOME)/simple_auth_manager_passwords.json.generated"
	@echo "DAGs: $(CURDIR)/dags (ingest DAGs paused at creation: unpause the ones to run)   store and runs: $(CURDIR)/var"
	@echo "SPARQL endpoint, quality reports and map (the UI's links): http://127.0.0.1:8890/"
	@echo ""
	@# what `airflow standalone` starts, minus its log servers (they bind every interface and are only needed
	@# by remote workers), plus `transiscope serve` for the links the plugin adds: every component on 127.0.0.1,
	@# in a session of their own, all stopped together by Ctrl-C: SIGTERM to that process group (workers included),
	@# then SIGKILL to what is left after 15 s
	$(AIRFLOW_LOCAL_ENV) bash -c 'setsid bash -c "\
	    airflow api-server --host 127.0.0.1 --port $(AIRFLOW_PORT) & \
	    airflow scheduler --skip-serve-logs & airflow dag-processor & airflow triggerer --skip-serve-logs & \
	    transiscope serve --host 127.0.0.1 --port 8890 & \
	    wait -n; echo \"a component stopped: stopping the others\" >&2" & group=$$!; \
	  stop() { trap - INT TERM EXIT; kill -TERM -- -$$group 2>/dev/null; \
	    for _ in $$(seq 15); do kill -0 -- -$$group 2>/dev/null || break; sleep 1; done; \
	    kill -KILL -- -$$group 2>/dev/null; }; \
	  trap stop INT TERM EXIT; wait $$group'

## the gates CI runs before the tests: lint, formatting, types (mypy, configured in pyproject.toml) and the
## layers of the core package (import-linter)
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

## forget the local store and run files (var/)
clean-data:
	rm -rf var
