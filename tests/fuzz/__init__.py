"""Fuzzing decode + validate + the domain step of the three jobs (no JVM).

`Pipeline(event_type).feed(data)` does for one input what the job does: decode and validate
(raw or Confluent-framed bytes, and the event-time bound against the record timestamp),
then the domain core over the key's state, the state encoding, the hot records and the
output values. The properties: only the decoder's `DecodeError` may leave decode, and for
an input that passes validation nothing raises and every integer output fits in 64 bits
(what the JVM can take). Used by `tests/unit/test_fuzz.py` (hypothesis, short) and
`python -m tests.fuzz` (a seeded run of a million inputs or more, with a report).
"""
from __future__ import annotations

import dataclasses
import math
import random
from typing import Any

from google.protobuf.message import Message

from jobs.specs import EVENT_TYPES
from udfs import fraud, inventory, inventory_records, maintenance, maintenance_records
from udfs.codec import DecodeError, frame, message_indexes
from udfs.events import check_event_time
from udfs.hot import HotRecord

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
# The Kafka record timestamp every fuzzed input carries (2023-11-14), and the skew bound.
RECORD_TIMESTAMP_MS = 1_700_000_000_000
MAX_SKEW_MS = 86_400_000
WATERMARK_LAG_MS = 5_001


class OutputOutOfRange(AssertionError):
    """An output the JVM could not take: an integer beyond 64 bits."""


def check_fits(value: Any, where: str = "output") -> None:
    """Every int inside `value` (dataclasses, tuples, lists, dicts, HotRecords) fits in int64."""
    if isinstance(value, bool) or value is None or isinstance(value, (str, bytes, float)):
        return
    if isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            raise OutputOutOfRange(f"{where}: {value} does not fit in 64 bits")
        return
    if dataclasses.is_dataclass(value):
        for f in dataclasses.fields(value):
            check_fits(getattr(value, f.name), f"{where}.{f.name}")
        return
    if isinstance(value, dict):
        for k, v in value.items():
            check_fits(v, f"{where}[{k!r}]")
        return
    if isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            check_fits(v, f"{where}[{i}]")


class Pipeline:
    """One job's decode, validate and domain step over per-key state kept between inputs."""

    def __init__(self, event_type: str):
        self.event_type = EVENT_TYPES[event_type]
        self.states: dict[str, Any] = {}
        self.counts = {"dead_letter": 0, "processed": 0}

    def feed(self, data: bytes, record_timestamp_ms: int = RECORD_TIMESTAMP_MS) -> str:
        try:
            event = self.event_type.parse(data)
            check_event_time(event.event_time_ms, record_timestamp_ms, MAX_SKEW_MS)
        except DecodeError:
            self.counts["dead_letter"] += 1
            return "dead_letter"
        key = self.event_type.key(event)
        self.states[key] = self.step(key, event)
        self.counts["processed"] += 1
        return "processed"

    def step(self, key: str, event: Message) -> Any:
        raise NotImplementedError

    @staticmethod
    def timed_step(core, state, event, event_time_ms: int) -> tuple[Any, list]:
        """A core with a timer, as the operator runs it: apply at a watermark trailing the event by
        the out-of-orderness bound, then fire the key's timer if that watermark passed it."""
        watermark = event_time_ms - WATERMARK_LAG_MS
        state, outputs = core.apply(state, event, watermark)
        due = core.next_timer(state)
        if due is not None and due <= watermark:
            state, more = core.on_timer(state, due)
            outputs += more
        return state, outputs


class FraudPipeline(Pipeline):
    def __init__(self):
        super().__init__("CardTransaction")
        self.scorer = fraud.FraudScorer(fraud.FraudModel())

    def step(self, key, msg):
        tx = fraud.Transaction.from_message(msg)
        scored, profile = self.scorer.score(tx, fraud.CardProfile.from_json(self.states.get(key)))
        encoded = profile.to_json()
        outputs = [scored, fraud.card_hot_record(scored, "fuzz", RECORD_TIMESTAMP_MS)]
        if self.scorer.is_alert(scored):
            outputs.append(fraud.alert_hot_record(scored, "fuzz"))
        check_fits(outputs)
        return encoded


class InventoryPipeline(Pipeline):
    def __init__(self):
        super().__init__("InventoryMovement")
        self.keeper = inventory.StockKeeper(inventory_records.InventoryModel())

    def step(self, key, msg):
        mv = inventory_records.Movement.from_message(msg)
        state = inventory_records.StockState.from_json(self.states.get(key))
        state, outputs = self.timed_step(self.keeper, state, mv, mv.event_time_ms)
        hot: list[HotRecord] = []
        for out in outputs:
            if isinstance(out, inventory.LevelChanged):
                hot.append(inventory.level_hot_record(out, "fuzz", RECORD_TIMESTAMP_MS))
            elif isinstance(out, (inventory.LowStockAlert, inventory.LowStockCleared)):
                hot.append(inventory.alert_hot_record(out, "fuzz"))
            elif isinstance(out, inventory.WindowClosed):
                hot += [inventory.top_sellers_hot_record(out, "fuzz"), inventory.latest_window_hot_record(out, "fuzz")]
        check_fits([outputs, hot])
        return state.to_json()


class MaintenancePipeline(Pipeline):
    def __init__(self):
        super().__init__("SensorReading")
        self.monitor = maintenance.MachineMonitor(maintenance_records.MaintenanceModel())

    def step(self, key, msg):
        reading = maintenance_records.Reading.from_message(msg)
        state = maintenance_records.MachineState.from_json(self.states.get(key))
        state, outputs = self.timed_step(self.monitor, state, reading, reading.event_time_ms)
        hot = []
        for out in outputs:
            if isinstance(out, maintenance.WindowFeatures):
                check_fits(out.row(), "window row")
            elif isinstance(out, maintenance.MachineHealth):
                hot.append(maintenance.health_hot_record(out, "fuzz", RECORD_TIMESTAMP_MS))
            elif isinstance(out, maintenance.Alert):
                hot.append(maintenance.alert_hot_record(out, "fuzz"))
        check_fits(hot)
        return state.to_json()


PIPELINES = {"CardTransaction": FraudPipeline, "InventoryMovement": InventoryPipeline,
             "SensorReading": MaintenancePipeline}

# ---------------------------------------------------------------- inputs

INT_EDGES = (0, 1, -1, 2**31 - 1, 2**31, 2**32, 2**53, 2**62, 2**63 - 1, -(2**63), 10**9, 10**9 + 1, 10**10,
             10**10 + 1, RECORD_TIMESTAMP_MS, RECORD_TIMESTAMP_MS + MAX_SKEW_MS, RECORD_TIMESTAMP_MS + MAX_SKEW_MS + 1)
FLOAT_EDGES = (0.0, -0.0, 1.0, -1.0, 1e9, 1e9 + 1, 1e300, -1e300, math.inf, -math.inf, math.nan, 5e-324, 90.0, 180.5)
TEXT_EDGES = ("", "a", "s|1", "1|k", "s:1", "x" * 128, "x" * 129, "é" * 65, "\x00", "k" * 200_000)


def mutate_field(msg: Message, rng: random.Random) -> None:
    """Set one field of `msg` to a boundary or random value of its type (no type errors: that is protobuf's job)."""
    field = rng.choice(msg.DESCRIPTOR.fields)
    kind = field.cpp_type
    F = field.__class__
    if kind in (F.CPPTYPE_INT64, F.CPPTYPE_INT32, F.CPPTYPE_UINT32, F.CPPTYPE_UINT64, F.CPPTYPE_ENUM):
        lo, hi = {F.CPPTYPE_INT64: (INT64_MIN, INT64_MAX), F.CPPTYPE_INT32: (-(2**31), 2**31 - 1),
                  F.CPPTYPE_UINT32: (0, 2**32 - 1), F.CPPTYPE_UINT64: (0, 2**64 - 1),
                  F.CPPTYPE_ENUM: (-(2**31), 2**31 - 1)}[kind]
        value = rng.choice(INT_EDGES) if rng.random() < 0.7 else rng.randint(lo, hi)
        value = min(max(value, lo), hi)
        if kind == F.CPPTYPE_ENUM and field.enum_type.values_by_number.get(value) is None and rng.random() < 0.5:
            value = rng.choice(field.enum_type.values).number
        setattr(msg, field.name, value)
    elif kind in (F.CPPTYPE_DOUBLE, F.CPPTYPE_FLOAT):
        setattr(msg, field.name, rng.choice(FLOAT_EDGES) if rng.random() < 0.7 else rng.uniform(-1e12, 1e12))
    elif kind == F.CPPTYPE_STRING:
        value = rng.choice(TEXT_EDGES) if rng.random() < 0.7 else "".join(
            chr(rng.randint(32, 0x2FFF)) for _ in range(rng.randint(0, 40)))
        setattr(msg, field.name, value.encode() if field.type == field.TYPE_BYTES else value)
    elif kind == F.CPPTYPE_BOOL:
        setattr(msg, field.name, rng.random() < 0.5)


def framed(msg: Message, rng: random.Random) -> bytes:
    payload = msg.SerializeToString()
    if rng.random() < 0.5:
        return payload
    return frame(payload, rng.randint(0, 2**31 - 1), message_indexes(type(msg)))
