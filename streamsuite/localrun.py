"""The command line that runs a job against the local stack, in its own namespace.

A run id keeps a run's consumer group, Redis keys and S3 prefix apart from every other
run, so demos, tests and benchmarks never read each other's results.
"""
from __future__ import annotations

import sys
from typing import Sequence

from streamsuite.stack import StackSettings


def job_args(settings: StackSettings, *, input_topic: str, dead_letter_topic: str, run_id: str,
             namespace: str = "test") -> list[str]:
    """`--set` arguments that point a job at the local stack (wherever its ports are) and a namespace."""
    overrides = {
        "kafka.bootstrap_servers": settings.kafka_bootstrap,
        "kafka.input_topic": input_topic,
        "kafka.dead_letter_topic": dead_letter_topic,
        "kafka.group_id": f"{namespace}-{run_id}",
        "redis.url": settings.redis_url,
        "redis.key_prefix": f"{namespace}:{run_id}",
        "s3.endpoint": settings.s3_endpoint,
        "s3.access_key": settings.s3_access_key,
        "s3.secret_key": settings.s3_secret_key,
        "s3.prefix": f"{namespace}/{run_id}",
    }
    return [arg for key, value in overrides.items() for arg in ("--set", f"{key}={value}")]


def job_command(module: str, settings: StackSettings, *, input_topic: str, dead_letter_topic: str, run_id: str,
                namespace: str = "test", bounded: bool = True, extra: Sequence[str] = ()) -> list[str]:
    """`python -m <module>` on a local mini-cluster with `job_args`."""
    command = [sys.executable, "-m", module] + (["--bounded"] if bounded else [])
    return command + job_args(settings, input_topic=input_topic, dead_letter_topic=dead_letter_topic,
                              run_id=run_id, namespace=namespace) + list(extra)
