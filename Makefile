# The two commands a new user needs: `make demo` and `make test`. Both set up what a
# fresh machine lacks (venv, pinned packages, JVM jars, redis-server) and are idempotent.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
STAMP := $(VENV)/.installed

.PHONY: setup demo test test-all stack-up stack-down preflight clean

$(STAMP): requirements.txt setup.cfg pyproject.toml
	@command -v redis-server >/dev/null || { echo "installing redis-server (Debian package)"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq redis-server >/dev/null; }
	@[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade "pip>=24"
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps -e .
	@touch $(STAMP)

.jars/.resolved: deploy/pom.xml $(STAMP)
	$(VENV)/bin/streamsuite jars
	@touch $@

setup: $(STAMP) .jars/.resolved
	$(VENV)/bin/streamsuite preflight

demo: setup
	$(VENV)/bin/streamsuite demo

test: setup
	$(PY) -m pytest

test-all: setup
	$(PY) -m pytest -m "" 

stack-up: setup
	$(VENV)/bin/streamsuite stack up

stack-down:
	$(VENV)/bin/streamsuite stack down

clean: stack-down
	rm -rf .run .jars
