"""What is measured: each job's benchmark settings beside its spec, and the arms it is compared with."""
from __future__ import annotations

from dataclasses import dataclass

from jobs.specs import FRAUD, INVENTORY, JobSpec, MAINTENANCE


class BenchError(RuntimeError):
    """The benchmark cannot run; the message says why."""


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
                      ("ours", "ceiling", "quix", "ours-p2", "ours-nocold", "ours-ckpt10s", "ours-rules", "sql", "naive")),
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
    rules: bool = False       # reads a rules topic of its own (fraud): the example rule set, a horizon past the run


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
        "ours-rules": Arm("ours-rules", "ours, rules topic", "our job with `rules.enabled=true`: the rules "
                          "broadcast to `hold-for-rules`, the example rule set (deploy/rules/fraud-example.toml) in "
                          "force from the first event and a horizon a day past the run, so nothing waits: the "
                          "steady-state cost of dynamic rules", "ours", rules=True),
        "sql": Arm("sql", "Flink SQL", "`benchmarks/fraud_sql.py`: per-card COUNT/AVG/STDDEV/MAX over a 1-hour "
                   "OVER window in Flink SQL built-ins, JSON from Kafka, results to a Kafka topic (no Redis sink "
                   "in Flink SQL)", "sql", vertex="OverAggregate"),
        "quix": Arm("quix", "Quix Streams", "`benchmarks/fraud_quix.py`: the same fraud features and score "
                    "(`udfs.fraud`) on Quix Streams 3.28.1, RocksDB state, exactly-once processing, the same "
                    "version-fenced Lua upsert in a sink flushed at each 1 s checkpoint (its own venv)", "quix"),
        "naive": Arm("naive", "naive PyFlink", "`benchmarks/fraud_naive.py`: process mode, default bundles, "
                     "pickled state, one synchronous Redis HSET per event", "naive", vertex="naive-score"),
    }
