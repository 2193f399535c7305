"""An event that breaks the keyed operator goes to the dead letters, its key's state stays as it
was, and the job goes on: each job, bounded, with zero restarts allowed."""
from __future__ import annotations

import subprocess
import uuid

import pytest
import redis

from jobs.specs import JOBS
from streamsuite.generator import generate
from streamsuite.localrun import job_command
from streamsuite_proto.v1.deadletter_pb2 import DeadLetter
from tests.kafka_helpers import fresh_topics, read_topic
from tests.oracles import fraud_oracle, inventory_oracle, maintenance_oracle
from udfs.maintenance import MachineHealth

pytestmark = [pytest.mark.integration, pytest.mark.jvm]

# The event id field, events and keys of each job's run.
RUNS = {"fraud": ("transaction_id", 1_500, 40), "inventory": ("event_id", 1_500, 20),
        "maintenance": ("reading_id", 4_000, 4)}


def run_poisoned(settings, job: str):
    (id_field, count, keys), spec = RUNS[job], JOBS[job]
    module = spec.module
    stream = generate(job, count=count, keys=keys, seed=41)
    parsed = [spec.event_type.parse(value) for _, value in stream.records]
    poison = {getattr(parsed[i], id_field) for i in (count // 4, count // 2, 3 * count // 4)}
    source, dead = fresh_topics(settings.kafka_bootstrap, "input", "deadletter")
    stream.publish(settings.kafka_bootstrap, source)
    run_id = uuid.uuid4().hex[:8]
    command = job_command(module, settings, input_topic=source, dead_letter_topic=dead, run_id=run_id,
                          extra=["--set", "runtime.restart_attempts=0", "--set", "checkpoint.interval_ms=1000",
                                 "--set", "s3.enabled=false"])
    command[1:3] = ["-m", "tests.integration.poisoned_job", module, ",".join(sorted(poison))]
    result = subprocess.run(command, capture_output=True, text=True, timeout=420)
    assert result.returncode == 0, result.stderr[-3000:]
    kept = [record for record, msg in zip(stream.records, parsed) if getattr(msg, id_field) not in poison]
    failed = {value for (_, value), msg in zip(stream.records, parsed) if getattr(msg, id_field) in poison}
    letters = [DeadLetter.FromString(value) for *_, value in read_topic(settings.kafka_bootstrap, dead)]
    client = redis.Redis.from_url(settings.redis_url, decode_responses=True)
    return kept, failed, letters, client, f"test:{run_id}"


def check_letters(letters, failed):
    assert {letter.payload for letter in letters} == failed
    assert all(letter.reason.startswith("processing_error: RuntimeError: injected failure on ") for letter in letters)


@pytest.mark.timeout(600)
def test_fraud_event_that_fails_is_a_dead_letter_and_leaves_its_card_as_it_was(stack):
    kept, failed, letters, client, prefix = run_poisoned(stack.settings, "fraud")
    check_letters(letters, failed)
    for card_id, scored in fraud_oracle(kept).latest.items():
        hot = client.hgetall(f"{prefix}:card:{card_id}")
        assert (int(hot["version"]), float(hot["score"])) == (scored.version, scored.score), card_id


@pytest.mark.timeout(600)
def test_inventory_movement_that_fails_is_a_dead_letter_and_leaves_its_level_as_it_was(stack):
    kept, failed, letters, client, prefix = run_poisoned(stack.settings, "inventory")
    check_letters(letters, failed)
    states = inventory_oracle(kept).states
    assert states
    for state in states.values():
        hot = client.hgetall(f"{prefix}:level:{state.store_id}:{state.sku}")
        assert (int(hot["version"]), int(hot["on_hand"]), int(hot["available"])) == (
            state.version, state.on_hand, state.available), state.key


@pytest.mark.timeout(600)
def test_maintenance_reading_that_fails_is_a_dead_letter_and_leaves_its_machine_as_it_was(stack):
    kept, failed, letters, client, prefix = run_poisoned(stack.settings, "maintenance")
    check_letters(letters, failed)
    outputs, _ = maintenance_oracle(kept)
    latest = {}
    for out in outputs:
        if isinstance(out, MachineHealth):
            latest[out.machine_id] = out
    assert latest
    for machine_id, health in latest.items():
        hot = client.hgetall(f"{prefix}:machine:{machine_id}")
        assert (int(hot["version"]), float(hot["health"])) == (health.version, health.health), machine_id
