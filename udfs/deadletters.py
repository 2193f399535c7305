"""Dead letters: what a job could not use, with the reason, bounded to fit in one Kafka message.

An input too large to carry whole (Kafka's default message limit is 1 MB, and an input may
already be near it) keeps its first `KEPT_PREFIX_BYTES` bytes plus its full size and SHA-256,
enough to find and compare it without the dead-letter topic refusing the record.
"""
from __future__ import annotations

import hashlib

# Inputs up to this size are kept whole; the dead letter's other fields take well under 8 KB.
MAX_WHOLE_PAYLOAD_BYTES = 900_000
KEPT_PREFIX_BYTES = 65_536
MAX_REASON_CHARS = 2_000


def dead_letter(payload: bytes, reason: str, source_topic: str, job: str, event_time_ms: int = 0):
    from streamsuite_proto.v1.deadletter_pb2 import DeadLetter

    payload = bytes(payload)
    if len(reason) > MAX_REASON_CHARS:
        reason = reason[:MAX_REASON_CHARS - 3] + "..."
    letter = DeadLetter(reason=reason, source_topic=source_topic, job=job, event_time_ms=event_time_ms)
    if len(payload) > MAX_WHOLE_PAYLOAD_BYTES:
        letter.payload = payload[:KEPT_PREFIX_BYTES]
        letter.payload_size = len(payload)
        letter.payload_sha256 = hashlib.sha256(payload).digest()
    else:
        letter.payload = payload
    return letter
