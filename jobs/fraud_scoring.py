"""Fraud scoring: card transactions -> per-card features and score -> Redis (hot) and S3 (cold).

    Kafka fraud.transactions -> decode+validate --(bad bytes; events that fail in scoring)--> Kafka fraud.deadletter
                                  |                                                             ^
                          key by card_id            Kafka fraud.rules (rules.enabled)           | refused rule sets
                                  |                              | broadcast                    |
                 [HoldForRules (held transactions; rule book in broadcast state)] -------------+
                                  |  transaction + the rule sets in force at its event time
                          key by card_id
                                  |
                 ScoreTransactions (CardProfile state) --hot rows--> JVM Redis sink: fraud:card:<id>, fraud:alert:<id>, fraud:alerts
                          |                   |
            S3 fraud/scores/dt=.../     S3 fraud/alerts/dt=.../   (Parquet, committed on checkpoint)

With `rules.enabled` off there is no rules input and every transaction is scored with the
configured model, version 0. Why transactions wait for their rules: `udfs.fraud_rules`.

Run locally: `python -m jobs.fraud_scoring [--bounded] [--set key=value ...]`; the same file is
what `flink run -py` submits.
"""
from __future__ import annotations

import sys

from pyflink.common import Row, Types
from pyflink.datastream import KeyedBroadcastProcessFunction, OutputTag, TimeDomain
from pyflink.datastream.state import ListStateDescriptor, MapStateDescriptor, ValueStateDescriptor

from jobs import cli, cold_sink, decoding, kafka, streams
from jobs.config import JobConfig
from jobs.operators import (DEAD_LETTERS, HotResultFunction, dead_letter_bytes, keyed_operator_sinks, now_ms,
                            subtask_index)
from jobs.specs import FRAUD, SCORE_FEATURES
from streamsuite_proto.v1.fraud_pb2 import CardTransaction
from udfs.fraud import (DEFAULT_WEIGHTS, CardProfile, FraudModel, ScoredTransaction, Transaction, alert_hot_record,
                        card_hot_record)
from udfs.fraud_rules import RuleBook, RuleSet, RuleSetCache, RuleSetScorer, hold, release
from udfs.codec import unframe
from udfs.events import event_date

SPEC = FRAUD
SCORES, ALERT_TABLE = SPEC.cold("scores"), SPEC.cold("alerts")
ALERTS = OutputTag("alerts", ALERT_TABLE.columns.row_type())
NO_SHADOW = -1
# The book in the broadcast state, under one key; each instance applies the same rules records in
# the same order, so all hold the same book.
RULES_STATE = MapStateDescriptor("fraud_rules", Types.STRING(), Types.STRING())
BOOK_KEY = "book"
EVENT = Types.TUPLE([Types.STRING(), Types.LONG(), Types.PRIMITIVE_ARRAY(Types.BYTE())])
# The event with the FraudRuleSet bytes of the active (b"": version 0) and shadow (b"": none) rule set.
RULED_EVENT = Types.TUPLE([Types.STRING(), Types.LONG(), Types.PRIMITIVE_ARRAY(Types.BYTE()),
                           Types.PRIMITIVE_ARRAY(Types.BYTE()), Types.PRIMITIVE_ARRAY(Types.BYTE())])
END_OF_INPUT_MS = 2**63 - 1


def score_row(s: ScoredTransaction, alert: bool, shadow: ScoredTransaction | None, shadow_alert: bool) -> Row:
    tx = s.transaction
    return Row(tx.transaction_id, tx.card_id, tx.event_time_ms, tx.sequence, tx.amount_minor, tx.merchant_id,
               tx.merchant_category, tx.country, s.score, ",".join(s.reasons), alert, s.version, s.rules_version,
               *(float(s.features[f]) for f in SCORE_FEATURES),
               shadow.rules_version if shadow else NO_SHADOW, shadow.score if shadow else 0.0,
               ",".join(shadow.reasons) if shadow else "", shadow_alert, event_date(tx.event_time_ms))


def alert_row(s: ScoredTransaction) -> Row:
    tx = s.transaction
    return Row(s.alert_id, tx.card_id, tx.transaction_id, tx.event_time_ms, tx.sequence, s.score,
               ",".join(s.reasons), s.rules_version, event_date(tx.event_time_ms))


class HoldForRules(KeyedBroadcastProcessFunction):
    """Keyed by card: a transaction goes on with the rule sets in force at its event time once the
    rules topic has shown them, and waits in keyed state until then (`udfs.fraud_rules.hold`).

    Only the main output leaves `on_timer`: PyFlink 2.2's thread mode passes a keyed broadcast
    function's timer results to the main output as they are, side outputs included, so the
    scoring (with its hot rows and alerts) is the next operator's.
    """

    def __init__(self, config: JobConfig):
        self.startup = RuleSet.startup(config.model)
        self.recheck_ms = config.rules.recheck_ms
        self.rules_topic = config.rules.topic
        self.job = config.job

    def open(self, runtime_context):
        self.held = runtime_context.get_list_state(ListStateDescriptor("held_transactions", EVENT))
        # One instance reports a refused rule set; every instance refuses it.
        self.reports = subtask_index(runtime_context) == 0
        metrics = runtime_context.get_metrics_group().add_group("streamsuite")
        self.rules_accepted = metrics.counter("rules_accepted")
        self.rules_refused = metrics.counter("rules_refused")
        self.transactions_held = metrics.counter("transactions_held")
        self.book = None

    def _book(self, ctx) -> RuleBook:
        if self.book is None:
            self.book = RuleBook.from_json(ctx.get_broadcast_state(RULES_STATE).get(BOOK_KEY), self.startup)
        return self.book

    def _ruled(self, event) -> Row:
        active, shadow = self.book.in_force(event[1]), self.book.shadow_in_force(event[1])
        return Row(event[0], (*event, active.raw, shadow.raw if shadow else b""))

    def process_element(self, value, ctx):
        book = self._book(ctx)
        held = list(self.held.get())
        released, still = hold(book, held, value)
        if still and still[-1] is value:
            self.transactions_held.inc()
        self._keep(held, still, ctx)
        return [self._ruled(e) for e in released]

    def on_timer(self, timestamp, ctx):
        book = self._book(ctx)
        held = list(self.held.get())
        released, still = release(book, held, end_of_input=ctx.time_domain() == TimeDomain.EVENT_TIME)
        self._keep(held, still, ctx, recheck=bool(still))
        return [self._ruled(e) for e in released]

    def _keep(self, held: list, still: list, ctx, recheck: bool = False) -> None:
        """Store what stays held; while anything is, look again every `recheck_ms` and at the end of input."""
        if still == held and not recheck:
            return
        timers = ctx.timer_service()
        if still:
            self.held.update(still)
            if not held or recheck:
                timers.register_processing_time_timer(timers.current_processing_time() + self.recheck_ms)
                timers.register_event_time_timer(END_OF_INPUT_MS)
        else:
            self.held.clear()
            timers.delete_event_time_timer(END_OF_INPUT_MS)

    def process_broadcast_element(self, value, ctx):
        book = self._book(ctx)
        try:
            book.apply(value)
        except Exception as exc:  # noqa: BLE001 - a bad rules record must not stop scoring
            self.book = None
            self.rules_refused.inc()
            if not self.reports:
                return []
            return [(DEAD_LETTERS, dead_letter_bytes(value, f"invalid_rule_set: {exc}", self.rules_topic, self.job))]
        ctx.get_broadcast_state(RULES_STATE).put(BOOK_KEY, book.to_json())
        self.rules_accepted.inc()
        return []


class ScoreTransactions(HotResultFunction):
    """Keyed by card: score with the card's profile and the rule sets that came with the
    transaction (version 0 without rules), keep the profile in state, write hot results."""

    def open(self, runtime_context):
        super().open(runtime_context)
        self.profile = runtime_context.get_state(
            ValueStateDescriptor("card_profile", Types.STRING()))
        self.startup = RuleSet.startup(self.model)
        self.rule_sets = RuleSetCache(self.startup)
        self.scoring = RuleSetScorer()
        self.alerts = self.metrics.counter("alerts")

    def on_element(self, value, ctx):
        tx = Transaction.from_message(CardTransaction.FromString(unframe(value[2])[1]))
        ruled = len(value) > 3
        active = self.rule_sets.get(value[3]) if ruled else self.startup
        shadow = self.rule_sets.get(value[4]) if ruled and value[4] else None
        scored, alert, shadow_scored, shadow_alert, profile = self.scoring.score(
            tx, CardProfile.from_json(self.profile.value()), active, shadow)
        self.later(self.profile.update, profile.to_json())
        self.hot(card_hot_record(scored, self.prefix, now_ms()))
        row = score_row(scored, alert, shadow_scored, shadow_alert)
        if not alert:
            return [row]
        self.alerts.inc()
        self.hot(alert_hot_record(scored, self.prefix))
        return [(ALERTS, alert_row(scored)), row]


def build(env, config: JobConfig) -> None:
    decoded = decoding.decode(kafka.input_bytes(env, config), config, SPEC.event_type)
    events, refused_rules = decoded.events, []
    if config.rules.enabled:
        held = (decoded.events.connect(kafka.rules_bytes(env, config).broadcast(RULES_STATE))
                .process(HoldForRules(config), output_type=Types.ROW([Types.STRING(), RULED_EVENT]))
                .name("hold-for-rules").uid(SPEC.uid("hold-for-rules")))
        events, refused_rules = streams.keyed_in_the_jvm(held, RULED_EVENT), [streams.side_output(held, DEAD_LETTERS)]
    scored = (events
              .process(ScoreTransactions(config), output_type=SCORES.columns.row_type())
              .name(SPEC.operator).uid(SPEC.uid(SPEC.operator)))
    keyed_operator_sinks(scored, decoded, config, *refused_rules)
    cold = cold_sink.ColdSink(env, config)
    cold.add(SCORES, scored)
    cold.add(ALERT_TABLE, streams.side_output(scored, ALERTS))
    cold.attach()


def default_model() -> FraudModel:
    return FraudModel(weights=dict(DEFAULT_WEIGHTS))


def main(argv: list[str] | None = None) -> int:
    return cli.run_job(SPEC, default_model(), build, argv)


if __name__ == "__main__":
    sys.exit(main())
