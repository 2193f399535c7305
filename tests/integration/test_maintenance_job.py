"""The predictive maintenance job end to end against the real stack.

Some machines degrade to failure, some have faulty sensors, one goes silent; the window
features must equal the pure-Python reference exactly, and each condition must raise
the right alert (degradation before the failure time).
"""
import pytest
import redis

from streamsuite.generator import generate
from streamsuite_proto.v1.deadletter_pb2 import DeadLetter
from tests.cold_helpers import read_cold_table
from tests.jobrun import run_bounded
from tests.kafka_helpers import read_topic
from tests.oracles import maintenance_oracle
from udfs.maintenance import FEATURE_COLUMNS, Alert, LateReading, WindowFeatures

pytestmark = [pytest.mark.integration, pytest.mark.jvm]

POISON = 12


@pytest.fixture(scope="module")
def maintenance_run(stack):
    stream = generate("maintenance", count=40_000, keys=20, seed=1, poison=POISON)
    run = run_bounded(stack.settings, "jobs.predictive_maintenance", stream)
    outputs, poison = maintenance_oracle(stream.records)
    assert not [o for o in outputs if isinstance(o, LateReading)]
    labels = stream.truth["labels"]
    assert labels["degrading"] and labels["faulty"] and labels["silent"]
    client = redis.Redis.from_url(run.settings.redis_url, decode_responses=True)
    alerts = {alert_id: client.hgetall(f"{run.prefix}:alert:{alert_id}")
              for alert_id in client.zrange(f"{run.prefix}:alerts", 0, -1)}
    return {"settings": run.settings, "outputs": outputs, "poison": poison, "labels": labels, "dead": run.dead,
            "alerts": alerts, "s3_path": run.s3_path}


@pytest.mark.timeout(600)
def test_window_features_equal_the_reference_exactly(maintenance_run):
    names = [name for name, _ in FEATURE_COLUMNS]
    expected = sorted((w.row() for w in maintenance_run["outputs"] if isinstance(w, WindowFeatures)),
                      key=lambda r: (r[0], r[1]))
    rows = read_cold_table(maintenance_run["settings"], f"{maintenance_run['s3_path']}/features")
    seen = sorted((tuple(row[name] for name in names) for row in rows), key=lambda r: (r[0], r[1]))
    assert len(seen) == len(expected) > 0
    assert seen == expected


@pytest.mark.timeout(600)
def test_alerts_equal_the_reference(maintenance_run):
    expected = {o.alert_id for o in maintenance_run["outputs"] if isinstance(o, Alert)}
    assert set(maintenance_run["alerts"]) == expected


@pytest.mark.timeout(600)
def test_degrading_machines_are_alerted_before_failure(maintenance_run):
    for machine, plan in maintenance_run["labels"]["degrading"].items():
        health = [a for a in maintenance_run["alerts"].values() if a["machine_id"] == machine and a["kind"] == "health"]
        assert health, f"{machine} degraded to failure without a health alert"
        first = min(int(a["event_time_ms"]) for a in health)
        assert first < plan["failure_ms"], f"{machine}: alert {first} after failure {plan['failure_ms']}"


@pytest.mark.timeout(600)
def test_faulty_sensors_are_faults_not_degradation(maintenance_run):
    degrading = set(maintenance_run["labels"]["degrading"])
    for machine, faults in maintenance_run["labels"]["faulty"].items():
        kinds = {(a["sensor"], a["kind"]) for a in maintenance_run["alerts"].values() if a["machine_id"] == machine}
        for fault in faults:
            assert (fault["sensor"], fault["kind"]) in kinds
        if machine not in degrading:
            assert not [k for k in kinds if k[1] == "health"], f"{machine}: a sensor fault raised a health alert"


@pytest.mark.timeout(600)
def test_silent_machines_raise_no_data(maintenance_run):
    for machine, silence in maintenance_run["labels"]["silent"].items():
        no_data = [a for a in maintenance_run["alerts"].values()
                   if a["machine_id"] == machine and a["kind"] == "no_data"]
        assert any(int(a["event_time_ms"]) >= silence["last_event_ms"] for a in no_data), machine


@pytest.mark.timeout(600)
def test_dead_letters_are_exactly_the_poison(maintenance_run):
    records = read_topic(maintenance_run["settings"].kafka_bootstrap, maintenance_run["dead"])
    payloads = sorted(DeadLetter.FromString(value).payload for _, _, _, value in records)
    assert payloads == sorted(maintenance_run["poison"]) and len(payloads) == POISON
