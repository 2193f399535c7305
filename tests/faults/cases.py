"""The fault cases: each breaks one thing at a chosen moment; the harness checks the outputs."""
from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from streamsuite.cluster import FlinkCluster
from streamsuite.stack import Stack
from tests.faults.harness import Check, JobRun, failover_check, liveness_check
from tests.faults.inject import kill_python_workers, kill_service, kill_taskmanager, restart_service
from tests.rules_helpers import two_versions


def tm_kill_once(stack: Stack, cluster: FlinkCluster):
    def body(run: JobRun):
        before = run.start()
        state = run.job()["state"]
        kill_taskmanager(cluster)
        return [Check("killed mid-run", "RUNNING", state, state == "RUNNING"), liveness_check(run, before, 120),
                failover_check(run)]
    return "kill -9 the TaskManager after 2 completed checkpoints, start a new one", body


def tm_kill_holding_batch(stack: Stack, cluster: FlinkCluster):
    """The hot sink holds its batch until the next checkpoint (a 10 s delay, no count bound): the
    kill always lands while it holds up to a second of unwritten upserts, which only the replay
    from the last checkpoint can write again."""
    def body(run: JobRun):
        before = run.start()
        time.sleep(0.5)  # half-way between two checkpoints (interval 1 s): the sink holds ~0.5 s of upserts
        kill_taskmanager(cluster)
        return [liveness_check(run, before, 120), failover_check(run)]
    return "kill -9 the TaskManager while the hot sink holds a batch (max delay 10 s, flushed only by checkpoints)", body


tm_kill_holding_batch.run_options = {"extra": ("--set", "redis.batch_max_delay_ms=10000",
                                               "--set", "redis.batch_max_records=1000000")}


def tm_kill_repeated(stack: Stack, cluster: FlinkCluster, kills: int = 3):
    def body(run: JobRun):
        run.submit()
        checks = []
        for _ in range(kills):
            run.wait_checkpoints(run.completed_checkpoints() + 1)
            before = run.completed_checkpoints()
            kill_taskmanager(cluster)
            checks.append(liveness_check(run, before, 120))
        checks.append(failover_check(run))
        return checks
    return f"kill -9 the TaskManager {kills} times, each right after a checkpoint completes", body


def exception_once(stack: Stack, cluster: FlinkCluster, after: int = 20_000):
    marker = Path(tempfile.mkdtemp(prefix="streamsuite-fault-")) / "failed"
    os.environ["STREAMSUITE_FAULT_MARKER"] = str(marker)
    os.environ["STREAMSUITE_FAULT_AFTER"] = str(after)

    def body(run: JobRun):
        os.environ["STREAMSUITE_FAULT_JOB"] = run.facts.module
        run.submit(job_file=FAILING_ONCE.get(run.facts.job, "tests/faults/failing_once.py"))
        run.wait(marker.exists, "the injected failure", 120)
        before = run.completed_checkpoints()
        return [Check("failure injected", "once", "once", marker.exists()), liveness_check(run, before, 120),
                failover_check(run)]
    return f"an exception inside the job after {after} records (once)", body


# The fraud job's own file; the other jobs run through the one that fails any job once.
FAILING_ONCE = {"fraud": "tests/faults/fraud_failing_once.py"}


def jm_kill_restart_from_checkpoint(stack: Stack, cluster: FlinkCluster):
    def body(run: JobRun):
        run.start()
        checkpoint = run.latest_checkpoint_path()
        kill_service(cluster, "jobmanager")  # kill -9: no HA store, so the job is lost with it
        cluster.down()
        cluster.up()
        run.submit(savepoint=checkpoint)
        return [Check("resumed from retained checkpoint", "a chk-N path", checkpoint, "chk-" in checkpoint),
                liveness_check(run, 0, 120)]
    return "kill the JobManager, restart the cluster, resume from the latest retained checkpoint", body


def python_worker_kill(stack: Stack, cluster: FlinkCluster):
    """Thread mode (the default) runs Python inside the TaskManager's JVM, so this case runs the
    job in process mode, where the Python worker is a process of its own."""
    def body(run: JobRun):
        before = run.start()
        killed = kill_python_workers(cluster)
        return [Check("python workers killed", "at least 1", str(len(killed)), bool(killed)),
                liveness_check(run, before, 180), failover_check(run)]
    return "kill -9 the Python worker processes of the job (process mode) after 2 checkpoints", body


python_worker_kill.run_options = {"extra": ("--set", "runtime.python_mode=process"), "rate": 1_500}


def service_restart(service: str, what: str, recovery_s: float, before_kill=None, down_s: float = 3.0):
    def case(stack: Stack, cluster: FlinkCluster):
        def body(run: JobRun):
            before = run.start()
            if before_kill:
                before_kill(run)
            restart_service(stack, service, down_s)
            live = liveness_check(run, before, recovery_s)
            failover = failover_check(run)
            # Recorded, not required: a short outage may be ridden out by retries instead.
            return [live, Check("job failed over", "recorded", failover.seen, True)]
        return f"kill -9 {what} mid-run, restart it after {down_s:g} s", body
    return case


def _redis_fsync_always(run: JobRun) -> None:
    """Convergence needs every acknowledged upsert to survive the restart. Redis writes the AOF
    before it replies, so a killed process loses nothing under the stack's `everysec` either; only
    a crash of the machine could lose the last second, which no replay restores. The case runs
    with `always`, the setting that also covers that, so its verdict holds for both."""
    run.client.config_set("appendfsync", "always")


redis_restart = service_restart("redis", "Redis (AOF, fsync always)", 180, _redis_fsync_always)
kafka_restart = service_restart("kafka", "the Kafka broker", 240)
s3_restart = service_restart("s3", "the S3 server (checkpoints every second, so during one)", 240)
# Outages: the job recovers by itself (a Redis outage within redis.max_outage_ms stalls it without a restart).
redis_outage_5min = service_restart("redis", "Redis (AOF, fsync always)", 300, _redis_fsync_always, down_s=300)
kafka_outage_2min = service_restart("kafka", "the Kafka broker", 300, down_s=120)
s3_outage_2min = service_restart("s3", "the S3 server", 300, down_s=120)
# Outages run with the jobs' default restart strategy (exponential delay, no attempt limit): a
# bounded one would spend its attempts while the service is still down.
for _outage in (redis_outage_5min, kafka_outage_2min, s3_outage_2min):
    _outage.run_options = {"extra": ("--set", "runtime.restart_attempts=-1")}


def savepoint_upgrade(stack: Stack, cluster: FlinkCluster):
    def body(run: JobRun):
        run.start()
        savepoint = run.stop_with_savepoint()
        run.submit(savepoint=savepoint, job_file="tests/faults/fraud_upgraded.py")
        return [Check("stopped with savepoint", "a savepoint path", savepoint, bool(savepoint)),
                liveness_check(run, 0, 120)]
    return "stop with a savepoint, upgrade the job (a new stateless operator), resume", body


def rescale(stack: Stack, cluster: FlinkCluster):
    """Keyed state and timers move between subtasks by key group (max parallelism 128, fixed), so a
    savepoint taken at one parallelism restores at another with the same outputs."""
    def body(run: JobRun):
        run.start()
        to_two = run.stop_with_savepoint()
        run.submit(savepoint=to_two, parallelism=2)
        run.wait_checkpoints(2)
        two = run.parallelism_now()
        to_one = run.stop_with_savepoint()
        run.submit(savepoint=to_one, parallelism=1)
        return [Check("savepoints taken", "2", str(sum(bool(s) for s in (to_two, to_one))), bool(to_two and to_one)),
                Check("parallelism after the first resume", "2", str(two), two == 2),
                Check("parallelism at the end", "1", str(run.parallelism_now()), run.parallelism_now() == 1),
                liveness_check(run, 0, 120)]
    return "stop with a savepoint at parallelism 1, resume at 2, stop with a savepoint again, resume at 1", body


rescale.run_options = {"parallelism": 1}


def no_fault(stack: Stack, cluster: FlinkCluster):
    """The failure-free run on the cluster: the oracle it confirms is what every fault case must equal."""
    def body(run: JobRun):
        before = run.start()
        return [liveness_check(run, before, 120)]
    return "none: the failure-free run the fault cases must equal", body


def incompatible_state_refused(stack: Stack, cluster: FlinkCluster):
    """The negative case: checked here, outside the exact-output flow."""
    def body(run: JobRun):
        run.start()
        savepoint = run.stop_with_savepoint()
        refused = ""
        try:
            run.submit(savepoint=savepoint, job_file="tests/faults/fraud_incompatible.py")
            time.sleep(5)
            state = run.job()["state"]
            refused = "" if state in ("RUNNING", "FINISHED") else state
        except RuntimeError as exc:
            refused = "refused at submission" if "allowNonRestoredState" in str(exc) or "Failed to rollback" in str(
                exc) or "Cannot map checkpoint/savepoint state" in str(exc) else str(exc)[-300:]
        check = Check("incompatible state change", "refused to start", refused or "started", bool(refused))
        # Resume the shipped job from the same savepoint so the run still ends with exact outputs.
        run.submit(savepoint=savepoint)
        return [check]
    return "restore a savepoint into a job whose stateful operator changed uid, without permission", body


def tm_kill_between_rule_versions(stack: Stack, cluster: FlinkCluster):
    """Rules on: version 1 and a horizon at the middle of the stream's event time are on the rules
    topic when the job starts, so it holds the second half; the TaskManager dies with those
    transactions in its state, then version 2 (from the middle) and a horizon past the end are
    published. Every transaction must carry the version and score the reference gives it."""
    def body(run: JobRun):
        run.publish_rules(run.rules_records[:2])
        run.start()
        run.wait(lambda: run.operator_metric("transactions_held") > 0, "transactions held for version 2", 300)
        held = run.operator_metric("transactions_held")
        run.wait_checkpoints(run.completed_checkpoints() + 1)
        before = run.completed_checkpoints()
        kill_taskmanager(cluster)
        live = liveness_check(run, before, 120)
        run.publish_rules(run.rules_records[2:])
        return [Check("transactions held when killed", "more than 0", f"{held:.0f}", held > 0), live,
                failover_check(run)]
    return "kill -9 the TaskManager between rule-set versions 1 and 2 (held transactions in state)", body


tm_kill_between_rule_versions.run_options = {"rules": two_versions}


def run_options(name: str) -> dict:
    """How a case wants its run built (e.g. the Python execution mode), beyond the defaults."""
    return getattr(globals()[name], "run_options", {})


FAST = ("tm_kill_once", "exception_once")
# The other jobs' fast tier in `make test`: (job, case, parallelism), about 1.5 minutes each.
FAST_OTHER_JOBS = (("inventory", "tm_kill_once", 2), ("maintenance", "tm_kill_once", 2))
# Cases that need the fraud job's own files or its rules topic.
FRAUD_ONLY = ("tm_kill_between_rule_versions", "savepoint_upgrade", "incompatible_state_refused")
ALL = ("no_fault", "tm_kill_once", "tm_kill_holding_batch", "tm_kill_between_rule_versions", "tm_kill_repeated", "exception_once", "jm_kill_restart_from_checkpoint", "python_worker_kill",
       "redis_restart",
       "kafka_restart", "s3_restart", "savepoint_upgrade", "incompatible_state_refused", "rescale",
       "redis_outage_5min", "kafka_outage_2min", "s3_outage_2min")
