"""`streamsuite generate` into the real broker, read back by a plain consumer."""
import json
import subprocess
import sys

import pytest

from jobs.specs import EVENT_TYPES
from tests.kafka_helpers import fresh_topics, read_topic
from udfs.codec import DecodeError

pytestmark = pytest.mark.integration


def generate(topic, *args, truth, bootstrap):
    result = subprocess.run([sys.executable, "-m", "streamsuite", "generate", *args, "--topic", topic,
                             "--bootstrap", bootstrap, "--truth", str(truth), "--quiet"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return json.loads(truth.read_text())


def failures(records, event_type):
    failed = []
    for _, _, _, value in records:
        try:
            EVENT_TYPES[event_type].parse(value)
        except DecodeError as exc:
            failed.append(exc.reason)
    return failed


def test_ten_thousand_transactions_all_decode(stack, tmp_path):
    (topic,) = fresh_topics(stack.settings.kafka_bootstrap, "tx")
    truth = generate(topic, "fraud", "--count", "10000", "--seed", "7", truth=tmp_path / "t.json",
                     bootstrap=stack.settings.kafka_bootstrap)
    records = read_topic(stack.settings.kafka_bootstrap, topic)
    assert len(records) == 10_000 == truth["counts"]["messages"]
    assert failures(records, "CardTransaction") == []
    per_card = {}
    for partition, _, key, value in records:
        per_card.setdefault(key, set()).add(partition)
    assert all(len(parts) == 1 for parts in per_card.values())  # keyed: a card's events stay in order


@pytest.mark.parametrize("domain, event_type, framing", [
    ("fraud", "CardTransaction", "confluent"),
    ("inventory", "InventoryMovement", "raw"),
    ("maintenance", "SensorReading", "raw"),
])
def test_exactly_the_announced_poison_fails(stack, tmp_path, domain, event_type, framing):
    (topic,) = fresh_topics(stack.settings.kafka_bootstrap, domain)
    truth = generate(topic, domain, "--count", "3000", "--seed", "11", "--poison", "40", "--framing", framing,
                     truth=tmp_path / "t.json", bootstrap=stack.settings.kafka_bootstrap)
    records = read_topic(stack.settings.kafka_bootstrap, topic)
    assert len(records) == 3040
    failed = failures(records, event_type)
    assert len(failed) == 40 == truth["counts"]["poison"]
    assert len(set(failed)) >= 4, f"poison kinds too uniform: {set(failed)}"


def test_unreachable_broker_is_one_clear_line(tmp_path):
    result = subprocess.run([sys.executable, "-m", "streamsuite", "generate", "fraud", "--count", "10",
                             "--bootstrap", "127.0.0.1:1", "--broker-timeout", "2", "--truth",
                             str(tmp_path / "t.json")], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "cannot reach Kafka at 127.0.0.1:1" in lines[0]
