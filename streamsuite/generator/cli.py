"""`streamsuite generate`: stream to a file or topic, then write the ground truth beside it."""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from jobs.specs import JOBS
from streamsuite.argtypes import non_negative_int, positive_float, positive_int
from streamsuite.generator.base import (BROKER_TIMEOUT_S, DEFAULT_BOOTSTRAP, DEFAULT_COUNT, DEFAULT_OUT_OF_ORDER_MS,
                                        DEFAULT_SCHEMA_ID, DEFAULT_SEED, DEFAULT_START_TIME_MS, FRAMINGS)
from streamsuite.generator.domains import GENERATORS
from streamsuite.generator.outputs import FileOutput, KafkaOutput, OutputError
from streamsuite.generator.stream import EventStream


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The `generate` subcommand's arguments, including the positional domain."""
    parser.add_argument("domain", choices=sorted(GENERATORS), help="which job's input to generate")
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--count", type=positive_int,
                      help=f"valid event messages, duplicates included; poison comes on top (default {DEFAULT_COUNT})")
    size.add_argument("--duration", type=positive_float, metavar="SECONDS",
                      help="generate every event in this event-time span instead of a count")
    parser.add_argument("--rate", type=positive_float, metavar="EVENTS_PER_S",
                        help="event-time spacing over all keys (default: fraud 100, inventory 100, maintenance 20); "
                             "also the send rate with --realtime")
    parser.add_argument("--realtime", action="store_true",
                        help="throttle sending to --rate messages per wall-clock second (default: as fast as possible)")
    parser.add_argument("--keys", type=positive_int,
                        help="cards, store-SKU pairs or machines (default: 10000, 1000, 100)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default {DEFAULT_SEED})")
    parser.add_argument("--framing", choices=FRAMINGS, default="raw",
                        help="plain protobuf or the Confluent Schema Registry wire format (default raw)")
    parser.add_argument("--schema-id", type=non_negative_int, default=DEFAULT_SCHEMA_ID,
                        help=f"schema id written by --framing confluent (default {DEFAULT_SCHEMA_ID})")
    parser.add_argument("--poison", type=non_negative_int, default=0, metavar="N",
                        help="malformed messages to interleave; every one fails decoding or validation")
    parser.add_argument("--start-time-ms", type=int, default=DEFAULT_START_TIME_MS,
                        help=f"event time of the stream start (default {DEFAULT_START_TIME_MS}, 2024-01-01 UTC)")
    parser.add_argument("--out-of-order-ms", type=non_negative_int, default=DEFAULT_OUT_OF_ORDER_MS,
                        help="inventory: how far behind the newest event time a late event may be "
                             f"(default {DEFAULT_OUT_OF_ORDER_MS}; 0 disables late events)")
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--to-file", type=Path, metavar="PATH",
                        help="write length-prefixed records (4-byte big-endian length + key, then value)")
    target.add_argument("--topic", help="produce to this Kafka topic, keyed by the event key "
                                        "(default: the job's input topic, e.g. fraud.transactions)")
    parser.add_argument("--bootstrap",
                        help=f"Kafka bootstrap servers (default: the local stack's, {DEFAULT_BOOTSTRAP} "
                             "unless STREAMSUITE_KAFKA_PORT moves it)")
    parser.add_argument("--partitions", type=positive_int,
                        help="partitions when the topic has to be created (default: as the job's input topic)")
    parser.add_argument("--broker-timeout", type=positive_float, default=BROKER_TIMEOUT_S, metavar="SECONDS",
                        help=f"how long to wait for the broker before failing (default {BROKER_TIMEOUT_S:g})")
    parser.add_argument("--truth", type=Path, metavar="PATH",
                        help="ground-truth JSON (default PATH.truth.json, or .run/generated/TOPIC.truth.json)")
    parser.add_argument("--quiet", action="store_true", help="no progress or summary on stderr")


def _truth_path(args: argparse.Namespace) -> Path:
    if args.truth is not None:
        return args.truth
    if args.to_file is not None:
        return Path(str(args.to_file) + ".truth.json")
    from jobs.paths import run_dir

    return run_dir() / "generated" / f"{args.topic}.truth.json"


def write_truth(path: Path, truth: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(truth, indent=1) + "\n")
    os.replace(partial, path)


class _Progress:
    """A line on stderr about once a second, so a long run shows it is moving."""

    def __init__(self, label: str, expected: int, exact: bool, quiet: bool):
        self.label = label
        self.expected = f"{expected}" if exact else f"~{expected}"
        self.quiet = quiet
        self.started = time.monotonic()
        self.next_report = self.started + 1.0

    def update(self, sent: int) -> None:
        if self.quiet:
            return
        now = time.monotonic()
        if now >= self.next_report:
            self.next_report = now + 1.0
            rate = sent / max(now - self.started, 1e-9)
            print(f"{self.label}: {sent}/{self.expected} messages, {rate:,.0f} msg/s", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    """`streamsuite generate`: stream to a file or topic, then write the ground truth."""
    prog = "streamsuite generate"
    if args.to_file is None and args.topic is None:
        args.topic = JOBS[args.domain].input_topic
    if args.bootstrap is None:
        from streamsuite.stack import StackSettings

        args.bootstrap = StackSettings.from_env().kafka_bootstrap
    if args.partitions is None:
        args.partitions = JOBS[args.domain].partitions
    try:
        stream = EventStream(
            args.domain, count=args.count, duration_s=args.duration, rate=args.rate, keys=args.keys,
            seed=args.seed, poison=args.poison, framing=args.framing, schema_id=args.schema_id,
            start_time_ms=args.start_time_ms, out_of_order_ms=args.out_of_order_ms)
    except ValueError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    truth_path = _truth_path(args)
    destination = str(args.to_file) if args.to_file is not None else f"topic {args.topic} on {args.bootstrap}"
    output: FileOutput | KafkaOutput | None = None
    try:
        if args.to_file is not None:
            output = FileOutput(args.to_file)
        else:
            output = KafkaOutput(args.bootstrap, args.topic, args.partitions, args.broker_timeout)
        progress = _Progress(f"generate {args.domain}", stream.expected_messages, args.duration is None, args.quiet)
        started = time.monotonic()
        for key, value, _, time_ms in stream:
            if args.realtime:
                due = started + output.written / stream.params.rate
                wait = due - time.monotonic()
                if wait > 0.001:
                    time.sleep(wait)
            output.write(key, value, time_ms)
            progress.update(output.written)
        output.close()
    except OutputError as exc:
        if output is not None:
            output.abort()
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        if output is not None:
            output.abort()
        print(f"{prog}: error: cannot write {destination}: {exc}", file=sys.stderr)
        return 1
    truth = stream.truth()
    write_truth(truth_path, truth)
    if not args.quiet:
        counts = truth["counts"]
        elapsed = time.monotonic() - started
        print(f"{prog}: {counts['messages']} messages ({counts['valid_events']} valid, {counts['duplicates']} "
              f"duplicates, {counts['poison']} poison) to {destination} in {elapsed:.1f} s; truth in {truth_path}",
              file=sys.stderr)
    return 0
