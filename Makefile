# One command each on a fresh machine with only Python >= 3.10 and make:
#   make demo   the main job        make test   the whole test suite
# Each creates .venv from pyproject.toml and installs what it needs by itself.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: demo test bench lint clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# One stamp per set of extras, redone whenever pyproject.toml changes.
$(VENV)/.stamp-%: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[$*]'
	touch $@

demo: $(VENV)/.stamp-demo
	$(PY) -m crossbar demo

test: $(VENV)/.stamp-test
	$(PY) -m pytest -n 2 --durations=15 $(PYTEST_ARGS)

bench: $(VENV)/.stamp-test
	$(PY) benchmarks/bench_devices.py

lint: $(VENV)/.stamp-dev
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

clean:
	rm -rf $(VENV) .pytest_cache results
