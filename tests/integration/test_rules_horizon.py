"""`python -m jobs.rules_horizon` against the real local Kafka: the job's book takes its horizon."""
from __future__ import annotations

import subprocess
import sys
import time

import pytest

from tests.kafka_helpers import fresh_topics, read_topic
from udfs.fraud import FraudModel
from udfs.fraud_rules import RuleBook, RuleSet

pytestmark = [pytest.mark.integration]


def horizon(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "jobs.rules_horizon", *args], capture_output=True, text=True,
                          timeout=60)


@pytest.mark.timeout(120)
def test_the_horizon_lands_on_the_rules_topic_ahead_of_now(stack):
    bootstrap = stack.settings.kafka_bootstrap
    (topic,) = fresh_topics(bootstrap, "rules", partitions=1)
    before = int(time.time() * 1000)
    result = horizon("--ahead", "120", "--set", f"kafka.bootstrap_servers={bootstrap}", "--set", f"rules.topic={topic}")
    after = int(time.time() * 1000)
    assert result.returncode == 0, result.stderr
    book = RuleBook(RuleSet.startup(FraudModel()))
    assert [book.apply(value) for *_, value in read_topic(bootstrap, topic)] == [f"horizon {book.horizon_ms} ms"]
    assert before + 120_000 <= book.horizon_ms <= after + 120_000
    assert f"published to {topic}" in result.stdout


@pytest.mark.timeout(120)
def test_a_missing_rules_topic_is_one_sentence_and_is_not_created(stack):
    bootstrap = stack.settings.kafka_bootstrap
    topic = f"test.absent.{time.time_ns()}.rules"
    result = horizon("--set", f"kafka.bootstrap_servers={bootstrap}", "--set", f"rules.topic={topic}")
    assert result.returncode == 1
    assert result.stderr == (f"python -m jobs.rules_horizon: the rules topic {topic} does not exist on {bootstrap}; "
                             "create it (one partition) or set rules.topic\n")
    from confluent_kafka.admin import AdminClient

    assert topic not in AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=10).topics
