"""The fraud job end to end on a mini-cluster against the real Kafka, Redis and S3.

A seeded stream with labelled fraud and a known number of poison messages goes in; every
output must equal what the pure-Python domain code computes over the same input.
"""
import pytest
import redis

from udfs.events import event_date
from streamsuite.generator import generate
from streamsuite_proto.v1.deadletter_pb2 import DeadLetter
from tests.cold_helpers import read_cold_table
from tests.jobrun import run_bounded
from tests.kafka_helpers import read_topic
from tests.oracles import fraud_oracle

pytestmark = [pytest.mark.integration, pytest.mark.jvm]

POISON = 30


@pytest.fixture(scope="module")
def fraud_run(stack):
    stream = generate("fraud", count=4000, keys=150, seed=23, poison=POISON, framing="confluent")
    run = run_bounded(stack.settings, "jobs.fraud_scoring", stream)
    return {"settings": run.settings, "stream": stream, "oracle": fraud_oracle(stream.records), "dead": run.dead,
            "source": run.source, "prefix": run.prefix, "s3_path": run.s3_path}


@pytest.mark.timeout(600)
def test_every_valid_transaction_is_in_s3_once_with_the_reference_score(fraud_run):
    oracle = fraud_run["oracle"]
    rows = read_cold_table(fraud_run["settings"], f"{fraud_run['s3_path']}/scores")
    assert len(rows) == len(oracle.scored) == 4000
    by_id = {row["transaction_id"]: row for row in rows}
    assert len(by_id) == len(rows), "a transaction appears twice"
    for expected in oracle.scored:
        row = by_id[expected.transaction.transaction_id]
        assert (row["card_id"], row["sequence"], row["version"]) == (
            expected.transaction.card_id, expected.transaction.sequence, expected.version)
        assert row["score"] == expected.score
        assert row["reasons"] == ",".join(expected.reasons)
        assert row["velocity_1m"] == expected.features["velocity_1m"]
        assert row["dt"] == event_date(expected.transaction.event_time_ms)


@pytest.mark.timeout(600)
def test_alerts_match_the_reference_in_s3_and_redis(fraud_run):
    oracle = fraud_run["oracle"]
    assert oracle.alerts, "the seeded stream should raise alerts"
    expected_ids = sorted(s.alert_id for s in oracle.alerts)
    rows = read_cold_table(fraud_run["settings"], f"{fraud_run['s3_path']}/alerts")
    assert sorted(row["alert_id"] for row in rows) == expected_ids
    client = redis.Redis.from_url(fraud_run["settings"].redis_url, decode_responses=True)
    feed = client.zrange(f"{fraud_run['prefix']}:alerts", 0, -1, withscores=True)
    assert sorted(member for member, _ in feed) == expected_ids
    for scored in oracle.alerts:
        alert = client.hgetall(f"{fraud_run['prefix']}:alert:{scored.alert_id}")
        assert alert["transaction_id"] == scored.transaction.transaction_id
        assert float(alert["score"]) == scored.score
        assert alert["reasons"] == ",".join(scored.reasons)
    times = [score for _, score in feed]
    assert times == sorted(times)


@pytest.mark.timeout(600)
def test_redis_holds_the_reference_value_of_every_card(fraud_run):
    client = redis.Redis.from_url(fraud_run["settings"].redis_url, decode_responses=True)
    latest = fraud_run["oracle"].latest
    assert len(latest) == 150
    for card_id, scored in latest.items():
        hot = client.hgetall(f"{fraud_run['prefix']}:card:{card_id}")
        assert int(hot["version"]) == scored.version
        assert float(hot["score"]) == scored.score
        assert hot["reasons"] == ",".join(scored.reasons)
        assert hot["transaction_id"] == scored.transaction.transaction_id


@pytest.mark.timeout(600)
def test_dead_letter_topic_holds_exactly_the_poison(fraud_run):
    records = read_topic(fraud_run["settings"].kafka_bootstrap, fraud_run["dead"])
    letters = [DeadLetter.FromString(value) for _, _, _, value in records]
    assert sorted(letter.payload for letter in letters) == sorted(fraud_run["oracle"].poison)
    assert len(letters) == POISON
    assert all(letter.reason and letter.source_topic == fraud_run["source"] and letter.job == "fraud"
               for letter in letters)


@pytest.mark.timeout(600)
def test_process_mode_gives_the_same_hot_values(stack):
    """The Python workers as processes of their own (Beam), not threads: the hot rows cross another
    coder on their way to the JVM sink and must arrive the same."""
    stream = generate("fraud", count=1500, keys=60, seed=29, poison=5)
    run = run_bounded(stack.settings, "jobs.fraud_scoring", stream, "--set", "runtime.python_mode=process",
                      "--set", "s3.enabled=false")
    client = redis.Redis.from_url(stack.settings.redis_url, decode_responses=True)
    latest = fraud_oracle(stream.records).latest
    for card_id, scored in latest.items():
        hot = client.hgetall(f"{run.prefix}:card:{card_id}")
        assert (int(hot["version"]), float(hot["score"])) == (scored.version, scored.score), card_id
