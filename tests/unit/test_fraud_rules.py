"""Rule sets, the rule book and holding transactions until their rules are known, without a JVM."""
import pytest

from streamsuite_proto.v1 import fraud_pb2
from udfs.fraud import DEFAULT_WEIGHTS, CardProfile, FraudModel, FraudScorer, Transaction
from udfs.fraud_rules import (NO_HORIZON, InvalidRuleSet, RuleBook, RuleSet, RuleSetCache, RuleSetScorer, hold,
                              parse_time_ms, release, rule_set_message)

T0 = 1_704_067_200_000
STARTUP = RuleSet.startup(FraudModel())


def rules(version, effective_from_ms, **more):
    return RuleSet.from_message(rule_set_message({"version": version, "effective_from_ms": effective_from_ms,
                                                  **more}))


def update(msg=None, horizon=None) -> bytes:
    if horizon is not None:
        return fraud_pb2.FraudRulesUpdate(horizon=fraud_pb2.RulesHorizon(until_ms=horizon)).SerializeToString()
    return fraud_pb2.FraudRulesUpdate(rule_set=msg).SerializeToString()


def tx(seq, t_ms, amount=2500, mcc="5411", country="DE", card="c-1"):
    return Transaction(f"{card}-{seq}", card, t_ms, seq, amount, "m-1", mcc, country, 52.52, 13.40)


def test_toml_form_becomes_a_valid_message_with_default_limits():
    msg = rule_set_message({"version": 3, "effective_from": "2024-01-01T06:00:00Z", "mode": "shadow",
                            "weights": {"card_testing": 0.9, "velocity_1m": 0.4}, "alert_threshold": 0.6,
                            "segments": [{"country": "NG", "alert_threshold": 0.5}]})
    assert msg.version == 3 and msg.effective_from_ms == T0 + 6 * 3_600_000 and msg.mode == fraud_pb2.SHADOW
    assert list(msg.enabled_signals) == ["velocity_1m", "card_testing"]
    assert msg.limits.small_amount_minor == 300 and msg.limits.min_history == 5
    rule_set = RuleSet.from_message(msg)
    assert rule_set.model.weights == {"velocity_1m": 0.4, "card_testing": 0.9}
    assert rule_set.segments[0].model.alert_threshold == 0.5
    assert rule_set.segments[0].model.weights == rule_set.model.weights


@pytest.mark.parametrize("table, reason", [
    ({"version": 0, "effective_from_ms": T0}, "version 0 is not 1 or more"),
    ({"version": 1, "effective_from_ms": T0, "weights": {"velocity_9m": 0.1}}, "unknown signal 'velocity_9m'"),
    ({"version": 1, "effective_from_ms": T0, "weights": {"velocity_1m": 1.5}}, "weight of velocity_1m is 1.5"),
    ({"version": 1, "effective_from_ms": T0, "alert_threshold": 0}, "alert threshold 0.0 is not in (0, 1]"),
    ({"version": 1, "effective_from_ms": T0, "enabled_signals": ["card_testing"], "weights": {"velocity_1m": 0.2}},
     "enabled signal card_testing has no weight"),
    ({"version": 1, "effective_from_ms": T0, "limits": {"min_history": 1}}, "limits.min_history must be 2 or more"),
    ({"version": 1, "effective_from_ms": T0, "segments": [{"alert_threshold": 0.5}]},
     "segment 1: names no country and no merchant category"),
    ({"version": 1, "effective_from_ms": T0, "segments": [{"country": "DEU"}]}, "country 'DEU' is not a 2-letter"),
    ({"version": 1, "effective_from_ms": T0, "mode": "dry-run"}, "mode 'dry-run' is not one of active, shadow"),
    ({"version": 1, "effective_from_ms": T0, "thresholds": 1}, "unknown rule set key(s) thresholds"),
    ({"version": 1}, "give exactly one of effective_from_ms and effective_from"),
])
def test_invalid_rule_sets_are_refused_with_their_reason(table, reason):
    with pytest.raises(InvalidRuleSet) as exc:
        rule_set_message(table)
    assert reason in str(exc.value)


def test_the_version_in_force_is_the_latest_effective_at_the_event_time():
    book = RuleBook(STARTUP)
    book.accept(rules(1, T0))
    book.accept(rules(2, T0 + 1000))
    assert book.in_force(T0 - 1).version == 0
    assert book.in_force(T0).version == 1
    assert book.in_force(T0 + 999).version == 1
    assert book.in_force(T0 + 1000).version == 2
    assert book.in_force(T0 + 10**9).version == 2


def test_the_horizon_says_what_is_known_and_refuses_rule_sets_before_it():
    book = RuleBook(STARTUP)
    assert book.horizon_ms == NO_HORIZON and not book.knows(T0)
    assert book.apply(update(horizon=T0 + 500)) == f"horizon {T0 + 500} ms"
    assert book.knows(T0 + 499) and not book.knows(T0 + 500)
    with pytest.raises(InvalidRuleSet, match="before the rules horizon"):
        book.apply(update(rule_set_message({"version": 1, "effective_from_ms": T0 + 499})))
    assert book.latest_version == 0, "a refused rule set leaves the book as it was"
    book.apply(update(rule_set_message({"version": 1, "effective_from_ms": T0 + 500})))
    assert book.horizon_ms == T0 + 500 and not book.knows(T0 + 500)
    with pytest.raises(InvalidRuleSet, match="rule set 1 is not newer than version 1"):
        book.apply(update(rule_set_message({"version": 1, "effective_from_ms": T0 + 900})))
    with pytest.raises(InvalidRuleSet, match="not a FraudRulesUpdate"):
        book.apply(b"\x08\x96\x01\xff")
    book.apply(update(horizon=T0))
    assert book.horizon_ms == T0 + 500, "a horizon never moves back"


def test_shadow_scores_until_an_active_version_replaces_it():
    book = RuleBook(STARTUP)
    book.accept(rules(1, T0))
    book.accept(rules(2, T0 + 100, mode="shadow"))
    book.accept(rules(3, T0 + 200))
    assert book.shadow_in_force(T0 + 50) is None
    assert book.shadow_in_force(T0 + 150).version == 2 and book.in_force(T0 + 150).version == 1
    assert book.shadow_in_force(T0 + 200) is None and book.in_force(T0 + 200).version == 3


def test_the_book_survives_its_state_encoding():
    book = RuleBook(STARTUP)
    book.accept(rules(1, T0, alert_threshold=0.6))
    book.accept(rules(2, T0 + 100, mode="shadow"))
    book.extend(T0 + 400)
    again = RuleBook.from_json(book.to_json(), STARTUP)
    assert again.horizon_ms == T0 + 400
    assert [r.version for r in again.active] == [1] and [r.version for r in again.shadow] == [2]
    assert again.in_force(T0).model == book.in_force(T0).model
    assert RuleBook.from_json(None, STARTUP).horizon_ms == NO_HORIZON


def test_held_transactions_leave_in_arrival_order_once_their_rules_are_known():
    book = RuleBook(STARTUP)
    book.extend(T0 + 100)
    released, held = hold(book, [], ("c", T0 + 50, b"a"))
    assert (released, held) == ([("c", T0 + 50, b"a")], [])
    released, held = hold(book, held, ("c", T0 + 150, b"b"))
    assert (released, held) == ([], [("c", T0 + 150, b"b")])
    released, held = hold(book, held, ("c", T0 + 60, b"c"))
    assert (released, held) == ([], [("c", T0 + 150, b"b"), ("c", T0 + 60, b"c")]), "nothing overtakes a held one"
    book.extend(T0 + 151)
    released, held = hold(book, held, ("c", T0 + 300, b"d"))
    assert released == [("c", T0 + 150, b"b"), ("c", T0 + 60, b"c")] and held == [("c", T0 + 300, b"d")]
    assert release(book, held, end_of_input=False) == ([], held)
    assert release(book, held, end_of_input=True) == (held, [])


def test_each_version_and_segment_scores_with_its_own_weights():
    burst = [tx(i, T0 + i * 5_000, amount=100 + i) for i in range(1, 7)]
    strict = rules(1, T0, weights={**DEFAULT_WEIGHTS, "card_testing": 0.95}, alert_threshold=0.9)
    lenient = rules(2, T0, weights={**DEFAULT_WEIGHTS, "card_testing": 0.2}, alert_threshold=0.9,
                    segments=[{"country": "NG", "weights": {"card_testing": 0.9}, "alert_threshold": 0.5}])
    scoring = RuleSetScorer()
    profile = CardProfile()
    for t in burst:
        scored, alert, shadow, shadow_alert, profile = scoring.score(t, profile, strict, lenient)
    reference, reference_profile = CardProfile(), CardProfile()
    for t in burst:
        expected, reference_profile = FraudScorer(strict.model, 1).score(t, reference_profile)
    assert (scored.score, scored.rules_version) == (expected.score, 1)
    assert alert is (expected.score >= 0.9) and profile == reference_profile
    assert shadow.rules_version == 2 and shadow.score < scored.score and not shadow_alert
    in_nigeria = tx(7, T0 + 40_000, amount=101, country="NG")
    _, _, shadow_ng, shadow_ng_alert, _ = scoring.score(in_nigeria, profile, strict, lenient)
    expected_ng, _ = FraudScorer(lenient.segments[0].model, 2).score(in_nigeria, profile)
    assert shadow_ng.score == expected_ng.score and shadow_ng_alert is (expected_ng.score >= 0.5)


def test_rule_sets_travel_as_their_bytes():
    cache = RuleSetCache(STARTUP)
    one = rules(1, T0, alert_threshold=0.65)
    assert cache.get(b"") is STARTUP
    assert cache.get(one.raw).model == one.model and cache.get(one.raw) is cache.get(bytes(one.raw))


def test_times_in_toml_are_milliseconds_or_utc():
    assert parse_time_ms(T0, "t") == T0
    assert parse_time_ms("2024-01-01T00:00:00.250Z", "t") == T0 + 250
    with pytest.raises(InvalidRuleSet, match="is not milliseconds nor a time"):
        parse_time_ms("yesterday", "t")


def test_the_example_rule_set_file_is_valid():
    import tomllib

    from jobs.paths import project_root

    table = tomllib.loads((project_root() / "deploy" / "rules" / "fraud-example.toml").read_text())
    example = RuleSet.from_message(rule_set_message(table))
    assert (example.version, example.effective_from_ms, example.mode) == (1, T0, "active")
    assert example.model.weights == dict(DEFAULT_WEIGHTS)
    assert example.model_for(tx(1, T0, mcc="7995")).alert_threshold == 0.6
    assert example.model_for(tx(1, T0)).alert_threshold == 0.7
