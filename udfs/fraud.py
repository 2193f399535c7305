"""Fraud scoring: per-card features and an explainable score, in plain Python.

`CardProfile` is the whole per-card state; `FraudScorer.score` turns one transaction and
the profile into a `ScoredTransaction` and the next profile. The Flink job, the unit
tests and the reference oracle of the integration tests all run this same code.

The score is a noisy-OR of signals: each signal has a strength in [0, 1] and a weight,
score = 1 - prod(1 - weight * strength). Every signal that adds to it is a reason, so a
score always comes with the evidence that produced it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Mapping

from streamsuite_proto.v1 import fraud_pb2
from udfs.encoding import decode_state, encode_state
from udfs.events import EventType, bounded_id, common_fields, require

if TYPE_CHECKING:
    from udfs.hot import HotRecord

PROFILE_ENCODING = 1
MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
EARTH_RADIUS_KM = 6371.0
# Amounts are minor units; 10^10 cents is a hundred million in any currency.
MAX_AMOUNT_MINOR = 10**10

# Bounds that keep a card's state small (the target is under 1 KB per card).
RECENT_LIMIT = 16
MERCHANT_LIMIT = 12
COUNTRY_LIMIT = 6

DEFAULT_WEIGHTS: Mapping[str, float] = {
    "velocity_1m": 0.5,
    "velocity_1h": 0.3,
    "card_testing": 0.8,
    "amount_spike": 0.7,
    "impossible_travel": 0.9,
    "new_country": 0.3,
    "new_high_risk_merchant": 0.6,
}
DEFAULT_HIGH_RISK_MCC = frozenset({"4829", "5967", "6051", "6211", "7995"})


def validate_card_transaction(tx: fraud_pb2.CardTransaction) -> None:
    common_fields(tx.transaction_id, tx.card_id, tx.event_time_ms, tx.sequence)
    bounded_id("card_id", tx.card_id)
    bounded_id("merchant_id", tx.merchant_id)
    require(len(tx.merchant_category) <= 8, "out_of_range", f"merchant category {tx.merchant_category[:20]!r} "
            "is longer than 8 characters")
    require(0 < tx.amount_minor <= MAX_AMOUNT_MINOR, "out_of_range",
            f"amount {tx.amount_minor} minor units is not in 1..{MAX_AMOUNT_MINOR}")
    require(len(tx.currency) == 3, "bad_field", f"currency {tx.currency!r} is not a 3-letter code")
    require(len(tx.country) == 2, "bad_field", f"country {tx.country!r} is not a 2-letter code")
    require(-90.0 <= tx.latitude <= 90.0 and -180.0 <= tx.longitude <= 180.0, "out_of_range",
            f"location ({tx.latitude}, {tx.longitude}) is not on Earth")


def card_key(tx: fraud_pb2.CardTransaction) -> str:
    return tx.card_id


# The job's input: card transactions, keyed by card.
EVENT_TYPE = EventType("CardTransaction", fraud_pb2.CardTransaction, validate_card_transaction, card_key)


@dataclass(frozen=True)
class Transaction:
    """The fields of a CardTransaction the model uses (no Protobuf dependency)."""

    transaction_id: str
    card_id: str
    event_time_ms: int
    sequence: int
    amount_minor: int
    merchant_id: str
    merchant_category: str
    country: str
    latitude: float
    longitude: float

    @classmethod
    def from_message(cls, msg) -> "Transaction":
        return cls(msg.transaction_id, msg.card_id, msg.event_time_ms, msg.sequence, msg.amount_minor,
                   msg.merchant_id, msg.merchant_category, msg.country, msg.latitude, msg.longitude)


@dataclass(frozen=True)
class FraudModel:
    """Weights, thresholds and limits of the score; all of it comes from the job config."""

    weights: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    alert_threshold: float = 0.7
    reason_min_contribution: float = 0.05
    small_amount_minor: int = 300
    high_risk_mcc: frozenset = DEFAULT_HIGH_RISK_MCC
    max_speed_kmh: float = 900.0
    min_travel_km: float = 300.0
    # The amount z-score needs a few transactions of history to mean anything.
    min_history: int = 5

    def __post_init__(self) -> None:
        unknown = set(self.weights) - set(DEFAULT_WEIGHTS)
        if unknown:
            raise ValueError(f"unknown fraud signal weight(s) {sorted(unknown)}; known: {sorted(DEFAULT_WEIGHTS)}")
        for name, weight in self.weights.items():
            if not 0.0 <= weight <= 1.0:
                raise ValueError(f"weight of {name} is {weight}; weights must be in [0, 1]")
        if not 0.0 < self.alert_threshold <= 1.0:
            raise ValueError(f"alert threshold {self.alert_threshold} must be in (0, 1]")


@dataclass
class CardProfile:
    """Everything remembered about one card, compact enough to keep millions in state."""

    seen: int = 0
    max_time_ms: int = 0
    # Welford running statistics of log(amount).
    log_mean: float = 0.0
    log_m2: float = 0.0
    last_time_ms: int = 0
    last_lat: float = 0.0
    last_lon: float = 0.0
    last_country: str = ""
    # [event time, amount] of the latest transactions within the hour, newest last: pairs, unpacked
    # by name wherever they are read (named records would cost ~10 us per transaction to decode).
    recent: list = field(default_factory=list)
    merchants: list = field(default_factory=list)
    countries: list = field(default_factory=list)

    def to_json(self) -> str:
        """Versioned compact encoding, independent of Python class paths (safe across upgrades)."""
        return encode_state(PROFILE_ENCODING, self.seen, self.max_time_ms, self.log_mean, self.log_m2,
                            self.last_time_ms, self.last_lat, self.last_lon, self.last_country,
                            self.recent, self.merchants, self.countries)

    @classmethod
    def from_json(cls, data: str | None) -> "CardProfile":
        if not data:
            return cls()
        return cls(*decode_state(data, PROFILE_ENCODING, "card profile"))


@dataclass(frozen=True)
class ScoredTransaction:
    transaction: Transaction
    score: float
    reasons: tuple[str, ...]
    features: Mapping[str, float]
    # Per-card count of transactions scored so far: the version of the card's hot record.
    version: int
    # The rule-set version that scored it (0: the job's configured model).
    rules_version: int = 0

    @property
    def alert_id(self) -> str:
        """Deterministic, so a replayed transaction can never raise a second alert."""
        return f"{self.transaction.card_id}:{self.transaction.sequence}"


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def _clamp(x: float) -> float:
    return 0.0 if x <= 0.0 else 1.0 if x >= 1.0 else x


def _remember(items: list, item: str, limit: int) -> bool:
    """Move `item` to the newest place; returns whether it was already known."""
    known = item in items
    if known:
        items.remove(item)
    items.append(item)
    if len(items) > limit:
        del items[0]
    return known


class FraudScorer:
    """Scores one transaction against its card's profile and updates the profile."""

    def __init__(self, model: FraudModel | None = None, rules_version: int = 0):
        self.model = model or FraudModel()
        self.rules_version = rules_version

    def features(self, tx: Transaction, profile: CardProfile) -> dict[str, float]:
        m = self.model
        # Windows end at the newest event time seen, so a clock going backwards cannot
        # empty them; the current transaction counts itself.
        now = max(tx.event_time_ms, profile.max_time_ms)
        velocity_1m = 1 + sum(1 for t, _ in profile.recent if now - t < MINUTE_MS)
        velocity_1h = 1 + sum(1 for t, _ in profile.recent if now - t < HOUR_MS)
        small = tx.amount_minor <= m.small_amount_minor
        small_10m = int(small) + sum(1 for t, a in profile.recent if now - t < 10 * MINUTE_MS
                                     and a <= m.small_amount_minor)
        log_amount = math.log(max(tx.amount_minor, 1))
        if profile.seen >= m.min_history:
            std = math.sqrt(profile.log_m2 / (profile.seen - 1))
            amount_z = (log_amount - profile.log_mean) / max(std, 0.25)
        else:
            amount_z = 0.0
        if profile.seen:
            distance = haversine_km(profile.last_lat, profile.last_lon, tx.latitude, tx.longitude)
            hours = max(abs(tx.event_time_ms - profile.last_time_ms), MINUTE_MS) / HOUR_MS
            speed = distance / hours
        else:
            distance = speed = 0.0
        return {
            "velocity_1m": float(velocity_1m),
            "velocity_1h": float(velocity_1h),
            "small_amount": float(small),
            "small_amounts_10m": float(small_10m),
            "amount_z": round(amount_z, 6),
            "travel_km": round(distance, 3),
            "travel_speed_kmh": round(speed, 3),
            "new_country": float(profile.seen > 0 and tx.country not in profile.countries),
            "returning_country": float(tx.country != profile.last_country and tx.country in profile.countries),
            "new_merchant": float(profile.seen > 0 and tx.merchant_id not in profile.merchants),
            "high_risk_mcc": float(tx.merchant_category in m.high_risk_mcc),
            "history": float(profile.seen),
        }

    def signals(self, f: Mapping[str, float]) -> dict[str, float]:
        m = self.model
        # Back to a country the card was used in before the one it was last in is the return leg of
        # a jump (the cardholder at home after someone used the card abroad), not a new jump.
        returning = f["returning_country"] == 1.0
        impossible = f["travel_km"] >= m.min_travel_km and f["travel_speed_kmh"] > m.max_speed_kmh and not returning
        return {
            "velocity_1m": _clamp((f["velocity_1m"] - 3) / 4),
            "velocity_1h": _clamp((f["velocity_1h"] - 8) / 8),
            # Only a small amount is a test; a purchase after a burst of tests is not one.
            "card_testing": f["small_amount"] * _clamp((f["small_amounts_10m"] - 2) / 3),
            "amount_spike": _clamp((f["amount_z"] - 3) / 3),
            "impossible_travel": 1.0 if impossible else 0.0,
            "new_country": f["new_country"] if f["history"] >= 3 else 0.0,
            "new_high_risk_merchant": f["new_merchant"] * f["high_risk_mcc"],
        }

    def score(self, tx: Transaction, profile: CardProfile) -> tuple[ScoredTransaction, CardProfile]:
        features = self.features(tx, profile)
        survive = 1.0
        contributions = []
        for name, strength in self.signals(features).items():
            contribution = self.model.weights.get(name, 0.0) * strength
            survive *= 1.0 - contribution
            if contribution >= self.model.reason_min_contribution:
                contributions.append((contribution, name))
        reasons = tuple(name for _, name in sorted(contributions, key=lambda c: (-c[0], c[1])))
        scored = ScoredTransaction(tx, round(1.0 - survive, 6), reasons, features, profile.seen + 1,
                                   self.rules_version)
        return scored, self._updated(tx, profile)

    def is_alert(self, scored: ScoredTransaction) -> bool:
        return scored.score >= self.model.alert_threshold

    @staticmethod
    def _updated(tx: Transaction, p: CardProfile) -> CardProfile:
        seen = p.seen + 1
        log_amount = math.log(max(tx.amount_minor, 1))
        delta = log_amount - p.log_mean
        log_mean = p.log_mean + delta / seen
        log_m2 = p.log_m2 + delta * (log_amount - log_mean)
        max_time = max(p.max_time_ms, tx.event_time_ms)
        recent = [[t, amount] for t, amount in p.recent if max_time - t < HOUR_MS]
        recent.append([tx.event_time_ms, tx.amount_minor])
        del recent[:-RECENT_LIMIT]
        merchants, countries = list(p.merchants), list(p.countries)
        _remember(merchants, tx.merchant_id, MERCHANT_LIMIT)
        _remember(countries, tx.country, COUNTRY_LIMIT)
        return CardProfile(seen, max_time, log_mean, log_m2, tx.event_time_ms, tx.latitude, tx.longitude,
                           tx.country, recent, merchants, countries)


def card_hot_record(scored: ScoredTransaction, prefix: str, now_ms: int) -> "HotRecord":
    """`<prefix>:card:<card_id>`: the card's latest score, what a service reads before authorising."""
    from udfs.hot import HotRecord

    tx = scored.transaction
    return HotRecord(f"{prefix}:card:{tx.card_id}", scored.version, {
        "score": scored.score, "reasons": ",".join(scored.reasons), "transaction_id": tx.transaction_id,
        "sequence": tx.sequence, "event_time_ms": tx.event_time_ms, "rules_version": scored.rules_version,
        "updated_at_ms": now_ms,
    }, event_time_ms=tx.event_time_ms)


def alert_hot_record(scored: ScoredTransaction, prefix: str) -> "HotRecord":
    """`<prefix>:alert:<alert_id>` plus its place in the `<prefix>:alerts` feed, ordered by event time."""
    from udfs.hot import HotRecord

    tx = scored.transaction
    return HotRecord(f"{prefix}:alert:{scored.alert_id}", 1, {
        "alert_id": scored.alert_id, "card_id": tx.card_id, "transaction_id": tx.transaction_id,
        "score": scored.score, "reasons": ",".join(scored.reasons), "event_time_ms": tx.event_time_ms,
        "rules_version": scored.rules_version,
    }, index_key=f"{prefix}:alerts", index_score=tx.event_time_ms, index_member=scored.alert_id,
        event_time_ms=tx.event_time_ms)
