# Setup and checks. `make run` and `make test` work on a fresh clone.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
DEBIAN_PACKAGES := dataset-fashion-mnist postgresql chromium
FMNIST_DIR := /usr/share/datasets/fashion-mnist

.PHONY: run test lint typecheck pytest system-deps bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

# torch first and pinned: a plain `torch` requirement would pull a multi-GB CUDA build.
$(STAMP): pyproject.toml | $(PY)
	$(PIP) install -q "torch==2.13.0"
	$(PIP) install -q -e .
	touch $@

$(DEV_STAMP): pyproject.toml | $(PY)
	$(PIP) install -q "torch==2.13.0"
	$(PIP) install -q -e ".[dev]"
	touch $(STAMP) $@

run: $(STAMP)
	$(VENV)/bin/sweeplab run examples/iris.toml
	$(VENV)/bin/sweeplab report runs/iris

system-deps:
	@if [ ! -f $(FMNIST_DIR)/train-images-idx3-ubyte.gz ] || [ ! -x /usr/lib/postgresql/15/bin/initdb ] || ! command -v chromium >/dev/null; then \
	  if [ "$$(id -u)" = "0" ]; then \
	    (apt-get install -y -q $(DEBIAN_PACKAGES) || (apt-get update -q && apt-get install -y -q $(DEBIAN_PACKAGES))) >/dev/null; \
	  else \
	    echo "make test needs the Debian packages: $(DEBIAN_PACKAGES) (run as root, or: sudo apt-get install $(DEBIAN_PACKAGES))"; exit 1; \
	  fi; \
	fi

lint: $(DEV_STAMP)
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench

typecheck: $(DEV_STAMP)
	$(VENV)/bin/mypy

pytest: $(DEV_STAMP) system-deps
	$(PY) -m pytest -q

test: lint typecheck pytest

# CPU-feasible sizes (a few minutes on 2 cores); full size on a GPU:
#   $(PY) bench/engine.py --device cuda --samples 60000 --trials 128 --epochs 10
BENCH_ARGS ?= --samples 2000 --trials 8 --epochs 3 --threads 1
bench: $(STAMP)
	$(PY) bench/engine.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) runs .pytest_cache .mypy_cache .ruff_cache
