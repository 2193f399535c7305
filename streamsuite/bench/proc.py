"""CPU and memory from /proc: the job's process tree, the stack's recorded processes, threads by name."""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from jobs.paths import run_dir
from streamsuite.procfs import CLK_TCK, process_table, process_tree, read_stat


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
        stat = read_stat(f"/proc/{pid}/task/{tid}/stat")
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
        table = process_table()
        rss: dict[str, int] = {}
        for pid in process_tree([self.job_pid], table):
            self._job_ticks[pid] = table[pid][1]
            label = self._label(pid, table[pid][3])
            rss[label] = rss.get(label, 0) + table[pid][2]
        for name, root in self.stack.items():
            for pid in process_tree([root], table):
                self._stack_ticks[pid] = table[pid][1]
                label = name if pid == root else f"{name} child"
                rss[label] = rss.get(label, 0) + table[pid][2]
        for label, kb in rss.items():
            self.rss_kb[label] = max(self.rss_kb.get(label, 0), kb)
        threads: dict[str, int] = {}
        for pid in process_tree([self.job_pid], table):
            if table[pid][3] == "java":
                for name, ticks in thread_ticks(pid).items():
                    threads[name] = threads.get(name, 0) + ticks
        return CpuSample(time.monotonic(), sum(self._job_ticks.values()), sum(self._stack_ticks.values()), threads)
