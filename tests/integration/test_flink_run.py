"""`flink run` on a real standalone cluster: submit detached, stop with a savepoint, resume with state.

A card's version in Redis is the number of its transactions the job has scored, kept in
keyed state. After stop-with-savepoint and a resubmission from that savepoint, the second
batch must continue each card's count; a job that started empty would restart at 1 and
its writes would be fenced off as older, so the expected versions would never appear.
"""
import collections
import re
import time
import uuid

import pytest
import redis

from jobs.specs import EVENT_TYPES
from streamsuite.cluster import python_job_args, run_flink, savepoint_dir
from streamsuite.generator import generate
from streamsuite.localrun import job_args as local_job_args
from tests.kafka_helpers import fresh_topics

pytestmark = [pytest.mark.integration, pytest.mark.jvm]



def counts_per_card(records) -> collections.Counter:
    return collections.Counter(EVENT_TYPES["CardTransaction"].parse(value).card_id for _, value in records)


def wait_for_versions(client, prefix: str, expected: dict, timeout_s: float = 180) -> None:
    deadline = time.monotonic() + timeout_s
    seen = {}
    while time.monotonic() < deadline:
        seen = {card: int(client.hget(f"{prefix}:card:{card}", "version") or 0) for card in expected}
        if seen == expected:
            return
        time.sleep(1)
    wrong = {card: (seen.get(card), want) for card, want in expected.items() if seen.get(card) != want}
    raise AssertionError(f"card versions (seen, expected) after {timeout_s:.0f} s: {dict(list(wrong.items())[:5])}")


@pytest.mark.timeout(600)
def test_stop_with_savepoint_and_resume_keeps_state(stack, cluster):
    settings = stack.settings
    run = uuid.uuid4().hex[:8]
    source, dead = fresh_topics(settings.kafka_bootstrap, "transactions", "deadletter")
    prefix = f"test:{run}"
    job_args = local_job_args(settings, input_topic=source, dead_letter_topic=dead, run_id=run) + [
        "--set", "checkpoint.interval_ms=1000"]
    first = generate("fraud", count=600, keys=20, seed=5)
    first.publish(settings.kafka_bootstrap, source)
    submitted = run_flink(*python_job_args("jobs/fraud_scoring.py", *job_args))
    job_id = re.search(r"JobID ([0-9a-f]{32})", submitted).group(1)
    client = redis.Redis.from_url(settings.redis_url, decode_responses=True)
    expected = counts_per_card(first.records)
    wait_for_versions(client, prefix, dict(expected))

    stopped = run_flink("stop", "--savepointPath", savepoint_dir().as_uri(), job_id)
    savepoint = re.search(r"Savepoint completed\. Path: (\S+)", stopped).group(1)

    second = generate("fraud", count=400, keys=20, seed=6)
    second.publish(settings.kafka_bootstrap, source)
    continuing = set(counts_per_card(second.records)) & set(expected)
    assert len(continuing) >= 15, "the second batch must continue cards of the first"
    expected.update(counts_per_card(second.records))
    resumed = run_flink(*python_job_args("jobs/fraud_scoring.py", *job_args, savepoint=savepoint))
    resumed_id = re.search(r"JobID ([0-9a-f]{32})", resumed).group(1)
    try:
        wait_for_versions(client, prefix, dict(expected))
    finally:
        run_flink("cancel", resumed_id)
