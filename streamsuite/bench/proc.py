"""CPU and memory from /proc: the job's process tree, the stack's recorded processes, threads by name."""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from jobs.paths import run_dir

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


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


def proc_table() -> dict[int, tuple[int, int, int, str]]:
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


def process_tree(roots: list[int], table: dict[int, tuple[int, int, int, str]]) -> set[int]:
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
        table = proc_table()
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
