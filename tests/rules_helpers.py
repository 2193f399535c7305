"""Rules records for tests: two active versions that score differently, and horizons."""
from __future__ import annotations

from jobs.specs import EVENT_TYPES
from udfs.codec import DecodeError
from udfs.fraud import DEFAULT_WEIGHTS
from udfs.fraud_rules import horizon_update, rule_set_message, rule_set_update


def event_times(stream) -> list[int]:
    """The event times of a generated fraud stream's valid transactions, ascending."""
    times = []
    for _, value in stream.records:
        try:
            times.append(EVENT_TYPES["CardTransaction"].parse(value).event_time_ms)
        except DecodeError:
            pass
    return sorted(times)


def rule_set(table: dict) -> bytes:
    return rule_set_update(rule_set_message(table))


def horizon(until_ms: int) -> bytes:
    return horizon_update(until_ms)


def version_1(effective_from_ms: int) -> bytes:
    return rule_set({"version": 1, "effective_from_ms": effective_from_ms, "alert_threshold": 0.7,
                     "segments": [{"country": "US", "alert_threshold": 0.6}]})


def version_2(effective_from_ms: int) -> bytes:
    return rule_set({"version": 2, "effective_from_ms": effective_from_ms, "alert_threshold": 0.55,
                     "weights": {**DEFAULT_WEIGHTS, "card_testing": 0.95, "new_country": 0.5, "velocity_1m": 0.7},
                     "high_risk_merchant_categories": ["4829", "5967", "5999", "6051", "7995"],
                     "limits": {"min_history": 3}})


def two_versions(times: list[int]) -> list[bytes]:
    """Version 1 from the first transaction with a horizon at the middle, then version 2 from the
    middle with a horizon past the last: the first two records before the job starts, the rest later."""
    first, middle = times[0], times[len(times) // 2]
    return [version_1(first), horizon(middle), version_2(middle), horizon(times[-1] + 1)]
