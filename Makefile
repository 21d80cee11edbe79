# The two commands of the quick start:  make up  (the main job)  and  make test.
# Both bootstrap what they need: a virtual environment with the pinned Python packages
# (requirements.lock), the pinned npm packages of hardhat-local/ (package-lock.json), and the
# contract build in build/contracts (ABI and bytecode), which run time only loads.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PY_STAMP := $(VENV)/.stamp-deps
NPM_STAMP := hardhat-local/node_modules/.stamp-deps

.PHONY: up test lint deps build bench clean mutation

up: deps build
	$(BIN)/ledger up

test: deps build lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The habits of docs/architecture.md: lint, formatting and types (strict on the domain packages).
lint: deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

deps: $(PY_STAMP) $(NPM_STAMP)

# The contracts for the configured EVM target (LEDGER_EVM_VERSION) and the default one, which run
# time loads (chain/artifacts.py); a cached compilation when contracts/ did not change.
# BUILD_ARGS=--all builds every target.
build: deps
	$(BIN)/python -m chain.compiler $(BUILD_ARGS)

$(PY_STAMP): requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is required (set PYTHON=...)")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

$(NPM_STAMP): hardhat-local/package.json hardhat-local/package-lock.json
	cd hardhat-local && npm ci --no-audit --no-fund
	touch $@

# Mutation testing of the core modules (slow, not part of `make test`): killed/survived per module,
# survivors listed. Options: MUTATION_ARGS="--module abi --jobs 2 --min-score 90" (see tools/mutation.py).
mutation: deps
	$(BIN)/python tools/mutation.py $(MUTATION_ARGS)

bench: deps build
	$(BIN)/python bench/gas.py
	$(BIN)/python bench/sender_throughput.py

clean:
	rm -rf build var $(VENV) hardhat-local/node_modules
