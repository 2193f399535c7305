"""Read a Kafka topic back completely, as committed (tests, `streamsuite rules show`)."""
from __future__ import annotations

import time
import uuid

from confluent_kafka import Consumer, KafkaException, TopicPartition


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
