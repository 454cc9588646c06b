# Two commands on a fresh machine: `make demo` and `make test`. Each sets itself up in .venv.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test check lint format typecheck layers actions bench bench-broker bench-audit bench-az docs docs-write clean

DEMO_STAMP := $(VENV)/.installed-demo

# `make test` (and the checks) need the test, lint and fidelity-client extras; `make demo` only jitpim itself.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "installing jitpim with its test and lint tools into $(VENV) (first run only; a few minutes)"
	$(BIN)/pip install --disable-pip-version-check --upgrade pip
	$(BIN)/pip install --disable-pip-version-check --progress-bar on -e '.[dev]'
	touch $(STAMP)

$(DEMO_STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@if [ -f $(STAMP) ] && [ $(STAMP) -nt pyproject.toml ]; then \
	  echo "jitpim is already installed in $(VENV)"; \
	else \
	  echo "installing jitpim and what the demo needs into $(VENV) (first run only; about 30 s)"; \
	  $(BIN)/pip install --disable-pip-version-check --progress-bar on -e . || exit 1; \
	fi
	touch $(DEMO_STAMP)

demo: $(DEMO_STAMP)
	$(BIN)/jitpim demo

test: $(STAMP)
	$(BIN)/pytest -q

check: lint typecheck layers actions docs

lint: $(STAMP)
	$(BIN)/ruff check src tests scripts
	$(BIN)/ruff format --check src tests scripts

format: $(STAMP)
	$(BIN)/ruff format src tests scripts
	$(BIN)/ruff check --fix src tests scripts

typecheck: $(STAMP)
	$(BIN)/mypy

layers: $(STAMP)
	$(BIN)/lint-imports

# The GitHub Action and the example workflows: actionlint, zizmor (offline audits, pedantic), node's syntax check.
actions: $(STAMP)
	$(BIN)/actionlint examples/workflows/*.yml
	$(BIN)/zizmor --offline --persona=pedantic --no-progress examples/workflows action.yml
	for f in action/*.js; do node --check "$$f" || exit 1; done

docs: $(STAMP)
	$(BIN)/python scripts/gen_docs.py --check

docs-write: $(STAMP)
	$(BIN)/python scripts/gen_docs.py

bench: $(STAMP)
	$(BIN)/python scripts/bench_emulator.py
	$(BIN)/python scripts/bench_dashboard.py --events 1000000

bench-broker: $(STAMP)
	$(BIN)/python scripts/bench_broker.py

# A million audit events appended as jobs write them, then `jitpim audit verify` (time, peak RSS); PostgreSQL
# too when JITPIM_TEST_PG_DSN is set. Takes minutes: appends are durable transactions.
bench-audit: $(STAMP)
	$(BIN)/python scripts/bench_audit.py --events 1000000

# The Azure CLI in its own environment (never a jitpim dependency), made on first use.
AZ_VENV := .venv-az
$(AZ_VENV)/bin/az:
	$(PYTHON) -m venv $(AZ_VENV)
	$(AZ_VENV)/bin/pip install -q --upgrade pip
	$(AZ_VENV)/bin/pip install -q azure-cli

# One job's access, side by side on the emulator: the az script users write vs `jitpim exec -- true` (0 s and
# 3 s RBAC propagation), after the az CLI's own tests against the emulator.
bench-az: $(STAMP) $(AZ_VENV)/bin/az
	JITPIM_AZ=$(AZ_VENV)/bin/az $(BIN)/pytest -q tests/emulator/test_az_cli.py
	$(BIN)/python scripts/bench_vs_az.py --az $(AZ_VENV)/bin/az

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
