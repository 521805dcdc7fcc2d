# einlog: `make demo` and `make test` each set everything up from a fresh clone.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.einlog-installed
# CPU wheel; users with a GPU install a CUDA torch first (see README).
TORCH_PIN ?= torch==2.13.0

.PHONY: setup demo test test-long lint typecheck bench bench-setup clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH_PIN)"
	$(PY) -m pip install -q -e ".[dev,train]"
	touch $(STAMP)

demo: setup
	$(PY) -m einlog.demo

lint: setup
	$(VENV)/bin/ruff check src tests benchmarks examples
	$(VENV)/bin/mypy

test: setup lint
	$(VENV)/bin/pytest -q -n 2 -m "not slow"

test-long: setup
	EINLOG_LONG=1 $(VENV)/bin/pytest -q -n 2

# Peers: SWI-Prolog (Debian package) and DeepProbLog 2.1.0 with --no-deps, since its
# torchvision requirement would replace the CPU torch with a multi-gigabyte CUDA build.
bench-setup: setup
	command -v swipl >/dev/null || (apt-get update -qq && apt-get install -y -qq swi-prolog-nox)
	$(VENV)/bin/pip show deepproblog >/dev/null 2>&1 || $(VENV)/bin/pip install -q --no-deps deepproblog==2.1.0 pillow

# make bench ARGS="--quick" ; make bench ARGS="exact --timeout 30"
bench: bench-setup
	$(PY) -m einlog.bench $(ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
