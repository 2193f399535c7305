"""A job of nothing but hot records into the JVM Redis sink (for test_redis_hot_sink.py).

    python -m tests.integration.hot_sink_job RECORDS.json [--pace-ms N] [--script-flush-at N] [--graph-out FILE]
        [--set key=value ...]

RECORDS.json is a list of HotRecord fields. A Python `map` in front of the sink can pace the
records (so a test can break Redis mid-stream) and flush Redis's script cache once, as a
restarted Redis would have it. `--graph-out` writes the serialized job graph, as a cluster would
receive it, so a test can look for secrets in it.
"""
from __future__ import annotations

import argparse
import json
import sys

from pyflink.datastream import MapFunction

from jobs import secrets
from jobs.cli import root_cause
from jobs.config import defaults, load
from jobs.environment import execution_environment
from jobs.hot_sink import HOT_ROW_TYPE, hot_row, redis_hot_sink
from udfs.hot import HotRecord


class PaceAndBreak(MapFunction):
    def __init__(self, redis_url: str, pace_ms: int, script_flush_at: int):
        self.redis_url, self.pace_ms, self.script_flush_at = redis_url, pace_ms, script_flush_at
        self.seen = 0

    def map(self, row):
        import time

        self.seen += 1
        if self.seen == self.script_flush_at:
            import redis

            time.sleep(0.2)  # the batches before this one have been written with the loaded script
            redis.Redis.from_url(self.redis_url).script_flush()
        if self.pace_ms:
            time.sleep(self.pace_ms / 1000)
        return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("records")
    parser.add_argument("--pace-ms", type=int, default=0)
    parser.add_argument("--script-flush-at", type=int, default=0)
    parser.add_argument("--graph-out")
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    args = parser.parse_args(argv)
    config = load(defaults("fraud", None), overrides=args.overrides + ["s3.enabled=false"])
    config = secrets.for_task_managers(config, local=True)
    records = [HotRecord(**r) for r in json.loads(open(args.records).read())]
    env = execution_environment(config)
    stream = env.from_collection([hot_row(r) for r in records], type_info=HOT_ROW_TYPE)
    if args.pace_ms or args.script_flush_at:
        stream = stream.map(PaceAndBreak(config.redis.url, args.pace_ms, args.script_flush_at),
                            output_type=HOT_ROW_TYPE)
    redis_hot_sink(stream, config)
    if args.graph_out:
        from pyflink.java_gateway import get_gateway

        job_graph = env._j_stream_execution_environment.getStreamGraph(False).getJobGraph()
        with open(args.graph_out, "wb") as out:
            out.write(bytes(get_gateway().jvm.org.apache.flink.util.InstantiationUtil.serializeObject(job_graph)))
    try:
        env.execute("hot-sink-test")
    except Exception as exc:
        print(f"hot-sink-test failed: {root_cause(exc)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
