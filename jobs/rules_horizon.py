"""Keep the fraud rules horizon ahead of the transactions: `python -m jobs.rules_horizon`.

A transaction at or after the horizon waits in `hold-for-rules` until the rules topic promises
that no rule set published later takes effect before it (README, "Why a replay scores like the
first run"). Run this on a schedule (the `fraud-rules` kustomize component does, every five
minutes) and the horizon stays `--ahead` seconds in front of the wall clock; a rule set must then
take effect at least that far in the future to be accepted. It reads the fraud job's own config
(defaults, file, environment, --set) and reaches Kafka with the job's brokers and security.
"""
from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime, timezone
from typing import Sequence

from jobs import secrets
from jobs.config import ConfigError, defaults, load
from jobs.kafka import LibrdkafkaError, librdkafka_properties
from udfs.fraud_rules import RULES_KEY, horizon_update

PROG = "python -m jobs.rules_horizon"


def publish_horizon(properties: dict[str, str], topic: str, until_ms: int, timeout_s: float = 30.0) -> None:
    """One horizon record on an existing topic, acknowledged by every in-sync replica, or an error saying why not."""
    from confluent_kafka import KafkaError, KafkaException, Producer

    producer = Producer({**properties, "enable.idempotence": True, "acks": "all", "log_level": 0,
                         "message.timeout.ms": int(timeout_s * 1000)})
    servers = properties["bootstrap.servers"]
    try:
        topics = producer.list_topics(timeout=10).topics
    except KafkaException:
        raise RuntimeError(f"Kafka is not reachable at {servers}; start it or set kafka.bootstrap_servers") from None
    if topic not in topics:
        raise RuntimeError(f"the rules topic {topic} does not exist on {servers}; create it (one partition) "
                           "or set rules.topic")
    delivered: list = []
    producer.produce(topic, key=RULES_KEY, value=horizon_update(until_ms),
                     on_delivery=lambda error, message: delivered.append(error))
    producer.flush(timeout_s)
    if delivered == [None]:
        return
    if not delivered or delivered[0].code() == KafkaError._MSG_TIMED_OUT:
        raise RuntimeError(f"no broker at {servers} acknowledged the horizon within {timeout_s:.0f} s")
    raise RuntimeError(f"Kafka refused the horizon on {topic}: {delivered[0].str()}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description="Promise that no fraud rule set published later "
                                                            "takes effect before now + --ahead.")
    parser.add_argument("--ahead", type=float, default=3600.0, metavar="SECONDS",
                        help="how far past now the horizon goes (default 3600)")
    parser.add_argument("--config", help="the fraud job's TOML config file (layered as the job layers it)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override one config key of the fraud job, e.g. --set rules.topic=fraud.rules")
    args = parser.parse_args(argv)
    if args.ahead <= 0:
        parser.error(f"--ahead must be positive seconds, not {args.ahead:g}")
    try:
        config = load(defaults("fraud", None), args.config, overrides=args.overrides)
        properties = librdkafka_properties(config)
    except (ConfigError, secrets.SecretError, LibrdkafkaError) as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2
    until_ms = int(time.time() * 1000 + args.ahead * 1000)
    try:
        publish_horizon(properties, config.rules.topic, until_ms)
    except RuntimeError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 1
    until = datetime.fromtimestamp(until_ms / 1000, timezone.utc).isoformat(timespec="seconds")
    print(f"{PROG}: horizon {until} ({until_ms} ms) published to {config.rules.topic} at "
          f"{config.kafka.bootstrap_servers}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
