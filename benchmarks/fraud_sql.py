"""The per-card fraud aggregation in Flink SQL built-ins (benchmark arm `sql`): the JVM ceiling.

Reads a JSON copy of the same card transactions from Kafka (Flink SQL cannot decode our
Protobuf without the protobuf format jar), computes per card COUNT, AVG and STDDEV of
log(amount) and MAX(amount) over a 1-hour RANGE `OVER` window (processing time, so a row
is emitted when it arrives, as our job does, not when a watermark passes), plus the
amount z-score, and writes one JSON row per event to a Kafka topic. Flink SQL has no Redis
sink: the output topic is this arm's hot result.

    python benchmarks/fraud_sql.py --topic T --output-topic O --group G [--rest-port 8081]
"""
from __future__ import annotations

import argparse
import sys

import baseline  # this folder; its configuration() sets FLINK_HOME, PATH and logging before the JVM starts

QUERY = """
INSERT INTO card_features
SELECT card_id, transaction_id, event_time_ms, n, avg_log, std_log, max_amount,
       CASE WHEN std_log > 0 THEN (log_amount - avg_log) / std_log ELSE 0 END AS amount_z
FROM (
  SELECT card_id, transaction_id, event_time_ms, LN(GREATEST(amount_minor, 1)) AS log_amount,
         COUNT(*) OVER w AS n,
         AVG(LN(GREATEST(amount_minor, 1))) OVER w AS avg_log,
         STDDEV_POP(LN(GREATEST(amount_minor, 1))) OVER w AS std_log,
         MAX(amount_minor) OVER w AS max_amount
  FROM card_transactions
  WINDOW w AS (PARTITION BY card_id ORDER BY pt RANGE BETWEEN INTERVAL '1' HOUR PRECEDING AND CURRENT ROW)
)
"""


def build(args):
    from pyflink.datastream import StreamExecutionEnvironment
    from pyflink.table import StreamTableEnvironment

    conf = baseline.configuration(args, "fraud-sql")
    env = StreamExecutionEnvironment.get_execution_environment(conf)
    t_env = StreamTableEnvironment.create(env)
    t_env.execute_sql(f"""
        CREATE TABLE card_transactions (
          transaction_id STRING, card_id STRING, event_time_ms BIGINT, `sequence` BIGINT,
          amount_minor BIGINT, currency STRING, merchant_id STRING, merchant_category STRING,
          country STRING, latitude DOUBLE, longitude DOUBLE,
          pt AS PROCTIME()
        ) WITH (
          'connector' = 'kafka', 'topic' = '{args.topic}',
          'properties.bootstrap.servers' = '{args.bootstrap}', 'properties.group.id' = '{args.group}',
          'scan.startup.mode' = 'earliest-offset', 'format' = 'json', 'json.ignore-parse-errors' = 'true'
        )""")
    t_env.execute_sql(f"""
        CREATE TABLE card_features (
          card_id STRING, transaction_id STRING, event_time_ms BIGINT, n BIGINT, avg_log DOUBLE,
          std_log DOUBLE, max_amount BIGINT, amount_z DOUBLE
        ) WITH (
          'connector' = 'kafka', 'topic' = '{args.output_topic}',
          'properties.bootstrap.servers' = '{args.bootstrap}', 'properties.linger.ms' = '1',
          'sink.delivery-guarantee' = 'at-least-once', 'format' = 'json'
        )""")
    return t_env


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    baseline.add_arguments(parser, "fraud-sql")
    parser.add_argument("--output-topic", required=True)
    parser.add_argument("--explain", action="store_true", help="print the plan and exit")
    args = parser.parse_args(argv)
    t_env = build(args)
    if args.explain:
        print(t_env.explain_sql(QUERY))
        return 0
    t_env.execute_sql(QUERY).wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
