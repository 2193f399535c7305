"""The command line every job shares (`python -m jobs.<job>`, and what `flink run -py` starts)."""
from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Sequence

from jobs import secrets
from jobs.config import ConfigError, defaults, load
from jobs.environment import SetupError, execution_environment, on_mini_cluster
from jobs.services import check_services
from jobs.specs import JobSpec


def root_cause(exc: BaseException) -> str:
    """The innermost Java cause of a failed job, as one line."""
    java = getattr(exc, "java_exception", None)
    if java is None:
        return str(exc).strip().splitlines()[-1] if str(exc).strip() else exc.__class__.__name__
    cause = java
    while cause.getCause() is not None and cause.getCause() is not cause:
        cause = cause.getCause()
    return cause.toString().splitlines()[0]


def run_job(spec: JobSpec, model, build, argv: Sequence[str] | None = None) -> int:
    """The command line every job shares: config layering, service checks, run, one-line errors."""
    parser = argparse.ArgumentParser(prog=f"python -m {spec.module}", description=f"Run the {spec.job} job.")
    parser.add_argument("--config", help="TOML config file (layered over the defaults, under env and --set)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override one config key, e.g. --set kafka.bootstrap_servers=host:9092")
    parser.add_argument("--bounded", action="store_true",
                        help="stop at the input's latest offsets at start (tests, backfills)")
    parser.add_argument("--parallelism", type=int, help="operator parallelism (runtime.parallelism)")
    parser.add_argument("--skip-service-check", action="store_true",
                        help="do not check Kafka, Redis and S3 before starting")
    args = parser.parse_args(argv)
    overrides = list(args.overrides)
    if args.bounded:
        overrides.append("kafka.bounded=true")
    if args.parallelism is not None:
        overrides.append(f"runtime.parallelism={args.parallelism}")
    try:
        config = load(defaults(spec.job, model), args.config, overrides=overrides)
        # Before the JVM starts: a local TaskManager inherits this process's environment.
        config = secrets.for_task_managers(config, local=on_mini_cluster())
    except (ConfigError, secrets.SecretError) as exc:
        print(f"{parser.prog}: {exc}", file=sys.stderr)
        return 2
    if not args.skip_service_check:
        problems = check_services(config)
        for problem in problems:
            print(f"{parser.prog}: {problem}", file=sys.stderr)
        if problems:
            return 1
    try:
        env = execution_environment(config)
        build(env, config)
        mode = "bounded" if config.kafka.bounded else "unbounded"
        print(f"{config.runtime.job_name}: running ({mode}) from {config.kafka.input_topic} at "
              f"{config.kafka.bootstrap_servers}; logs in {os.environ.get('FLINK_LOG_DIR')}", flush=True)
        t0 = time.monotonic()
        result = env.execute(config.runtime.job_name)
    except SetupError as exc:
        print(f"{parser.prog}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{parser.prog}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        print(f"{parser.prog}: the job failed: {root_cause(exc)} (logs in {os.environ.get('FLINK_LOG_DIR')})",
              file=sys.stderr)
        return 1
    if _detached(result):
        print(f"{config.runtime.job_name}: submitted as job {result.get_job_id()} (detached)", flush=True)
    else:
        print(f"{config.runtime.job_name}: finished in {time.monotonic() - t0:.1f} s", flush=True)
    return 0


def _detached(result) -> bool:
    """`flink run --detached` hands back a result that has no runtime yet."""
    try:
        result.get_net_runtime()
        return False
    except Exception:
        return True
