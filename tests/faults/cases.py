"""The fault cases: each breaks one thing at a chosen moment; the harness checks the outputs."""
from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from streamsuite.cluster import FlinkCluster
from streamsuite.stack import Stack
from tests.faults.harness import (Check, FraudRun, failover_check, kill_taskmanager, liveness_check,
                                  restart_service, stop_cluster_pid)


def tm_kill_once(stack: Stack, cluster: FlinkCluster):
    def body(run: FraudRun):
        run.submit()
        run.wait_checkpoints(2)
        before = run.completed_checkpoints()
        state = run.job()["state"]
        kill_taskmanager(cluster)
        return [Check("killed mid-run", "RUNNING", state, state == "RUNNING"), liveness_check(run, before, 120),
                failover_check(run)]
    return "kill -9 the TaskManager after 2 completed checkpoints, start a new one", body


def tm_kill_repeated(stack: Stack, cluster: FlinkCluster, kills: int = 3):
    def body(run: FraudRun):
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

    def body(run: FraudRun):
        run.submit(job_file="tests/faults/fraud_failing_once.py")
        run.wait(marker.exists, "the injected failure", 120)
        before = run.completed_checkpoints()
        return [Check("failure injected", "once", "once", marker.exists()), liveness_check(run, before, 120),
                failover_check(run)]
    return f"an exception inside the job after {after} records (once)", body


def jm_kill_restart_from_checkpoint(stack: Stack, cluster: FlinkCluster):
    def body(run: FraudRun):
        run.submit()
        run.wait_checkpoints(2)
        checkpoint = run.latest_checkpoint_path()
        stop_cluster_pid(cluster, "jobmanager")  # SIGTERM then SIGKILL: the job is lost with it
        cluster.down()
        cluster.up()
        run.submit(savepoint=checkpoint)
        return [Check("resumed from retained checkpoint", "a chk-N path", checkpoint, "chk-" in checkpoint),
                liveness_check(run, 0, 120)]
    return "kill the JobManager, restart the cluster, resume from the latest retained checkpoint", body


def service_restart(service: str, what: str, recovery_s: float):
    def case(stack: Stack, cluster: FlinkCluster):
        def body(run: FraudRun):
            run.submit()
            run.wait_checkpoints(2)
            before = run.completed_checkpoints()
            restart_service(stack, service)
            return [liveness_check(run, before, recovery_s)]
        return f"kill -9 {what} mid-run, restart it after 3 s", body
    return case


redis_restart = service_restart("redis", "Redis (AOF fsync always)", 180)
kafka_restart = service_restart("kafka", "the Kafka broker", 240)
s3_restart = service_restart("s3", "the S3 server (checkpoints every second, so during one)", 240)


def savepoint_upgrade(stack: Stack, cluster: FlinkCluster):
    def body(run: FraudRun):
        run.submit()
        run.wait_checkpoints(2)
        savepoint = run.stop_with_savepoint()
        run.submit(savepoint=savepoint, job_file="tests/faults/fraud_upgraded.py")
        return [Check("stopped with savepoint", "a savepoint path", savepoint, bool(savepoint)),
                liveness_check(run, 0, 120)]
    return "stop with a savepoint, upgrade the job (a new stateless operator), resume", body


def incompatible_state_refused(stack: Stack, cluster: FlinkCluster):
    """The negative case: checked here, outside the exact-output flow."""
    def body(run: FraudRun):
        run.submit()
        run.wait_checkpoints(2)
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


FAST = ("tm_kill_once", "exception_once")
ALL = ("tm_kill_once", "tm_kill_repeated", "exception_once", "jm_kill_restart_from_checkpoint", "redis_restart",
       "kafka_restart", "s3_restart", "savepoint_upgrade", "incompatible_state_refused")
