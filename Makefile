# The two commands a new user needs: `make demo` and `make test`. Both set up what a
# fresh machine lacks (venv, pinned packages, JVM jars, redis-server) and are idempotent.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
STAMP := $(VENV)/.installed
# The Prometheus Pushgateway the local Flink cluster pushes metrics to, built from the Go module
# proxy at the version pinned (with checksums) in deploy/tools/go.mod.
TOOLS_BIN := .tools/bin
PUSHGATEWAY := $(TOOLS_BIN)/pushgateway

.PHONY: setup demo test test-all stack-up stack-down preflight clean

$(STAMP): requirements.txt requirements-dev.txt setup.cfg pyproject.toml
	@command -v redis-server >/dev/null || { echo "installing redis-server (Debian package)"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq redis-server >/dev/null; }
	@[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade "pip>=24"
	$(PY) -m pip install -q -r requirements-dev.txt
	$(PY) -m pip install -q --no-deps -e .
	@touch $(STAMP)

.jars/.resolved: deploy/pom.xml deploy/redis-sink/pom.xml $(shell find deploy/redis-sink/src -type f) $(STAMP)
	$(VENV)/bin/streamsuite jars
	@touch $@

# `go install tool` builds the tool directive of deploy/tools/go.mod (Go 1.24+), every module
# checked against go.sum. (`go install <module>@<version>` would also read the proxy's version
# list of the module for its deprecation check, and the proxy here refuses that list.)
$(PUSHGATEWAY): deploy/tools/go.mod deploy/tools/go.sum
	@command -v go >/dev/null || { echo "Go (1.24 or newer) is needed to build the Pushgateway; install it and rerun make setup"; exit 1; }
	cd deploy/tools && GOBIN=$(CURDIR)/$(TOOLS_BIN) go install tool
	@touch $@

setup: $(STAMP) .jars/.resolved $(PUSHGATEWAY)
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
	rm -rf .run .jars .tools
