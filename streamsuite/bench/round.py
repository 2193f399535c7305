"""One arm, one round: start the arm, measure throughput over the backlog, then latency at a fixed load."""
from __future__ import annotations

import json
import math
import os
import statistics
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

from jobs.paths import project_root
from streamsuite.bench.arms import Arm, BenchError
from streamsuite.bench.plan import (CHECKPOINT_TIMEOUT_S, IDLE_S, KEY_SAMPLE_SUFFIX, KeyspaceNotifications, POLL_S,
                                    Plan, STALL_S, START_TIMEOUT_S, TAIL_QUIET_S, TAIL_TIMEOUT_S, arm_command,
                                    clean_up, create_run_topics, progress_file, read_progress, topics_named)
from streamsuite.bench.proc import CpuSample, ProcessMeter
from streamsuite.bench.receiver import receiver_main
from streamsuite.bench.rest import Rest, TIME_METRICS, free_port, vertex_label
from streamsuite.bench.stats import dist, formatted
from streamsuite.bench.workload import publish
from streamsuite.loadgen import producer_main
from streamsuite.paths import portable
from streamsuite.procfs import CLK_TCK, process_table


def window_rate(samples: list[tuple[float, float, CpuSample]], total: int) -> dict[str, Any]:
    """Sustained rate between the samples where 10 % and 90 % of the backlog had been counted."""
    lo_i = next((i for i, s in enumerate(samples) if s[1] >= 0.1 * total), None)
    hi_i = next((i for i, s in enumerate(samples) if s[1] >= 0.9 * total), None)
    if lo_i is None:
        return {"throughput_eps": None}
    if hi_i is None:
        hi_i = len(samples) - 1
    if hi_i <= lo_i:
        lo_i = max(0, lo_i - 1)
    t0, c0, cpu0 = samples[lo_i]
    t1, c1, cpu1 = samples[hi_i]
    seconds, events = t1 - t0, c1 - c0
    if seconds <= 0 or events <= 0:
        return {"throughput_eps": None}
    job_cpu = (cpu1.job_ticks - cpu0.job_ticks) / CLK_TCK
    stack_cpu = (cpu1.stack_ticks - cpu0.stack_ticks) / CLK_TCK
    cpu = job_cpu + stack_cpu
    threads, runq = {}, {}
    if cpu0.threads and cpu1.threads:
        for name, ticks in cpu1.threads.items():
            used = (ticks - cpu0.threads.get(name, 0)) / CLK_TCK / seconds
            if name.endswith(" runq"):
                runq[name[:-5]] = used
            elif used >= 0.02:
                threads[name] = used
    return {"throughput_eps": events / seconds, "window_events": events, "window_s": seconds,
            "jvm_thread_cores": dict(sorted(threads.items(), key=lambda kv: -kv[1])[:8]),
            "jvm_thread_runqueue_wait": {name: runq.get(name, 0.0) for name in
                                         sorted(threads, key=lambda n: -threads[n])[:8]},
            "cpu_job_s": job_cpu, "cpu_stack_s": stack_cpu, "cores_used": cpu / seconds,
            "events_per_cpu_s": events / cpu if cpu > 0 else None,
            "job_cpu_us_per_event": job_cpu / events * 1e6, "stack_cpu_us_per_event": stack_cpu / events * 1e6}


def _checkpoint(rest: Rest, jid: str, keyed_vid: str, after_ms: float) -> dict[str, Any]:
    """The first checkpoint completed after the backlog was processed: duration and sizes."""
    deadline = time.monotonic() + CHECKPOINT_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            stats = rest.get(f"/jobs/{jid}/checkpoints")
        except (OSError, ValueError):
            time.sleep(0.5)
            continue
        done = [h for h in stats.get("history", []) if h.get("status") == "COMPLETED"
                and h.get("trigger_timestamp", 0) >= after_ms]
        if done:
            first = min(done, key=lambda h: h["id"])
            details = rest.get(f"/jobs/{jid}/checkpoints/details/{first['id']}")
            keyed = details.get("tasks", {}).get(keyed_vid, {})
            summary = stats.get("summary", {})
            return {"id": first["id"], "end_to_end_ms": first.get("end_to_end_duration"),
                    "state_size_bytes": first.get("state_size"),
                    "checkpointed_size_bytes": first.get("checkpointed_size"),
                    "keyed_vertex_state_bytes": keyed.get("state_size"),
                    "keyed_vertex_duration_ms": keyed.get("end_to_end_duration"),
                    "during_run": {"completed": stats.get("counts", {}).get("completed"),
                                   "failed": stats.get("counts", {}).get("failed"),
                                   "end_to_end_ms": summary.get("end_to_end_duration", {}),
                                   "state_size_bytes": summary.get("state_size", {})}}
        time.sleep(0.5)
    return {"error": f"no checkpoint completed within {CHECKPOINT_TIMEOUT_S:.0f} s after the backlog"}


def run_arm(plan: Plan, arm: Arm, round_no: int) -> dict[str, Any]:
    settings, job, say = plan.settings, plan.job, plan.say
    run_id = f"{plan.stamp}-{arm.name}-r{round_no}-{uuid.uuid4().hex[:4]}"
    folder = plan.work / run_id
    folder.mkdir(parents=True, exist_ok=True)
    ckpt = folder / "checkpoints"
    topics = {"input": f"bench.{run_id}.input", "dead": f"bench.{run_id}.deadletter"}
    if arm.kind == "sql":
        topics["output"] = f"bench.{run_id}.output"
    backlog = plan.backlog.get(arm.kind, plan.backlog["ours"])
    result: dict[str, Any] = {"round": round_no, "run_id": run_id, "backlog_events": backlog,
                              "keys": plan.workload.keys_in(backlog)}
    create_run_topics(settings.kafka_bootstrap, list(topics.values()), 4)
    if arm.rules:
        topics["rules"] = publish_rules(settings.kafka_bootstrap, run_id, plan.workload.times_ms[0])
    t0 = time.monotonic()
    publish(settings.kafka_bootstrap, topics["input"], plan.workload.records[:backlog],
            plan.workload.times_ms[:backlog], arm.kind == "sql", job)
    say(f"  round {round_no} {arm.label}: {backlog} events in {topics['input']} ({time.monotonic() - t0:.1f} s); "
        "starting the job")
    port = free_port()
    command = arm_command(plan, arm, run_id, topics, port, ckpt)
    result["command"] = portable(" ".join(command))
    log_path = folder / "job.log"
    # Flink's local log file has one fixed name; each run gets its own folder so runs never overwrite it.
    # The checkout's own code first on the path, for the arm scripts and the embedded Python of the
    # job's TaskManager: an editable install would otherwise give them another checkout's modules.
    code = os.pathsep.join([str(project_root()), str(project_root() / "proto")])
    env = {**os.environ, "FLINK_LOG_DIR": str(folder),
           "PYTHONPATH": code + (os.pathsep + os.environ["PYTHONPATH"] if os.environ.get("PYTHONPATH") else "")}
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, cwd=project_root(), stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True, env=env)
    from streamsuite.processes import stop_pid

    try:
        result.update(_measure(plan, arm, process, Rest(port), topics, run_id, backlog, log_path))
    except BenchError as exc:
        result["error"] = str(exc)
        say(f"    {arm.label}: {exc}")
    except Exception as exc:  # noqa: BLE001 - one broken run must not lose the others
        import traceback

        (folder / "harness-error.txt").write_text(traceback.format_exc())
        result["error"] = f"{exc.__class__.__name__}: {exc} (traceback in {folder / 'harness-error.txt'})"
        say(f"    {arm.label}: {result['error']}")
    finally:
        stop_pid(process.pid, timeout_s=20)
        if not plan.keep:
            if arm.kind == "quix":
                topics.update({t: t for t in topics_named(settings.kafka_bootstrap, run_id)})
            clean_up(plan, list(topics.values()), f"bench:{run_id}",
                     f"bench/{run_id}/" if arm.kind == "ours" else None, [ckpt])
    return result


def publish_rules(bootstrap: str, run_id: str, first_ms: int) -> str:
    """A one-partition rules topic: the example rule set in force from `first_ms`, a horizon a day past now."""
    from streamsuite.rules import EXAMPLE, load_rule_set, publish_updates
    from udfs.fraud_rules import horizon_update, rule_set_update

    topic = f"bench.{run_id}.rules"
    create_run_topics(bootstrap, [topic], 1)
    rules = load_rule_set(EXAMPLE)
    rules.effective_from_ms = first_ms
    now_ms = int(time.time() * 1000)
    publish_updates(bootstrap, topic, [rule_set_update(rules), horizon_update(now_ms + 86_400_000)], now_ms)
    return topic


def _tail(path: Path, lines: int = 3) -> str:
    try:
        text = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return ""
    return " | ".join(text[-lines:])


def _wait_running(plan: Plan, arm: Arm, process, rest: Rest, run_id: str, log_path: Path):
    """Until the arm runs: (job id, keyed vertex id, job info) from Flink's REST API, or for an arm
    without Flink (Quix) (None, None, None) once it has written its first progress count."""
    started = time.monotonic()
    vertex_name = arm.vertex or plan.job.vertex
    progress = progress_file(plan, run_id) if arm.kind == "quix" else None
    while True:
        if process.poll() is not None:
            raise BenchError(f"the job exited with {process.returncode} before running: {_tail(log_path)}")
        if time.monotonic() - started > START_TIMEOUT_S:
            raise BenchError(f"the job was not running after {START_TIMEOUT_S:.0f} s; see {log_path}")
        if progress is not None:
            if read_progress(progress) is not None:
                return None, None, None
        else:
            try:
                info = rest.job()
            except (OSError, ValueError, KeyError):
                info = None
            if info and info.get("state") == "RUNNING":
                match = [v for v in info["vertices"] if v["name"].startswith(vertex_name) or vertex_name in v["name"]]
                if match:
                    return info["jid"], match[0]["id"], info
        time.sleep(POLL_S)


def _measure(plan: Plan, arm: Arm, process, rest: Rest, topics, run_id: str, backlog: int,
             log_path: Path) -> dict[str, Any]:
    say = plan.say
    meter = ProcessMeter(process.pid)
    started = time.monotonic()
    jid, vid, info = _wait_running(plan, arm, process, rest, run_id, log_path)
    flink = jid is not None

    def processed() -> float | None:
        if not flink:
            return read_progress(progress_file(plan, run_id))
        try:
            return rest.vertex_sum(jid, vid, "numRecordsIn")
        except (OSError, ValueError, KeyError):
            return None

    running_at = time.monotonic()
    samples: list[tuple[float, float, CpuSample]] = []
    busy: dict[str, list[dict[str, float]]] = {}
    vertices = [(v["id"], vertex_label(v["name"])) for v in info["vertices"]] if flink else []
    polls = 0
    first_seen = None
    count = 0.0
    deadline = running_at + plan.drain_timeout_s
    progress_at = running_at
    while count < backlog:
        if process.poll() is not None:
            raise BenchError(f"the job exited with {process.returncode} while processing: {_tail(log_path)}")
        if time.monotonic() - progress_at > STALL_S:
            where = _diagnose(rest, jid) if flink else _tail(log_path)
            raise BenchError(f"no progress for {STALL_S:.0f} s at {count:.0f}/{backlog} events "
                             f"({where}); log in {log_path.parent}")
        if time.monotonic() > deadline:
            say(f"    {arm.label}: backlog not processed within {plan.drain_timeout_s:.0f} s ({count:.0f}/{backlog});"
                " measuring what was processed")
            break
        cpu = meter.sample()
        value = processed()
        polls += 1
        if value is not None and 0.1 * backlog <= value <= 0.9 * backlog and polls % 4 == 0:
            # Where the time goes inside the throughput window: the busiest task is the bottleneck,
            # the tasks before it are back-pressured.
            for v_id, label in vertices:
                try:
                    busy.setdefault(label, []).append(rest.vertex_avg(jid, v_id, TIME_METRICS))
                except (OSError, ValueError, KeyError):
                    pass
        if value is not None:
            if value > count:
                progress_at = time.monotonic()
            count = value
            if count > 0 and first_seen is None:
                first_seen = cpu.t
            samples.append((cpu.t, count, cpu))
        time.sleep(POLL_S)
    drained_wall_ms = time.time() * 1000
    out: dict[str, Any] = {"startup_s": (first_seen or time.monotonic()) - started,
                           "processed_events": count, **window_rate(samples, backlog)}
    out["task_time_ms_per_s"] = {
        label: {m: statistics.median(x[m] for x in rows if m in x) for m in TIME_METRICS
                if any(m in x for x in rows)}
        for label, rows in busy.items() if rows}
    say(f"    {arm.label}: {formatted(out.get('throughput_eps'), '{:,.0f}')} events/s, "
        f"{formatted(out.get('events_per_cpu_s'), '{:,.0f}')} events per CPU-second "
        f"({formatted(out.get('cores_used'), '{:.2f}')} cores), first record {out['startup_s']:.1f} s after start")
    out["checkpoint"] = _checkpoint(rest, jid, vid, drained_wall_ms) if flink else {}
    keyed_bytes = out["checkpoint"].get("keyed_vertex_state_bytes")
    keys = plan.workload.keys_in(backlog)
    out["state_bytes_per_key"] = keyed_bytes / keys if keyed_bytes and keys else None
    # Idle: the job is caught up and nothing arrives; what it burns now is a fixed cost.
    idle0 = meter.sample()
    time.sleep(IDLE_S)
    idle1 = meter.sample()
    seconds = max(idle1.t - idle0.t, 1e-9)
    out["idle_cores"] = {"job": (idle1.job_ticks - idle0.job_ticks) / CLK_TCK / seconds,
                         "stack": (idle1.stack_ticks - idle0.stack_ticks) / CLK_TCK / seconds}
    if arm.latency and plan.latency_seconds > 0 and out.get("throughput_eps"):
        rate = min(out["throughput_eps"] * plan.load, plan.max_latency_load or math.inf)
        out["latency"] = _latency_phase(plan, arm, topics, run_id, rate, meter)
        lat = out["latency"].get("event_to_hot_ms", {})
        say(f"    {arm.label}: latency at {out['latency']['offered_eps']:,.0f} events/s: p50 "
            f"{formatted(lat.get('p50'), '{:.1f}')} ms, p99 {formatted(lat.get('p99'), '{:.1f}')} ms, "
            f"p99.9 {formatted(lat.get('p999'), '{:.1f}')} ms ({lat.get('n', 0)} samples)")
    meter.sample()
    out["rss_mb"] = {name: round(kb / 1024, 1) for name, kb in sorted(meter.rss_kb.items())}
    return out


def _diagnose(rest: Rest, jid: str) -> str:
    """Records out of each vertex and the job's root exception, for a run that stopped moving."""
    try:
        info = rest.get(f"/jobs/{jid}")
        counts = [f"{v['name'][:40]}: out {rest.vertex_sum(jid, v['id'], 'numRecordsOut')}" for v in info["vertices"]]
        root = rest.get(f"/jobs/{jid}/exceptions").get("root-exception") or "no exception"
        return f"job {info.get('state')}; " + "; ".join(counts) + f"; {str(root).splitlines()[0][:200]}"
    except Exception as exc:  # noqa: BLE001 - best effort
        return f"REST not answering: {exc}"


def _harness_ticks(receiver_pid: int) -> int:
    """CPU ticks of the harness itself: this process and the latency receiver."""
    table = process_table()
    return sum(table[pid][1] for pid in (os.getpid(), receiver_pid) if pid in table)


def _latency_phase(plan: Plan, arm: Arm, topics, run_id: str, rate: float, meter: ProcessMeter) -> dict[str, Any]:
    import multiprocessing

    settings, job = plan.settings, plan.job
    ctx = multiprocessing.get_context("spawn")
    ready, stop = ctx.Event(), ctx.Event()
    progress = ctx.Value("l", 0)
    out_path = plan.work / run_id / "latency.json"
    phase_start_ms = int(time.time() * 1000)
    spec = {"bootstrap": settings.kafka_bootstrap, "input_topic": topics["input"],
            "output_topic": topics.get("output"), "redis_url": settings.redis_url,
            "pattern": f"bench:{run_id}:{job.hot_pattern}" + KEY_SAMPLE_SUFFIX[plan.latency_key_sample],
            "time_field": job.hot_time_field, "kafka_probe": plan.kafka_probe,
            "hot": "kafka" if arm.kind == "sql" else "redis", "phase_start_ms": phase_start_ms}
    notifications = KeyspaceNotifications(settings.redis_url) if spec["hot"] == "redis" else None
    if notifications:
        notifications.__enter__()
    receiver = ctx.Process(target=receiver_main, args=(spec, str(out_path), ready, stop, progress), daemon=True)
    receiver.start()
    try:
        if not ready.wait(30):
            raise BenchError("the latency receiver did not start within 30 s")
        json_out = arm.kind == "sql"
        total = max(1, int(rate * (plan.latency_seconds + plan.warmup_seconds)))
        measured = max(1, int(rate * plan.latency_seconds))
        producer_out = plan.work / run_id / "producer.json"
        producer_ready, producer_start = ctx.Event(), ctx.Event()
        produced = ctx.Value("l", 0)
        producer = ctx.Process(target=producer_main, daemon=True,
                               args=({"bootstrap": settings.kafka_bootstrap, "topic": topics["input"], "rate": rate,
                                      "total": total}, plan.workload.timed_live(json_out), str(producer_out),
                                     producer_ready, producer_start, produced))
        producer.start()
        if not producer_ready.wait(60):
            raise BenchError("the load generator did not connect to Kafka within 60 s")
        cpu0 = meter.sample()
        harness0 = _harness_ticks(receiver.pid)
        # Events of the warm-up are produced but not measured: the first live events move event time from
        # the backlog's past to now, which fires every key's due timers at once (inventory, maintenance).
        cutoff_ms = time.time() * 1000 + plan.warmup_seconds * 1000
        producer_start.set()
        producer.join(plan.latency_seconds + plan.warmup_seconds + 90)
        if producer.is_alive():
            producer.kill()
            raise BenchError(f"the load generator had produced {produced.value} of {total} events "
                             f"{plan.latency_seconds + plan.warmup_seconds + 90:.0f} s after its start")
        cpu1 = meter.sample()
        harness1 = _harness_ticks(receiver.pid)
        # Wait for the tail: until no new result arrived for a few seconds.
        last, last_change = -1, time.monotonic()
        deadline = time.monotonic() + TAIL_TIMEOUT_S
        while time.monotonic() < deadline:
            value = progress.value
            if value != last:
                last, last_change = value, time.monotonic()
            elif time.monotonic() - last_change > TAIL_QUIET_S or value >= total:
                break
            time.sleep(0.2)
    finally:
        stop.set()
        receiver.join(30)
        if receiver.is_alive():
            receiver.kill()
        if notifications:
            notifications.__exit__(None, None, None)
    try:
        data = json.loads(out_path.read_text())
    except (OSError, ValueError):
        raise BenchError("the latency receiver wrote no results") from None
    try:
        generated = json.loads(producer_out.read_text())
    except (OSError, ValueError):
        raise BenchError("the load generator wrote no results") from None
    if generated["undelivered"]:
        raise BenchError(f"the load generator could not deliver {generated['undelivered']} events within 30 s")
    phase_threads = _thread_shares(cpu0, cpu1)
    hot = [h for h in data["hot"] if h[1] >= cutoff_ms]
    probe = [p for p in data["probe"] if p[1] >= cutoff_ms]
    total_ms = [recv - event for recv, event, _ in hot]
    result = {"offered_eps": rate, "seconds": plan.latency_seconds, "warmup_seconds": plan.warmup_seconds,
              "produced": total, "measured_events": measured,
              "achieved_eps": generated["produced"] / max(generated["seconds"], 1e-9), "results": len(hot),
              "cores_used": {"job": (cpu1.job_ticks - cpu0.job_ticks) / CLK_TCK / max(cpu1.t - cpu0.t, 1e-9),
                             "stack": (cpu1.stack_ticks - cpu0.stack_ticks) / CLK_TCK / max(cpu1.t - cpu0.t, 1e-9),
                             "harness": (harness1 - harness0) / CLK_TCK / max(cpu1.t - cpu0.t, 1e-9),
                             "producer": generated["cores"]},
              "producer_lateness_ms": dist(generated["lateness_ms"]),
              "event_to_hot_ms": dist(total_ms),
              "stages": {"produce_to_kafka_consumer_ms": dist([recv - ts for recv, ts in probe])}}
    if any(updated for _, _, updated in hot):
        result["stages"]["event_to_state_ms"] = dist([u - e for _, e, u in hot if u])
        result["stages"]["state_to_redis_ms"] = dist([r - u for r, _, u in hot if u])
    result["jvm_threads"] = phase_threads
    result["_samples"] = total_ms
    return result


def _thread_shares(cpu0: CpuSample, cpu1: CpuSample) -> dict[str, dict[str, float]]:
    """Per JVM thread between two samples: cores on a CPU and cores' worth of waiting on a run queue."""
    seconds = max(cpu1.t - cpu0.t, 1e-9)
    out: dict[str, dict[str, float]] = {}
    if not (cpu0.threads and cpu1.threads):
        return out
    for name, ticks in cpu1.threads.items():
        if name.endswith(" runq"):
            continue
        cores = (ticks - cpu0.threads.get(name, 0)) / CLK_TCK / seconds
        if cores >= 0.02:
            runq = (cpu1.threads.get(f"{name} runq", 0) - cpu0.threads.get(f"{name} runq", 0)) / CLK_TCK / seconds
            out[name] = {"cpu": cores, "runqueue": runq}
    return dict(sorted(out.items(), key=lambda kv: -kv[1]["cpu"])[:6])
