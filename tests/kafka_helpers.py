"""Plain Kafka clients for tests: make fresh topics, read a topic back completely."""
from __future__ import annotations

import time
import uuid

from confluent_kafka import Consumer, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic


def fresh_topics(bootstrap: str, *names: str, partitions: int = 4) -> list[str]:
    """Create uniquely named topics (so each test sees exactly its own records)."""
    run = uuid.uuid4().hex[:8]
    topics = [f"test.{run}.{name}" for name in names]
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(t, partitions, 1) for t in topics], operation_timeout=30).values():
        future.result(timeout=60)
    return topics


def read_topic(bootstrap: str, topic: str, timeout_s: float = 60.0) -> list[tuple[int, int, bytes | None, bytes]]:
    """Every committed record of `topic` as (partition, offset, key, value), up to the end offsets now."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"test-reader-{uuid.uuid4()}",
                         "enable.auto.commit": False, "isolation.level": "read_committed",
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


def topic_size(bootstrap: str, topic: str, timeout_s: float = 10.0) -> int:
    """How many records the topic holds (its partitions' high minus low watermarks)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "streamsuite-topic-size", "log_level": 0})
    try:
        partitions = consumer.list_topics(topic, timeout=timeout_s).topics[topic].partitions
        return sum(high - low for low, high in (consumer.get_watermark_offsets(TopicPartition(topic, p),
                                                                                timeout=timeout_s)
                                                 for p in partitions))
    finally:
        consumer.close()
