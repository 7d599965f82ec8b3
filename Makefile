# Herald: `make dev` runs the whole system on localhost, `make test` runs every test.
# Both install what they need first (idempotent: stamps are redone only when inputs change).

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CHECKOV_VENV := .venv-checkov
PIP_FLAGS := --disable-pip-version-check --no-input -q
# This machine's pip config lists optional local indexes; hide pip's warnings about them.
QUIET_PIP := 2> >(grep -v 'is ignored: it is neither' >&2)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
FUNCTIONS := $(notdir $(wildcard functions/*))
PYTEST_ARGS ?=

.PHONY: help setup system dev test lint typecheck unit bench clean requirements

help:
	@echo "make dev    run Herald on localhost (emulators, functions, scheduler, SMTP sink, admin)"
	@echo "make test   lint, type-check and run every test"
	@echo "make bench  run the benchmarks (QUICK=1 for the short variant)"
	@echo "make requirements  regenerate functions/*/requirements.txt (pinned to constraints.txt)"

setup: $(BIN)/.stamp local/node_modules/.stamp admin/vendor/.stamp

$(BIN)/.stamp: pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install $(PIP_FLAGS) --upgrade pip $(QUIET_PIP)
	$(BIN)/pip install $(PIP_FLAGS) -c constraints.txt -e '.[dev]' $(QUIET_PIP)
	@touch $@

# checkov pins packages that clash with pytest: it gets a virtualenv of its own. The same
# venv keeps the google provider's schema (argument and block names), extracted from the
# CDKTF bindings wheel, for tests/infra (the Terraform registry is unreachable offline).
CDKTF_GOOGLE := cdktf-cdktf-provider-google==16.12.1
$(CHECKOV_VENV)/.stamp: tests/infra/checkov-requirements.txt tests/infra/google_schema.py
	@test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install $(PIP_FLAGS) -r tests/infra/checkov-requirements.txt $(QUIET_PIP)
	rm -rf $(CHECKOV_VENV)/wheels
	$(CHECKOV_VENV)/bin/pip download $(PIP_FLAGS) --no-deps -d $(CHECKOV_VENV)/wheels $(CDKTF_GOOGLE) $(QUIET_PIP)
	$(CHECKOV_VENV)/bin/python tests/infra/google_schema.py $(CHECKOV_VENV)/wheels/*.whl $(CHECKOV_VENV)/google-provider-schema.json
	rm -rf $(CHECKOV_VENV)/wheels
	@touch $@

local/node_modules/.stamp: local/package.json local/package-lock.json
	cd local && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

admin/vendor/.stamp: local/node_modules/.stamp local/vendor_admin.py
	$(PYTHON) local/vendor_admin.py
	@touch $@

# Debian packages: Google's Firestore emulator (from the Google Cloud CLI apt source,
# with the Java runtime it runs on) for `make dev`, `make test` and `make bench`,
# Chromium with emoji and CJK fonts for the admin page's browser tests (without them
# 🚀 and 続き render as boxes in the screenshots), and dovecot-imapd (a real IMAP server
# for the bounce mailbox tests).
FIRESTORE_JAR := /usr/lib/google-cloud-sdk/platform/cloud-firestore-emulator/cloud-firestore-emulator.jar
system:
	@missing=""; \
	test -f $(FIRESTORE_JAR) || missing="$$missing google-cloud-cli-firestore-emulator"; \
	command -v java >/dev/null 2>&1 || missing="$$missing default-jre-headless"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium chromium-driver fonts-dejavu-core"; \
	for font in fonts-noto-color-emoji fonts-noto-cjk; do \
	  dpkg -s $$font >/dev/null 2>&1 || missing="$$missing $$font"; \
	done; \
	test -x /usr/sbin/dovecot -a -x /usr/lib/dovecot/imap || missing="$$missing dovecot-imapd"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

dev: setup system
	@$(BIN)/herald dev $(ARGS)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup
	$(BIN)/mypy
	@for f in $(FUNCTIONS); do $(BIN)/mypy --no-error-summary functions/$$f/main.py || exit 1; done

test: setup system lint typecheck $(CHECKOV_VENV)/.stamp
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Each function's requirements.txt: its requirements.in closed over the installed
# distributions and pinned to constraints.txt (what Cloud Build installs = what was tested).
requirements: $(BIN)/.stamp
	$(BIN)/python -m local.function_requirements

bench: setup system
	$(BIN)/python -m bench $(if $(QUICK),--quick,)

clean:
	rm -rf .herald .mypy_cache .ruff_cache
