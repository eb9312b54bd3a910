# semsync developer entry points. `make test` is what CI runs.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: test install lint bench dev-up dev-down clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .

bench: $(STAMP)
	$(PY) bench/write_path.py
	$(PY) bench/fetch_efficiency.py
	$(PY) bench/patterns.py
	$(PY) bench/backfill.py

dev-up: $(STAMP)
	$(PY) -m starter dev up

dev-down: $(STAMP)
	$(PY) -m starter dev down

clean:
	rm -rf $(VENV) .semsync
