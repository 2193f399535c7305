"""The generator's promises: reproducible bytes, exact counts, labels that match the data,
and poison that the decoder rejects one for one. No Kafka, no JVM."""
from __future__ import annotations

import argparse
import json
import math
import socket
from collections import defaultdict
from functools import lru_cache

import pytest

from jobs.specs import EVENT_TYPES, JOBS
from streamsuite import generator
from streamsuite.generator import EventStream, generate, read_records
from streamsuite.generator.base import DEFAULT_START_TIME_MS, POISON_KINDS
from streamsuite.generator.domains import GENERATORS
from streamsuite.generator.fraud import (
    CARD_TESTING_MAX_MINOR, HIGH_RISK_CATEGORIES, LEGIT_MIN_MINOR, TAKEOVER_WINDOW_MS, VELOCITY_WINDOW_MS, haversine_km,
)
from streamsuite.generator.maintenance import IMPOSSIBLE_VALUES
from streamsuite_proto.v1 import fraud_pb2, inventory_pb2
from udfs import codec
from udfs.codec import DecodeError
from udfs.maintenance_records import SENSORS

COUNT = 3000
POISON = 40
KEYS = {"fraud": 150, "inventory": 120, "maintenance": 30}
RATES = {"fraud": 20.0, "inventory": 50.0, "maintenance": 20.0}


@lru_cache(maxsize=None)
def stream(domain: str, framing: str = "raw", seed: int = 7, poison: int = POISON) -> generator.GeneratedStream:
    return generate(domain, count=COUNT, keys=KEYS[domain], rate=RATES[domain], seed=seed, poison=poison,
                    framing=framing, schema_id=9)


def parse_all(generated: generator.GeneratedStream) -> tuple[list, list[int]]:
    """(parsed events in stream order as (index, key, event, label), indexes that failed)."""
    event_type = EVENT_TYPES[generated.truth["event_type"]]
    events, failed = [], []
    for index, ((key, value), label) in enumerate(zip(generated.records, generated.labels)):
        try:
            events.append((index, key, event_type.parse(value), label))
        except DecodeError:
            failed.append(index)
    return events, failed


def event_key(event) -> bytes:
    return EVENT_TYPES[event.DESCRIPTOR.name].key(event).encode()


@pytest.mark.parametrize("domain", sorted(JOBS))
def test_same_seed_gives_identical_bytes_and_truth(domain):
    again = generate(domain, count=COUNT, keys=KEYS[domain], rate=RATES[domain], seed=7, poison=POISON,
                     framing="raw", schema_id=9)
    assert again.records == stream(domain).records
    assert json.dumps(again.truth) == json.dumps(stream(domain).truth)


@pytest.mark.parametrize("domain", sorted(JOBS))
def test_different_seed_differs(domain):
    assert stream(domain, seed=8).records != stream(domain).records


@pytest.mark.parametrize("domain", sorted(JOBS))
def test_valid_events_do_not_depend_on_poison(domain):
    clean = stream(domain, poison=0).records
    mixed = [r for r, label in zip(stream(domain).records, stream(domain).labels) if label.kind != "poison"]
    assert clean == mixed


@pytest.mark.parametrize("framing", ["raw", "confluent"])
@pytest.mark.parametrize("domain", sorted(JOBS))
def test_counts_match_and_only_poison_fails(domain, framing):
    generated = stream(domain, framing)
    events, failed = parse_all(generated)
    counts = generated.truth["counts"]
    assert len(generated.records) == COUNT + POISON == counts["messages"]
    assert len(events) == COUNT == counts["valid_events"]
    assert len(failed) == POISON == counts["poison"]
    assert failed == generated.truth["poison_indexes"]
    assert [i for i, label in enumerate(generated.labels) if label.kind == "poison"] == failed
    assert set(counts["poison_by_kind"]) == set(POISON_KINDS)
    assert all(n == POISON // len(POISON_KINDS) for n in counts["poison_by_kind"].values())
    assert generated.truth["complete"] is True
    for _, key, event, _ in events:
        assert key == event_key(event)


@pytest.mark.parametrize("domain", sorted(JOBS))
def test_each_poison_kind_fails_for_its_reason(domain):
    expected = {"truncated_protobuf": {"invalid_protobuf"}, "empty": {"empty"},
                "truncated_header": {"truncated_frame"}, "wrong_message_index": {"wrong_message_type"},
                "foreign_message": {"missing_field", "out_of_range", "bad_field"},
                "missing_field": {"missing_field"}, "out_of_range": {"out_of_range", "bad_field"}}
    generated = stream(domain, "confluent")
    event_type = EVENT_TYPES[generated.truth["event_type"]]
    for entry in generated.truth["poison"]:
        with pytest.raises(DecodeError) as caught:
            event_type.parse(generated.records[entry["index"]][1])
        assert caught.value.reason == entry["reason"]
        assert entry["kind"] == "garbage" or entry["reason"] in expected[entry["kind"]], entry


@pytest.mark.parametrize("domain", sorted(JOBS))
def test_confluent_framing_carries_schema_id_and_index(domain):
    generated = stream(domain, "confluent")
    events, _ = parse_all(generated)
    for index, _, _, _ in events:
        header, _ = codec.unframe(generated.records[index][1])
        assert header == codec.Frame(9, (0,))
    raw_events, _ = parse_all(stream(domain, "raw"))
    assert [e[2] for e in events] == [e[2] for e in raw_events]


@pytest.mark.parametrize("domain", sorted(JOBS))
def test_per_key_sequences_count_from_one(domain):
    events, _ = parse_all(stream(domain))
    sequences = defaultdict(list)
    for _, key, event, label in events:
        if label.kind != "duplicate":
            sequences[key].append(event.sequence)
    assert len(sequences) == stream(domain).truth["counts"]["keys"]
    for key, seen in sequences.items():
        assert seen == list(range(1, len(seen) + 1)), key


def test_fraud_patterns_are_labelled_and_look_like_what_they_claim():
    generated = stream("fraud")
    events, _ = parse_all(generated)
    truth = generated.truth["labels"]
    labels = truth["labels"]
    for pattern, incidents in truth["incidents_by_pattern"].items():
        assert incidents >= 4, pattern
    assert truth["by_pattern"]["card_testing"] >= 8 * truth["incidents_by_pattern"]["card_testing"]
    assert 0.01 < len(labels) / COUNT < 0.15

    by_id = {e.transaction_id: e for _, _, e, _ in events}
    history = defaultdict(list)
    for _, _, tx, label in events:
        pattern = labels.get(tx.transaction_id)
        assert (label.tags == (pattern,)) if pattern else label.tags == ()
        past = history[tx.card_id]
        purchases = [p.amount_minor for p in past if p.transaction_id not in labels and p.channel != fraud_pb2.ATM]
        if pattern is None:
            assert tx.merchant_category not in HIGH_RISK_CATEGORIES
            assert tx.channel == fraud_pb2.ATM or tx.amount_minor >= LEGIT_MIN_MINOR
            home = next((p for p in past if p.transaction_id not in labels), tx)
            assert haversine_km(home.latitude, home.longitude, tx.latitude, tx.longitude) < 30, "legit stays home"
        elif pattern == "card_testing":
            assert tx.channel == fraud_pb2.ECOMMERCE
            assert tx.amount_minor <= CARD_TESTING_MAX_MINOR
        elif pattern == "amount_spike" and purchases:
            assert tx.amount_minor >= 2.5 * max(purchases)
        elif pattern == "new_high_risk_merchant":
            assert tx.merchant_category in HIGH_RISK_CATEGORIES
            assert tx.merchant_id not in {p.merchant_id for p in past}
        elif pattern == "velocity":
            assert tx.channel == fraud_pb2.CARD_PRESENT and tx.amount_minor >= LEGIT_MIN_MINOR
            assert haversine_km(past[0].latitude, past[0].longitude, tx.latitude, tx.longitude) < 30, "near home"
        elif pattern == "account_takeover":
            assert tx.channel == fraud_pb2.ECOMMERCE
            assert tx.country not in {p.country for p in past if p.transaction_id not in labels}
            if purchases:
                assert tx.amount_minor > min(purchases)
        elif pattern == "impossible_travel":
            assert tx.channel in (fraud_pb2.CARD_PRESENT, fraud_pb2.ATM)
            physical = [p for p in past if p.channel in (fraud_pb2.CARD_PRESENT, fraud_pb2.ATM)]
            before = physical[-1]
            distance = haversine_km(before.latitude, before.longitude, tx.latitude, tx.longitude)
            hours = (tx.event_time_ms - before.event_time_ms) / 3_600_000
            assert before.country != tx.country and distance >= 3000
            assert distance / max(hours, 1e-9) > 2000, "faster than an airliner"
        past.append(tx)

    for incident in truth["incidents"]:
        txs = [by_id[t] for t in incident["transaction_ids"]]
        assert {t.card_id for t in txs} == {incident["card_id"]}
        times = [t.event_time_ms for t in txs]
        if incident["pattern"] == "velocity":
            assert 6 <= len(txs) or not incident["complete"]
            assert max(times) - min(times) <= VELOCITY_WINDOW_MS[1]
        if incident["pattern"] == "account_takeover":
            assert {t.country for t in txs} == {incident["country"]}
            assert max(times) - min(times) <= TAKEOVER_WINDOW_MS[1]
        if incident["pattern"] == "card_testing":
            assert len(txs) >= 8 or not incident["complete"]
            assert len(txs) <= incident["planned_transactions"]
            assert txs[-1].event_time_ms - txs[0].event_time_ms <= 60_000


def test_fraud_stream_is_in_event_time_order():
    events, _ = parse_all(stream("fraud"))
    times = [e.event_time_ms for _, _, e, _ in events]
    assert times == sorted(times)
    assert times[0] >= DEFAULT_START_TIME_MS


def test_maintenance_truth_lists_degrading_faulty_and_silent_machines():
    generated = stream("maintenance")
    events, _ = parse_all(generated)
    truth = generated.truth["labels"]
    degrading, faulty, silent = truth["degrading"], truth["faulty"], truth["silent"]
    assert degrading and faulty and silent
    assert not (set(degrading) & set(faulty)) and not (set(degrading) & set(silent)) and not (set(faulty) & set(silent))
    readings = defaultdict(list)
    for _, _, reading, _ in events:
        readings[reading.machine_id].append(reading)
    last_time = max(r.event_time_ms for rs in readings.values() for r in rs)

    for machine, plan in degrading.items():
        series = readings[machine]
        assert plan["failed_in_stream"] and series[-1].event_time_ms == plan["last_event_ms"] <= plan["failure_ms"]
        (sensor, threshold), = plan["failure_thresholds"].items()
        assert getattr(series[0], sensor) < threshold <= max(getattr(r, sensor) for r in series)
        crossed = next(r for r in series if getattr(r, sensor) >= threshold)
        assert plan["onset_ms"] < crossed.event_time_ms == plan["threshold_crossed_ms"] <= plan["failure_ms"]
        assert plan["failure_ms"] < last_time

    for machine, faults in faulty.items():
        (fault,) = faults
        after = [r for r in readings[machine] if r.event_time_ms >= fault["from_ms"]]
        values = [getattr(r, fault["sensor"]) for r in after]
        assert fault["readings"] > 0
        if fault["kind"] == "stuck":
            assert values and set(values) == {fault["value"]}
        else:
            assert fault["value"] == IMPOSSIBLE_VALUES[fault["sensor"]]
            assert values.count(fault["value"]) == fault["readings"]

    for machine, plan in silent.items():
        assert readings[machine][-1].event_time_ms == plan["last_event_ms"] < plan["silent_from_ms"] < last_time

    period = truth["period_ms"]
    for machine, series in readings.items():
        gaps = {b.event_time_ms - a.event_time_ms for a, b in zip(series, series[1:])}
        assert gaps <= {math.floor(period), math.ceil(period)}, machine
        for r in series:
            assert any(r.HasField(s) for s in SENSORS)


def test_inventory_has_duplicates_out_of_order_and_unreleased_reservations():
    generated = stream("inventory")
    events, _ = parse_all(generated)
    truth = generated.truth["labels"]
    counts = generated.truth["counts"]
    assert counts["duplicates"] >= 10 and counts["out_of_order"] >= 10
    assert counts["duplicates"] == len(truth["duplicates"])

    first_copy, duplicate_ids = {}, []
    last_time, newest = {}, 0
    out_of_order = {}
    released, reserved = set(), []
    for index, key, movement, label in events:
        value = generated.records[index][1]
        if label.kind == "duplicate":
            assert first_copy[movement.event_id] == (key, value)
            duplicate_ids.append(movement.event_id)
            continue
        assert movement.event_id not in first_copy
        first_copy[movement.event_id] = (key, value)
        if key in last_time and movement.event_time_ms < last_time[key]:
            out_of_order[movement.event_id] = newest - movement.event_time_ms
        last_time[key] = max(last_time.get(key, 0), movement.event_time_ms)
        newest = max(newest, movement.event_time_ms)
        if movement.kind == inventory_pb2.RESERVATION:
            reserved.append(movement.reservation_id)
        elif movement.kind == inventory_pb2.RELEASE:
            assert movement.reservation_id in reserved and movement.reservation_id not in released
            released.add(movement.reservation_id)
    assert duplicate_ids == truth["duplicates"]
    assert out_of_order == {o["event_id"]: o["lateness_ms"] for o in truth["out_of_order"]}
    assert max(out_of_order.values()) <= truth["out_of_order_bound_ms"]
    assert truth["never_released"] == [r for r in reserved if r not in released]
    assert truth["reservations"]["abandoned_by_design"] > 0


def test_duration_bounds_event_time():
    generated = generate("maintenance", duration_s=60, rate=10, keys=10, poison=5)
    events, failed = parse_all(generated)
    assert len(failed) == 5
    times = [e.event_time_ms for _, _, e, _ in events]
    assert DEFAULT_START_TIME_MS <= min(times) and max(times) < DEFAULT_START_TIME_MS + 60_000
    assert 500 < len(events) <= 10 * 60, "one reading a second per machine, fewer once some stop"
    assert generated.truth["params"]["duration_s"] == 60


def test_bad_options_are_refused():
    for options in ({"count": 0}, {"count": 5, "duration_s": 5}, {"rate": 0}, {"keys": 0}, {"poison": -1},
                    {"framing": "json"}, {"start_time_ms": 0}):
        with pytest.raises(ValueError):
            EventStream("fraud", **options)
    with pytest.raises(ValueError):
        EventStream("weather")


def cli_args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="streamsuite generate")
    generator.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_file_output_round_trips_with_truth_next_to_it(tmp_path):
    path = tmp_path / "out" / "inventory.bin"
    args = cli_args("inventory", "--count", "500", "--keys", "40", "--seed", "3", "--poison", "16",
                    "--framing", "confluent", "--schema-id", "4", "--to-file", str(path), "--quiet")
    assert generator.run(args) == 0
    expected = generate("inventory", count=500, keys=40, seed=3, poison=16, framing="confluent", schema_id=4)
    assert list(read_records(path)) == expected.records
    truth = json.loads((tmp_path / "out" / "inventory.bin.truth.json").read_text())
    assert truth == json.loads(json.dumps(expected.truth))
    assert truth["counts"]["messages"] == 516
    assert not list(tmp_path.glob("out/*.partial"))


def test_file_format_is_length_prefixed(tmp_path):
    path = tmp_path / "two.bin"
    generator.write_records(path, [(b"k", b"\x01\x02"), (b"", b"")])
    assert path.read_bytes() == b"\x00\x00\x00\x01k\x00\x00\x00\x02\x01\x02" + b"\x00" * 8
    assert list(read_records(path)) == [(b"k", b"\x01\x02"), (b"", b"")]
    path.write_bytes(path.read_bytes()[:-3])
    with pytest.raises(ValueError):
        list(read_records(path))


def test_unreachable_broker_fails_with_one_line(tmp_path, capsys):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    args = cli_args("fraud", "--count", "10", "--topic", "t", "--bootstrap", f"127.0.0.1:{port}",
                    "--broker-timeout", "0.5", "--truth", str(tmp_path / "t.truth.json"), "--quiet")
    assert generator.run(args) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and f"cannot reach Kafka at 127.0.0.1:{port}" in err
    assert not (tmp_path / "t.truth.json").exists()


def test_cli_defaults_are_reproducible():
    args = cli_args("fraud", "--to-file", "x")
    assert (args.seed, args.start_time_ms, args.framing, args.schema_id, args.poison) == (
        1, DEFAULT_START_TIME_MS, "raw", 1, 0)
    assert args.rate is None and args.count is None and args.realtime is False
    with pytest.raises(SystemExit):
        cli_args("fraud", "--count", "5", "--duration", "5", "--to-file", "x")
    with pytest.raises(SystemExit):
        cli_args("fraud", "--to-file", "x", "--topic", "t")



@pytest.mark.parametrize("domain", ["inventory", "maintenance"])
def test_late_events_straddle_the_allowed_lateness_of_their_keys_newest_event(domain):
    options = dict(count=3000, keys=40, seed=4, poison=5)
    plain = generate(domain, **options)
    seeded = generate(domain, **options, late=30, resend=12)
    assert seeded.records == generate(domain, **options, late=30, resend=12).records
    lateness = seeded.truth["params"]["allowed_lateness_ms"]
    assert lateness == GENERATORS[domain].allowed_lateness_ms > 0
    edges = seeded.truth["late_edge"]
    assert len(edges) == 30 and [e["late"] for e in edges] == [True, False] * 15
    newest, seen = {}, {}
    for _, key, event, label in parse_all(seeded)[0]:
        seen[label.event_id] = (key.decode(), event.event_time_ms, newest.get(key))
        newest[key] = max(newest.get(key, event.event_time_ms), event.event_time_ms)
    for edge in edges:
        assert seen[edge["event_id"]] == (edge["key"], edge["event_time_ms"], edge["key_time_ms"])
        behind = edge["key_time_ms"] - edge["event_time_ms"] - lateness
        assert (1 <= behind <= 1000) if edge["late"] else (-999 <= behind <= 0)
    # the copies are exact copies of events before them; the late ones take their key's next sequence
    counts = seeded.truth["counts"]
    assert counts["valid_events"] == 3000 and counts["duplicates"] > plain.truth["counts"]["duplicates"]
    events = [(value, label) for (_, value), label in zip(seeded.records, seeded.labels)]
    for i, (value, label) in enumerate(events):
        if label.kind == "duplicate":
            assert value in {v for v, l in events[:i] if l.kind == "event" and l.event_id == label.event_id}
    sequences = defaultdict(list)
    for _, key, event, label in parse_all(seeded)[0]:
        if label.kind != "duplicate":
            sequences[key].append(event.sequence)
    assert all(seen == list(range(1, len(seen) + 1)) for seen in sequences.values())
    # without the options the stream is the one it always was
    assert "late_edge" not in plain.truth and plain.truth["params"] == generate(domain, **options).truth["params"]


def test_late_events_are_refused_where_a_job_has_no_allowed_lateness():
    with pytest.raises(ValueError, match="no allowed lateness"):
        generate("fraud", count=10, late=2)
