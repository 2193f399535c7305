"""`streamsuite bench <job>`: the command line."""
from __future__ import annotations

import argparse
import sys

from streamsuite.bench.arms import BenchError, JOBS
from streamsuite.bench.plan import KEY_SAMPLE_SUFFIX
from streamsuite.bench.run import run


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("job", choices=sorted(JOBS), help="which job to benchmark")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; every arm runs once per round (default 3)")
    parser.add_argument("--arms", help="comma-separated arms (fraud: ours,ceiling,quix,ours-p2,ours-nocold,ours-ckpt10s,ours-rules,sql,naive; "
                                       "inventory and maintenance: ours)")
    parser.add_argument("--events", type=int, help="backlog events for our job (default: fraud 80000, "
                                                   "inventory 60000, maintenance 40000)")
    parser.add_argument("--sql-events", type=int, help="backlog for the Flink SQL arm (default 3x --events)")
    parser.add_argument("--naive-events", type=int, help="backlog for the naive arm (default --events / 8)")
    parser.add_argument("--keys", type=int, help="distinct keys (default: fraud 10000, inventory 1000, "
                                                 "maintenance 100)")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--load", type=float, default=0.5,
                        help="offered load of the latency phase as a fraction of the measured throughput (0.5)")
    parser.add_argument("--latency-seconds", type=float,
                        help="length of the latency phase (default: fraud and inventory 20, maintenance 150; "
                             "0 skips it)")
    parser.add_argument("--max-latency-load", type=float, metavar="EVENTS_PER_S",
                        help="cap of the latency phase's offered load (default: none)")
    parser.add_argument("--latency-key-sample", type=int, choices=sorted(KEY_SAMPLE_SUFFIX), default=10,
                        metavar="N", help="follow one hot key in N in the latency phase (1, 10 or 100; default 10)")
    parser.add_argument("--kafka-probe", action="store_true",
                        help="also consume the input topic in the latency phase, to split off the Kafka stage "
                             "(a second consumer costs the broker about 0.1 core at 2,500 events/s)")
    parser.add_argument("--warmup-seconds", type=float, default=5.0,
                        help="live events produced before the measured latency phase, not measured (default 5)")
    parser.add_argument("--drain-timeout", type=float, default=600.0,
                        help="longest wait for a backlog to be processed, seconds (default 600)")
    parser.add_argument("--job-set", action="append", default=[], metavar="KEY=VALUE",
                        help="extra `--set` for our job's arms, e.g. flink.execution.buffer-timeout.interval=5ms "
                             "(to test a setting; the report records it)")
    parser.add_argument("--out", help="results folder (default benchmarks/results)")
    parser.add_argument("--no-plot", action="store_true", help="no PNG (matplotlib is optional)")
    parser.add_argument("--keep", action="store_true", help="keep topics, Redis keys, cold files, checkpoints")
    parser.add_argument("--quiet", action="store_true")


def main(args: argparse.Namespace) -> int:
    import shlex

    args.argv = sys.argv[sys.argv.index("bench") + 1:] if "bench" in sys.argv else [args.job]
    args.argv = [shlex.quote(a) for a in args.argv]
    if args.rounds < 1:
        raise BenchError("--rounds must be 1 or more")
    if not 0 < args.load <= 1:
        raise BenchError("--load must be in (0, 1]")
    return run(args)
