"""Fault injection: kill -9 a process we started (a stack service, the JobManager or TaskManager, the
Python workers of the TaskManager), by its recorded PID, and start it again."""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from streamsuite.cluster import FlinkCluster
from streamsuite.processes import owned_pid
from streamsuite.stack import ProcessGroup, Stack
from tests.net_helpers import process_tree


def kill_service(group: ProcessGroup, name: str) -> int:
    """kill -9 one process of a group we started (stack or cluster), by its recorded PID, and wait
    until it is gone."""
    service = next(s for s in group.services if s.name == name)
    pid = owned_pid(service)
    if pid is None:
        raise RuntimeError(f"no {name} of ours is running")
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while owned_pid(service) and time.monotonic() < deadline:
        time.sleep(0.1)
    return pid


def kill_taskmanager(cluster: FlinkCluster) -> int:
    """kill -9 the TaskManager we started, then start a fresh one."""
    pid = kill_service(cluster, "taskmanager")
    cluster.up()
    return pid


def restart_service(stack: Stack, name: str, down_s: float = 3.0) -> int:
    """kill -9 one stack service, keep it down a moment, start it again."""
    pid = kill_service(stack, name)
    time.sleep(down_s)
    stack.up()
    return pid



def kill_python_workers(cluster: FlinkCluster) -> list[int]:
    """kill -9 the Python processes the TaskManager we started runs for its Python operators."""
    taskmanager = next(s for s in cluster.services if s.name == "taskmanager")
    pid = owned_pid(taskmanager)
    if pid is None:
        raise RuntimeError("no TaskManager of ours is running")
    killed = []
    for child in process_tree(pid)[1:]:
        try:
            command = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if "python" in command:
            os.kill(child, signal.SIGKILL)
            killed.append(child)
    return killed
