"""Where the latency stalls of the fraud job come from: a timeline, second by second.

    python benchmarks/stall_timeline.py [--latency-seconds 40] [--load-eps 2500] [--out DIR]

Runs `streamsuite bench fraud --arms ours --rounds 1` (our job, its latency phase at a fixed
offered load) and, beside it, samples every 250 ms the CPU of the harness (the bench process, its
load generator and its latency receiver), of the job (client, JVM with the embedded Python), of
Kafka, Redis and S3 apart, and the JVM's garbage-collection time (`jstat`); afterwards it reads the per-event
latencies the harness kept and the checkpoints from the job's Flink log, and writes a table
per second (p50/p99/max event-to-Redis, CPU by party, GC ms, checkpoints) to DIR/timeline.md.
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from streamsuite.bench.proc import stack_pids  # noqa: E402
from streamsuite.procfs import CLK_TCK, process_table, process_tree  # noqa: E402
from jobs.paths import run_dir  # noqa: E402
from streamsuite.paths import portable  # noqa: E402


class GcClock(threading.Thread):
    """One `jstat -gcutil <pid> 250` for the run: total GC seconds of the JVM every 250 ms (one
    jstat per sample would start a JVM four times a second and be the largest load on the machine)."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.process = subprocess.Popen(["jstat", "-gcutil", str(pid), "250"], stdout=subprocess.PIPE, text=True)
        self.gc_s: float | None = None

    def run(self) -> None:
        for line in self.process.stdout:
            try:
                self.gc_s = float(line.split()[-1])
            except (IndexError, ValueError):
                continue

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def sample(bench_pid: int, out: list, stop: threading.Event) -> None:
    stack = stack_pids()
    gc_clock = None
    while not stop.is_set():
        table = process_table()
        tree = process_tree([bench_pid], table)
        clients = [p for p in tree if table[p][0] == bench_pid
                   and any(table[c][0] == p and table[c][3] == "java" for c in tree)]
        job_tree = process_tree(clients, table) if clients else set()
        harness = tree - job_tree - ({gc_clock.process.pid} if gc_clock else set())
        stack_ticks = {name: sum(table[p][1] for p in process_tree([pid], table)) for name, pid in stack.items()}
        jvm = next((p for p in job_tree if table[p][3] == "java"), None)
        if jvm and gc_clock is None:
            gc_clock = GcClock(jvm)
            gc_clock.start()
        out.append({"t": time.time(), "harness": sum(table[p][1] for p in harness),
                    "job": sum(table[p][1] for p in job_tree), **{f"stack_{k}": v for k, v in stack_ticks.items()},
                    "gc_ms": gc_clock.gc_s * 1000 if gc_clock and gc_clock.gc_s is not None else None})
        stop.wait(0.25)
    if gc_clock:
        gc_clock.stop()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-seconds", type=float, default=40)
    parser.add_argument("--load-eps", type=float, default=2500)
    parser.add_argument("--events", type=int, default=80_000)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "fraud-stalls"))
    args = parser.parse_args(argv)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    before = set((run_dir() / "bench").glob("fraud-*"))
    command = [sys.executable, "-m", "streamsuite", "bench", "fraud", "--arms", "ours", "--rounds", "1", "--events",
               str(args.events), "--latency-seconds", str(args.latency_seconds), "--max-latency-load",
               str(args.load_eps), "--load", "1.0", "--keep", "--no-plot", "--out", str(out_dir / "bench")]
    bench = subprocess.Popen(command, cwd=ROOT)
    samples: list[dict] = []
    stop = threading.Event()
    sampler = threading.Thread(target=sample, args=(bench.pid, samples, stop), daemon=True)
    sampler.start()
    bench.wait()
    stop.set()
    sampler.join(10)
    [work] = set((run_dir() / "bench").glob("fraud-*")) - before
    [latency_file] = work.glob("*/latency.json")
    hot = json.loads(latency_file.read_text())["hot"]
    checkpoints = []
    for log in work.glob("*/*.log"):
        for line in log.read_text(errors="replace").splitlines():
            match = re.search(r"^(\S+ \S+) .*Completed checkpoint (\d+) .*?\((\d+) bytes, checkpointDuration=(\d+) ms", line)
            if match:
                stamp = time.mktime(time.strptime(match.group(1).split(",")[0], "%Y-%m-%d %H:%M:%S"))
                checkpoints.append((stamp + int(match.group(1).split(",")[1]) / 1000, int(match.group(2)),
                                    int(match.group(4))))
    per = defaultdict(list)
    for recv_ms, event_ms, _ in hot:
        per[int(event_ms / 1000)].append(recv_ms - event_ms)
    cpu = defaultdict(list)
    for s in samples:
        cpu[int(s["t"])].append(s)
    rows = ["| second | events | p50 ms | p99 ms | max ms | harness cores | job cores | "
            "Kafka / Redis / S3 cores | GC ms | checkpoints completed (duration ms) |", "|---|---|---|---|---|---|---|---|---|---|"]
    first = min(per) if per else 0
    for second in sorted(per):
        v = sorted(per[second])
        s = cpu.get(second, []) + cpu.get(second + 1, [])[:1]
        cores = {}
        if len(s) >= 2:
            span = s[-1]["t"] - s[0]["t"]
            for k in s[0]:
                if k not in ("t", "gc_ms") and k in s[-1]:
                    cores[k] = (s[-1][k] - s[0][k]) / CLK_TCK / span if span else 0
            gc = (s[-1]["gc_ms"] - s[0]["gc_ms"]) if s[-1]["gc_ms"] is not None and s[0]["gc_ms"] is not None else None
        else:
            gc = None
        stack = " / ".join(f"{cores.get(f'stack_{name}', 0):.2f}" for name in ("kafka", "redis", "s3"))
        ckpts = ", ".join(f"{n} ({ms})" for at, n, ms in checkpoints if int(at) == second)
        rows.append(f"| {second - first} | {len(v)} | {v[len(v) // 2]:.0f} | {v[int(len(v) * 0.99)]:.0f} | {v[-1]:.0f} | "
                    f"{cores.get('harness', 0):.2f} | {cores.get('job', 0):.2f} | {stack} | "
                    f"{'-' if gc is None else f'{gc:.0f}'} | {ckpts} |")
    text = "\n".join([f"# Fraud latency timeline ({time.strftime('%Y-%m-%d')})", "",
                      f"Command: `python benchmarks/stall_timeline.py {' '.join(argv or sys.argv[1:])}` "
                      f"(runs `{portable(' '.join(command[2:]))}`). Seconds count from the first measured event.",
                      "",
                      *rows, ""])
    (out_dir / "timeline.md").write_text(text)
    print(f"timeline in {out_dir / 'timeline.md'}")
    return bench.returncode


if __name__ == "__main__":
    sys.exit(main())
