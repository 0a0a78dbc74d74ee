# Every target sets up what it needs: `make demo` and `make test` work on a fresh clone.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench lint setup clean agent

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@$(BIN)/python -m compileall -q ccm_tui agent_runtime >/dev/null
	@touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/ccm demo

test: $(STAMP)
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

bench: $(STAMP)
	@$(BIN)/python -m compileall -q ccm_tui agent_runtime >/dev/null
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff check --target-version py39 agent_runtime
	$(BIN)/mypy
	$(BIN)/lint-imports

agent: $(STAMP)
	$(BIN)/python -m agent_runtime.zipapp_build dist/agent.pyz

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache
