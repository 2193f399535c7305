"""The PyFlink keyed ceiling (benchmark arm `ceiling`): the best any PyFlink job of our shape can do here.

The same Kafka source, a Python step that parses the card id (as our decode does), `key_by` card,
a `KeyedProcessFunction` with one `ValueState` and no domain work (a per-card count), and the
same JVM Redis hot sink our jobs use, writing one version-fenced upsert per event. No cold sink,
no dead letters. Thread mode and the bundle and buffer settings of our job.

    python benchmarks/fraud_ceiling.py --topic T --group G --prefix P [--rest-port 8081]
"""
from __future__ import annotations

import sys

import baseline  # this folder; its configuration() sets FLINK_HOME, PATH and logging before the JVM starts


def card_and_time(value):
    from streamsuite_proto.v1.fraud_pb2 import CardTransaction
    from udfs.codec import unframe

    tx = CardTransaction.FromString(unframe(value)[1])
    return tx.card_id, tx.event_time_ms


def build(args):
    from pyflink.common import Duration, Row, Types, WatermarkStrategy
    from pyflink.common.serialization import ByteArraySchema
    from pyflink.datastream import KeyedProcessFunction, StreamExecutionEnvironment
    from pyflink.datastream.connectors.kafka import KafkaOffsetsInitializer, KafkaSource
    from pyflink.datastream.state import ValueStateDescriptor

    from jobs.config import defaults, load
    from jobs.hot_sink import HOT_ROW_TYPE, redis_hot_sink
    from jobs.operators import now_ms

    class CountPerCard(KeyedProcessFunction):
        def __init__(self, prefix):
            self.prefix = prefix

        def open(self, runtime_context):
            self.count = runtime_context.get_state(ValueStateDescriptor("count", Types.LONG()))

        def process_element(self, value, ctx):
            version = (self.count.value() or 0) + 1
            self.count.update(version)
            card, event_time = value
            return [Row(f"{self.prefix}:card:{card}", version,
                        ["event_time_ms", str(event_time), "updated_at_ms", str(now_ms())], None, 0.0, "", 0,
                        event_time)]

    config = load(defaults("fraud", None), overrides=[f"redis.url={args.redis_url}"])
    conf = baseline.configuration(args, "fraud-ceiling", **{
        "python.execution-mode": "thread", "python.executable": sys.executable,
        "python.client.executable": sys.executable,
        "python.fn-execution.bundle.size": "500", "python.fn-execution.bundle.time": "5",
        "execution.buffer-timeout.interval": f"{config.runtime.buffer_timeout_ms} ms"})
    env = StreamExecutionEnvironment.get_execution_environment(conf)
    source = (KafkaSource.builder().set_bootstrap_servers(args.bootstrap).set_topics(args.topic)
              .set_group_id(args.group).set_starting_offsets(KafkaOffsetsInitializer.earliest())
              .set_value_only_deserializer(ByteArraySchema()).build())
    k = config.kafka
    watermarks = (WatermarkStrategy.for_bounded_out_of_orderness(Duration.of_millis(k.max_out_of_orderness_ms))
                  .with_idleness(Duration.of_millis(k.idleness_ms)))
    counted = (env.from_source(source, watermarks, "kafka")
               .map(card_and_time, output_type=Types.TUPLE([Types.STRING(), Types.LONG()])).name("card-id")
               .key_by(lambda card_time: card_time[0], key_type=Types.STRING())
               .process(CountPerCard(args.prefix), output_type=HOT_ROW_TYPE).name("ceiling-keyed"))
    redis_hot_sink(counted, config)
    return env


def main(argv=None) -> int:
    return baseline.run_redis_arm(__doc__, "fraud-ceiling", build, argv)


if __name__ == "__main__":
    sys.exit(main())
