"""`streamsuite demo`: the fraud job end to end on the embedded default stack.

Starts the local services, writes a seeded stream with labelled fraud and some poison
to fresh demo topics, runs the job to the end of that input on a local mini-cluster, and
prints what came out and where. Each run has its own id, so runs never mix.
"""
from __future__ import annotations

import argparse
import collections
import subprocess
import sys
import time
import uuid

from streamsuite.argtypes import non_negative_int, positive_int
from streamsuite.localrun import job_command
from streamsuite.stack import Stack, StackSettings, quiet_kafka_logger
from streamsuite.topics import create_topics


def alert_quality(alerted_ids: set[str], labels: dict[str, str]) -> dict[str, float]:
    """Precision and recall of alerts against the generator's labels (transaction id -> pattern)."""
    true_positives = len(alerted_ids & labels.keys())
    result = {
        "precision": true_positives / len(alerted_ids) if alerted_ids else 0.0,
        "recall": true_positives / len(labels) if labels else 0.0,
    }
    for pattern in sorted(set(labels.values())):
        ids = {tx for tx, p in labels.items() if p == pattern}
        result[f"recall_{pattern}"] = len(ids & alerted_ids) / len(ids)
    return result


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--count", type=positive_int, default=20_000,
                        help="valid transactions to generate (default 20000)")
    parser.add_argument("--cards", type=positive_int, default=2_000, help="distinct cards (default 2000)")
    parser.add_argument("--poison", type=non_negative_int, default=25, help="malformed messages mixed in (default 25)")
    parser.add_argument("--seed", type=int, default=7)


def run(args: argparse.Namespace) -> int:
    from jobs.specs import COLD_BUCKET
    from streamsuite.generator import generate
    from streamsuite.generator.cli import write_truth
    from jobs.paths import run_dir

    settings = StackSettings.from_env()
    say = lambda line: print(line, flush=True)  # noqa: E731
    say("1/4 starting the local stack (Kafka, Redis, S3) ...")
    Stack(settings, say=lambda line: say(f"    {line}")).up()

    run_id = time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:4]
    source, dead = f"demo.{run_id}.transactions", f"demo.{run_id}.deadletter"
    create_topics(settings.kafka_bootstrap, {source: 4, dead: 4}, logger=quiet_kafka_logger())
    say(f"2/4 generating {args.count} transactions on {args.cards} cards (+{args.poison} poison) into {source} ...")
    rate = args.cards / 1800  # a card pays about every half hour
    stream = generate("fraud", count=args.count, keys=args.cards, seed=args.seed, poison=args.poison, rate=rate,
                      start_time_ms=int(time.time() * 1000 - args.count / rate * 1000))
    stream.publish(settings.kafka_bootstrap, source)
    truth_path = run_dir() / "demo" / f"{run_id}.truth.json"
    write_truth(truth_path, stream.truth)

    prefix, s3_prefix = f"demo:{run_id}", f"demo/{run_id}"
    say("3/4 running the fraud job on a local mini-cluster until the end of the input ...")
    t0 = time.monotonic()
    job = subprocess.run(job_command("jobs.fraud_scoring", settings, input_topic=source, dead_letter_topic=dead,
                                     run_id=run_id, namespace="demo",
                                     # a demo that breaks says so, instead of restarting without end
                                     extra=["--set", "runtime.restart_attempts=2"]), timeout=1800)
    if job.returncode != 0:
        print("streamsuite demo: the fraud job failed (see the line above)", file=sys.stderr)
        return 1
    seconds = time.monotonic() - t0
    say("4/4 summary")
    _summary(settings, stream, prefix, dead, f"s3a://{COLD_BUCKET}/{s3_prefix}", seconds)
    print(f"    quality       streamsuite report fraud --scores {COLD_BUCKET}/{s3_prefix}/scores --truth {truth_path}")
    return 0


def _summary(settings, stream, prefix: str, dead_topic: str, cold_uri: str, seconds: float) -> None:
    import redis

    client = redis.Redis.from_url(settings.redis_url, decode_responses=True)
    alert_ids = client.zrange(f"{prefix}:alerts", 0, -1)
    pipe = client.pipeline(transaction=False)
    for alert_id in alert_ids:
        pipe.hmget(f"{prefix}:alert:{alert_id}", "transaction_id", "reasons")
    alerts = pipe.execute()
    reasons = collections.Counter(r for _, rs in alerts for r in (rs or "").split(",") if r)
    counts = stream.truth["counts"]
    quality = alert_quality({tx for tx, _ in alerts}, stream.truth["labels"]["labels"])
    cards = sum(1 for _ in client.scan_iter(f"{prefix}:card:*", count=1000))
    print(f"    events        {counts['valid_events']} valid + {counts['poison']} poison, "
          f"processed in {seconds:.1f} s (including JVM start)")
    print(f"    alerts        {len(alert_ids)}  (precision {quality['precision']:.2f}, recall {quality['recall']:.2f} "
          "against the generator's labels)")
    print(f"    top reasons   {', '.join(f'{r} {n}' for r, n in reasons.most_common(4)) or '-'}")
    print(f"    hot (Redis)   {settings.redis_url}: {cards} cards in {prefix}:card:<card_id>, "
          f"alert feed {prefix}:alerts (sorted set by event time)")
    print(f"    cold (S3)     {cold_uri}/scores/ and {cold_uri}/alerts/ (Parquet, dt=YYYY-MM-DD), "
          f"endpoint {settings.s3_endpoint}")
    print(f"    dead letters  Kafka topic {dead_topic} ({counts['poison']} expected)")
    print("    stop the services with `streamsuite stack down`")
