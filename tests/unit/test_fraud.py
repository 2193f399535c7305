"""Fraud features and score without a JVM, including the awkward edges."""
import pytest

from udfs.fraud import (CardProfile, FraudModel, FraudScorer, Transaction, alert_hot_record, card_hot_record,
                        haversine_km)

T0 = 1_767_225_600_000
BERLIN = (52.52, 13.40)
NEW_YORK = (40.71, -74.01)


def tx(seq, t_ms, amount=2500, merchant="m-1", mcc="5411", country="DE", where=BERLIN, card="c-1"):
    return Transaction(f"{card}-{seq}", card, t_ms, seq, amount, merchant, mcc, country, *where)


def run(scorer, txs, profile=None):
    profile = profile or CardProfile()
    out = []
    for t in txs:
        scored, profile = scorer.score(t, profile)
        out.append(scored)
    return out, profile


def test_first_transaction_of_a_card_is_quiet():
    scored, profile = FraudScorer().score(tx(1, T0), CardProfile())
    assert scored.score == 0.0 and scored.reasons == ()
    assert scored.features["history"] == 0 and scored.features["travel_km"] == 0
    assert scored.version == 1 and profile.seen == 1


def test_zero_variance_history_does_not_divide_by_zero():
    scorer = FraudScorer()
    history = [tx(i, T0 + i * 3 * 3600_000) for i in range(1, 8)]
    out, profile = run(scorer, history)
    assert profile.log_m2 == 0.0
    same, _ = scorer.score(tx(8, T0 + 30 * 3600_000), profile)
    assert same.features["amount_z"] == 0.0
    spike, _ = scorer.score(tx(8, T0 + 30 * 3600_000, amount=250_000), profile)
    assert spike.features["amount_z"] > 3 and "amount_spike" in spike.reasons


def test_card_testing_burst_alerts():
    scorer = FraudScorer()
    _, profile = run(scorer, [tx(i, T0 + i * 7200_000) for i in range(1, 6)])
    burst = [tx(5 + i, T0 + 20 * 3600_000 + i * 5_000, amount=100 + i, merchant=f"web-{i}") for i in range(1, 7)]
    out, profile = run(scorer, burst, profile)
    assert out[-1].features["small_amounts_10m"] == 6
    assert out[-1].features["velocity_1m"] == 6
    assert scorer.is_alert(out[-1])
    assert out[-1].reasons[0] == "card_testing"
    # the cardholder's next purchase, an ordinary amount, is not a test however many came before
    after, _ = scorer.score(tx(12, T0 + 20 * 3600_000 + 40_000, amount=2500, merchant="m-1"), profile)
    assert after.features["small_amounts_10m"] == 6 and after.features["small_amount"] == 0.0
    assert "card_testing" not in after.reasons


def test_impossible_travel():
    scorer = FraudScorer()
    _, profile = run(scorer, [tx(i, T0 + i * 7200_000) for i in range(1, 5)])
    jump, _ = scorer.score(tx(5, T0 + 4 * 7200_000 + 30 * 60_000, country="US", where=NEW_YORK), profile)
    assert jump.features["travel_km"] == pytest.approx(haversine_km(*BERLIN, *NEW_YORK), rel=1e-6)
    assert jump.features["travel_speed_kmh"] > 10_000
    assert "impossible_travel" in jump.reasons and scorer.is_alert(jump)


def test_the_way_back_from_a_jump_abroad_is_not_a_second_jump():
    """Someone uses the card in New York; the cardholder buys at home in Berlin 20 minutes later."""
    scorer = FraudScorer()
    _, profile = run(scorer, [tx(i, T0 + i * 7200_000) for i in range(1, 5)])
    t = T0 + 4 * 7200_000
    jump, profile = scorer.score(tx(5, t + 30 * 60_000, country="US", where=NEW_YORK), profile)
    back, profile = scorer.score(tx(6, t + 50 * 60_000), profile)
    assert "impossible_travel" in jump.reasons
    assert back.features["returning_country"] == 1.0 and back.features["travel_speed_kmh"] > 10_000
    assert "impossible_travel" not in back.reasons and not scorer.is_alert(back)
    # within one country a jump is a jump, wherever the card was before
    san_francisco = (37.77, -122.42)
    domestic, _ = scorer.score(tx(7, t + 60 * 60_000, country="DE", where=san_francisco), profile)
    assert domestic.features["returning_country"] == 0.0 and "impossible_travel" in domestic.reasons


def test_same_timestamp_and_clock_going_backwards():
    scorer = FraudScorer()
    _, profile = run(scorer, [tx(1, T0 + 600_000)])
    same, p2 = scorer.score(tx(2, T0 + 600_000), profile)
    assert same.features["velocity_1m"] == 2 and same.features["travel_speed_kmh"] == 0
    back, p3 = scorer.score(tx(3, T0, where=NEW_YORK, country="US"), p2)
    # windows end at the newest time seen, so the older event still counts the two before it
    assert back.features["velocity_1h"] == 3
    assert back.features["travel_speed_kmh"] == pytest.approx(back.features["travel_km"] / (10 / 60), rel=1e-6)
    assert p3.max_time_ms == T0 + 600_000


def test_new_high_risk_merchant():
    scorer = FraudScorer()
    _, profile = run(scorer, [tx(i, T0 + i * 7200_000) for i in range(1, 5)])
    casino, _ = scorer.score(tx(5, T0 + 10 * 7200_000, merchant="casino-9", mcc="7995"), profile)
    assert casino.reasons[0] == "new_high_risk_merchant"
    _, known = run(scorer, [tx(5, T0 + 10 * 7200_000, merchant="casino-9", mcc="7995")], profile)
    again, _ = scorer.score(tx(6, T0 + 11 * 7200_000, merchant="casino-9", mcc="7995"), known)
    assert "new_high_risk_merchant" not in again.reasons


def test_profile_round_trips_exactly_and_stays_small():
    scorer = FraudScorer()
    txs = [tx(i, T0 + i * 40_000, amount=1000 + 37 * i, merchant=f"m-{i}", country=("DE", "FR", "NL")[i % 3])
           for i in range(1, 200)]
    _, profile = run(scorer, txs)
    assert CardProfile.from_json(profile.to_json()) == profile
    assert len(profile.to_json()) < 1024
    assert CardProfile.from_json(None) == CardProfile()


def test_scores_are_deterministic_and_in_range():
    scorer = FraudScorer()
    txs = [tx(i, T0 + i * 20_000, amount=50 + (i * 7919) % 90_000) for i in range(1, 60)]
    a, _ = run(scorer, txs)
    b, _ = run(scorer, txs)
    assert a == b
    assert all(0.0 <= s.score <= 1.0 for s in a)
    assert [s.version for s in a] == list(range(1, 60))


def test_model_config_is_validated():
    with pytest.raises(ValueError, match="unknown fraud signal"):
        FraudModel(weights={"velocity_2m": 0.5})
    with pytest.raises(ValueError, match="must be in"):
        FraudModel(weights={"velocity_1m": 1.5})
    with pytest.raises(ValueError, match="threshold"):
        FraudModel(alert_threshold=0)


def test_hot_records():
    scored, _ = FraudScorer().score(tx(1, T0), CardProfile())
    card = card_hot_record(scored, "fraud", now_ms=5)
    assert card.key == "fraud:card:c-1" and card.version == 1 and card.fields["updated_at_ms"] == 5
    alert = alert_hot_record(scored, "fraud")
    assert alert.key == "fraud:alert:c-1:1" and alert.index_key == "fraud:alerts"
    assert alert.index_score == T0 and alert.index_member == "c-1:1"
