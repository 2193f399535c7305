"""The fraud quality report over a small cold table whose numbers are known by hand."""
import pyarrow as pa

from streamsuite.report import measure, markdown

# id, score, alert, reasons, rules_version, shadow_rules_version, shadow_alert
ROWS = [
    ("t1", 0.95, True, "card_testing,velocity_1m", 1, -1, False),
    ("t2", 0.91, True, "card_testing", 1, -1, False),
    ("t3", 0.85, True, "impossible_travel", 2, 3, True),
    ("t4", 0.40, False, "amount_spike", 2, 3, True),
    ("t5", 0.88, True, "card_testing", 2, 3, False),
    ("t6", 0.10, False, "", 2, 3, False),
    ("t7", 0.02, False, "", 1, -1, False),
    ("t8", 0.80, True, "velocity_1h,new_country", 1, -1, False),
    ("t9", 0.75, True, "velocity_1m", 2, 3, False),
]
LABELS = {"t1": "card_testing", "t2": "card_testing", "t3": "impossible_travel", "t4": "amount_spike",
          "t8": "velocity"}


def table():
    columns = list(zip(*ROWS))
    names = ["transaction_id", "score", "alert", "reasons", "rules_version", "shadow_rules_version", "shadow_alert"]
    return pa.table(dict(zip(names, columns)))


def test_numbers_per_version_pattern_and_threshold():
    q = measure(table(), LABELS)
    assert (q.transactions, q.frauds) == (9, 5)
    assert q.by_version == [("version 1", 4, 3, 3, 3), ("version 2", 5, 2, 3, 1)]
    assert q.by_shadow_version == [("shadow version 3", 5, 2, 2, 2)]
    assert q.by_pattern == [("amount_spike", 1, 0, 0, 0), ("card_testing", 2, 2, 3, 2),
                            ("impossible_travel", 1, 1, 1, 1), ("velocity", 1, 1, 2, 1)]
    assert q.decisions() == (6, 4)
    curve = dict((t, (alerts, tp)) for t, alerts, tp in q.curve)
    assert curve[0.75] == (6, 4) and curve[0.4] == (7, 5) and curve[0.9] == (2, 2) and curve[0.85] == (4, 3) and curve[1.0] == (0, 0)
    assert dict((b, (legit, fraud)) for b, legit, fraud in q.histogram) == {
        0.0: (1, 0), 0.1: (1, 0), 0.4: (0, 1), 0.75: (1, 0), 0.8: (0, 1), 0.85: (1, 1), 0.9: (0, 2)}
    assert not q.target_met(), "precision 0.667 at recall 0.8"
    assert q.thresholds_meeting_target() == []


def test_markdown_states_the_target_and_the_tables():
    text = markdown(measure(table(), LABELS), "bucket/run/scores", "fraud-report.png")
    assert "on the job's own alerts: **not met** (precision 0.667, recall 0.800)" in text
    assert "| version 1 | 4 | 3 | 3 | 0.750 | 1.000 | 1.000 |" in text
    assert "| shadow version 3 | 5 | 2 | 2 | 0.400 | 1.000 | 1.000 |" in text
    assert "| card_testing | 2 | 2 | 1.000 | 3 | 0.667 |" in text
    assert "| velocity | 1 | 1 | 1.000 | 2 | 0.500 |" in text, "velocity_1m and velocity_1h both name it"
    assert "![score distributions and threshold curve](fraud-report.png)" in text
