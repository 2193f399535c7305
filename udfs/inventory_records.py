"""The records of inventory counts: a movement (the job's input, with its event type and validation),
the model's settings, and the whole state of one (store, SKU) with its versioned encoding.

`udfs.inventory` is the core that applies movements and timers to these records.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from itertools import starmap
from typing import Mapping, NamedTuple

from streamsuite_proto.v1 import inventory_pb2
from udfs.dedup import SeenIds
from udfs.encoding import decode_state, encode_state
from udfs.events import EventType, bounded_id, common_fields, require
from udfs.timers import MIN_WATERMARK

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
STATE_ENCODING = 1

# Index i is the Protobuf MovementKind value i + 1.
KINDS = ("sale", "restock", "return", "adjustment", "reservation", "release")
SALE, RESTOCK, RETURN, ADJUSTMENT, RESERVATION, RELEASE = KINDS
COUNTED = (SALE, RETURN, RESTOCK)

# Units in one stock movement; a billion, so 9 billion movements of it still sum inside int64.
MAX_QUANTITY = 10**9
_NEEDS_RESERVATION = (inventory_pb2.RESERVATION, inventory_pb2.RELEASE)


def validate_inventory_movement(mv: inventory_pb2.InventoryMovement) -> None:
    common_fields(mv.event_id, mv.store_id and mv.sku, mv.event_time_ms, mv.sequence)
    bounded_id("store_id", mv.store_id, joined=True)
    bounded_id("sku", mv.sku, joined=True)
    bounded_id("reservation_id", mv.reservation_id)
    require(mv.quantity <= MAX_QUANTITY, "out_of_range", f"quantity {mv.quantity} is more than {MAX_QUANTITY}")
    require(mv.kind in inventory_pb2.MovementKind.values() and mv.kind != 0, "bad_field",
            f"movement kind {mv.kind} is not one of sale, restock, return, adjustment, reservation, release")
    if mv.kind == inventory_pb2.ADJUSTMENT:
        require(mv.quantity >= 0, "out_of_range", f"adjusted level {mv.quantity} is negative")
    else:
        require(mv.quantity > 0, "out_of_range", f"quantity {mv.quantity} is not positive")
    if mv.kind in _NEEDS_RESERVATION:
        require(bool(mv.reservation_id), "missing_field", "a reservation or release has no reservation id")


def stock_key(mv: inventory_pb2.InventoryMovement) -> str:
    """The (store, SKU) a movement counts for, as `Movement.key` and `StockState.key` join it."""
    return f"{mv.store_id}|{mv.sku}"


# The job's input: stock movements, keyed by (store, SKU).
EVENT_TYPE = EventType("InventoryMovement", inventory_pb2.InventoryMovement, validate_inventory_movement, stock_key)


@dataclass(frozen=True)
class Movement:
    """The fields of an InventoryMovement the model uses (no Protobuf dependency)."""

    event_id: str
    store_id: str
    sku: str
    event_time_ms: int
    sequence: int
    kind: str
    quantity: int
    reservation_id: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"movement kind {self.kind!r} is not one of {', '.join(KINDS)}")

    @property
    def key(self) -> str:
        return f"{self.store_id}|{self.sku}"

    @classmethod
    def from_message(cls, msg) -> "Movement":
        if not 1 <= msg.kind <= len(KINDS):
            raise ValueError(f"movement kind {msg.kind} is not one of {', '.join(KINDS)}")
        return cls(msg.event_id, msg.store_id, msg.sku, msg.event_time_ms, msg.sequence, KINDS[msg.kind - 1],
                   msg.quantity, msg.reservation_id)


@dataclass(frozen=True)
class InventoryModel:
    """Windows, lateness, expiry and reorder points; all of it comes from the job config."""

    window_ms: int = MINUTE_MS
    velocity_window_ms: int = 15 * MINUTE_MS
    velocity_bucket_ms: int = MINUTE_MS
    allowed_lateness_ms: int = MINUTE_MS
    reservation_ttl_ms: int = 15 * MINUTE_MS
    dedup_ttl_ms: int = HOUR_MS
    # A hard bound on remembered ids per key, so one hot key cannot grow without limit.
    dedup_max_ids: int = 4096
    reorder_point: int = 10
    # Per-SKU reorder points; others use `reorder_point`.
    reorder_points: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("window_ms", "velocity_window_ms", "velocity_bucket_ms", "reservation_ttl_ms",
                     "dedup_ttl_ms", "dedup_max_ids"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} is {getattr(self, name)}; it must be positive")
        if self.allowed_lateness_ms < 0:
            raise ValueError(f"allowed_lateness_ms is {self.allowed_lateness_ms}; it must be 0 or more")
        if self.velocity_window_ms % self.velocity_bucket_ms:
            raise ValueError(f"velocity_window_ms {self.velocity_window_ms} is not a multiple of "
                             f"velocity_bucket_ms {self.velocity_bucket_ms}")
        if self.dedup_ttl_ms < self.allowed_lateness_ms:
            raise ValueError(f"dedup_ttl_ms {self.dedup_ttl_ms} is shorter than allowed_lateness_ms "
                             f"{self.allowed_lateness_ms}: a duplicate that is not late could be applied twice")
        for sku, point in {"": self.reorder_point, **self.reorder_points}.items():
            if point < 0:
                raise ValueError(f"reorder point {point}{f' of {sku}' if sku else ''} is negative")

    def reorder_point_for(self, sku: str) -> int:
        return self.reorder_points.get(sku, self.reorder_point)



class Reservation(NamedTuple):
    """A held reservation: the fingerprint of its id, the units it holds, and when it expires."""

    reservation: str
    quantity: int
    expires_ms: int


class Change(NamedTuple):
    """An on-hand change applied after the latest adjustment: its event time and the units."""

    time_ms: int
    delta: int


class OpenWindow(NamedTuple):
    """A tumbling window not closed yet: what it has counted so far."""

    start_ms: int
    sales_qty: int = 0
    sales_count: int = 0
    returns_qty: int = 0
    restock_qty: int = 0


@dataclass
class StockState:
    """Everything remembered about one (store, SKU); its entries are named records (encoded as JSON arrays)."""

    store_id: str = ""
    sku: str = ""
    on_hand: int = 0
    reservations: list[Reservation] = field(default_factory=list)
    # Event time and sequence of the latest applied adjustment; None before the first.
    adjusted_ms: int | None = None
    adjusted_seq: int = 0
    # On-hand changes applied after the latest adjustment and within the lateness horizon.
    changes: list[Change] = field(default_factory=list)
    # Open tumbling windows, oldest first.
    windows: list[OpenWindow] = field(default_factory=list)
    # Units sold in the velocity window, dense: [start of the first bucket, units of each bucket...].
    sales: list = field(default_factory=list)
    # Event ids seen, by event-time bucket, oldest first.
    seen: list[SeenIds] = field(default_factory=list)
    # Newest event time applied, and the newest timer this key has fired.
    clock_ms: int = 0
    watermark_ms: int = MIN_WATERMARK
    # Event time of the latest level change, the hot record's version, low-stock episodes.
    level_time_ms: int = 0
    version: int = 0
    episode: int = 0
    low: bool = False
    applied: int = 0
    duplicates: int = 0
    late: int = 0
    oversells: int = 0

    @property
    def key(self) -> str:
        return f"{self.store_id}|{self.sku}"

    @property
    def reserved(self) -> int:
        return sum(r.quantity for r in self.reservations)

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved

    @property
    def alert_id(self) -> str | None:
        return f"{self.key}:{self.episode}" if self.low else None

    def copy(self) -> "StockState":
        """Copies the outer lists; inner entries are replaced, never changed in place."""
        return replace(self, reservations=list(self.reservations), changes=list(self.changes),
                       windows=list(self.windows), sales=list(self.sales), seen=list(self.seen))

    def to_json(self) -> str:
        """Versioned compact encoding in field order (changing the fields means a new encoding)."""
        return encode_state(STATE_ENCODING, *(getattr(self, f.name) for f in fields(self)))

    @classmethod
    def from_json(cls, data: str | None) -> "StockState":
        if not data:
            return cls()
        state = cls(*decode_state(data, STATE_ENCODING, "stock state"))
        state.reservations = list(starmap(Reservation, state.reservations))
        state.changes = list(starmap(Change, state.changes))
        state.windows = list(starmap(OpenWindow, state.windows))
        state.seen = list(starmap(SeenIds, state.seen))
        return state
