"""`streamsuite bench` works end to end: a tiny run of our fraud job only, one round.

This checks the harness (REST polling, /proc accounting, checkpoint stats, the latency
receiver, the report files), not performance: the numbers of so small a run mean nothing.
The real benchmark (`streamsuite bench fraud --rounds 3`) is never part of the test run.
"""
import json
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.jvm]


@pytest.mark.timeout(240)
def test_bench_smoke(stack, tmp_path):
    command = [sys.executable, "-m", "streamsuite", "bench", "fraud", "--rounds", "1", "--arms", "ours",
               "--events", "2000", "--keys", "200", "--latency-seconds", "3", "--load", "0.2",
               "--drain-timeout", "90", "--no-plot", "--out", str(tmp_path)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=200)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    [report_path] = tmp_path.glob("fraud-*.json")
    report = json.loads(report_path.read_text())
    [run] = report["rounds"]["ours"]
    assert "error" not in run, run.get("error")
    assert run["processed_events"] == 2000
    assert run["throughput_eps"] > 0
    assert run["events_per_cpu_s"] > 0
    assert run["checkpoint"].get("keyed_vertex_state_bytes", 0) > 0
    assert run["rss_mb"]["Flink JVM"] > 0
    latency = run["latency"]["event_to_hot_ms"]
    assert latency["n"] > 0 and latency["p50"] >= 0
    markdown = report_path.with_suffix(".md").read_text()
    assert "streamsuite bench fraud" in markdown and "## Targets" in markdown
