# Two commands on a fresh machine: `make demo` and `make test`. Each sets itself up in .venv.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test check lint format typecheck layers actions bench bench-broker bench-audit docs docs-write clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
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

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
