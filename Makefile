# The two commands a new user needs: `make demo` and `make test`. Both set up what a
# fresh machine lacks (venv, pinned packages, JVM jars, Go tools, redis-server) and are idempotent.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
STAMP := $(VENV)/.installed
# Go tools built from the Go module proxy at the versions pinned (with checksums) in go.mod files:
# the Prometheus Pushgateway the local Flink cluster pushes metrics to (deploy/tools/go.mod),
# promtool, which checks and unit-tests the alert rules (deploy/tools/promtool/go.mod), and the
# manifest validators kustomize and kubeconform (deploy/tools/validators/go.mod).
TOOLS_BIN := .tools/bin
PUSHGATEWAY := $(TOOLS_BIN)/pushgateway
PROMTOOL := $(TOOLS_BIN)/promtool
KUSTOMIZE := $(TOOLS_BIN)/kustomize
KUBECONFORM := $(TOOLS_BIN)/kubeconform
# JSON schemas kubeconform validates the custom resources against, converted from the CRDs of the
# Flink Kubernetes Operator (FLINK_OPERATOR_CRDS) and of the prometheus-operator release below,
# whose Go module carries its CRDs (version and go.sum checksum pinned here).
SCHEMAS := .tools/schemas
FLINK_OPERATOR_CRDS ?= deploy/tools/crds
PROMETHEUS_OPERATOR := github.com/prometheus-operator/prometheus-operator@v0.85.0
PROMETHEUS_OPERATOR_SUM := h1:M5xLCLEoaW2IJfnuCwFzzpL+jSVQu3KGT84Pye+fW8s=
GO_NEEDED = command -v go >/dev/null || { echo "Go (1.24 or newer) is needed to build $@; install it and rerun make setup"; exit 1; }

.PHONY: setup tools demo test test-all stack-up stack-down preflight clean

$(STAMP): requirements.txt requirements-dev.txt setup.cfg setup.py pyproject.toml
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

# `go install tool` builds the tool directives of a go.mod (Go 1.24+), every module checked
# against its go.sum. (`go install <module>@<version>` would also read the proxy's version
# list of the module for its deprecation check, and the proxy here refuses that list.)
$(PUSHGATEWAY): deploy/tools/go.mod deploy/tools/go.sum
	@$(GO_NEEDED)
	cd deploy/tools && GOBIN=$(CURDIR)/$(TOOLS_BIN) go install tool
	@touch $@

$(PROMTOOL): deploy/tools/promtool/go.mod deploy/tools/promtool/go.sum
	@$(GO_NEEDED)
	cd deploy/tools/promtool && GOBIN=$(CURDIR)/$(TOOLS_BIN) go install tool
	@touch $@

$(KUSTOMIZE) $(KUBECONFORM) &: deploy/tools/validators/go.mod deploy/tools/validators/go.sum
	@$(GO_NEEDED)
	cd deploy/tools/validators && GOBIN=$(CURDIR)/$(TOOLS_BIN) go install tool
	@touch $(KUSTOMIZE) $(KUBECONFORM)

# kubeconform's own CRD converter (scripts/openapi2jsonschema.py of the pinned kubeconform module)
# writes one strict schema per kind and version: <group>-<kind>-<version>.json.
$(SCHEMAS)/.converted: Makefile $(KUBECONFORM) $(STAMP) $(wildcard $(FLINK_OPERATOR_CRDS)/*.yml)
	@[ -d $(FLINK_OPERATOR_CRDS) ] || { echo "the Flink Kubernetes Operator CRDs are not in $(FLINK_OPERATOR_CRDS); set FLINK_OPERATOR_CRDS to their folder"; exit 1; }
	rm -rf $(SCHEMAS) && mkdir -p $(SCHEMAS)
	operator=$$(cd /tmp && go mod download -json $(PROMETHEUS_OPERATOR) | $(CURDIR)/$(PY) -c 'import json, sys; m = json.load(sys.stdin); assert m.get("Sum") == sys.argv[1], f"$(PROMETHEUS_OPERATOR): {m}"; print(m["Dir"])' '$(PROMETHEUS_OPERATOR_SUM)') && \
	kubeconform=$$(cd deploy/tools/validators && go list -m -f '{{.Dir}}' github.com/yannh/kubeconform) && \
	cd $(SCHEMAS) && FILENAME_FORMAT='{fullgroup}-{kind}-{version}' $(CURDIR)/$(PY) $$kubeconform/scripts/openapi2jsonschema.py \
		$(abspath $(FLINK_OPERATOR_CRDS))/flinkdeployments.flink.apache.org-v1.yml \
		$$operator/example/prometheus-operator-crd/monitoring.coreos.com_podmonitors.yaml \
		$$operator/example/prometheus-operator-crd/monitoring.coreos.com_prometheusrules.yaml >/dev/null
	@touch $@

tools: $(PUSHGATEWAY) $(PROMTOOL) $(KUSTOMIZE) $(KUBECONFORM) $(SCHEMAS)/.converted

setup: $(STAMP) .jars/.resolved tools
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
