"""Predictive maintenance: per-machine window features, health and alerts, in plain Python.

`MachineState` (`udfs.maintenance_records`) is the whole per-machine state; `MachineMonitor`
turns a reading or an event-time timer plus the state into outputs and the next state. The
Flink job, the unit tests and the integration oracle run this same code; `replay` is the
operator's loop without Flink.

Windows. Sliding event-time windows of `window_ms` every `slide_ms`, aligned to the epoch
as Flink aligns them. A reading goes into one pane (a `slide_ms` slice of event time); a
window is the merge of its `window_ms / slide_ms` panes, so state holds pane aggregates,
never readings. A window is emitted once, when a timer reaches its end + allowed lateness,
and only if it holds a reading. A reading older than its machine's newest reading minus the
allowed lateness (or inside an emitted window) is late and comes back as `LateReading`.
Decisions use the machine's own event time, never the watermark at arrival (which differs
on replay): the timers due up to a reading's event time fire before it is applied, just as
they would had the watermark passed them first (docs/faults.md: what can still differ).

Exactness. Values are quantized to micro-units (round(value * 10^6): far below any
sensor's resolution) and every pane aggregate is an integer (count, sum, sum of squares,
min, max, sum of t, sum of t^2, sum of t*value, t in ms from the pane start). Integer sums
are exact whatever the order, so merging panes is exact and a window's features are a pure
function of the set of readings in it: any arrival order gives equal (==) floats. Each
statistic is one correctly rounded division of exact integers; the trend line and the time
to failure are computed in exact fractions and rounded once.

Health. Per sensor, the window mean is compared with the machine's own baseline, an EWMA
of window means with an EWMA variance (z-score; the noise floor keeps a quiet baseline from
turning noise into anomalies). The baseline learns only from normal windows, so slow
degradation is not learnt as normal. Health = prod(1 - weight * strength) over three
signals per sensor: anomaly (z beyond `anomaly_z`), trend (time to the failure threshold
within `ttf_horizon_ms`, when the sensor is rising off its baseline) and proximity (how far
from its baseline towards its failure threshold the sensor is). Every signal that takes
`reason_min_contribution` or more is a reason.

Sensor faults are not degradation. A value outside the sensor's plausible range is an
impossible reading: it is left out of the statistics and counted (`<sensor>_impossible`).
A window of `stuck_min_readings` or more identical values from a sensor whose baseline
varies is a stuck sensor. A faulty sensor raises a `SensorFault`, scores no anomaly and
stops teaching the baseline until it recovers.

Silence. No accepted reading for `silence_ms` of event time raises a `NoDataAlert`, once
per silence episode; the next reading resolves it. At the end of a bounded input the
watermark jumps to the maximum, so every machine's last silence is reported there too.

Cold table (`FEATURE_COLUMNS`, Parquet partitioned by `dt`), one row per machine and window:
    machine_id STRING, window_start_ms BIGINT, window_end_ms BIGINT (exclusive),
    readings BIGINT (readings in the window, any sensor), then for each sensor in
    temperature_c, vibration_mm_s, pressure_bar, rotation_rpm:
    <sensor>_count BIGINT      plausible values in the window
    <sensor>_mean DOUBLE       arithmetic mean               (NULL when count is 0)
    <sensor>_std DOUBLE        population standard deviation (NULL when count is 0)
    <sensor>_min DOUBLE, <sensor>_max DOUBLE                 (NULL when count is 0)
    <sensor>_slope DOUBLE      least-squares trend, units per second (0 with one timestamp)
    <sensor>_impossible BIGINT implausible values left out of the statistics
    dt STRING                  UTC date of window_start_ms, YYYY-MM-DD

Redis (prefix = redis.key_prefix):
    <prefix>:machine:<machine_id>  hash: version (windows scored), health, window_end_ms,
        time_to_failure_ms ("" when no sensor approaches its threshold), anomaly_<sensor>
        (|z|), faulty_sensors, reasons, active_alerts (comma-separated), updated_at_ms
    <prefix>:alert:<alert_id>      hash: alert_id, machine_id, kind (health, no_data,
        stuck, impossible), sensor, health, reasons, event_time_ms, active (1/0),
        resolved_ms; version 1 when raised, 2 when resolved
    <prefix>:alerts                sorted set: alert ids by event time (the alert feed)
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import TYPE_CHECKING, Callable, Iterable, Mapping

from udfs.dedup import fingerprint, has_seen, remember
from udfs.events import event_date
from udfs.maintenance_records import (EMPTY_PANE, SCALE, SENSORS, Baseline, MachineState, MaintenanceModel, OpenAlert,
                                      Pane, Reading, SensorSums, add_value, merge_panes, quantize)
from udfs.timers import MAX_WATERMARK, bounded_out_of_orderness, fire_due, replay_events

if TYPE_CHECKING:
    from udfs.hot import HotRecord

STATS = ("count", "mean", "std", "min", "max", "slope", "impossible")

FEATURE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("machine_id", "STRING"), ("window_start_ms", "BIGINT"), ("window_end_ms", "BIGINT"), ("readings", "BIGINT"),
    *((f"{s}_{stat}", "BIGINT" if stat in ("count", "impossible") else "DOUBLE") for s in SENSORS for stat in STATS),
    ("dt", "STRING"))


@dataclass(frozen=True)
class LateReading:
    reading: Reading
    # The machine's newest reading time it was judged against.
    key_time_ms: int
    reason: str


@dataclass(frozen=True)
class DuplicateReading:
    """A re-sent copy of a reading the machine already applied: counted, not applied again."""

    reading_id: str
    machine_id: str
    event_time_ms: int


@dataclass(frozen=True)
class WindowFeatures:
    """One window of one machine: the cold row, `features` keyed `<sensor>_<stat>`."""

    machine_id: str
    window_start_ms: int
    window_end_ms: int
    readings: int
    features: Mapping[str, float | int | None]

    def row(self) -> tuple:
        """The values in FEATURE_COLUMNS order."""
        return (self.machine_id, self.window_start_ms, self.window_end_ms, self.readings,
                *(self.features[name] for name, _ in FEATURE_COLUMNS[4:-1]), event_date(self.window_start_ms))


@dataclass(frozen=True)
class MachineHealth:
    machine_id: str
    window_end_ms: int
    health: float
    # |z| of each sensor's window mean against its baseline; 0 while learning, faulty or silent.
    sensor_anomaly: Mapping[str, float]
    # Earliest time for a sensor to reach its failure threshold on its trend; 0 if one is
    # there, None if none is approaching.
    time_to_failure_ms: int | None
    faulty_sensors: tuple[str, ...]
    reasons: tuple[str, ...]
    active_alerts: tuple[str, ...]
    version: int


@dataclass(frozen=True)
class Alert:
    """An alert; the same id comes again with `resolved_ms` set when its condition ends."""

    alert_id: str
    machine_id: str
    event_time_ms: int
    kind: str
    reasons: tuple[str, ...]
    health: float
    sensor: str = ""
    resolved_ms: int | None = None

    @property
    def active(self) -> bool:
        return self.resolved_ms is None

    @property
    def version(self) -> int:
        return 1 if self.active else 2


class HealthAlert(Alert):
    """Health crossed below the alert threshold (kind "health")."""


class NoDataAlert(Alert):
    """No reading for `silence_ms` of event time (kind "no_data")."""


class SensorFault(Alert):
    """A sensor is stuck or reports impossible values (kind "stuck" or "impossible"); not degradation."""


_ALERT_TYPES = {"health": HealthAlert, "no_data": NoDataAlert, "stuck": SensorFault, "impossible": SensorFault}


def ewma(mean: float, variance: float, x: float, alpha: float) -> tuple[float, float]:
    """Exponentially weighted mean and variance after observing x (Finch 2009, incremental form)."""
    delta = x - mean
    return mean + alpha * delta, (1.0 - alpha) * (variance + alpha * delta * delta)


def z_score(x: float, mean: float, variance: float, floor: float) -> float:
    """Signed distance of x from the baseline in baseline deviations, never less than the noise floor."""
    return (x - mean) / max(math.sqrt(variance), floor)


def time_to_failure_ms(level, slope_per_ms, threshold) -> int | None:
    """Milliseconds until a line from `level` rising at `slope_per_ms` reaches `threshold`.

    0 if it is there already, None if it is not rising. Exact for Fraction inputs.
    """
    if level >= threshold:
        return 0
    if slope_per_ms <= 0:
        return None
    return round((threshold - level) / slope_per_ms)


def _clamp(x: float) -> float:
    return 0.0 if x <= 0.0 else 1.0 if x >= 1.0 else x


def _statistics(sensor: str, sums: SensorSums) -> dict:
    n, s1, s2, lo, hi, t1, t2, tv, bad = sums
    if not n:
        return {f"{sensor}_{stat}": None for stat in STATS} | {f"{sensor}_count": 0, f"{sensor}_impossible": bad}
    spread = n * t2 - t1 * t1
    return {
        f"{sensor}_count": n,
        f"{sensor}_mean": s1 / (n * SCALE),
        f"{sensor}_std": math.sqrt((n * s2 - s1 * s1) / (n * n * SCALE * SCALE)),
        f"{sensor}_min": lo / SCALE,
        f"{sensor}_max": hi / SCALE,
        f"{sensor}_slope": 1000 * (n * tv - t1 * s1) / (spread * SCALE) if spread else 0.0,
        f"{sensor}_impossible": bad,
    }


def _trend(sums: SensorSums, at_ms: int) -> tuple[Fraction, Fraction]:
    """The least-squares line, exactly: its value (micro-units) at `at_ms` from the window start, and slope per ms."""
    n, s1, _, _, _, t1, t2, tv, _ = sums
    spread = n * t2 - t1 * t1
    slope = Fraction(n * tv - t1 * s1, spread) if spread else Fraction(0)
    return (s1 + slope * (n * at_ms - t1)) / n, slope


class MachineMonitor:
    """Windows, baseline, health and alerts of one machine; never mutates the state it is given."""

    def __init__(self, model: MaintenanceModel | None = None):
        self.model = model or MaintenanceModel()

    def apply(self, state: MachineState, reading: Reading, watermark_ms: int) -> tuple[MachineState, list]:
        """Timers due by the machine's event time first, then the reading (or it is a copy, or
        late). `watermark_ms`, the watermark at arrival, is not used: it differs on replay."""
        m = self.model
        t, fp = reading.event_time_ms, fingerprint(reading.reading_id)
        key_time = t if state.last_event_ms is None else state.last_event_ms
        state, fired = fire_due(self, state, max(t, key_time))
        # A re-sent copy of an applied reading is a duplicate even when it is late: nothing was lost.
        if has_seen(state.seen, fp):
            return state, fired + [DuplicateReading(reading.reading_id, reading.machine_id, t)]
        if t < key_time - m.allowed_lateness_ms or t < state.closed_end_ms:
            reason = (f"event time {t} is more than {m.allowed_lateness_ms} ms behind its machine's newest reading "
                      f"{key_time} or inside a window already emitted (up to {state.closed_end_ms})")
            return state, fired + [LateReading(reading, key_time, reason)]
        index = t // m.slide_ms
        dt = t - index * m.slide_ms
        old = state.panes.get(index) or EMPTY_PANE
        sensors = list(old.sensors)
        for i, sensor in enumerate(SENSORS):
            value = getattr(reading, sensor)
            if value is not None:
                plausible = m.plausible_min[sensor] <= value <= m.plausible_max[sensor]
                sensors[i] = add_value(sensors[i], dt, quantize(value) if plausible else None)
        pane = Pane(old.readings + 1, tuple(sensors))
        outputs, alerts = [], state.alerts
        for alert in alerts:
            if alert.kind == "no_data":
                outputs.append(self._alert(state.machine_id, alert, resolved_ms=t))
        if outputs:
            alerts = [a for a in alerts if a.kind != "no_data"]
        last = t if state.last_event_ms is None else max(state.last_event_ms, t)
        seen = remember(state.seen, fp, t, last, m.dedup_ttl_ms, m.dedup_max_ids)
        return replace(state, machine_id=state.machine_id or reading.machine_id, last_event_ms=last,
                       panes={**state.panes, index: pane}, alerts=alerts, seen=seen), fired + outputs

    def on_timer(self, state: MachineState, timestamp_ms: int) -> tuple[MachineState, list]:
        """Everything due at or before `timestamp_ms`, in event-time order (windows first on a tie)."""
        m = self.model
        # Panes and alert entries already in `state` are never changed in place; the lists
        # that hold them are copied.
        st = replace(state, baseline=list(state.baseline), alerts=list(state.alerts))
        outputs: list = []
        while True:
            ends = self._pending_ends(st)
            close_at = ends[0] + m.allowed_lateness_ms if ends else None
            deadline = self._no_data_deadline(st)
            if close_at is not None and close_at <= timestamp_ms and (deadline is None or close_at <= deadline):
                self._close_window(st, ends[0], outputs)
            elif deadline is not None and deadline <= timestamp_ms:
                alert = OpenAlert("no_data", f"{st.machine_id}:no_data:{st.last_event_ms}", deadline, st.health,
                                  ("no_data",), "")
                st.alerts.append(alert)
                outputs.append(self._alert(st.machine_id, alert))
            else:
                break
        horizon = (timestamp_ms - m.allowed_lateness_ms) // m.slide_ms * m.slide_ms
        self._set_closed_end(st, max(st.closed_end_ms, horizon))
        return st, outputs

    def next_timer(self, state: MachineState) -> int | None:
        """The one event time at which the operator's timer should fire next, or None."""
        ends = self._pending_ends(state)
        due = [t for t in (ends[0] + self.model.allowed_lateness_ms if ends else None,
                           self._no_data_deadline(state)) if t is not None]
        return min(due) if due else None

    def _pending_ends(self, st: MachineState) -> list[int]:
        """Ends of the windows that hold a reading and are not emitted yet, earliest first."""
        s, k = self.model.slide_ms, self.model.panes_per_window
        return sorted({(index + j) * s for index in st.panes for j in range(1, k + 1)
                       if (index + j) * s > st.closed_end_ms})

    def _no_data_deadline(self, st: MachineState) -> int | None:
        if st.last_event_ms is None or any(a.kind == "no_data" for a in st.alerts):
            return None
        return st.last_event_ms + self.model.silence_ms

    def _set_closed_end(self, st: MachineState, end: int) -> None:
        st.closed_end_ms = end
        k, s = self.model.panes_per_window, self.model.slide_ms
        st.panes = {index: pane for index, pane in st.panes.items() if (index + k) * s > end}

    def _close_window(self, st: MachineState, end: int, outputs: list) -> None:
        m = self.model
        start = end - m.window_ms
        first = start // m.slide_ms
        panes = [(index * m.slide_ms - start, st.panes[index])
                 for index in range(first, first + m.panes_per_window) if index in st.panes]
        sums = {s: merge_panes((shift, pane.sensors[i]) for shift, pane in panes if pane.sensors[i] is not None)
                for i, s in enumerate(SENSORS)}
        features = {name: value for s in SENSORS for name, value in _statistics(s, sums[s]).items()}
        outputs.append(WindowFeatures(st.machine_id, start, end, sum(pane.readings for _, pane in panes), features))

        changed = self._update_faults(st, sums, end)
        faulty = {a.sensor for a in st.alerts if a.kind in ("stuck", "impossible")}
        anomaly, signals, ttfs = {s: 0.0 for s in SENSORS}, [], []
        for i, s in enumerate(SENSORS):
            if sums[s].count and s not in faulty:
                z, ttf, sensor_signals = self._assess(s, sums[s], features, st.baseline[i])
                anomaly[s] = round(abs(z), 6)
                signals += sensor_signals
                ttfs += [] if ttf is None else [ttf]
                st.baseline[i] = self._learn(st.baseline[i], features, s, z)
        survive = 1.0
        for contribution, _ in signals:
            survive *= 1.0 - contribution
        health = round(survive, 6)
        reasons = tuple(name for c, name in sorted(signals, key=lambda x: (-x[0], x[1]))
                        if c >= m.reason_min_contribution)

        for alert, resolved_ms in changed:
            if resolved_ms is None:
                # A sensor fault opened by this window carries the window's health.
                opened = alert._replace(health=health)
                st.alerts[st.alerts.index(alert)] = opened
                alert = opened
            outputs.append(self._alert(st.machine_id, alert, resolved_ms))
        open_health = [a for a in st.alerts if a.kind == "health"]
        if health < m.health_alert_threshold and not open_health:
            alert = OpenAlert("health", f"{st.machine_id}:health:{end}", end, health, reasons, "")
            st.alerts.append(alert)
            outputs.append(self._alert(st.machine_id, alert))
        elif open_health and health >= m.health_alert_threshold + m.health_clear_margin:
            st.alerts.remove(open_health[0])
            outputs.append(self._alert(st.machine_id, open_health[0], resolved_ms=end))
        st.health = health
        st.version += 1
        outputs.append(MachineHealth(st.machine_id, end, health, anomaly, min(ttfs) if ttfs else None,
                                     tuple(s for s in SENSORS if s in faulty), reasons,
                                     tuple(a.alert_id for a in st.alerts), st.version))
        self._set_closed_end(st, end)

    def _assess(self, s: str, sums: SensorSums, features: dict, baseline: Baseline) -> tuple[float, int | None, list]:
        """One healthy sensor's signed z, time to failure and (contribution, reason) signals."""
        m = self.model
        windows, mu, var, _ = baseline
        mean = features[f"{s}_mean"]
        ready = windows >= m.baseline_windows
        z = z_score(mean, mu, var, m.noise_floor[s]) if ready else 0.0
        signals = [(m.anomaly_weight * _clamp((abs(z) - m.anomaly_z) / m.anomaly_z), f"{s}:anomaly")]
        threshold = m.failure_thresholds[s]
        if threshold == math.inf:
            return z, None, signals
        n, limit = sums.count, quantize(threshold)
        if sums.total >= n * limit:
            ttf = 0
        elif z >= m.anomaly_z:
            # Only a sensor that has risen off its baseline has a trend worth extrapolating:
            # a few readings in a partial window make a steep line out of noise.
            ttf = time_to_failure_ms(*_trend(sums, m.window_ms), limit)
        else:
            ttf = None
        if ttf is not None:
            signals.append((m.trend_weight * _clamp(1 - ttf / m.ttf_horizon_ms), f"{s}:trend"))
        if ready:
            proximity = 1.0 if threshold <= mu else (mean - mu) / (threshold - mu)
            signals.append((m.proximity_weight * _clamp(proximity), f"{s}:near_failure"))
        return z, ttf, signals

    def _learn(self, baseline: Baseline, features: dict, s: str, z: float) -> Baseline:
        """The baseline after this window; anomalous windows are not learnt, so degradation stays visible."""
        m = self.model
        windows, mu, var, spread = baseline
        if windows >= m.baseline_windows and abs(z) >= m.anomaly_z:
            return baseline
        mean, std = features[f"{s}_mean"], features[f"{s}_std"]
        if not windows:
            return Baseline(1, mean, 0.0, std)
        mu, var = ewma(mu, var, mean, m.ewma_alpha)
        return Baseline(windows + 1, mu, var, spread + m.ewma_alpha * (std - spread))

    def _update_faults(self, st: MachineState, sums: dict, end: int) -> list[tuple[OpenAlert, int | None]]:
        """Opens and closes sensor faults for this window: the (alert, resolved_ms or None) that changed."""
        m = self.model
        changed = []
        for i, s in enumerate(SENSORS):
            n, _, _, lo, hi, _, _, _, bad = sums[s]
            spread = st.baseline[i].spread
            now = {"impossible": bad > 0,
                   "stuck": n >= m.stuck_min_readings and lo == hi and spread > 0}
            ended = {"impossible": n > 0 and not bad, "stuck": n >= 2 and lo != hi}
            for kind in ("stuck", "impossible"):
                open_alert = next((a for a in st.alerts if a.kind == kind and a.sensor == s), None)
                if now[kind] and open_alert is None:
                    alert = OpenAlert(kind, f"{st.machine_id}:{kind}:{s}:{end}", end, 0.0, (f"{s}:{kind}",), s)
                    st.alerts.append(alert)
                    changed.append((alert, None))
                elif open_alert is not None and ended[kind]:
                    st.alerts.remove(open_alert)
                    changed.append((open_alert, end))
        return changed

    @staticmethod
    def _alert(machine_id: str, a: OpenAlert, resolved_ms: int | None = None) -> Alert:
        return _ALERT_TYPES[a.kind](a.alert_id, machine_id, a.event_time_ms, a.kind, tuple(a.reasons), a.health,
                                    a.sensor, resolved_ms)


def health_hot_record(health: MachineHealth, prefix: str, now_ms: int) -> "HotRecord":
    """`<prefix>:machine:<machine_id>`: the machine's latest health, what a dashboard or planner reads."""
    from udfs.hot import HotRecord

    ttf = health.time_to_failure_ms
    return HotRecord(f"{prefix}:machine:{health.machine_id}", health.version, {
        "health": health.health, "window_end_ms": health.window_end_ms,
        "time_to_failure_ms": "" if ttf is None else ttf,
        **{f"anomaly_{s}": health.sensor_anomaly.get(s, 0.0) for s in SENSORS},
        "faulty_sensors": ",".join(health.faulty_sensors), "reasons": ",".join(health.reasons),
        "active_alerts": ",".join(health.active_alerts), "updated_at_ms": now_ms,
    }, event_time_ms=health.window_end_ms)


def alert_hot_record(alert: Alert, prefix: str) -> "HotRecord":
    """`<prefix>:alert:<alert_id>` plus its place in the `<prefix>:alerts` feed; version 2 marks it resolved."""
    from udfs.hot import HotRecord

    return HotRecord(f"{prefix}:alert:{alert.alert_id}", alert.version, {
        "alert_id": alert.alert_id, "machine_id": alert.machine_id, "kind": alert.kind, "sensor": alert.sensor,
        "health": alert.health, "reasons": ",".join(alert.reasons), "event_time_ms": alert.event_time_ms,
        "active": int(alert.active), "resolved_ms": "" if alert.resolved_ms is None else alert.resolved_ms,
    }, index_key=f"{prefix}:alerts", index_score=alert.event_time_ms, index_member=alert.alert_id,
        event_time_ms=alert.event_time_ms if alert.active else alert.resolved_ms)


def replay(readings: Iterable[Reading], model: MaintenanceModel | None = None,
           watermark_fn: Callable[[int], int] | None = None,
           end_watermark_ms: int = MAX_WATERMARK) -> list:
    """What the Flink operator emits for `readings` in this arrival order, timers included
    (`udfs.timers.replay_events`; the watermark follows the newest reading unless `watermark_fn` says otherwise)."""
    return replay_events(MachineMonitor(model), MachineState, readings, lambda reading: reading.machine_id,
                         watermark_fn or bounded_out_of_orderness(0), end_watermark_ms).outputs
