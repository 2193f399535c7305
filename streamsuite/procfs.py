"""Processes as /proc shows them: one `stat` file, the whole process table, a process's descendants.

Linux only, no tools needed; the stack, the benchmark and the tests walk processes with these.
"""
from __future__ import annotations

import os

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


def read_stat(path: str) -> tuple[str, list[str]] | None:
    """(comm, the fields after it) of a /proc `stat` file, or None if the process or thread is gone.
    The fields are numbered from `state` (0): ppid 1, utime 11, stime 12, rss 21."""
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        return None
    head, _, tail = text.rpartition(")")
    return head.partition("(")[2], tail.split()


def process_table() -> dict[int, tuple[int, int, int, str]]:
    """pid -> (ppid, utime+stime ticks, rss kB, comm) for every visible process."""
    table = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        stat = read_stat(f"/proc/{entry.name}/stat")
        if stat is None:
            continue
        comm, fields = stat
        try:
            table[int(entry.name)] = (int(fields[1]), int(fields[11]) + int(fields[12]), int(fields[21]) * PAGE_KB,
                                      comm)
        except (IndexError, ValueError):
            continue
    return table


def process_tree(roots: list[int], table: dict[int, tuple[int, int, int, str]] | None = None) -> set[int]:
    """The roots that are alive and all their descendants, from `table` (`process_table()` if None)."""
    table = process_table() if table is None else table
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


def process_state(pid: int) -> str | None:
    """The state letter of a process (R, S, Z, ...), or None if /proc has no such process."""
    stat = read_stat(f"/proc/{pid}/stat")
    return stat[1][0] if stat else None
