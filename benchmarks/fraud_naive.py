"""The naive PyFlink fraud job: what a typical PyFlink user writes first (benchmark arm `naive`).

Process execution mode with PyFlink's default bundle settings, a `map` that parses the
Protobuf into a Python object (pickled between operators), `key_by` card, a
`KeyedProcessFunction` that keeps the card profile pickled in `ValueState`, scores with the
same `udfs.fraud.FraudScorer` as our job, and does one synchronous `redis.hset` per event
(plus the alert hash and feed). No batching, no version fence, no cold sink, no dead letters:
an undecodable message fails the job.

    python benchmarks/fraud_naive.py --topic T --group G --prefix P [--rest-port 8081]

Redis keys are those of our job (`<prefix>:card:<card_id>` with the same fields), so the
harness measures both the same way.
"""
from __future__ import annotations

import sys

import baseline  # this folder; its configuration() sets FLINK_HOME, PATH and logging before the JVM starts


def decode(value):
    from streamsuite_proto.v1.fraud_pb2 import CardTransaction
    from udfs.fraud import Transaction

    return Transaction.from_message(CardTransaction.FromString(value))


def card_id(tx):
    return tx.card_id


def build(args):
    from pyflink.common import WatermarkStrategy
    from pyflink.common.serialization import ByteArraySchema
    from pyflink.datastream import KeyedProcessFunction, StreamExecutionEnvironment
    from pyflink.datastream.connectors.kafka import KafkaOffsetsInitializer, KafkaSource
    from pyflink.datastream.state import ValueStateDescriptor
    from pyflink.common import Types

    class NaiveScore(KeyedProcessFunction):
        def __init__(self, redis_url, prefix):
            self.redis_url = redis_url
            self.prefix = prefix

        def open(self, runtime_context):
            import redis

            from udfs.fraud import FraudScorer

            self.redis = redis.Redis.from_url(self.redis_url)
            self.scorer = FraudScorer()
            self.profile = runtime_context.get_state(ValueStateDescriptor("profile", Types.PICKLED_BYTE_ARRAY()))

        def process_element(self, tx, ctx):
            import time

            from udfs.fraud import CardProfile

            profile = self.profile.value() or CardProfile()
            scored, profile = self.scorer.score(tx, profile)
            self.profile.update(profile)
            reasons = ",".join(scored.reasons)
            self.redis.hset(f"{self.prefix}:card:{tx.card_id}", mapping={
                "version": scored.version, "score": scored.score, "reasons": reasons,
                "transaction_id": tx.transaction_id, "sequence": tx.sequence, "event_time_ms": tx.event_time_ms,
                "updated_at_ms": int(time.time() * 1000)})
            if self.scorer.is_alert(scored):
                self.redis.hset(f"{self.prefix}:alert:{scored.alert_id}", mapping={
                    "alert_id": scored.alert_id, "card_id": tx.card_id, "transaction_id": tx.transaction_id,
                    "score": scored.score, "reasons": reasons, "event_time_ms": tx.event_time_ms})
                self.redis.zadd(f"{self.prefix}:alerts", {scored.alert_id: tx.event_time_ms})
            return iter(())

    conf = baseline.configuration(args, "fraud-naive", **{
        "python.execution-mode": "process", "python.executable": sys.executable,
        "python.client.executable": sys.executable})
    env = StreamExecutionEnvironment.get_execution_environment(conf)
    source = (KafkaSource.builder().set_bootstrap_servers(args.bootstrap).set_topics(args.topic)
              .set_group_id(args.group).set_starting_offsets(KafkaOffsetsInitializer.earliest())
              .set_value_only_deserializer(ByteArraySchema()).build())
    (env.from_source(source, WatermarkStrategy.for_monotonous_timestamps(), "kafka")
        .map(decode).name("decode")
        .key_by(card_id)
        .process(NaiveScore(args.redis_url, args.prefix)).name("naive-score")
        .print())
    return env


def main(argv=None) -> int:
    return baseline.run_redis_arm(__doc__, "fraud-naive", build, argv)


if __name__ == "__main__":
    sys.exit(main())
