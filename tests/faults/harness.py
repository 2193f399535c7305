"""Fault injection against a real standalone cluster and the real local stack, with exact oracles.

Modelled on Flink's own end-to-end tests (test_file_sink.sh, test_ha_datastream.sh): run
a job over a bounded, seeded input with poison, break something at a chosen moment (after
N completed checkpoints, read from the REST API), let the job recover, and compare every
output with what the pure-Python domain code computes over the same input:

* S3: the finished Parquet rows equal the expected rows (no loss, no duplicate, the same
  values); in-progress parts are invisible by construction; leftover multipart uploads are recorded.
* Redis: every hot record's final version and value equal the oracle, and a sampler running
  during the job never sees a version go backwards.
* Dead-letter topic: exactly the poison messages and the late events, byte for byte (read_committed).
* Liveness: after the fault the job runs again and completes new checkpoints in time.

What each job's input, oracle and checks are is in `tests/faults/facts.py` (one adapter per job);
`JobRun` is the same for all three, at parallelism 1 or 2 (one TaskManager of 4 slots). The input
is written by `tests/faults/feed.py`, the faults are struck by `tests/faults/inject.py`.
"""
from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

import redis

from jobs.paths import run_dir
from jobs.specs import COLD_BUCKET
from streamsuite.cluster import get_json, python_job_args, rest_url, run_flink, savepoint_dir
from streamsuite.localrun import job_args
from streamsuite.paths import portable
from streamsuite.rules import publish_updates
from streamsuite.stack import StackSettings
from streamsuite_proto.v1.deadletter_pb2 import DeadLetter
from tests.faults.checks import Check
from tests.faults.facts import JOB_FACTS, OUT_OF_ORDERNESS_MS, generator_dead_letters
from tests.faults.feed import TransactionalFeed
from tests.kafka_helpers import fresh_topics, read_topic
from tests.rules_helpers import event_times
from udfs.timers import MAX_WATERMARK


@dataclass
class CaseResult:
    case: str
    fault: str
    checks: list[Check] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def verdict(self) -> str:
        return "pass" if self.checks and all(c.ok for c in self.checks) else "FAIL"

    def failures(self) -> str:
        return "; ".join(f"{c.name}: expected {c.expected}, seen {c.seen}" for c in self.checks if not c.ok)


class VersionSampler(threading.Thread):
    """Polls the hot records of some cards during the run and records any version that goes backwards."""

    def __init__(self, client: redis.Redis, keys: list[str], interval_s: float = 0.05):
        super().__init__(daemon=True)
        self.client, self.keys, self.interval_s = client, keys, interval_s
        self.stop_event = threading.Event()
        self.regressions: list[tuple[str, int, int]] = []
        self.samples = 0

    def run(self) -> None:
        last: dict[str, int] = {}
        while not self.stop_event.is_set():
            try:
                pipe = self.client.pipeline(transaction=False)
                for key in self.keys:
                    pipe.hget(key, "version")
                for key, value in zip(self.keys, pipe.execute()):
                    version = int(value or 0)
                    if version < last.get(key, 0):
                        self.regressions.append((key, last[key], version))
                    last[key] = max(version, last.get(key, 0))
                self.samples += 1
            except redis.RedisError:
                pass  # a Redis fault case: the sampler simply waits for it to come back
            self.stop_event.wait(self.interval_s)

    def stop(self) -> None:
        self.stop_event.set()
        if self.ident is not None:  # a run whose submission failed never started it
            self.join(timeout=10)


class JobRun:
    """One run of a job on the standalone cluster over a seeded input fed while it runs, with its oracle."""

    PARTITIONS = 4

    def __init__(self, settings: StackSettings, job: str = "fraud", *, parallelism: int = 1,
                 count: int | None = None, keys: int | None = None, poison: int | None = None,
                 seed: int | None = None, rate: float | None = None, job_file: str | None = None,
                 extra: tuple[str, ...] = (), rules: Callable[[list[int]], list[bytes]] | None = None):
        self.facts = JOB_FACTS[job]()
        sizes = {**self.facts.run_defaults, **{k: v for k, v in dict(count=count, keys=keys, poison=poison, seed=seed,
                                                                       rate=rate).items() if v is not None}}
        self.settings = settings
        self.run_id = uuid.uuid4().hex[:8]
        self.job_file = job_file or self.facts.job_file
        self.rate = sizes["rate"]
        self.parallelism = parallelism
        self.source, self.dead = fresh_topics(settings.kafka_bootstrap, "input", "deadletter",
                                              partitions=self.PARTITIONS)
        self.stream = self.facts.stream(sizes["count"], sizes["keys"], sizes["poison"], sizes["seed"])
        # One valid event per partition after the input (jobs with timers): the last watermark is then
        # the same whatever the order partitions end or go idle in, and the oracle fires timers up to it.
        newest = max(self.stream.times_ms)
        self.markers = self.facts.end_markers(newest, self.PARTITIONS)
        self.records = self.stream.records + [(key, value) for key, value, _, _ in self.markers]
        end_watermark = (min(t for _, _, t, _ in self.markers) - OUT_OF_ORDERNESS_MS - 1 if self.markers
                         else MAX_WATERMARK)
        # Rules records built from the stream's event times; the case says when each is published.
        self.rules_records = rules(event_times(self.stream)) if rules else []
        self.prefix = f"fault:{self.run_id}"
        self.s3_prefix = f"fault/{self.run_id}"
        self.expected = self.facts.expect(self.records, self.prefix, end_watermark, self.rules_records)
        self.feeder = threading.Thread(target=self._feed, daemon=True)
        self.feed_error = ""
        # Every delivery report (index, partition, offset, error) and librdkafka's own log, so a record
        # missing from the input topic can be named with what the producer was told about it.
        self.deliveries: list[tuple[int, int, int, str]] = []
        self.folder = run_dir() / "faults" / self.run_id
        self.folder.mkdir(parents=True, exist_ok=True)
        self.producer_log = self.folder / "librdkafka.log"
        # 120 attempts a second apart: a TaskManager started after a kill -9 can take over a minute to
        # register on a loaded machine (seen: load 15 on 2 cores), and every attempt before it fails at once
        # for want of a slot; 20 attempts ran out there and the job failed.
        self.args = job_args(settings, input_topic=self.source, dead_letter_topic=self.dead, run_id=self.run_id,
                             namespace="fault") + [
            "--set", "checkpoint.interval_ms=1000", "--set", "runtime.restart_attempts=120",
            "--set", "runtime.restart_delay_ms=1000", *extra]
        self.rules_topic = ""
        if rules:
            (self.rules_topic,) = fresh_topics(settings.kafka_bootstrap, "rules", partitions=1)
            self.args += ["--set", "rules.enabled=true", "--set", f"rules.topic={self.rules_topic}"]
        self.job_id = ""
        self.client = redis.Redis.from_url(settings.redis_url, decode_responses=True)
        self.sampler = VersionSampler(self.client, sorted(self.expected.entity_versions)[:50])

    @property
    def oracle(self):
        return self.expected.oracle

    def _feed(self) -> None:
        """Produce the input at `rate` while the job runs, so every fault lands mid-stream."""
        logger = logging.getLogger(f"tests.faults.{self.run_id}.librdkafka")
        logger.propagate = False
        logger.setLevel(logging.DEBUG)
        handler = logging.FileHandler(self.producer_log)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        logger.addHandler(handler)
        try:
            feed = TransactionalFeed(self.settings.kafka_bootstrap, self.source, logger, self.deliveries, self.run_id)
            t0 = time.monotonic()
            for i, ((key, value), time_ms) in enumerate(zip(self.stream.records, self.stream.times_ms)):
                wait = t0 + i / self.rate - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                feed.write(i, key, value, time_ms)
            for i, (key, value, time_ms, partition) in enumerate(self.markers, len(self.stream.records)):
                feed.write(i, key, value, time_ms, partition)
            feed.close()
        except Exception as exc:
            self.feed_error = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            handler.close()
            logger.removeHandler(handler)
            (self.folder / "deliveries.tsv").write_text("".join(
                f"{i}\t{p}\t{o}\t{e}\n" for i, p, o, e in sorted(self.deliveries)))

    def publish_rules(self, records: list[bytes]) -> None:
        publish_updates(self.settings.kafka_bootstrap, self.rules_topic, records, int(time.time() * 1000))

    def submit(self, savepoint: str | None = None, job_file: str | None = None, parallelism: int | None = None) -> str:
        """Submit the job (from a savepoint or checkpoint if given) at the run's parallelism or `parallelism`."""
        args = [*self.args, "--set", f"runtime.parallelism={parallelism or self.parallelism}"]
        out = run_flink(*python_job_args(job_file or self.job_file, *args, savepoint=savepoint), timeout_s=300)
        self.job_id = re.search(r"JobID ([0-9a-f]{32})", out).group(1)
        if not self.sampler.is_alive() and not self.sampler.stop_event.is_set():
            self.sampler.start()
            self.feeder.start()
        return self.job_id

    def start(self, checkpoints: int = 2) -> int:
        """Submit the shipped job and let it complete `checkpoints` checkpoints (the moment most faults
        strike); returns the completed count."""
        self.submit()
        self.wait_checkpoints(checkpoints)
        return self.completed_checkpoints()

    def job(self) -> dict:
        return get_json(f"{rest_url(self.settings)}/jobs/{self.job_id}")

    def operator_metric(self, name: str) -> float:
        """One of our operator metrics (`streamsuite.<name>`), summed over the job's subtasks."""
        base = f"{rest_url(self.settings)}/jobs/{self.job_id}"
        total = 0.0
        for vertex in self.job()["vertices"]:
            url = f"{base}/vertices/{vertex['id']}/metrics"
            ids = [m["id"] for m in get_json(url) if m["id"].endswith(f".streamsuite.{name}")]
            if ids:
                total += sum(float(m["value"]) for m in get_json(f"{url}?get={','.join(ids)}"))
        return total

    def parallelism_now(self) -> int:
        """The parallelism the running job's keyed operator has."""
        return max(vertex["parallelism"] for vertex in self.job()["vertices"])

    def completed_checkpoints(self) -> int:
        return get_json(f"{rest_url(self.settings)}/jobs/{self.job_id}/checkpoints")["counts"]["completed"]

    def wait(self, condition: Callable[[], bool], what: str, timeout_s: float) -> float:
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout_s:
            try:
                if condition():
                    return time.monotonic() - t0
            except (OSError, ValueError, KeyError):
                pass
            time.sleep(0.2)
        raise TimeoutError(f"{what} did not happen within {timeout_s:.0f} s")

    def wait_checkpoints(self, n: int, timeout_s: float = 120) -> float:
        return self.wait(lambda: self.completed_checkpoints() >= n, f"{n} completed checkpoints", timeout_s)

    def hot_versions_complete(self) -> bool:
        pipe = self.client.pipeline(transaction=False)
        keys = list(self.expected.entity_versions)
        for key in keys:
            pipe.hget(key, "version")
        return all(int(v or 0) == self.expected.entity_versions[k] for k, v in zip(keys, pipe.execute()))

    def wait_complete(self, timeout_s: float = 300) -> str:
        """All input fed and scored, then one more checkpoint (it commits the last S3 files and
        dead-letter transactions); the job is then cancelled. Returns how it ended."""
        self.feeder.join(timeout=timeout_s)
        if self.feed_error:
            raise RuntimeError(f"the feeder failed: {self.feed_error}")
        # The oracle is computed over every record fed: if the broker lost one, say so, rather than
        # wait for card versions that can never come.
        stored = len(read_topic(self.settings.kafka_bootstrap, self.source))
        if stored != len(self.records):
            raise RuntimeError(f"the input topic holds {stored} of the {len(self.records)} records fed, so "
                               f"the outputs cannot equal the oracle: {self.input_check().seen}")
        self.wait(self.hot_versions_complete, "every key at its final version", timeout_s)
        after = self.completed_checkpoints()
        self.wait(lambda: self.completed_checkpoints() >= after + 2, "two checkpoints after the last event", 120)
        state = self.job()["state"]
        run_flink("cancel", self.job_id, timeout_s=120)
        return state

    def stop_with_savepoint(self) -> str:
        out = run_flink("stop", "--savepointPath", savepoint_dir().as_uri(), self.job_id, timeout_s=300)
        return re.search(r"Savepoint completed\. Path: (\S+)", out).group(1)

    def latest_checkpoint_path(self) -> str:
        latest = get_json(f"{rest_url(self.settings)}/jobs/{self.job_id}/checkpoints")["latest"]["completed"]
        return latest["external_path"]

    def input_check(self) -> Check:
        """The input topic read back against what was fed and what each delivery report said."""
        fed = len(self.records)
        records = read_topic(self.settings.kafka_bootstrap, self.source)
        stored = Counter(value for _, _, _, value in records)
        wanted = Counter(value for _, value in self.records)
        reports = {index: (partition, offset, error) for index, partition, offset, error in self.deliveries}
        failed = sorted(i for i, (_, _, error) in reports.items() if error)
        missing = [i for i, (_, value) in enumerate(self.records) if stored[value] < wanted[value]]
        problems = []
        for i in missing[:5]:
            partition, offset, error = reports.get(i, (None, None, "no delivery report"))
            problems.append(f"record #{i} (key {self.records[i][0].decode(errors='replace')}) missing; "
                            f"its report: partition {partition} offset {offset} {error or 'delivered'}")
        extra = stored - wanted
        if extra:
            index = {value: i for i, (_, value) in enumerate(self.records)}
            copies = sorted((p, o, index[v]) for p, o, _, v in records if v in extra)
            problems.append(f"{sum(extra.values())} records stored more than fed: "
                            + ", ".join(f"#{i} at {p}/{o} (reported {reports.get(i, ('?', '?'))[:2]})"
                                        for p, o, i in copies[:12]))
        if failed:
            problems.append(f"{len(failed)} failed delivery reports (first #{failed[0]}: {reports[failed[0]][2]})")
        if len(reports) != fed:
            problems.append(f"{len(reports)} delivery reports for {fed} records")
        if problems:
            problems.append(f"librdkafka's log and the reports: {portable(str(self.folder))}")
        seen = "; ".join(problems) or f"{sum(stored.values())} stored, {len(reports)} reports, none failed"
        return Check("input topic read back", f"the {fed} records fed, each once, each reported delivered", seen,
                     not problems)

    def verify(self) -> list[Check]:
        self.sampler.stop()
        checks = [self.input_check()]
        checks += self.facts.checks(self.client, self.settings, self.s3_prefix, self.prefix, self.expected, self.stream)
        checks.append(Check("versions never go backwards", "0 regressions",
                            f"{len(self.sampler.regressions)} in {self.sampler.samples} samples",
                            not self.sampler.regressions and self.sampler.samples > 0))
        letters = sorted(DeadLetter.FromString(v).payload
                         for _, _, _, v in read_topic(self.settings.kafka_bootstrap, self.dead))
        poison, late = self.expected.poison, self.expected.late
        described = f"{len(poison)} poison" + (f" + {len(late)} late" if late else "")
        checks.append(Check("dead letters", f"{described}, byte for byte", f"{len(letters)}",
                            letters == sorted(poison + late)))
        made = generator_dead_letters(self.stream)
        checks.append(Check("dead letters = the generator's poison and late events", f"{len(made)}, byte for byte",
                            f"{len(letters)}", letters == sorted(made)))
        checks.append(Check("leftover multipart uploads", "recorded", str(self.leftover_uploads()), True))
        return checks

    def leftover_uploads(self) -> int:
        import boto3

        s3 = boto3.client("s3", endpoint_url=self.settings.s3_endpoint, region_name="us-east-1",
                          aws_access_key_id=self.settings.s3_access_key,
                          aws_secret_access_key=self.settings.s3_secret_key)
        uploads = s3.list_multipart_uploads(Bucket=COLD_BUCKET, Prefix=self.s3_prefix).get("Uploads", [])
        return len(uploads)


def failover_check(run: JobRun) -> Check:
    """The fault reached the running job: Flink recorded at least one failure and restarted."""
    entries = get_json(f"{rest_url(run.settings)}/jobs/{run.job_id}/exceptions").get("exceptionHistory", {}).get(
        "entries", [])
    first = entries[-1]["exceptionName"] if entries else "none"
    return Check("job failed over", "at least 1 recorded failure", f"{len(entries)} (first: {first})",
                 bool(entries))


def liveness_check(run: JobRun, before: int, seconds: float) -> Check:
    """After a fault: running again and new checkpoints completed within `seconds` (or finished)."""
    try:
        run.wait(lambda: run.job()["state"] == "RUNNING" and run.completed_checkpoints() >= before + 2,
                 "new checkpoints after the fault", seconds)
        return Check("liveness", f"2 new checkpoints within {seconds:.0f} s", "yes", True)
    except TimeoutError as exc:
        return Check("liveness", f"2 new checkpoints within {seconds:.0f} s", str(exc), False)


def run_case(case: str, fault: str, settings: StackSettings, body: Callable[[JobRun], list[Check]],
             **run_options) -> CaseResult:
    t0 = time.monotonic()
    result = CaseResult(case, fault)
    run = JobRun(settings, **run_options)
    try:
        result.checks += body(run)
        state = run.wait_complete()
        result.checks.append(Check("running at the end", "RUNNING", state, state == "RUNNING"))
        result.checks += run.verify()
    except Exception as exc:
        result.checks.append(Check("harness", "no error", f"{type(exc).__name__}: {exc}", False))
        if run.job_id:
            try:
                run_flink("cancel", run.job_id, timeout_s=60)
            except Exception:
                pass
    finally:
        run.sampler.stop()
    result.seconds = time.monotonic() - t0
    return result
