"""The Redis hot sink of every job: one wrapper around the JVM sink in `deploy/redis-sink/`.

Python operators only emit hot rows (on the `HOT` side output, see `jobs.operators`); the
sink, a Flink Sink V2 writer chained after them, batches the version-fenced upserts by count
(`redis.batch_max_records`) and delay (`redis.batch_max_delay_ms`) and writes and awaits all
it holds before every checkpoint barrier. No Python operator does network I/O.
"""
from __future__ import annotations

from pyflink.common import Row, Types
from pyflink.datastream import OutputTag

from jobs.config import JobConfig
from jobs.environment import from_sink_jar
from udfs.hot import HotRecord

# The layout io.streamsuite.redis.HotUpsert reads, field by field.
HOT_ROW_TYPE = Types.ROW_NAMED(
    ["key", "version", "fields", "index_key", "index_score", "index_member", "ttl_ms", "event_time_ms"],
    [Types.STRING(), Types.LONG(), Types.BASIC_ARRAY(Types.STRING()), Types.STRING(), Types.DOUBLE(),
     Types.STRING(), Types.LONG(), Types.LONG()])
HOT = OutputTag("hot", HOT_ROW_TYPE)


def hot_row(record: HotRecord) -> Row:
    return Row(record.key, record.version, record.field_values(), record.index_key, float(record.index_score),
               record.index_member, record.ttl_ms, record.event_time_ms or 0)


def redis_hot_sink(stream, config: JobConfig, name: str = "redis-hot") -> None:
    """Hot rows to Redis, exactly-once with the job's checkpoints (see the module docstring)."""
    from pyflink.datastream.connectors import Sink

    r = config.redis
    sink = from_sink_jar(lambda ours: ours.redis.RedisHotSink(ours.redis.RedisHotSinkOptions(
        r.url, r.password, r.batch_max_records, r.batch_max_delay_ms, r.max_in_flight_batches, r.retry_initial_ms,
        r.retry_max_ms, r.max_outage_ms, r.timeout_ms)))
    stream.sink_to(Sink(sink)).name(name).uid(f"{config.job}-{name}")
