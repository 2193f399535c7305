"""The latency receiver, in a process of its own: hot-key notifications (or the SQL arm's topic)
turned into event-to-hot latencies."""
from __future__ import annotations

import json
import time
import uuid
from pathlib import Path


def receiver_main(spec: dict, out_path: str, ready, stop, progress) -> None:
    """Runs in a spawned process, so the producer's GIL never delays a receive timestamp."""
    import threading

    from confluent_kafka import Consumer, TopicPartition

    hot: list[tuple[float, int, int]] = []
    probe: list[tuple[float, int]] = []
    threads = []

    def consumer_at_end(topic: str):
        consumer = Consumer({"bootstrap.servers": spec["bootstrap"], "group.id": f"bench-probe-{uuid.uuid4()}",
                             "log_level": 2,
                             "enable.auto.commit": False, "fetch.wait.max.ms": 10, "fetch.error.backoff.ms": 10})
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        assignment = []
        for p in partitions:
            _, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            assignment.append(TopicPartition(topic, p, high))
        consumer.assign(assignment)
        return consumer

    def kafka_probe():
        consumer = consumer_at_end(spec["input_topic"])
        try:
            while not stop.is_set():
                # poll, not consume(n, timeout): a batch call waits for its whole timeout.
                msg = consumer.poll(0.05)
                if msg is None or msg.error():
                    continue
                probe.append((time.time() * 1000, msg.timestamp()[1]))
        finally:
            consumer.close()

    def kafka_hot():
        consumer = consumer_at_end(spec["output_topic"])
        start = spec["phase_start_ms"]
        try:
            while not stop.is_set():
                msg = consumer.poll(0.05)
                if msg is None or msg.error():
                    continue
                now = time.time() * 1000
                event_ms = json.loads(msg.value()).get("event_time_ms", 0)
                if event_ms >= start:
                    hot.append((now, event_ms, 0))
                    progress.value = len(hot)
        finally:
            consumer.close()

    def redis_hot():
        import redis

        client = redis.Redis.from_url(spec["redis_url"])
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        channel_prefix = "__keyspace@0__:"
        pubsub.psubscribe(channel_prefix + spec["pattern"])
        reader = redis.Redis.from_url(spec["redis_url"])
        field_name, start = spec["time_field"], spec["phase_start_ms"]
        seen: set[tuple[bytes, bytes]] = set()
        pending: list[tuple[bytes, float]] = []
        first = 0.0

        def resolve():
            pipe = reader.pipeline(transaction=False)
            for key, _ in pending:
                pipe.hmget(key, field_name, "updated_at_ms", "version")
            for (key, recv), (event_ms, updated, version) in zip(pending, pipe.execute()):
                if event_ms is None or (key, version) in seen:
                    continue
                seen.add((key, version))
                event_ms = int(event_ms)
                if event_ms >= start:
                    hot.append((recv, event_ms, int(updated or 0)))
            pending.clear()
            progress.value = len(hot)

        ready_flags["redis"] = True
        while not stop.is_set():
            msg = pubsub.get_message(timeout=0.005)
            now = time.time() * 1000
            if msg is not None and msg["type"] == "pmessage":
                if not pending:
                    first = now
                pending.append((msg["channel"][len(channel_prefix):], now))
            if pending and (len(pending) >= 64 or now - first >= 5 or msg is None):
                resolve()
        if pending:
            resolve()
        pubsub.close()

    ready_flags: dict[str, bool] = {}
    if spec["hot"] == "redis":
        threads.append(threading.Thread(target=redis_hot, daemon=True))
    else:
        threads.append(threading.Thread(target=kafka_hot, daemon=True))
    if spec["kafka_probe"]:
        threads.append(threading.Thread(target=kafka_probe, daemon=True))
    for thread in threads:
        thread.start()
    time.sleep(1.5)  # consumers assigned, subscription active
    ready.set()
    for thread in threads:
        thread.join()
    Path(out_path).write_text(json.dumps({"hot": hot, "probe": probe}))
