"""Monitoring: the Grafana dashboard and the alert rules, checked by promtool and against the metrics the jobs register."""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

from jobs.specs import JOBS
from tests.deploy_helpers import DEPLOY, MONITORING, ROOT, by_kind, run, tool

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
