"""Kafka topics for the tools: create the ones missing, read one back completely as committed."""
from __future__ import annotations

import logging
import time
import uuid
from typing import Mapping

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition


class TopicError(RuntimeError):
    """A topic that could not be created; `reason` is the broker's, in one line."""

    def __init__(self, topic: str, reason: str):
        super().__init__(f"creating Kafka topic {topic} failed: {reason}")
        self.topic, self.reason = topic, reason


def kafka_reason(exc: Exception) -> str:
    """The one-line reason of a confluent-kafka exception (its KafkaError's text)."""
    error = exc.args[0] if exc.args else exc
    return error.str() if hasattr(error, "str") else str(error)


def create_topics(bootstrap: str, partitions: Mapping[str, int], *, config: Mapping[str, str] | None = None,
                  replication_factor: int = 1, timeout_s: float = 60.0, logger: logging.Logger | None = None) -> None:
    """Create each topic (name -> partitions) that does not exist yet; one that exists stays as it is."""
    from confluent_kafka.admin import AdminClient, NewTopic

    if not partitions:
        return
    admin = AdminClient({"bootstrap.servers": bootstrap, **({"logger": logger} if logger else {})})
    wanted = [NewTopic(topic, num_partitions=count, replication_factor=replication_factor, config=dict(config or {}))
              for topic, count in partitions.items()]
    futures = admin.create_topics(wanted, operation_timeout=min(timeout_s, 30.0), request_timeout=timeout_s)
    for topic, future in futures.items():
        try:
            future.result(timeout=timeout_s)
        except KafkaException as exc:
            if exc.args and getattr(exc.args[0], "code", lambda: None)() == KafkaError.TOPIC_ALREADY_EXISTS:
                continue
            raise TopicError(topic, kafka_reason(exc)) from None


def read_topic(bootstrap: str, topic: str, timeout_s: float = 60.0) -> list[tuple[int, int, bytes | None, bytes]]:
    """Every committed record of `topic` as (partition, offset, key, value), up to the end offsets now."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"test-reader-{uuid.uuid4()}",
                         "enable.auto.commit": False, "isolation.level": "read_committed", "log_level": 0,
                         "auto.offset.reset": "earliest"})
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        ends = {}
        for p in partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            if high > low:
                ends[p] = high
        consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
        records = []
        deadline = time.monotonic() + timeout_s
        done = {p: False for p in ends}
        while not all(done.values()):
            if time.monotonic() > deadline:
                raise TimeoutError(f"reading {topic}: not at the end offsets {ends} after {timeout_s} s")
            msg = consumer.poll(0.5)
            if msg is None:
                positions = consumer.position([TopicPartition(topic, p) for p in ends])
                for tp in positions:
                    if tp.offset >= ends[tp.partition]:
                        done[tp.partition] = True
                continue
            if msg.error():
                raise KafkaException(msg.error())
            records.append((msg.partition(), msg.offset(), msg.key(), msg.value()))
            if msg.offset() + 1 >= ends.get(msg.partition(), 0):
                done[msg.partition()] = True
        return sorted(records)
    finally:
        consumer.close()
