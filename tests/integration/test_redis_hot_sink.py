"""The JVM Redis hot sink against the real Redis: fenced versions, feeds, TTLs, a lost script
cache, an outage it rides out and one longer than its bound."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import asdict

import pytest
import redis

from streamsuite.bench.rest import free_port
from udfs.hot import HotRecord

pytestmark = [pytest.mark.integration, pytest.mark.jvm]


def run_sink(tmp_path, records, redis_url, *args, timeout_s=240):
    path = tmp_path / f"records-{uuid.uuid4().hex[:6]}.json"
    path.write_text(json.dumps([asdict(r) for r in records]))
    command = [sys.executable, "-m", "tests.integration.hot_sink_job", str(path), "--set", f"redis.url={redis_url}",
               "--set", "runtime.restart_attempts=0", "--set", "checkpoint.interval_ms=500", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout_s)


@pytest.fixture
def client(stack):
    return redis.Redis.from_url(stack.settings.redis_url, decode_responses=True)


@pytest.mark.timeout(300)
def test_newer_versions_win_feeds_have_no_duplicates_and_ttls_are_set(stack, client, tmp_path):
    p = f"test:{uuid.uuid4().hex[:8]}"
    records = [HotRecord(f"{p}:card:c1", v, {"score": s, "reasons": "velocity"}, event_time_ms=1000 + v)
               for v, s in ((1, 0.1), (2, 0.2), (3, 0.3), (2, 0.9), (3, 0.9), (1, 0.9))]
    records += [HotRecord(f"{p}:alert:a{i}", 1, {"card": f"c{i}"}, f"{p}:alerts", 1000 + i, f"a{i}")
                for i in (2, 1, 3, 2, 1)]
    records.append(HotRecord(f"{p}:seen:e1", 1, {"n": 7}, ttl_ms=600_000))
    result = run_sink(tmp_path, records, stack.settings.redis_url, "--set", "redis.batch_max_records=4")
    assert result.returncode == 0, result.stderr[-3000:]
    assert client.hgetall(f"{p}:card:c1") == {"version": "3", "score": "0.3", "reasons": "velocity"}
    assert client.zrange(f"{p}:alerts", 0, -1, withscores=True) == [("a1", 1001.0), ("a2", 1002.0), ("a3", 1003.0)]
    assert client.hgetall(f"{p}:alert:a2") == {"version": "1", "card": "c2"}
    assert 0 < client.pttl(f"{p}:seen:e1") <= 600_000
    assert client.pttl(f"{p}:card:c1") == -1


@pytest.mark.timeout(300)
def test_a_script_cache_lost_by_redis_is_reloaded(stack, client, tmp_path):
    p = f"test:{uuid.uuid4().hex[:8]}"
    records = [HotRecord(f"{p}:k{i % 5}", i, {"i": i}) for i in range(1, 41)]
    result = run_sink(tmp_path, records, stack.settings.redis_url, "--script-flush-at", "20",
                      "--set", "redis.batch_max_records=1")
    assert result.returncode == 0, result.stderr[-3000:]
    assert [client.hget(f"{p}:k{k}", "version") for k in range(5)] == ["40", "36", "37", "38", "39"]



class PrivateRedis:
    """A redis-server of this test's own on a free loopback port, stopped by its PID."""

    def __init__(self, folder, password: str = ""):
        self.folder, self.port, self.process, self.password = folder, free_port(), None, password

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = os.environ.get("STREAMSUITE_REDIS_SERVER") or shutil.which("redis-server")
        self.process = subprocess.Popen([binary, "--bind", "127.0.0.1", "--port", str(self.port), "--dir",
                                         str(self.folder), "--appendonly", "yes", "--appendfsync", "always",
                                         "--save", "", *(("--requirepass", self.password) if self.password else ())],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if redis.Redis(port=self.port, password=self.password or None, socket_timeout=1).ping():
                    return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(10)


@pytest.mark.timeout(300)
def test_an_outage_back_pressures_the_job_and_every_write_lands(stack, tmp_path):
    server = PrivateRedis(tmp_path)
    server.start()
    records = [HotRecord(f"out:k{i}", 1, {"i": i}) for i in range(300)]
    outage = {}

    def break_redis():
        client = redis.Redis(port=server.port, decode_responses=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # wait until the job has started writing
            try:
                if client.dbsize() >= 20:
                    break
            except redis.ConnectionError:
                pass
            time.sleep(0.05)
        server.kill()
        outage["down_at"] = time.monotonic()
        time.sleep(3)
        server.start()
        outage["up_at"] = time.monotonic()

    breaker = threading.Thread(target=break_redis)
    breaker.start()
    try:
        result = run_sink(tmp_path, records, server.url, "--pace-ms", "10", "--set", "redis.batch_max_records=5",
                          "--set", "redis.retry_max_ms=200")
        breaker.join(60)
        assert result.returncode == 0, result.stderr[-3000:]
        assert outage.get("up_at"), "the outage never happened"
        client = redis.Redis(port=server.port, decode_responses=True)
        assert sorted(int(client.hget(f"out:k{i}", "i")) for i in range(300)) == list(range(300))
    finally:
        breaker.join(60)
        server.kill()


@pytest.mark.timeout(300)
def test_an_outage_longer_than_the_bound_fails_the_job_with_the_setting(stack, tmp_path):
    records = [HotRecord("never:k", 1, {"a": 1})]
    result = run_sink(tmp_path, records, f"redis://127.0.0.1:{free_port()}/0", "--set", "redis.max_outage_ms=1500")
    assert result.returncode == 1
    assert "redis.max_outage_ms=1500" in result.stderr, result.stderr[-3000:]
    assert "Traceback" not in result.stderr


@pytest.mark.timeout(400)
def test_a_redis_password_is_read_on_the_task_manager_and_never_travels_in_the_job_graph(stack, tmp_path):
    password = f"pw-{uuid.uuid4().hex}"
    server = PrivateRedis(tmp_path, password)
    server.start()
    try:
        secret_file = tmp_path / "redis-password"
        secret_file.write_text(password + "\n")
        client = redis.Redis(port=server.port, password=password, decode_responses=True)
        for n, how in enumerate(([f"redis.url=redis://:{password}@127.0.0.1:{server.port}/0"],
                                 [f"redis.url={server.url}", f"redis.password=file:{secret_file}"])):
            graph = tmp_path / f"graph-{n}.bin"
            records = [HotRecord(f"auth{n}:k{i}", 1, {"i": i}) for i in range(20)]
            result = run_sink(tmp_path, records, server.url, "--graph-out", str(graph),
                              *(arg for item in how for arg in ("--set", item)))
            assert result.returncode == 0, result.stderr[-3000:]
            assert [client.hget(f"auth{n}:k{i}", "i") for i in range(20)] == [str(i) for i in range(20)]
            serialized = graph.read_bytes()
            assert serialized and password.encode() not in serialized
            assert password not in result.stdout + result.stderr
        missing = run_sink(tmp_path, [HotRecord("auth:never", 1, {"a": 1})], server.url,
                           "--set", "redis.password=env:STREAMSUITE_TEST_UNSET_PASSWORD")
        assert missing.returncode == 1
        assert "STREAMSUITE_TEST_UNSET_PASSWORD" in missing.stderr, missing.stderr[-3000:]
    finally:
        server.kill()
