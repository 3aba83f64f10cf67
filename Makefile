# Two commands do everything:
#   make demo   run the showcase DAG end to end against the local emulator (or the real API when
#               APIFRAME_API_KEY is set) and save its images under out/demo/
#   make test   lint, type-check and run every test (unit, contract, end to end with real Airflow)
# Each builds its own virtualenv under .venvs/ first. AIRFLOW_VERSION picks the Airflow to test
# against (default: current; 3.1.0 is the lowest this provider supports).

AIRFLOW_VERSION ?= 3.3.2
PYTHON ?= python3

# Dependencies are resolved as they stood when each Airflow release was current (uv --exclude-newer),
# which is what Airflow's own constraint files pin, so a clean machine gets a working set.
EXCLUDE_NEWER_3.3.2 := 2026-11-24T00:00:00Z
EXCLUDE_NEWER_3.1.0 := 2025-09-27T00:00:00Z
EXCLUDE_NEWER ?= $(EXCLUDE_NEWER_$(AIRFLOW_VERSION))

TOOLS := .venvs/tools
UV := $(TOOLS)/bin/uv
VENV := .venvs/airflow-$(AIRFLOW_VERSION)
BIN := $(VENV)/bin

.PHONY: demo test lint postgres redis chromium clean

demo: $(VENV)/.installed
	$(BIN)/python scripts/demo.py

# The unit and contract tiers run on every core. Then the end-to-end tier (airflow dags test; each
# test module has its own Airflow home and emulator), two modules at a time; then the deployment
# tier, the UI tier with it (one real deployment at a time, alone: its scenarios time things).
# TIERS picks them: CI runs the deployment tier on the current Airflow only.
TIERS ?= e2e deployment

test: lint postgres redis chromium
	$(BIN)/pytest -m "not e2e and not deployment" -n auto
	$(if $(filter e2e,$(TIERS)),$(BIN)/pytest -m "e2e and not deployment" -n 2 --dist loadfile --durations 10)
	$(if $(filter deployment,$(TIERS)),$(BIN)/pytest -m deployment --durations 10)

# The deployment tests (tests/deployment) run Airflow on a PostgreSQL server they start themselves;
# they need its binaries (initdb, pg_ctl), from the Debian packages when missing.
postgres:
	@if ! command -v initdb >/dev/null && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
		echo "==> Installing the PostgreSQL server (Debian packages) for the deployment tests"; \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends postgresql >/dev/null; \
	fi

# The Celery fleet of the deployment tier (tests/deployment/test_celery_fleet.py) uses a Redis broker
# the tests start themselves; it needs redis-server, from the Debian package when missing.
redis:
	@if ! command -v redis-server >/dev/null; then \
		echo "==> Installing the Redis server (Debian package) for the Celery deployment test"; \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends redis-server >/dev/null; \
	fi

# The UI tier (tests/ui) drives the Airflow UI through Playwright in Debian's chromium (Playwright's
# own browser download is never used); from the Debian package when missing.
chromium:
	@if ! command -v chromium >/dev/null; then \
		echo "==> Installing Chromium (Debian package) for the UI tests"; \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends chromium >/dev/null; \
	fi

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

$(UV):
	@echo "==> Installing uv (fast, reproducible installs) into $(TOOLS)"
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet uv

$(VENV)/.installed: pyproject.toml | $(UV)
	@test -n "$(EXCLUDE_NEWER)" || { echo "No dependency date known for Airflow $(AIRFLOW_VERSION); set EXCLUDE_NEWER=YYYY-MM-DD"; exit 1; }
	@echo "==> Creating $(VENV) with apache-airflow==$(AIRFLOW_VERSION) (dependencies as of $(EXCLUDE_NEWER))"
	$(UV) venv --quiet --allow-existing --python $(PYTHON) $(VENV)
	$(UV) pip install --quiet --python $(BIN)/python --exclude-newer $(EXCLUDE_NEWER) \
		"apache-airflow==$(AIRFLOW_VERSION)" -e ".[dev]"
	touch $@

clean:
	rm -rf .venvs out
