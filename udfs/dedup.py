"""The event ids a key has applied, so a re-sent copy of an event is recognised and applied once.

Kafka producers re-send on timeouts and upstream systems replay: the same event can arrive twice
with its id. A key remembers the fingerprints of the ids it applied, in buckets of event time,
and forgets a bucket once the key's event time is `ttl_ms` past it; with `ttl_ms` at least the
allowed lateness, an event old enough to have been forgotten is late anyway, so no copy is ever
applied twice. `max_ids` bounds the memory of a key that sees a burst (its oldest ids go first).
"""
from __future__ import annotations

import base64
import hashlib
from typing import NamedTuple

# Event ids are remembered as 48-bit fingerprints (8 base64 characters): a false duplicate
# needs a collision among one key's ids within the TTL: about 2e-9 for a thousand ids.
FINGERPRINT_CHARS = 8
BUCKETS_PER_TTL = 4


def fingerprint(text: str) -> str:
    return base64.b64encode(hashlib.blake2b(text.encode(), digest_size=6).digest()).decode()


class SeenIds(NamedTuple):
    """The fingerprints of the event ids applied in one event-time bucket, concatenated."""

    start_ms: int
    fingerprints: str


def bucket_ms(ttl_ms: int) -> int:
    return -(-ttl_ms // BUCKETS_PER_TTL)


def has_seen(seen: list[SeenIds], fp: str) -> bool:
    """Whether any bucket holds `fp` (at a fingerprint boundary, not across two of them)."""
    for entry in seen:
        i = entry.fingerprints.find(fp)
        while i >= 0 and i % FINGERPRINT_CHARS:
            i = entry.fingerprints.find(fp, i + 1)
        if i >= 0:
            return True
    return False


def remember(seen: list[SeenIds], fp: str, time_ms: int, now_ms: int, ttl_ms: int, max_ids: int) -> list[SeenIds]:
    """`seen` with `fp` added to the bucket of `time_ms`, without the buckets the key's event time
    `now_ms` is `ttl_ms` past, and without its oldest ids beyond `max_ids`; `seen` is not changed."""
    size = bucket_ms(ttl_ms)
    kept = [e for e in seen if e.start_ms + size + ttl_ms > now_ms]
    start = time_ms - time_ms % size
    i = next((i for i, e in enumerate(kept) if e.start_ms >= start), len(kept))
    if i == len(kept) or kept[i].start_ms != start:
        kept.insert(i, SeenIds(start, ""))
    kept[i] = SeenIds(start, kept[i].fingerprints + fp)
    excess = sum(len(e.fingerprints) for e in kept) // FINGERPRINT_CHARS - max_ids
    while excess > 0:
        oldest = kept[0]
        drop = min(excess, len(oldest.fingerprints) // FINGERPRINT_CHARS)
        rest = oldest.fingerprints[drop * FINGERPRINT_CHARS:]
        kept = ([SeenIds(oldest.start_ms, rest)] if rest else []) + kept[1:]
        excess -= drop
    return kept
