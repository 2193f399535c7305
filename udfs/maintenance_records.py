"""The records of predictive maintenance: a reading (the job's input, with its event type and
validation), the model's settings, and the whole state of one machine with its versioned encoding
and the exact integer aggregates its panes hold.

`udfs.maintenance` is the core that turns readings and timers into windows, health and alerts.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from itertools import starmap
from typing import Iterable, Mapping, NamedTuple

from streamsuite_proto.v1 import maintenance_pb2
from udfs.dedup import SeenIds
from udfs.encoding import decode_state, encode_state, state_version
from udfs.events import EventType, bounded_id, common_fields, require

# 2: the ids of the readings applied (udfs.dedup); version 1 states read with none remembered.
STATE_ENCODING = 2

SENSORS = ("temperature_c", "vibration_mm_s", "pressure_bar", "rotation_rpm")
# A sensor value beyond this is no physical reading (its micro-unit squares must stay exact).
MAX_SENSOR_ABS = 1e9
# Values are kept in micro-units: round(value * SCALE).
SCALE = 1_000_000

# Upper limits at which a machine fails: ISO 10816 zone D vibration, winding insulation
# class B. Infinite means no failure threshold.
DEFAULT_FAILURE_THRESHOLDS: Mapping[str, float] = {
    "temperature_c": 110.0, "vibration_mm_s": 11.2, "pressure_bar": math.inf, "rotation_rpm": math.inf}
DEFAULT_PLAUSIBLE_MIN: Mapping[str, float] = {
    "temperature_c": -60.0, "vibration_mm_s": 0.0, "pressure_bar": -1.0, "rotation_rpm": 0.0}
DEFAULT_PLAUSIBLE_MAX: Mapping[str, float] = {
    "temperature_c": 400.0, "vibration_mm_s": 200.0, "pressure_bar": 1000.0, "rotation_rpm": 50_000.0}
# The smallest change of a window mean that matters, whatever the baseline's variance.
DEFAULT_NOISE_FLOOR: Mapping[str, float] = {
    "temperature_c": 0.5, "vibration_mm_s": 0.1, "pressure_bar": 0.05, "rotation_rpm": 5.0}


def validate_sensor_reading(reading: maintenance_pb2.SensorReading) -> None:
    common_fields(reading.reading_id, reading.machine_id, reading.event_time_ms, reading.sequence)
    bounded_id("machine_id", reading.machine_id)
    present = [s for s in SENSORS if reading.HasField(s)]
    require(bool(present), "missing_field", "the reading has no sensor value")
    for sensor in present:
        value = getattr(reading, sensor)
        require(math.isfinite(value) and abs(value) <= MAX_SENSOR_ABS, "out_of_range", f"{sensor} is {value}")


def machine_key(reading: maintenance_pb2.SensorReading) -> str:
    return reading.machine_id


# The job's input: sensor readings, keyed by machine.
EVENT_TYPE = EventType("SensorReading", maintenance_pb2.SensorReading, validate_sensor_reading, machine_key)


@dataclass(frozen=True)
class Reading:
    """The fields of a SensorReading the model uses; an absent sensor is None, not zero."""

    reading_id: str
    machine_id: str
    event_time_ms: int
    sequence: int
    temperature_c: float | None = None
    vibration_mm_s: float | None = None
    pressure_bar: float | None = None
    rotation_rpm: float | None = None

    @classmethod
    def from_message(cls, msg) -> "Reading":
        return cls(msg.reading_id, msg.machine_id, msg.event_time_ms, msg.sequence,
                   *(getattr(msg, s) if msg.HasField(s) else None for s in SENSORS))


@dataclass(frozen=True)
class MaintenanceModel:
    """Windows, baseline, thresholds and weights; all of it comes from the job config."""

    window_ms: int = 300_000
    slide_ms: int = 60_000
    allowed_lateness_ms: int = 30_000
    silence_ms: int = 120_000
    ewma_alpha: float = 0.05
    # Windows the baseline needs before a z-score means anything.
    baseline_windows: int = 5
    anomaly_z: float = 4.0
    health_alert_threshold: float = 0.5
    # A health alert resolves once health is back to threshold + margin (no flapping).
    health_clear_margin: float = 0.1
    ttf_horizon_ms: int = 3_600_000
    anomaly_weight: float = 0.6
    trend_weight: float = 0.8
    proximity_weight: float = 0.8
    reason_min_contribution: float = 0.05
    stuck_min_readings: int = 30
    # Reading ids are remembered this long in the machine's event time (at least the allowed
    # lateness: an older copy is late anyway) and at most this many per machine.
    dedup_ttl_ms: int = 60_000
    dedup_max_ids: int = 4096
    failure_thresholds: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_FAILURE_THRESHOLDS))
    plausible_min: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_PLAUSIBLE_MIN))
    plausible_max: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_PLAUSIBLE_MAX))
    noise_floor: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_NOISE_FLOOR))

    def __post_init__(self) -> None:
        if self.slide_ms <= 0 or self.window_ms <= 0 or self.window_ms % self.slide_ms:
            raise ValueError(f"window {self.window_ms} ms must be a positive multiple of the slide "
                             f"{self.slide_ms} ms")
        if self.allowed_lateness_ms < 0:
            raise ValueError(f"allowed lateness {self.allowed_lateness_ms} ms must not be negative")
        if self.silence_ms <= self.allowed_lateness_ms:
            raise ValueError(f"silence {self.silence_ms} ms must exceed the allowed lateness "
                             f"{self.allowed_lateness_ms} ms, or a reading still accepted could end a silence "
                             f"already reported")
        if self.dedup_ttl_ms < self.allowed_lateness_ms or self.dedup_max_ids < 1:
            raise ValueError(f"dedup_ttl_ms {self.dedup_ttl_ms} must be at least the allowed lateness "
                             f"{self.allowed_lateness_ms} ms (a re-sent reading that is not late could count twice), "
                             f"dedup_max_ids positive")
        if not 0.0 < self.ewma_alpha <= 1.0:
            raise ValueError(f"ewma_alpha {self.ewma_alpha} must be in (0, 1]")
        if self.baseline_windows < 1 or self.stuck_min_readings < 2 or self.ttf_horizon_ms <= 0:
            raise ValueError("baseline_windows must be 1 or more, stuck_min_readings 2 or more, "
                             "ttf_horizon_ms positive")
        if self.anomaly_z <= 0:
            raise ValueError(f"anomaly_z {self.anomaly_z} must be positive")
        if not 0.0 < self.health_alert_threshold < 1.0 or self.health_clear_margin < 0:
            raise ValueError(f"health alert threshold {self.health_alert_threshold} must be in (0, 1), "
                             f"the clear margin not negative")
        for name in ("anomaly_weight", "trend_weight", "proximity_weight", "reason_min_contribution"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} {getattr(self, name)} must be in [0, 1]")
        for name in ("failure_thresholds", "plausible_min", "plausible_max", "noise_floor"):
            keys = set(getattr(self, name))
            if keys != set(SENSORS):
                raise ValueError(f"{name} must name exactly the sensors {list(SENSORS)}, not {sorted(keys)}")
        for s in SENSORS:
            low, high = self.plausible_min[s], self.plausible_max[s]
            if not (math.isfinite(low) and math.isfinite(high) and low < high):
                raise ValueError(f"plausible range of {s} [{low}, {high}] must be finite and not empty")
            if not self.noise_floor[s] > 0:
                raise ValueError(f"noise floor of {s} is {self.noise_floor[s]}; it must be positive")
            threshold = self.failure_thresholds[s]
            if threshold != math.inf and not low < threshold <= high:
                raise ValueError(f"failure threshold of {s} {threshold} is outside its plausible range "
                                 f"[{low}, {high}]")

    @property
    def panes_per_window(self) -> int:
        return self.window_ms // self.slide_ms


class SensorSums(NamedTuple):
    """Exact integer aggregates of one sensor's values over a pane or a window: q is a value in
    micro-units (`quantize`), dt the ms from the pane's (or window's) start."""

    count: int = 0
    total: int = 0  # sum of q
    squares: int = 0  # sum of q^2
    low: int | None = None  # min q
    high: int | None = None  # max q
    dt_total: int = 0  # sum of dt
    dt_squares: int = 0  # sum of dt^2
    dt_q_total: int = 0  # sum of dt * q
    impossible: int = 0  # implausible values, left out of the sums


class Pane(NamedTuple):
    """One `slide_ms` slice of a machine's event time: its readings (any sensor), and per sensor
    (in SENSORS order) its sums, None while it has no value."""

    readings: int
    sensors: tuple[SensorSums | None, ...]


EMPTY_PANE = Pane(0, (None,) * len(SENSORS))


class Baseline(NamedTuple):
    """What one sensor is normally: windows learnt, EWMA of window means, its EWMA variance,
    and the EWMA of the windows' standard deviations."""

    windows: int = 0
    mean: float = 0.0
    variance: float = 0.0
    spread: float = 0.0


class OpenAlert(NamedTuple):
    """An alert raised and not resolved yet (kind: health, no_data, stuck or impossible)."""

    kind: str
    alert_id: str
    event_time_ms: int
    health: float
    reasons: tuple[str, ...]
    sensor: str


@dataclass
class MachineState:
    """Everything remembered about one machine: a window of pane aggregates, a baseline, open alerts."""

    machine_id: str = ""
    # Machine health records written so far: the version of the machine's hot record.
    version: int = 0
    last_event_ms: int | None = None
    # Every window ending at or before this has been emitted.
    closed_end_ms: int = 0
    health: float = 1.0
    # pane index (event time // slide_ms) -> its aggregates
    panes: dict[int, Pane] = field(default_factory=dict)
    # per sensor, in SENSORS order
    baseline: list[Baseline] = field(default_factory=lambda: [Baseline() for _ in SENSORS])
    alerts: list[OpenAlert] = field(default_factory=list)
    # Ids of the readings applied, by event-time bucket (udfs.dedup).
    seen: list[SeenIds] = field(default_factory=list)

    def to_json(self) -> str:
        """Versioned compact encoding, independent of Python class paths (safe across upgrades)."""
        panes = [[index, pane.readings, *pane.sensors] for index, pane in sorted(self.panes.items())]
        return encode_state(STATE_ENCODING, self.machine_id, self.version, self.last_event_ms, self.closed_end_ms,
                            self.health, panes, self.baseline, self.alerts, self.seen, big_ints=True)

    @classmethod
    def from_json(cls, data: str | None) -> "MachineState":
        if not data:
            return cls()
        if state_version(data) == 1:
            values = decode_state(data, 1, "machine state", big_ints=True) + [[]]
        else:
            values = decode_state(data, STATE_ENCODING, "machine state", big_ints=True)
        machine_id, version, last_event_ms, closed_end_ms, health, panes, baseline, alerts, seen = values
        panes = {index: Pane(readings, tuple(None if sums is None else SensorSums(*sums) for sums in sensors))
                 for index, readings, *sensors in panes}
        alerts = [OpenAlert(kind, alert_id, event_time_ms, health, tuple(reasons), sensor)
                  for kind, alert_id, event_time_ms, health, reasons, sensor in alerts]
        return cls(machine_id, version, last_event_ms, closed_end_ms, health, panes,
                   list(starmap(Baseline, baseline)), alerts, list(starmap(SeenIds, seen)))


def quantize(value: float) -> int:
    return round(value * SCALE)


def add_value(sums: SensorSums | None, dt: int, q: int | None) -> SensorSums:
    """A pane's sensor aggregate with one more value (None: an impossible one)."""
    n, s1, s2, lo, hi, t1, t2, tv, bad = sums or SensorSums()
    if q is None:
        return SensorSums(n, s1, s2, lo, hi, t1, t2, tv, bad + 1)
    return SensorSums(n + 1, s1 + q, s2 + q * q, q if lo is None else min(lo, q), q if hi is None else max(hi, q),
                      t1 + dt, t2 + dt * dt, tv + dt * q, bad)


def merge_panes(parts: Iterable[tuple[int, SensorSums]]) -> SensorSums:
    """Exact sums over panes given as (pane start relative to the window start, aggregate)."""
    n = s1 = s2 = t1 = t2 = tv = bad = 0
    lo = hi = None
    for shift, (pn, ps1, ps2, plo, phi, pt1, pt2, ptv, pbad) in parts:
        bad += pbad
        if not pn:
            continue
        n, s1, s2 = n + pn, s1 + ps1, s2 + ps2
        # moving the time origin by `shift`: sum(dt + shift), sum((dt + shift)^2), sum((dt + shift) q)
        t1 += pt1 + pn * shift
        t2 += pt2 + 2 * shift * pt1 + pn * shift * shift
        tv += ptv + shift * ps1
        lo = plo if lo is None else min(lo, plo)
        hi = phi if hi is None else max(hi, phi)
    return SensorSums(n, s1, s2, lo, hi, t1, t2, tv, bad)
