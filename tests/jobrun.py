"""Run one of our jobs to the end of a generated input, on a mini-cluster, in a namespace of its own."""
from __future__ import annotations

import subprocess
import uuid
from dataclasses import dataclass

from jobs.specs import COLD_BUCKET
from streamsuite.localrun import job_command
from streamsuite.stack import StackSettings
from tests.kafka_helpers import fresh_topics


@dataclass(frozen=True)
class BoundedRun:
    settings: StackSettings
    run_id: str
    source: str
    dead: str

    @property
    def prefix(self) -> str:
        """The Redis key prefix of this run."""
        return f"test:{self.run_id}"

    @property
    def s3_path(self) -> str:
        """Bucket and prefix of this run's cold tables (add /<table>)."""
        return f"{COLD_BUCKET}/test/{self.run_id}"


def run_bounded(settings: StackSettings, module: str, stream, *extra: str, timeout_s: float = 420) -> BoundedRun:
    """Publish `stream` to fresh topics and run `module` over it with --bounded; fail with its stderr."""
    run_id = uuid.uuid4().hex[:8]
    source, dead = fresh_topics(settings.kafka_bootstrap, "input", "deadletter")
    stream.publish(settings.kafka_bootstrap, source)
    command = job_command(module, settings, input_topic=source, dead_letter_topic=dead, run_id=run_id,
                          extra=["--set", "checkpoint.interval_ms=1000", "--set", "runtime.restart_attempts=0",
                                 *extra])
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s)
    assert result.returncode == 0, result.stderr[-3000:]
    return BoundedRun(settings, run_id, source, dead)
