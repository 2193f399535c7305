"""The input event types: decoding plus the validation every job applies before its logic.

An event that fails here is a dead letter with the reason, never an exception that
stops a job. Readings that are possible but wrong (a stuck sensor) are the domain's
business and pass.
"""
from __future__ import annotations

import math
import functools
import time
from dataclasses import dataclass
from typing import Callable, Generic, TypeVar

from google.protobuf.message import Message

from streamsuite_proto.v1 import fraud_pb2, inventory_pb2, maintenance_pb2
from udfs.codec import DecodeError, decode

M = TypeVar("M", bound=Message)

# 2000-01-01T00:00:00Z: an event time before this is a producer bug, not an old event.
MIN_EVENT_TIME_MS = 946_684_800_000
# Amounts are minor units; 10^10 cents is a hundred million in any currency.
MAX_AMOUNT_MINOR = 10**10
# Units in one stock movement; a billion, so 9 billion movements of it still sum inside int64.
MAX_QUANTITY = 10**9
# A sensor value beyond this is no physical reading (its micro-unit squares must stay exact).
MAX_SENSOR_ABS = 1e9
# Ids and keys become Redis keys and state keys: bounded, and free of the characters that join them.
MAX_ID_BYTES = 128
KEY_SEPARATORS = ("|", ":")


DAY_MS = 86_400_000


def event_date(event_time_ms: int) -> str:
    """The UTC date of an event time, YYYY-MM-DD: the `dt=` partition of cold rows."""
    return _day_name(event_time_ms // DAY_MS)


@functools.lru_cache(maxsize=4096)
def _day_name(day: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(day * 86_400))


class InvalidEvent(DecodeError):
    """Decoded bytes that break a rule of the event type."""


def _require(condition: bool, reason: str, detail: str) -> None:
    if not condition:
        raise InvalidEvent(reason, detail)


def _bounded_id(name: str, value: str, joined: bool = False) -> None:
    """An id that goes into state and Redis keys: at most MAX_ID_BYTES; when it is joined with
    another id into one key, without the separators (so `s|1`+`k` and `s`+`1|k` never meet)."""
    size = len(value.encode("utf-8"))
    _require(size <= MAX_ID_BYTES, "out_of_range", f"{name} is {size} bytes, more than {MAX_ID_BYTES}")
    if joined:
        _require(not any(sep in value for sep in KEY_SEPARATORS), "bad_field",
                 f"{name} {value[:40]!r} contains one of {' '.join(KEY_SEPARATORS)}, which join ids into keys")


def _common(event_id: str, key: str, event_time_ms: int, sequence: int) -> None:
    _require(bool(event_id), "missing_field", "the event id is empty")
    _require(bool(key), "missing_field", "the key is empty")
    _bounded_id("the event id", event_id)
    _require(event_time_ms >= MIN_EVENT_TIME_MS, "out_of_range",
             f"event time {event_time_ms} ms is before 2000-01-01 or missing")
    _require(sequence >= 1, "out_of_range", f"sequence {sequence} is not 1 or more")


def validate_card_transaction(tx: fraud_pb2.CardTransaction) -> None:
    _common(tx.transaction_id, tx.card_id, tx.event_time_ms, tx.sequence)
    _bounded_id("card_id", tx.card_id)
    _bounded_id("merchant_id", tx.merchant_id)
    _require(len(tx.merchant_category) <= 8, "out_of_range", f"merchant category {tx.merchant_category[:20]!r} "
             "is longer than 8 characters")
    _require(0 < tx.amount_minor <= MAX_AMOUNT_MINOR, "out_of_range",
             f"amount {tx.amount_minor} minor units is not in 1..{MAX_AMOUNT_MINOR}")
    _require(len(tx.currency) == 3, "bad_field", f"currency {tx.currency!r} is not a 3-letter code")
    _require(len(tx.country) == 2, "bad_field", f"country {tx.country!r} is not a 2-letter code")
    _require(-90.0 <= tx.latitude <= 90.0 and -180.0 <= tx.longitude <= 180.0, "out_of_range",
             f"location ({tx.latitude}, {tx.longitude}) is not on Earth")


_NEEDS_RESERVATION = (inventory_pb2.RESERVATION, inventory_pb2.RELEASE)


def validate_inventory_movement(mv: inventory_pb2.InventoryMovement) -> None:
    _common(mv.event_id, mv.store_id and mv.sku, mv.event_time_ms, mv.sequence)
    _bounded_id("store_id", mv.store_id, joined=True)
    _bounded_id("sku", mv.sku, joined=True)
    _bounded_id("reservation_id", mv.reservation_id)
    _require(mv.quantity <= MAX_QUANTITY, "out_of_range", f"quantity {mv.quantity} is more than {MAX_QUANTITY}")
    _require(mv.kind in inventory_pb2.MovementKind.values() and mv.kind != 0, "bad_field",
             f"movement kind {mv.kind} is not one of sale, restock, return, adjustment, reservation, release")
    if mv.kind == inventory_pb2.ADJUSTMENT:
        _require(mv.quantity >= 0, "out_of_range", f"adjusted level {mv.quantity} is negative")
    else:
        _require(mv.quantity > 0, "out_of_range", f"quantity {mv.quantity} is not positive")
    if mv.kind in _NEEDS_RESERVATION:
        _require(bool(mv.reservation_id), "missing_field", "a reservation or release has no reservation id")


SENSORS = ("temperature_c", "vibration_mm_s", "pressure_bar", "rotation_rpm")


def validate_sensor_reading(reading: maintenance_pb2.SensorReading) -> None:
    _common(reading.reading_id, reading.machine_id, reading.event_time_ms, reading.sequence)
    _bounded_id("machine_id", reading.machine_id)
    present = [s for s in SENSORS if reading.HasField(s)]
    _require(bool(present), "missing_field", "the reading has no sensor value")
    for sensor in present:
        value = getattr(reading, sensor)
        _require(math.isfinite(value) and abs(value) <= MAX_SENSOR_ABS, "out_of_range", f"{sensor} is {value}")


def check_event_time(event_time_ms: int, record_timestamp_ms: int | None, max_skew_ms: int) -> None:
    """An event may not be dated more than `max_skew_ms` after Kafka received (or was told) it."""
    if record_timestamp_ms is None or record_timestamp_ms < 0:
        return
    _require(event_time_ms <= record_timestamp_ms + max_skew_ms, "out_of_range",
             f"event time {event_time_ms} ms is more than {max_skew_ms} ms (kafka.max_event_time_skew_ms) after "
             f"its Kafka record timestamp {record_timestamp_ms}")


@dataclass(frozen=True)
class EventType(Generic[M]):
    """An input message type with its rules."""

    name: str
    message_class: type[M]
    validate: Callable[[M], None]
    # The key the job partitions its state by.
    key: Callable[[M], str]

    def parse(self, data: bytes) -> M:
        """Decode and validate; raises DecodeError (or its InvalidEvent) with a reason."""
        event = decode(data, self.message_class)
        self.validate(event)
        return event


EVENT_TYPES: dict[str, EventType] = {
    t.name: t
    for t in (
        EventType("CardTransaction", fraud_pb2.CardTransaction, validate_card_transaction,
                  lambda tx: tx.card_id),
        EventType("InventoryMovement", inventory_pb2.InventoryMovement, validate_inventory_movement,
                  lambda mv: f"{mv.store_id}|{mv.sku}"),
        EventType("SensorReading", maintenance_pb2.SensorReading, validate_sensor_reading,
                  lambda reading: reading.machine_id),
    )
}


def message_class(name: str) -> type[Message]:
    """Any streamsuite message class by its short or full name (e.g. `FraudScore`)."""
    short = name.rsplit(".", 1)[-1]
    for module in (fraud_pb2, inventory_pb2, maintenance_pb2):
        if short in module.DESCRIPTOR.message_types_by_name:
            return getattr(module, short)
    from streamsuite_proto.v1 import deadletter_pb2

    if short in deadletter_pb2.DESCRIPTOR.message_types_by_name:
        return getattr(deadletter_pb2, short)
    raise KeyError(name)
