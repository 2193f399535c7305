"""Fraud rules from the rules topic, on a mini-cluster against the real Kafka, Redis and S3.

Each transaction must be scored with the rule set in force at its event time, exactly as the
pure-Python reference scores it, whether its rule set was on the topic before the job started
or published while the job held the transactions that wait for it.
"""
from __future__ import annotations

import subprocess
import time
import uuid

import pytest
import redis

from streamsuite.generator import generate
from streamsuite.localrun import job_command
from streamsuite.rules import publish_updates
from streamsuite_proto.v1.deadletter_pb2 import DeadLetter
from tests.cold_helpers import read_cold_table
from tests.jobrun import run_bounded
from tests.kafka_helpers import fresh_topics, read_topic
from tests.oracles import fraud_oracle
from tests.rules_helpers import event_times, rule_set, two_versions
from udfs.fraud import DEFAULT_WEIGHTS

pytestmark = [pytest.mark.integration, pytest.mark.jvm]

POISON = 10
NOT_A_RULES_RECORD = b"\xff\xfe rules"


def rules_topic(settings, records: list[bytes]) -> str:
    (topic,) = fresh_topics(settings.kafka_bootstrap, "rules", partitions=1)
    publish_updates(settings.kafka_bootstrap, topic, records, int(time.time() * 1000))
    return topic


def check_scores(rows: list[dict], oracle, effective_ms: dict[int, int]) -> None:
    """Every row equals the reference, and carries the version whose time range holds its event time."""
    assert len(rows) == len(oracle.scored)
    by_id = {row["transaction_id"]: row for row in rows}
    assert len(by_id) == len(rows), "a transaction appears twice"
    starts = sorted(effective_ms.items(), key=lambda item: item[1])
    for expected in oracle.scored:
        tx = expected.transaction
        row = by_id[tx.transaction_id]
        in_force = max(v for v, start in starts if start <= tx.event_time_ms)
        assert row["rules_version"] == expected.rules_version == in_force, tx.transaction_id
        assert (row["version"], row["score"], row["reasons"]) == (
            expected.version, expected.score, ",".join(expected.reasons)), tx.transaction_id
        shadow, shadow_alert = oracle.shadow[tx.transaction_id]
        assert row["shadow_rules_version"] == (shadow.rules_version if shadow else -1)
        assert row["shadow_score"] == (shadow.score if shadow else 0.0)
        assert row["shadow_alert"] is shadow_alert


@pytest.fixture(scope="module")
def bounded_rules_run(stack):
    """Rule sets 1 and 2 (from the middle of the stream), a shadow rule set 3 (from its last
    quarter), a rule set refused as not newer, a record that is no rules record; published before
    the job starts, so the two sources race at its start."""
    settings = stack.settings
    stream = generate("fraud", count=3000, keys=120, seed=31, poison=POISON)
    times = event_times(stream)
    first, middle, last_quarter = times[0], times[len(times) // 2], times[3 * len(times) // 4]
    version_1, horizon_at_middle, version_2, _ = two_versions(times)
    records = [version_1, horizon_at_middle,
               rule_set({"version": 1, "effective_from_ms": middle + 1}),
               version_2, NOT_A_RULES_RECORD,
               rule_set({"version": 3, "effective_from_ms": last_quarter, "mode": "shadow", "alert_threshold": 0.5,
                         "weights": {**DEFAULT_WEIGHTS, "velocity_1m": 0.9}})]
    topic = rules_topic(settings, records)
    run = run_bounded(settings, "jobs.fraud_scoring", stream, "--set", "rules.enabled=true",
                      "--set", f"rules.topic={topic}")
    return {"run": run, "oracle": fraud_oracle(stream.records, rules_records=records), "records": records,
            "effective": {1: first, 2: middle}, "shadow_from": last_quarter, "stream": stream, "rules_topic": topic}


@pytest.mark.timeout(600)
def test_every_transaction_has_the_score_of_the_version_in_force_at_its_event_time(bounded_rules_run):
    run, oracle = bounded_rules_run["run"], bounded_rules_run["oracle"]
    rows = read_cold_table(run.settings, f"{run.s3_path}/scores")
    check_scores(rows, oracle, bounded_rules_run["effective"])
    times = event_times(bounded_rules_run["stream"])
    middle, shadow_from = bounded_rules_run["effective"][2], bounded_rules_run["shadow_from"]
    versions = [row["rules_version"] for row in rows]
    assert (versions.count(1), versions.count(2)) == (sum(t < middle for t in times), sum(t >= middle for t in times))
    assert versions.count(2) >= 1400
    assert sum(row["shadow_rules_version"] == 3 for row in rows) == sum(t >= shadow_from for t in times) >= 700
    only_version_1 = fraud_oracle(bounded_rules_run["stream"].records,
                                  rules_records=bounded_rules_run["records"][:1])
    changed = sum(a.score != b.score for a, b in zip(oracle.scored, only_version_1.scored))
    assert changed > 50, "version 2 should change many scores"


@pytest.mark.timeout(600)
def test_alerts_and_hot_records_carry_the_rules_version(bounded_rules_run):
    run, oracle = bounded_rules_run["run"], bounded_rules_run["oracle"]
    alerts = read_cold_table(run.settings, f"{run.s3_path}/alerts")
    assert sorted((a["alert_id"], a["rules_version"]) for a in alerts) == sorted(
        (s.alert_id, s.rules_version) for s in oracle.alerts)
    assert {s.rules_version for s in oracle.alerts} == {1, 2}
    client = redis.Redis.from_url(run.settings.redis_url, decode_responses=True)
    for card_id, scored in oracle.latest.items():
        hot = client.hgetall(f"{run.prefix}:card:{card_id}")
        assert (int(hot["version"]), float(hot["score"]), int(hot["rules_version"])) == (
            scored.version, scored.score, scored.rules_version), card_id
    for scored in oracle.alerts:
        assert client.hget(f"{run.prefix}:alert:{scored.alert_id}", "rules_version") == str(scored.rules_version)


@pytest.mark.timeout(600)
def test_refused_rules_records_are_dead_letters_with_their_reason(bounded_rules_run):
    run, oracle = bounded_rules_run["run"], bounded_rules_run["oracle"]
    letters = [DeadLetter.FromString(v) for *_, v in read_topic(run.settings.kafka_bootstrap, run.dead)]
    refused = sorted((letter.payload, letter.reason) for letter in letters
                     if letter.source_topic == bounded_rules_run["rules_topic"])
    assert refused == sorted((record, f"invalid_rule_set: {reason}") for record, reason in oracle.refused_rules)
    reasons = [reason for _, reason in oracle.refused_rules]
    assert reasons[0] == "rule set 1 is not newer than version 1, the latest known"
    assert reasons[1].startswith("not a FraudRulesUpdate: ") and len(reasons) == 2
    assert len(letters) == POISON + 2


@pytest.mark.timeout(600)
def test_rules_score_the_same_in_process_mode(stack):
    """Process mode keeps the broadcast state as bytes and runs the Python functions in a separate
    worker; two versions still score every transaction as the reference does, alerts included."""
    stream = generate("fraud", count=1200, keys=60, seed=37, poison=0)
    times = event_times(stream)
    records = two_versions(times)
    topic = rules_topic(stack.settings, records)
    run = run_bounded(stack.settings, "jobs.fraud_scoring", stream, "--set", "rules.enabled=true",
                      "--set", f"rules.topic={topic}", "--set", "runtime.python_mode=process")
    oracle = fraud_oracle(stream.records, rules_records=records)
    check_scores(read_cold_table(run.settings, f"{run.s3_path}/scores"), oracle,
                 {1: times[0], 2: times[len(times) // 2]})
    alerts = read_cold_table(run.settings, f"{run.s3_path}/alerts")
    assert sorted((a["alert_id"], a["rules_version"]) for a in alerts) == sorted(
        (s.alert_id, s.rules_version) for s in oracle.alerts)


@pytest.mark.timeout(600)
def test_a_rule_set_published_while_the_job_runs_scores_the_transactions_that_waited_for_it(stack):
    """Unbounded: the rules topic first knows version 1 up to the middle of the stream; the job
    scores exactly the transactions before it and holds the rest until version 2 is published."""
    settings = stack.settings
    stream = generate("fraud", count=1500, keys=60, seed=37)
    times = event_times(stream)
    first, middle = times[0], times[len(times) // 2]
    before = sum(t < middle for t in times)
    records = two_versions(times)
    topic = rules_topic(settings, records[:2])
    source, dead = fresh_topics(settings.kafka_bootstrap, "input", "deadletter")
    stream.publish(settings.kafka_bootstrap, source)
    run_id = uuid.uuid4().hex[:8]
    command = job_command("jobs.fraud_scoring", settings, input_topic=source, dead_letter_topic=dead,
                          run_id=run_id, bounded=False,
                          extra=["--set", "checkpoint.interval_ms=1000", "--set", "runtime.restart_attempts=0",
                                 "--set", "rules.enabled=true", "--set", f"rules.topic={topic}"])
    scores_path = f"streamsuite-cold/test/{run_id}/scores"
    job = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        rows = wait_for_rows(settings, scores_path, before, job, timeout_s=300)
        time.sleep(5)
        rows = read_cold_table(settings, scores_path)
        assert len(rows) == before and all(row["event_time_ms"] < middle for row in rows)
        publish_updates(settings.kafka_bootstrap, topic, records[2:], int(time.time() * 1000))
        rows = wait_for_rows(settings, scores_path, len(times), job, timeout_s=180)
    finally:
        job.terminate()
        job.communicate(timeout=60)
    oracle = fraud_oracle(stream.records, rules_records=records)
    check_scores(rows, oracle, {1: first, 2: middle})
    client = redis.Redis.from_url(settings.redis_url, decode_responses=True)
    for card_id, scored in oracle.latest.items():
        assert int(client.hget(f"test:{run_id}:card:{card_id}", "rules_version")) == scored.rules_version


def wait_for_rows(settings, path: str, count: int, job, timeout_s: float) -> list[dict]:
    deadline = time.monotonic() + timeout_s
    rows: list[dict] = []
    while time.monotonic() < deadline:
        assert job.poll() is None, job.communicate()[1][-3000:]
        rows = read_cold_table(settings, path)
        if len(rows) >= count:
            return rows
        time.sleep(1)
    raise AssertionError(f"{len(rows)} of {count} rows in {path} after {timeout_s} s")
