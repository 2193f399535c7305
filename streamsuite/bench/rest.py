"""The Flink REST API the harness polls (vertices, metrics, checkpoints), and free ports for arms."""
from __future__ import annotations

import json
import socket
import urllib.parse
import urllib.request
from typing import Any

from streamsuite.bench.arms import BenchError


class Rest:
    def __init__(self, port: int):
        self.base = f"http://127.0.0.1:{port}"

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.base + path, timeout=3) as response:
            return json.load(response)

    def job(self) -> dict | None:
        jobs = self.get("/jobs")["jobs"]
        running = [j for j in jobs if j["status"] == "RUNNING"] or jobs
        return self.get(f"/jobs/{running[0]['id']}") if running else None

    def vertex_avg(self, jid: str, vid: str, metrics: tuple[str, ...]) -> dict[str, float]:
        url = f"/jobs/{jid}/vertices/{vid}/subtasks/metrics?get={urllib.parse.quote(','.join(metrics))}&agg=avg"
        return {m["id"]: float(m["avg"]) for m in self.get(url) if "avg" in m}

    def vertex_sum(self, jid: str, vid: str, metric: str) -> float | None:
        url = f"/jobs/{jid}/vertices/{vid}/subtasks/metrics?get={urllib.parse.quote(metric)}&agg=sum"
        values = self.get(url)
        return float(values[0]["sum"]) if values and "sum" in values[0] else None


TIME_METRICS = ("busyTimeMsPerSecond", "backPressuredTimeMsPerSecond", "idleTimeMsPerSecond")


def vertex_label(name: str) -> str:
    """A task's name without topic names, its first two operators: "Source: kafka -> decode+validate"."""
    parts = [p.strip("() ") for p in name.split(" -> ")]
    if parts[0].startswith("Source: kafka"):
        parts[0] = "Source: kafka"
    return " -> ".join(parts[:2])[:60]


def free_port() -> int:
    """A free port below Linux's ephemeral range (32768+), where the job's own outgoing
    connections cannot take it between this check and the REST server's start."""
    import random

    for _ in range(200):
        port = random.randint(20_000, 32_000)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise BenchError("no free port for the job's REST API between 20000 and 32000")
