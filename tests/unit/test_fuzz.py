"""Property tests: any bytes into decode + validate + the domain step (see tests/fuzz), and one test
per poison class the hardening issue names. The long run is `python -m tests.fuzz`."""
from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jobs.specs import EVENT_TYPES, JOBS
from streamsuite.generator import generate
from streamsuite_proto.v1.deadletter_pb2 import DeadLetter
from streamsuite_proto.v1.fraud_pb2 import CardTransaction
from streamsuite_proto.v1.inventory_pb2 import RESTOCK, InventoryMovement
from tests.fuzz import MAX_SKEW_MS, PIPELINES, framed, mutate_field
from udfs.codec import DecodeError, frame, message_indexes
from udfs.deadletters import KEPT_PREFIX_BYTES, MAX_WHOLE_PAYLOAD_BYTES, dead_letter
from udfs.events import check_event_time

DOMAINS = {spec.event_type.name: spec.job for spec in JOBS.values()}
SAMPLES = {t: generate(d, count=200, keys=10, seed=3) for t, d in DOMAINS.items()}
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def valid(event_type: str, i: int = 0) -> tuple[bytes, int]:
    stream = SAMPLES[event_type]
    return stream.records[i][1], stream.times_ms[i]


@pytest.mark.parametrize("event_type", list(PIPELINES))
@FUZZ
@given(data=st.binary(max_size=300))
def test_random_bytes_only_ever_become_dead_letters_or_events(event_type, data):
    assert PIPELINES[event_type]().feed(data) in ("dead_letter", "processed")


@pytest.mark.parametrize("event_type", list(PIPELINES))
def test_every_truncation_of_raw_and_framed_messages_is_handled(event_type):
    pipeline = PIPELINES[event_type]()
    for i in range(5):
        data, ts = valid(event_type, i)
        msg = EVENT_TYPES[event_type].parse(data)
        raw = msg.SerializeToString()
        for whole in (raw, frame(raw, 7, message_indexes(type(msg)))):
            for cut in range(len(whole)):
                assert pipeline.feed(whole[:cut], ts) in ("dead_letter", "processed")


@pytest.mark.parametrize("event_type", list(PIPELINES))
@FUZZ
@given(seed=st.integers(0, 2**32), picks=st.lists(st.integers(0, 199), min_size=1, max_size=6))
def test_field_mutations_and_boundary_values_never_break_the_domain_step(event_type, seed, picks):
    """A sequence of mutated events on few keys: state builds up, nothing but decode errors escape."""
    rng, pipeline = random.Random(seed), PIPELINES[event_type]()
    for i in picks:
        data, ts = valid(event_type, i)
        msg = EVENT_TYPES[event_type].parse(data)
        for _ in range(rng.randint(1, 3)):
            mutate_field(msg, rng)
        assert pipeline.feed(framed(msg, rng), ts) in ("dead_letter", "processed")


def _movement(**fields) -> bytes:
    base = dict(event_id="e1", store_id="s1", sku="k1", event_time_ms=1_700_000_000_000, sequence=1,
                kind=RESTOCK, quantity=5)
    return InventoryMovement(**{**base, **fields}).SerializeToString()


def _transaction(**fields) -> bytes:
    base = dict(transaction_id="t1", card_id="c1", event_time_ms=1_700_000_000_000, sequence=1, amount_minor=500,
                currency="EUR", merchant_id="m1", merchant_category="5411", country="DE")
    return CardTransaction(**{**base, **fields}).SerializeToString()


def _reason(event_type: str, data: bytes) -> str:
    with pytest.raises(DecodeError) as caught:
        EVENT_TYPES[event_type].parse(data)
    return str(caught.value)


def test_huge_restocks_are_refused_so_levels_always_fit_64_bits():
    assert "more than 1000000000" in _reason("InventoryMovement", _movement(quantity=2**62))
    pipeline = PIPELINES["InventoryMovement"]()
    for seq in (1, 2):
        assert pipeline.feed(_movement(event_id=f"e{seq}", sequence=seq, quantity=10**9),
                             1_700_000_000_000) == "processed"


def test_an_event_dated_far_after_its_record_timestamp_is_refused():
    with pytest.raises(DecodeError, match="kafka.max_event_time_skew_ms"):
        check_event_time(2**62, 1_700_000_000_000, MAX_SKEW_MS)
    check_event_time(1_700_000_000_000 + MAX_SKEW_MS, 1_700_000_000_000, MAX_SKEW_MS)
    assert PIPELINES["CardTransaction"]().feed(_transaction(event_time_ms=2**62), 1_700_000_000_000) == "dead_letter"


def test_oversized_ids_are_refused():
    assert "more than 128" in _reason("CardTransaction", _transaction(card_id="c" * 200_000))
    assert "more than 128" in _reason("InventoryMovement", _movement(sku="é" * 65))


def test_ids_that_join_into_keys_cannot_collide():
    """`s|1`+`k` and `s`+`1|k` would share a state key; `s:1`+`k` and `s`+`1:k` a Redis key."""
    for store, sku in (("s|1", "k"), ("s", "1|k"), ("s:1", "k"), ("s", "1:k")):
        assert "join ids into keys" in _reason("InventoryMovement", _movement(store_id=store, sku=sku))


def test_a_dead_letter_of_an_oversize_input_keeps_a_prefix_and_a_digest():
    import hashlib

    big = bytes(range(256)) * 8_000
    letter = DeadLetter.FromString(dead_letter(big, "invalid_protobuf: x", "t", "fraud").SerializeToString())
    assert len(big) > MAX_WHOLE_PAYLOAD_BYTES
    assert letter.payload == big[:KEPT_PREFIX_BYTES] and letter.payload_size == len(big)
    assert letter.payload_sha256 == hashlib.sha256(big).digest()
    assert len(letter.SerializeToString()) < 80_000
    small = dead_letter(b"abc", "r" * 10_000, "t", "fraud")
    assert small.payload == b"abc" and small.payload_size == 0 and len(small.reason) == 2_000
