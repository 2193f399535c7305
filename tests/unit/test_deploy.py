"""The deployment files agree with the CRD, with the image, with the pins and with the code.

No JVM, no network, no cluster. The Kubernetes manifests are rendered by a minimal,
pure-Python equivalent of the kustomize features they use (resources, configMapGenerator,
merge patches with a target, namespace); where `kubectl` is on PATH its built-in kustomize
renders them too and must give the same objects. Each FlinkDeployment is then validated
against the Flink Kubernetes Operator CRD (shared/k8s-crds) with unknown fields rejected, as
`kubectl apply --validate=strict` would.

jobs/runtime.py writes parallelism, checkpoint directory and interval, state backend, restart
strategy and S3 settings into each job's own Flink configuration, where they override the
cluster's flinkConfiguration. So the manifests set both, and the tests load the job config the
pods will see (ConfigMap + job arguments, through jobs.config.load) and compare.
"""
from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest
import yaml

from jobs.config import defaults, load
from jobs.topology import CHECKPOINT_BUCKET, JOBS
from streamsuite.preflight import SUPPORTED_PYTHON
from streamsuite.versions import pinned_versions

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
OVERLAYS = ("local", "production")
CRDS = ROOT.parent / "shared" / "k8s-crds"
FLINKDEPLOYMENT_CRD = CRDS / "flinkdeployments.flink.apache.org-v1.yml"
APP_DIR = "/opt/streamsuite"
SECRET_NAME = "streamsuite-credentials"

# Keys that name a credential; a literal value under such a key (or env var name) is a leak.
SENSITIVE = re.compile(r"(password|passwd|secret|token|access[-_.]?key|credential|jaas)", re.I)
PROM_PREFIX = "flink_taskmanager_job_task_operator_streamsuite_"
# Flink's own metrics the dashboard and the rules use, as PrometheusReporter names them
# (flink_<logical scope>_<name>): job metrics of the JobManager, the Kafka source's standard
# pendingRecords gauge and the Kafka consumer's metrics under KafkaSourceReader.KafkaConsumer.
FLINK_METRICS = {
    "flink_jobmanager_job_lastCheckpointDuration",
    "flink_jobmanager_job_numberOfFailedCheckpoints",
    "flink_jobmanager_job_numberOfCompletedCheckpoints",
    "flink_jobmanager_job_numRestarts",
    "flink_taskmanager_job_task_operator_pendingRecords",
    "flink_taskmanager_job_task_operator_KafkaSourceReader_KafkaConsumer_records_lag_max",
}
# Placeholders for what the Secret provides, so the job config can be loaded as in the pod.
SECRET_ENV = {
    "STREAMSUITE_S3__ACCESS_KEY": "placeholder",
    "STREAMSUITE_S3__SECRET_KEY": "placeholder",
    "STREAMSUITE_REDIS__URL": "redis://redis:6379/0",
}


# ---- a minimal kustomize ----------------------------------------------------------------------

SUPPORTED_KUSTOMIZATION_KEYS = {"apiVersion", "kind", "resources", "patches", "configMapGenerator",
                                "generatorOptions", "namespace"}


def merge_patch(target, patch):
    """What kustomize does with a strategic-merge patch on a custom resource (no schema, so no
    merge keys): maps merge recursively, lists and scalars are replaced, null deletes."""
    if not isinstance(target, dict) or not isinstance(patch, dict):
        return copy.deepcopy(patch)
    merged = dict(target)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = merge_patch(target.get(key), value)
    return merged


def selected(resource: dict, target: dict) -> bool:
    group = resource["apiVersion"].split("/")[0] if "/" in resource["apiVersion"] else ""
    return (target.get("kind", resource["kind"]) == resource["kind"]
            and target.get("group", group) == group
            and re.fullmatch(target.get("name", ".*"), resource["metadata"]["name"]) is not None)


def render(folder: Path) -> list[dict]:
    kustomization = yaml.safe_load((folder / "kustomization.yaml").read_text())
    unsupported = set(kustomization) - SUPPORTED_KUSTOMIZATION_KEYS
    assert not unsupported, f"{folder}: {unsupported} is not handled by the test's renderer; extend render()"
    resources: list[dict] = []
    for entry in kustomization.get("resources", []):
        path = folder / entry
        if path.is_dir():
            resources += render(path)
        else:
            resources += [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    if kustomization.get("configMapGenerator"):
        assert kustomization.get("generatorOptions", {}).get("disableNameSuffixHash") is True, \
            f"{folder}: generated ConfigMaps are referenced by fixed name from custom resources"
    for generator in kustomization.get("configMapGenerator", []):
        assert set(generator) <= {"name", "behavior", "literals"}, generator
        data = dict(literal.split("=", 1) for literal in generator.get("literals", []))
        behavior = generator.get("behavior", "create")
        existing = [r for r in resources if r["kind"] == "ConfigMap" and r["metadata"]["name"] == generator["name"]]
        if behavior == "create":
            assert not existing, f"ConfigMap {generator['name']} generated twice"
            resources.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": generator["name"]},
                              "data": data})
        else:
            assert len(existing) == 1, f"{behavior} of a ConfigMap {generator['name']} that the base lacks"
            existing[0]["data"] = {**existing[0]["data"], **data} if behavior == "merge" else data
    for entry in kustomization.get("patches", []):
        assert set(entry) <= {"path", "target"}, entry
        patch = yaml.safe_load((folder / entry["path"]).read_text())
        target = entry.get("target") or {"kind": patch["kind"], "name": patch["metadata"]["name"]}
        body = {k: v for k, v in patch.items() if k not in ("apiVersion", "kind")}
        if entry.get("target"):
            body["metadata"] = {k: v for k, v in body.get("metadata", {}).items() if k != "name"}
        hits = [i for i, r in enumerate(resources) if selected(r, target)]
        assert hits, f"{folder / entry['path']} selects nothing"
        for i in hits:
            resources[i] = merge_patch(resources[i], body)
    if "namespace" in kustomization:
        for resource in resources:
            resource["metadata"]["namespace"] = kustomization["namespace"]
    return resources


def by_kind(resources: list[dict], kind: str) -> list[dict]:
    return [r for r in resources if r["kind"] == kind]


def keyed(resources: list[dict]) -> dict:
    return {(r["kind"], r["metadata"]["name"]): r for r in resources}


@pytest.fixture(scope="module")
def base() -> list[dict]:
    return render(K8S / "base")


@pytest.fixture(scope="module")
def overlays() -> dict[str, list[dict]]:
    return {name: render(K8S / "overlays" / name) for name in OVERLAYS}


# ---- the CRD schema ---------------------------------------------------------------------------

def strict_schema(node, root: bool = False):
    """The CRD's openAPIV3Schema as JSON Schema: x-kubernetes-* extensions dropped, objects with
    declared properties closed to unknown fields (unless they preserve unknown fields), and the
    implicit apiVersion/kind/metadata of the root added."""
    if isinstance(node, list):
        return [strict_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {k: strict_schema(v) for k, v in node.items() if not k.startswith("x-kubernetes-")}
    if node.get("x-kubernetes-preserve-unknown-fields"):
        out.pop("additionalProperties", None)
    elif "properties" in out and "additionalProperties" not in out:
        out["additionalProperties"] = False
    if root:
        out["properties"] = {
            "apiVersion": {"type": "string", "enum": ["flink.apache.org/v1beta1"]},
            "kind": {"type": "string", "enum": ["FlinkDeployment"]},
            "metadata": {"type": "object", "required": ["name"],
                         "properties": {"name": {"type": "string"}, "namespace": {"type": "string"},
                                        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                                        "annotations": {"type": "object",
                                                        "additionalProperties": {"type": "string"}}}},
            **out.get("properties", {}),
        }
        out["required"] = ["apiVersion", "kind", "metadata", "spec"]
    return out


@pytest.fixture(scope="module")
def crd_validator():
    if not FLINKDEPLOYMENT_CRD.exists():
        pytest.skip(f"the operator CRDs are not beside the checkout ({CRDS} is missing)")
    # The C loader when PyYAML has it: the CRD is 11,000 lines.
    crd = yaml.load(FLINKDEPLOYMENT_CRD.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    version = next(v for v in crd["spec"]["versions"] if v.get("storage"))
    assert version["name"] == "v1beta1"
    schema = strict_schema(version["schema"]["openAPIV3Schema"], root=True)
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def schema_errors(validator, resource: dict) -> list[str]:
    return [f"{resource['metadata']['name']}: {'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
            for e in validator.iter_errors(resource)]


def test_strict_schema_rejects_a_misspelt_field(crd_validator, base):
    deployment = copy.deepcopy(by_kind(base, "FlinkDeployment")[0])
    deployment["spec"]["job"]["upgradMode"] = "savepoint"
    deployment["spec"]["flinkVersion"] = "v9_9"
    errors = schema_errors(crd_validator, deployment)
    assert any("upgradMode" in e for e in errors) and any("v9_9" in e for e in errors), errors


def test_base_flinkdeployments_match_the_crd(crd_validator, base):
    deployments = by_kind(base, "FlinkDeployment")
    assert {d["metadata"]["name"] for d in deployments} == {f"streamsuite-{job}" for job in JOBS}
    for deployment in deployments:
        assert schema_errors(crd_validator, deployment) == []


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_flinkdeployments_match_the_crd(crd_validator, overlays, overlay):
    deployments = by_kind(overlays[overlay], "FlinkDeployment")
    assert len(deployments) == len(JOBS)
    for deployment in deployments:
        assert schema_errors(crd_validator, deployment) == []


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_renderer_agrees_with_kubectl_kustomize(overlays, overlay):
    kubectl = shutil.which("kubectl")
    if not kubectl:
        pytest.skip("kubectl is not installed; the pure-Python rendering is checked on its own")
    result = subprocess.run([kubectl, "kustomize", str(K8S / "overlays" / overlay)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    theirs = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    assert keyed(theirs) == keyed(overlays[overlay])


# ---- jobs, image and pins ---------------------------------------------------------------------

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
    """The --set overrides of the job's command line (jobs/runtime.py run_job); nothing unknown."""
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


def test_every_job_script_is_in_the_repo_where_the_image_copies_it(base):
    copies = dockerfile_copies()
    jobs_seen = set()
    for deployment in by_kind(base, "FlinkDeployment"):
        options, _ = job_args(deployment)
        script = options["-py"]
        assert script.startswith(APP_DIR + "/"), script
        destination = next((d for d in copies if script.startswith(d + "/")), None)
        assert destination, f"{script}: no COPY in deploy/Dockerfile puts a folder there"
        source = ROOT / copies[destination] / script[len(destination) + 1:]
        assert source.is_file(), f"{script} is copied from {source}, which does not exist"
        job = re.search(r'run_job\("(\w+)"', source.read_text())
        assert job, f"{source} does not call runtime.run_job"
        assert deployment["metadata"]["name"] == f"streamsuite-{job.group(1)}"
        jobs_seen.add(job.group(1))
    assert jobs_seen == set(JOBS)


def test_python_driver_jar_and_flink_version_are_the_pinned_ones(base):
    pins = pinned_versions()
    major, minor = pins.flink.split(".")[:2]
    for deployment in by_kind(base, "FlinkDeployment"):
        spec = deployment["spec"]
        assert spec["job"]["jarURI"] == f"local:///opt/flink/opt/flink-python-{pins.flink}.jar"
        assert spec["job"]["entryClass"] == "org.apache.flink.client.python.PythonDriver"
        assert spec["flinkVersion"] == f"v{major}_{minor}"


def test_dockerfile_uses_the_pinned_flink_the_test_requirements_and_the_pom():
    pins = pinned_versions()
    text = dockerfile()
    base_image = re.search(r"^ARG FLINK_IMAGE=(\S+)", text, re.M).group(1)
    assert base_image.startswith(f"flink:{pins.flink}-") and "java17" in base_image, base_image
    # The same requirements.txt as the tests, and the package itself without re-resolving.
    assert re.search(r"^COPY requirements\.txt (\S+)$", text, re.M).group(1) == f"{APP_DIR}/requirements.txt"
    assert f"pip install --no-cache-dir --disable-pip-version-check -r {APP_DIR}/requirements.txt" in text
    assert f"--no-deps {APP_DIR}" in text
    # The same pom, resolved by Maven in a build stage, into the layout jobs/runtime.py reads.
    assert re.search(r"^FROM maven:3-eclipse-temurin-17 AS jars$", text, re.M)
    assert "COPY deploy/pom.xml deploy/pom.xml" in text
    assert "mvn -f deploy/pom.xml -B -q package -Djars.dir=/jars" in text
    env = dockerfile_env()
    assert f"COPY --from=jars /jars/flink/lib/ {env['STREAMSUITE_JARS_DIR']}/flink/lib/" in text
    assert "COPY --from=jars /jars/flink/plugins/s3-fs-hadoop/ /opt/flink/plugins/s3-fs-hadoop/" in text
    assert env["STREAMSUITE_HOME"] == APP_DIR and f"COPY deploy/pom.xml {APP_DIR}/deploy/pom.xml" in text
    # Python the project supports, run as the base image's non-root user.
    python = re.search(r"^ARG PYTHON_VERSION=(\d+)\.(\d+)\.\d+$", text, re.M)
    assert (int(python.group(1)), int(python.group(2))) in SUPPORTED_PYTHON
    assert re.findall(r"^USER (\S+)$", text, re.M)[-1] == "flink"
    for folder in ("jobs", "udfs", "proto", "streamsuite"):
        assert dockerfile_copies()[f"{APP_DIR}/{folder}"] == f"{folder}/"


def test_one_python_interpreter_everywhere(base):
    python = dockerfile_env()["PYFLINK_CLIENT_EXECUTABLE"]
    for deployment in by_kind(base, "FlinkDeployment"):
        options, _ = job_args(deployment)
        conf = deployment["spec"]["flinkConfiguration"]
        assert options["-pyclientexec"] == conf["python.executable"] == conf["python.client.executable"] == python


# ---- state, HA, metrics, security -------------------------------------------------------------

@pytest.mark.parametrize("overlay", OVERLAYS)
def test_state_lives_on_s3_per_job_and_upgrades_use_savepoints(overlays, overlay):
    dirs = set()
    for deployment in by_kind(overlays[overlay], "FlinkDeployment"):
        job = deployment["metadata"]["name"].removeprefix("streamsuite-")
        conf = deployment["spec"]["flinkConfiguration"]
        for key in ("execution.checkpointing.dir", "execution.checkpointing.savepoint-dir",
                    "high-availability.storageDir"):
            assert conf[key].startswith(f"s3a://{CHECKPOINT_BUCKET}/") and conf[key].endswith(f"/{job}"), conf[key]
            dirs.add(conf[key])
        assert conf["high-availability.type"] == "kubernetes"
        assert conf["execution.checkpointing.mode"] == "EXACTLY_ONCE"
        assert deployment["spec"]["job"]["upgradeMode"] == "savepoint"
        assert "state.checkpoints.dir" not in conf and "state.savepoints.dir" not in conf, "Flink 1.x keys"
    assert len(dirs) == 3 * len(JOBS)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_prometheus_reporter_and_scrape_port(overlays, overlay):
    for deployment in by_kind(overlays[overlay], "FlinkDeployment"):
        spec = deployment["spec"]
        conf = spec["flinkConfiguration"]
        assert conf["metrics.reporter.prom.factory.class"] == \
            "org.apache.flink.metrics.prometheus.PrometheusReporterFactory"
        port = conf["metrics.reporter.prom.port"]
        assert spec["podTemplate"]["metadata"]["annotations"]["prometheus.io/port"] == port
        container = spec["podTemplate"]["spec"]["containers"][0]
        assert {"name": "metrics", "containerPort": int(port), "protocol": "TCP"} in container["ports"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_pods_run_restricted(overlays, overlay):
    for deployment in by_kind(overlays[overlay], "FlinkDeployment"):
        pod = deployment["spec"]["podTemplate"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] == 9999
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        (container,) = pod["containers"]
        assert container["name"] == "flink-main-container"
        security = container["securityContext"]
        assert security["allowPrivilegeEscalation"] is False
        assert security["readOnlyRootFilesystem"] is True
        assert security["capabilities"]["drop"] == ["ALL"]
        volumes = {v["name"]: v for v in pod["volumes"]}
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        for path in ("/tmp", "/opt/flink/log"):
            assert "emptyDir" in volumes[mounts[path]], f"{path} must be writable"
        assert dockerfile_env()["STREAMSUITE_RUN_DIR"].startswith("/tmp/")


def is_reference(value) -> bool:
    """`env:NAME` / `file:/path`: a secret the TaskManager reads (jobs/secrets.py), not its value."""
    return isinstance(value, str) and value.startswith(("env:", "file:/"))


def literal_secrets(node, where: str) -> list[str]:
    found = []
    if isinstance(node, dict):
        if "name" in node and ("value" in node) and SENSITIVE.search(str(node["name"])) and not is_reference(
                node["value"]):
            found.append(f"{where}: env {node['name']} has a literal value")
        for key, value in node.items():
            if SENSITIVE.search(str(key)) and isinstance(value, (str, int, float)) and str(value).strip():
                found.append(f"{where}: {key} has a literal value")
            found += literal_secrets(value, f"{where}.{key}")
    elif isinstance(node, list):
        for i, item in enumerate(node):
            if isinstance(item, str) and "=" in item and SENSITIVE.search(item.split("=", 1)[0]):
                found.append(f"{where}[{i}]: {item.split('=', 1)[0]} has a literal value")
            found += literal_secrets(item, f"{where}[{i}]")
    return found


def test_no_secret_values_in_the_manifests(base, overlays):
    for path in sorted(K8S.rglob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            assert literal_secrets(doc, str(path.relative_to(ROOT))) == []
    for name, resources in [("base", base), *overlays.items()]:
        assert by_kind(resources, "Secret") == [], f"{name}: Secrets are created outside the repo"
        for deployment in by_kind(resources, "FlinkDeployment"):
            env = deployment["spec"]["podTemplate"]["spec"]["containers"][0]["env"]
            for var in env:
                if is_reference(var.get("value")):
                    continue
                if SENSITIVE.search(var["name"]) or var["name"].endswith("REDIS__URL"):
                    assert "value" not in var and var["valueFrom"]["secretKeyRef"]["name"] == SECRET_NAME, var
            names = {var["name"] for var in env}
            assert {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", *SECRET_ENV} <= names
            conf = deployment["spec"]["flinkConfiguration"]
            assert not [key for key in conf if SENSITIVE.search(key)], "credentials in flinkConfiguration"


# ---- what the job itself will run with --------------------------------------------------------

def flink_ms(value: str) -> int:
    number, unit = re.fullmatch(r"(\d+)\s*(ms|s|min)", value.strip()).groups()
    return int(number) * {"ms": 1, "s": 1000, "min": 60_000}[unit]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_job_config_in_the_pod_agrees_with_the_cluster_config(overlays, overlay):
    resources = overlays[overlay]
    (configmap,) = by_kind(resources, "ConfigMap")
    for deployment in by_kind(resources, "FlinkDeployment"):
        spec = deployment["spec"]
        container = spec["podTemplate"]["spec"]["containers"][0]
        assert container["envFrom"] == [{"configMapRef": {"name": configmap["metadata"]["name"]}}]
        job = deployment["metadata"]["name"].removeprefix("streamsuite-")
        _, arguments = job_args(deployment)
        config = load(defaults(job, None), env={**configmap["data"], **SECRET_ENV},
                      overrides=job_overrides(arguments))
        conf = spec["flinkConfiguration"]
        assert config.kafka.bootstrap_servers != "127.0.0.1:9092", "the overlay must name the Kafka brokers"
        assert config.runtime.parallelism == spec["job"]["parallelism"]
        assert config.checkpoint_directory == conf["execution.checkpointing.dir"]
        assert config.checkpoint.interval_ms == flink_ms(conf["execution.checkpointing.interval"])
        assert config.checkpoint.state_backend == conf["state.backend.type"]
        assert conf["execution.checkpointing.incremental"] == str(config.checkpoint.state_backend == "rocksdb").lower()
        for key, value in config.runtime.restart_strategy().items():
            timed = key.endswith(("initial-backoff", "max-backoff"))
            assert (flink_ms(conf[key]) == flink_ms(value)) if timed else conf[key] == value, key
        assert conf["restart-strategy.type"] == "exponential-delay"
        assert config.runtime.python_mode == conf["python.execution-mode"]
        assert config.runtime.buffer_timeout_ms == flink_ms(conf["execution.buffer-timeout.interval"])
        assert config.s3.endpoint == conf["s3.endpoint"]
        assert str(config.s3.path_style_access).lower() == conf["s3.path.style.access"]


def test_overlays_differ_where_they_should(overlays):
    local = by_kind(overlays["local"], "FlinkDeployment")
    production = by_kind(overlays["production"], "FlinkDeployment")
    for deployment in local:
        assert deployment["spec"]["job"]["parallelism"] == 1
        assert deployment["spec"]["flinkConfiguration"]["s3.path.style.access"] == "true"
    for deployment in production:
        spec = deployment["spec"]
        assert spec["flinkConfiguration"]["state.backend.type"] == "rocksdb"
        assert spec["jobManager"]["replicas"] >= 2 and spec["flinkConfiguration"]["high-availability.type"]
        assert spec["flinkConfiguration"]["s3.endpoint"].startswith("https://")


# ---- dashboards and alert rules ---------------------------------------------------------------

def our_metric_names() -> set[str]:
    names = set()
    for path in (ROOT / "jobs").glob("*.py"):
        names |= set(re.findall(r"\.(?:counter|distribution|gauge|meter)\(\s*\"(\w+)\"", path.read_text()))
    for path in (DEPLOY / "redis-sink" / "src" / "main").rglob("*.java"):
        names |= set(re.findall(r"\.(?:counter|histogram|gauge|meter)\(\s*\"(\w+)\"", path.read_text()))
    return names


def check_metric_names(text: str, where: str) -> set[str]:
    referenced = set(re.findall(r"\bflink_[A-Za-z0-9_:]+", text))
    ours = our_metric_names()
    for name in referenced:
        if name.startswith(PROM_PREFIX):
            assert name[len(PROM_PREFIX):] in ours, f"{where}: {name} is not a metric the jobs register"
        else:
            assert name in FLINK_METRICS, f"{where}: {name} is not a known Flink metric name"
    return referenced


def test_grafana_dashboard_shows_the_job_metrics():
    path = DEPLOY / "monitoring" / "grafana-dashboard.json"
    dashboard = json.loads(path.read_text())
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])
    exprs = [t["expr"] for p in panels for t in p["targets"]]
    assert all(p["targets"] and "gridPos" in p for p in panels)
    referenced = check_metric_names("\n".join(exprs), path.name)
    for name in ("events_in", "events_dead_lettered", "alerts", "event_to_hot_ms"):
        assert PROM_PREFIX + name in referenced
    for name in ("lastCheckpointDuration", "numRestarts", "pendingRecords", "records_lag_max"):
        assert any(n.endswith(name) for n in referenced), name
    variables = {v["name"] for v in dashboard["templating"]["list"]}
    assert {"datasource", "job"} <= variables
    assert all('job_name=~"$job"' in e for e in exprs)


def test_prometheus_rules_alert_on_checkpoints_lag_dead_letters_and_restarts():
    path = DEPLOY / "monitoring" / "prometheus-rules.yaml"
    rules = yaml.safe_load(path.read_text())
    alerts = [rule for group in rules["groups"] for rule in group["rules"]]
    for rule in alerts:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule
        assert rule["labels"]["severity"] in ("warning", "critical")
        assert rule["annotations"]["summary"]
        if "for" in rule:
            assert re.fullmatch(r"\d+[smh]", rule["for"])
    referenced = check_metric_names("\n".join(rule["expr"] for rule in alerts), path.name)
    for name in ("flink_jobmanager_job_numberOfFailedCheckpoints", "flink_taskmanager_job_task_operator_pendingRecords",
                 PROM_PREFIX + "events_dead_lettered", "flink_jobmanager_job_numRestarts"):
        assert name in referenced
    promtool = shutil.which("promtool")
    if promtool:
        result = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr
