"""The fraud job with one injected failure: an exception inside the job after N records, once.

A marker file (path in STREAMSUITE_FAULT_MARKER) remembers that the failure happened, so
the restarted job runs through; everything else is the shipped job.
"""
import os
import sys
from pathlib import Path

from pyflink.datastream import MapFunction

from jobs import fraud_scoring, kafka


class FailOnce(MapFunction):
    def __init__(self, after: int, marker: str):
        self.after, self.marker, self.seen = after, marker, 0

    def map(self, value):
        self.seen += 1
        if self.seen >= self.after and not Path(self.marker).exists():
            Path(self.marker).write_text("failed once\n")
            raise RuntimeError(f"injected failure after {self.seen} records")
        return value


def kafka_bytes_with_failure(env, config):
    from pyflink.common import Types

    stream = shipped_input_bytes(env, config)
    failing = FailOnce(int(os.environ.get("STREAMSUITE_FAULT_AFTER", "20000")), os.environ["STREAMSUITE_FAULT_MARKER"])
    return stream.map(failing, output_type=Types.PRIMITIVE_ARRAY(Types.BYTE())).name("fail-once").uid("fault-fail-once")


shipped_input_bytes = kafka.input_bytes
kafka.input_bytes = kafka_bytes_with_failure

if __name__ == "__main__":
    sys.exit(fraud_scoring.main())
