"""Fraud rules that change while the job runs: rule sets, their validation, and the rule book
that says which version scores a transaction. Plain Python; the Flink job, the CLI and the
reference oracle use this same code.

Which version scores a transaction depends only on its event time: the newest active rule
set whose `effective_from_ms` is at or before it (version 0, the job's configured model,
before any). So a replay scores every transaction with the version of the first run, as long
as no transaction is scored before every rule set that could apply to it is known. Rule sets
arrive on their own topic, so the book keeps a horizon: the time before which it knows every
rule set. A rule set (or a `RulesHorizon` record) on the rules topic promises that nothing
published after it takes effect before its time; a rule set that would take effect before
the horizon is refused (transactions before the horizon may already be scored with another
version). A transaction at or after the horizon is held until the horizon passes it, or
until the rules input has ended (a bounded run: then every rule set is known).
Whether a rule set is accepted depends only on the rules topic's order (one partition), never
on how it interleaves with transactions, so every parallel instance and every replay agree.
"""
from __future__ import annotations

import base64
import bisect
import calendar
import time
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from udfs.codec import DecodeError, decode
from udfs.encoding import decode_state, encode_state
from udfs.fraud import DEFAULT_WEIGHTS, FraudModel, FraudScorer, Transaction

BOOK_ENCODING = 1
# Before the first horizon nothing is known: with rules on, transactions wait for the rules topic.
NO_HORIZON = -(2**63)
MODES = ("active", "shadow")
SIGNALS = tuple(DEFAULT_WEIGHTS)
LIMIT_DEFAULTS = {
    "small_amount_minor": FraudModel.small_amount_minor,
    "max_speed_kmh": FraudModel.max_speed_kmh,
    "min_travel_km": FraudModel.min_travel_km,
    "min_history": FraudModel.min_history,
    "reason_min_contribution": FraudModel.reason_min_contribution,
}


class InvalidRuleSet(ValueError):
    """A rule set (or rules record) the job refuses; the message says why."""


def _check(condition: bool, reason: str) -> None:
    if not condition:
        raise InvalidRuleSet(reason)


def _check_weights(weights: Mapping[str, float], where: str) -> None:
    for name, weight in weights.items():
        _check(name in SIGNALS, f"{where}: unknown signal {name!r}; known: {', '.join(SIGNALS)}")
        _check(0.0 <= weight <= 1.0, f"{where}: weight of {name} is {weight}, not in [0, 1]")


def _check_threshold(threshold: float, where: str) -> None:
    _check(0.0 < threshold <= 1.0, f"{where}: alert threshold {threshold} is not in (0, 1]")


@dataclass(frozen=True)
class Segment:
    """Weights and threshold for the transactions of one country and/or merchant category."""

    country: str
    merchant_category: str
    model: FraudModel

    def matches(self, tx: Transaction) -> bool:
        return ((not self.country or tx.country == self.country)
                and (not self.merchant_category or tx.merchant_category == self.merchant_category))


@dataclass(frozen=True)
class RuleSet:
    """One validated version of the rules; `raw` is the FraudRuleSet message it came from
    (empty for version 0, the job's configured model)."""

    version: int
    effective_from_ms: int
    mode: str
    model: FraudModel
    segments: tuple[Segment, ...] = ()
    description: str = ""
    raw: bytes = field(default=b"", repr=False, compare=False)

    @classmethod
    def startup(cls, model: FraudModel) -> "RuleSet":
        """Version 0: the model of the job's config, in force before any published rule set."""
        return cls(0, NO_HORIZON, "active", model, (), "the job's configured model")

    @classmethod
    def from_message(cls, msg) -> "RuleSet":
        """Validate a FraudRuleSet; raises InvalidRuleSet naming the first problem."""
        from streamsuite_proto.v1 import fraud_pb2

        v = msg.version
        _check(v >= 1, f"version {v} is not 1 or more (0 is the job's configured model)")
        where = f"rule set {v}"
        _check(msg.effective_from_ms > 0, f"{where}: effective_from_ms {msg.effective_from_ms} is not positive")
        modes = {fraud_pb2.ACTIVE: "active", fraud_pb2.SHADOW: "shadow"}
        _check(msg.mode in modes, f"{where}: mode is not ACTIVE or SHADOW")
        weights = dict(msg.weights)
        _check_weights(weights, where)
        _check_threshold(msg.alert_threshold, where)
        enabled = list(msg.enabled_signals)
        _check(bool(enabled), f"{where}: no enabled signals")
        _check(len(set(enabled)) == len(enabled), f"{where}: an enabled signal is listed twice")
        for name in enabled:
            _check(name in SIGNALS, f"{where}: unknown enabled signal {name!r}; known: {', '.join(SIGNALS)}")
            _check(name in weights, f"{where}: enabled signal {name} has no weight")
        for mcc in msg.high_risk_merchant_categories:
            _check(0 < len(mcc) <= 8, f"{where}: high-risk merchant category {mcc!r} is not 1 to 8 characters")
        limits = msg.limits
        _check(limits.small_amount_minor > 0, f"{where}: limits.small_amount_minor must be positive")
        _check(limits.max_speed_kmh > 0, f"{where}: limits.max_speed_kmh must be positive")
        _check(limits.min_travel_km > 0, f"{where}: limits.min_travel_km must be positive")
        _check(limits.min_history >= 2, f"{where}: limits.min_history must be 2 or more")
        _check(0.0 < limits.reason_min_contribution < 1.0,
               f"{where}: limits.reason_min_contribution must be in (0, 1)")
        model = FraudModel(
            weights={name: weights[name] for name in enabled}, alert_threshold=msg.alert_threshold,
            reason_min_contribution=limits.reason_min_contribution, small_amount_minor=limits.small_amount_minor,
            high_risk_mcc=frozenset(msg.high_risk_merchant_categories), max_speed_kmh=limits.max_speed_kmh,
            min_travel_km=limits.min_travel_km, min_history=limits.min_history)
        segments = []
        for i, seg in enumerate(msg.segments):
            here = f"{where} segment {i + 1}"
            _check(bool(seg.country or seg.merchant_category), f"{here}: names no country and no merchant category")
            _check(not seg.country or len(seg.country) == 2, f"{here}: country {seg.country!r} is not a 2-letter code")
            _check_weights(dict(seg.weights), here)
            for name in seg.weights:
                _check(name in enabled, f"{here}: weight for {name}, which is not enabled")
            threshold = seg.alert_threshold if seg.HasField("alert_threshold") else model.alert_threshold
            _check_threshold(threshold, here)
            seg_model = FraudModel(
                weights={**model.weights, **dict(seg.weights)}, alert_threshold=threshold,
                reason_min_contribution=model.reason_min_contribution, small_amount_minor=model.small_amount_minor,
                high_risk_mcc=model.high_risk_mcc, max_speed_kmh=model.max_speed_kmh,
                min_travel_km=model.min_travel_km, min_history=model.min_history)
            segments.append(Segment(seg.country, seg.merchant_category, seg_model))
        return cls(v, msg.effective_from_ms, modes[msg.mode], model, tuple(segments), msg.description,
                   msg.SerializeToString())

    @classmethod
    def from_bytes(cls, raw: bytes) -> "RuleSet":
        from streamsuite_proto.v1.fraud_pb2 import FraudRuleSet

        return cls.from_message(FraudRuleSet.FromString(raw))

    def model_for(self, tx: Transaction) -> FraudModel:
        """The first segment the transaction falls in decides weights and threshold."""
        for segment in self.segments:
            if segment.matches(tx):
                return segment.model
        return self.model


class RuleSetScorer:
    """Scores with any rule set, keeping one FraudScorer per rule set and segment."""

    def __init__(self) -> None:
        self._scorers: dict[tuple[int, int], FraudScorer] = {}

    def scorer(self, rules: RuleSet, tx: Transaction) -> FraudScorer:
        model = rules.model_for(tx)
        key = (rules.version, id(model))
        scorer = self._scorers.get(key)
        if scorer is None:
            scorer = self._scorers[key] = FraudScorer(model, rules.version)
        return scorer

    def score(self, tx: Transaction, profile, active: RuleSet, shadow: RuleSet | None = None):
        """(scored, alert, shadow scored or None, shadow alert, next profile). The profile does not
        depend on the rules, so a shadow score changes nothing that follows."""
        scorer = self.scorer(active, tx)
        scored, following = scorer.score(tx, profile)
        if shadow is None:
            return scored, scorer.is_alert(scored), None, False, following
        shadow_scorer = self.scorer(shadow, tx)
        shadow_scored, _ = shadow_scorer.score(tx, profile)
        return scored, scorer.is_alert(scored), shadow_scored, shadow_scorer.is_alert(shadow_scored), following


class RuleSetCache:
    """Rule sets by the bytes they travel as; b"" is version 0."""

    def __init__(self, startup: RuleSet):
        self._by_raw: dict[bytes, RuleSet] = {b"": startup}

    def get(self, raw: bytes) -> RuleSet:
        raw = bytes(raw)
        rules = self._by_raw.get(raw)
        if rules is None:
            rules = self._by_raw[raw] = RuleSet.from_bytes(raw)
        return rules


class RuleBook:
    """Every accepted rule set, the horizon, and which version is in force at a given event time."""

    def __init__(self, startup: RuleSet, rule_sets: Sequence[RuleSet] = (), horizon_ms: int = NO_HORIZON):
        self.startup = startup
        self.active: list[RuleSet] = [r for r in rule_sets if r.mode == "active"]
        self.shadow: list[RuleSet] = [r for r in rule_sets if r.mode == "shadow"]
        self.horizon_ms = horizon_ms
        self._index()

    def _index(self) -> None:
        self._active_from = [r.effective_from_ms for r in self.active]
        self._shadow_from = [r.effective_from_ms for r in self.shadow]

    @property
    def latest_version(self) -> int:
        return max([0] + [r.version for r in self.active + self.shadow])

    def accept(self, rules: RuleSet) -> None:
        latest = self.latest_version
        _check(rules.version > latest, f"rule set {rules.version} is not newer than version {latest}, the latest known")
        _check(rules.effective_from_ms >= self.horizon_ms,
               f"rule set {rules.version} takes effect at {rules.effective_from_ms} ms, before the rules horizon "
               f"{self.horizon_ms} ms: transactions before the horizon may already be scored with another version")
        (self.active if rules.mode == "active" else self.shadow).append(rules)
        self.horizon_ms = max(self.horizon_ms, rules.effective_from_ms)
        self._index()

    def extend(self, until_ms: int) -> None:
        self.horizon_ms = max(self.horizon_ms, until_ms)

    def apply(self, data: bytes) -> str:
        """One record of the rules topic; returns what it did, raises InvalidRuleSet (nothing changed)."""
        from streamsuite_proto.v1.fraud_pb2 import FraudRulesUpdate

        try:
            update = decode(bytes(data), FraudRulesUpdate)
        except DecodeError as exc:
            raise InvalidRuleSet(f"not a FraudRulesUpdate: {exc}") from None
        kind = update.WhichOneof("update")
        if kind == "horizon":
            self.extend(update.horizon.until_ms)
            return f"horizon {self.horizon_ms} ms"
        _check(kind == "rule_set", "the record holds neither a rule set nor a horizon")
        rules = RuleSet.from_message(update.rule_set)
        self.accept(rules)
        return f"rule set {rules.version} ({rules.mode}) from {rules.effective_from_ms} ms"

    def knows(self, event_time_ms: int) -> bool:
        """Whether every rule set that can apply at this event time is in the book."""
        return event_time_ms < self.horizon_ms

    def in_force(self, event_time_ms: int) -> RuleSet:
        i = bisect.bisect_right(self._active_from, event_time_ms)
        return self.active[i - 1] if i else self.startup

    def shadow_in_force(self, event_time_ms: int) -> RuleSet | None:
        """The newest shadow rule set in effect, while no newer active version has replaced it."""
        i = bisect.bisect_right(self._shadow_from, event_time_ms)
        if not i:
            return None
        shadow = self.shadow[i - 1]
        return shadow if shadow.version > self.in_force(event_time_ms).version else None

    def to_json(self) -> str:
        rule_sets = sorted(self.active + self.shadow, key=lambda r: r.version)
        return encode_state(BOOK_ENCODING, self.horizon_ms, [base64.b64encode(r.raw).decode() for r in rule_sets])

    @classmethod
    def from_json(cls, data: str | None, startup: RuleSet) -> "RuleBook":
        if not data:
            return cls(startup)
        horizon_ms, encoded = decode_state(data, BOOK_ENCODING, "fraud rule book")
        return cls(startup, [RuleSet.from_bytes(base64.b64decode(e)) for e in encoded], horizon_ms)


# The key of every rules-topic record: one key, so one partition holds them all, in order.
RULES_KEY = b"fraud-rules"


def rule_set_update(message) -> bytes:
    """A rules-topic record carrying one FraudRuleSet."""
    from streamsuite_proto.v1.fraud_pb2 import FraudRulesUpdate

    return FraudRulesUpdate(rule_set=message).SerializeToString()


def horizon_update(until_ms: int) -> bytes:
    """A rules-topic record promising that no rule set published later takes effect before `until_ms`."""
    from streamsuite_proto.v1.fraud_pb2 import FraudRulesUpdate, RulesHorizon

    return FraudRulesUpdate(horizon=RulesHorizon(until_ms=until_ms)).SerializeToString()


def hold(book: RuleBook, held: list, event: tuple) -> tuple[list, list]:
    """An arriving transaction event (key, event_time_ms, bytes): (released, still held).

    A card's transactions leave in the order they came: behind a held one every later one
    waits too, so its profile sees them in stream order whatever the rules do.
    """
    released, held = release(book, held, end_of_input=False)
    if held or not book.knows(event[1]):
        return released, held + [event]
    return released + [event], held


def release(book: RuleBook, held: list, end_of_input: bool) -> tuple[list, list]:
    """The held events whose rules are now known, oldest first (all of them at the end of input)."""
    n = 0
    while n < len(held) and (end_of_input or book.knows(held[n][1])):
        n += 1
    return held[:n], held[n:]


# ------------------------------------------------------------------ rule sets for people (TOML)

TOML_KEYS = ("version", "effective_from_ms", "effective_from", "mode", "weights", "alert_threshold",
             "high_risk_merchant_categories", "limits", "enabled_signals", "segments", "description")
SEGMENT_KEYS = ("country", "merchant_category", "weights", "alert_threshold")


def parse_time_ms(value: Any, key: str) -> int:
    """Milliseconds since the epoch from an int or an ISO-8601 UTC time like 2024-01-01T06:00:00Z."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if hasattr(value, "timestamp"):
        return int(value.timestamp() * 1000)
    text = str(value).strip()
    try:
        fraction = ""
        if "." in text:
            text, fraction = text.split(".", 1)
            fraction = fraction.rstrip("Z")
        seconds = calendar.timegm(time.strptime(text.rstrip("Z"), "%Y-%m-%dT%H:%M:%S"))
    except ValueError:
        raise InvalidRuleSet(f"{key} = {value!r} is not milliseconds nor a time like 2024-01-01T06:00:00Z") from None
    return seconds * 1000 + int((fraction + "000")[:3] or 0)


def rule_set_message(table: Mapping[str, Any]):
    """A FraudRuleSet from its TOML form; left-out limits take the model's defaults, left-out
    enabled_signals are the signals that have a weight. Raises InvalidRuleSet naming the key."""
    from streamsuite_proto.v1 import fraud_pb2

    unknown = sorted(set(table) - set(TOML_KEYS))
    _check(not unknown, f"unknown rule set key(s) {', '.join(unknown)}; known: {', '.join(TOML_KEYS)}")
    _check("version" in table, "the rule set has no version")
    _check(("effective_from_ms" in table) != ("effective_from" in table),
           "give exactly one of effective_from_ms and effective_from")
    if "effective_from" in table:
        effective = parse_time_ms(table["effective_from"], "effective_from")
    else:
        effective = parse_time_ms(table["effective_from_ms"], "effective_from_ms")
    mode = str(table.get("mode", "active")).lower()
    _check(mode in MODES, f"mode {mode!r} is not one of {', '.join(MODES)}")
    weights = {str(k): float(v) for k, v in dict(table.get("weights", DEFAULT_WEIGHTS)).items()}
    limits_table = dict(table.get("limits", {}))
    unknown_limits = sorted(set(limits_table) - set(LIMIT_DEFAULTS))
    _check(not unknown_limits, f"unknown limit(s) {', '.join(unknown_limits)}; known: {', '.join(LIMIT_DEFAULTS)}")
    limits = {**LIMIT_DEFAULTS, **limits_table}
    msg = fraud_pb2.FraudRuleSet(
        version=int(table["version"]), effective_from_ms=effective,
        mode=fraud_pb2.ACTIVE if mode == "active" else fraud_pb2.SHADOW, weights=weights,
        alert_threshold=float(table.get("alert_threshold", FraudModel.alert_threshold)),
        high_risk_merchant_categories=sorted(table.get("high_risk_merchant_categories",
                                                       FraudModel.high_risk_mcc)),
        limits=fraud_pb2.FraudLimits(
            small_amount_minor=int(limits["small_amount_minor"]), max_speed_kmh=float(limits["max_speed_kmh"]),
            min_travel_km=float(limits["min_travel_km"]), min_history=int(limits["min_history"]),
            reason_min_contribution=float(limits["reason_min_contribution"])),
        enabled_signals=list(table.get("enabled_signals", [s for s in SIGNALS if s in weights])),
        description=str(table.get("description", "")))
    for i, seg in enumerate(table.get("segments", [])):
        unknown_seg = sorted(set(seg) - set(SEGMENT_KEYS))
        _check(not unknown_seg, f"segment {i + 1}: unknown key(s) {', '.join(unknown_seg)}; "
                                f"known: {', '.join(SEGMENT_KEYS)}")
        rule = msg.segments.add(country=str(seg.get("country", "")),
                                merchant_category=str(seg.get("merchant_category", "")),
                                weights={str(k): float(v) for k, v in dict(seg.get("weights", {})).items()})
        if "alert_threshold" in seg:
            rule.alert_threshold = float(seg["alert_threshold"])
    RuleSet.from_message(msg)
    return msg


def describe(rules: RuleSet) -> dict[str, Any]:
    """A rule set as plain values (what `streamsuite rules show` prints)."""
    m = rules.model
    return {
        "version": rules.version, "mode": rules.mode, "effective_from_ms": rules.effective_from_ms,
        "description": rules.description, "alert_threshold": m.alert_threshold, "weights": dict(m.weights),
        "high_risk_merchant_categories": sorted(m.high_risk_mcc),
        "limits": {"small_amount_minor": m.small_amount_minor, "max_speed_kmh": m.max_speed_kmh,
                   "min_travel_km": m.min_travel_km, "min_history": m.min_history,
                   "reason_min_contribution": m.reason_min_contribution},
        "segments": [{"country": s.country, "merchant_category": s.merchant_category,
                      "alert_threshold": s.model.alert_threshold, "weights": dict(s.model.weights)}
                     for s in rules.segments],
    }
