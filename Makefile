# The two commands: `make run` starts everything, `make test` runs the tests.
# Both create .venv with the machine's python3 when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# axe-core for the accessibility audit of the browser tests, pinned in package-lock.json.
AXE_STAMP := node_modules/.installed

.PHONY: run test test-fast bench lint typecheck audit lock clean browser mutation

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/porte-voix up

test: $(STAMP) $(AXE_STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q -n auto --dist worksteal

# From npm's cache when offline, else from the registry. When neither can be had, the tests still
# run and the accessibility audit says why it skips (in CI it fails instead).
$(AXE_STAMP): package.json package-lock.json
	@if command -v npm >/dev/null 2>&1 && npm ci --prefer-offline --no-audit --no-fund --loglevel=error; then \
	  touch $@; \
	else \
	  echo "axe-core could not be installed (npm ci): the accessibility audit will say why it skips"; \
	fi

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow and not browser"

# The journeys and the accessibility audit in headless Chromium alone (a few minutes).
browser: $(STAMP) $(AXE_STAMP)
	$(BIN)/python -m pytest -q tests/proofs/browser

bench: $(STAMP)
	$(BIN)/python -m benchmarks.run

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy orchestrator channels content dashboard

# Known vulnerabilities in the locked dependencies; says SKIPPED when the data cannot be reached.
audit: $(STAMP)
	$(BIN)/python scripts/audit.py

# Mutation testing of the rules that protect people: the rate budget (orchestrator/budgets.py),
# the personal-data guard of response imports (services/responses_fields.py), four eyes
# (services/four_eyes.py and the approve and edit services of services/posts.py), roles
# (services/auth.py) and never twice (the state machine's transitions in states.py and what a
# worker claims in worker/claimer.py). Each mutant is a small change to that code; a mutant no test
# kills is a change nobody would notice. Only the functions holding the rules are run (MUTANTS;
# the whole of posts.py and worker/claimer.py would take hours on 2 cores). Settings in
# pyproject.toml [tool.mutmut]; the survivors that remain, and why, are listed in
# docs/security.md. Installs mutmut into .venv on first use; about half an hour on 2 cores.
MUTANTS = "orchestrator.budgets.*" "orchestrator.services.responses_fields.*" \
	"orchestrator.services.four_eyes.*" "orchestrator.services.auth.*" \
	"orchestrator.services.posts.x_approve_post__mutmut_*" "orchestrator.services.posts.x_edit_post__mutmut_*" \
	"orchestrator.services.posts.x_void_approval__mutmut_*" "orchestrator.states.x_can_transition__mutmut_*" \
	"orchestrator.states.x_transition__mutmut_*" "orchestrator.states.x_transition_many__mutmut_*" \
	"orchestrator.worker.claimer.*_as_approved__mutmut_*" "orchestrator.worker.claimer.*_apply_gates__mutmut_*" \
	"orchestrator.worker.claimer.*_busy_elsewhere__mutmut_*"
mutation: $(STAMP)
	$(BIN)/python -m pip install --quiet mutmut
	rm -rf mutants
	$(BIN)/mutmut run --max-children 2 $(MUTANTS)
	$(BIN)/mutmut results

# Pin every installed package (after changing pyproject.toml's dependencies).
lock: $(STAMP)
	{ echo "# Every installed package, pinned: pip freeze --exclude-editable of the dev venv (make lock)."; \
	  echo "# Audited by 'make audit' (pip-audit). Regenerate after changing pyproject.toml's dependencies."; \
	  $(BIN)/python -m pip freeze --exclude-editable; } > requirements.lock

clean:
	rm -rf $(VENV) var .pytest_cache node_modules
