# Every target depends on `venv`, which creates or updates .venv only when pyproject.toml changed.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_WORKERS ?= 2

.DEFAULT_GOAL := help
.PHONY: help venv test unit lint format bench demo clean

help:
	@echo "make demo   run the whole workflow locally on the sample datasets"
	@echo "make test   lint gates and the full test suite"
	@echo "make lint   ruff, ruff format --check, mypy"
	@echo "make bench  validator throughput and memory against a naive baseline"

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade "pip==25.3"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[dev]"
	@touch $(STAMP)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: venv
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: lint
	$(BIN)/pytest -n $(PYTEST_WORKERS) -q

unit: venv
	$(BIN)/pytest -q tests/unit

bench: venv
	$(BIN)/python -m bench

demo: venv
	$(BIN)/bedrock-finetune demo

clean:
	rm -rf $(VENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache bench/.data
