# Everything a new machine needs comes from here: `make run`, `make test`, `make bench`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUN_INSTALLED := $(VENV)/.run-installed
INSTALLED := $(VENV)/.installed
# dsclient is installed as a user gets it (not editable), so a change to it reinstalls it.
CLIENT_SOURCES := client/pyproject.toml $(wildcard client/dsclient/*.py)

.PHONY: run test lint format bench chromium libreoffice clean

run: $(RUN_INSTALLED)  ## serve the API on http://127.0.0.1:8000 (embedded S3 unless S3_ENDPOINT_URL is set)
	@$(BIN)/python -m deploy.run_local

test: $(INSTALLED) chromium libreoffice lint  ## install what the tests need and run every test
	$(BIN)/python -m pytest

lint: $(INSTALLED)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

format: $(INSTALLED)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(INSTALLED)  ## performance against raw S3 calls (not part of make test)
	$(BIN)/python -m pip install -q -r requirements-bench.txt
	$(BIN)/python -m bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# What running needs: the service, dsclient and the embedded S3 server; no test tools.
$(RUN_INSTALLED): $(BIN)/python requirements.txt requirements-run.txt $(CLIENT_SOURCES)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements-run.txt
	touch $@

# What the tests need on top.
$(INSTALLED): $(RUN_INSTALLED) requirements-dev.txt
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	touch $@

# Debian packages the tests drive, installed when their command is missing: $(call debian,COMMAND,PACKAGE)
debian = command -v $(1) >/dev/null || { \
  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(2) >/dev/null; }

# The browser test drives Debian's Chromium (Playwright's own browser download is not used).
chromium:
	@$(call debian,chromium,chromium)

# The xlsx tests read every workbook back with LibreOffice headless too (Calc without a GUI).
libreoffice:
	@$(call debian,soffice,libreoffice-calc-nogui)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
