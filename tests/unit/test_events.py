"""Validation rules: what becomes a dead letter, with which reason."""
import math

import pytest

from jobs.specs import EVENT_TYPES
from streamsuite_proto.v1 import fraud_pb2, inventory_pb2, maintenance_pb2
from tests.unit.test_codec import transaction
from udfs.codec import DecodeError, encode
from udfs.events import message_class

T0 = 1_767_225_600_000


def parse(name, message):
    return EVENT_TYPES[name].parse(encode(message))


def reason(name, message):
    with pytest.raises(DecodeError) as info:
        parse(name, message)
    return info.value.reason


def test_valid_transaction_parses():
    assert parse("CardTransaction", transaction()).card_id == "c-1"


@pytest.mark.parametrize("overrides, expected", [
    ({"card_id": ""}, "missing_field"),
    ({"transaction_id": ""}, "missing_field"),
    ({"event_time_ms": 0}, "out_of_range"),
    ({"sequence": 0}, "out_of_range"),
    ({"amount_minor": 0}, "out_of_range"),
    ({"amount_minor": -5}, "out_of_range"),
    ({"currency": "EURO"}, "bad_field"),
    ({"country": ""}, "bad_field"),
    ({"latitude": 91.0}, "out_of_range"),
])
def test_invalid_transactions(overrides, expected):
    assert reason("CardTransaction", transaction(**overrides)) == expected


def movement(**overrides):
    fields = dict(event_id="e-1", store_id="s-1", sku="sku-1", event_time_ms=T0, sequence=1,
                  kind=inventory_pb2.SALE, quantity=2)
    fields.update(overrides)
    return inventory_pb2.InventoryMovement(**fields)


def test_movements():
    assert parse("InventoryMovement", movement()).quantity == 2
    assert parse("InventoryMovement", movement(kind=inventory_pb2.ADJUSTMENT, quantity=0)).quantity == 0
    assert reason("InventoryMovement", movement(kind=0)) == "bad_field"
    assert reason("InventoryMovement", movement(kind=99)) == "bad_field"
    assert reason("InventoryMovement", movement(quantity=0)) == "out_of_range"
    assert reason("InventoryMovement", movement(sku="")) == "missing_field"
    assert reason("InventoryMovement", movement(kind=inventory_pb2.RESERVATION)) == "missing_field"


def reading(**overrides):
    fields = dict(reading_id="r-1", machine_id="m-1", event_time_ms=T0, sequence=1, temperature_c=60.0)
    fields.update(overrides)
    return maintenance_pb2.SensorReading(**fields)


def test_readings():
    assert parse("SensorReading", reading(temperature_c=-300.0)).temperature_c == -300.0  # a fault, not invalid
    assert reason("SensorReading", maintenance_pb2.SensorReading(
        reading_id="r", machine_id="m", event_time_ms=T0, sequence=1)) == "missing_field"
    assert reason("SensorReading", reading(vibration_mm_s=math.nan)) == "out_of_range"


def test_newer_schema_with_extra_fields_is_accepted():
    extra_field = b"\xa0\x06\x01"  # field 100, varint 1: unknown to this schema version
    data = transaction().SerializeToString() + extra_field
    assert EVENT_TYPES["CardTransaction"].parse(data).card_id == "c-1"


def test_message_class_lookup():
    assert message_class("FraudScore") is fraud_pb2.FraudScore
    assert message_class("streamsuite.v1.SensorReading") is maintenance_pb2.SensorReading
    assert message_class("DeadLetter").DESCRIPTOR.full_name == "streamsuite.v1.DeadLetter"
    with pytest.raises(KeyError):
        message_class("Nope")
