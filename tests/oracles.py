"""Reference results computed by the pure-Python domain code over the same input the job reads."""
from __future__ import annotations

from dataclasses import dataclass, field

from jobs.specs import EVENT_TYPES
from udfs.codec import DecodeError
from udfs.fraud import CardProfile, FraudModel, ScoredTransaction, Transaction
from udfs.fraud_rules import InvalidRuleSet, RuleBook, RuleSet, RuleSetScorer
from udfs.timers import MAX_WATERMARK, bounded_out_of_orderness


@dataclass
class FraudOracle:
    scored: list[ScoredTransaction] = field(default_factory=list)
    alerts: list[ScoredTransaction] = field(default_factory=list)
    latest: dict[str, ScoredTransaction] = field(default_factory=dict)
    poison: list[bytes] = field(default_factory=list)
    # transaction id -> (shadow score or None, shadow alert)
    shadow: dict[str, tuple[ScoredTransaction | None, bool]] = field(default_factory=dict)
    # rules records the book refused, with the reason
    refused_rules: list[tuple[bytes, str]] = field(default_factory=list)


def fraud_oracle(records: list[tuple[bytes, bytes]], model: FraudModel | None = None,
                 rules_records: list[bytes] = ()) -> FraudOracle:
    """Score every valid transaction in stream order per card, each with the rule sets in force at
    its event time (every rules record known, as at the end of a bounded run); poison is what must
    be dead-lettered."""
    book = RuleBook(RuleSet.startup(model or FraudModel()))
    oracle = FraudOracle()
    for record in rules_records:
        try:
            book.apply(record)
        except InvalidRuleSet as exc:
            oracle.refused_rules.append((record, str(exc)))
    scoring = RuleSetScorer()
    profiles: dict[str, CardProfile] = {}
    for _, value in records:
        try:
            message = EVENT_TYPES["CardTransaction"].parse(value)
        except DecodeError:
            oracle.poison.append(value)
            continue
        tx = Transaction.from_message(message)
        scored, alert, shadow, shadow_alert, profiles[tx.card_id] = scoring.score(
            tx, profiles.get(tx.card_id, CardProfile()), book.in_force(tx.event_time_ms),
            book.shadow_in_force(tx.event_time_ms))
        oracle.scored.append(scored)
        oracle.latest[tx.card_id] = scored
        oracle.shadow[tx.transaction_id] = (shadow, shadow_alert)
        if alert:
            oracle.alerts.append(scored)
    return oracle


@dataclass
class InventoryOracle:
    states: dict
    outputs: list
    poison: list[bytes]


def inventory_oracle(records: list[tuple[bytes, bytes]], model=None, out_of_orderness_ms: int = 5_000,
                     end_watermark_ms: int = MAX_WATERMARK) -> InventoryOracle:
    """Replay valid movements in stream order (a key's order is its partition's order) as the operator does;
    a bounded run ends with every timer fired, an unbounded one with those due by its last watermark."""
    from udfs.inventory import replay
    from udfs.inventory_records import Movement

    movements, poison = [], []
    for _, value in records:
        try:
            movements.append(Movement.from_message(EVENT_TYPES["InventoryMovement"].parse(value)))
        except DecodeError:
            poison.append(value)
    states, outputs = replay(movements, model, bounded_out_of_orderness(out_of_orderness_ms), end_watermark_ms)
    return InventoryOracle(states, outputs, poison)


def maintenance_oracle(records: list[tuple[bytes, bytes]], model=None, out_of_orderness_ms: int = 5_000,
                       end_watermark_ms: int = MAX_WATERMARK):
    """Outputs of the maintenance operator over the valid readings (every timer fired at the end, or those
    due by `end_watermark_ms`), and the poison."""
    from udfs.maintenance import replay
    from udfs.maintenance_records import Reading

    readings, poison = [], []
    for _, value in records:
        try:
            readings.append(Reading.from_message(EVENT_TYPES["SensorReading"].parse(value)))
        except DecodeError:
            poison.append(value)
    return replay(readings, model, bounded_out_of_orderness(out_of_orderness_ms), end_watermark_ms), poison
