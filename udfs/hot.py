"""Hot results: what a job writes to Redis, as plain values.

A hot result is an idempotent, version-fenced upsert: its hash is written only if its
version is newer than the stored one (an optional sorted-set index, such as an alert feed,
is updated in the same atomic step). Values are absolute and versions come from
checkpointed keyed state, so a replay after a failure rewrites nothing or the very same
values. The domain modules build `HotRecord`s; the JVM hot sink (`deploy/redis-sink/`,
used through `jobs/hot_sink.py`) applies them with one Lua script, batched, and has written
and awaited every one of them before the checkpoint that covers its event completes.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping


@dataclass(frozen=True)
class HotRecord:
    """One upsert: a hash with a version, optionally its place in an ordered index and a TTL."""

    key: str
    version: int
    fields: Mapping[str, object]
    index_key: str | None = None
    index_score: float = 0.0
    index_member: str = ""
    # The event this result comes from; not written, used to measure event-to-hot latency.
    event_time_ms: int = 0
    # Milliseconds until Redis drops the hash; 0 keeps it.
    ttl_ms: int = 0

    def field_values(self) -> list[str]:
        """Field names and values, alternating, as Redis stores them (ints and floats in their repr).
        A list: process mode's array coder refuses a tuple."""
        flat: list[str] = []
        for name, value in self.fields.items():
            flat.append(name)
            flat.append(value if isinstance(value, str) else repr(value))
        return flat
