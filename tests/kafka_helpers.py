"""Plain Kafka clients for tests: make fresh topics, read a topic back completely."""
from __future__ import annotations

import uuid

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
