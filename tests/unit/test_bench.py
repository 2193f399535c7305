"""The benchmark harness's arithmetic: windows, percentiles, paired ratios, targets, the report."""
import os

from streamsuite.bench.arms import JOBS, arms_for
from streamsuite.bench.proc import CpuSample, ProcessMeter
from streamsuite.bench.report import markdown
from streamsuite.bench.round import window_rate
from streamsuite.bench.stats import dist, percentile
from streamsuite.bench.summary import bottleneck, ratios, summarize, targets
from streamsuite.procfs import CLK_TCK


def test_percentile_and_dist():
    values = list(range(1, 101))
    assert percentile(values, 50) == 50.5
    assert percentile(values, 99) == 99.01
    assert percentile([], 50) is None
    d = dist([5.0, 1.0, 3.0])
    assert d["n"] == 3 and d["p50"] == 3.0 and d["max"] == 5.0


def test_window_rate_uses_10_to_90_percent_and_the_cpu_in_that_window():
    tck = CLK_TCK
    samples = [(float(t), float(min(1000, max(0, (t - 5) * 100))), CpuSample(float(t), t * tck, t * tck // 2))
               for t in range(0, 20)]
    rate = window_rate(samples, 1000)
    # 10 % reached at t=6 (100), 90 % at t=14 (900): 800 events in 8 s.
    assert rate["throughput_eps"] == 100.0
    assert rate["window_events"] == 800
    assert rate["cpu_job_s"] == 8.0 and rate["cpu_stack_s"] == 4.0
    assert rate["events_per_cpu_s"] == 800 / 12.0


def test_window_rate_without_progress():
    assert window_rate([], 1000) == {"throughput_eps": None}


def test_ratios_are_paired_per_round():
    results = {
        "ours": [{"round": 1, "throughput_eps": 100.0, "events_per_cpu_s": 50.0},
                 {"round": 2, "throughput_eps": 200.0, "events_per_cpu_s": 100.0}],
        "sql": [{"round": 1, "throughput_eps": 1000.0, "events_per_cpu_s": 500.0},
                {"round": 2, "throughput_eps": 1000.0, "events_per_cpu_s": 1000.0}],
    }
    r = ratios(results)["sql"]
    assert r["throughput"]["median"] == 7.5 and r["throughput"]["min"] == 5.0
    assert r["events_per_cpu_s"]["max"] == 10.0


def test_targets_for_fraud():
    job = JOBS["fraud"]
    summary = {"ours": {"latency": {"p99_ms": {"median": 40.0}, "p999_ms": {"median": 120.0}},
                        "state_bytes_per_key": {"median": 300.0}}}
    # Ratios are arm / ours: the ceiling is 1.25x ours (ours 0.8x it), Quix 1.1x ours.
    ratio = {"sql": {"throughput": {"median": 4.0}}, "naive": {"throughput": {"median": 0.08}},
             "ceiling": {"throughput": {"median": 1.25}}, "quix": {"throughput": {"median": 1.1}}}
    rows = {t["target"]: t for t in targets(job, summary, ratio, {"profile_json_bytes": {"bound": 700}})}
    assert rows["fraud throughput >= 0.7x the PyFlink keyed-ceiling arm"]["met"] is True
    assert rows["fraud throughput >= 10x the naive arm"]["met"] is True
    assert rows["fraud throughput >= 1x the Quix Streams arm"]["met"] is False
    assert rows["fraud throughput >= 0.5x the Flink SQL arm"]["met"] is False
    assert rows["fraud p99 event-to-Redis <= 50 ms at half load"]["met"] is True
    assert rows["fraud p99.9 event-to-Redis <= 100 ms at half load"]["met"] is False
    assert all(t["met"] is not None for t in rows.values())
    without_quix = targets(job, summary, {k: v for k, v in ratio.items() if k != "quix"},
                                 {"profile_json_bytes": {"bound": 700}})
    assert [t["met"] for t in without_quix if "Quix" in t["target"]] == [None]
    at_quarter = targets(job, summary, ratio, {"profile_json_bytes": {"bound": 700}}, load=0.25)
    [latency] = [t for t in at_quarter if "event-to-Redis" in t["target"]]
    assert latency["met"] is None and "25% load" in latency["target"]


def test_process_meter_counts_this_process():
    meter = ProcessMeter(os.getpid())
    first = meter.sample()
    sum(i * i for i in range(300_000))
    second = meter.sample()
    assert second.job_ticks >= first.job_ticks
    assert meter.rss_kb["job client (python)"] > 0


def test_markdown_renders_a_minimal_report():
    job = JOBS["fraud"]
    arms = {"ours": arms_for(job)["ours"]}
    rounds = {"ours": [{"round": 1, "throughput_eps": 1000.0, "events_per_cpu_s": 900.0, "cores_used": 1.1,
                        "job_cpu_us_per_event": 900.0, "stack_cpu_us_per_event": 100.0, "startup_s": 12.0,
                        "checkpoint": {"end_to_end_ms": 40, "state_size_bytes": 10**6},
                        "state_bytes_per_key": 200.0, "rss_mb": {"Flink JVM": 700.0},
                        "latency": {"offered_eps": 500.0, "event_to_hot_ms": {"p50": 5.0, "p99": 30.0, "p999": 40.0,
                                                                             "max": 50.0},
                                    "stages": {"state_to_redis_ms": {"p50": 2.0, "p99": 9.0}}}}]}
    summary = summarize(job, arms, rounds)
    report = {"job": "fraud", "command": "streamsuite bench fraud", "started": "x", "seconds": 1.0,
              "machine": {"cpu": "c", "cores": 2, "memory_gb": 1, "os": "o", "kernel": "k",
                          "load_avg_at_start": [0.0, 0.0, 0.0]},
              "versions": {"python": "3"}, "params": {"seed": 1, "keys": 10, "backlog_events": {"ours": 10},
                                                      "rounds": 1, "latency_seconds": 1.0, "load": 0.5},
              "arms": {"ours": {"label": "ours", "description": "d", "parallelism": 1}}, "domain_core": {},
              "summary": summary, "ratios_to_ours": {}, "targets": targets(job, summary, {}, {}),
              "bottleneck": bottleneck(job, summary, {}, {}), "rounds": rounds}
    text = markdown(report, None)
    assert "| ours | 1,000 | 1.00 |" in text
    assert "p99" in text and "## Targets" in text


def test_load_generator_payloads_carry_the_stamped_event_time():
    import json

    from jobs.specs import JOBS
    from streamsuite.generator import generate
    from streamsuite.loadgen import timed_payloads

    stamp = 1_764_590_000_123
    for name, spec in JOBS.items():
        cls = spec.event_type.message_class
        records = generate(name, count=50, keys=7, seed=3).records
        for (key, value), payload in zip(records, timed_payloads(cls, records, json_out=False)):
            expected = cls.FromString(value)
            expected.event_time_ms = stamp
            assert payload.key == key
            assert cls.FromString(payload.stamped(stamp)) == expected
        for (_, value), payload in zip(records, timed_payloads(cls, records, json_out=True)):
            expected = cls.FromString(value)
            expected.event_time_ms = stamp
            assert json.loads(payload.stamped(stamp)) == {f.name: getattr(expected, f.name)
                                                          for f in cls.DESCRIPTOR.fields}
