"""Predictive maintenance without a JVM: window maths, baseline, faults, silence, and the generator's truth."""
import copy
import json
import math
import random
from fractions import Fraction

import pytest

from jobs.specs import EVENT_TYPES
from streamsuite import generator
from streamsuite.generator.maintenance import FAILURE_THRESHOLDS, IMPOSSIBLE_VALUES
from streamsuite_proto.v1 import maintenance_pb2
from udfs.maintenance import (FEATURE_COLUMNS, DuplicateReading, HealthAlert, LateReading, MachineHealth, MachineMonitor, NoDataAlert,
                              SensorFault, WindowFeatures, alert_hot_record, ewma, health_hot_record, replay,
                              time_to_failure_ms, z_score)
from udfs.maintenance_records import SENSORS, MachineState, MaintenanceModel, Reading
from udfs.timers import MAX_WATERMARK, MIN_WATERMARK, bounded_out_of_orderness

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z, a multiple of every window used here
MIN = 60_000
NORMAL = {"temperature_c": 55.0, "vibration_mm_s": 2.0, "pressure_bar": 6.0, "rotation_rpm": 1480.0}
NOISE = {"temperature_c": 0.3, "vibration_mm_s": 0.08, "pressure_bar": 0.03, "rotation_rpm": 3.0}


def reading(t_ms, machine="m-1", seq=1, **values):
    return Reading(f"{machine}-{t_ms}", machine, t_ms, seq, *(values.get(s) for s in SENSORS))


def noisy(machine, start_ms, seconds, rng, **override):
    """A healthy machine at 1 Hz with unrounded Gaussian noise; `override` fixes sensors (None drops one)."""
    out = []
    for i in range(seconds):
        values = {s: NORMAL[s] + rng.gauss(0.0, NOISE[s]) for s in SENSORS}
        values.update({s: v(i) if callable(v) else v for s, v in override.items()})
        out.append(reading(start_ms + i * 1000, machine, i + 1, **values))
    return out


def wiggle(t_ms):
    """±0.01 in turn: a live sensor never repeats one value (that is a stuck one), and a minute's mean is exact."""
    return 0.01 if t_ms // 1000 % 2 else -0.01


def of(kind, outputs, machine=None):
    return [o for o in outputs if isinstance(o, kind) and (machine is None or o.machine_id == machine)]


def window(outputs, start_ms, machine="m-1"):
    (found,) = [w for w in of(WindowFeatures, outputs, machine) if w.window_start_ms == start_ms]
    return found


def health_at(outputs, end_ms, machine="m-1"):
    (found,) = [h for h in of(MachineHealth, outputs, machine) if h.window_end_ms == end_ms]
    return found


# ---------------------------------------------------------------- window statistics


def test_statistics_of_a_known_series():
    values = [2, 4, 4, 4, 5, 5, 7, 9]
    readings = [reading(T0 + i * 1000, seq=i + 1, temperature_c=float(v), vibration_mm_s=1.0 + 0.25 * i)
                for i, v in enumerate(values)]
    f = window(replay(readings), T0).features
    assert (f["temperature_c_count"], f["temperature_c_mean"], f["temperature_c_std"]) == (8, 5.0, 2.0)
    assert (f["temperature_c_min"], f["temperature_c_max"]) == (2.0, 9.0)
    # least squares over t = 0..7 s: sum((t - 3.5)(v - 5)) / sum((t - 3.5)^2) = 34 / 42
    assert f["temperature_c_slope"] == 17 / 21
    assert f["vibration_mm_s_slope"] == 0.25 and f["vibration_mm_s_mean"] == 1.875
    assert f["vibration_mm_s_std"] == math.sqrt(sum((0.25 * (i - 3.5)) ** 2 for i in range(8)) / 8)
    assert f["pressure_bar_count"] == 0 and f["pressure_bar_mean"] is None and f["pressure_bar_slope"] is None


def test_reading_from_message_keeps_absent_sensors_absent():
    msg = maintenance_pb2.SensorReading(reading_id="r-1", machine_id="m-1", event_time_ms=T0, sequence=3,
                                        temperature_c=0.0, rotation_rpm=1480.5)
    assert Reading.from_message(msg) == Reading("r-1", "m-1", T0, 3, 0.0, None, None, 1480.5)


def test_a_single_value_has_no_spread_and_no_slope():
    f = window(replay([reading(T0 + 5000, temperature_c=55.23)]), T0).features
    assert (f["temperature_c_mean"], f["temperature_c_std"], f["temperature_c_slope"]) == (55.23, 0.0, 0.0)


def test_sliding_windows_cover_every_slide_and_are_emitted_once_in_order():
    out = replay([reading(T0 + 150_000, temperature_c=50.0)])
    windows = of(WindowFeatures, out)
    # a reading at 2.5 min is in the five 5-minute windows ending at 3, 4, 5, 6 and 7 minutes
    assert [w.window_end_ms - T0 for w in windows] == [m * MIN for m in (3, 4, 5, 6, 7)]
    assert all(w.window_end_ms - w.window_start_ms == 5 * MIN and w.readings == 1 for w in windows)
    assert [h.window_end_ms for h in of(MachineHealth, out)] == [w.window_end_ms for w in windows]
    assert [h.version for h in of(MachineHealth, out)] == [1, 2, 3, 4, 5]


def test_window_features_do_not_depend_on_arrival_order():
    rng = random.Random(7)
    readings = sorted(noisy("m-1", T0, 900, rng) + noisy("m-2", T0 + 333, 900, rng), key=lambda r: r.event_time_ms)
    # every reading arrives less than 20 s after its place in time order: never late
    shuffled = sorted(readings, key=lambda r: r.event_time_ms + rng.uniform(0, 19_999))
    assert shuffled != readings
    ordered = replay(readings, watermark_fn=bounded_out_of_orderness(20_000))
    arrived = replay(shuffled, watermark_fn=bounded_out_of_orderness(20_000))
    assert not of(LateReading, arrived) and not of(LateReading, ordered)
    for kind in (WindowFeatures, MachineHealth):
        for machine in ("m-1", "m-2"):
            assert of(kind, arrived, machine) == of(kind, ordered, machine)
    assert len(of(WindowFeatures, ordered, "m-1")) == 19


def test_pane_merging_equals_one_pane_over_the_window():
    readings = noisy("m-1", T0, 600, random.Random(3))
    sliding = replay(readings)
    for slide in (100_000, 150_000, 300_000):
        other = replay(readings, MaintenanceModel(window_ms=300_000, slide_ms=slide))
        for start in (T0, T0 + 300_000):
            assert window(other, start) == window(sliding, start)


# ---------------------------------------------------------------- baseline, anomaly, time to failure


def test_ewma_and_z_score_on_known_values():
    assert ewma(10.0, 0.0, 20.0, 0.5) == (15.0, 25.0)
    assert ewma(15.0, 25.0, 15.0, 0.5) == (15.0, 12.5)
    assert ewma(2.0, 0.0, 2.0, 0.05) == (2.0, 0.0)
    assert z_score(25.0, 15.0, 25.0, 1.0) == 2.0
    assert z_score(11.0, 10.0, 0.0, 0.5) == 2.0  # the noise floor, not a zero variance
    assert z_score(9.0, 10.0, 4.0, 0.5) == -0.5


def test_anomaly_follows_the_baseline_and_freezes_it():
    model = MaintenanceModel()
    step = T0 + 10 * MIN
    readings = [reading(t, vibration_mm_s=(2.0 if t < step else 3.0) + wiggle(t))
                for t in range(T0, T0 + 20 * MIN, 1000)]
    out = replay(readings, model)
    # Expected by hand: window means over the step are 2.2, 2.4, ..., 3.0; the baseline
    # (2.0, variance 0) learns a window only while |z| < 4.
    mu, var, expected = 2.0, 0.0, []
    for k in range(1, 6):
        mean = (2.0 * (5 - k) + 3.0 * k) / 5
        z = abs(mean - mu) / max(math.sqrt(var), 0.1)
        expected.append(round(z, 6))
        if z < model.anomaly_z:
            mu, var = ewma(mu, var, mean, model.ewma_alpha)
    got = [health_at(out, step + k * MIN).sensor_anomaly["vibration_mm_s"] for k in range(1, 6)]
    assert got == expected
    assert got[0] == pytest.approx(2.0) and got[1] < 4 <= got[2]
    assert health_at(out, step).sensor_anomaly["vibration_mm_s"] == 0.0


def test_time_to_failure_of_a_line():
    assert time_to_failure_ms(Fraction(5), Fraction(1, 100_000), Fraction(56, 5)) == 620_000
    assert time_to_failure_ms(5.0, 0.00001, 11.2) == 620_000
    assert time_to_failure_ms(12.0, 0.001, 11.2) == 0
    assert time_to_failure_ms(5.0, 0.0, 11.2) is None and time_to_failure_ms(5.0, -1e-5, 11.2) is None


def test_time_to_failure_on_a_linear_trend_is_exact():
    ramp = T0 + 10 * MIN
    readings = [reading(t, vibration_mm_s=2.0 if t < ramp else 2.0 + 0.01 * (t - ramp) / 1000)
                for t in range(T0, T0 + 20 * MIN, 1000)]
    out = replay(readings)
    # The window [ramp, ramp + 5 min) is all ramp: 0.01 mm/s per second, at 5.0 when the
    # window ends, so 11.2 mm/s is (11.2 - 5.0) / 0.01 s later.
    assert window(out, ramp).features["vibration_mm_s_slope"] == 0.01
    for minutes, ttf in ((5, 620_000), (6, 560_000), (9, 380_000)):
        h = health_at(out, ramp + minutes * MIN)
        assert h.time_to_failure_ms == ttf
        assert "vibration_mm_s:trend" in h.reasons
    assert health_at(out, ramp).time_to_failure_ms is None
    (alert,) = of(HealthAlert, out)
    assert alert.event_time_ms < ramp + 5 * MIN and alert.reasons[0].startswith("vibration_mm_s:")


def test_health_alert_resolves_with_hysteresis_and_has_a_deterministic_id():
    model = MaintenanceModel()
    bump = T0 + 10 * MIN
    readings = [reading(t, vibration_mm_s=(3.5 if bump <= t < bump + 6 * MIN else 2.0) + wiggle(t))
                for t in range(T0, T0 + 30 * MIN, 1000)]
    out = replay(readings, model)
    raised, resolved = of(HealthAlert, out)
    assert raised.active and raised.alert_id == f"m-1:health:{raised.event_time_ms}"
    assert resolved.alert_id == raised.alert_id and resolved.resolved_ms > raised.event_time_ms
    assert health_at(out, resolved.resolved_ms).health >= model.health_alert_threshold + model.health_clear_margin
    assert replay(readings, model) == out


# ---------------------------------------------------------------- faults, silence, lateness


def test_stuck_sensor_is_a_fault_not_degradation():
    rng = random.Random(5)
    readings = noisy("m-1", T0, 600, rng) + noisy("m-1", T0 + 600_000, 600, rng, pressure_bar=6.012) \
        + noisy("m-1", T0 + 1_200_000, 600, rng)
    out = replay(readings)
    raised, resolved = of(SensorFault, out)
    assert (raised.kind, raised.sensor, raised.reasons) == ("stuck", "pressure_bar", ("pressure_bar:stuck",))
    # the first window that is all stuck values, [10 min, 15 min)
    assert raised.event_time_ms == T0 + 15 * MIN and raised.alert_id == f"m-1:stuck:pressure_bar:{T0 + 15 * MIN}"
    assert resolved.alert_id == raised.alert_id and resolved.resolved_ms == T0 + 21 * MIN
    assert not of(HealthAlert, out)
    during = health_at(out, T0 + 16 * MIN)
    assert during.faulty_sensors == ("pressure_bar",) and during.sensor_anomaly["pressure_bar"] == 0.0
    assert raised.alert_id in during.active_alerts
    assert health_at(out, T0 + 22 * MIN).faulty_sensors == ()


def test_impossible_readings_are_left_out_and_flagged():
    rng = random.Random(6)
    readings = noisy("m-1", T0, 900, rng, temperature_c=lambda i: -300.0 if i >= 600 and i % 2 else
                     NORMAL["temperature_c"] + rng.gauss(0, 0.3))
    out = replay(readings)
    (fault,) = of(SensorFault, out)
    assert (fault.kind, fault.sensor, fault.event_time_ms) == ("impossible", "temperature_c", T0 + 11 * MIN)
    f = window(out, T0 + 10 * MIN).features
    assert f["temperature_c_impossible"] == 150 and f["temperature_c_count"] == 150
    assert f["temperature_c_min"] > 50 and abs(f["temperature_c_mean"] - 55.0) < 0.2
    assert not of(HealthAlert, out)
    assert all(h.health > 0.9 for h in of(MachineHealth, out))


def test_a_silent_machine_raises_no_data_once_per_silence():
    rng = random.Random(8)
    quiet = noisy("m-1", T0, 300, rng) + noisy("m-1", T0 + 900_000, 300, rng)
    busy = noisy("m-2", T0 + 500, 1800, rng)
    readings = sorted(quiet + busy, key=lambda r: r.event_time_ms)
    out = replay(readings)
    first, back, last = of(NoDataAlert, out, "m-1")
    silent_at = T0 + 299_000 + MaintenanceModel().silence_ms
    assert (first.alert_id, first.event_time_ms, first.active) == (f"m-1:no_data:{T0 + 299_000}", silent_at, True)
    assert back.alert_id == first.alert_id and back.resolved_ms == T0 + 900_000
    # the end of the input is the end of every machine's data
    assert last.active and last.event_time_ms == T0 + 1_199_000 + MaintenanceModel().silence_ms
    (end_of_input,) = of(NoDataAlert, out, "m-2")
    assert end_of_input.event_time_ms > readings[-1].event_time_ms


def test_late_readings_are_routed_and_change_nothing():
    monitor = MachineMonitor()
    state, _ = monitor.apply(MachineState(), reading(T0 + 1000, temperature_c=50.0), T0)
    late_state, out = monitor.apply(state, reading(T0 - 31_000, temperature_c=90.0), T0)
    assert late_state is state and isinstance(out[0], LateReading) and out[0].key_time_ms == T0 + 1000
    # judged by the machine's own newest reading: a watermark far ahead makes nothing late
    _, out = monitor.apply(state, reading(T0 - 29_000, temperature_c=90.0), T0 + 10 * MIN)
    assert not of(LateReading, out)
    # a reading for a window already emitted is late too
    closed, _ = monitor.on_timer(state, T0 + 10 * MIN)
    assert closed.closed_end_ms == T0 + 9 * MIN
    _, out = monitor.apply(closed, reading(T0 + 2000, temperature_c=50.0), T0)
    assert isinstance(out[0], LateReading)
    _, out = monitor.apply(closed, reading(T0 + 9 * MIN, temperature_c=50.0), T0 + 9 * MIN)
    assert not of(LateReading, out)


def test_next_timer_and_no_mutation():
    monitor = MachineMonitor()
    state, _ = monitor.apply(MachineState(), reading(T0 + 5000, temperature_c=50.0), T0)
    assert monitor.next_timer(state) == T0 + MIN + 30_000
    before = copy.deepcopy(state)
    after, out = monitor.on_timer(state, T0 + 100_000)
    assert state == before
    assert [type(o) for o in out] == [WindowFeatures, MachineHealth] and out[0].window_end_ms == T0 + MIN
    assert monitor.next_timer(after) == T0 + 5000 + 120_000
    after, out = monitor.on_timer(after, T0 + 5000 + 120_000)
    assert [type(o) for o in out] == [NoDataAlert]
    assert monitor.next_timer(after) == T0 + 2 * MIN + 30_000
    final, out = monitor.on_timer(after, MAX_WATERMARK)
    assert [w.window_end_ms - T0 for w in of(WindowFeatures, out)] == [m * MIN for m in (2, 3, 4, 5)]
    assert monitor.next_timer(final) is None and final.panes == {}


def test_outputs_do_not_depend_on_when_the_watermark_fires_timers():
    """Timers due by a machine's own event time fire before its next reading, so a watermark that
    lags (a replay after a restore) or fires every timer on the way gives the same outputs."""
    readings = noisy("m-1", T0, 1200, random.Random(9))
    monitor = MachineMonitor()
    state, lagging = MachineState(), []
    for r in readings:
        state, out = monitor.apply(state, r, MIN_WATERMARK)
        lagging += out
    _, at_the_end = monitor.on_timer(state, MAX_WATERMARK)
    assert lagging + at_the_end == replay(readings) == replay(readings, watermark_fn=bounded_out_of_orderness(20_000))


# ---------------------------------------------------------------- state, model, hot and cold records


def test_state_round_trips_exactly_and_stays_small():
    readings = noisy("m-1", T0, 3600, random.Random(10), vibration_mm_s=lambda i: -5.0 if i > 3000 else 2.0 + i / 1e4)
    monitor = MachineMonitor()
    state, watermark = MachineState(), T0
    for r in readings:
        state, _ = monitor.apply(state, r, watermark)
        watermark = r.event_time_ms - 1
        if monitor.next_timer(state) <= watermark:
            state, _ = monitor.on_timer(state, watermark)
    assert state.alerts and len(state.panes) <= 6
    assert MachineState.from_json(state.to_json()) == state
    assert len(state.to_json()) < 3000
    assert MachineState.from_json(None) == MachineState()
    with pytest.raises(ValueError, match="newer"):
        MachineState.from_json("[3]")


def test_model_config_is_validated():
    with pytest.raises(ValueError, match="multiple"):
        MaintenanceModel(window_ms=300_000, slide_ms=70_000)
    with pytest.raises(ValueError, match="silence"):
        MaintenanceModel(silence_ms=30_000, allowed_lateness_ms=30_000)
    with pytest.raises(ValueError, match="exactly the sensors"):
        MaintenanceModel(failure_thresholds={"humidity": 1.0})
    with pytest.raises(ValueError, match="outside its plausible range"):
        MaintenanceModel(failure_thresholds={**MaintenanceModel().failure_thresholds, "vibration_mm_s": 500.0})
    with pytest.raises(ValueError, match="plausible range"):
        MaintenanceModel(plausible_min={**MaintenanceModel().plausible_min, "pressure_bar": 5000.0})
    with pytest.raises(ValueError, match="ewma_alpha"):
        MaintenanceModel(ewma_alpha=0.0)
    with pytest.raises(ValueError, match="health alert threshold"):
        MaintenanceModel(health_alert_threshold=1.0)


def test_defaults_match_the_generator():
    model = MaintenanceModel()
    for thresholds in FAILURE_THRESHOLDS.values():
        for sensor, threshold in thresholds.items():
            assert model.failure_thresholds[sensor] == threshold
    for sensor, value in IMPOSSIBLE_VALUES.items():
        assert not model.plausible_min[sensor] <= value <= model.plausible_max[sensor]


def test_hot_records_and_feature_row():
    out = replay(noisy("m-1", T0, 400, random.Random(11)))
    health = of(MachineHealth, out)[-1]
    record = health_hot_record(health, "maint", now_ms=5)
    assert record.key == "maint:machine:m-1" and record.version == health.version
    assert record.fields["updated_at_ms"] == 5 and record.fields["time_to_failure_ms"] == ""
    assert {f"anomaly_{s}" for s in SENSORS} <= set(record.fields) and record.index_key is None
    alert = of(NoDataAlert, out)[0]
    raised = alert_hot_record(alert, "maint")
    assert raised.key == f"maint:alert:{alert.alert_id}" and raised.version == 1 and raised.fields["active"] == 1
    assert (raised.index_key, raised.index_member, raised.index_score) == ("maint:alerts", alert.alert_id,
                                                                           alert.event_time_ms)
    resolved = alert_hot_record(type(alert)(**{**alert.__dict__, "resolved_ms": alert.event_time_ms + 1}), "maint")
    assert resolved.version == 2 and resolved.fields["active"] == 0 and resolved.key == raised.key
    row = window(out, T0).row()
    assert len(row) == len(FEATURE_COLUMNS) and row[-1] == "2026-01-01" and row[:3] == ("m-1", T0, T0 + 5 * MIN)
    for (name, sql), value in zip(FEATURE_COLUMNS, row):
        assert {"STRING": str, "BIGINT": int, "DOUBLE": float}[sql] is type(value), name
    assert [n for n, _ in FEATURE_COLUMNS[4:11]] == [f"temperature_c_{s}" for s in
                                                   ("count", "mean", "std", "min", "max", "slope", "impossible")]


# ---------------------------------------------------------------- the generator's ground truth


@pytest.mark.parametrize("seed", [1, 2])
def test_generated_machines_match_their_truth(seed):
    generated = generator.generate("maintenance", count=40_000, seed=seed, keys=20)
    parse = EVENT_TYPES["SensorReading"].parse
    readings = [Reading.from_message(parse(value)) for _, value in generated.records]
    model = MaintenanceModel()
    out = replay(readings, model)
    truth = generated.truth["labels"]
    stream_end = generated.truth["event_time"]["last_ms"]
    degrading, faulty, silent = truth["degrading"], truth["faulty"], truth["silent"]
    assert degrading and faulty and silent

    alerts = [a for a in of(HealthAlert, out) if a.active]
    assert {a.machine_id for a in alerts} == set(degrading)
    leads = {}
    for machine, d in degrading.items():
        first = min(a.event_time_ms for a in alerts if a.machine_id == machine)
        # the alert is out when its window closes: before the threshold is crossed, long before failure
        assert first + model.allowed_lateness_ms < d["threshold_crossed_ms"] < d["failure_ms"]
        leads[machine] = (d["failure_ms"] - first) / MIN
        assert d["failure_ms"] - first > 0.25 * (d["failure_ms"] - d["onset_ms"])
    print(f"seed {seed}: health alert lead time before failure (minutes): {leads}")

    faults = {(f.machine_id, f.sensor, f.kind): f.event_time_ms for f in of(SensorFault, out) if f.active}
    expected = {(m, f["sensor"], f["kind"]): f["from_ms"] for m, fs in faulty.items() for f in fs if f["readings"]}
    assert set(faults) == set(expected)
    assert all(expected[key] <= at <= expected[key] + model.window_ms + model.slide_ms for key, at in faults.items())

    no_data = {a.machine_id: a for a in of(NoDataAlert, out) if a.active and a.event_time_ms <= stream_end}
    stopped = {**{m: s["last_event_ms"] for m, s in silent.items()},
               **{m: d["last_event_ms"] for m, d in degrading.items() if d["failed_in_stream"]}}
    assert {m: a.event_time_ms for m, a in no_data.items()} == {m: t + model.silence_ms for m, t in stopped.items()}


def test_a_re_sent_reading_is_a_duplicate_and_counts_once():
    """The same reading twice (a producer's retry), also after newer ones and once late: one count."""
    monitor = MachineMonitor()
    first, later = reading(T0 + 1_000, temperature_c=55.0), reading(T0 + 20_000, temperature_c=56.0)
    state, _ = monitor.apply(MachineState(), first, MIN_WATERMARK)
    again, outputs = monitor.apply(state, first, MIN_WATERMARK)
    assert outputs == [DuplicateReading(first.reading_id, "m-1", first.event_time_ms)] and again == state
    state, _ = monitor.apply(state, later, MIN_WATERMARK)
    state, outputs = monitor.apply(state, first, MIN_WATERMARK)
    assert of(DuplicateReading, outputs)
    assert sum(pane.readings for pane in state.panes.values()) == 2
    # long after: the copy is late (its id forgotten, its window closed), never applied again
    state, _ = monitor.apply(state, reading(T0 + 10 * MIN, temperature_c=55.0), MIN_WATERMARK)
    _, outputs = monitor.apply(state, first, MIN_WATERMARK)
    assert of(LateReading, outputs) and not of(DuplicateReading, outputs)


def test_remembered_ids_are_bounded_by_the_ttl_and_state_from_version_1_still_reads():
    monitor = MachineMonitor()
    state = MachineState()
    for r in noisy("m-1", T0, 600, random.Random(3)):
        state, _ = monitor.apply(state, r, MIN_WATERMARK)
    remembered = sum(len(e.fingerprints) for e in state.seen) // 8
    ttl_s = MaintenanceModel().dedup_ttl_ms // 1000
    assert ttl_s <= remembered <= ttl_s * 5 // 4 + 1, remembered
    version, *values, seen = json.loads(state.to_json())
    assert (version, len(seen)) == (2, len(state.seen))
    legacy = json.dumps([1, *values], separators=(",", ":"))
    assert MachineState.from_json(legacy).seen == [] and MachineState.from_json(legacy).panes == state.panes
    with pytest.raises(ValueError, match="dedup_ttl_ms"):
        MaintenanceModel(dedup_ttl_ms=10_000, allowed_lateness_ms=30_000)

