"""The Kubernetes manifests, rendered by kustomize and checked with the real validators and against the code.

kustomize renders each overlay; kubeconform validates every custom resource it renders in strict
mode (unknown fields rejected, as `kubectl apply --validate=strict`) and kubernetes-validate every
core resource, also strictly; the rest checks what the jobs need from the manifests.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from jobs.config import defaults, load
from jobs.specs import CHECKPOINT_BUCKET, JOBS
from tests.deploy_helpers import (
    CORE_KINDS, CUSTOM_KINDS, K8S, NAMESPACE, OVERLAYS, ROOT, SECRET_NAME, by_kind, dockerfile_env, job_args,
    job_overrides, kubeconform, kubernetes_validate, render_text,
)

# Keys that name a credential; a literal value under such a key (or env var name) is a leak.
SENSITIVE = re.compile(r"(password|passwd|secret|token|access[-_.]?key|credential|jaas)", re.I)
# Placeholders for what the Secret provides, so the job config can be loaded as in the pod.
SECRET_ENV = {
    "STREAMSUITE_S3__ACCESS_KEY": "placeholder",
    "STREAMSUITE_S3__SECRET_KEY": "placeholder",
    "STREAMSUITE_REDIS__URL": "redis://redis:6379/0",
}




# ---- the validators -------------------------------------------------------------------------

@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_rendered_resource_validates_strictly(overlays, overlay):
    """kubeconform checks the custom resources against their CRDs, kubernetes-validate the core
    kinds against the Kubernetes API: every rendered resource passes exactly one of them."""
    verdicts = kubeconform(render_text(K8S / "overlays" / overlay))
    kinds = {v["kind"] for v in verdicts}
    assert kinds <= CUSTOM_KINDS | CORE_KINDS, f"no schema decision for {kinds - CUSTOM_KINDS - CORE_KINDS}"
    for verdict in verdicts:
        expected = "statusSkipped" if verdict["kind"] in CORE_KINDS else "statusValid"
        assert verdict["status"] == expected, verdict
    assert sum(v["kind"] == "FlinkDeployment" for v in verdicts) == len(JOBS)
    core = [r for r in overlays[overlay] if r["kind"] in CORE_KINDS]
    assert {r["kind"] for r in core} >= CORE_KINDS - {"CronJob"}, "the rules CronJob is production's only"
    assert {f"{r['kind']}/{r['metadata']['name']}": kubernetes_validate(r) for r in core} == \
        {f"{r['kind']}/{r['metadata']['name']}": None for r in core}


def test_kubernetes_validate_rejects_misspelt_fields_and_wrong_values_in_core_kinds(overlays):
    resources = overlays["production"]
    (binding,) = by_kind(resources, "RoleBinding")
    configmap = by_kind(resources, "ConfigMap")[0]
    misspelt = {**binding, "roleRefs": binding["roleRef"]}
    wrong = {**configmap, "data": {**configmap["data"], "PORT": 6379}}
    assert "'roleRefs' was unexpected" in kubernetes_validate(misspelt)
    assert "6379 is not of type 'string'" in kubernetes_validate(wrong)


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
            # (a boolean such as automountServiceAccountToken is a switch, never a secret)
            if SENSITIVE.search(str(key)) and isinstance(value, (str, int, float)) and not isinstance(value, bool) \
                    and str(value).strip():
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


# ---- dynamic fraud rules (components/fraud-rules) ---------------------------------------------

def test_production_runs_fraud_rules_with_a_horizon_cronjob_like_the_job(overlays):
    resources = overlays["production"]
    (cronjob,) = by_kind(resources, "CronJob")
    pod = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["command"][1:3] == ["-m", "jobs.rules_horizon"] and (ROOT / "jobs" / "rules_horizon.py").is_file()
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid" and pod["restartPolicy"] == "Never"
    ahead_s = float(container["command"][container["command"].index("--ahead") + 1])
    every_min = int(cronjob["spec"]["schedule"].split()[0].removeprefix("*/"))
    assert ahead_s >= 6 * every_min * 60, "the horizon must outlast a few missed runs"
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["automountServiceAccountToken"] is False
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    for deployment in by_kind(resources, "FlinkDeployment"):
        job_container = deployment["spec"]["podTemplate"]["spec"]["containers"][0]
        assert container["image"] == deployment["spec"]["image"]
        assert container["envFrom"] == job_container["envFrom"]
        kafka_env = [v for v in job_container["env"] if "KAFKA" in v["name"]]
        assert container["env"] == kafka_env, "the same Kafka credentials as the job"
        _, arguments = job_args(deployment)
        enabled = "rules.enabled=true" in job_overrides(arguments)
        assert enabled == (deployment["metadata"]["name"] == "streamsuite-fraud"), deployment["metadata"]["name"]
    assert not by_kind(overlays["local"], "CronJob")


def test_the_horizon_cronjob_reaches_the_jobs_kafka_with_its_config(overlays, monkeypatch):
    from jobs.kafka import librdkafka_properties

    resources = overlays["production"]
    (cronjob,) = by_kind(resources, "CronJob")
    (container,) = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    (configmap,) = [c for c in by_kind(resources, "ConfigMap")
                    if c["metadata"]["name"] == container["envFrom"][0]["configMapRef"]["name"]]
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", "placeholder")
    env = {**configmap["data"], **{v["name"]: v.get("value", "placeholder") for v in container["env"]}}
    config = load(defaults("fraud", None), env=env)
    props = librdkafka_properties(config)
    assert props["bootstrap.servers"] == configmap["data"]["STREAMSUITE_KAFKA__BOOTSTRAP_SERVERS"]
    assert (props["security.protocol"], props["sasl.mechanisms"], props["sasl.password"]) == (
        "SASL_SSL", "SCRAM-SHA-512", "placeholder")
    assert config.rules.topic == JOBS["fraud"].rules_topic

