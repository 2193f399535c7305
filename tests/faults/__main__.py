"""The full fault matrix: `python -m tests.faults [--job JOB] [--parallelism N] [case ...]` runs it and
writes tests/faults/report.md (or --report)."""
from __future__ import annotations

import argparse
import platform
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

from streamsuite.cluster import FlinkCluster, get_json, rest_url
from streamsuite.paths import portable
from streamsuite.stack import Stack, StackSettings
from tests.faults import cases
from tests.faults.facts import JOB_FACTS
from tests.faults.harness import Check, run_case


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.faults", description=__doc__)
    parser.add_argument("cases", nargs="*", metavar="CASE",
                        help=f"default: all that run on the job; {', '.join(cases.ALL)}")
    parser.add_argument("--report", type=Path, default=Path(__file__).with_name("report.md"))
    parser.add_argument("--repeat", type=int, default=1, metavar="N", help="run the cases N times in a row")
    parser.add_argument("--job", choices=sorted(JOB_FACTS), default="fraud", help="the job under fault (default fraud)")
    parser.add_argument("--parallelism", type=int, choices=(1, 2), default=1,
                        help="the job's parallelism (default 1; the rescale case goes 1 -> 2 -> 1 whatever this is)")
    args = parser.parse_args(argv)
    args.cases = args.cases or [c for c in cases.ALL if args.job == "fraud" or c not in cases.FRAUD_ONLY]
    if args.repeat < 1:
        parser.error(f"--repeat must be 1 or more, not {args.repeat}")
    unknown = [c for c in args.cases if c not in cases.ALL]
    if unknown:
        parser.error(f"unknown case(s) {unknown}; choose from {', '.join(cases.ALL)}")
    fraud_only = [c for c in args.cases if c in cases.FRAUD_ONLY and args.job != "fraud"]
    if fraud_only:
        parser.error(f"case(s) {fraud_only} run on the fraud job only")
    settings = StackSettings.from_env()
    say = lambda line: print(line, flush=True)  # noqa: E731
    stack, cluster = Stack(settings, say=say), FlinkCluster(settings, say=say)
    stack.up()
    cluster.up()
    results = []
    for name in args.cases * args.repeat:
        fault, body = getattr(cases, name)(stack, cluster)
        say(f"case {name}: {fault} ...")
        options = {"job": args.job, "parallelism": args.parallelism, **cases.run_options(name)}
        result = run_case(name, fault, settings, body, **options)
        result.checks.append(metaspace_check(settings))
        say(f"case {name}: {result.verdict} in {result.seconds:.0f} s {result.failures()}")
        results.append(result)
        cluster.up()
        stack.up()
    command = " ".join(["python -m tests.faults", *(argv if argv is not None else sys.argv[1:])])
    write_report(args.report, results, portable(command), args.job, args.parallelism)
    say(f"report: {args.report}")
    return 0 if all(r.verdict == "pass" for r in results) else 1


def metaspace_check(settings: StackSettings) -> Check:
    """Recorded after each case: a session cluster that leaked a class loader per job runs out of Metaspace."""
    base = rest_url(settings)
    try:
        used = []
        for tm in get_json(f"{base}/taskmanagers")["taskmanagers"]:
            metrics = get_json(f"{base}/taskmanagers/{tm['id']}/metrics?get=Status.JVM.Memory.Metaspace.Used")
            used += [f"{float(m['value']) / 2**20:.0f} MB" for m in metrics]
        seen = ", ".join(used) or "no TaskManager"
    except OSError as exc:
        seen = f"unreadable ({exc})"
    return Check("TaskManager Metaspace used", "recorded", seen, True)


def write_report(path: Path, results, command: str, job: str = "fraud", parallelism: int = 1) -> None:
    commit = subprocess.run(["git", "describe", "--always", "--dirty"], capture_output=True, text=True).stdout.strip()
    lines = [
        "# Exactly-once under failure: fault matrix report", "",
        f"- command: `{command}`",
        f"- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, commit {commit}",
        f"- machine: {platform.machine()}, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}, apache-flink {metadata.version('apache-flink')}",
        f"- job: {describe_job(job)}; parallelism {parallelism} (one TaskManager of 4 slots); checkpoints every "
        "second, standalone cluster on 127.0.0.1",
        f"- result: {sum(r.verdict == 'pass' for r in results)} of {len(results)} cases passed", "",
        "| case | fault | check | expected | seen | verdict |", "|---|---|---|---|---|---|",
    ]
    for r in results:
        for i, c in enumerate(r.checks):
            lines.append(f"| {r.case if i == 0 else ''} | {r.fault if i == 0 else ''} | {c.name} | {c.expected} | "
                         f"{c.seen} | {'pass' if c.ok else 'FAIL'} |")
        lines.append(f"| | | **case** | | {r.seconds:.0f} s | **{r.verdict}** |")
    path.write_text(portable("\n".join(lines) + "\n"))


def describe_job(job: str) -> str:
    facts = JOB_FACTS[job]()
    d = facts.run_defaults
    extras = ", ".join(f"{k}={v}" for k, v in facts.stream_options().items())
    return (f"{facts.module}, unbounded, fed a seeded input ({d['count']:,} events, {d['keys']} keys, "
            f"{d['poison']} poison"
            f"{', ' + extras if extras else ''}) at {d['rate']:,} events/s while it runs"
            f"{'' if job == 'fraud' else ', then one end marker per partition'}")


if __name__ == "__main__":
    sys.exit(main())
