"""The fraud job after a compatible upgrade: a new stateless operator (with its own uid) before decoding."""
import sys

from jobs import fraud_scoring, runtime

shipped_kafka_bytes = runtime.kafka_bytes


def kafka_bytes_then_audit(env, config):
    stream = shipped_kafka_bytes(env, config)
    return stream.filter(lambda value: value is not None).name("audit").uid("fraud-audit-v2")


runtime.kafka_bytes = kafka_bytes_then_audit

if __name__ == "__main__":
    sys.exit(fraud_scoring.main())
