# The two commands of the README, and the set-up they share. Safe to run twice.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint format install clean

demo: $(STAMP)  ## Run the whole pipeline on simulated data.
	$(BIN)/usage-pipeline demo

test: $(STAMP)  ## Lint, then the whole test suite against a real Kafka broker.
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	@# The report's rendering test needs Debian's chromium: installed here when root.
	command -v chromium >/dev/null || [ "$$(id -u)" != 0 ] || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }
	$(BIN)/pytest

install: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Python 3.11+ is needed, found " + sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) .usage-pipeline lake .pytest_cache .ruff_cache .hypothesis
