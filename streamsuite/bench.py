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

import argparse
import datetime as dt
import json
import math
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from jobs.paths import project_root, run_dir
from jobs.specs import FRAUD, INVENTORY, MAINTENANCE, JobSpec
from streamsuite.loadgen import TimedPayload, producer_main, timed_payloads
from streamsuite.paths import portable

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024
METRICS_INTERVAL_MS = 500
POLL_S = 0.25
START_TIMEOUT_S = 240.0
CHECKPOINT_TIMEOUT_S = 40.0
TAIL_QUIET_S = 3.0
IDLE_S = 4.0
STALL_S = 120.0
TAIL_TIMEOUT_S = 30.0


class BenchError(RuntimeError):
    """The benchmark cannot run; the message says why."""


# ---------------------------------------------------------------- what is measured


@dataclass(frozen=True)
class JobBench:
    """What the harness needs to know about one job beyond its spec."""

    spec: JobSpec
    keys: int
    events: int
    hot_time_field: str       # the hash field latency is measured against
    latency_seconds: float
    arms: tuple[str, ...]
    target_note: str = ""

    @property
    def job(self) -> str:
        return self.spec.job

    @property
    def module(self) -> str:
        return self.spec.module

    @property
    def hot_pattern(self) -> str:
        """The keyspace pattern after the prefix that latency is sampled on: the job's first hot key."""
        return self.spec.hot_keys[0]

    @property
    def vertex(self) -> str:
        """The keyed operator's name, the start of its task name."""
        return self.spec.operator


JOBS: dict[str, JobBench] = {
    "fraud": JobBench(FRAUD, 10_000, 80_000, "event_time_ms", 20.0,
                      ("ours", "ceiling", "quix", "ours-p2", "ours-nocold", "ours-ckpt10s", "sql", "naive")),
    "inventory": JobBench(INVENTORY, 1_000, 60_000, "event_time_ms", 20.0, ("ours",)),
    "maintenance": JobBench(MAINTENANCE, 100, 40_000, "window_end_ms", 150.0, ("ours",)),
}


@dataclass(frozen=True)
class Arm:
    name: str
    label: str
    description: str
    kind: str                 # ours | ceiling | quix | sql | naive
    parallelism: int = 1
    cold: bool = True
    latency: bool = True
    vertex: str = ""          # overrides the job's keyed operator name
    sets: tuple[str, ...] = ()  # extra `--set key=value` for our job


def arms_for(job: JobBench) -> dict[str, Arm]:
    return {
        "ours": Arm("ours", "ours", f"`{job.module}` as shipped (thread mode, version-fenced Redis upserts "
                    "through the JVM hot sink, S3 Parquet cold sink, dead-letter sink), parallelism 1", "ours"),
        "ceiling": Arm("ceiling", "PyFlink keyed ceiling", "`benchmarks/fraud_ceiling.py`: the same source and JVM "
                       "hot sink around a KeyedProcessFunction with one ValueState and no domain work (thread mode)",
                       "ceiling", vertex="ceiling-keyed"),
        "ours-p2": Arm("ours-p2", "ours p=2", "our job as shipped with parallelism 2 (throughput only)", "ours",
                       parallelism=2, latency=False),
        "ours-nocold": Arm("ours-nocold", "ours, no S3", "diagnostic: our job with the S3 cold sink off "
                           "(`s3.enabled=false`), throughput only", "ours", cold=False, latency=False),
        "ours-ckpt10s": Arm("ours-ckpt10s", "ours, checkpoints 10 s", "diagnostic: our job with checkpoints "
                            "every 10 s instead of 2 s (each checkpoint stalls the hot path for tens of ms)",
                            "ours", sets=("checkpoint.interval_ms=10000",)),
        "sql": Arm("sql", "Flink SQL", "`benchmarks/fraud_sql.py`: per-card COUNT/AVG/STDDEV/MAX over a 1-hour "
                   "OVER window in Flink SQL built-ins, JSON from Kafka, results to a Kafka topic (no Redis sink "
                   "in Flink SQL)", "sql", vertex="OverAggregate"),
        "quix": Arm("quix", "Quix Streams", "`benchmarks/fraud_quix.py`: the same fraud features and score "
                    "(`udfs.fraud`) on Quix Streams 3.28.1, RocksDB state, exactly-once processing, the same "
                    "version-fenced Lua upsert in a sink flushed at each 1 s checkpoint (its own venv)", "quix"),
        "naive": Arm("naive", "naive PyFlink", "`benchmarks/fraud_naive.py`: process mode, default bundles, "
                     "pickled state, one synchronous Redis HSET per event", "naive", vertex="naive-score"),
    }


# ---------------------------------------------------------------- /proc accounting


def _read_stat(path: str) -> tuple[str, list[str]] | None:
    """(comm, the fields after it) of a /proc `stat` file, or None if the process or thread is gone.
    The fields are numbered from `state` (0): ppid 1, utime 11, stime 12, rss 21."""
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        return None
    head, _, tail = text.rpartition(")")
    return head.partition("(")[2], tail.split()


def _proc_table() -> dict[int, tuple[int, int, int, str]]:
    """pid -> (ppid, utime+stime ticks, rss kB, comm) for every visible process."""
    table = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        stat = _read_stat(f"/proc/{entry.name}/stat")
        if stat is None:
            continue
        comm, fields = stat
        try:
            table[int(entry.name)] = (int(fields[1]), int(fields[11]) + int(fields[12]), int(fields[21]) * PAGE_KB,
                                      comm)
        except (IndexError, ValueError):
            continue
    return table


def _tree(roots: list[int], table: dict[int, tuple[int, int, int, str]]) -> set[int]:
    children: dict[int, list[int]] = {}
    for pid, (ppid, *_rest) in table.items():
        children.setdefault(ppid, []).append(pid)
    found, todo = set(), [r for r in roots if r in table]
    while todo:
        pid = todo.pop()
        if pid in found:
            continue
        found.add(pid)
        todo += children.get(pid, [])
    return found


def stack_pids() -> dict[str, int]:
    """The stack's recorded PIDs (`.run/stack/<service>/pid`) that are alive."""
    pids = {}
    for pid_file in sorted((run_dir() / "stack").glob("*/pid")):
        try:
            pid = int(pid_file.read_text().strip())
        except (OSError, ValueError):
            continue
        if Path(f"/proc/{pid}").exists():
            pids[pid_file.parent.name] = pid
    return pids


@dataclass
class CpuSample:
    t: float
    job_ticks: int
    stack_ticks: int
    # CPU ticks per thread name of the job's JVM (Flink names a task's thread after the task).
    threads: dict | None = None


def thread_ticks(pid: int) -> dict[str, int]:
    """utime+stime per thread name (comm, 15 characters) of one process, summed over same-named threads;
    `<name> runq` holds the time (in ticks) those threads waited on a run queue for a CPU (schedstat)."""
    ticks: dict[str, int] = {}
    try:
        entries = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return ticks
    for tid in entries:
        stat = _read_stat(f"/proc/{pid}/task/{tid}/stat")
        if stat is None:
            continue
        name, fields = stat
        ticks[name] = ticks.get(name, 0) + int(fields[11]) + int(fields[12])
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                run_delay_ns = int(f.read().split()[1])
            ticks[f"{name} runq"] = ticks.get(f"{name} runq", 0) + run_delay_ns * CLK_TCK // 1_000_000_000
        except (OSError, ValueError, IndexError):
            pass
    return ticks


class ProcessMeter:
    """CPU of the job's process tree and of the stack, and the peak RSS of each process."""

    def __init__(self, job_pid: int):
        self.job_pid = job_pid
        self.stack = stack_pids()
        self.rss_kb: dict[str, int] = {}
        # CPU of a process that exited is gone from /proc; keep its last value so sums never drop.
        self._job_ticks: dict[int, int] = {}
        self._stack_ticks: dict[int, int] = {}

    def _label(self, pid: int, comm: str) -> str:
        if pid == self.job_pid:
            return "job client (python)"
        if comm == "java":
            return "Flink JVM"
        if comm.startswith(("python", "pyflink")):
            return "Python workers (sum)"
        return comm

    def sample(self) -> CpuSample:
        table = _proc_table()
        rss: dict[str, int] = {}
        for pid in _tree([self.job_pid], table):
            self._job_ticks[pid] = table[pid][1]
            label = self._label(pid, table[pid][3])
            rss[label] = rss.get(label, 0) + table[pid][2]
        for name, root in self.stack.items():
            for pid in _tree([root], table):
                self._stack_ticks[pid] = table[pid][1]
                label = name if pid == root else f"{name} child"
                rss[label] = rss.get(label, 0) + table[pid][2]
        for label, kb in rss.items():
            self.rss_kb[label] = max(self.rss_kb.get(label, 0), kb)
        threads: dict[str, int] = {}
        for pid in _tree([self.job_pid], table):
            if table[pid][3] == "java":
                for name, ticks in thread_ticks(pid).items():
                    threads[name] = threads.get(name, 0) + ticks
        return CpuSample(time.monotonic(), sum(self._job_ticks.values()), sum(self._stack_ticks.values()), threads)


# ---------------------------------------------------------------- Flink REST


class Rest:
    def __init__(self, port: int):
        self.base = f"http://127.0.0.1:{port}"

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.base + path, timeout=3) as response:
            return json.load(response)

    def job(self) -> dict | None:
        jobs = self.get("/jobs")["jobs"]
        running = [j for j in jobs if j["status"] == "RUNNING"] or jobs
        return self.get(f"/jobs/{running[0]['id']}") if running else None

    def vertex_avg(self, jid: str, vid: str, metrics: tuple[str, ...]) -> dict[str, float]:
        url = f"/jobs/{jid}/vertices/{vid}/subtasks/metrics?get={urllib.parse.quote(','.join(metrics))}&agg=avg"
        return {m["id"]: float(m["avg"]) for m in self.get(url) if "avg" in m}

    def vertex_sum(self, jid: str, vid: str, metric: str) -> float | None:
        url = f"/jobs/{jid}/vertices/{vid}/subtasks/metrics?get={urllib.parse.quote(metric)}&agg=sum"
        values = self.get(url)
        return float(values[0]["sum"]) if values and "sum" in values[0] else None


TIME_METRICS = ("busyTimeMsPerSecond", "backPressuredTimeMsPerSecond", "idleTimeMsPerSecond")


def vertex_label(name: str) -> str:
    """A task's name without topic names, its first two operators: "Source: kafka -> decode+validate"."""
    parts = [p.strip("() ") for p in name.split(" -> ")]
    if parts[0].startswith("Source: kafka"):
        parts[0] = "Source: kafka"
    return " -> ".join(parts[:2])[:60]


def free_port() -> int:
    """A free port below Linux's ephemeral range (32768+), where the job's own outgoing
    connections cannot take it between this check and the REST server's start."""
    import random

    for _ in range(200):
        port = random.randint(20_000, 32_000)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise BenchError("no free port for the job's REST API between 20000 and 32000")


# ---------------------------------------------------------------- input


@dataclass
class Workload:
    """The seeded stream: a backlog prefix and live events after it, as plain Protobuf records."""

    job: JobBench
    records: list[tuple[bytes, bytes]]
    times_ms: list[int]
    backlog: int
    seed: int

    def keys_in(self, n: int) -> int:
        return len({key for key, _ in self.records[:n]})

    def timed_live(self, json_out: bool) -> list[TimedPayload]:
        """The live pool, encoded once for the load generator (see `streamsuite.loadgen`)."""
        return timed_payloads(_message_class(self.job), self.records[self.backlog:] or self.records, json_out)


def make_workload(job: JobBench, backlog: int, live_pool: int, keys: int, seed: int) -> Workload:
    from streamsuite.generator import generate

    stream = generate(job.job, count=backlog + live_pool, keys=keys, seed=seed)
    return Workload(job, stream.records, stream.times_ms, backlog, seed)


def _message_class(job: JobBench):
    return job.spec.event_type.message_class


def as_json(message) -> bytes:
    """A flat JSON object of a message's fields (int64 as numbers, enums as numbers) for Flink SQL."""
    return json.dumps({f.name: getattr(message, f.name) for f in message.DESCRIPTOR.fields},
                      separators=(",", ":")).encode()


def publish(bootstrap: str, topic: str, records, times, json_out: bool, job: JobBench) -> None:
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20, "batch.size": 1 << 20,
                         "enable.idempotence": True, "acks": "all", "compression.type": "none"})
    cls = _message_class(job) if json_out else None
    for (key, value), time_ms in zip(records, times):
        if cls is not None:
            value = as_json(cls.FromString(value))
        while True:
            try:
                producer.produce(topic, value=value, key=key, timestamp=time_ms)
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
    if producer.flush(120):
        raise BenchError(f"could not deliver the backlog to {topic} within 120 s")


# ---------------------------------------------------------------- the latency receiver (own process)


def _receiver_main(spec: dict, out_path: str, ready, stop, progress) -> None:
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


# ---------------------------------------------------------------- statistics


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    k = (len(ordered) - 1) * q / 100
    lo, hi = math.floor(k), math.ceil(k)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def dist(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"n": 0}
    return {"n": len(values), "p50": percentile(values, 50), "p90": percentile(values, 90),
            "p99": percentile(values, 99), "p999": percentile(values, 99.9), "max": max(values),
            "mean": statistics.fmean(values)}


def spread(values: list[float | None]) -> dict[str, Any]:
    vs = [v for v in values if v is not None]
    if not vs:
        return {"median": None, "min": None, "max": None, "n": 0}
    return {"median": statistics.median(vs), "min": min(vs), "max": max(vs), "n": len(vs)}


# ---------------------------------------------------------------- one arm, one round


@dataclass
class Plan:
    job: JobBench
    settings: Any
    workload: Workload
    backlog: dict[str, int]
    load: float
    latency_seconds: float
    drain_timeout_s: float
    work: Path
    say: Callable[[str], None]
    keep: bool = False
    stamp: str = ""
    job_set: tuple[str, ...] = ()
    warmup_seconds: float = 5.0
    max_latency_load: float | None = None
    kafka_probe: bool = False
    latency_key_sample: int = 10


# Keys of every job end in a decimal counter (`card-000042`): a keyspace pattern ending in "0" follows
# one key in ten, a uniform sample of the events, at a tenth of the receiver's and Redis's work.
KEY_SAMPLE_SUFFIX = {1: "", 10: "0", 100: "00"}


def _topics(bootstrap: str, names: list[str], partitions: int) -> None:
    """The run's topics, with time-based retention off.

    The generator stamps records with event times from 2024 (`DEFAULT_START_TIME_MS`); with the
    broker's default 7-day retention, the retention check (every 5 minutes) deletes such
    records whenever it runs, and a job that starts after it finds an empty topic.
    """
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    topics = [NewTopic(t, partitions, 1, config={"retention.ms": "-1"}) for t in names]
    for future in admin.create_topics(topics, operation_timeout=30).values():
        future.result(timeout=60)


def _topics_named(bootstrap: str, fragment: str) -> list[str]:
    """Topics an arm made for itself (Quix's changelog topics carry the consumer group's name)."""
    from confluent_kafka.admin import AdminClient

    try:
        names = AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=10).topics
    except Exception:  # noqa: BLE001 - cleanup is best effort
        return []
    return [name for name in names if fragment in name]


def _cleanup(plan: Plan, topics: list[str], redis_prefix: str, s3_prefix: str | None, folders: list[Path]) -> None:
    """Delete what a run made: its topics, Redis keys, cold files and checkpoints (not its log)."""
    settings = plan.settings
    try:
        from confluent_kafka.admin import AdminClient

        AdminClient({"bootstrap.servers": settings.kafka_bootstrap}).delete_topics(topics, operation_timeout=30)
    except Exception as exc:  # noqa: BLE001 - cleanup must not hide the result
        plan.say(f"    cleanup: topics not deleted ({exc})")
    try:
        import redis

        client = redis.Redis.from_url(settings.redis_url)
        batch = []
        for key in client.scan_iter(match=f"{redis_prefix}:*", count=2000):
            batch.append(key)
            if len(batch) >= 2000:
                client.unlink(*batch)
                batch.clear()
        if batch:
            client.unlink(*batch)
    except Exception as exc:  # noqa: BLE001
        plan.say(f"    cleanup: Redis keys not deleted ({exc})")
    if s3_prefix:
        try:
            import boto3

            from jobs.specs import COLD_BUCKET

            s3 = boto3.client("s3", endpoint_url=settings.s3_endpoint, aws_access_key_id=settings.s3_access_key,
                              aws_secret_access_key=settings.s3_secret_key, region_name="us-east-1")
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=COLD_BUCKET, Prefix=s3_prefix):
                objects = [{"Key": o["Key"]} for o in page.get("Contents", [])]
                if objects:
                    s3.delete_objects(Bucket=COLD_BUCKET, Delete={"Objects": objects})
        except Exception as exc:  # noqa: BLE001
            plan.say(f"    cleanup: S3 prefix {s3_prefix} not deleted ({exc})")
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)


class _Notifications:
    """Redis keyspace notifications for hashes while a latency phase runs; the old value comes back."""

    def __init__(self, url: str):
        import redis

        self.client = redis.Redis.from_url(url, decode_responses=True)
        self.before: str | None = None

    def __enter__(self):
        self.before = self.client.config_get("notify-keyspace-events").get("notify-keyspace-events", "")
        flags = set(self.before) | {"K", "h"}
        self.client.config_set("notify-keyspace-events", "".join(sorted(flags)))
        return self

    def __exit__(self, *exc):
        self.client.config_set("notify-keyspace-events", self.before or "")


def _command(plan: Plan, arm: Arm, run_id: str, topics: dict[str, str], port: int, ckpt: Path) -> list[str]:
    from streamsuite.localrun import job_command

    settings, job = plan.settings, plan.job
    if arm.kind == "ours":
        extra = ["--set", f"flink.rest.port={port}",
                 "--set", f"flink.metrics.fetcher.update-interval={METRICS_INTERVAL_MS}",
                 "--set", "runtime.restart_attempts=0",
                 "--set", f"checkpoint.directory={ckpt.as_uri()}",
                 "--parallelism", str(arm.parallelism)]
        if not arm.cold:
            extra += ["--set", "s3.enabled=false"]
        for item in (*arm.sets, *plan.job_set):
            extra += ["--set", item]
        return job_command(job.module, settings, input_topic=topics["input"], dead_letter_topic=topics["dead"],
                           run_id=run_id, namespace="bench", bounded=False, extra=extra)
    script = project_root() / "benchmarks" / f"{job.job}_{arm.kind}.py"
    if arm.kind == "quix":
        return [str(quix_python()), str(script), "--bootstrap", settings.kafka_bootstrap, "--topic", topics["input"],
                "--group", f"bench-{run_id}", "--redis-url", settings.redis_url, "--prefix", f"bench:{run_id}",
                "--state-dir", str(ckpt), "--progress-file", str(progress_file(plan, run_id))]
    command = [sys.executable, str(script), "--bootstrap", settings.kafka_bootstrap, "--topic", topics["input"],
               "--group", f"bench-{run_id}", "--parallelism", str(arm.parallelism), "--rest-port", str(port),
               "--checkpoint-dir", ckpt.as_uri(), "--metrics-interval-ms", str(METRICS_INTERVAL_MS)]
    if arm.kind == "sql":
        command += ["--output-topic", topics["output"]]
    else:
        command += ["--redis-url", settings.redis_url, "--prefix", f"bench:{run_id}"]
    return command


QUIX_REQUIREMENTS = "benchmarks/requirements-quix.txt"


def quix_python() -> Path:
    """The Quix Streams arm's interpreter: a venv of its own (its confluent-kafka pin clashes with ours)."""
    venv = run_dir() / "venvs" / "quix"
    requirements = project_root() / QUIX_REQUIREMENTS
    stamp = venv / ".installed"
    if stamp.exists() and stamp.read_text() == requirements.read_text():
        return venv / "bin" / "python"
    print(f"bench: installing {QUIX_REQUIREMENTS} into {portable(str(venv))} (once) ...", flush=True)
    base = shutil.which("python3.11") or sys.executable
    for command in ([base, "-m", "venv", str(venv)],
                    [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "-r", str(requirements)]):
        result = subprocess.run(command, capture_output=True, text=True, timeout=900)
        if result.returncode != 0:
            raise BenchError(f"could not set up the Quix Streams venv ({' '.join(command[:3])}): "
                             f"{(result.stderr or result.stdout).strip().splitlines()[-1:]}")
    stamp.write_text(requirements.read_text())
    return venv / "bin" / "python"


def progress_file(plan: "Plan", run_id: str) -> Path:
    """Where an arm without Flink's REST API (Quix) writes how many events it has processed."""
    return plan.work / run_id / "progress"


def _read_progress(path: Path) -> float | None:
    try:
        return float(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _window_rate(samples: list[tuple[float, float, CpuSample]], total: int) -> dict[str, Any]:
    """Sustained rate between the samples where 10 % and 90 % of the backlog had been counted."""
    lo_i = next((i for i, s in enumerate(samples) if s[1] >= 0.1 * total), None)
    hi_i = next((i for i, s in enumerate(samples) if s[1] >= 0.9 * total), None)
    if lo_i is None:
        return {"throughput_eps": None}
    if hi_i is None:
        hi_i = len(samples) - 1
    if hi_i <= lo_i:
        lo_i = max(0, lo_i - 1)
    t0, c0, cpu0 = samples[lo_i]
    t1, c1, cpu1 = samples[hi_i]
    seconds, events = t1 - t0, c1 - c0
    if seconds <= 0 or events <= 0:
        return {"throughput_eps": None}
    job_cpu = (cpu1.job_ticks - cpu0.job_ticks) / CLK_TCK
    stack_cpu = (cpu1.stack_ticks - cpu0.stack_ticks) / CLK_TCK
    cpu = job_cpu + stack_cpu
    threads, runq = {}, {}
    if cpu0.threads and cpu1.threads:
        for name, ticks in cpu1.threads.items():
            used = (ticks - cpu0.threads.get(name, 0)) / CLK_TCK / seconds
            if name.endswith(" runq"):
                runq[name[:-5]] = used
            elif used >= 0.02:
                threads[name] = used
    return {"throughput_eps": events / seconds, "window_events": events, "window_s": seconds,
            "jvm_thread_cores": dict(sorted(threads.items(), key=lambda kv: -kv[1])[:8]),
            "jvm_thread_runqueue_wait": {name: runq.get(name, 0.0) for name in
                                         sorted(threads, key=lambda n: -threads[n])[:8]},
            "cpu_job_s": job_cpu, "cpu_stack_s": stack_cpu, "cores_used": cpu / seconds,
            "events_per_cpu_s": events / cpu if cpu > 0 else None,
            "job_cpu_us_per_event": job_cpu / events * 1e6, "stack_cpu_us_per_event": stack_cpu / events * 1e6}


def _checkpoint(rest: Rest, jid: str, keyed_vid: str, after_ms: float) -> dict[str, Any]:
    """The first checkpoint completed after the backlog was processed: duration and sizes."""
    deadline = time.monotonic() + CHECKPOINT_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            stats = rest.get(f"/jobs/{jid}/checkpoints")
        except (OSError, ValueError):
            time.sleep(0.5)
            continue
        done = [h for h in stats.get("history", []) if h.get("status") == "COMPLETED"
                and h.get("trigger_timestamp", 0) >= after_ms]
        if done:
            first = min(done, key=lambda h: h["id"])
            details = rest.get(f"/jobs/{jid}/checkpoints/details/{first['id']}")
            keyed = details.get("tasks", {}).get(keyed_vid, {})
            summary = stats.get("summary", {})
            return {"id": first["id"], "end_to_end_ms": first.get("end_to_end_duration"),
                    "state_size_bytes": first.get("state_size"),
                    "checkpointed_size_bytes": first.get("checkpointed_size"),
                    "keyed_vertex_state_bytes": keyed.get("state_size"),
                    "keyed_vertex_duration_ms": keyed.get("end_to_end_duration"),
                    "during_run": {"completed": stats.get("counts", {}).get("completed"),
                                   "failed": stats.get("counts", {}).get("failed"),
                                   "end_to_end_ms": summary.get("end_to_end_duration", {}),
                                   "state_size_bytes": summary.get("state_size", {})}}
        time.sleep(0.5)
    return {"error": f"no checkpoint completed within {CHECKPOINT_TIMEOUT_S:.0f} s after the backlog"}


def run_arm(plan: Plan, arm: Arm, round_no: int) -> dict[str, Any]:
    settings, job, say = plan.settings, plan.job, plan.say
    run_id = f"{plan.stamp}-{arm.name}-r{round_no}-{uuid.uuid4().hex[:4]}"
    folder = plan.work / run_id
    folder.mkdir(parents=True, exist_ok=True)
    ckpt = folder / "checkpoints"
    topics = {"input": f"bench.{run_id}.input", "dead": f"bench.{run_id}.deadletter"}
    if arm.kind == "sql":
        topics["output"] = f"bench.{run_id}.output"
    backlog = plan.backlog.get(arm.kind, plan.backlog["ours"])
    result: dict[str, Any] = {"round": round_no, "run_id": run_id, "backlog_events": backlog,
                              "keys": plan.workload.keys_in(backlog)}
    _topics(settings.kafka_bootstrap, list(topics.values()), 4)
    t0 = time.monotonic()
    publish(settings.kafka_bootstrap, topics["input"], plan.workload.records[:backlog],
            plan.workload.times_ms[:backlog], arm.kind == "sql", job)
    say(f"  round {round_no} {arm.label}: {backlog} events in {topics['input']} ({time.monotonic() - t0:.1f} s); "
        "starting the job")
    port = free_port()
    command = _command(plan, arm, run_id, topics, port, ckpt)
    result["command"] = portable(" ".join(command))
    log_path = folder / "job.log"
    # Flink's local log file has one fixed name; each run gets its own folder so runs never overwrite it.
    # The checkout's own code first on the path, for the arm scripts and the embedded Python of the
    # job's TaskManager: an editable install would otherwise give them another checkout's modules.
    code = os.pathsep.join([str(project_root()), str(project_root() / "proto")])
    env = {**os.environ, "FLINK_LOG_DIR": str(folder),
           "PYTHONPATH": code + (os.pathsep + os.environ["PYTHONPATH"] if os.environ.get("PYTHONPATH") else "")}
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, cwd=project_root(), stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True, env=env)
    from streamsuite.stack import stop_pid

    try:
        result.update(_measure(plan, arm, process, Rest(port), topics, run_id, backlog, log_path))
    except BenchError as exc:
        result["error"] = str(exc)
        say(f"    {arm.label}: {exc}")
    except Exception as exc:  # noqa: BLE001 - one broken run must not lose the others
        import traceback

        (folder / "harness-error.txt").write_text(traceback.format_exc())
        result["error"] = f"{exc.__class__.__name__}: {exc} (traceback in {folder / 'harness-error.txt'})"
        say(f"    {arm.label}: {result['error']}")
    finally:
        stop_pid(process.pid, timeout_s=20)
        if not plan.keep:
            if arm.kind == "quix":
                topics.update({t: t for t in _topics_named(settings.kafka_bootstrap, run_id)})
            _cleanup(plan, list(topics.values()), f"bench:{run_id}",
                     f"bench/{run_id}/" if arm.kind == "ours" else None, [ckpt])
    return result


def _tail(path: Path, lines: int = 3) -> str:
    try:
        text = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return ""
    return " | ".join(text[-lines:])


def _wait_running(plan: Plan, arm: Arm, process, rest: Rest, run_id: str, log_path: Path):
    """Until the arm runs: (job id, keyed vertex id, job info) from Flink's REST API, or for an arm
    without Flink (Quix) (None, None, None) once it has written its first progress count."""
    started = time.monotonic()
    vertex_name = arm.vertex or plan.job.vertex
    progress = progress_file(plan, run_id) if arm.kind == "quix" else None
    while True:
        if process.poll() is not None:
            raise BenchError(f"the job exited with {process.returncode} before running: {_tail(log_path)}")
        if time.monotonic() - started > START_TIMEOUT_S:
            raise BenchError(f"the job was not running after {START_TIMEOUT_S:.0f} s; see {log_path}")
        if progress is not None:
            if _read_progress(progress) is not None:
                return None, None, None
        else:
            try:
                info = rest.job()
            except (OSError, ValueError, KeyError):
                info = None
            if info and info.get("state") == "RUNNING":
                match = [v for v in info["vertices"] if v["name"].startswith(vertex_name) or vertex_name in v["name"]]
                if match:
                    return info["jid"], match[0]["id"], info
        time.sleep(POLL_S)


def _measure(plan: Plan, arm: Arm, process, rest: Rest, topics, run_id: str, backlog: int,
             log_path: Path) -> dict[str, Any]:
    say = plan.say
    meter = ProcessMeter(process.pid)
    started = time.monotonic()
    jid, vid, info = _wait_running(plan, arm, process, rest, run_id, log_path)
    flink = jid is not None

    def processed() -> float | None:
        if not flink:
            return _read_progress(progress_file(plan, run_id))
        try:
            return rest.vertex_sum(jid, vid, "numRecordsIn")
        except (OSError, ValueError, KeyError):
            return None

    running_at = time.monotonic()
    samples: list[tuple[float, float, CpuSample]] = []
    busy: dict[str, list[dict[str, float]]] = {}
    vertices = [(v["id"], vertex_label(v["name"])) for v in info["vertices"]] if flink else []
    polls = 0
    first_seen = None
    count = 0.0
    deadline = running_at + plan.drain_timeout_s
    progress_at = running_at
    while count < backlog:
        if process.poll() is not None:
            raise BenchError(f"the job exited with {process.returncode} while processing: {_tail(log_path)}")
        if time.monotonic() - progress_at > STALL_S:
            where = _diagnose(rest, jid) if flink else _tail(log_path)
            raise BenchError(f"no progress for {STALL_S:.0f} s at {count:.0f}/{backlog} events "
                             f"({where}); log in {log_path.parent}")
        if time.monotonic() > deadline:
            say(f"    {arm.label}: backlog not processed within {plan.drain_timeout_s:.0f} s ({count:.0f}/{backlog});"
                " measuring what was processed")
            break
        cpu = meter.sample()
        value = processed()
        polls += 1
        if value is not None and 0.1 * backlog <= value <= 0.9 * backlog and polls % 4 == 0:
            # Where the time goes inside the throughput window: the busiest task is the bottleneck,
            # the tasks before it are back-pressured.
            for v_id, label in vertices:
                try:
                    busy.setdefault(label, []).append(rest.vertex_avg(jid, v_id, TIME_METRICS))
                except (OSError, ValueError, KeyError):
                    pass
        if value is not None:
            if value > count:
                progress_at = time.monotonic()
            count = value
            if count > 0 and first_seen is None:
                first_seen = cpu.t
            samples.append((cpu.t, count, cpu))
        time.sleep(POLL_S)
    drained_wall_ms = time.time() * 1000
    out: dict[str, Any] = {"startup_s": (first_seen or time.monotonic()) - started,
                           "processed_events": count, **_window_rate(samples, backlog)}
    out["task_time_ms_per_s"] = {
        label: {m: statistics.median(x[m] for x in rows if m in x) for m in TIME_METRICS
                if any(m in x for x in rows)}
        for label, rows in busy.items() if rows}
    say(f"    {arm.label}: {_fmt(out.get('throughput_eps'), '{:,.0f}')} events/s, "
        f"{_fmt(out.get('events_per_cpu_s'), '{:,.0f}')} events per CPU-second "
        f"({_fmt(out.get('cores_used'), '{:.2f}')} cores), first record {out['startup_s']:.1f} s after start")
    out["checkpoint"] = _checkpoint(rest, jid, vid, drained_wall_ms) if flink else {}
    keyed_bytes = out["checkpoint"].get("keyed_vertex_state_bytes")
    keys = plan.workload.keys_in(backlog)
    out["state_bytes_per_key"] = keyed_bytes / keys if keyed_bytes and keys else None
    # Idle: the job is caught up and nothing arrives; what it burns now is a fixed cost.
    idle0 = meter.sample()
    time.sleep(IDLE_S)
    idle1 = meter.sample()
    seconds = max(idle1.t - idle0.t, 1e-9)
    out["idle_cores"] = {"job": (idle1.job_ticks - idle0.job_ticks) / CLK_TCK / seconds,
                         "stack": (idle1.stack_ticks - idle0.stack_ticks) / CLK_TCK / seconds}
    if arm.latency and plan.latency_seconds > 0 and out.get("throughput_eps"):
        rate = min(out["throughput_eps"] * plan.load, plan.max_latency_load or math.inf)
        out["latency"] = _latency_phase(plan, arm, topics, run_id, rate, meter)
        lat = out["latency"].get("event_to_hot_ms", {})
        say(f"    {arm.label}: latency at {out['latency']['offered_eps']:,.0f} events/s: p50 "
            f"{_fmt(lat.get('p50'), '{:.1f}')} ms, p99 {_fmt(lat.get('p99'), '{:.1f}')} ms, "
            f"p99.9 {_fmt(lat.get('p999'), '{:.1f}')} ms ({lat.get('n', 0)} samples)")
    meter.sample()
    out["rss_mb"] = {name: round(kb / 1024, 1) for name, kb in sorted(meter.rss_kb.items())}
    return out


def _diagnose(rest: Rest, jid: str) -> str:
    """Records out of each vertex and the job's root exception, for a run that stopped moving."""
    try:
        info = rest.get(f"/jobs/{jid}")
        counts = [f"{v['name'][:40]}: out {rest.vertex_sum(jid, v['id'], 'numRecordsOut')}" for v in info["vertices"]]
        root = rest.get(f"/jobs/{jid}/exceptions").get("root-exception") or "no exception"
        return f"job {info.get('state')}; " + "; ".join(counts) + f"; {str(root).splitlines()[0][:200]}"
    except Exception as exc:  # noqa: BLE001 - best effort
        return f"REST not answering: {exc}"


def _fmt(value, pattern: str) -> str:
    return "-" if value is None else pattern.format(value)


def _harness_ticks(receiver_pid: int) -> int:
    """CPU ticks of the harness itself: this process and the latency receiver."""
    table = _proc_table()
    return sum(table[pid][1] for pid in (os.getpid(), receiver_pid) if pid in table)


def _latency_phase(plan: Plan, arm: Arm, topics, run_id: str, rate: float, meter: ProcessMeter) -> dict[str, Any]:
    import multiprocessing

    settings, job = plan.settings, plan.job
    ctx = multiprocessing.get_context("spawn")
    ready, stop = ctx.Event(), ctx.Event()
    progress = ctx.Value("l", 0)
    out_path = plan.work / run_id / "latency.json"
    phase_start_ms = int(time.time() * 1000)
    spec = {"bootstrap": settings.kafka_bootstrap, "input_topic": topics["input"],
            "output_topic": topics.get("output"), "redis_url": settings.redis_url,
            "pattern": f"bench:{run_id}:{job.hot_pattern}" + KEY_SAMPLE_SUFFIX[plan.latency_key_sample],
            "time_field": job.hot_time_field, "kafka_probe": plan.kafka_probe,
            "hot": "kafka" if arm.kind == "sql" else "redis", "phase_start_ms": phase_start_ms}
    notifications = _Notifications(settings.redis_url) if spec["hot"] == "redis" else None
    if notifications:
        notifications.__enter__()
    receiver = ctx.Process(target=_receiver_main, args=(spec, str(out_path), ready, stop, progress), daemon=True)
    receiver.start()
    try:
        if not ready.wait(30):
            raise BenchError("the latency receiver did not start within 30 s")
        json_out = arm.kind == "sql"
        total = max(1, int(rate * (plan.latency_seconds + plan.warmup_seconds)))
        measured = max(1, int(rate * plan.latency_seconds))
        producer_out = plan.work / run_id / "producer.json"
        producer_ready, producer_start = ctx.Event(), ctx.Event()
        produced = ctx.Value("l", 0)
        producer = ctx.Process(target=producer_main, daemon=True,
                               args=({"bootstrap": settings.kafka_bootstrap, "topic": topics["input"], "rate": rate,
                                      "total": total}, plan.workload.timed_live(json_out), str(producer_out),
                                     producer_ready, producer_start, produced))
        producer.start()
        if not producer_ready.wait(60):
            raise BenchError("the load generator did not connect to Kafka within 60 s")
        cpu0 = meter.sample()
        harness0 = _harness_ticks(receiver.pid)
        # Events of the warm-up are produced but not measured: the first live events move event time from
        # the backlog's past to now, which fires every key's due timers at once (inventory, maintenance).
        cutoff_ms = time.time() * 1000 + plan.warmup_seconds * 1000
        producer_start.set()
        producer.join(plan.latency_seconds + plan.warmup_seconds + 90)
        if producer.is_alive():
            producer.kill()
            raise BenchError(f"the load generator had produced {produced.value} of {total} events "
                             f"{plan.latency_seconds + plan.warmup_seconds + 90:.0f} s after its start")
        cpu1 = meter.sample()
        harness1 = _harness_ticks(receiver.pid)
        # Wait for the tail: until no new result arrived for a few seconds.
        last, last_change = -1, time.monotonic()
        deadline = time.monotonic() + TAIL_TIMEOUT_S
        while time.monotonic() < deadline:
            value = progress.value
            if value != last:
                last, last_change = value, time.monotonic()
            elif time.monotonic() - last_change > TAIL_QUIET_S or value >= total:
                break
            time.sleep(0.2)
    finally:
        stop.set()
        receiver.join(30)
        if receiver.is_alive():
            receiver.kill()
        if notifications:
            notifications.__exit__(None, None, None)
    try:
        data = json.loads(out_path.read_text())
    except (OSError, ValueError):
        raise BenchError("the latency receiver wrote no results") from None
    try:
        generated = json.loads(producer_out.read_text())
    except (OSError, ValueError):
        raise BenchError("the load generator wrote no results") from None
    if generated["undelivered"]:
        raise BenchError(f"the load generator could not deliver {generated['undelivered']} events within 30 s")
    phase_threads = _thread_shares(cpu0, cpu1)
    hot = [h for h in data["hot"] if h[1] >= cutoff_ms]
    probe = [p for p in data["probe"] if p[1] >= cutoff_ms]
    total_ms = [recv - event for recv, event, _ in hot]
    result = {"offered_eps": rate, "seconds": plan.latency_seconds, "warmup_seconds": plan.warmup_seconds,
              "produced": total, "measured_events": measured,
              "achieved_eps": generated["produced"] / max(generated["seconds"], 1e-9), "results": len(hot),
              "cores_used": {"job": (cpu1.job_ticks - cpu0.job_ticks) / CLK_TCK / max(cpu1.t - cpu0.t, 1e-9),
                             "stack": (cpu1.stack_ticks - cpu0.stack_ticks) / CLK_TCK / max(cpu1.t - cpu0.t, 1e-9),
                             "harness": (harness1 - harness0) / CLK_TCK / max(cpu1.t - cpu0.t, 1e-9),
                             "producer": generated["cores"]},
              "producer_lateness_ms": dist(generated["lateness_ms"]),
              "event_to_hot_ms": dist(total_ms),
              "stages": {"produce_to_kafka_consumer_ms": dist([recv - ts for recv, ts in probe])}}
    if any(updated for _, _, updated in hot):
        result["stages"]["event_to_state_ms"] = dist([u - e for _, e, u in hot if u])
        result["stages"]["state_to_redis_ms"] = dist([r - u for r, _, u in hot if u])
    result["jvm_threads"] = phase_threads
    result["_samples"] = total_ms
    return result


def _thread_shares(cpu0: CpuSample, cpu1: CpuSample) -> dict[str, dict[str, float]]:
    """Per JVM thread between two samples: cores on a CPU and cores' worth of waiting on a run queue."""
    seconds = max(cpu1.t - cpu0.t, 1e-9)
    out: dict[str, dict[str, float]] = {}
    if not (cpu0.threads and cpu1.threads):
        return out
    for name, ticks in cpu1.threads.items():
        if name.endswith(" runq"):
            continue
        cores = (ticks - cpu0.threads.get(name, 0)) / CLK_TCK / seconds
        if cores >= 0.02:
            runq = (cpu1.threads.get(f"{name} runq", 0) - cpu0.threads.get(f"{name} runq", 0)) / CLK_TCK / seconds
            out[name] = {"cpu": cores, "runqueue": runq}
    return dict(sorted(out.items(), key=lambda kv: -kv[1]["cpu"])[:6])


# ---------------------------------------------------------------- the whole benchmark


def machine_info() -> dict[str, Any]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_kb = 0
    try:
        mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gb": round(mem_kb / 1024 / 1024, 1),
            "kernel": platform.release(), "os": _os_name(), "load_avg_at_start": list(os.getloadavg())}


def _os_name() -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    return platform.platform()


def versions() -> dict[str, str]:
    from importlib import metadata

    def pkg(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "-"

    def command_version(command: list[str]) -> str:
        try:
            out = subprocess.run(command, capture_output=True, text=True, timeout=20)
            return (out.stdout + out.stderr).strip().splitlines()[0]
        except (OSError, subprocess.SubprocessError, IndexError):
            return "-"

    from google.protobuf.internal import api_implementation

    from streamsuite.versions import pinned_versions

    pins = pinned_versions()
    kafka = sorted((project_root() / ".jars" / "kafka").glob("kafka_2.13-*.jar"))
    return {"python": platform.python_version(), "apache-flink": pkg("apache-flink"),
            "kafka connector jar": pins.connector_jar.name, "java": command_version(["java", "-version"]),
            "kafka broker": kafka[0].stem.split("-", 1)[1] if kafka else "-",
            "redis-server": command_version(["redis-server", "--version"]),
            "protobuf": f"{pkg('protobuf')} ({api_implementation.Type()})", "redis-py": pkg("redis"),
            "confluent-kafka": pkg("confluent-kafka"), "matplotlib": pkg("matplotlib")}


def domain_core_rate(workload: Workload, n: int) -> dict[str, Any]:
    """The fraud domain code alone (decode + score + state encode), in this process: the Python floor."""
    if workload.job.job != "fraud":
        return {}
    from streamsuite_proto.v1.fraud_pb2 import CardTransaction
    from udfs.fraud import CardProfile, FraudScorer, Transaction

    scorer, profiles = FraudScorer(), {}
    records = workload.records[:n]
    t0 = time.process_time()
    for _, value in records:
        tx = Transaction.from_message(CardTransaction.FromString(value))
        _, profile = scorer.score(tx, CardProfile.from_json(profiles.get(tx.card_id)))
        profiles[tx.card_id] = profile.to_json()
    seconds = time.process_time() - t0
    sizes = [len(p) for p in profiles.values()]
    full = CardProfile(10**6, 2 * 10**12, -123.456789, 98765.4321, 2 * 10**12, -33.86882, 151.20935, "AU",
                       [[2 * 10**12, 10**9]] * 16, ["m000000"] * 12, ["AU"] * 6).to_json()
    return {"events": len(records), "cpu_s": seconds, "events_per_cpu_s": len(records) / seconds if seconds else None,
            "profile_json_bytes": {"mean": statistics.fmean(sizes), "max": max(sizes), "bound": len(full)}}


def summarize(job: JobBench, arms: dict[str, Arm], results: dict[str, list[dict]]) -> dict[str, Any]:
    summary = {}
    for name, rounds in results.items():
        ok = [r for r in rounds if "error" not in r]
        lat_rounds = [r["latency"] for r in ok if "latency" in r]
        summary[name] = {
            "throughput_eps": spread([r.get("throughput_eps") for r in ok]),
            "events_per_cpu_s": spread([r.get("events_per_cpu_s") for r in ok]),
            "cores_used": spread([r.get("cores_used") for r in ok]),
            "job_cpu_us_per_event": spread([r.get("job_cpu_us_per_event") for r in ok]),
            "stack_cpu_us_per_event": spread([r.get("stack_cpu_us_per_event") for r in ok]),
            "startup_s": spread([r.get("startup_s") for r in ok]),
            "idle_cores_job": spread([r.get("idle_cores", {}).get("job") for r in ok]),
            "idle_cores_stack": spread([r.get("idle_cores", {}).get("stack") for r in ok]),
            "checkpoint_ms": spread([r.get("checkpoint", {}).get("end_to_end_ms") for r in ok]),
            "checkpoint_bytes": spread([r.get("checkpoint", {}).get("state_size_bytes") for r in ok]),
            "state_bytes_per_key": spread([r.get("state_bytes_per_key") for r in ok]),
            "errors": len(rounds) - len(ok),
        }
        if lat_rounds:
            summary[name]["latency"] = {
                "offered_eps": spread([lr["offered_eps"] for lr in lat_rounds]),
                "cores_job": spread([lr.get("cores_used", {}).get("job") for lr in lat_rounds]),
                "cores_stack": spread([lr.get("cores_used", {}).get("stack") for lr in lat_rounds]),
                "cores_harness": spread([lr.get("cores_used", {}).get("harness") for lr in lat_rounds]),
                "cores_producer": spread([lr.get("cores_used", {}).get("producer") for lr in lat_rounds]),
                "achieved_eps": spread([lr.get("achieved_eps") for lr in lat_rounds]),
                "producer_late_p99_ms": spread([lr.get("producer_lateness_ms", {}).get("p99") for lr in lat_rounds]),
                **{f"{q}_ms": spread([lr["event_to_hot_ms"].get(q) for lr in lat_rounds])
                   for q in ("p50", "p99", "p999", "max")},
                "stages": {stage: {q: spread([lr["stages"].get(stage, {}).get(q) for lr in lat_rounds])
                                   for q in ("p50", "p99")}
                           for stage in sorted({s for lr in lat_rounds for s in lr["stages"]})},
            }
        tasks: dict[str, dict[str, list[float]]] = {}
        for r in ok:
            for label, values in r.get("task_time_ms_per_s", {}).items():
                for metric, value in values.items():
                    tasks.setdefault(label, {}).setdefault(metric, []).append(value)
        summary[name]["task_time_ms_per_s"] = {label: {m: statistics.median(v) for m, v in ms.items()}
                                               for label, ms in tasks.items()}
        threads: dict[str, list[float]] = {}
        for r in ok:
            for thread, cores in r.get("jvm_thread_cores", {}).items():
                threads.setdefault(thread, []).append(cores)
        summary[name]["jvm_thread_cores"] = dict(sorted(((t, statistics.median(v)) for t, v in threads.items()),
                                                        key=lambda kv: -kv[1])[:6])
        waits: dict[str, list[float]] = {}
        for r in ok:
            for thread, share in r.get("jvm_thread_runqueue_wait", {}).items():
                waits.setdefault(thread, []).append(share)
        summary[name]["jvm_thread_runqueue_wait"] = {t: statistics.median(v) for t, v in waits.items()
                                                     if t in summary[name]["jvm_thread_cores"]}
        rss: dict[str, list[float]] = {}
        for r in ok:
            for proc, mb in r.get("rss_mb", {}).items():
                rss.setdefault(proc, []).append(mb)
        summary[name]["rss_mb"] = {proc: max(v) for proc, v in rss.items()}
    return summary


def ratios(results: dict[str, list[dict]], base: str = "ours") -> dict[str, Any]:
    """Per round ratio of each arm to ours (paired: same round, minutes apart), then median and spread."""
    out = {}
    base_rounds = {r["round"]: r for r in results.get(base, []) if "error" not in r}
    for name, rounds in results.items():
        if name == base:
            continue
        per = {"throughput": [], "events_per_cpu_s": []}
        for r in rounds:
            b = base_rounds.get(r["round"])
            if b is None or "error" in r:
                continue
            for metric, key in (("throughput", "throughput_eps"), ("events_per_cpu_s", "events_per_cpu_s")):
                if r.get(key) and b.get(key):
                    per[metric].append(r[key] / b[key])
        out[name] = {metric: spread(values) for metric, values in per.items()}
    return out


def targets(job: JobBench, summary: dict, ratio: dict, core: dict, load: float = 0.5) -> list[dict[str, Any]]:
    """The issue's targets, each met or not, with the number that decides it (a latency target set at
    half load is left undecided by a run at another load)."""
    rows = []

    def add(name: str, value, limit: str, met):
        rows.append({"target": name, "value": value, "limit": limit,
                     "met": None if met is None else bool(met)})

    ours = summary.get("ours", {})
    if job.job == "fraud":
        def versus(arm: str, at_least: float, what: str) -> None:
            other = ratio.get(arm, {}).get("throughput", {}).get("median")
            mine = None if not other else 1 / other
            add(f"fraud throughput >= {at_least:g}x {what}", mine, f">= {at_least:g}",
                None if mine is None else mine >= at_least)

        versus("ceiling", 0.7, "the PyFlink keyed-ceiling arm")
        versus("naive", 10, "the naive arm")
        versus("quix", 1, "the Quix Streams arm")
        versus("sql", 0.5, "the Flink SQL arm")
        p99 = ours.get("latency", {}).get("p99_ms", {}).get("median")
        if load == 0.5:
            add("fraud p99 event-to-Redis <= 50 ms at half load", p99, "<= 50 ms", None if p99 is None else p99 <= 50)
            p999 = ours.get("latency", {}).get("p999_ms", {}).get("median")
            add("fraud p99.9 event-to-Redis <= 100 ms at half load", p999, "<= 100 ms",
                None if p999 is None else p999 <= 100)
        else:
            add(f"fraud p99 event-to-Redis <= 50 ms at half load (this run: {load:.0%} load, p99 shown, "
                "not decided)", p99, "<= 50 ms", None)
        per_card = ours.get("state_bytes_per_key", {}).get("median")
        add("fraud state < 1 KB per card (checkpointed keyed state / cards)", per_card, "< 1024 B",
            None if per_card is None else per_card < 1024)
        bound = core.get("profile_json_bytes", {}).get("bound")
        add("fraud state bound: largest possible profile (16 recent, 12 merchants, 6 countries)", bound,
            "< 1024 B", None if bound is None else bound < 1024)
    elif job.job == "inventory":
        p99 = ours.get("latency", {}).get("p99_ms", {}).get("median")
        add("inventory p99 event-to-Redis < 1 s", p99, "< 1000 ms", None if p99 is None else p99 < 1000)
        if load == 0.5:
            add("inventory p99 event-to-Redis <= 250 ms at half load", p99, "<= 250 ms",
                None if p99 is None else p99 <= 250)
    elif job.job == "maintenance":
        from udfs.maintenance import MaintenanceModel

        limit = MaintenanceModel().slide_ms + 30_000
        worst = ours.get("latency", {}).get("max_ms", {}).get("max")
        add("maintenance results within one slide + 30 s of the window end (worst seen)", worst,
            f"<= {limit} ms", None if worst is None else worst <= limit)
    return rows


def bottleneck(job: JobBench, summary: dict, ratio: dict, core: dict, load: float = 0.5) -> list[str]:
    """The largest bottleneck the numbers show, said with the numbers (computed, not hand-written)."""
    lines = []
    ours = summary.get("ours", {})
    eps = ours.get("throughput_eps", {}).get("median")
    if not eps:
        return ["no throughput measured for our job"]
    job_us = ours.get("job_cpu_us_per_event", {}).get("median")
    stack_us = ours.get("stack_cpu_us_per_event", {}).get("median")
    cores = ours.get("cores_used", {}).get("median")
    core_eps = core.get("events_per_cpu_s")
    if job_us is not None and stack_us is not None:
        lines.append(f"Our job costs {job_us:,.0f} µs of CPU per event in its own processes (Python client, "
                     f"JVM with the embedded Python) plus {stack_us:,.0f} µs in Kafka, Redis and S3, and uses "
                     f"{cores:.2f} of the machine's {os.cpu_count()} cores while draining the backlog.")
    if core_eps and job_us:
        core_us = 1e6 / core_eps
        lines.append(f"The domain code alone (Protobuf parse, features, score, profile JSON round trip) takes "
                     f"{core_us:,.0f} µs per event in plain Python ({core_eps:,.0f} events per CPU-second): "
                     f"{core_us / job_us:.0%} of what the job spends. The other {1 - core_us / job_us:.0%} "
                     "is the PyFlink machinery around it.")
    tasks = ours.get("task_time_ms_per_s", {})
    if tasks:
        label, ms = max(tasks.items(), key=lambda kv: kv[1].get("busyTimeMsPerSecond", 0))
        others = [f"{other} busy {o.get('busyTimeMsPerSecond', 0):.0f} ms/s, back-pressured "
                  f"{o.get('backPressuredTimeMsPerSecond', 0):.0f} ms/s" for other, o in tasks.items() if other != label]
        lines.append(f"The bottleneck task while draining the backlog is `{label}`: busy "
                     f"{ms.get('busyTimeMsPerSecond', 0):.0f} ms of every second"
                     + (f" ({'; '.join(others)})" if others else "") + ".")
        head = label.split(" -> ")[0].strip()
        threads = ours.get("jvm_thread_cores", {})
        match = [(t, c) for t, c in threads.items() if t.startswith(head[:10])]
        if match:
            thread, cores = match[0]
            busy = ms.get("busyTimeMsPerSecond", 0) / 1000
            runq = ours.get("jvm_thread_runqueue_wait", {}).get(thread, 0.0)
            blocked = max(0.0, busy - cores - runq)
            lines.append(f"Of each second, its thread (`{thread}`) runs on a CPU {cores:.2f} s, waits for a CPU "
                         f"(run queue, other processes on the 2 cores) {runq:.2f} s and is blocked {blocked:.2f} s "
                         f"while the task counts as busy {busy:.2f} s: blocked is time inside the task off CPU "
                         "(e.g. the hot sink waiting for its in-flight batches, or a lock).")
    idle = ours.get("idle_cores_job", {}).get("median")
    lat_cores = ours.get("latency", {}).get("cores_job", {}).get("median")
    offered = ours.get("latency", {}).get("offered_eps", {}).get("median")
    if idle is not None:
        lines.append(f"Idle (caught up, no input) the job still uses {idle:.2f} cores; at the half-load latency "
                     f"phase ({_n(offered)} events/s) it uses {_n(lat_cores, '{:.2f}')} cores.")
    nocold = summary.get("ours-nocold", {}).get("throughput_eps", {}).get("median")
    nocold_ratio = ratio.get("ours-nocold", {}).get("throughput", {}).get("median")
    if nocold and nocold_ratio:
        lines.append(f"Turning the S3 cold sink off changes throughput by {nocold_ratio:.2f}x "
                     f"({eps:,.0f} -> {nocold:,.0f} events/s): the cold path (score rows from Python to a "
                     "Java Row, Table conversion, Parquet) is that share of the cost.")
    p2 = ratio.get("ours-p2", {}).get("throughput", {}).get("median")
    if p2:
        lines.append(f"Parallelism 2 gives {p2:.2f}x the throughput of parallelism 1 on {os.cpu_count()} cores.")
    sql = ratio.get("sql", {})
    if sql.get("events_per_cpu_s", {}).get("median"):
        lines.append(f"The Flink SQL arm does the per-card aggregation with "
                     f"{sql['events_per_cpu_s']['median']:.1f}x fewer CPU-seconds per event "
                     f"({sql['throughput']['median']:.1f}x our throughput).")
    lat = ours.get("latency", {}).get("stages", {})
    if lat:
        parts = [f"{stage} p50 {v['p50']['median']:.1f} ms / p99 {v['p99']['median']:.1f} ms"
                 for stage, v in lat.items() if v.get("p50", {}).get("median") is not None
                 and v.get("p99", {}).get("median") is not None]
        if parts:
            lines.append(f"Latency by stage at {load:.0%} load: " + "; ".join(parts) + ".")
    return lines


def run(args: argparse.Namespace) -> int:
    from streamsuite.stack import Stack, StackSettings

    job = JOBS[args.job]
    all_arms = arms_for(job)
    names = [a.strip() for a in (args.arms or ",".join(job.arms)).split(",") if a.strip()]
    unknown = [n for n in names if n not in all_arms or (job.job != "fraud" and all_arms[n].kind != "ours")]
    if unknown:
        raise BenchError(f"unknown arm(s) for {job.job}: {', '.join(unknown)}; "
                         f"choose from {', '.join(job.arms)}")
    arms = {n: all_arms[n] for n in names}
    say = (lambda line: None) if args.quiet else (lambda line: print(line, flush=True))
    settings = StackSettings.from_env()
    Stack(settings, say=lambda line: say(f"  stack: {line}")).up()
    events = args.events or job.events
    backlog = {"ours": events, "sql": args.sql_events or max(events, 3 * events), "ceiling": 2 * events,
               "quix": 2 * events,
               "naive": args.naive_events or max(1, events // 8)}
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    work = run_dir() / "bench" / f"{job.job}-{stamp}"
    work.mkdir(parents=True, exist_ok=True)
    latency_seconds = job.latency_seconds if args.latency_seconds is None else args.latency_seconds
    keys = args.keys or job.keys
    live_pool = max(10_000, min(200_000, events))
    t0 = time.monotonic()
    needed = max(backlog[a.kind] for a in arms.values())
    say(f"bench {job.job}: generating {needed + live_pool} events on {keys} keys (seed {args.seed}) ...")
    workload = make_workload(job, needed, live_pool, keys, args.seed)
    core = domain_core_rate(workload, min(needed, 50_000))
    plan = Plan(job, settings, workload, backlog, args.load, latency_seconds, args.drain_timeout, work, say,
                keep=args.keep, stamp=stamp, job_set=tuple(args.job_set),
                warmup_seconds=args.warmup_seconds, max_latency_load=args.max_latency_load,
                kafka_probe=args.kafka_probe, latency_key_sample=args.latency_key_sample)
    results: dict[str, list[dict]] = {n: [] for n in arms}
    order = list(arms)
    for round_no in range(1, args.rounds + 1):
        rotated = order[(round_no - 1) % len(order):] + order[:(round_no - 1) % len(order)]
        say(f"round {round_no}/{args.rounds}: {', '.join(rotated)}")
        for name in rotated:
            result = run_arm(plan, arms[name], round_no)
            if "no progress" in result.get("error", ""):
                # A run that stopped moving (e.g. its input deleted under it) is kept in the report
                # (stalled_starts) and retried once, in a new namespace.
                say(f"    {arms[name].label}: retrying once")
                retry = run_arm(plan, arms[name], round_no)
                retry["stalled_starts"] = [result]
                result = retry
            results[name].append(result)
    summary = summarize(job, arms, results)
    ratio = ratios(results)
    report = {
        "job": job.job, "command": "streamsuite bench " + " ".join(args.argv),
        "started": stamp, "seconds": time.monotonic() - t0, "machine": machine_info(), "versions": versions(),
        "params": {"rounds": args.rounds, "backlog_events": {k: v for k, v in backlog.items()
                                                               if any(a.kind == k for a in arms.values())},
                   "keys": keys, "seed": args.seed, "load": args.load, "latency_seconds": latency_seconds,
                   "metrics_interval_ms": METRICS_INTERVAL_MS, "arms_order": order,
                   "warmup_seconds": args.warmup_seconds, "max_latency_load": args.max_latency_load,
                   "kafka_probe": args.kafka_probe, "latency_key_sample": args.latency_key_sample,
                   "job_set": list(args.job_set)},
        "arms": {n: {"label": a.label, "description": a.description, "parallelism": a.parallelism}
                 for n, a in arms.items()},
        "domain_core": core, "summary": summary, "ratios_to_ours": ratio,
    }
    report["targets"] = targets(job, summary, ratio, core, args.load)
    report["bottleneck"] = bottleneck(job, summary, ratio, core, args.load)
    latency_samples = {n: [s for r in rounds for s in r.get("latency", {}).pop("_samples", [])]
                       for n, rounds in results.items()}
    report["rounds"] = results
    out_dir = Path(args.out) if args.out else project_root() / "benchmarks" / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    base = out_dir / f"{job.job}-{dt.date.today().isoformat()}"
    report["latency_quantiles_ms"] = {n: [percentile(v, q / 10) for q in range(0, 1000)] + [percentile(v, 99.9),
                                                                                           max(v)]
                                      for n, v in latency_samples.items() if v}
    png = None
    if not args.no_plot:
        png = plot(report, latency_samples, base.with_suffix(".png"), say)
    base.with_suffix(".json").write_text(json.dumps(report, indent=1, default=str) + "\n")
    base.with_suffix(".md").write_text(markdown(report, png))
    say(f"bench {job.job}: done in {time.monotonic() - t0:.0f} s; results in {base}.md/.json"
        + ("/.png" if png else ""))
    for line in markdown_headline(report):
        say("  " + line)
    if not args.keep:
        for child in work.iterdir():
            if child.is_dir():
                for name in ("latency.json",):
                    (child / name).unlink(missing_ok=True)
    failed = sum(s["errors"] for s in summary.values())
    return 1 if failed and all(not s["throughput_eps"]["n"] for s in summary.values()) else 0


# ---------------------------------------------------------------- report


def _n(value, pattern="{:,.0f}") -> str:
    return "-" if value is None else pattern.format(value)


def _s(sp: dict, pattern="{:,.0f}") -> str:
    if not sp or sp.get("median") is None:
        return "-"
    if sp["n"] == 1:
        return pattern.format(sp["median"])
    return f"{pattern.format(sp['median'])} [{pattern.format(sp['min'])}–{pattern.format(sp['max'])}]"


def markdown_headline(report: dict) -> list[str]:
    lines = []
    for t in report["targets"]:
        mark = {True: "MET", False: "NOT MET", None: "not measured"}[t["met"]]
        value = t["value"]
        shown = "-" if value is None else (f"{value:,.2f}" if isinstance(value, float) else f"{value:,}")
        lines.append(f"{mark}: {t['target']} (measured {shown}, target {t['limit']})")
    return lines


def markdown(report: dict, png: Path | None) -> str:
    s, r = report["summary"], report["ratios_to_ours"]
    arms = report["arms"]
    p = report["params"]
    m, v = report["machine"], report["versions"]
    out = [f"# Benchmark: {report['job']} ({report['started']})", "",
           "Generated by `streamsuite bench` (`streamsuite/bench.py`); the method is in that module's docstring "
           "and summarised below. Numbers are medians over the rounds with [min–max]; ratios are paired per "
           "round (arms run minutes apart in the same invocation) and then the median is taken.", "",
           "## Command, machine, versions", "", "```", report["command"], "```", "",
           f"- machine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB, {m['os']}, kernel {m['kernel']}; "
           f"load average at start {', '.join(f'{x:.2f}' for x in m['load_avg_at_start'])} (shared machine: "
           "other engineers' tests run concurrently)",
           "- versions: " + "; ".join(f"{k} {val}" for k, val in v.items()),
           f"- input: seeded generator (seed {p['seed']}), {p['keys']:,} keys; backlog per arm kind "
           + ", ".join(f"{k} {n:,}" for k, n in p["backlog_events"].items())
           + f"; {p['rounds']} rounds, arm order rotated each round; latency phase {p['latency_seconds']:.0f} s "
           f"(after {p.get('warmup_seconds', 0):.0f} s of unmeasured warm-up) at "
           f"{p['load']:.0%} of the throughput the same run measured"
           + (f", capped at {p['max_latency_load']:,.0f} events/s" if p.get("max_latency_load") else "")
           + f"; latency followed on one hot key in {p.get('latency_key_sample', 1)}"
           + ("; Kafka stage probed by a second consumer" if p.get("kafka_probe") else ""),
           f"- total time {report['seconds']:.0f} s", "",
           "## Arms", ""]
    for name, a in arms.items():
        out.append(f"- **{a['label']}** (`{name}`): {a['description']}")
    out += ["", "## Throughput and CPU", "",
            "| arm | events/s | x ours | events per CPU-second | x ours | cores used | CPU µs/event (job) | "
            "CPU µs/event (Kafka+Redis+S3) | idle cores (job / stack) | first record after start (s) |",
            "|---|---|---|---|---|---|---|---|---|---|"]
    for name, a in arms.items():
        sm = s[name]
        ratio_t = r.get(name, {}).get("throughput", {}) if name != "ours" else {"median": 1.0, "n": 1}
        ratio_c = r.get(name, {}).get("events_per_cpu_s", {}) if name != "ours" else {"median": 1.0, "n": 1}
        out.append(f"| {a['label']} | {_s(sm['throughput_eps'])} | {_s(ratio_t, '{:.2f}')} | "
                   f"{_s(sm['events_per_cpu_s'])} | {_s(ratio_c, '{:.2f}')} | {_s(sm['cores_used'], '{:.2f}')} | "
                   f"{_s(sm['job_cpu_us_per_event'])} | {_s(sm['stack_cpu_us_per_event'])} | "
                   f"{_s(sm['idle_cores_job'], '{:.2f}')} / {_s(sm['idle_cores_stack'], '{:.2f}')} | "
                   f"{_s(sm['startup_s'], '{:.1f}')} |")
    core = report.get("domain_core") or {}
    if core:
        out += ["", f"Reference, no Flink: the fraud domain code alone (Protobuf parse, features, score, profile "
                f"JSON round trip) runs at {_n(core.get('events_per_cpu_s'))} events per CPU-second in plain "
                f"Python ({core['events']:,} events)."]
    out += ["", "### Where the time goes", "",
            "Flink's task time metrics sampled every second inside the throughput window (median over samples, "
            "then over rounds): the busiest task is the bottleneck, the tasks before it wait on back-pressure.", "",
            "| arm | task (first operators) | busy ms/s | back-pressured ms/s | idle ms/s |", "|---|---|---|---|---|"]
    for name, a in arms.items():
        for label, ms in s[name].get("task_time_ms_per_s", {}).items():
            out.append(f"| {a['label']} | {label} | {_n(ms.get('busyTimeMsPerSecond'))} | "
                       f"{_n(ms.get('backPressuredTimeMsPerSecond'))} | {_n(ms.get('idleTimeMsPerSecond'))} |")
    out += ["", "CPU of the busiest threads of the Flink JVM in the same window (cores; /proc/<pid>/task, thread "
            "names cut to 15 characters by the kernel; in thread mode a task's Python runs on its task thread):", ""]
    for name, a in arms.items():
        threads = s[name].get("jvm_thread_cores", {})
        waits = s[name].get("jvm_thread_runqueue_wait", {})
        if threads:
            out.append(f"- {a['label']}: " + ", ".join(
                f"`{t}` {c:.2f}" + (f" (+{waits[t]:.2f} waiting for a CPU)" if waits.get(t, 0) >= 0.01 else "")
                for t, c in threads.items()))
    out += ["", "## Latency at a fixed offered load", "",
            "Event time = wall clock when produced; the hot result is seen through Redis keyspace notifications "
            "(SQL arm: its Kafka output topic).", "",
            "The load generator is a process of its own (`streamsuite.loadgen`: payloads encoded before the clock "
            "starts, librdkafka, 1 ms ticks); *achieved* is the rate it kept and *late p99* how far behind its "
            "schedule an event went out. *Harness* is the receiver and the harness process.", "",
            "| arm | offered events/s | achieved | late p99 ms | p50 ms | p99 ms | p99.9 ms | max ms "
            "| cores used (job / stack / load generator / harness) |",
            "|---|---|---|---|---|---|---|---|---|"]
    for name, a in arms.items():
        lat = s[name].get("latency")
        if not lat:
            continue
        out.append(f"| {a['label']} | {_s(lat['offered_eps'])} | {_s(lat.get('achieved_eps'))} | "
                   f"{_s(lat.get('producer_late_p99_ms'), '{:.1f}')} | {_s(lat['p50_ms'], '{:.1f}')} | "
                   f"{_s(lat['p99_ms'], '{:.1f}')} | {_s(lat['p999_ms'], '{:.1f}')} | {_s(lat['max_ms'], '{:.0f}')} | "
                   f"{_s(lat['cores_job'], '{:.2f}')} / {_s(lat['cores_stack'], '{:.2f}')} / "
                   f"{_s(lat.get('cores_producer'), '{:.2f}')} / {_s(lat.get('cores_harness'), '{:.2f}')} |")
    out += ["", "### By stage", "",
            "`produce_to_kafka_consumer`: producer to a plain consumer of the input topic (the Kafka stage); "
            "`event_to_state`: event time to `updated_at_ms`, stamped by the keyed operator after the state "
            "update (Kafka, source, decode, the JVM/Python boundary, state); `state_to_redis`: from there to the "
            "Redis notification (hot-write batching, the Lua upsert, the pipeline round trip).", "",
            "| arm | stage | p50 ms | p99 ms |", "|---|---|---|---|"]
    for name, a in arms.items():
        lat = s[name].get("latency")
        for stage, q in (lat or {}).get("stages", {}).items():
            out.append(f"| {a['label']} | {stage.removesuffix('_ms')} | {_s(q['p50'], '{:.1f}')} | "
                       f"{_s(q['p99'], '{:.1f}')} |")
    out += ["", "## Checkpoints, state and memory", "",
            "The first checkpoint that completed after the backlog was processed; state per key = the keyed "
            "operator's checkpointed state / distinct keys in the backlog (an upper bound: that task's operator "
            "state, e.g. the file sink's, is included).", "",
            "| arm | checkpoint duration ms | checkpoint size | state per key (bytes) | peak RSS (MB) |",
            "|---|---|---|---|---|"]
    for name, a in arms.items():
        sm = s[name]
        rss = ", ".join(f"{proc} {mb:,.0f}" for proc, mb in sm["rss_mb"].items())
        out.append(f"| {a['label']} | {_s(sm['checkpoint_ms'])} | {_mb(sm['checkpoint_bytes'])} | "
                   f"{_s(sm['state_bytes_per_key'])} | {rss} |")
    if core.get("profile_json_bytes"):
        pj = core["profile_json_bytes"]
        out += ["", f"The card profile as stored (JSON in `ValueState`): mean {pj['mean']:.0f} B, largest "
                f"{pj['max']} B after the backlog; the largest possible profile (every bounded list full) is "
                f"{pj['bound']} B."]
    during = {name: [rd.get("checkpoint", {}).get("during_run", {}) for rd in report["rounds"][name]]
              for name in arms}
    out += ["", "Checkpoints while the backlog was processed (under backpressure), per arm, last round: "
            + "; ".join(f"{arms[n]['label']}: {d[-1].get('completed', '-')} completed, {d[-1].get('failed', '-')} "
                        f"failed, end-to-end max {_n(d[-1].get('end_to_end_ms', {}).get('max'))} ms"
                        for n, d in during.items() if d and d[-1])]
    out += ["", "## Targets", "", "| target | measured | limit | met |", "|---|---|---|---|"]
    for t in report["targets"]:
        value = t["value"]
        shown = "-" if value is None else (f"{value:,.2f}" if isinstance(value, float) else f"{value:,}")
        out.append(f"| {t['target']} | {shown} | {t['limit']} | "
                   f"{ {True: 'yes', False: '**no**', None: 'not measured'}[t['met']]} |")
    out += ["", "## The largest bottleneck", ""] + [f"- {line}" for line in report["bottleneck"]]
    errors = [(n, rd["round"], rd["error"]) for n, rds in report["rounds"].items() for rd in rds if "error" in rd]
    if errors:
        out += ["", "## Runs that failed", ""] + [f"- {arms[n]['label']} round {rn}: {e}" for n, rn, e in errors]
    if png:
        out += ["", f"![latency distribution and throughput per arm]({png.name})"]
    out += ["", "## Per round", "", "| arm | round | events/s | events per CPU-s | p50 ms | p99 ms | p99.9 ms | "
            "checkpoint ms |", "|---|---|---|---|---|---|---|---|"]
    for name, rds in report["rounds"].items():
        for rd in rds:
            lat = rd.get("latency", {}).get("event_to_hot_ms", {})
            out.append(f"| {arms[name]['label']} | {rd['round']} | {_n(rd.get('throughput_eps'))} | "
                       f"{_n(rd.get('events_per_cpu_s'))} | {_n(lat.get('p50'), '{:.1f}')} | "
                       f"{_n(lat.get('p99'), '{:.1f}')} | {_n(lat.get('p999'), '{:.1f}')} | "
                       f"{_n(rd.get('checkpoint', {}).get('end_to_end_ms'))} |")
    return "\n".join(out) + "\n"


def _mb(sp: dict) -> str:
    if not sp or sp.get("median") is None:
        return "-"
    return _s({k: (val / 1e6 if isinstance(val, (int, float)) and k != "n" else val) for k, val in sp.items()},
              "{:.2f}") + " MB"


def plot(report: dict, samples: dict[str, list[float]], path: Path, say) -> Path | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        say("  no matplotlib in this environment (pip install -r requirements-bench.txt); no plot written")
        return None
    arms = report["arms"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5))
    for name, values in samples.items():
        if not values:
            continue
        ordered = sorted(max(v, 0.1) for v in values)
        n = len(ordered)
        offered = report["summary"][name].get("latency", {}).get("offered_eps", {}).get("median")
        left.plot(ordered, [1 - i / n for i in range(n)],
                  label=f"{arms[name]['label']} at {_n(offered)} events/s (n={n:,})")
    left.set_xscale("log")
    left.set_yscale("log")
    left.set_xlabel("event-to-hot-result latency (ms)")
    left.set_ylabel("fraction of events slower (1 - CDF)")
    left.set_title(f"Latency at {report['params']['load']:.0%} of each arm's throughput (all rounds)")
    left.axvline(50, color="grey", linestyle=":", linewidth=1)
    left.grid(True, which="both", alpha=0.3)
    if any(samples.values()):
        left.legend(fontsize=8)
    names = list(arms)
    summary = report["summary"]
    medians = [summary[n]["throughput_eps"]["median"] or 0 for n in names]
    lows = [m - (summary[n]["throughput_eps"]["min"] or m) for n, m in zip(names, medians)]
    highs = [(summary[n]["throughput_eps"]["max"] or m) - m for n, m in zip(names, medians)]
    bars = right.bar(range(len(names)), medians, yerr=[lows, highs], capsize=4, color="#4c72b0")
    for i, name in enumerate(names):
        for rd in report["rounds"][name]:
            if rd.get("throughput_eps"):
                right.plot(i, rd["throughput_eps"], "k.", markersize=4)
    for bar, value in zip(bars, medians):
        right.annotate(f"{value:,.0f}", (bar.get_x() + bar.get_width() / 2, value), ha="center", va="bottom",
                       fontsize=8)
    right.set_xticks(range(len(names)), [arms[n]["label"] for n in names], rotation=15, fontsize=8)
    if any(medians):
        right.set_yscale("log")
    right.set_ylabel("sustained events/s (median, min–max, rounds as dots)")
    right.set_title("Throughput per arm")
    right.grid(True, axis="y", which="both", alpha=0.3)
    fig.suptitle(f"streamsuite bench {report['job']} — {report['started']} — "
                 f"{report['machine']['cores']} cores, shared machine")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


# ---------------------------------------------------------------- CLI


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("job", choices=sorted(JOBS), help="which job to benchmark")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; every arm runs once per round (default 3)")
    parser.add_argument("--arms", help="comma-separated arms (fraud: ours,ceiling,quix,ours-p2,ours-nocold,ours-ckpt10s,sql,naive; "
                                       "inventory and maintenance: ours)")
    parser.add_argument("--events", type=int, help="backlog events for our job (default: fraud 80000, "
                                                   "inventory 60000, maintenance 40000)")
    parser.add_argument("--sql-events", type=int, help="backlog for the Flink SQL arm (default 3x --events)")
    parser.add_argument("--naive-events", type=int, help="backlog for the naive arm (default --events / 8)")
    parser.add_argument("--keys", type=int, help="distinct keys (default: fraud 10000, inventory 1000, "
                                                 "maintenance 100)")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--load", type=float, default=0.5,
                        help="offered load of the latency phase as a fraction of the measured throughput (0.5)")
    parser.add_argument("--latency-seconds", type=float,
                        help="length of the latency phase (default: fraud and inventory 20, maintenance 150; "
                             "0 skips it)")
    parser.add_argument("--max-latency-load", type=float, metavar="EVENTS_PER_S",
                        help="cap of the latency phase's offered load (default: none)")
    parser.add_argument("--latency-key-sample", type=int, choices=sorted(KEY_SAMPLE_SUFFIX), default=10,
                        metavar="N", help="follow one hot key in N in the latency phase (1, 10 or 100; default 10)")
    parser.add_argument("--kafka-probe", action="store_true",
                        help="also consume the input topic in the latency phase, to split off the Kafka stage "
                             "(a second consumer costs the broker about 0.1 core at 2,500 events/s)")
    parser.add_argument("--warmup-seconds", type=float, default=5.0,
                        help="live events produced before the measured latency phase, not measured (default 5)")
    parser.add_argument("--drain-timeout", type=float, default=600.0,
                        help="longest wait for a backlog to be processed, seconds (default 600)")
    parser.add_argument("--job-set", action="append", default=[], metavar="KEY=VALUE",
                        help="extra `--set` for our job's arms, e.g. flink.execution.buffer-timeout.interval=5ms "
                             "(to test a setting; the report records it)")
    parser.add_argument("--out", help="results folder (default benchmarks/results)")
    parser.add_argument("--no-plot", action="store_true", help="no PNG (matplotlib is optional)")
    parser.add_argument("--keep", action="store_true", help="keep topics, Redis keys, cold files, checkpoints")
    parser.add_argument("--quiet", action="store_true")


def main(args: argparse.Namespace) -> int:
    import shlex

    args.argv = sys.argv[sys.argv.index("bench") + 1:] if "bench" in sys.argv else [args.job]
    args.argv = [shlex.quote(a) for a in args.argv]
    if args.rounds < 1:
        raise BenchError("--rounds must be 1 or more")
    if not 0 < args.load <= 1:
        raise BenchError("--load must be in (0, 1]")
    return run(args)
