"""The latency phase's load generator: a process of its own that keeps a schedule without competing.

The harness's earlier producer ran in the harness process, parsed and re-serialised every event
to stamp its event time, slept once per event and sent one Kafka request per event: 0.4-0.9 of
a core at 2,000 events/s and behind its schedule in bursts, on a machine with two.

Here every payload is encoded once, before the clock starts, without its event time; stamping is
appending one field (Protobuf keeps the last occurrence of a scalar field; the JSON object gets
one more member), so the per-event work is a bytes concatenation and librdkafka's `produce` (C).
Events are released in 1 ms ticks: all events due by now go out together, and how late each
one went out against its schedule is recorded, so a report can say whether the offered load
was the load the job got.
"""
from __future__ import annotations

import json
import resource
import time
from dataclasses import dataclass
from typing import Any

from udfs.codec import varint

TICK_S = 0.001


@dataclass(frozen=True)
class TimedPayload:
    """One event without its event time, and the bytes that come before the stamped time."""

    key: bytes
    head: bytes
    tail: bytes

    def stamped(self, event_time_ms: int) -> bytes:
        if self.tail:
            return self.head + str(event_time_ms).encode() + self.tail
        return self.head + varint(event_time_ms)


def timed_payloads(message_class, records: list[tuple[bytes, bytes]], json_out: bool) -> list[TimedPayload]:
    """Encode each record once with its event time cleared, ready for `TimedPayload.stamped`."""
    field = message_class.DESCRIPTOR.fields_by_name["event_time_ms"]
    tag = varint(field.number << 3)  # wire type 0: varint
    out = []
    for key, value in records:
        message = message_class.FromString(value)
        message.ClearField("event_time_ms")
        if json_out:
            fields = {f.name: getattr(message, f.name) for f in message.DESCRIPTOR.fields if f.name != "event_time_ms"}
            body = json.dumps(fields, separators=(",", ":")).encode()
            head = body[:-1] + (b',"event_time_ms":' if fields else b'{"event_time_ms":')
            out.append(TimedPayload(key, head, b"}"))
        else:
            out.append(TimedPayload(key, message.SerializeToString() + tag, b""))
    return out


def producer_main(spec: dict[str, Any], payloads: list[TimedPayload], out_path: str, ready, start, progress) -> None:
    """Spawned: produce `spec["total"]` events at `spec["rate"]` per second, then write its own numbers."""
    from confluent_kafka import Producer

    # acks=all without idempotence: on this single local broker librdkafka's idempotent producer
    # holds some sends back (a ~0.5 s p99 before any job sees the event). linger.ms=1 lets one
    # tick's events share a request instead of one request per event.
    producer = Producer({"bootstrap.servers": spec["bootstrap"], "linger.ms": spec.get("linger", 1), "acks": "all",
                         "enable.idempotence": False, "socket.nagle.disable": True, "log_level": 3})
    topic, rate, total = spec["topic"], float(spec["rate"]), int(spec["total"])
    producer.list_topics(topic, timeout=10)
    ready.set()
    start.wait(60)
    lateness_ms: list[float] = []
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.monotonic()
    sent = 0
    n = len(payloads)
    while sent < total:
        now = time.monotonic()
        due = min(total, int((now - t0) * rate) + 1)
        if due > sent:
            now_ms = int(time.time() * 1000)
            for i in range(sent, due):
                payload = payloads[i % n]
                lateness_ms.append((now - (t0 + i / rate)) * 1000)
                while True:
                    try:
                        producer.produce(topic, value=payload.stamped(now_ms), key=payload.key, timestamp=now_ms)
                        break
                    except BufferError:
                        producer.poll(0.001)
            sent = due
            progress.value = sent
            producer.poll(0)
        wait = t0 + sent / rate - time.monotonic()
        if wait > 0:
            time.sleep(max(wait, TICK_S))
    produce_s = time.monotonic() - t0
    left = producer.flush(30)
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu_s = (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime)
    with open(out_path, "w") as fh:
        json.dump({"produced": sent, "undelivered": left, "seconds": produce_s,
                   "cores": cpu_s / max(produce_s, 1e-9), "lateness_ms": lateness_ms}, fh)
