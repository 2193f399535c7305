"""The whole benchmark: the machine and versions, the domain core's own rate, rounds of every arm, the report."""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

from jobs.paths import project_root, run_dir
from streamsuite.bench.arms import BenchError, JOBS, arms_for
from streamsuite.bench.plan import METRICS_INTERVAL_MS, Plan
from streamsuite.bench.report import markdown, markdown_headline, plot
from streamsuite.bench.round import run_arm
from streamsuite.bench.stats import percentile
from streamsuite.bench.summary import bottleneck, ratios, summarize, targets
from streamsuite.bench.workload import Workload, make_workload


def machine_info() -> dict[str, Any]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_kb = 0
    try:
        mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gb": round(mem_kb / 1024 / 1024, 1),
            "kernel": platform.release(), "os": _os_name(), "load_avg_at_start": list(os.getloadavg())}


def _os_name() -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    return platform.platform()


def versions() -> dict[str, str]:
    from importlib import metadata

    def pkg(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "-"

    def command_version(command: list[str]) -> str:
        try:
            out = subprocess.run(command, capture_output=True, text=True, timeout=20)
            return (out.stdout + out.stderr).strip().splitlines()[0]
        except (OSError, subprocess.SubprocessError, IndexError):
            return "-"

    from google.protobuf.internal import api_implementation

    from streamsuite.versions import pinned_versions

    pins = pinned_versions()
    kafka = sorted((project_root() / ".jars" / "kafka").glob("kafka_2.13-*.jar"))
    return {"python": platform.python_version(), "apache-flink": pkg("apache-flink"),
            "kafka connector jar": pins.connector_jar.name, "java": command_version(["java", "-version"]),
            "kafka broker": kafka[0].stem.split("-", 1)[1] if kafka else "-",
            "redis-server": command_version(["redis-server", "--version"]),
            "protobuf": f"{pkg('protobuf')} ({api_implementation.Type()})", "redis-py": pkg("redis"),
            "confluent-kafka": pkg("confluent-kafka"), "matplotlib": pkg("matplotlib")}


def domain_core_rate(workload: Workload, n: int) -> dict[str, Any]:
    """The fraud domain code alone (decode + score + state encode), in this process: the Python floor."""
    if workload.job.job != "fraud":
        return {}
    from streamsuite_proto.v1.fraud_pb2 import CardTransaction
    from udfs.fraud import CardProfile, FraudScorer, Transaction

    scorer, profiles = FraudScorer(), {}
    records = workload.records[:n]
    t0 = time.process_time()
    for _, value in records:
        tx = Transaction.from_message(CardTransaction.FromString(value))
        _, profile = scorer.score(tx, CardProfile.from_json(profiles.get(tx.card_id)))
        profiles[tx.card_id] = profile.to_json()
    seconds = time.process_time() - t0
    sizes = [len(p) for p in profiles.values()]
    full = CardProfile(10**6, 2 * 10**12, -123.456789, 98765.4321, 2 * 10**12, -33.86882, 151.20935, "AU",
                       [[2 * 10**12, 10**9]] * 16, ["m000000"] * 12, ["AU"] * 6).to_json()
    return {"events": len(records), "cpu_s": seconds, "events_per_cpu_s": len(records) / seconds if seconds else None,
            "profile_json_bytes": {"mean": statistics.fmean(sizes), "max": max(sizes), "bound": len(full)}}


def run(args: argparse.Namespace) -> int:
    from streamsuite.stack import Stack, StackSettings

    job = JOBS[args.job]
    all_arms = arms_for(job)
    names = [a.strip() for a in (args.arms or ",".join(job.arms)).split(",") if a.strip()]
    unknown = [n for n in names if n not in all_arms or (job.job != "fraud" and all_arms[n].kind != "ours")]
    if unknown:
        raise BenchError(f"unknown arm(s) for {job.job}: {', '.join(unknown)}; "
                         f"choose from {', '.join(job.arms)}")
    arms = {n: all_arms[n] for n in names}
    say = (lambda line: None) if args.quiet else (lambda line: print(line, flush=True))
    settings = StackSettings.from_env()
    Stack(settings, say=lambda line: say(f"  stack: {line}")).up()
    events = args.events or job.events
    backlog = {"ours": events, "sql": args.sql_events or max(events, 3 * events), "ceiling": 2 * events,
               "quix": 2 * events,
               "naive": args.naive_events or max(1, events // 8)}
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    work = run_dir() / "bench" / f"{job.job}-{stamp}"
    work.mkdir(parents=True, exist_ok=True)
    latency_seconds = job.latency_seconds if args.latency_seconds is None else args.latency_seconds
    keys = args.keys or job.keys
    live_pool = max(10_000, min(200_000, events))
    t0 = time.monotonic()
    needed = max(backlog[a.kind] for a in arms.values())
    say(f"bench {job.job}: generating {needed + live_pool} events on {keys} keys (seed {args.seed}) ...")
    workload = make_workload(job, needed, live_pool, keys, args.seed)
    core = domain_core_rate(workload, min(needed, 50_000))
    plan = Plan(job, settings, workload, backlog, args.load, latency_seconds, args.drain_timeout, work, say,
                keep=args.keep, stamp=stamp, job_set=tuple(args.job_set),
                warmup_seconds=args.warmup_seconds, max_latency_load=args.max_latency_load,
                kafka_probe=args.kafka_probe, latency_key_sample=args.latency_key_sample)
    results: dict[str, list[dict]] = {n: [] for n in arms}
    order = list(arms)
    for round_no in range(1, args.rounds + 1):
        rotated = order[(round_no - 1) % len(order):] + order[:(round_no - 1) % len(order)]
        say(f"round {round_no}/{args.rounds}: {', '.join(rotated)}")
        for name in rotated:
            result = run_arm(plan, arms[name], round_no)
            if "no progress" in result.get("error", ""):
                # A run that stopped moving (e.g. its input deleted under it) is kept in the report
                # (stalled_starts) and retried once, in a new namespace.
                say(f"    {arms[name].label}: retrying once")
                retry = run_arm(plan, arms[name], round_no)
                retry["stalled_starts"] = [result]
                result = retry
            results[name].append(result)
    summary = summarize(job, arms, results)
    ratio = ratios(results)
    report = {
        "job": job.job, "command": "streamsuite bench " + " ".join(args.argv),
        "started": stamp, "seconds": time.monotonic() - t0, "machine": machine_info(), "versions": versions(),
        "params": {"rounds": args.rounds, "backlog_events": {k: v for k, v in backlog.items()
                                                               if any(a.kind == k for a in arms.values())},
                   "keys": keys, "seed": args.seed, "load": args.load, "latency_seconds": latency_seconds,
                   "metrics_interval_ms": METRICS_INTERVAL_MS, "arms_order": order,
                   "warmup_seconds": args.warmup_seconds, "max_latency_load": args.max_latency_load,
                   "kafka_probe": args.kafka_probe, "latency_key_sample": args.latency_key_sample,
                   "job_set": list(args.job_set)},
        "arms": {n: {"label": a.label, "description": a.description, "parallelism": a.parallelism}
                 for n, a in arms.items()},
        "domain_core": core, "summary": summary, "ratios_to_ours": ratio,
    }
    report["targets"] = targets(job, summary, ratio, core, args.load)
    report["bottleneck"] = bottleneck(job, summary, ratio, core, args.load)
    latency_samples = {n: [s for r in rounds for s in r.get("latency", {}).pop("_samples", [])]
                       for n, rounds in results.items()}
    report["rounds"] = results
    out_dir = Path(args.out) if args.out else project_root() / "benchmarks" / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    base = out_dir / f"{job.job}-{dt.date.today().isoformat()}"
    if base.with_suffix(".md").exists():
        # A second run on one day gets its own files instead of replacing the committed first.
        base = out_dir / f"{job.job}-{stamp}"
    report["latency_quantiles_ms"] = {n: [percentile(v, q / 10) for q in range(0, 1000)] + [percentile(v, 99.9),
                                                                                           max(v)]
                                      for n, v in latency_samples.items() if v}
    png = None
    if not args.no_plot:
        png = plot(report, latency_samples, base.with_suffix(".png"), say)
    base.with_suffix(".json").write_text(json.dumps(report, indent=1, default=str) + "\n")
    base.with_suffix(".md").write_text(markdown(report, png))
    say(f"bench {job.job}: done in {time.monotonic() - t0:.0f} s; results in {base}.md/.json"
        + ("/.png" if png else ""))
    for line in markdown_headline(report):
        say("  " + line)
    if not args.keep:
        for child in work.iterdir():
            if child.is_dir():
                for name in ("latency.json",):
                    (child / name).unlink(missing_ok=True)
    failed = sum(s["errors"] for s in summary.values())
    return 1 if failed and all(not s["throughput_eps"]["n"] for s in summary.values()) else 0
