# Every target sets itself up from nothing: a fresh clone needs only python3 (>= 3.11) and make.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
LOCAL_PACKAGES := packages/etl_core packages/etl_aws packages/etl_local packages/etl_ops lambdas/durable lambdas/sfn lambdas/approval
PYPROJECTS := $(wildcard $(addsuffix /pyproject.toml,$(LOCAL_PACKAGES)))

.PHONY: help venv test lint fmt bench build tf-check demo clean

help:
	@echo "make demo   run the whole system locally (both orchestrators, approval, review)"
	@echo "make test   lint + the full test suite"
	@echo "make bench  benchmarks with printed figures"
	@echo "make build  one reproducible Lambda zip per function package under dist/"

$(STAMP): requirements-dev.txt $(PYPROJECTS)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps $(addprefix -e ,$(dir $(PYPROJECTS)))
	touch $(STAMP)

venv: $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

fmt: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# Terraform checks run in one process after the rest: they share session fixtures (one init of every root,
# one applied stack, one checkov venv) that pytest-terraform cannot share between xdist workers.
test: lint
	$(PY) -m pytest -n 2 --ignore=tests/terraform
	$(PY) -m pytest tests/terraform

bench: $(STAMP)
	$(PY) bench/bench_core.py
	$(PY) bench/bench_imports.py --traced
	$(PY) bench/bench_runtime.py  # BENCH_RUNTIME_COUNTS=100,1000 adds the 1,000-document run

build: $(STAMP)
	$(PY) scripts/build_lambdas.py

# Terraform offline: fmt, init from a local provider mirror, validate, terraform test, contract, checkov.
tf-check: $(STAMP)
	$(PY) -m pytest tests/terraform -q

demo: $(STAMP)
	$(VENV)/bin/etl demo

clean:
	rm -rf $(VENV) dist .local bench/data .pytest_cache .ruff_cache .hypothesis
