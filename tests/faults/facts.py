"""What the fault harness knows about each job: its input, its reference outputs, and how to compare.

One adapter per job (`JOB_FACTS`): the job file and module, the generator domain and options, the
oracle, the end markers that make the last watermark definite, and the checks of Redis and S3
against the oracle. Besides the oracle (the domain code run in plain Python), each adapter checks
facts that do not come from the domain code: the dead letters are exactly the poison and the
events the generator made late, byte for byte; per key, the versions follow from counts of what
the generator made or from the job's own rows (see each adapter).
"""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import astuple, dataclass, field
from typing import Callable

import redis

from jobs.specs import COLD_BUCKET
from streamsuite.generator import GeneratedStream, generate
from streamsuite_proto.v1 import inventory_pb2, maintenance_pb2
from tests.cold_helpers import read_cold_table
from tests.faults.checks import Check
from tests.oracles import fraud_oracle, inventory_oracle, maintenance_oracle
from udfs.hot import HotRecord

# The job's bounded out-of-orderness (kafka.max_out_of_orderness_ms, its default).
OUT_OF_ORDERNESS_MS = 5_000
# End markers are this far past the newest event: every reservation, window and silence is due by then.
END_MARKER_AHEAD_MS = 86_400_000
# Wall-clock fields of hot records: they differ between any two runs.
WALL_CLOCK_FIELDS = ("updated_at_ms",)


@dataclass
class Expected:
    """A job's reference outputs for one input."""

    poison: list[bytes]
    # Raw bytes of the valid events the job must dead-letter as late.
    late: list[bytes] = field(default_factory=list)
    # Redis after the run: hash key -> fields as stored (version included), index key -> {member: score}.
    hashes: dict[str, dict[str, str]] = field(default_factory=dict)
    indexes: dict[str, dict[str, float]] = field(default_factory=dict)
    # S3: table -> (column names, multiset of rows).
    cold: dict[str, tuple[tuple[str, ...], Counter]] = field(default_factory=dict)
    # The hot keys whose final versions say the run is complete (and that the sampler watches).
    entity_versions: dict[str, int] = field(default_factory=dict)
    oracle: object = None


def redis_after(records: list[HotRecord]) -> tuple[dict[str, dict[str, str]], dict[str, dict[str, float]]]:
    """Redis after the job's upserts in order, as the hot sink's script applies them (a write wins only
    if its version is newer; fields it does not name stay; the index entry moves with the write)."""
    hashes: dict[str, dict[str, str]] = {}
    indexes: dict[str, dict[str, float]] = defaultdict(dict)
    for record in records:
        current = hashes.get(record.key)
        if current is not None and int(current["version"]) >= record.version:
            continue
        flat = record.field_values()
        hashes[record.key] = {**(current or {}), "version": str(record.version), **dict(zip(flat[::2], flat[1::2]))}
        if record.index_key:
            indexes[record.index_key][record.index_member] = float(record.index_score)
    return hashes, dict(indexes)


def valid_per_key(stream_records: list[tuple[bytes, bytes]], labels) -> Counter:
    """The number of valid events (duplicates and late ones included) the generator made per key."""
    return Counter(key.decode() for (key, _), label in zip(stream_records, labels) if label.kind != "poison")


def generator_dead_letters(stream: GeneratedStream) -> list[bytes]:
    """What the generator says must be dead-lettered: its poison and the events it made late."""
    return [value for (_, value), label in zip(stream.records, stream.labels)
            if label.kind == "poison" or (label.kind != "poison" and "late" in label.tags)]


class JobFacts:
    job = ""
    domain = ""
    module = ""
    job_file = ""
    # `python -m tests.faults` run sizes: input options and the feed rate (events/s of wall clock).
    run_defaults: dict = {}

    def stream(self, count: int, keys: int, poison: int, seed: int) -> GeneratedStream:
        return generate(self.domain, count=count, keys=keys, seed=seed, poison=poison, **self.stream_options())

    def stream_options(self) -> dict:
        return {}

    def end_marker(self, partition: int, time_ms: int):
        """(key, message) of the marker for `partition` at `time_ms`; None: the job has no timer to close."""
        return None

    def end_markers(self, newest_ms: int, partitions: int) -> list[tuple[bytes, bytes, int, int]]:
        """(key, value, time, partition) written after the input, one per partition, ahead of its newest
        event, so every timer of every key comes due."""
        time_ms, markers = newest_ms + END_MARKER_AHEAD_MS, []
        for p in range(partitions):
            marker = self.end_marker(p, time_ms)
            if marker is not None:
                key, message = marker
                markers.append((key, message.SerializeToString(), time_ms, p))
        return markers

    def expect(self, records: list[tuple[bytes, bytes]], prefix: str, end_watermark_ms: int,
               rules_records: list[bytes]) -> Expected:
        """The reference outputs of `records` (the input and the end markers) under Redis prefix `prefix`,
        with every timer due by `end_watermark_ms` fired."""
        raise NotImplementedError

    def checks(self, client: redis.Redis, settings, s3_prefix: str, prefix: str, expected: Expected,
               stream: GeneratedStream) -> list[Check]:
        return cold_checks(settings, s3_prefix, expected) + hot_checks(client, expected)


def cold_checks(settings, s3_prefix: str, expected: Expected) -> list[Check]:
    """Each S3 table's rows equal the oracle's as a multiset (no loss, no duplicate, the same values)."""
    checks = []
    for table, (columns, rows) in expected.cold.items():
        seen = Counter(tuple(row[c] for c in columns)
                       for row in read_cold_table(settings, f"{COLD_BUCKET}/{s3_prefix}/{table}"))
        missing, extra = rows - seen, seen - rows
        checks.append(Check(f"s3 {table} rows", f"{sum(rows.values())}, the oracle's multiset",
                            f"{sum(seen.values())} ({sum(missing.values())} missing, {sum(extra.values())} extra)",
                            seen == rows))
    return checks


def hot_checks(client: redis.Redis, expected: Expected) -> list[Check]:
    """Every hash the oracle writes, field by field (wall-clock fields aside), and every index."""
    keys = list(expected.hashes)
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.hgetall(key)
    differ = []
    for key, seen in zip(keys, pipe.execute()):
        want = {k: v for k, v in expected.hashes[key].items() if k not in WALL_CLOCK_FIELDS}
        if {k: v for k, v in seen.items() if k not in WALL_CLOCK_FIELDS} != want:
            differ.append(key)
    index_keys = sorted(expected.indexes)
    pipe = client.pipeline(transaction=False)
    for key in index_keys:
        pipe.zrange(key, 0, -1, withscores=True)
    wrong_indexes = [key for key, seen in zip(index_keys, pipe.execute()) if dict(seen) != expected.indexes[key]]
    first = f" (first: {differ[0]})" if differ else ""
    return [Check("redis hashes", f"{len(keys)} equal the oracle", f"{len(differ)} differ{first}", not differ),
            Check("redis indexes", f"{len(index_keys)} equal the oracle", f"{len(wrong_indexes)} differ",
                  not wrong_indexes)]


class FraudFacts(JobFacts):
    """The fraud job; its Redis and S3 checks are the ones the harness has always made."""

    job, domain, module, job_file = "fraud", "fraud", "jobs.fraud_scoring", "jobs/fraud_scoring.py"
    run_defaults = {"count": 60_000, "keys": 300, "poison": 40, "seed": 17, "rate": 3_000}

    def expect(self, records, prefix, end_watermark_ms, rules_records) -> Expected:
        oracle = fraud_oracle(records, rules_records=rules_records)
        return Expected(oracle.poison, oracle=oracle,
                        entity_versions={f"{prefix}:card:{card}": s.version for card, s in oracle.latest.items()})

    def checks(self, client, settings, s3_prefix, prefix, expected, stream) -> list[Check]:
        oracle = expected.oracle
        checks = []
        rows = read_cold_table(settings, f"{COLD_BUCKET}/{s3_prefix}/scores")
        ids = [row["transaction_id"] for row in rows]
        expected_ids = sorted(s.transaction.transaction_id for s in oracle.scored)
        checks.append(Check("s3 rows", f"{len(expected_ids)} unique", f"{len(ids)} ({len(set(ids))} unique)",
                            sorted(ids) == expected_ids))
        by_id = {row["transaction_id"]: row for row in rows}
        wrong = sum(1 for s in oracle.scored
                    if s.transaction.transaction_id in by_id
                    and (by_id[s.transaction.transaction_id]["score"], by_id[s.transaction.transaction_id]["version"],
                         by_id[s.transaction.transaction_id]["rules_version"]) != (s.score, s.version, s.rules_version))
        checks.append(Check("s3 values", "0 rows differ from the oracle", f"{wrong} differ", wrong == 0))
        mismatched = 0
        for card, scored in oracle.latest.items():
            hot = client.hgetall(f"{prefix}:card:{card}")
            if (int(hot.get("version", 0)), float(hot.get("score", -1)), hot.get("reasons")) != (
                    scored.version, scored.score, ",".join(scored.reasons)):
                mismatched += 1
        checks.append(Check("redis cards", f"{len(oracle.latest)} equal the oracle", f"{mismatched} differ",
                            mismatched == 0))
        alerts = client.zrange(f"{prefix}:alerts", 0, -1)
        expected_alerts = sorted(s.alert_id for s in oracle.alerts)
        checks.append(Check("redis alerts", f"{len(expected_alerts)}", f"{len(alerts)}",
                            sorted(alerts) == expected_alerts))
        # Domain-independent: a card's version counts its transactions, as many as the generator made.
        made = valid_per_key(stream.records, stream.labels)
        pipe = client.pipeline(transaction=False)
        for card in made:
            pipe.hget(f"{prefix}:card:{card}", "version")
        off = sum(int(v or 0) != made[card] for card, v in zip(made, pipe.execute()))
        checks.append(Check("card version = transactions generated", f"{len(made)} cards", f"{off} differ", off == 0))
        return checks


class InventoryFacts(JobFacts):
    """Inventory counts. Domain-independent: per key and one-minute window, its S3 window row and its hot
    window hash count the sales (in number and units), returns and restocks (in units) the generator
    made in that window (each id once, none it made late), one row per window it put such an event in;
    and its S3 level rows are its versions 1..n, each once, with n its Redis version. (The level hash
    carries no event count: its version counts level changes, which only the domain code knows.)"""

    job, domain, module, job_file = "inventory", "inventory", "jobs.inventory_counts", "jobs/inventory_counts.py"
    # 20 events/s of event time over 300 keys: 33 minutes of event time, so reservations (15 minutes)
    # expire and windows (1 minute) close mid-stream, not only at the end markers.
    run_defaults = {"count": 40_000, "keys": 300, "poison": 40, "seed": 17, "rate": 2_000}

    def stream_options(self) -> dict:
        return {"rate": 20.0, "late": 60}

    def end_marker(self, partition, time_ms):
        movement = inventory_pb2.InventoryMovement(
            event_id=f"end-marker-{partition}", store_id="end-marker", sku=f"partition-{partition}",
            event_time_ms=time_ms, sequence=1, kind=inventory_pb2.ADJUSTMENT, quantity=0)
        return f"end-marker|partition-{partition}".encode(), movement

    def expect(self, records, prefix, end_watermark_ms, rules_records) -> Expected:
        from udfs.inventory import (LateEvent, LevelChanged, LowStockAlert, LowStockCleared, WindowClosed,
                                    alert_hot_record, latest_window_hot_record, level_hot_record,
                                    top_sellers_hot_record)

        oracle = inventory_oracle(records, out_of_orderness_ms=OUT_OF_ORDERNESS_MS, end_watermark_ms=end_watermark_ms)
        hot: list[HotRecord] = []
        levels, windows, late_ids = Counter(), Counter(), []
        for out in oracle.outputs:
            if isinstance(out, LevelChanged):
                hot.append(level_hot_record(out, prefix, 0))
                levels[astuple(out)] += 1
            elif isinstance(out, (LowStockAlert, LowStockCleared)):
                hot.append(alert_hot_record(out, prefix))
            elif isinstance(out, WindowClosed):
                hot += [top_sellers_hot_record(out, prefix), latest_window_hot_record(out, prefix)]
                windows[astuple(out)] += 1
            elif isinstance(out, LateEvent):
                late_ids.append(out.event_id)
        hashes, indexes = redis_after(hot)
        entity = {k: int(v["version"]) for k, v in hashes.items() if k.startswith(f"{prefix}:level:")}
        return Expected(oracle.poison, late=late_payloads(records, late_ids, "InventoryMovement", "event_id"),
                        hashes=hashes, indexes=indexes, entity_versions=entity, oracle=oracle,
                        cold={"levels": (LEVEL_FIELDS, levels), "windows": (WINDOW_FIELDS, windows)})

    def checks(self, client, settings, s3_prefix, prefix, expected, stream) -> list[Check]:
        checks = super().checks(client, settings, s3_prefix, prefix, expected, stream)
        rows = read_cold_table(settings, f"{COLD_BUCKET}/{s3_prefix}/levels")
        versions = defaultdict(list)
        for row in rows:
            versions[f"{prefix}:level:{row['store_id']}:{row['sku']}"].append(row["version"])
        pipe = client.pipeline(transaction=False)
        for key in versions:
            pipe.hget(key, "version")
        off = sum(sorted(seen) != list(range(1, int(hot or 0) + 1))
                  for seen, hot in zip(versions.values(), pipe.execute()))
        checks.append(Check("level rows per key = versions 1..redis version", f"{len(versions)} keys",
                            f"{off} differ", off == 0 and bool(versions)))
        windows = read_cold_table(settings, f"{COLD_BUCKET}/{s3_prefix}/windows")
        checks.append(inventory_windows_check(windows, stream, "s3"))
        checks.append(inventory_windows_check(list(read_hashes(client, f"{prefix}:window:*").values()), stream,
                                              "redis"))
        return checks


class MaintenanceFacts(JobFacts):
    """Predictive maintenance. Domain-independent: per machine and sliding window, its S3 feature row
    counts the readings the generator made in that window (each id once, none it made late), one
    row per window it put a reading in; its hot record's version is that number of windows and its
    window_end_ms the last one's end; its feature rows count the windows scored, which is its Redis
    version; and no machine has two rows for one window."""

    job, domain = "maintenance", "maintenance"
    module, job_file = "jobs.predictive_maintenance", "jobs/predictive_maintenance.py"
    # 20 readings/s of event time over 100 machines (one each 5 s): 33 minutes of event time.
    run_defaults = {"count": 40_000, "keys": 100, "poison": 40, "seed": 17, "rate": 2_000}

    def stream_options(self) -> dict:
        return {"late": 60, "resend": 40}

    def end_marker(self, partition, time_ms):
        reading = maintenance_pb2.SensorReading(
            reading_id=f"end-marker-{partition}", machine_id=f"end-marker-{partition}",
            event_time_ms=time_ms, sequence=1, temperature_c=20.0)
        return reading.machine_id.encode(), reading

    def expect(self, records, prefix, end_watermark_ms, rules_records) -> Expected:
        from udfs.maintenance import (FEATURE_COLUMNS, Alert, LateReading, MachineHealth, WindowFeatures,
                                      alert_hot_record, health_hot_record)

        outputs, poison = maintenance_oracle(records, out_of_orderness_ms=OUT_OF_ORDERNESS_MS,
                                             end_watermark_ms=end_watermark_ms)
        hot: list[HotRecord] = []
        features, late_ids = Counter(), []
        for out in outputs:
            if isinstance(out, WindowFeatures):
                features[out.row()[:-1]] += 1
            elif isinstance(out, MachineHealth):
                hot.append(health_hot_record(out, prefix, 0))
            elif isinstance(out, Alert):
                hot.append(alert_hot_record(out, prefix))
            elif isinstance(out, LateReading):
                late_ids.append(out.reading.reading_id)
        hashes, indexes = redis_after(hot)
        entity = {k: int(v["version"]) for k, v in hashes.items() if k.startswith(f"{prefix}:machine:")}
        columns = tuple(name for name, _ in FEATURE_COLUMNS[:-1])
        return Expected(poison, late=late_payloads(records, late_ids, "SensorReading", "reading_id"),
                        hashes=hashes, indexes=indexes, entity_versions=entity, oracle=outputs,
                        cold={"features": (columns, features)})

    def checks(self, client, settings, s3_prefix, prefix, expected, stream) -> list[Check]:
        checks = super().checks(client, settings, s3_prefix, prefix, expected, stream)
        rows = read_cold_table(settings, f"{COLD_BUCKET}/{s3_prefix}/features")
        windows = Counter((row["machine_id"], row["window_start_ms"]) for row in rows)
        per_machine = Counter(machine for machine, _ in windows.elements())
        pipe = client.pipeline(transaction=False)
        for machine in per_machine:
            pipe.hget(f"{prefix}:machine:{machine}", "version")
        off = sum(int(v or 0) != per_machine[m] for m, v in zip(per_machine, pipe.execute()))
        twice = sum(1 for n in windows.values() if n > 1)
        checks.append(Check("feature rows per machine = redis version, one per window", f"{len(per_machine)} machines",
                            f"{off} differ, {twice} windows twice", off == 0 and twice == 0 and bool(per_machine)))
        checks.append(maintenance_windows_check(rows, stream))
        checks.append(machine_hot_check(read_hashes(client, f"{prefix}:machine:*"), prefix, stream))
        return checks


LEVEL_FIELDS = ("store_id", "sku", "on_hand", "reserved", "available", "version", "event_time_ms", "oversold")
WINDOW_FIELDS = ("store_id", "sku", "window_start_ms", "window_end_ms", "sales_qty", "sales_count", "returns_qty",
                 "restock_qty")


def generated_inventory_windows(stream: GeneratedStream) -> dict[tuple[str, int], tuple[int, int, int, int]]:
    """Per (key, one-minute window start): (sales units, sales, return units, restock units) of the
    events the generator made, each id once (its originals, not the copies it re-sent), none it made
    late. Only the generator's labels, the raw events and the window size are used."""
    from udfs.inventory import InventoryModel

    window_ms = InventoryModel().window_ms
    made: dict[tuple[str, int], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for (key, value), label in zip(stream.records, stream.labels):
        if label.kind != "event" or "late" in label.tags or not {"sale", "return", "restock"} & set(label.tags):
            continue
        movement = inventory_pb2.InventoryMovement.FromString(value)
        total = made[key.decode(), movement.event_time_ms - movement.event_time_ms % window_ms]
        if "sale" in label.tags:
            total[0] += movement.quantity
            total[1] += 1
        else:
            total[2 if "return" in label.tags else 3] += movement.quantity
    return {k: tuple(v) for k, v in made.items()}


def inventory_windows_check(window_rows: list[dict], stream: GeneratedStream, where: str) -> Check:
    """Every window row (S3 rows or the hot window hashes) against the generator's events in its
    window, and one row for each window the generator put an event in."""
    made = generated_inventory_windows(stream)
    seen: dict[tuple[str, int], list] = defaultdict(list)
    for row in window_rows:
        seen[f"{row['store_id']}|{row['sku']}", int(row["window_start_ms"])].append(
            tuple(int(row[f]) for f in ("sales_qty", "sales_count", "returns_qty", "restock_qty")))
    off = [w for w in set(made) | set(seen) if seen.get(w) != [made.get(w)]]
    keys = {key for key, _ in made}
    first = f" (first: {min(off)})" if off else ""
    return Check(f"{where} windows = sales, returns, restocks generated (once, not late)",
                 f"{len(made)} windows of {len(keys)} keys", f"{len(off)} differ{first}",
                 not off and bool(made))


def generated_maintenance_windows(stream: GeneratedStream) -> dict[tuple[str, int], int]:
    """Per (machine, sliding window start): the readings the generator made in the window, each id
    once (its originals, not the copies it re-sent), none it made late. Only the labels, the readings'
    event times and the window geometry (size and slide, aligned to the epoch) are used."""
    from udfs.maintenance import MaintenanceModel

    model = MaintenanceModel()
    made: Counter = Counter()
    for (key, value), label in zip(stream.records, stream.labels):
        if label.kind != "event" or "late" in label.tags:
            continue
        t = maintenance_pb2.SensorReading.FromString(value).event_time_ms
        pane_end = (t // model.slide_ms + 1) * model.slide_ms
        for end in range(pane_end, pane_end + model.window_ms, model.slide_ms):
            made[key.decode(), end - model.window_ms] += 1
    return dict(made)


def maintenance_windows_check(feature_rows: list[dict], stream: GeneratedStream) -> Check:
    """Every feature row's reading count against the generator's readings in its window, and one row
    for each window the generator put a reading in."""
    made = generated_maintenance_windows(stream)
    seen: dict[tuple[str, int], list] = defaultdict(list)
    for row in feature_rows:
        seen[row["machine_id"], int(row["window_start_ms"])].append(int(row["readings"]))
    off = [w for w in set(made) | set(seen) if seen.get(w) != [made.get(w)]]
    first = f" (first: {min(off)})" if off else ""
    return Check("s3 windows = readings generated per window (once, not late)",
                 f"{len(made)} windows of {len({m for m, _ in made})} machines", f"{len(off)} differ{first}",
                 not off and bool(made))


def machine_hot_check(hashes: dict[str, dict[str, str]], prefix: str, stream: GeneratedStream) -> Check:
    """Per machine, its hot record: version = the windows the generator put a reading in (one health
    score per window), window_end_ms = the end of the last of them."""
    from udfs.maintenance import MaintenanceModel

    window_ms = MaintenanceModel().window_ms
    windows = Counter(machine for machine, _ in generated_maintenance_windows(stream))
    last: dict[str, int] = {}
    for machine, start in generated_maintenance_windows(stream):
        last[machine] = max(last.get(machine, start), start)
    off = []
    for machine, n in windows.items():
        hot = hashes.get(f"{prefix}:machine:{machine}", {})
        if (int(hot.get("version", 0)), int(hot.get("window_end_ms", 0))) != (n, last[machine] + window_ms):
            off.append(machine)
    first = f" (first: {min(off)})" if off else ""
    return Check("redis machine version = windows generated, window_end_ms = the last one's end",
                 f"{len(windows)} machines", f"{len(off)} differ{first}", not off and bool(windows))


def read_hashes(client: redis.Redis, pattern: str) -> dict[str, dict[str, str]]:
    """Every hash whose key matches `pattern`, read back."""
    keys = sorted(client.scan_iter(match=pattern, count=1000))
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.hgetall(key)
    return dict(zip(keys, pipe.execute()))


def late_payloads(records: list[tuple[bytes, bytes]], late_ids: list[str], event_type: str,
                  id_field: str) -> list[bytes]:
    """The raw bytes of the events the oracle found late, by their ids."""
    from udfs.codec import DecodeError
    from jobs.specs import EVENT_TYPES

    by_id: dict[str, bytes] = {}
    for _, value in records:
        try:
            by_id.setdefault(getattr(EVENT_TYPES[event_type].parse(value), id_field), value)
        except DecodeError:
            continue
    return [by_id[i] for i in late_ids]


JOB_FACTS: dict[str, Callable[[], JobFacts]] = {
    "fraud": FraudFacts, "inventory": InventoryFacts, "maintenance": MaintenanceFacts}
