# The two commands: `make run` starts everything, `make test` runs the tests.
# Both create .venv with the machine's python3 when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-fast bench lint typecheck audit lock clean browser

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/porte-voix up

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow and not browser"

bench: $(STAMP)
	$(BIN)/python -m benchmarks.run

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy orchestrator channels content

# Known vulnerabilities in the locked dependencies; says SKIPPED when the data cannot be reached.
audit: $(STAMP)
	$(BIN)/python scripts/audit.py

# Pin every installed package (after changing pyproject.toml's dependencies).
lock: $(STAMP)
	{ echo "# Every installed package, pinned: pip freeze --exclude-editable of the dev venv (make lock)."; \
	  echo "# Audited by 'make audit' (pip-audit). Regenerate after changing pyproject.toml's dependencies."; \
	  $(BIN)/python -m pip freeze --exclude-editable; } > requirements.lock

clean:
	rm -rf $(VENV) var .pytest_cache
