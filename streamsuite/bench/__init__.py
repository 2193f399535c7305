"""`streamsuite bench <job>`: throughput, CPU, latency, checkpoints and memory, arm against arm.

Every number is measured on the local stack against arms run side by side in the same
invocation, interleaved round by round (the order rotates each round), and reported as
the median and spread over the rounds, and as a ratio to our job. The machine is shared
and noisy; a ratio between arms measured minutes apart in the same invocation is what
can be trusted, an absolute number is only an indication.

One arm run (one JVM) has two phases:

1. Throughput. A seeded backlog of N events is in the arm's own Kafka topic before the
   job starts. The harness polls the job's REST API (metrics refreshed every 500 ms) for
   `numRecordsIn` of the keyed operator's task (`score`, `naive-score`, `OverAggregate`,
   ...) and reads utime+stime from /proc of the job's process tree (the Python client,
   the JVM, Python workers) and of the stack's recorded PIDs (`.run/stack/*/pid`: Kafka,
   Redis, S3). Sustained throughput = events between the samples where 10 % and 90 % of the
   backlog had reached the keyed operator, divided by the time between them; JVM start-up,
   warm-up and the tail are outside that window. Events per CPU-second use the CPU spent in
   the same window.
2. Latency, at a fixed offered load: `--load` (0.5) times the throughput this run just
   measured. A load generator in its own process (`streamsuite.loadgen`) produces events
   from the same seeded stream with their event time set to the wall clock at the moment
   of producing. A separate receiver process subscribes to Redis keyspace notifications
   for one in ten of the arm's hot keys (`<prefix>:card:*0`, `--latency-key-sample`) and, for
   each change, reads the hash's `event_time_ms` and `updated_at_ms`: event-to-hot latency =
   notification time - event time. With `--kafka-probe` the same process also consumes the
   input topic (producer to consumable: the Kafka stage). `updated_at_ms` is stamped when the keyed operator has
   updated the state, which splits the rest into Kafka+decode+state and state-to-Redis. The
   SQL arm has no Redis sink; its hot result is a Kafka topic whose rows carry the event
   time. The harness turns keyspace notifications on (`notify-keyspace-events` += `Kh`)
   for the duration of a latency phase and restores the previous value afterwards.

Checkpoint duration and size come from `/jobs/<id>/checkpoints` (the first checkpoint that
completes after the backlog is processed, per vertex); state per key is the keyed vertex's
checkpointed state divided by the distinct keys in the backlog. RSS is the maximum seen
per process during the run.
"""
from __future__ import annotations

from streamsuite.bench.arms import BenchError
from streamsuite.bench.cli import add_arguments, main

__all__ = ["BenchError", "add_arguments", "main"]
