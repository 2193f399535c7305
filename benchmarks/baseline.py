"""What the benchmark's comparison arms (`fraud_sql.py`, `fraud_naive.py`) share: the options the
harness passes them and the Flink settings they run with, so the arms differ only in their pipeline."""
from __future__ import annotations

import argparse

from jobs.environment import connector_jars, prepare_process_environment
from jobs.paths import run_dir


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument("--topic", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--parallelism", type=int, default=1)
    parser.add_argument("--rest-port", type=int, default=8081)
    parser.add_argument("--checkpoint-interval-ms", type=int, default=2000)
    parser.add_argument("--checkpoint-dir", default=(run_dir() / "checkpoints" / name).as_uri())
    parser.add_argument("--metrics-interval-ms", type=int, default=10000)


def run_redis_arm(doc: str, name: str, build, argv=None) -> int:
    """The command line of an arm that writes to Redis (`naive`, `ceiling`): parse, build, run."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    add_arguments(parser, name)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--prefix", required=True)
    build(parser.parse_args(argv)).execute(name)
    return 0


def configuration(args: argparse.Namespace, name: str, **extra: str):
    """The arm's Flink configuration: hashmap state, no restarts, its REST port; `extra` on top."""
    from pyflink.common import Configuration

    prepare_process_environment()
    conf = Configuration()
    for key, value in {
        "pipeline.name": name,
        "pipeline.jars": ";".join(j.as_uri() for j in connector_jars()),
        "parallelism.default": str(args.parallelism),
        "execution.checkpointing.interval": f"{args.checkpoint_interval_ms} ms",
        "execution.checkpointing.dir": args.checkpoint_dir,
        "state.backend.type": "hashmap",
        "restart-strategy.type": "none",
        "rest.port": str(args.rest_port),
        "metrics.fetcher.update-interval": str(args.metrics_interval_ms),
        **extra,
    }.items():
        conf.set_string(key, value)
    return conf
