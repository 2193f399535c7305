"""Version-fenced upserts against the real Redis: replays converge, alerts never duplicate."""
import uuid

import pytest
import redis

from udfs.redis_writer import HotRecord, RedisVersionedWriter

pytestmark = pytest.mark.integration


@pytest.fixture
def writer(stack):
    w = RedisVersionedWriter(stack.settings.redis_url)
    yield w
    w.close()


@pytest.fixture
def client(stack):
    return redis.Redis.from_url(stack.settings.redis_url, decode_responses=True)


def test_newer_versions_win_and_replays_are_skipped(writer, client):
    key = f"test:{uuid.uuid4()}"
    for version, score in ((1, 0.1), (2, 0.2), (3, 0.3)):
        writer.add(HotRecord(key, version, {"score": score}))
    assert writer.flush().written == 3
    for version, score in ((2, 0.9), (3, 0.9), (1, 0.9)):  # a replay, out of order too
        writer.add(HotRecord(key, version, {"score": score}))
    result = writer.flush()
    assert (result.written, result.skipped) == (0, 3)
    assert client.hgetall(key) == {"version": "3", "score": "0.3"}


def test_alert_feed_has_no_duplicate_after_replay(writer, client):
    prefix = f"test:{uuid.uuid4()}"
    feed = f"{prefix}:alerts"
    records = [HotRecord(f"{prefix}:alert:a{i}", 1, {"card": f"c{i}"}, feed, 1000 + i, f"a{i}") for i in (2, 1, 3)]
    for _ in range(2):
        for record in records:
            writer.add(record)
        writer.flush()
    assert client.zrange(feed, 0, -1) == ["a1", "a2", "a3"]
    assert client.hgetall(f"{prefix}:alert:a2") == {"version": "1", "card": "c2"}


def test_lost_connection_keeps_the_batch_and_raises():
    w = RedisVersionedWriter("redis://127.0.0.1:1/0")
    w.add(HotRecord("k", 1, {"a": 1}))
    with pytest.raises(redis.ConnectionError):
        w.flush(attempts=2)
    assert len(w) == 1


def test_script_cache_lost_by_redis_is_reloaded(writer, client):
    """A restarted Redis has no scripts; the writer reloads its script and writes on."""
    key = f"test:{uuid.uuid4()}"
    writer.add(HotRecord(key, 1, {"score": 0.1}))
    assert writer.flush().written == 1
    client.script_flush()
    writer.add(HotRecord(key, 2, {"score": 0.2}))
    writer.add(HotRecord(f"{key}:other", 1, {"score": 0.5}))
    assert writer.flush().written == 2
    client.script_flush()
    writer.add(HotRecord(key, 3, {"score": 0.3}))
    assert writer.flush().written == 1
    assert client.hgetall(key) == {"version": "3", "score": "0.3"}
