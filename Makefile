# The two commands: `make test` and `make demo`. Each creates .venv, installs the project and
# makes sure the Mosquitto and PostgreSQL binaries are present.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: test demo bench lint typecheck pytest servers interop venv clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is required")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev,kafka,api]'
	touch $(STAMP)

venv: $(STAMP)

servers: $(STAMP)
	@bash scripts/ensure-servers.sh $(PY)

# Independent Sparkplug B codecs (Tahu JS via npm, pysparkplug in its own venv) for cross-decode tests.
interop: $(STAMP)
	@bash scripts/ensure-interop.sh $(PYTHON)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy

# The whole suite on the storage path the machine offers (TimescaleDB when installed); where
# TimescaleDB is installed, the database-facing tests run once more on plain PostgreSQL, the path
# every fresh machine has.
DB_TESTS := tests/api tests/collector tests/figures tests/kpi tests/evidence tests/models tests/test_import_cli.py \
            tests/test_e2e_plant.py
HAS_TIMESCALEDB = $(PY) -c 'import sys; from plantproof.embedded import postgres_bindir as b, timescaledb_available as t; d = b(); sys.exit(0 if d and t(d) else 1)'

pytest: servers interop
	$(VENV)/bin/pytest -q -p no:cacheprovider $(PYTEST_ARGS)
	@if $(HAS_TIMESCALEDB); then \
		echo "TimescaleDB is installed: the database tests again on plain PostgreSQL"; \
		PLANTPROOF_TIMESCALEDB=off $(VENV)/bin/pytest -q -p no:cacheprovider $(DB_TESTS); \
	fi

test: lint typecheck pytest

demo: servers
	$(VENV)/bin/plantproof demo $(DEMO_ARGS)

bench: servers
	$(PY) -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache demo-output
