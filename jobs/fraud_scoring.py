"""Fraud scoring: card transactions -> per-card features and score -> Redis (hot) and S3 (cold).

    Kafka fraud.transactions -> decode+validate --(bad bytes; events that fail in scoring)--> Kafka fraud.deadletter
                                  |
                          key by card_id
                                  |
                 ScoreTransactions (CardProfile state) --hot rows--> JVM Redis sink: fraud:card:<id>, fraud:alert:<id>, fraud:alerts
                          |                   |
            S3 fraud/scores/dt=.../     S3 fraud/alerts/dt=.../   (Parquet, committed on checkpoint)

Run locally: `python -m jobs.fraud_scoring [--bounded] [--set key=value ...]`; the same file is
what `flink run -py` submits.
"""
from __future__ import annotations

import sys

from pyflink.common import Row, Types
from pyflink.datastream import OutputTag
from pyflink.datastream.state import ValueStateDescriptor

from jobs import runtime
from jobs.config import JobConfig
from jobs.operators import HotResultFunction
from streamsuite_proto.v1.fraud_pb2 import CardTransaction
from udfs.fraud import (DEFAULT_WEIGHTS, CardProfile, FraudModel, FraudScorer, ScoredTransaction, Transaction,
                        alert_hot_record, card_hot_record)
from udfs.codec import unframe
from udfs.events import event_date

FEATURES = ("velocity_1m", "velocity_1h", "small_amounts_10m", "amount_z", "travel_km", "travel_speed_kmh",
            "new_country", "new_merchant", "high_risk_mcc", "history")
SCORE_COLUMNS = runtime.columns(
    ("transaction_id", "STRING"), ("card_id", "STRING"), ("event_time_ms", "BIGINT"), ("sequence", "BIGINT"),
    ("amount_minor", "BIGINT"), ("merchant_id", "STRING"), ("merchant_category", "STRING"), ("country", "STRING"),
    ("score", "DOUBLE"), ("reasons", "STRING"), ("alert", "BOOLEAN"), ("version", "BIGINT"),
    *((f, "DOUBLE") for f in FEATURES), ("dt", "STRING"))
ALERT_COLUMNS = runtime.columns(
    ("alert_id", "STRING"), ("card_id", "STRING"), ("transaction_id", "STRING"), ("event_time_ms", "BIGINT"),
    ("sequence", "BIGINT"), ("score", "DOUBLE"), ("reasons", "STRING"), ("dt", "STRING"))
ALERTS = OutputTag("alerts", ALERT_COLUMNS.row_type())


def score_row(s: ScoredTransaction, alert: bool) -> Row:
    tx = s.transaction
    return Row(tx.transaction_id, tx.card_id, tx.event_time_ms, tx.sequence, tx.amount_minor, tx.merchant_id,
               tx.merchant_category, tx.country, s.score, ",".join(s.reasons), alert, s.version,
               *(float(s.features[f]) for f in FEATURES), event_date(tx.event_time_ms))


def alert_row(s: ScoredTransaction) -> Row:
    tx = s.transaction
    return Row(s.alert_id, tx.card_id, tx.transaction_id, tx.event_time_ms, tx.sequence, s.score,
               ",".join(s.reasons), event_date(tx.event_time_ms))


class ScoreTransactions(HotResultFunction):
    """Keyed by card: score with the card's profile, keep the profile in state, write hot results."""

    def open(self, runtime_context):
        super().open(runtime_context)
        self.profile = runtime_context.get_state(
            ValueStateDescriptor("card_profile", Types.STRING()))
        self.scorer = FraudScorer(self.model)
        self.alerts = self.metrics.counter("alerts")

    def on_element(self, value, ctx):
        tx = Transaction.from_message(CardTransaction.FromString(unframe(value[2])[1]))
        scored, profile = self.scorer.score(tx, CardProfile.from_json(self.profile.value()))
        self.later(self.profile.update, profile.to_json())
        self.hot(card_hot_record(scored, self.prefix, runtime.now_ms()))
        if not self.scorer.is_alert(scored):
            return [score_row(scored, False)]
        self.alerts.inc()
        self.hot(alert_hot_record(scored, self.prefix))
        return [(ALERTS, alert_row(scored)), score_row(scored, True)]


def build(env, config: JobConfig) -> None:
    decoded = runtime.decode(runtime.kafka_bytes(env, config), config, "CardTransaction")
    scored = (decoded.events
              .process(ScoreTransactions(config), output_type=SCORE_COLUMNS.row_type())
              .name("score").uid("fraud-score"))
    runtime.keyed_operator_sinks(scored, decoded, config)
    cold = runtime.ColdSink(env, config)
    cold.add("scores", scored, SCORE_COLUMNS)
    cold.add("alerts", runtime.side_output(scored, ALERTS), ALERT_COLUMNS)
    cold.attach()


def default_model() -> FraudModel:
    return FraudModel(weights=dict(DEFAULT_WEIGHTS))


def main(argv: list[str] | None = None) -> int:
    return runtime.run_job("fraud", "jobs.fraud_scoring", default_model(), build, argv)


if __name__ == "__main__":
    sys.exit(main())
