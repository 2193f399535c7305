"""The inventory job end to end against the real stack, compared with the pure-Python reference.

The seeded stream has duplicates, out-of-order events (within the watermark bound), adjustments,
reservations that are released or expire, and poison messages.
"""
import pytest
import redis

from streamsuite.generator import generate
from streamsuite_proto.v1.deadletter_pb2 import DeadLetter
from tests.cold_helpers import read_cold_table
from tests.jobrun import run_bounded
from tests.kafka_helpers import read_topic
from tests.oracles import inventory_oracle
from udfs.inventory import LateEvent, LowStockAlert, WindowClosed

pytestmark = [pytest.mark.integration, pytest.mark.jvm]

KEYS = 60
POISON = 15


@pytest.fixture(scope="module")
def inventory_run(stack):
    stream = generate("inventory", count=5000, keys=KEYS, seed=31, poison=POISON)
    run = run_bounded(stack.settings, "jobs.inventory_counts", stream)
    oracle = inventory_oracle(stream.records)
    assert not [o for o in oracle.outputs if isinstance(o, LateEvent)], "test data must stay within the bound"
    assert stream.truth["counts"]["duplicates"] > 0 and stream.truth["counts"]["out_of_order"] > 0
    return {"settings": run.settings, "oracle": oracle, "dead": run.dead, "prefix": run.prefix,
            "s3_path": run.s3_path}


@pytest.mark.timeout(600)
def test_final_levels_equal_the_reference(inventory_run):
    client = redis.Redis.from_url(inventory_run["settings"].redis_url, decode_responses=True)
    states = inventory_run["oracle"].states
    assert len(states) == KEYS
    for state in states.values():
        hot = client.hgetall(f"{inventory_run['prefix']}:level:{state.store_id}:{state.sku}")
        assert (int(hot["on_hand"]), int(hot["reserved"]), int(hot["available"])) == (
            state.on_hand, state.reserved, state.available), state.key
    rows = read_cold_table(inventory_run["settings"], f"{inventory_run['s3_path']}/levels")
    last = {}
    for row in rows:
        key = (row["store_id"], row["sku"])
        if key not in last or row["version"] > last[key]["version"]:
            last[key] = row
    for state in states.values():
        assert last[(state.store_id, state.sku)]["on_hand"] == state.on_hand


@pytest.mark.timeout(600)
def test_window_counts_are_exact_and_emitted_once(inventory_run):
    expected = sorted((w.store_id, w.sku, w.window_start_ms, w.sales_qty, w.sales_count, w.returns_qty,
                       w.restock_qty) for w in inventory_run["oracle"].outputs if isinstance(w, WindowClosed))
    rows = read_cold_table(inventory_run["settings"], f"{inventory_run['s3_path']}/windows")
    seen = sorted((r["store_id"], r["sku"], r["window_start_ms"], r["sales_qty"], r["sales_count"], r["returns_qty"],
                   r["restock_qty"]) for r in rows)
    assert seen == expected


@pytest.mark.timeout(600)
def test_dead_letters_are_exactly_the_poison(inventory_run):
    records = read_topic(inventory_run["settings"].kafka_bootstrap, inventory_run["dead"])
    payloads = sorted(DeadLetter.FromString(value).payload for _, _, _, value in records)
    assert payloads == sorted(inventory_run["oracle"].poison) and len(payloads) == POISON


@pytest.mark.timeout(600)
def test_alerts_are_not_duplicated_and_match_the_final_state(inventory_run):
    client = redis.Redis.from_url(inventory_run["settings"].redis_url, decode_responses=True)
    prefix = inventory_run["prefix"]
    members = client.zrange(f"{prefix}:alerts:active", 0, -1, withscores=True)
    raised = [o for o in inventory_run["oracle"].outputs if isinstance(o, LowStockAlert)]
    assert raised and len({m for m, _ in members}) == len(members)
    active_keys = {tuple(client.hmget(f"{prefix}:alert:{m}", "store_id", "sku")) for m, score in members if score > 0}
    expected = {(s.store_id, s.sku) for s in inventory_run["oracle"].states.values() if s.alert_id}
    assert active_keys == expected
