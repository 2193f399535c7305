"""Inventory counts: stock movements -> exact levels, windowed sales, low-stock alerts -> Redis and S3.

    Kafka inventory.movements -> decode+validate --(bad bytes, late events, processing errors)--> Kafka inventory.deadletter
                                    |
                          key by store|sku
                                    |
       CountStock (StockState: levels, reservations, dedup ids, open windows; one event-time timer)
            |              |                                     |
   Redis <p>:level:<store>:<sku>, <p>:alert:<id>,     S3 inventory/levels/dt=...   S3 inventory/windows/dt=...
         <p>:alerts:active, <p>:top:<store>:<window>   (every level change)         (closed sales windows)

Run locally: `python -m jobs.inventory_counts [--bounded] [--set key=value ...]`; the same file is
what `flink run -py` submits.
"""
from __future__ import annotations

import sys

from pyflink.common import Row
from pyflink.datastream import OutputTag

from jobs import cli, cold_sink, decoding, kafka, streams
from jobs.config import JobConfig
from jobs.operators import DEAD_LETTERS, TimedStateFunction, keyed_operator_sinks
from jobs.specs import INVENTORY
from streamsuite_proto.v1.inventory_pb2 import InventoryMovement
from udfs.inventory import (Duplicate, LateEvent, LevelChanged, LowStockAlert, LowStockCleared, Oversell, StockKeeper,
                            WindowClosed, alert_hot_record, latest_window_hot_record, level_hot_record,
                            top_sellers_hot_record)
from udfs.inventory_records import InventoryModel, Movement, StockState
from udfs.codec import unframe
from udfs.events import event_date

SPEC = INVENTORY
LEVELS, WINDOW_TABLE = SPEC.cold("levels"), SPEC.cold("windows")
WINDOWS = OutputTag("windows", WINDOW_TABLE.columns.row_type())


class CountStock(TimedStateFunction):
    """Keyed by store|sku: the StockKeeper over checkpointed state, outputs to Redis, S3 and late data."""

    state_name, core_type, state_type = "stock", StockKeeper, StockState

    def make_core(self):
        self.duplicates = self.metrics.counter("events_duplicate")
        self.oversells = self.metrics.counter("oversells")
        return super().make_core()

    def parse(self, payload):
        return Movement.from_message(InventoryMovement.FromString(unframe(payload)[1]))

    def handle(self, outputs, ctx, payload, now_ms):
        for out in outputs:
            if isinstance(out, LevelChanged):
                self.hot(level_hot_record(out, self.prefix, now_ms))
                yield Row(out.store_id, out.sku, out.on_hand, out.reserved, out.available, out.version,
                          out.event_time_ms, out.oversold, event_date(out.event_time_ms))
            elif isinstance(out, (LowStockAlert, LowStockCleared)):
                if isinstance(out, LowStockAlert):
                    self.alerts.inc()
                self.hot(alert_hot_record(out, self.prefix))
            elif isinstance(out, WindowClosed):
                self.hot(top_sellers_hot_record(out, self.prefix))
                self.hot(latest_window_hot_record(out, self.prefix))
                yield WINDOWS, Row(out.store_id, out.sku, out.window_start_ms, out.window_end_ms, out.sales_qty,
                                   out.sales_count, out.returns_qty, out.restock_qty,
                                   event_date(out.window_start_ms))
            elif isinstance(out, LateEvent):
                yield DEAD_LETTERS, self.late_letter(payload, out.reason, out.event_time_ms)
            elif isinstance(out, Duplicate):
                self.duplicates.inc()
            elif isinstance(out, Oversell):
                self.oversells.inc()


def build(env, config: JobConfig) -> None:
    decoded = decoding.decode(kafka.input_bytes(env, config), config, SPEC.event_type)
    levels = (decoded.events
              .process(CountStock(config), output_type=LEVELS.columns.row_type())
              .name(SPEC.operator).uid(SPEC.uid(SPEC.operator)))
    keyed_operator_sinks(levels, decoded, config)
    cold = cold_sink.ColdSink(env, config)
    cold.add(LEVELS, levels)
    cold.add(WINDOW_TABLE, streams.side_output(levels, WINDOWS))
    cold.attach()


def main(argv: list[str] | None = None) -> int:
    return cli.run_job(SPEC, InventoryModel(), build, argv)


if __name__ == "__main__":
    sys.exit(main())
