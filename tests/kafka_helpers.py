"""Plain Kafka clients for tests: make fresh topics, read a topic back completely."""
from __future__ import annotations

import uuid

from streamsuite.topics import create_topics, read_topic  # noqa: F401 - the tests read topics with it


def fresh_topics(bootstrap: str, *names: str, partitions: int = 4) -> list[str]:
    """Create uniquely named topics (so each test sees exactly its own records)."""
    run = uuid.uuid4().hex[:8]
    topics = [f"test.{run}.{name}" for name in names]
    create_topics(bootstrap, {topic: partitions for topic in topics})
    return topics
