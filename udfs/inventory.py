"""Inventory counts: exact stock levels per (store, SKU), in plain Python.

`StockState` (`udfs.inventory_records`) is the whole state of one (store, SKU); `StockKeeper` applies one movement or
one event-time timer to it and returns the next state plus what happened: level changes,
low-stock alerts, closed sales windows, and late, duplicate, oversold or ignored events.
The Flink job, the unit tests and the reference oracle (`replay`) all run this same code.

Everything runs on each key's own event time, never the wall clock nor the watermark at an
event's arrival (which differs on replay: it restarts from nothing after a restore and moves
with other partitions): an event is late when it is more than the allowed lateness behind
its key's newest event time (or newest fired timer), and the timers due up to that event time
fire before the event is applied, just as they would had the watermark passed them first.
So a replay after a failure computes exactly the same states, versions and outputs. Timers
still fire by the watermark for keys that go quiet; only a key whose own event time lags the
watermark by more than the out-of-orderness bound can see one fire before one of its events
and so differ on replay (docs/faults.md has the proof of that bound).

Adjustments are absolute physical counts. A sale, return or restock at or before the latest
adjustment's event time is already in that count and leaves on-hand alone (it still counts
in the sales windows); the on-hand changes applied after the latest adjustment are kept
while a later-arriving, newer adjustment could still precede them (the allowed lateness),
so on-hand always equals the result of applying every accepted movement in event-time order.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterable

from udfs.dedup import fingerprint, has_seen, remember
from udfs.inventory_records import (ADJUSTMENT, COUNTED, HOUR_MS, RESERVATION, RETURN, SALE, Change, InventoryModel,
                                    Movement, OpenWindow, Reservation, StockState)
from udfs.timers import MAX_WATERMARK, fire_due, replay_events

if TYPE_CHECKING:
    from udfs.hot import HotRecord


# ---------------------------------------------------------------- outputs


@dataclass(frozen=True)
class LevelChanged:
    store_id: str
    sku: str
    on_hand: int
    reserved: int
    available: int
    version: int
    event_time_ms: int
    oversold: bool


@dataclass(frozen=True)
class LowStockAlert:
    alert_id: str
    store_id: str
    sku: str
    available: int
    reorder_point: int
    # Estimated ms until available stock reaches zero at the current sales velocity; 0 if unknown.
    time_to_stockout_ms: int
    event_time_ms: int
    version: int


@dataclass(frozen=True)
class LowStockCleared:
    alert_id: str
    store_id: str
    sku: str
    available: int
    event_time_ms: int
    version: int


@dataclass(frozen=True)
class WindowClosed:
    store_id: str
    sku: str
    window_start_ms: int
    window_end_ms: int
    sales_qty: int
    sales_count: int
    returns_qty: int
    restock_qty: int


@dataclass(frozen=True)
class LateEvent:
    store_id: str
    sku: str
    event_id: str
    kind: str
    event_time_ms: int
    # The key's event time it was judged against: its newest applied event or fired timer.
    key_time_ms: int
    reason: str


@dataclass(frozen=True)
class Duplicate:
    store_id: str
    sku: str
    event_id: str
    event_time_ms: int


@dataclass(frozen=True)
class Oversell:
    store_id: str
    sku: str
    event_id: str
    quantity: int
    # On-hand after the sale: negative, recorded as is.
    on_hand: int
    event_time_ms: int


@dataclass(frozen=True)
class Ignored:
    """An accepted movement that changes nothing (a release of an unknown reservation, ...)."""

    store_id: str
    sku: str
    event_id: str
    kind: str
    reason: str
    event_time_ms: int


def current_level(state: StockState) -> LevelChanged:
    """The key's levels now, as the hot record and a cold snapshot show them."""
    return LevelChanged(state.store_id, state.sku, state.on_hand, state.reserved, state.available, state.version,
                        state.level_time_ms, state.on_hand < 0)


# ---------------------------------------------------------------- the keeper


def _start(time_ms: int, size_ms: int) -> int:
    return time_ms - time_ms % size_ms


def _slot(entries: list, start: int, empty) -> int:
    """Index of the entry for `start` in a list sorted by `start_ms`; inserts `empty` there if missing."""
    i = next((i for i, e in enumerate(entries) if e.start_ms >= start), len(entries))
    if i == len(entries) or entries[i].start_ms != start:
        entries.insert(i, empty)
    return i


def _add_units(sales: list, bucket: int, units: int, size: int) -> list:
    if not sales:
        return [bucket, units]
    start, counts = sales[0], sales[1:]
    if bucket < start:
        counts = [0] * ((start - bucket) // size) + counts
        start = bucket
    i = (bucket - start) // size
    counts += [0] * (i + 1 - len(counts))
    counts[i] += units
    return [start] + counts


def _units_since(sales: list, since: int, size: int) -> list:
    """`sales` without the buckets that start before `since` (both bucket-aligned)."""
    drop = max(0, (since - sales[0]) // size) if sales else 0
    counts = sales[1 + drop:]
    return [sales[0] + drop * size] + counts if counts else []


class StockKeeper:
    """Applies movements and timers to a key's state; never changes the state it is given."""

    def __init__(self, model: InventoryModel | None = None):
        self.model = model or InventoryModel()

    def apply(self, state: StockState, mv: Movement, watermark_ms: int) -> tuple[StockState, list]:
        """Timers due by the key's event time first, then: duplicate, else late (by the key's event
        time), else applied. `watermark_ms`, the watermark at arrival, is not used: it differs on replay."""
        m = self.model
        t, fp = mv.event_time_ms, fingerprint(mv.event_id)
        s, fired = fire_due(self, state, max(t, state.clock_ms))
        s = s.copy()
        s.store_id, s.sku = mv.store_id, mv.sku
        # A re-sent copy of an applied event is a duplicate even when it is late: nothing was lost.
        if has_seen(s.seen, fp):
            s.duplicates += 1
            return s, fired + [Duplicate(mv.store_id, mv.sku, mv.event_id, t)]
        key_time = max(s.clock_ms, s.watermark_ms)
        if t < key_time - m.allowed_lateness_ms:
            s.late += 1
            return s, fired + [LateEvent(mv.store_id, mv.sku, mv.event_id, mv.kind, t, key_time,
                                         f"event time {t} ms is more than the allowed lateness of "
                                         f"{m.allowed_lateness_ms} ms behind its key's event time {key_time} ms")]
        before = (s.on_hand, s.reserved)
        now = max(t, key_time)
        s.reservations = [r for r in s.reservations if r.expires_ms > now]
        s.seen = remember(s.seen, fp, t, max(t, s.clock_ms), m.dedup_ttl_ms, m.dedup_max_ids)
        s.applied += 1
        s.clock_ms = max(s.clock_ms, t)
        extra = self._move(s, mv, now)
        self._prune(s)
        return s, fired + self._settle(s, before, t) + extra

    def on_timer(self, state: StockState, timestamp_ms: int) -> tuple[StockState, list]:
        """Expire due reservations and close due windows; a timer with nothing due changes nothing."""
        m, s = self.model, state.copy()
        s.watermark_ms = max(s.watermark_ms, timestamp_ms)
        before = (s.on_hand, s.reserved)
        s.reservations = [r for r in s.reservations if r.expires_ms > timestamp_ms]
        out = []
        for w in s.windows:
            if w.start_ms + m.window_ms + m.allowed_lateness_ms <= timestamp_ms:
                out.append(WindowClosed(s.store_id, s.sku, w.start_ms, w.start_ms + m.window_ms, w.sales_qty,
                                        w.sales_count, w.returns_qty, w.restock_qty))
        s.windows = s.windows[len(out):]
        self._prune(s)
        return s, out + self._settle(s, before, timestamp_ms)

    def next_timer(self, state: StockState) -> int | None:
        """The earliest event time at which a reservation expires or a window can close."""
        m = self.model
        due = [r.expires_ms for r in state.reservations]
        if state.windows:
            due.append(state.windows[0].start_ms + m.window_ms + m.allowed_lateness_ms)
        return min(due, default=None)

    def velocity_per_hour(self, state: StockState) -> float:
        """Units sold per hour over the last velocity window of event time, ending at the key's clock."""
        units = _units_since(state.sales, self._velocity_since(state), self.model.velocity_bucket_ms)[1:]
        return sum(units) * HOUR_MS / self.model.velocity_window_ms

    def time_to_stockout_ms(self, state: StockState) -> int:
        velocity = self.velocity_per_hour(state)
        if velocity <= 0 or state.available <= 0:
            return 0
        return int(state.available * HOUR_MS / velocity)

    def _move(self, s: StockState, mv: Movement, now: int) -> list:
        kind, q, t = mv.kind, mv.quantity, mv.event_time_ms

        def ignored(reason: str) -> list:
            return [Ignored(mv.store_id, mv.sku, mv.event_id, kind, reason, t)]

        if kind in COUNTED:
            self._count(s, kind, q, t)
            if s.adjusted_ms is not None and t <= s.adjusted_ms:
                return []
            delta = -q if kind == SALE else q
            s.on_hand += delta
            s.changes.append(Change(t, delta))
            if kind == SALE and s.on_hand < 0:
                s.oversells += 1
                return [Oversell(mv.store_id, mv.sku, mv.event_id, q, s.on_hand, t)]
            return []
        if kind == ADJUSTMENT:
            if s.adjusted_ms is not None and (t, mv.sequence) <= (s.adjusted_ms, s.adjusted_seq):
                return ignored("adjustment older than the latest applied adjustment")
            s.changes = [c for c in s.changes if c.time_ms > t]
            s.on_hand = q + sum(c.delta for c in s.changes)
            s.adjusted_ms, s.adjusted_seq = t, mv.sequence
            return []
        rid = fingerprint(mv.reservation_id)
        held = next((i for i, r in enumerate(s.reservations) if r.reservation == rid), None)
        if kind == RESERVATION:
            if held is not None:
                return ignored("reservation already held")
            if t + self.model.reservation_ttl_ms <= now:
                return ignored("reservation expired on arrival")
            s.reservations.append(Reservation(rid, q, t + self.model.reservation_ttl_ms))
            return []
        if held is None:
            return ignored("release of an unknown or expired reservation")
        del s.reservations[held]
        return []

    def _count(self, s: StockState, kind: str, q: int, t: int) -> None:
        """Adds a sale, return or restock to its tumbling window and a sale to the velocity buckets."""
        m = self.model
        start = _start(t, m.window_ms)
        i = _slot(s.windows, start, OpenWindow(start))
        w = s.windows[i]
        if kind == SALE:
            s.windows[i] = w._replace(sales_qty=w.sales_qty + q, sales_count=w.sales_count + 1)
        elif kind == RETURN:
            s.windows[i] = w._replace(returns_qty=w.returns_qty + q)
        else:
            s.windows[i] = w._replace(restock_qty=w.restock_qty + q)
        if kind != SALE:
            return
        bucket, since = _start(t, m.velocity_bucket_ms), self._velocity_since(s)
        if bucket >= since:
            # Buckets out of the window go first: after a key's first sale in months, padding the
            # old list up to the new bucket would build (and then drop) a bucket per idle minute.
            s.sales = _add_units(_units_since(s.sales, since, m.velocity_bucket_ms), bucket, q, m.velocity_bucket_ms)

    def _velocity_since(self, s: StockState) -> int:
        """Start of the oldest velocity bucket in the window that ends with the bucket of the key's clock."""
        m = self.model
        return _start(s.clock_ms, m.velocity_bucket_ms) + m.velocity_bucket_ms - m.velocity_window_ms

    def _prune(self, s: StockState) -> None:
        """Drop sales buckets out of the velocity window, and on-hand changes no adjustment can precede
        any more (older than the latest adjustment or than the key's event time minus the allowed lateness)."""
        s.sales = _units_since(s.sales, self._velocity_since(s), self.model.velocity_bucket_ms)
        horizon = max(s.clock_ms, s.watermark_ms) - self.model.allowed_lateness_ms
        if s.adjusted_ms is not None:
            horizon = max(horizon, s.adjusted_ms)
        s.changes = [c for c in s.changes if c.time_ms > horizon]

    def _settle(self, s: StockState, before: tuple[int, int], t: int) -> list:
        """One version per call that changes the levels; an alert starts or ends with a level change."""
        if (s.on_hand, s.reserved) == before:
            return []
        s.version += 1
        s.level_time_ms = t
        out: list = [current_level(s)]
        point = self.model.reorder_point_for(s.sku)
        low = s.available < point
        if low and not s.low:
            s.episode += 1
            s.low = True
            out.append(LowStockAlert(s.alert_id, s.store_id, s.sku, s.available, point,
                                     self.time_to_stockout_ms(s), t, s.version))
        elif s.low and not low:
            out.append(LowStockCleared(s.alert_id, s.store_id, s.sku, s.available, t, s.version))
            s.low = False
        return out


# ---------------------------------------------------------------- hot records


def level_hot_record(level: StockState | LevelChanged, prefix: str, now_ms: int) -> "HotRecord":
    """`<prefix>:level:<store>:<sku>`: the levels a till or web shop reads before selling."""
    from udfs.hot import HotRecord

    if isinstance(level, StockState):
        level = current_level(level)
    return HotRecord(f"{prefix}:level:{level.store_id}:{level.sku}", level.version, {
        "store_id": level.store_id, "sku": level.sku, "on_hand": level.on_hand, "reserved": level.reserved,
        "available": level.available, "oversold": int(level.oversold), "event_time_ms": level.event_time_ms,
        "updated_at_ms": now_ms,
    }, event_time_ms=level.event_time_ms)


def alert_hot_record(alert: LowStockAlert | LowStockCleared, prefix: str) -> "HotRecord":
    """`<prefix>:alert:<alert_id>` and its score in `<prefix>:alerts:active`: the raise time, 0 once cleared.

    The upsert script cannot remove a member, so clearing sets score 0 (and `active` 0):
    `ZRANGEBYSCORE <prefix>:alerts:active 1 +inf` lists exactly the active alerts.
    """
    from udfs.hot import HotRecord

    if isinstance(alert, LowStockAlert):
        values = {"alert_id": alert.alert_id, "store_id": alert.store_id, "sku": alert.sku, "active": 1,
                  "available": alert.available, "reorder_point": alert.reorder_point,
                  "time_to_stockout_ms": alert.time_to_stockout_ms, "event_time_ms": alert.event_time_ms}
        score = alert.event_time_ms
    else:
        values = {"alert_id": alert.alert_id, "store_id": alert.store_id, "sku": alert.sku, "active": 0,
                  "available": alert.available, "cleared_event_time_ms": alert.event_time_ms}
        score = 0
    return HotRecord(f"{prefix}:alert:{alert.alert_id}", alert.version, values,
                     index_key=f"{prefix}:alerts:active", index_score=score, index_member=alert.alert_id,
                     event_time_ms=alert.event_time_ms)


def top_sellers_hot_record(window: WindowClosed, prefix: str) -> "HotRecord":
    """`<prefix>:window:<store>:<sku>:<start>` and the SKU's sales in `<prefix>:top:<store>:<start>`.

    A window is final when it closes, so version 1 and an absolute score make replays no-ops;
    `ZREVRANGE <prefix>:top:<store>:<start> 0 9 WITHSCORES` is the store's top ten of that window.
    """
    from udfs.hot import HotRecord

    return HotRecord(f"{prefix}:window:{window.store_id}:{window.sku}:{window.window_start_ms}", 1, {
        "store_id": window.store_id, "sku": window.sku, "window_start_ms": window.window_start_ms,
        "window_end_ms": window.window_end_ms, "sales_qty": window.sales_qty, "sales_count": window.sales_count,
        "returns_qty": window.returns_qty, "restock_qty": window.restock_qty,
    }, index_key=f"{prefix}:top:{window.store_id}:{window.window_start_ms}", index_score=window.sales_qty,
        index_member=window.sku, event_time_ms=window.window_end_ms - 1)


def latest_window_hot_record(window: WindowClosed, prefix: str) -> "HotRecord":
    """`<prefix>:store:<store>`: the newest closed window of the store, so a reader finds its top sellers."""
    from udfs.hot import HotRecord

    return HotRecord(f"{prefix}:store:{window.store_id}", window.window_start_ms, {
        "store_id": window.store_id, "window_start_ms": window.window_start_ms,
        "window_end_ms": window.window_end_ms, "top_key": f"{prefix}:top:{window.store_id}:{window.window_start_ms}",
    }, event_time_ms=window.window_end_ms - 1)


# ---------------------------------------------------------------- reference run


def replay(movements: Iterable[Movement], model: InventoryModel | None = None,
           watermark_fn: Callable[[int], int] | None = None,
           end_watermark_ms: int = MAX_WATERMARK) -> tuple[dict[str, StockState], list]:
    """The final state per key and all outputs, in order, of running movements as the operator does
    (`udfs.timers.replay_events`; `watermark_fn`: e.g. `bounded_out_of_orderness(bound)`)."""
    run = replay_events(StockKeeper(model), StockState, movements, lambda mv: mv.key, watermark_fn, end_watermark_ms)
    return run.states, run.outputs
