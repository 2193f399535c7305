"""The input: a seeded backlog and live pool of events, published to an arm's own topic."""
from __future__ import annotations

import json
from dataclasses import dataclass

from streamsuite.bench.arms import BenchError, JobBench
from streamsuite.loadgen import TimedPayload, timed_payloads


@dataclass
class Workload:
    """The seeded stream: a backlog prefix and live events after it, as plain Protobuf records."""

    job: JobBench
    records: list[tuple[bytes, bytes]]
    times_ms: list[int]
    backlog: int
    seed: int

    def keys_in(self, n: int) -> int:
        return len({key for key, _ in self.records[:n]})

    def timed_live(self, json_out: bool) -> list[TimedPayload]:
        """The live pool, encoded once for the load generator (see `streamsuite.loadgen`)."""
        return timed_payloads(_message_class(self.job), self.records[self.backlog:] or self.records, json_out)


def make_workload(job: JobBench, backlog: int, live_pool: int, keys: int, seed: int) -> Workload:
    from streamsuite.generator import generate

    stream = generate(job.job, count=backlog + live_pool, keys=keys, seed=seed)
    return Workload(job, stream.records, stream.times_ms, backlog, seed)


def _message_class(job: JobBench):
    return job.spec.event_type.message_class


def as_json(message) -> bytes:
    """A flat JSON object of a message's fields (int64 as numbers, enums as numbers) for Flink SQL."""
    return json.dumps({f.name: getattr(message, f.name) for f in message.DESCRIPTOR.fields},
                      separators=(",", ":")).encode()


def publish(bootstrap: str, topic: str, records, times, json_out: bool, job: JobBench) -> None:
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20, "batch.size": 1 << 20,
                         "enable.idempotence": True, "acks": "all", "compression.type": "none"})
    cls = _message_class(job) if json_out else None
    for (key, value), time_ms in zip(records, times):
        if cls is not None:
            value = as_json(cls.FromString(value))
        while True:
            try:
                producer.produce(topic, value=value, key=key, timestamp=time_ms)
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
    if producer.flush(120):
        raise BenchError(f"could not deliver the backlog to {topic} within 120 s")
