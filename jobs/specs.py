"""Each job declared once: its name, input event type (declared beside its domain core in `udfs/`,
with the key its state is partitioned by), topics, keyed operator, hot keys and cold tables. The
job's wiring (`jobs/<module>.py`) builds from it; the local stack creates its topics, and the
generator, the benchmark, the fault harness and the tests read it, so none of them keeps a list of
its own that could drift from the job.

Plain Python (no PyFlink), so the tools read it without starting anything.
"""
from __future__ import annotations

from dataclasses import dataclass

from jobs.tables import ColdTable, columns
from udfs import fraud, inventory_records, maintenance, maintenance_records
from udfs.events import EventType

COLD_BUCKET = "streamsuite-cold"
CHECKPOINT_BUCKET = "streamsuite-checkpoints"
BUCKETS = (COLD_BUCKET, CHECKPOINT_BUCKET)


@dataclass(frozen=True)
class JobSpec:
    job: str
    # The wiring: `python -m <module>`, and `jobs/<module>.py` for `flink run -py`.
    module: str
    event_type: EventType
    input_topic: str
    # The keyed operator's name: the start of its Flink vertex name, which the benchmark looks for.
    operator: str
    # The Redis keys the job writes, as glob patterns after `redis.key_prefix:`; the first is the one a
    # reader polls for the newest result (the benchmark samples it for latency).
    hot_keys: tuple[str, ...]
    cold_tables: tuple[ColdTable, ...]
    partitions: int = 4
    # The control topic of rule sets the job reads beside its input (one partition: read in order).
    rules_topic: str = ""

    @property
    def dead_letter_topic(self) -> str:
        return f"{self.job}.deadletter"

    @property
    def script(self) -> str:
        return self.module.replace(".", "/") + ".py"

    def uid(self, operator: str) -> str:
        """The stable uid of one of the job's operators: its state's name in every savepoint."""
        return f"{self.job}-{operator}"

    def cold(self, name: str) -> ColdTable:
        return next(table for table in self.cold_tables if table.name == name)


SCORE_FEATURES = ("velocity_1m", "velocity_1h", "small_amounts_10m", "amount_z", "travel_km", "travel_speed_kmh",
                  "new_country", "new_merchant", "high_risk_mcc", "history")

FRAUD = JobSpec(
    job="fraud", module="jobs.fraud_scoring", event_type=fraud.EVENT_TYPE,
    input_topic="fraud.transactions", operator="score",
    hot_keys=("card:*", "alert:*", "alerts"),
    cold_tables=(
        ColdTable("scores", columns(
            ("transaction_id", "STRING"), ("card_id", "STRING"), ("event_time_ms", "BIGINT"), ("sequence", "BIGINT"),
            ("amount_minor", "BIGINT"), ("merchant_id", "STRING"), ("merchant_category", "STRING"),
            ("country", "STRING"), ("score", "DOUBLE"), ("reasons", "STRING"), ("alert", "BOOLEAN"),
            ("version", "BIGINT"), ("rules_version", "BIGINT"), *((f, "DOUBLE") for f in SCORE_FEATURES),
            # The shadow rule set in force, if any (-1: none), and what it would have decided.
            ("shadow_rules_version", "BIGINT"), ("shadow_score", "DOUBLE"), ("shadow_reasons", "STRING"),
            ("shadow_alert", "BOOLEAN"), ("dt", "STRING"))),
        ColdTable("alerts", columns(
            ("alert_id", "STRING"), ("card_id", "STRING"), ("transaction_id", "STRING"), ("event_time_ms", "BIGINT"),
            ("sequence", "BIGINT"), ("score", "DOUBLE"), ("reasons", "STRING"), ("rules_version", "BIGINT"),
            ("dt", "STRING"))),
    ),
    rules_topic="fraud.rules",
)

INVENTORY = JobSpec(
    job="inventory", module="jobs.inventory_counts", event_type=inventory_records.EVENT_TYPE,
    input_topic="inventory.movements", operator="count-stock",
    hot_keys=("level:*", "alert:*", "alerts:active", "window:*", "top:*", "store:*"),
    cold_tables=(
        ColdTable("levels", columns(
            ("store_id", "STRING"), ("sku", "STRING"), ("on_hand", "BIGINT"), ("reserved", "BIGINT"),
            ("available", "BIGINT"), ("version", "BIGINT"), ("event_time_ms", "BIGINT"), ("oversold", "BOOLEAN"),
            ("dt", "STRING"))),
        ColdTable("windows", columns(
            ("store_id", "STRING"), ("sku", "STRING"), ("window_start_ms", "BIGINT"), ("window_end_ms", "BIGINT"),
            ("sales_qty", "BIGINT"), ("sales_count", "BIGINT"), ("returns_qty", "BIGINT"), ("restock_qty", "BIGINT"),
            ("dt", "STRING"))),
    ),
)

MAINTENANCE = JobSpec(
    job="maintenance", module="jobs.predictive_maintenance", event_type=maintenance_records.EVENT_TYPE,
    input_topic="maintenance.readings", operator="monitor-machine",
    hot_keys=("machine:*", "alert:*", "alerts"),
    cold_tables=(ColdTable("features", columns(*maintenance.FEATURE_COLUMNS)),),
)

JOBS: dict[str, JobSpec] = {spec.job: spec for spec in (FRAUD, INVENTORY, MAINTENANCE)}

# Every job's input event type by its message name (`CardTransaction`, ...), as the decode step, the
# generator, the fault harness and the tests look them up.
EVENT_TYPES: dict[str, EventType] = {spec.event_type.name: spec.event_type for spec in JOBS.values()}
