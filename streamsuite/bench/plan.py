"""What one run of an arm needs around it: the plan, its topics, its command line, progress, cleanup."""
from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from jobs.paths import project_root, run_dir
from streamsuite.bench.arms import Arm, BenchError, JobBench
from streamsuite.bench.workload import Workload
from streamsuite.paths import portable
from streamsuite.topics import create_topics


METRICS_INTERVAL_MS = 500
POLL_S = 0.25
START_TIMEOUT_S = 240.0
CHECKPOINT_TIMEOUT_S = 40.0
TAIL_QUIET_S = 3.0
IDLE_S = 4.0
STALL_S = 120.0
TAIL_TIMEOUT_S = 30.0


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


def create_run_topics(bootstrap: str, names: list[str], partitions: int) -> None:
    """The run's topics, with time-based retention off.

    The generator stamps records with event times from 2024 (`DEFAULT_START_TIME_MS`); with the
    broker's default 7-day retention, the retention check (every 5 minutes) deletes such
    records whenever it runs, and a job that starts after it finds an empty topic.
    """
    create_topics(bootstrap, {name: partitions for name in names}, config={"retention.ms": "-1"})


def topics_named(bootstrap: str, fragment: str) -> list[str]:
    """Topics an arm made for itself (Quix's changelog topics carry the consumer group's name)."""
    from confluent_kafka.admin import AdminClient

    try:
        names = AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=10).topics
    except Exception:  # noqa: BLE001 - cleanup is best effort
        return []
    return [name for name in names if fragment in name]


def clean_up(plan: Plan, topics: list[str], redis_prefix: str, s3_prefix: str | None, folders: list[Path]) -> None:
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
            from jobs.specs import COLD_BUCKET

            s3 = settings.s3_client()
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=COLD_BUCKET, Prefix=s3_prefix):
                objects = [{"Key": o["Key"]} for o in page.get("Contents", [])]
                if objects:
                    s3.delete_objects(Bucket=COLD_BUCKET, Delete={"Objects": objects})
        except Exception as exc:  # noqa: BLE001
            plan.say(f"    cleanup: S3 prefix {s3_prefix} not deleted ({exc})")
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)


class KeyspaceNotifications:
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


def arm_command(plan: Plan, arm: Arm, run_id: str, topics: dict[str, str], port: int, ckpt: Path) -> list[str]:
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
        if arm.rules:
            extra += ["--set", "rules.enabled=true", "--set", f"rules.topic={topics['rules']}"]
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


def read_progress(path: Path) -> float | None:
    try:
        return float(path.read_text().strip())
    except (OSError, ValueError):
        return None
