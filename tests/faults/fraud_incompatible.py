"""The fraud job with an incompatible state change: the scoring operator's uid renamed.

Restoring a savepoint into it must fail (its state would be dropped), unless the user
explicitly allows non-restored state; it must never start silently empty.
"""
import sys

from jobs import fraud_scoring

shipped_build = fraud_scoring.build


def build(env, config):
    from pyflink.datastream.data_stream import DataStream

    original_uid = DataStream.uid

    def uid(self, value):
        return original_uid(self, "fraud-score-v2" if value == "fraud-score" else value)

    DataStream.uid = uid
    try:
        shipped_build(env, config)
    finally:
        DataStream.uid = original_uid


fraud_scoring.build = build

if __name__ == "__main__":
    sys.exit(fraud_scoring.main())
