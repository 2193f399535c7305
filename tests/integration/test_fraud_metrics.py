"""The job's own metrics are registered in Flink's metric system (read through the REST API)."""
import ipaddress
import subprocess
import time
import urllib.parse
import uuid

import pytest

from streamsuite.cluster import get_json
from streamsuite.bench.rest import free_port
from streamsuite.generator import generate
from streamsuite.localrun import job_command
from tests.kafka_helpers import fresh_topics
from tests.net_helpers import listening, loopback, process_tree

pytestmark = [pytest.mark.integration, pytest.mark.jvm]

EXPECTED = {
    # numRecordsIn is Flink's own count of the records into the operator, the dashboard's "events in".
    "decode+validate": {"numRecordsIn", "events_dead_lettered"},
    "score": {"alerts"},
    # The JVM hot sink: counters, and histograms (REST shows their quantiles as <name>_median, <name>_p99, ...).
    "redis-hot__Writer": {"hot_records_written", "hot_records_fenced", "redis_write_retries", "hot_batch_size_median",
                          "redis_write_ms_p99", "event_to_hot_ms_median", "event_to_hot_ms_p99"},
}



def scrape(base: str) -> dict[str, float]:
    """Every `streamsuite` operator metric of the running job and the decode operator's records in:
    'operator.metric' -> value."""
    jobs = get_json(f"{base}/jobs")["jobs"]
    if not jobs:
        return {}
    job = get_json(f"{base}/jobs/{jobs[0]['id']}")
    found = {}
    for vertex in job["vertices"]:
        url = f"{base}/jobs/{job['jid']}/vertices/{vertex['id']}/metrics"
        ids = [m["id"] for m in get_json(url)
               if ".streamsuite." in m["id"] or m["id"].endswith("+validate.numRecordsIn")]
        if ids:
            for metric in get_json(f"{url}?get={urllib.parse.quote(','.join(ids))}"):
                _, operator, name = metric["id"].split(".", 2)
                name = name.removeprefix("streamsuite.")
                found[f"{operator}.{name}"] = float(metric["value"])
    return found


@pytest.mark.timeout(600)
def test_job_metrics_are_exposed(stack):
    settings = stack.settings
    source, dead = fresh_topics(settings.kafka_bootstrap, "transactions", "deadletter")
    stream = generate("fraud", count=8_000, keys=500, seed=4, poison=10)
    stream.publish(settings.kafka_bootstrap, source)
    port = free_port()
    # Unbounded, so the operators (and their metrics) stay up until every record has been counted.
    command = job_command("jobs.fraud_scoring", settings, input_topic=source, dead_letter_topic=dead,
                          run_id=uuid.uuid4().hex[:8], bounded=False, extra=["--set", f"flink.rest.port={port}",
                                                              "--set", "runtime.restart_attempts=0"])
    job = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen: dict[str, float] = {}
    wanted = {f"{op}.{name}" for op, names in EXPECTED.items() for name in names}
    deadline = time.monotonic() + 400
    try:
        while job.poll() is None and time.monotonic() < deadline:
            try:
                seen.update(scrape(f"http://127.0.0.1:{port}"))
            except (OSError, ValueError, KeyError):
                pass
            # Flink's numRecordsIn is current at once, our counters a bundle later: wait for the
            # hot writes of every transaction and alert, not just for the input to be read.
            if (wanted <= seen.keys() and seen["decode+validate.numRecordsIn"] == 8_010
                    and seen["redis-hot__Writer.hot_records_written"] == 8_000 + seen["score.alerts"]):
                break
            time.sleep(0.5)
        assert job.poll() is None, job.communicate()[1][-2000:]
        ports = listening(process_tree(job.pid))
    finally:
        job.terminate()
        job.communicate(timeout=60)
    assert wanted <= seen.keys(), f"missing: {wanted - seen.keys()}"
    assert seen["decode+validate.numRecordsIn"] == 8_010
    assert seen["decode+validate.events_dead_lettered"] == 10
    # One card record per transaction plus one per alert, each newer than what Redis held.
    assert seen["redis-hot__Writer.hot_records_written"] == 8_000 + seen["score.alerts"]
    assert seen["redis-hot__Writer.hot_records_fenced"] == 0
    assert seen["redis-hot__Writer.hot_batch_size_median"] >= 1
    assert ports and all(loopback(ipaddress.ip_address(address)) for address, _ in ports), ports
