"""Hot results in Redis that converge to a failure-free run after any replay.

PyFlink gives Python no checkpoint hook and Redis has no transaction that spans a
checkpoint, so every write is an idempotent, version-fenced upsert run by one atomic
Lua script: the hash is written only if the incoming version is newer than the stored
one, and an optional sorted-set index (an alert feed) is updated in the same step.
Values are absolute and versions come from checkpointed keyed state, so replaying
events after a failure rewrites nothing or the very same values.

The operator flushes the writes of each event (or timer) in one pipelined round trip
before it takes the next one. That is what makes the upserts exactly-once under failure:
PyFlink gives Python operators no hook before a checkpoint barrier, so a buffer that
outlived its event could be covered by a checkpoint and then lost with a killed
TaskManager, and no replay would ever rewrite it.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Mapping, Sequence

# KEYS[1] hash, KEYS[2] sorted-set index or absent.
# ARGV[1] version, ARGV[2] index score, ARGV[3] index member, ARGV[4..] field/value pairs.
UPSERT_IF_NEWER = """
local current = redis.call('HGET', KEYS[1], 'version')
if current and tonumber(current) >= tonumber(ARGV[1]) then
  return 0
end
redis.call('HSET', KEYS[1], 'version', ARGV[1], unpack(ARGV, 4))
if KEYS[2] then
  redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
end
return 1
"""


@dataclass(frozen=True)
class HotRecord:
    """One upsert: a hash with a version, and optionally its place in an ordered index."""

    key: str
    version: int
    fields: Mapping[str, object]
    index_key: str | None = None
    index_score: float = 0.0
    index_member: str = ""
    # The event this result comes from; not written, used to measure event-to-hot latency.
    event_time_ms: int = 0

    def script_args(self) -> tuple[list[str], list[object]]:
        keys = [self.key] + ([self.index_key] if self.index_key else [])
        args: list[object] = [self.version, self.index_score, self.index_member]
        for name, value in self.fields.items():
            args += [name, value]
        return keys, args


@dataclass
class FlushResult:
    written: int
    skipped: int
    seconds: float
    event_times_ms: list = field(default_factory=list)


@dataclass
class RedisVersionedWriter:
    """Collects HotRecords and applies them with UPSERT_IF_NEWER in one pipeline round trip."""

    url: str
    _pending: list = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        import redis

        self._client = redis.Redis.from_url(self.url, socket_timeout=10, socket_connect_timeout=5,
                                            retry_on_timeout=True)
        self._sha = None

    def add(self, record: HotRecord) -> None:
        self._pending.append(record)

    def __len__(self) -> int:
        return len(self._pending)

    def flush(self, attempts: int = 5) -> FlushResult:
        """Write every pending record; retries a lost connection, then raises (the job restarts)."""
        if not self._pending:
            return FlushResult(0, 0, 0.0)
        import redis

        records, self._pending = self._pending, []
        t0 = time.perf_counter()
        for attempt in range(attempts):
            try:
                results = self._apply(records)
                break
            except (redis.ConnectionError, redis.TimeoutError):
                if attempt == attempts - 1:
                    self._pending = records + self._pending
                    raise
                time.sleep(min(0.1 * 2**attempt, 2.0))
        written = sum(1 for r in results if r == 1)
        return FlushResult(written, len(records) - written, time.perf_counter() - t0,
                           [r.event_time_ms for r in records])

    def _apply(self, records: Sequence[HotRecord]) -> list:
        """One round trip of EVALSHA calls. The script is loaded once, and again only when Redis
        says it lost it (a restart empties its script cache); a pipeline through redis-py's
        `Script` would ask `SCRIPT EXISTS` in a second round trip on every flush."""
        import redis

        if self._sha is None:
            self._sha = self._client.script_load(UPSERT_IF_NEWER)
        try:
            return self._evalsha(records)
        except redis.exceptions.NoScriptError:
            self._sha = self._client.script_load(UPSERT_IF_NEWER)
            return self._evalsha(records)

    def _evalsha(self, records: Sequence[HotRecord]) -> list:
        if len(records) == 1:
            keys, args = records[0].script_args()
            return [self._client.evalsha(self._sha, len(keys), *keys, *args)]
        pipe = self._client.pipeline(transaction=False)
        for record in records:
            keys, args = record.script_args()
            pipe.evalsha(self._sha, len(keys), *keys, *args)
        return pipe.execute()

    def close(self) -> None:
        self._client.close()
