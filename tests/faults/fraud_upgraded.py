"""The fraud job after a compatible upgrade: a new stateless operator (with its own uid) before decoding."""
import sys

from jobs import fraud_scoring, kafka

shipped_input_bytes = kafka.input_bytes


def kafka_bytes_then_audit(env, config):
    stream = shipped_input_bytes(env, config)
    return stream.filter(lambda value: value is not None).name("audit").uid("fraud-audit-v2")


kafka.input_bytes = kafka_bytes_then_audit

if __name__ == "__main__":
    sys.exit(fraud_scoring.main())
