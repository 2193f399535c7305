"""Plain Kafka clients for tests: make fresh topics, read a topic back completely."""
from __future__ import annotations

import uuid

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from streamsuite.topics import read_topic  # noqa: F401 - the tests read topics with it


def fresh_topics(bootstrap: str, *names: str, partitions: int = 4) -> list[str]:
    """Create uniquely named topics (so each test sees exactly its own records)."""
    run = uuid.uuid4().hex[:8]
    topics = [f"test.{run}.{name}" for name in names]
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(t, partitions, 1) for t in topics], operation_timeout=30).values():
        future.result(timeout=60)
    return topics


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
