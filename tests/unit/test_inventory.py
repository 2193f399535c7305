"""Inventory levels, windows and alerts without a JVM, including out-of-order and late events."""
import itertools
import random
from collections import Counter

import pytest

from jobs.specs import EVENT_TYPES
from streamsuite.generator import generate
from streamsuite_proto.v1 import inventory_pb2
from udfs.inventory import (Duplicate, Ignored, LateEvent, LevelChanged, LowStockAlert, LowStockCleared, Oversell,
                            StockKeeper, WindowClosed, alert_hot_record, latest_window_hot_record, level_hot_record, replay,
                            top_sellers_hot_record)
from udfs.inventory_records import (ADJUSTMENT, KINDS, RELEASE, RESERVATION, RESTOCK, RETURN, SALE, InventoryModel,
                                    Movement, StockState)
from udfs.timers import MIN_WATERMARK, bounded_out_of_orderness

T0 = 1_704_067_200_000  # a minute boundary
MIN = 60_000
_ids = itertools.count(1)


def mv(kind, t, q=1, rid="", seq=None, eid=None, store="s-1", sku="k-1"):
    n = next(_ids)
    return Movement(eid or f"e-{n}", store, sku, t, seq or n, kind, q, rid)


def run(keeper, movements, state=None, watermark=MIN_WATERMARK):
    state = state or StockState()
    outputs = []
    for m in movements:
        state, out = keeper.apply(state, m, watermark)
        outputs += out
    return state, outputs


def of(outputs, cls):
    return [o for o in outputs if isinstance(o, cls)]


def levels(state):
    return state.on_hand, state.reserved, state.available


def test_movement_from_message():
    msg = inventory_pb2.InventoryMovement(event_id="e", store_id="s", sku="k", event_time_ms=T0, sequence=3,
                                          kind=inventory_pb2.RESERVATION, quantity=2, reservation_id="r")
    assert Movement.from_message(msg) == Movement("e", "s", "k", T0, 3, RESERVATION, 2, "r")
    assert Movement.from_message(msg).key == "s|k"
    assert [KINDS[v - 1] for v in (inventory_pb2.SALE, inventory_pb2.RELEASE)] == [SALE, RELEASE]
    with pytest.raises(ValueError, match="kind 0"):
        Movement.from_message(inventory_pb2.InventoryMovement(kind=0))


def test_levels_for_each_kind():
    keeper = StockKeeper()
    steps = [(mv(ADJUSTMENT, T0, 50), (50, 0, 50)), (mv(SALE, T0 + 1, 3), (47, 0, 47)),
             (mv(RESTOCK, T0 + 2, 12), (59, 0, 59)), (mv(RETURN, T0 + 3, 1), (60, 0, 60)),
             (mv(RESERVATION, T0 + 4, 5, rid="r-1"), (60, 5, 55)), (mv(RELEASE, T0 + 5, 5, rid="r-1"), (60, 0, 60))]
    state = StockState()
    for version, (m, expected) in enumerate(steps, 1):
        state, out = keeper.apply(state, m, MIN_WATERMARK)
        assert levels(state) == expected and state.version == version
        assert out == [LevelChanged("s-1", "k-1", *expected, version, m.event_time_ms, False)]
    assert state.applied == 6 and state.key == "s-1|k-1"


def test_duplicate_is_applied_once_even_when_late():
    keeper = StockKeeper()
    sale = mv(SALE, T0 + 5, 2)
    state, _ = run(keeper, [mv(ADJUSTMENT, T0, 20), sale])
    again, out = keeper.apply(state, sale, MIN_WATERMARK)
    assert out == [Duplicate("s-1", "k-1", sale.event_id, sale.event_time_ms)]
    assert levels(again) == (18, 0, 18) and again.version == state.version and again.duplicates == 1
    _, out = keeper.apply(again, sale, T0 + 10 * MIN)
    assert isinstance(out[0], Duplicate)


def test_adjustment_is_absolute_and_ordered_by_event_time():
    keeper = StockKeeper()
    state, _ = run(keeper, [mv(ADJUSTMENT, T0 + 10_000, 40)])
    # a sale from before the count arrives late: already in the count, but still a sale
    state, out = keeper.apply(state, mv(SALE, T0 + 5_000, 3), MIN_WATERMARK)
    assert out == [] and state.on_hand == 40 and state.windows[0].sales_qty == 3 and state.windows[0].sales_count == 1
    state, _ = run(keeper, [mv(SALE, T0 + 15_000, 1)], state)
    assert state.on_hand == 39
    # a newer count that arrives after the later sale: the sale still comes off it
    state, out = keeper.apply(state, mv(ADJUSTMENT, T0 + 12_000, 30), MIN_WATERMARK)
    assert state.on_hand == 29 and of(out, LevelChanged)[0].on_hand == 29
    # an older count does not override, and a sale at the count's own time is in it
    stale = mv(ADJUSTMENT, T0 + 8_000, 100)
    state, out = keeper.apply(state, stale, MIN_WATERMARK)
    assert state.on_hand == 29 and out == [Ignored("s-1", "k-1", stale.event_id, ADJUSTMENT,
                                                   "adjustment older than the latest applied adjustment", T0 + 8_000)]
    state, out = keeper.apply(state, mv(RETURN, T0 + 12_000, 1), MIN_WATERMARK)
    assert state.on_hand == 29 and out == []


def event_time_order_on_hand(movements):
    """The definition: apply in event-time order; a change at a count's own time is in the count."""
    on_hand = 0
    for m in sorted(movements, key=lambda m: (m.event_time_ms, m.kind == ADJUSTMENT, m.sequence)):
        if m.kind == ADJUSTMENT:
            on_hand = m.quantity
        elif m.kind in (SALE, RETURN, RESTOCK):
            on_hand += -m.quantity if m.kind == SALE else m.quantity
    return on_hand


def test_any_arrival_order_gives_the_event_time_order_level_and_velocity():
    rng = random.Random(11)
    keeper = StockKeeper(InventoryModel(velocity_window_ms=10_000, velocity_bucket_ms=2_000))
    for _ in range(200):
        movements = [mv(rng.choice((SALE, SALE, RESTOCK, RETURN, ADJUSTMENT)), T0 + rng.randint(0, 30) * 1000,
                     rng.randint(0, 9)) for _ in range(rng.randint(1, 25))]
        movements = [m if m.quantity or m.kind == ADJUSTMENT else mv(m.kind, m.event_time_ms, 1)
                     for m in movements]
        arrival = movements[:]
        rng.shuffle(arrival)
        state, _ = run(keeper, arrival)
        assert state.on_hand == event_time_order_on_hand(movements)
        since = max(m.event_time_ms for m in movements) // 2_000 * 2_000 - 8_000
        sold = sum(m.quantity for m in movements if m.kind == SALE and m.event_time_ms >= since)
        assert keeper.velocity_per_hour(state) == sold * 360


def test_oversell_is_recorded_not_clamped():
    keeper = StockKeeper()
    state, _ = run(keeper, [mv(ADJUSTMENT, T0, 2)])
    sale = mv(SALE, T0 + 1, 5)
    state, out = keeper.apply(state, sale, MIN_WATERMARK)
    assert levels(state) == (-3, 0, -3) and state.oversells == 1
    assert of(out, LevelChanged)[0].oversold is True
    assert of(out, Oversell) == [Oversell("s-1", "k-1", sale.event_id, 5, -3, T0 + 1)]
    state, out = run(keeper, [mv(RESTOCK, T0 + 2, 10)], state)
    assert state.on_hand == 7 and of(out, LevelChanged)[0].oversold is False and not of(out, Oversell)


def test_reservation_expires_on_its_timer():
    model = InventoryModel(reservation_ttl_ms=15 * MIN)
    keeper = StockKeeper(model)
    state, _ = run(keeper, [mv(ADJUSTMENT, T0, 30), mv(RESERVATION, T0 + 1_000, 4, rid="r-1")])
    assert levels(state) == (30, 4, 26) and keeper.next_timer(state) == T0 + 1_000 + 15 * MIN
    early, out = keeper.on_timer(state, T0 + 1_000 + 15 * MIN - 1)
    assert out == [] and early.reserved == 4 and early.version == state.version
    expired, out = keeper.on_timer(state, T0 + 1_000 + 15 * MIN)
    assert levels(expired) == (30, 0, 30) and expired.version == state.version + 1
    assert out == [LevelChanged("s-1", "k-1", 30, 0, 30, expired.version, T0 + 1_000 + 15 * MIN, False)]
    assert keeper.next_timer(expired) is None


def test_a_later_event_fires_the_expiry_first_as_the_timer_would():
    keeper = StockKeeper(InventoryModel(reservation_ttl_ms=10 * MIN))
    state, _ = run(keeper, [mv(ADJUSTMENT, T0, 30), mv(RESERVATION, T0, 4, rid="r-1")])
    adjustment = mv(ADJUSTMENT, T0 + 10 * MIN, 25)
    later, out = keeper.apply(state, adjustment, MIN_WATERMARK)
    assert levels(later) == (25, 0, 25) and later.version == state.version + 2
    assert of(out, LevelChanged) == [
        LevelChanged("s-1", "k-1", 30, 0, 30, state.version + 1, T0 + 10 * MIN, False),
        LevelChanged("s-1", "k-1", 25, 0, 25, state.version + 2, T0 + 10 * MIN, False)]
    # the same outputs and state when the watermark fired the expiry timer before the event arrived
    expired, by_timer = keeper.on_timer(state, keeper.next_timer(state))
    after_timer, by_event = keeper.apply(expired, adjustment, T0 + 10 * MIN)
    assert by_timer + by_event == out and after_timer == later


def test_the_watermark_at_arrival_decides_nothing():
    keeper = StockKeeper(InventoryModel(reservation_ttl_ms=10 * MIN))
    state, _ = run(keeper, [mv(ADJUSTMENT, T0, 30), mv(RESERVATION, T0, 4, rid="r-1")])
    event = mv(RETURN, T0 + 9 * MIN, 1)
    slow = keeper.apply(state, event, MIN_WATERMARK)
    fast = keeper.apply(state, event, T0 + 20 * MIN)
    assert slow == fast and levels(fast[0]) == (31, 4, 27)


def test_release_after_expiry_is_a_no_op():
    keeper = StockKeeper(InventoryModel(reservation_ttl_ms=MIN))
    state, _ = run(keeper, [mv(ADJUSTMENT, T0, 30), mv(RESERVATION, T0, 4, rid="r-1")])
    state, _ = keeper.on_timer(state, T0 + MIN)
    release = mv(RELEASE, T0 + 2 * MIN, 4, rid="r-1")
    after, out = keeper.apply(state, release, MIN_WATERMARK)
    assert out == [Ignored("s-1", "k-1", release.event_id, RELEASE, "release of an unknown or expired reservation",
                           T0 + 2 * MIN)]
    assert levels(after) == (30, 0, 30) and after.version == state.version
    _, out = keeper.apply(state, mv(RELEASE, T0 + 2 * MIN, 1, rid="never"), MIN_WATERMARK)
    assert isinstance(out[0], Ignored)


def test_late_events_are_judged_by_their_keys_event_time():
    keeper = StockKeeper(InventoryModel(allowed_lateness_ms=MIN))
    state, _ = run(keeper, [mv(ADJUSTMENT, T0, 30), mv(RESTOCK, T0 + 100_000, 12)])
    late = mv(SALE, T0 + 39_999, 2)
    after, out = keeper.apply(state, late, MIN_WATERMARK)
    assert out == [LateEvent("s-1", "k-1", late.event_id, SALE, T0 + 39_999, T0 + 100_000,
                             f"event time {T0 + 39_999} ms is more than the allowed lateness of 60000 ms "
                             f"behind its key's event time {T0 + 100_000} ms")]
    assert after.late == 1 and levels(after) == (42, 0, 42) and after.version == state.version
    assert [w[0] for w in after.windows] == [T0 + MIN]
    on_time, out = keeper.apply(state, mv(SALE, T0 + 40_000, 2), T0 + 10 * MIN)
    assert on_time.on_hand == 40 and on_time.late == 0
    # a fired timer counts as the key's event time: nothing older than it minus the lateness is applied
    fired, _ = keeper.on_timer(state, T0 + 200_000)
    _, out = keeper.apply(fired, mv(SALE, T0 + 139_999, 2), MIN_WATERMARK)
    assert isinstance(out[0], LateEvent) and out[0].key_time_ms == T0 + 200_000


def test_window_counts_are_exact_and_emitted_once():
    model = InventoryModel(window_ms=MIN, allowed_lateness_ms=30_000)
    keeper = StockKeeper(model)
    state, _ = run(keeper, [mv(ADJUSTMENT, T0, 100), mv(SALE, T0 + 1_000, 2), mv(SALE, T0 + 59_999, 3),
                            mv(RETURN, T0 + 30_000, 1), mv(RESTOCK, T0 + 30_000, 12), mv(SALE, T0 + MIN, 4),
                            mv(RESERVATION, T0 + MIN + 10, 1, rid="r")])
    first_due = T0 + MIN + 30_000
    assert keeper.next_timer(state) == first_due
    state, out = keeper.on_timer(state, first_due - 1)
    assert out == []
    state, out = keeper.on_timer(state, first_due)
    assert out == [WindowClosed("s-1", "k-1", T0, T0 + MIN, 5, 2, 1, 12)]
    state, out = keeper.on_timer(state, first_due)
    assert out == []
    _, out = keeper.apply(state, mv(SALE, T0 + 59_000, 1), MIN_WATERMARK)
    assert isinstance(out[0], LateEvent)
    assert keeper.next_timer(state) == T0 + 2 * MIN + 30_000
    state, out = keeper.on_timer(state, T0 + 10 * MIN)
    assert of(out, WindowClosed) == [WindowClosed("s-1", "k-1", T0 + MIN, T0 + 2 * MIN, 4, 1, 0, 0)]
    assert state.windows == [] and keeper.next_timer(state) == T0 + MIN + 10 + model.reservation_ttl_ms


def test_velocity_and_time_to_stockout():
    keeper = StockKeeper(InventoryModel(velocity_window_ms=15 * MIN, reorder_point=0))
    # 2 units a minute for 15 minutes: 30 units in the window, 120 an hour
    sales = [mv(SALE, T0 + i * MIN + 5_000, 2) for i in range(15)]
    state, _ = run(keeper, [mv(ADJUSTMENT, T0, 40)] + sales)
    assert keeper.velocity_per_hour(state) == 120.0
    assert state.available == 10 and keeper.time_to_stockout_ms(state) == 5 * MIN
    # one minute on, the first minute's sales leave the window
    state, _ = run(keeper, [mv(RESTOCK, T0 + 15 * MIN, 20)], state)
    assert keeper.velocity_per_hour(state) == 112.0
    assert keeper.time_to_stockout_ms(state) == int(30 * 3_600_000 / 112)
    state, _ = run(keeper, [mv(RESTOCK, T0 + 60 * MIN, 1)], state)
    assert keeper.velocity_per_hour(state) == 0 and keeper.time_to_stockout_ms(state) == 0
    assert state.sales == []


def test_a_sale_after_a_long_idle_time_costs_the_window_not_the_gap(monkeypatch):
    """Two years without a sale must not build a bucket per idle minute on the way (it did: 5 ms
    per key on the first event after the benchmark's jump from 2024 to now)."""
    import udfs.inventory as inventory

    model = InventoryModel(velocity_window_ms=15 * MIN, reorder_point=0)
    keeper = StockKeeper(model)
    state, _ = run(keeper, [mv(ADJUSTMENT, T0, 100)] + [mv(SALE, T0 + i * MIN, 1) for i in range(5)])
    longest = []
    add_units = inventory._add_units
    def recorded(*args):
        sales = add_units(*args)
        longest.append(len(sales))
        return sales

    monkeypatch.setattr(inventory, "_add_units", recorded)
    later = T0 + 2 * 365 * 24 * 60 * MIN
    state, _ = run(keeper, [mv(SALE, later + 30_000, 3)], state)
    assert longest and max(longest) <= model.velocity_window_ms // model.velocity_bucket_ms + 1
    assert keeper.velocity_per_hour(state) == 3 * 4.0 and state.on_hand == 100 - 4 - 3  # the sale at T0 is in the count


def test_low_stock_alert_once_per_episode_and_cleared_on_restock():
    keeper = StockKeeper(InventoryModel(reorder_point=10, velocity_window_ms=10 * MIN))
    state, out = run(keeper, [mv(ADJUSTMENT, T0, 12), mv(SALE, T0 + MIN, 2)])
    assert not of(out, LowStockAlert)
    state, out = run(keeper, [mv(SALE, T0 + 2 * MIN, 3)], state)
    # 5 units in a 10-minute window = 30 an hour; 7 available last 14 minutes
    assert of(out, LowStockAlert) == [LowStockAlert("s-1|k-1:1", "s-1", "k-1", 7, 10, 14 * MIN, T0 + 2 * MIN,
                                                    state.version)]
    assert state.alert_id == "s-1|k-1:1"
    state, out = run(keeper, [mv(SALE, T0 + 3 * MIN, 1), mv(RESERVATION, T0 + 3 * MIN, 1, rid="r")], state)
    assert not of(out, LowStockAlert)
    state, out = run(keeper, [mv(RESTOCK, T0 + 4 * MIN, 24)], state)
    assert of(out, LowStockCleared) == [LowStockCleared("s-1|k-1:1", "s-1", "k-1", 29, T0 + 4 * MIN, state.version)]
    assert state.alert_id is None
    state, out = run(keeper, [mv(SALE, T0 + 5 * MIN, 25)], state)
    assert [a.alert_id for a in of(out, LowStockAlert)] == ["s-1|k-1:2"]


def test_expiry_clears_an_alert():
    keeper = StockKeeper(InventoryModel(reorder_point=10, reservation_ttl_ms=MIN))
    state, out = run(keeper, [mv(ADJUSTMENT, T0, 12), mv(RESERVATION, T0, 5, rid="r")])
    assert len(of(out, LowStockAlert)) == 1
    state, out = keeper.on_timer(state, T0 + MIN)
    assert [type(o) for o in out] == [LevelChanged, LowStockCleared]


def typical_key(keeper):
    """Fifteen minutes of a busy shelf, a movement every 20 s, with its timers firing as in Flink."""
    state = StockState()
    for i in range(46):
        t = T0 + i * 20_000
        kind = (ADJUSTMENT if i == 0 else RESTOCK if i % 15 == 0 else RETURN if i % 11 == 0
                else RESERVATION if i % 7 == 0 else SALE)
        watermark = t - 5_001
        while keeper.next_timer(state) is not None and keeper.next_timer(state) <= watermark:
            state, _ = keeper.on_timer(state, keeper.next_timer(state))
        state, _ = keeper.apply(state, mv(kind, t, 80 if i == 0 else 24 if kind == RESTOCK else 2,
                                          rid=f"res-{i:040d}", sku="sku-000123", store="store-0042"), watermark)
    assert state.applied == 46 and state.reserved > 0 and state.windows and state.changes
    return state


def test_state_round_trips_exactly_and_stays_small():
    keeper = StockKeeper()
    state = typical_key(keeper)
    encoded = state.to_json()
    assert StockState.from_json(encoded) == state and StockState.from_json(encoded).to_json() == encoded
    assert len(encoded) < 1024
    assert StockState.from_json(None) == StockState() and StockState.from_json("") == StockState()
    with pytest.raises(ValueError, match="encoding version 9"):
        StockState.from_json("[9]")


def test_inputs_are_never_changed():
    keeper = StockKeeper()
    state = typical_key(keeper)
    before = state.to_json()
    keeper.apply(state, mv(SALE, T0 + 14 * MIN, 3, sku="sku-000123", store="store-0042"), T0 + 14 * MIN)
    keeper.apply(state, mv(RESERVATION, T0 + 14 * MIN, 3, rid="x", sku="sku-000123", store="store-0042"), 0)
    keeper.on_timer(state, T0 + 60 * MIN)
    assert state.to_json() == before


def test_dedup_forgets_by_event_time_and_stays_bounded():
    keeper = StockKeeper(InventoryModel(dedup_ttl_ms=10 * MIN, allowed_lateness_ms=MIN, dedup_max_ids=50))
    first = mv(SALE, T0, 1)
    state, _ = run(keeper, [first])
    state, _ = run(keeper, [mv(SALE, T0 + 13 * MIN, 1)], state)
    _, out = keeper.apply(state, first, MIN_WATERMARK)
    assert of(out, Duplicate) == []
    state, _ = run(keeper, [mv(SALE, T0 + 13 * MIN + i, 1) for i in range(80)], state)
    assert sum(len(p) for _, p in state.seen) == 50 * 8


def test_model_config_is_validated():
    with pytest.raises(ValueError, match="window_ms is 0"):
        InventoryModel(window_ms=0)
    with pytest.raises(ValueError, match="allowed_lateness_ms"):
        InventoryModel(allowed_lateness_ms=-1)
    with pytest.raises(ValueError, match="not a multiple"):
        InventoryModel(velocity_window_ms=90_000)
    with pytest.raises(ValueError, match="shorter than allowed_lateness_ms"):
        InventoryModel(dedup_ttl_ms=1_000)
    with pytest.raises(ValueError, match="reorder point -1 of k-1"):
        InventoryModel(reorder_points={"k-1": -1})
    with pytest.raises(ValueError, match="kind 'lost'"):
        Movement("e", "s", "k", T0, 1, "lost", 1)
    assert InventoryModel(reorder_points={"k-1": 3}).reorder_point_for("k-1") == 3


def test_hot_records():
    keeper = StockKeeper(InventoryModel(reorder_point=10))
    state, out = run(keeper, [mv(ADJUSTMENT, T0, 12), mv(SALE, T0 + 1_000, 14)])
    level = level_hot_record(state, "inv", now_ms=5)
    assert level == level_hot_record(of(out, LevelChanged)[-1], "inv", now_ms=5)
    assert level.key == "inv:level:s-1:k-1" and level.version == 2 and level.index_key is None
    assert level.fields == {"store_id": "s-1", "sku": "k-1", "on_hand": -2, "reserved": 0, "available": -2,
                            "oversold": 1, "event_time_ms": T0 + 1_000, "updated_at_ms": 5}
    raised = alert_hot_record(of(out, LowStockAlert)[0], "inv")
    assert raised.key == "inv:alert:s-1|k-1:1" and raised.version == 2 and raised.fields["active"] == 1
    assert (raised.index_key, raised.index_score, raised.index_member) == ("inv:alerts:active", T0 + 1_000,
                                                                           "s-1|k-1:1")
    state, out = run(keeper, [mv(RESTOCK, T0 + 2_000, 24)], state)
    cleared = alert_hot_record(of(out, LowStockCleared)[0], "inv")
    assert cleared.key == raised.key and cleared.version == 3 and cleared.fields["active"] == 0
    assert cleared.index_score == 0 and cleared.index_member == "s-1|k-1:1"
    window = WindowClosed("s-1", "k-1", T0, T0 + MIN, 14, 1, 0, 24)
    top = top_sellers_hot_record(window, "inv")
    assert top.key == f"inv:window:s-1:k-1:{T0}" and top.version == 1
    assert (top.index_key, top.index_score, top.index_member) == (f"inv:top:s-1:{T0}", 14, "k-1")
    assert all(not isinstance(v, bool) for r in (level, raised, cleared, top) for v in r.fields.values())
    latest = latest_window_hot_record(window, "inv")
    assert latest.key == "inv:store:s-1" and latest.version == T0 and latest.fields["top_key"] == top.index_key


def generated(seed=3, count=3000, keys=50):
    stream = generate("inventory", count=count, seed=seed, keys=keys)
    parse = EVENT_TYPES["InventoryMovement"].parse
    return [Movement.from_message(parse(value)) for _, value in stream.records], stream.truth


def test_replay_of_a_generated_stream_keeps_the_invariants():
    movements, truth = generated()
    model = InventoryModel()
    states, outputs = replay(movements, model, bounded_out_of_orderness(truth["params"]["out_of_order_ms"]))
    kinds = Counter(type(o).__name__ for o in outputs)
    assert kinds["Duplicate"] == truth["counts"]["duplicates"] and kinds["LateEvent"] == 0
    assert len(states) == truth["counts"]["keys"]
    assert sum(s.applied for s in states.values()) == truth["counts"]["unique_events"]
    # everything is flushed at the end: no reservation held, no window open, no timer due
    for state in states.values():
        assert state.available == state.on_hand - state.reserved and state.reserved == 0
        assert state.windows == [] and StockKeeper(model).next_timer(state) is None
        assert StockState.from_json(state.to_json()) == state
    unique = list({m.event_id: m for m in movements}.values())
    for key, state in states.items():
        assert state.on_hand == event_time_order_on_hand([m for m in unique if m.key == key])
    windows = of(outputs, WindowClosed)
    assert len({(w.store_id, w.sku, w.window_start_ms) for w in windows}) == len(windows)
    assert sum(w.sales_qty for w in windows) == sum(m.quantity for m in unique if m.kind == SALE)
    per_key = {}
    for level in of(outputs, LevelChanged):
        assert level.version == per_key.get((level.store_id, level.sku), 0) + 1
        assert level.available == level.on_hand - level.reserved and level.oversold == (level.on_hand < 0)
        per_key[(level.store_id, level.sku)] = level.version
    assert per_key == {(s.store_id, s.sku): s.version for s in states.values()}
    raised = [a.alert_id for a in of(outputs, LowStockAlert)]
    assert len(set(raised)) == len(raised) and {c.alert_id for c in of(outputs, LowStockCleared)} <= set(raised)
    assert sum(s.oversells for s in states.values()) == len(of(outputs, Oversell))


def test_replay_is_deterministic_and_routes_late_events():
    movements, truth = generated(seed=5, count=1500, keys=20)
    model = InventoryModel(allowed_lateness_ms=0, dedup_ttl_ms=MIN)
    marks = bounded_out_of_orderness(0)
    states, outputs = replay(movements, model, marks)
    again, outputs_again = replay(movements, model, marks)
    assert outputs == outputs_again and states == again
    late = of(outputs, LateEvent)
    assert late and all(e.event_time_ms < e.key_time_ms for e in late)
    assert sum(s.late for s in states.values()) == len(late)
    assert sum(s.applied + s.late + s.duplicates for s in states.values()) == len(movements)


def by_key(outputs):
    """Each key's outputs in order: what a replay must keep, whatever the order across keys."""
    keyed = {}
    for o in outputs:
        keyed.setdefault((o.store_id, o.sku), []).append(o)
    return keyed


def test_outputs_do_not_depend_on_when_the_watermark_fires_timers():
    """A watermark that lags (a replay after a restore) and one that follows the stream closely
    give every key the same outputs: the generated stream keeps each event within the
    out-of-orderness bound of its key's event time or of the newest event (docs/faults.md)."""
    movements, truth = generated(seed=7, count=3000, keys=30)
    model = InventoryModel(reservation_ttl_ms=2 * MIN)
    lagging_states, lagging = replay(movements, model)
    eager_states, eager = replay(movements, model, bounded_out_of_orderness(truth["params"]["out_of_order_ms"]))
    assert of(lagging, WindowClosed) and by_key(lagging) == by_key(eager) and lagging_states == eager_states
