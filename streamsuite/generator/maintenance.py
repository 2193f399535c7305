"""Machines reporting four sensors at a fixed period; some degrade to failure, some break, some go silent."""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any, Iterator

from google.protobuf.message import Message

from streamsuite.generator.base import COMMON_OUT_OF_RANGE, DomainGenerator, Emitted, Label, Params, state_key
from streamsuite_proto.v1 import maintenance_pb2
from udfs.maintenance_records import SENSORS, MaintenanceModel

NOISE_SD = {"temperature_c": 0.3, "vibration_mm_s": 0.08, "pressure_bar": 0.03, "rotation_rpm": 3.0}
DRIFT_SD = {"temperature_c": 0.1, "vibration_mm_s": 0.02, "pressure_bar": 0.01, "rotation_rpm": 1.0}
DECIMALS = {"temperature_c": 2, "vibration_mm_s": 3, "pressure_bar": 3, "rotation_rpm": 1}
# ISO 10816 zone D for large machines; a winding insulation class B limit.
FAILURE_THRESHOLDS = {"bearing_wear": {"vibration_mm_s": 11.2}, "overheating": {"temperature_c": 110.0}}
# The trend aims past the threshold so it is crossed near 90% of the way to failure.
DEGRADATION_OVERSHOOT = 1.25
IMPOSSIBLE_VALUES = {"temperature_c": -300.0, "vibration_mm_s": -5.0, "pressure_bar": -3.0,
                     "rotation_rpm": -1500.0}
IMPOSSIBLE_READING_SHARE = 0.5
DROPOUT_SHARE = 0.003
DEGRADING_SHARE, FAULTY_SHARE, SILENT_SHARE = 0.10, 0.10, 0.05


@dataclass
class _Machine:
    machine_id: str
    key: bytes
    phase_ms: float
    base: dict[str, float]
    drift: dict[str, float]
    sequence: int = 0
    stop_ms: float = math.inf
    last_ms: int | None = None
    last_values: dict[str, float] = field(default_factory=dict)
    degradation: dict[str, Any] | None = None
    fault: dict[str, Any] | None = None


class MaintenanceGenerator(DomainGenerator):
    """Machines reporting four sensors at a fixed period; some degrade to failure, some break, some go silent."""

    default_keys, default_rate = 100, 20.0
    allowed_lateness_ms = MaintenanceModel().allowed_lateness_ms
    id_field = "reading_id"
    missing_field_edits = (("reading_id", ""), ("machine_id", ""), ("sensors", None))
    out_of_range_edits = COMMON_OUT_OF_RANGE + (("temperature_c", math.nan), ("vibration_mm_s", math.inf))

    @staticmethod
    def example_event(event_id: str, event_time_ms: int) -> Message:
        return maintenance_pb2.SensorReading(
            reading_id=event_id, machine_id="machine-0001", event_time_ms=event_time_ms, sequence=1,
            temperature_c=55.0, vibration_mm_s=1.8, pressure_bar=6.0, rotation_rpm=1480.0)

    def __init__(self, params: Params):
        super().__init__(params)
        rng = self.rng
        self.period_ms = params.keys * 1000.0 / params.rate
        self.machines = []
        for index in range(params.keys):
            machine_id = f"machine-{index + 1:04d}"
            key = state_key(maintenance_pb2.SensorReading(machine_id=machine_id))
            base = {"temperature_c": rng.gauss(55.0, 6.0), "vibration_mm_s": rng.uniform(1.0, 2.5),
                    "pressure_bar": rng.uniform(4.0, 8.0),
                    "rotation_rpm": rng.choice((1450.0, 1480.0, 2950.0, 2980.0)) + rng.gauss(0.0, 5.0)}
            self.machines.append(_Machine(machine_id, key, rng.uniform(0, self.period_ms), base,
                                          {s: 0.0 for s in SENSORS}))
        self.degrading, self.faulty, self.silent = self._assign_anomalies()
        self.active_machines = 0

    def _assign_anomalies(self) -> tuple[list[_Machine], list[_Machine], list[_Machine]]:
        rng, p = self.rng, self.params
        keys = len(self.machines)
        wanted = [max(1, round(share * keys)) for share in (DEGRADING_SHARE, FAULTY_SHARE, SILENT_SHARE)]
        spare = keys - 1
        counts = []
        for n in wanted:
            counts.append(min(n, spare))
            spare -= counts[-1]
        shuffled = rng.sample(self.machines, keys)
        degrading = shuffled[: counts[0]]
        faulty = shuffled[counts[0]: counts[0] + counts[1]]
        silent = shuffled[counts[0] + counts[1]: sum(counts)]
        start, span = p.start_time_ms, p.planned_span_ms
        for machine in degrading:
            mode = rng.choice(sorted(FAILURE_THRESHOLDS))
            onset = start + rng.uniform(0.05, 0.35) * span
            failure = onset + rng.uniform(0.3, 0.55) * span
            machine.degradation = {"mode": mode, "onset_ms": onset, "failure_ms": failure}
            machine.stop_ms = failure + 1
        for machine in faulty:
            machine.fault = {"sensor": rng.choice(SENSORS), "kind": rng.choice(("stuck", "impossible")),
                             "from_ms": start + rng.uniform(0.15, 0.6) * span, "value": None, "readings": 0}
        for machine in silent:
            machine.stop_ms = start + rng.uniform(0.3, 0.8) * span
        return (sorted(degrading, key=lambda m: m.machine_id), sorted(faulty, key=lambda m: m.machine_id),
                sorted(silent, key=lambda m: m.machine_id))

    def events(self) -> Iterator[Emitted]:
        order = sorted(self.machines, key=lambda m: (m.phase_ms, m.machine_id))
        for tick in itertools.count():
            tick_start = self.params.start_time_ms + tick * self.period_ms
            reported = False
            for machine in order:
                t = tick_start + machine.phase_ms
                if self.past_end(t):
                    return
                if t >= machine.stop_ms:
                    continue
                reported = True
                yield self._reading(machine, t)
            if not reported:
                return

    def late_copy(self, template: Emitted, event_time_ms: int) -> Emitted:
        """A reading sent late (a gateway that buffered it) with the machine's latest values."""
        machine = next(m for m in self.machines if m.key == template.key)
        machine.sequence += 1
        reading = maintenance_pb2.SensorReading(reading_id=self.new_id(), machine_id=machine.machine_id,
                                                event_time_ms=event_time_ms, sequence=machine.sequence,
                                                **machine.last_values)
        return Emitted(machine.key, self.encode(reading), Label("event", reading.reading_id),
                       reading, event_time_ms)

    def _reading(self, machine: _Machine, t: float) -> Emitted:
        rng = self.rng
        values = {}
        for sensor in SENSORS:
            machine.drift[sensor] = 0.97 * machine.drift[sensor] + rng.gauss(0.0, DRIFT_SD[sensor])
            values[sensor] = machine.base[sensor] + machine.drift[sensor] + rng.gauss(0.0, NOISE_SD[sensor])
        tags: list[str] = []
        degradation = machine.degradation
        if degradation and t >= degradation["onset_ms"]:
            progress = min(1.0, (t - degradation["onset_ms"]) / (degradation["failure_ms"] - degradation["onset_ms"]))
            severity = progress**2
            (sensor, threshold), = FAILURE_THRESHOLDS[degradation["mode"]].items()
            values[sensor] += (threshold - machine.base[sensor]) * DEGRADATION_OVERSHOOT * severity
            if degradation["mode"] == "bearing_wear":
                values["temperature_c"] += 20.0 * severity
            else:
                values["pressure_bar"] -= 0.35 * machine.base["pressure_bar"] * severity
            tags.append("degrading")
        values = {s: round(v, DECIMALS[s]) for s, v in values.items()}
        if degradation and "threshold_crossed_ms" not in degradation:
            (sensor, threshold), = FAILURE_THRESHOLDS[degradation["mode"]].items()
            if values[sensor] >= threshold:
                degradation["threshold_crossed_ms"] = int(t)
        fault = machine.fault
        if fault and t >= fault["from_ms"]:
            sensor = fault["sensor"]
            if fault["kind"] == "stuck":
                if fault["value"] is None:
                    fault["value"] = machine.last_values.get(sensor, values[sensor])
                values[sensor] = fault["value"]
                fault["readings"] += 1
                tags.append(f"stuck:{sensor}")
            elif rng.random() < IMPOSSIBLE_READING_SHARE:
                fault["value"] = values[sensor] = IMPOSSIBLE_VALUES[sensor]
                fault["readings"] += 1
                tags.append(f"impossible:{sensor}")
        elif rng.random() < DROPOUT_SHARE:
            dropped = rng.choice(SENSORS)
            del values[dropped]
            tags.append(f"dropout:{dropped}")
        machine.last_values.update(values)
        machine.sequence += 1
        if machine.sequence == 1:
            self.active_machines += 1
        machine.last_ms = int(t)
        reading = maintenance_pb2.SensorReading(reading_id=self.new_id(), machine_id=machine.machine_id,
                                                event_time_ms=int(t), sequence=machine.sequence, **values)
        return Emitted(machine.key, self.encode(reading), Label("event", reading.reading_id, tuple(tags)),
                        reading, int(t))

    def keys_used(self) -> int:
        return self.active_machines

    def truth(self) -> dict[str, Any]:
        degrading = {}
        for m in self.degrading:
            d = m.degradation
            failure_ms = int(d["failure_ms"])
            degrading[m.machine_id] = {
                "mode": d["mode"], "onset_ms": int(d["onset_ms"]), "failure_ms": failure_ms,
                "failure_thresholds": FAILURE_THRESHOLDS[d["mode"]],
                "threshold_crossed_ms": d.get("threshold_crossed_ms"), "last_event_ms": m.last_ms,
                "failed_in_stream": m.last_ms is not None and m.last_ms + self.period_ms > failure_ms,
            }
        faulty = {m.machine_id: [{"sensor": m.fault["sensor"], "kind": m.fault["kind"],
                                  "from_ms": int(m.fault["from_ms"]), "value": m.fault["value"],
                                  "readings": m.fault["readings"]}] for m in self.faulty}
        silent = {m.machine_id: {"silent_from_ms": int(m.stop_ms), "last_event_ms": m.last_ms} for m in self.silent}
        return {"period_ms": self.period_ms, "degrading": degrading, "faulty": faulty, "silent": silent,
                "impossible_values": IMPOSSIBLE_VALUES}
