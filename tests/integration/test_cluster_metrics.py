"""The local cluster's metrics reach Prometheus: Flink pushes them to a real Pushgateway on 127.0.0.1.

The fraud job runs on the standalone cluster (submitted with `flink run`, unbounded); the
test scrapes the Pushgateway's `/metrics` as Prometheus would and finds the job's own
counters, under the names the Grafana dashboard and the alert rules use, with values > 0.
While the job runs it also checks that every port the cluster's processes listen on (the
Pushgateway, the JobManager, the TaskManager and their children) is bound to loopback.
"""
import ipaddress
import re
import time
import urllib.request
import uuid

import pytest

from streamsuite.cluster import (FlinkCluster, get_json, pushgateway_url, python_job_args, rest_url,
                                 run_flink)
from streamsuite.generator import generate
from streamsuite.localrun import job_args as local_job_args
from tests.kafka_helpers import fresh_topics
from tests.net_helpers import listening, loopback, process_group

pytestmark = [pytest.mark.integration, pytest.mark.jvm]

METRIC_PREFIX = "flink_taskmanager_job_task_operator_streamsuite_"
WANTED = ("events_dead_lettered", "hot_records_written")
# Flink's own count of the records into the decode operator, the dashboard's "events in".
RECORDS_IN = "flink_taskmanager_job_task_operator_numRecordsIn"
DECODE_OPERATOR = "decode_validate"
TERMINAL = {"FINISHED", "CANCELED", "FAILED"}
SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$")
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')




def running_jobs(cluster: FlinkCluster) -> list[str]:
    try:
        jobs = get_json(f"{rest_url(cluster.settings)}/jobs/overview")["jobs"]
    except OSError:
        return []
    return [f"{job['jid']} ({job['name']}, {job['state']})" for job in jobs if job["state"] not in TERMINAL]


@pytest.fixture(scope="module")
def pushing_cluster(stack):
    """The cluster with its Pushgateway reporter; one started before the reporter existed is restarted once idle."""
    cluster = FlinkCluster(stack.settings, say=lambda line: print(f"[cluster] {line}", flush=True))
    was_running = any(state.startswith("running") for state in cluster.status().values())
    if was_running and cluster.stale_configuration():
        busy = running_jobs(cluster)
        if busy:
            pytest.fail(f"the running Flink cluster has no Pushgateway reporter and runs jobs {busy}; "
                        "restart it (`streamsuite cluster down` and `up`) once they are done")
        cluster.down()
    cluster.up()
    assert cluster.stale_configuration() is None
    yield cluster
    if not was_running:
        cluster.down()


def scrape(url: str) -> list[tuple[str, dict[str, str], float]]:
    """The Pushgateway's /metrics in the Prometheus text format: (name, labels, value) per sample."""
    with urllib.request.urlopen(f"{url}/metrics", timeout=5) as response:
        text = response.read().decode()
    samples = []
    for line in text.splitlines():
        match = SAMPLE.match(line)
        if match and not line.startswith("#"):
            name, labels, value = match.groups()
            samples.append((name, dict(LABEL.findall(labels or "")), float(value)))
    return samples


def job_metrics(url: str, job_id: str) -> dict[str, float]:
    """Our operators' counters of one job (summed over operators and subtasks), by metric name, and
    the records into each operator as `numRecordsIn:<operator_name label>`."""
    found: dict[str, float] = {}
    for name, labels, value in scrape(url):
        if labels.get("job_id") != job_id:
            continue
        if name.startswith(METRIC_PREFIX):
            short = name[len(METRIC_PREFIX):]
        elif name == RECORDS_IN:
            short = f"numRecordsIn:{labels.get('operator_name')}"
        else:
            continue
        found[short] = found.get(short, 0.0) + value
    return found


def listening_ports(cluster: FlinkCluster) -> dict[str, list[tuple[str, int]]]:
    """For each service of the cluster: (address, port) of every socket its processes listen on."""
    return {service.name: listening(process_group(pid := int(service.pid_file.read_text().strip())) or [pid])
            for service in cluster.services}


@pytest.mark.timeout(600)
def test_job_metrics_reach_the_pushgateway_and_every_port_is_loopback(stack, pushing_cluster):
    settings = stack.settings
    run = uuid.uuid4().hex[:8]
    source, dead = fresh_topics(settings.kafka_bootstrap, "transactions", "deadletter")
    job_args = local_job_args(settings, input_topic=source, dead_letter_topic=dead, run_id=run) + [
        "--set", "checkpoint.interval_ms=1000"]
    generate("fraud", count=2_000, keys=50, seed=11, poison=5).publish(settings.kafka_bootstrap, source)
    submitted = run_flink(*python_job_args("jobs/fraud_scoring.py", *job_args))
    job_id = re.search(r"JobID ([0-9a-f]{32})", submitted).group(1)
    url = pushgateway_url(settings)
    seen: dict[str, float] = {}
    try:
        # The reporter pushes every 5 s; Python operators hand their counters over per bundle.
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            seen = job_metrics(url, job_id)
            if all(seen.get(name, 0) > 0 for name in WANTED) and seen.get(f"numRecordsIn:{DECODE_OPERATOR}", 0) >= 2_005:
                break
            time.sleep(2)
        ports = listening_ports(pushing_cluster)
    finally:
        run_flink("cancel", job_id)
    missing = [f"{METRIC_PREFIX}{name}" for name in WANTED if seen.get(name, 0) <= 0]
    assert not missing, f"not in {url}/metrics with a value > 0 for job {job_id} after 240 s: {missing}; seen {seen}"
    # The dashboard's throughput and the dead-letter alert's ratio select exactly this series.
    assert seen.get(f"numRecordsIn:{DECODE_OPERATOR}") == 2_005, seen
    assert seen["events_dead_lettered"] == 5, seen

    expected = {("pushgateway", settings.flink_pushgateway_port), ("jobmanager", settings.flink_rest_port),
                ("jobmanager", settings.flink_rpc_port)}
    for name, port in expected:
        assert port in {p for _, p in ports[name]}, f"{name} is not listening on {port}: {ports[name]}"
    assert ports["taskmanager"], "the TaskManager listens on no port: the check found none of its sockets"
    open_wide = {name: [(a, p) for a, p in listening if not loopback(ipaddress.ip_address(a))]
                 for name, listening in ports.items()}
    assert not any(open_wide.values()), f"listening beyond loopback: {open_wide} (all: {ports})"
