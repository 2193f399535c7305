"""Names every job shares with the local stack: topics, dead-letter topics, buckets.

The stack creates exactly these, and each job's config takes them as defaults, so
the two cannot drift apart.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class JobTopology:
    job: str
    event_type: str
    input_topic: str
    dead_letter_topic: str
    partitions: int = 4
    # The control topic of rule sets the job reads beside its input (one partition: read in order).
    rules_topic: str = ""


JOBS: dict[str, JobTopology] = {
    t.job: t
    for t in (
        JobTopology("fraud", "CardTransaction", "fraud.transactions", "fraud.deadletter", rules_topic="fraud.rules"),
        JobTopology("inventory", "InventoryMovement", "inventory.movements", "inventory.deadletter"),
        JobTopology("maintenance", "SensorReading", "maintenance.readings", "maintenance.deadletter"),
    )
}

COLD_BUCKET = "streamsuite-cold"
CHECKPOINT_BUCKET = "streamsuite-checkpoints"
BUCKETS = (COLD_BUCKET, CHECKPOINT_BUCKET)
