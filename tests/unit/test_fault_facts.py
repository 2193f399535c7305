"""The fault harness's per-job facts without a cluster: Redis as the hot sink leaves it, the dead
letters the generator implies, the end markers and the oracles they end."""
from collections import Counter

import pytest

from jobs.specs import EVENT_TYPES
from streamsuite.generator import generate
from tests.faults.facts import (END_MARKER_AHEAD_MS, JOB_FACTS, OUT_OF_ORDERNESS_MS, generated_inventory_windows,
                                generated_maintenance_windows, generator_dead_letters, inventory_windows_check,
                                machine_hot_check, maintenance_windows_check, redis_after, valid_per_key)
from udfs.codec import DecodeError
from udfs.hot import HotRecord


def test_redis_after_applies_only_newer_versions_and_keeps_fields_a_later_write_does_not_name():
    records = [HotRecord("a", 1, {"active": 1, "raised_ms": 5}, index_key="feed", index_score=5.0, index_member="a"),
               HotRecord("a", 3, {"active": 0, "cleared_ms": 9}, index_key="feed", index_score=0.0, index_member="a"),
               HotRecord("a", 2, {"active": 1, "raised_ms": 7}, index_key="feed", index_score=7.0, index_member="a"),
               HotRecord("b", 1, {"x": 0.5, "s": "text"})]
    hashes, indexes = redis_after(records)
    assert hashes == {"a": {"version": "3", "active": "0", "raised_ms": "5", "cleared_ms": "9"},
                      "b": {"version": "1", "x": "0.5", "s": "text"}}
    assert indexes == {"feed": {"a": 0.0}}


def test_generator_facts_count_valid_events_per_key_and_name_the_dead_letters():
    stream = generate("inventory", count=2000, keys=20, seed=2, poison=7, late=10)
    made = valid_per_key(stream.records, stream.labels)
    assert sum(made.values()) == 2000 and len(made) == stream.truth["counts"]["keys"]
    letters = generator_dead_letters(stream)
    late = {e["event_id"] for e in stream.truth["late_edge"] if e["late"]}
    parse = EVENT_TYPES["InventoryMovement"].parse
    ids = []
    for value in letters:
        try:
            ids.append(parse(value).event_id)
        except DecodeError:
            ids.append("poison")
    assert Counter(ids) == Counter({"poison": 7, **{i: 1 for i in late}}) and len(late) == 5


@pytest.mark.parametrize("job", ["inventory", "maintenance"])
def test_end_markers_end_every_timer_and_the_oracle_agrees_with_the_generator(job):
    """One marker per partition, a day past the newest event: every timer of the input is due by the
    watermark they make, so the oracle of an unbounded run holds no open window or reservation."""
    facts = JOB_FACTS[job]()
    stream = facts.stream(count=4000, keys=30, poison=6, seed=3)
    newest = max(stream.times_ms)
    markers = facts.end_markers(newest, 4)
    assert [p for _, _, _, p in markers] == [0, 1, 2, 3]
    assert {t for _, _, t, _ in markers} == {newest + END_MARKER_AHEAD_MS}
    event_type = EVENT_TYPES[stream.truth["event_type"]]
    for key, value, _, _ in markers:
        assert event_type.key(event_type.parse(value)).encode() == key
    records = stream.records + [(k, v) for k, v, _, _ in markers]
    end = newest + END_MARKER_AHEAD_MS - OUT_OF_ORDERNESS_MS - 1
    ended = facts.expect(records, "p", end, [])
    assert sorted(ended.poison + ended.late) == sorted(generator_dead_letters(stream))
    assert ended.entity_versions and all(v > 0 for v in ended.entity_versions.values())
    # the markers add no output of their own, so the run's outputs are those of a bounded run
    bounded = facts.expect(stream.records, "p", 2**63 - 1, [])
    assert ended.cold == bounded.cold and ended.entity_versions == bounded.entity_versions


def _windows_check(job):
    if job == "inventory":
        return lambda rows, stream: inventory_windows_check(rows, stream, "s3")
    return maintenance_windows_check


@pytest.mark.parametrize("job, table", [("inventory", "windows"), ("maintenance", "features")])
def test_the_oracles_window_rows_count_what_the_generator_made(job, table):
    """The domain-independent window counts hold for the oracle's own rows, and see a row missing, a row
    twice, a count one off and a row of a window the generator put nothing in."""
    facts, check = JOB_FACTS[job](), _windows_check(job)
    stream = facts.stream(count=4000, keys=30, poison=6, seed=3)
    columns, rows = facts.expect(stream.records, "p", 2**63 - 1, []).cold[table]
    as_dicts = [dict(zip(columns, row)) for row in rows.elements()]
    assert check(as_dicts, stream).ok
    count = "sales_count" if job == "inventory" else "readings"
    i = next(i for i, row in enumerate(as_dicts) if row[count] > 0)
    assert not check(as_dicts[:i] + as_dicts[i + 1:], stream).ok
    assert not check(as_dicts + [as_dicts[i]], stream).ok
    assert not check(as_dicts[:i] + [{**as_dicts[i], count: as_dicts[i][count] + 1}] + as_dicts[i + 1:], stream).ok
    start = max(row["window_start_ms"] for row in as_dicts) + 10 * 86_400_000
    assert not check(as_dicts + [{**as_dicts[i], "window_start_ms": start}], stream).ok


def test_the_generator_facts_use_its_labels_not_the_domain_code():
    """Late events and re-sent copies are what the labels say: inventory counts each id once and no late
    one; so does maintenance, per sliding window."""
    stream = generate("inventory", count=3000, keys=20, seed=5, poison=4, late=30, rate=20.0)
    made = generated_inventory_windows(stream)
    labels = [label for label in stream.labels if label.kind == "event" and "late" not in label.tags]
    assert sum(w[1] for w in made.values()) == sum("sale" in label.tags for label in labels)
    assert any(label.kind == "duplicate" for label in stream.labels)
    stream = generate("maintenance", count=3000, keys=20, seed=5, poison=4, late=30, resend=30)
    per_reading = 300_000 // 60_000  # every reading is in 5 sliding windows
    made = generated_maintenance_windows(stream)
    assert sum(made.values()) == per_reading * sum(label.kind == "event" and "late" not in label.tags
                                                   for label in stream.labels)
    assert any(label.kind == "duplicate" for label in stream.labels)


def test_the_machine_hot_records_of_the_oracle_count_the_generated_windows():
    """The hot health record's version and last window end, as the hot sink leaves them, against the
    generator's windows; one version off or a missing record fails."""
    facts = JOB_FACTS["maintenance"]()
    stream = facts.stream(count=4000, keys=30, poison=6, seed=3)
    hashes = facts.expect(stream.records, "p", 2**63 - 1, []).hashes
    machines = {k: v for k, v in hashes.items() if k.startswith("p:machine:")}
    assert machine_hot_check(machines, "p", stream).ok
    key = sorted(machines)[0]
    one_off = {**machines[key], "version": str(int(machines[key]["version"]) - 1)}
    assert not machine_hot_check({**machines, key: one_off}, "p", stream).ok
    assert not machine_hot_check({k: v for k, v in machines.items() if k != key}, "p", stream).ok


def test_the_hot_window_hashes_of_the_oracle_count_the_generated_events():
    facts = JOB_FACTS["inventory"]()
    stream = facts.stream(count=4000, keys=30, poison=6, seed=3)
    hashes = facts.expect(stream.records, "p", 2**63 - 1, []).hashes
    windows = [v for k, v in hashes.items() if k.startswith("p:window:")]
    assert windows and inventory_windows_check(windows, stream, "redis").ok
    assert not inventory_windows_check(windows[1:], stream, "redis").ok
