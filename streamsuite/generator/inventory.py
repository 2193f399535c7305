"""Stock movements per store and SKU, with re-sent duplicates, late (out-of-order) events and
reservations, some never released."""
from __future__ import annotations

import heapq
import itertools
import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Iterator

from google.protobuf.message import Message

from streamsuite.generator.base import COMMON_OUT_OF_RANGE, DomainGenerator, Emitted, Label, Params, state_key
from streamsuite_proto.v1 import inventory_pb2
from udfs.inventory_records import InventoryModel

SKUS_PER_STORE = 50
OUT_OF_ORDER_SHARE = 0.02
DUPLICATE_SHARE = 0.01
DUPLICATE_DELAY_MESSAGES = (1, 20)
NEVER_RELEASED_SHARE = 0.15
INVENTORY_KIND_NAMES = {v: k.lower() for k, v in inventory_pb2.MovementKind.items()}


@dataclass
class _Shelf:
    store_id: str
    sku: str
    key: bytes
    reorder_point: int
    sequence: int = 0
    on_hand: int = 0
    last_ms: int = 0
    open_reservations: list[tuple[str, int]] = field(default_factory=list)


class InventoryGenerator(DomainGenerator):
    """Stock movements per store and SKU, with re-sent duplicates and late (out-of-order) events."""

    default_keys, default_rate = 1_000, 100.0
    allowed_lateness_ms = InventoryModel().allowed_lateness_ms
    id_field = "event_id"
    missing_field_edits = (("event_id", ""), ("sku", ""), ("reservation_id", None))
    out_of_range_edits = COMMON_OUT_OF_RANGE + (("quantity", -2), ("kind", 42))

    @staticmethod
    def example_event(event_id: str, event_time_ms: int) -> Message:
        return inventory_pb2.InventoryMovement(
            event_id=event_id, store_id="store-0001", sku="sku-000001", event_time_ms=event_time_ms,
            sequence=1, kind=inventory_pb2.SALE, quantity=1)

    def __init__(self, params: Params):
        super().__init__(params)
        rng = self.rng
        per_store = min(params.keys, SKUS_PER_STORE)
        stores = math.ceil(params.keys / per_store)
        pairs = [(s, k) for s in range(stores) for k in range(per_store)][: params.keys]
        self.shelves = []
        for store, sku in pairs:
            store_id, sku_id = f"store-{store + 1:04d}", f"sku-{sku + 1:06d}"
            key = state_key(inventory_pb2.InventoryMovement(store_id=store_id, sku=sku_id))
            self.shelves.append(_Shelf(store_id, sku_id, key, rng.randint(3, 10)))
        self.cum_weights = list(itertools.accumulate(rng.lognormvariate(0.0, 1.0) for _ in self.shelves))
        self.duplicates: list[str] = []
        self.out_of_order: list[dict[str, Any]] = []
        self.reservations: dict[str, bool] = {}
        self.abandoned = 0
        self.active_shelves = 0

    def events(self) -> Iterator[Emitted]:
        rng, p = self.rng, self.params
        clock = float(p.start_time_ms)
        newest = p.start_time_ms
        recent: deque[tuple[int, int]] = deque()
        resend: list[tuple[int, int, Emitted]] = []
        order = itertools.count()
        sent = 0
        while True:
            if resend and resend[0][0] <= sent:
                original = heapq.heappop(resend)[2]
                self.duplicates.append(original.label.event_id)
                sent += 1
                yield original._replace(label=Label("duplicate", original.label.event_id, original.label.tags))
                continue
            clock += rng.expovariate(p.rate) * 1000.0
            if self.past_end(clock):
                return
            item = None
            if p.out_of_order_ms > 0 and rng.random() < OUT_OF_ORDER_SHARE:
                item = self._late_movement(recent, newest)
            if item is None:
                index = rng.choices(range(len(self.shelves)), cum_weights=self.cum_weights)[0]
                item = self._movement(index, int(clock))
                newest = max(newest, item.event_time_ms)
                recent.append((item.event_time_ms, index))
                while recent and recent[0][0] < newest - p.out_of_order_ms:
                    recent.popleft()
            sent += 1
            if rng.random() < DUPLICATE_SHARE:
                heapq.heappush(resend, (sent + rng.randint(*DUPLICATE_DELAY_MESSAGES), next(order), item))
            yield item

    def _late_movement(self, recent: deque[tuple[int, int]], newest: int) -> Emitted | None:
        """A sale or return sent late: earlier than its key's previous event, within the bound."""
        if not recent:
            return None
        index = self.rng.choice(recent)[1]
        shelf = self.shelves[index]
        earliest = max(newest - self.params.out_of_order_ms, self.params.start_time_ms)
        if shelf.sequence == 0 or shelf.last_ms - 1 < earliest:
            return None
        event_time = self.rng.randint(earliest, shelf.last_ms - 1)
        kind = inventory_pb2.SALE if self.rng.random() < 0.8 else inventory_pb2.RETURN
        previous_ms = shelf.last_ms
        item = self._movement(index, event_time, kind)
        self.out_of_order.append({"event_id": item.label.event_id, "key": shelf.key.decode(),
                                  "behind_key_ms": previous_ms - event_time, "lateness_ms": newest - event_time})
        return item._replace(label=item.label._replace(tags=item.label.tags + ("out_of_order",)))

    def late_copy(self, template: Emitted, event_time_ms: int) -> Emitted:
        """A sale or return sent late (a till that held it back)."""
        index = next(i for i, shelf in enumerate(self.shelves) if shelf.key == template.key)
        kind = inventory_pb2.SALE if self.rng.random() < 0.8 else inventory_pb2.RETURN
        return self._movement(index, event_time_ms, kind)

    def _next_kind(self, shelf: _Shelf) -> int:
        options = [(inventory_pb2.SALE, 60), (inventory_pb2.RESERVATION, 9), (inventory_pb2.RETURN, 5),
                   (inventory_pb2.ADJUSTMENT, 2),
                   (inventory_pb2.RESTOCK, 40 if shelf.on_hand < shelf.reorder_point else 2)]
        if shelf.open_reservations:
            options.append((inventory_pb2.RELEASE, 6 * len(shelf.open_reservations)))
        kinds, weights = zip(*options)
        return self.rng.choices(kinds, weights)[0]

    def _movement(self, index: int, event_time: int, kind: int | None = None) -> Emitted:
        rng, shelf = self.rng, self.shelves[index]
        reservation_id = ""
        if shelf.sequence == 0:
            self.active_shelves += 1
            kind, quantity = inventory_pb2.ADJUSTMENT, rng.randint(10, 120)
            shelf.on_hand = quantity
        else:
            kind = kind or self._next_kind(shelf)
            if kind == inventory_pb2.SALE:
                quantity = rng.choices((1, 2, 3, 4, 6), (70, 15, 8, 4, 3))[0]
                shelf.on_hand -= quantity
            elif kind == inventory_pb2.RETURN:
                quantity = 1
                shelf.on_hand += quantity
            elif kind == inventory_pb2.RESTOCK:
                quantity = rng.choice((12, 24, 36, 48))
                shelf.on_hand += quantity
            elif kind == inventory_pb2.ADJUSTMENT:
                quantity = max(0, shelf.on_hand - rng.choice((-1, 0, 1, 1, 2, 3)))
                shelf.on_hand = quantity
            elif kind == inventory_pb2.RESERVATION:
                quantity = rng.randint(1, 3)
                reservation_id = f"res-{self.new_id()}"
                self.reservations[reservation_id] = False
                if rng.random() < NEVER_RELEASED_SHARE:
                    self.abandoned += 1
                else:
                    shelf.open_reservations.append((reservation_id, quantity))
            else:
                reservation_id, quantity = shelf.open_reservations.pop(rng.randrange(len(shelf.open_reservations)))
                self.reservations[reservation_id] = True
        shelf.sequence += 1
        shelf.last_ms = max(shelf.last_ms, event_time)
        movement = inventory_pb2.InventoryMovement(
            event_id=self.new_id(), store_id=shelf.store_id, sku=shelf.sku, event_time_ms=event_time,
            sequence=shelf.sequence, kind=kind, quantity=quantity, reservation_id=reservation_id)
        label = Label("event", movement.event_id, (INVENTORY_KIND_NAMES[kind],))
        return Emitted(shelf.key, self.encode(movement), label, movement, event_time)

    def keys_used(self) -> int:
        return self.active_shelves

    def truth(self) -> dict[str, Any]:
        never_released = [r for r, released in self.reservations.items() if not released]
        return {
            "duplicates": self.duplicates,
            "out_of_order_bound_ms": self.params.out_of_order_ms,
            "out_of_order": self.out_of_order,
            "reservations": {"created": len(self.reservations),
                             "released": len(self.reservations) - len(never_released),
                             "abandoned_by_design": self.abandoned},
            "never_released": never_released,
        }
