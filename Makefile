# The Python targets depend on `venv`, which creates or updates .venv only when pyproject.toml changed.
# The gate tools live in their own prefixes, each installed once and re-installed only when its pin changes:
# SAM CLI in .venv-sam/, checkov in .venv-checkov/ (it pins an old boto3), asl-validator in node_modules/.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Two workers, one per core. Three were faster (1,768 tests in 369 s against 414 s: a local run spends part of its
# time waiting) but the extra contention made one sweep test fail about once in 18 runs (States.Runtime in the
# Distributed Map of the local interpreter; see the session 5 note), so not before that race is understood.
PYTEST_WORKERS ?= 2
GATE_JOBS ?= 4
PIP_QUIET := --quiet --disable-pip-version-check

SAM_CLI_VERSION := 1.170.0
SAM_VENV := .venv-sam
SAM := $(SAM_VENV)/bin/sam
SAM_STAMP := $(SAM_VENV)/.installed-$(SAM_CLI_VERSION)

CHECKOV_VERSION := 3.3.30
CHECKOV_VENV := .venv-checkov
CHECKOV := $(CHECKOV_VENV)/bin/checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed-$(CHECKOV_VERSION)

ASL_VALIDATOR := node_modules/.bin/asl-validator
NODE_STAMP := node_modules/.installed
ASL_FILES := $(wildcard statemachine/*.asl.json)

# SAM CLI runs offline: no telemetry, and a region (no credentials) so the template validates without an account.
SAM_ENV := SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-us-east-1}
# `sam build` needs the template's runtime (python3.12) on PATH. pyenv's shims hide the versions that are not
# selected, so where pyenv exists, select the newest installed one of the runtime's minor version next to the
# current version (and `system`, so a python3.12 outside pyenv is still found).
BUILD_PYTHON := $(shell sed -n 's/^ *Runtime: *\(python3\.[0-9]*\).*/\1/p' template.yaml | head -n 1)
PYENV_VERSIONS := $(shell command -v pyenv >/dev/null 2>&1 && { \
	pyenv version-name 2>/dev/null; \
	pyenv versions --bare --skip-aliases 2>/dev/null | grep -E '^$(subst .,\.,$(BUILD_PYTHON:python%=%))\.[0-9]+$$' \
		| sort -V | tail -n 1; \
	echo system; } | awk 'NF && !seen[$$0]++' | paste -sd: -)
BUILD_ENV := $(SAM_ENV) $(if $(PYENV_VERSIONS),PYENV_VERSION=$(PYENV_VERSIONS))
BUILD_STAMP := .aws-sam/.built
FUNCTION_FILES := $(shell find functions -type f -not -path '*/__pycache__/*' -not -name '*.pyc' 2>/dev/null)

.DEFAULT_GOAL := help
.PHONY: help venv tools test test-matrix unit lint lint-python validate asl checkov build format bench demo clean

help:
	@echo "make demo      run the whole workflow locally on the sample datasets"
	@echo "make test      lint gates and the test suite (under 10 minutes on 2 cores, installs included)"
	@echo "make test-matrix  the exhaustive fault and permission matrices (CI runs them after make test)"
	@echo "make lint      ruff, ruff format --check, mypy, sam validate --lint, asl-validator, checkov, sam build"
	@echo "make build     sam build (the template's runtime and architecture) into .aws-sam/build"
	@echo "make tools     install the gate tools: SAM CLI, checkov, asl-validator"
	@echo "make bench     validator throughput and memory vs a naive baseline; cold starts vs a floor; package sizes;"
	@echo "               waiting for a training job: callback vs polling on the virtual clock"

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/python -m pip install $(PIP_QUIET) --upgrade "pip==25.3"
	$(BIN)/python -m pip install $(PIP_QUIET) -e ".[dev]"
	@touch $(STAMP)

tools: $(SAM_STAMP) $(CHECKOV_STAMP) $(NODE_STAMP)

$(SAM_STAMP):
	@test -x $(SAM_VENV)/bin/python || $(PYTHON) -m venv $(SAM_VENV) || python3 -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install $(PIP_QUIET) --upgrade "pip==25.3"
	$(SAM_VENV)/bin/python -m pip install $(PIP_QUIET) "aws-sam-cli==$(SAM_CLI_VERSION)"
	@rm -f $(SAM_VENV)/.installed-*
	@touch $@

$(CHECKOV_STAMP):
	@test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV) || python3 -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install $(PIP_QUIET) --upgrade "pip==25.3"
	$(CHECKOV_VENV)/bin/python -m pip install $(PIP_QUIET) "checkov==$(CHECKOV_VERSION)"
	@rm -f $(CHECKOV_VENV)/.installed-*
	@touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --include=dev --ignore-scripts --no-audit --no-fund --loglevel=error
	@touch $@

# The browser test (tests/browser) loads the HTML run report in Debian's headless Chromium: installed once with apt
# (through sudo unless root; the package lists are refreshed only when the first attempt fails).
CHROMIUM := /usr/bin/chromium-headless-shell
APT := $(if $(filter 0,$(shell id -u)),,sudo) env DEBIAN_FRONTEND=noninteractive apt-get
.PHONY: chromium
chromium: $(CHROMIUM)

$(CHROMIUM):
	$(APT) install -y --no-install-recommends chromium-headless-shell || \
		{ $(APT) update && $(APT) install -y --no-install-recommends chromium-headless-shell; }

lint: lint-python validate asl checkov build

lint-python: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

validate: $(SAM_STAMP)
	$(SAM_ENV) $(SAM) validate --lint --template-file template.yaml

asl: $(NODE_STAMP)
	@test -n "$(ASL_FILES)" || { echo "no statemachine/*.asl.json found"; exit 1; }
	$(ASL_VALIDATOR) $(foreach file,$(ASL_FILES),--json-path $(file))

checkov: $(CHECKOV_STAMP)
	BC_SKIP_MAPPING=TRUE $(CHECKOV) --file template.yaml --framework cloudformation --skip-download --quiet --compact

build: $(BUILD_STAMP)

# Re-built only when the template or a file under functions/ changed: sam build writes a full copy of the package
# and its dependencies for each of the 12 functions (~500 MB). `--no-cached` overrides samconfig.toml: SAM's cached
# path copies file by file with metadata and takes twice as long as a fresh build into an empty folder.
$(BUILD_STAMP): $(SAM_STAMP) template.yaml $(wildcard samconfig.toml) $(FUNCTION_FILES)
	@$(BUILD_ENV) $(BUILD_PYTHON) --version >/dev/null 2>&1 || \
		{ echo "sam build needs $(BUILD_PYTHON) (the template's Runtime) on PATH"; exit 1; }
	rm -rf .aws-sam/build $(BUILD_STAMP)
	$(BUILD_ENV) $(SAM) build --template-file template.yaml --build-dir .aws-sam/build --no-cached
	@touch $@

format: venv
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# The installs (pip, SAM CLI, checkov, npm, Chromium) and then the gates are independent of each other: a sub-make
# runs them side by side (most of an install is waiting for files and processes), then the tests run alone.
test:
	$(MAKE) --no-print-directory -j$(GATE_JOBS) --output-sync=target lint $(CHROMIUM)
	$(BIN)/pytest -n $(PYTEST_WORKERS) -q -m "not matrix"

# The exhaustive matrices (a fault in every AWS operation, every permission taken out): a local run per case.
test-matrix: venv
	$(BIN)/pytest -n $(PYTEST_WORKERS) -q -m matrix

unit: venv
	$(BIN)/pytest -q tests/unit

bench: venv build
	$(BIN)/python -m bench
	$(BIN)/python -m bench.completion

demo: venv
	$(BIN)/bedrock-finetune demo

clean:
	rm -rf $(VENV) $(SAM_VENV) $(CHECKOV_VENV) node_modules .aws-sam .pytest_cache .mypy_cache .ruff_cache bench/.data
