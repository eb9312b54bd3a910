# semsync developer entry points. `make test` is what CI runs.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SHELL := /bin/bash

.PHONY: test install lint bench demo down dev-up dev-down clean

$(STAMP): pyproject.toml
	@echo "installing semsync and its dependencies into $(VENV) (a minute or two the first time)"
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	set -o pipefail; $(PY) -m pip install -e '.[dev]' 2>&1 | tee $(VENV)/install.log \
	  | { grep --line-buffered -E '^(Collecting|Successfully installed)' || true; }
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports --no-logo

bench: $(STAMP)
	$(PY) bench/write_path.py
	$(PY) bench/fetch_efficiency.py
	$(PY) bench/patterns.py
	$(PY) bench/backfill.py
	$(PY) bench/delivery.py

# the quick start: the embedded stack, the demo data, the worker, schedules, discovery, a backfill
demo: $(STAMP)
	$(PY) -m starter demo run

down: $(STAMP)
	$(PY) -m starter dev down

dev-up: $(STAMP)
	$(PY) -m starter dev up

dev-down: $(STAMP)
	$(PY) -m starter dev down

clean:
	rm -rf $(VENV) .semsync
