"""From rounds to results: medians and spreads per arm, ratios to ours, the targets and the bottleneck."""
from __future__ import annotations

import os
import statistics
from typing import Any

from streamsuite.bench.arms import Arm, JobBench
from streamsuite.bench.stats import formatted, spread


def summarize(job: JobBench, arms: dict[str, Arm], results: dict[str, list[dict]]) -> dict[str, Any]:
    summary = {}
    for name, rounds in results.items():
        ok = [r for r in rounds if "error" not in r]
        lat_rounds = [r["latency"] for r in ok if "latency" in r]
        summary[name] = {
            "throughput_eps": spread([r.get("throughput_eps") for r in ok]),
            "events_per_cpu_s": spread([r.get("events_per_cpu_s") for r in ok]),
            "cores_used": spread([r.get("cores_used") for r in ok]),
            "job_cpu_us_per_event": spread([r.get("job_cpu_us_per_event") for r in ok]),
            "stack_cpu_us_per_event": spread([r.get("stack_cpu_us_per_event") for r in ok]),
            "startup_s": spread([r.get("startup_s") for r in ok]),
            "idle_cores_job": spread([r.get("idle_cores", {}).get("job") for r in ok]),
            "idle_cores_stack": spread([r.get("idle_cores", {}).get("stack") for r in ok]),
            "checkpoint_ms": spread([r.get("checkpoint", {}).get("end_to_end_ms") for r in ok]),
            "checkpoint_bytes": spread([r.get("checkpoint", {}).get("state_size_bytes") for r in ok]),
            "state_bytes_per_key": spread([r.get("state_bytes_per_key") for r in ok]),
            "errors": len(rounds) - len(ok),
        }
        if lat_rounds:
            summary[name]["latency"] = {
                "offered_eps": spread([lr["offered_eps"] for lr in lat_rounds]),
                "cores_job": spread([lr.get("cores_used", {}).get("job") for lr in lat_rounds]),
                "cores_stack": spread([lr.get("cores_used", {}).get("stack") for lr in lat_rounds]),
                "cores_harness": spread([lr.get("cores_used", {}).get("harness") for lr in lat_rounds]),
                "cores_producer": spread([lr.get("cores_used", {}).get("producer") for lr in lat_rounds]),
                "achieved_eps": spread([lr.get("achieved_eps") for lr in lat_rounds]),
                "producer_late_p99_ms": spread([lr.get("producer_lateness_ms", {}).get("p99") for lr in lat_rounds]),
                **{f"{q}_ms": spread([lr["event_to_hot_ms"].get(q) for lr in lat_rounds])
                   for q in ("p50", "p99", "p999", "max")},
                "stages": {stage: {q: spread([lr["stages"].get(stage, {}).get(q) for lr in lat_rounds])
                                   for q in ("p50", "p99")}
                           for stage in sorted({s for lr in lat_rounds for s in lr["stages"]})},
            }
        tasks: dict[str, dict[str, list[float]]] = {}
        for r in ok:
            for label, values in r.get("task_time_ms_per_s", {}).items():
                for metric, value in values.items():
                    tasks.setdefault(label, {}).setdefault(metric, []).append(value)
        summary[name]["task_time_ms_per_s"] = {label: {m: statistics.median(v) for m, v in ms.items()}
                                               for label, ms in tasks.items()}
        threads: dict[str, list[float]] = {}
        for r in ok:
            for thread, cores in r.get("jvm_thread_cores", {}).items():
                threads.setdefault(thread, []).append(cores)
        summary[name]["jvm_thread_cores"] = dict(sorted(((t, statistics.median(v)) for t, v in threads.items()),
                                                        key=lambda kv: -kv[1])[:6])
        waits: dict[str, list[float]] = {}
        for r in ok:
            for thread, share in r.get("jvm_thread_runqueue_wait", {}).items():
                waits.setdefault(thread, []).append(share)
        summary[name]["jvm_thread_runqueue_wait"] = {t: statistics.median(v) for t, v in waits.items()
                                                     if t in summary[name]["jvm_thread_cores"]}
        rss: dict[str, list[float]] = {}
        for r in ok:
            for proc, mb in r.get("rss_mb", {}).items():
                rss.setdefault(proc, []).append(mb)
        summary[name]["rss_mb"] = {proc: max(v) for proc, v in rss.items()}
    return summary


def ratios(results: dict[str, list[dict]], base: str = "ours") -> dict[str, Any]:
    """Per round ratio of each arm to ours (paired: same round, minutes apart), then median and spread."""
    out = {}
    base_rounds = {r["round"]: r for r in results.get(base, []) if "error" not in r}
    for name, rounds in results.items():
        if name == base:
            continue
        per = {"throughput": [], "events_per_cpu_s": []}
        for r in rounds:
            b = base_rounds.get(r["round"])
            if b is None or "error" in r:
                continue
            for metric, key in (("throughput", "throughput_eps"), ("events_per_cpu_s", "events_per_cpu_s")):
                if r.get(key) and b.get(key):
                    per[metric].append(r[key] / b[key])
        out[name] = {metric: spread(values) for metric, values in per.items()}
    return out


def targets(job: JobBench, summary: dict, ratio: dict, core: dict, load: float = 0.5) -> list[dict[str, Any]]:
    """The issue's targets, each met or not, with the number that decides it (a latency target set at
    half load is left undecided by a run at another load)."""
    rows = []

    def add(name: str, value, limit: str, met):
        rows.append({"target": name, "value": value, "limit": limit,
                     "met": None if met is None else bool(met)})

    ours = summary.get("ours", {})
    if job.job == "fraud":
        def versus(arm: str, at_least: float, what: str) -> None:
            other = ratio.get(arm, {}).get("throughput", {}).get("median")
            mine = None if not other else 1 / other
            add(f"fraud throughput >= {at_least:g}x {what}", mine, f">= {at_least:g}",
                None if mine is None else mine >= at_least)

        versus("ceiling", 0.7, "the PyFlink keyed-ceiling arm")
        versus("naive", 10, "the naive arm")
        versus("quix", 1, "the Quix Streams arm")
        versus("sql", 0.5, "the Flink SQL arm")
        p99 = ours.get("latency", {}).get("p99_ms", {}).get("median")
        if load == 0.5:
            add("fraud p99 event-to-Redis <= 50 ms at half load", p99, "<= 50 ms", None if p99 is None else p99 <= 50)
            p999 = ours.get("latency", {}).get("p999_ms", {}).get("median")
            add("fraud p99.9 event-to-Redis <= 100 ms at half load", p999, "<= 100 ms",
                None if p999 is None else p999 <= 100)
        else:
            add(f"fraud p99 event-to-Redis <= 50 ms at half load (this run: {load:.0%} load, p99 shown, "
                "not decided)", p99, "<= 50 ms", None)
        per_card = ours.get("state_bytes_per_key", {}).get("median")
        add("fraud state < 1 KB per card (checkpointed keyed state / cards)", per_card, "< 1024 B",
            None if per_card is None else per_card < 1024)
        bound = core.get("profile_json_bytes", {}).get("bound")
        add("fraud state bound: largest possible profile (16 recent, 12 merchants, 6 countries)", bound,
            "< 1024 B", None if bound is None else bound < 1024)
    elif job.job == "inventory":
        p99 = ours.get("latency", {}).get("p99_ms", {}).get("median")
        add("inventory p99 event-to-Redis < 1 s", p99, "< 1000 ms", None if p99 is None else p99 < 1000)
        if load == 0.5:
            add("inventory p99 event-to-Redis <= 250 ms at half load", p99, "<= 250 ms",
                None if p99 is None else p99 <= 250)
    elif job.job == "maintenance":
        from udfs.maintenance_records import MaintenanceModel

        limit = MaintenanceModel().slide_ms + 30_000
        worst = ours.get("latency", {}).get("max_ms", {}).get("max")
        add("maintenance results within one slide + 30 s of the window end (worst seen)", worst,
            f"<= {limit} ms", None if worst is None else worst <= limit)
    return rows


def bottleneck(job: JobBench, summary: dict, ratio: dict, core: dict, load: float = 0.5) -> list[str]:
    """The largest bottleneck the numbers show, said with the numbers (computed, not hand-written)."""
    lines = []
    ours = summary.get("ours", {})
    eps = ours.get("throughput_eps", {}).get("median")
    if not eps:
        return ["no throughput measured for our job"]
    job_us = ours.get("job_cpu_us_per_event", {}).get("median")
    stack_us = ours.get("stack_cpu_us_per_event", {}).get("median")
    cores = ours.get("cores_used", {}).get("median")
    core_eps = core.get("events_per_cpu_s")
    if job_us is not None and stack_us is not None:
        lines.append(f"Our job costs {job_us:,.0f} µs of CPU per event in its own processes (Python client, "
                     f"JVM with the embedded Python) plus {stack_us:,.0f} µs in Kafka, Redis and S3, and uses "
                     f"{cores:.2f} of the machine's {os.cpu_count()} cores while draining the backlog.")
    if core_eps and job_us:
        core_us = 1e6 / core_eps
        lines.append(f"The domain code alone (Protobuf parse, features, score, profile JSON round trip) takes "
                     f"{core_us:,.0f} µs per event in plain Python ({core_eps:,.0f} events per CPU-second): "
                     f"{core_us / job_us:.0%} of what the job spends. The other {1 - core_us / job_us:.0%} "
                     "is the PyFlink machinery around it.")
    tasks = ours.get("task_time_ms_per_s", {})
    if tasks:
        label, ms = max(tasks.items(), key=lambda kv: kv[1].get("busyTimeMsPerSecond", 0))
        others = [f"{other} busy {o.get('busyTimeMsPerSecond', 0):.0f} ms/s, back-pressured "
                  f"{o.get('backPressuredTimeMsPerSecond', 0):.0f} ms/s" for other, o in tasks.items() if other != label]
        lines.append(f"The bottleneck task while draining the backlog is `{label}`: busy "
                     f"{ms.get('busyTimeMsPerSecond', 0):.0f} ms of every second"
                     + (f" ({'; '.join(others)})" if others else "") + ".")
        head = label.split(" -> ")[0].strip()
        threads = ours.get("jvm_thread_cores", {})
        match = [(t, c) for t, c in threads.items() if t.startswith(head[:10])]
        if match:
            thread, cores = match[0]
            busy = ms.get("busyTimeMsPerSecond", 0) / 1000
            runq = ours.get("jvm_thread_runqueue_wait", {}).get(thread, 0.0)
            blocked = max(0.0, busy - cores - runq)
            lines.append(f"Of each second, its thread (`{thread}`) runs on a CPU {cores:.2f} s, waits for a CPU "
                         f"(run queue, other processes on the 2 cores) {runq:.2f} s and is blocked {blocked:.2f} s "
                         f"while the task counts as busy {busy:.2f} s: blocked is time inside the task off CPU "
                         "(e.g. the hot sink waiting for its in-flight batches, or a lock).")
    idle = ours.get("idle_cores_job", {}).get("median")
    lat_cores = ours.get("latency", {}).get("cores_job", {}).get("median")
    offered = ours.get("latency", {}).get("offered_eps", {}).get("median")
    if idle is not None:
        lines.append(f"Idle (caught up, no input) the job still uses {idle:.2f} cores; at the half-load latency "
                     f"phase ({formatted(offered)} events/s) it uses {formatted(lat_cores, '{:.2f}')} cores.")
    nocold = summary.get("ours-nocold", {}).get("throughput_eps", {}).get("median")
    nocold_ratio = ratio.get("ours-nocold", {}).get("throughput", {}).get("median")
    if nocold and nocold_ratio:
        lines.append(f"Turning the S3 cold sink off changes throughput by {nocold_ratio:.2f}x "
                     f"({eps:,.0f} -> {nocold:,.0f} events/s): the cold path (score rows from Python to a "
                     "Java Row, Table conversion, Parquet) is that share of the cost.")
    p2 = ratio.get("ours-p2", {}).get("throughput", {}).get("median")
    if p2:
        lines.append(f"Parallelism 2 gives {p2:.2f}x the throughput of parallelism 1 on {os.cpu_count()} cores.")
    sql = ratio.get("sql", {})
    if sql.get("events_per_cpu_s", {}).get("median"):
        lines.append(f"The Flink SQL arm does the per-card aggregation with "
                     f"{sql['events_per_cpu_s']['median']:.1f}x fewer CPU-seconds per event "
                     f"({sql['throughput']['median']:.1f}x our throughput).")
    lat = ours.get("latency", {}).get("stages", {})
    if lat:
        parts = [f"{stage} p50 {v['p50']['median']:.1f} ms / p99 {v['p99']['median']:.1f} ms"
                 for stage, v in lat.items() if v.get("p50", {}).get("median") is not None
                 and v.get("p99", {}).get("median") is not None]
        if parts:
            lines.append(f"Latency by stage at {load:.0%} load: " + "; ".join(parts) + ".")
    return lines
