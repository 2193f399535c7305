"""The fraud job after a compatible upgrade: a new stateless operator (with its own uid) before scoring."""
import sys

from jobs import fraud_scoring, runtime

shipped_decode = runtime.decode


def decode_then_audit(stream, config, event_type):
    decoded = shipped_decode(stream, config, event_type)
    audited = decoded.events.filter(lambda event: len(event[2]) > 0).name("audit").uid("fraud-audit-v2")
    return runtime.DecodedStreams(audited, decoded.dead_letters)


runtime.decode = decode_then_audit

if __name__ == "__main__":
    sys.exit(fraud_scoring.main())
