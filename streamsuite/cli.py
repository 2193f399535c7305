"""The `streamsuite` command: one entry point for set-up, local services and tools."""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

from jobs.paths import jars_dir, project_root


class UserError(Exception):
    """A problem the user can fix, reported as one sentence and exit code 1."""


def _stack(args: argparse.Namespace):
    from streamsuite.stack import Stack, StackSettings

    settings = StackSettings.from_env(kafka_port=args.kafka_port, redis_port=args.redis_port, s3_port=args.s3_port)
    return Stack(settings, say=lambda line: print(line, flush=True))


def _group_action(group, action: str) -> int:
    """up, down or status of a process group; status exits 3 unless everything runs."""
    if action == "up":
        t0 = time.monotonic()
        group.up()
        print(f"up in {time.monotonic() - t0:.1f} s", flush=True)
    elif action == "down":
        group.down()
    else:
        states = group.status()
        for name, state in states.items():
            print(f"{name}: {state}")
        return 0 if all(s.startswith("running") for s in states.values()) else 3
    return 0


def cmd_stack(args: argparse.Namespace) -> int:
    return _group_action(_stack(args), args.action)


def cmd_cluster(args: argparse.Namespace) -> int:
    from streamsuite.cluster import FlinkCluster
    from streamsuite.stack import StackSettings

    cluster = FlinkCluster(StackSettings.from_env(flink_rest_port=args.rest_port),
                           say=lambda line: print(line, flush=True))
    return _group_action(cluster, args.action)


def cmd_flink(args: argparse.Namespace) -> int:
    from streamsuite.cluster import JobManager, flink_command, flink_environment
    from streamsuite.stack import StackSettings

    settings = StackSettings.from_env()
    if not JobManager("jobmanager", settings, group="cluster").healthy():
        raise UserError(f"no Flink cluster answers at {settings.host}:{settings.flink_rest_port}; "
                        "start one with `streamsuite cluster up`")
    return subprocess.run(flink_command(*args.flink_args), env=flink_environment()).returncode


def cmd_jars(args: argparse.Namespace) -> int:
    pom = project_root() / "deploy" / "pom.xml"
    print(f"resolving the JVM artifacts pinned in {pom} into {jars_dir()} ...", flush=True)
    command = ["mvn", "-B", "-q", "-f", str(pom), f"-Djars.dir={jars_dir()}", "package"]
    try:
        result = subprocess.run(command, timeout=1800)
    except FileNotFoundError:
        raise UserError("Maven (mvn) is not installed; install it with `apt-get install maven`") from None
    if result.returncode != 0:
        raise UserError(f"Maven could not resolve {pom}; rerun `{' '.join(command)}` without -q to see why")
    print(f"jars are in {jars_dir()}")
    return 0


def cmd_preflight(args: argparse.Namespace) -> int:
    from streamsuite.preflight import run_checks

    problems = run_checks()
    for problem in problems:
        print(f"preflight: {problem}")
    if not problems:
        print("preflight: all checks passed")
    return 1 if problems else 0


def cmd_proto(args: argparse.Namespace) -> int:
    from streamsuite.paths import proto_dir
    from streamsuite.protogen import generate, stale_files

    if args.action == "gen":
        for path in generate(proto_dir()):
            print(path.relative_to(project_root()))
        return 0
    stale = stale_files()
    for name in stale:
        print(f"stale generated code: proto/{name}; run `streamsuite proto gen` and commit the result")
    return 1 if stale else 0


def cmd_decode(args: argparse.Namespace) -> int:
    from google.protobuf.json_format import MessageToDict

    from udfs.codec import DecodeError, decode
    from jobs.specs import EVENT_TYPES
    from udfs.events import message_class

    data = sys.stdin.buffer.read()
    try:
        if args.message_type in EVENT_TYPES:
            message = EVENT_TYPES[args.message_type].parse(data)
        else:
            try:
                cls = message_class(args.message_type)
            except KeyError:
                raise UserError(f"unknown message type {args.message_type!r}; "
                                f"use one of {', '.join(sorted(_message_names()))}") from None
            message = decode(data, cls)
    except DecodeError as exc:
        raise UserError(f"cannot decode {args.message_type}: {exc}") from None
    print(json.dumps(MessageToDict(message, preserving_proto_field_name=True), indent=2, sort_keys=True))
    return 0


def _message_names() -> list[str]:
    import importlib

    from udfs.events import generated_modules

    return [n for module in generated_modules() for n in importlib.import_module(module).DESCRIPTOR.message_types_by_name]


def cmd_generate(args: argparse.Namespace) -> int:
    from streamsuite import generator

    return generator.run(args)


def cmd_rules(args: argparse.Namespace) -> int:
    from streamsuite import rules

    try:
        return rules.run(args)
    except rules.RulesError as exc:
        raise UserError(str(exc)) from None


def cmd_report(args: argparse.Namespace) -> int:
    from streamsuite import report

    try:
        return report.run(args)
    except report.ReportError as exc:
        raise UserError(str(exc)) from None


def cmd_demo(args: argparse.Namespace) -> int:
    from streamsuite import demo

    return demo.run(args)


def cmd_bench(args: argparse.Namespace) -> int:
    from streamsuite import bench

    try:
        return bench.main(args)
    except bench.BenchError as exc:
        raise UserError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="streamsuite", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    stack = sub.add_parser("stack", help="start, stop or inspect the local Kafka, Redis and S3 services")
    stack.add_argument("action", choices=("up", "down", "status"))
    stack.add_argument("--kafka-port", type=int, help="Kafka broker port (default 9092, env STREAMSUITE_KAFKA_PORT)")
    stack.add_argument("--redis-port", type=int, help="Redis port (default 6379, env STREAMSUITE_REDIS_PORT)")
    stack.add_argument("--s3-port", type=int, help="S3 port (default 8333, env STREAMSUITE_S3_PORT)")
    stack.set_defaults(func=cmd_stack)

    cluster = sub.add_parser("cluster", help="start, stop or inspect a local Flink standalone cluster for `flink run`")
    cluster.add_argument("action", choices=("up", "down", "status"))
    cluster.add_argument("--rest-port", type=int, help="REST/web UI port (default 8081, env STREAMSUITE_FLINK_REST_PORT)")
    cluster.set_defaults(func=cmd_cluster)

    flink = sub.add_parser("flink", help="the installed Flink's bin/flink, set up for the local cluster "
                                         "(e.g. streamsuite flink run --detached --python jobs/fraud_scoring.py)")
    flink.add_argument("flink_args", nargs=argparse.REMAINDER, help="arguments for bin/flink")
    flink.set_defaults(func=cmd_flink)

    jars = sub.add_parser("jars", help="resolve the pinned JVM artifacts (deploy/pom.xml) into .jars/")
    jars.set_defaults(func=cmd_jars)

    preflight = sub.add_parser("preflight", help="check versions, jars, plugin and protobuf runtime")
    preflight.set_defaults(func=cmd_preflight)

    proto = sub.add_parser("proto", help="generate the Python code for proto/, or check it is current")
    proto.add_argument("action", choices=("gen", "check"))
    proto.set_defaults(func=cmd_proto)

    decode = sub.add_parser("decode", help="decode one Protobuf message (raw or Confluent-framed) from stdin to JSON")
    decode.add_argument("message_type", help="e.g. CardTransaction, InventoryMovement, SensorReading, FraudScore")
    decode.set_defaults(func=cmd_decode)

    generate = sub.add_parser("generate", help="write a seeded stream of events (with labels) to Kafka or a file")
    from streamsuite import generator

    generator.add_arguments(generate)
    generate.set_defaults(func=cmd_generate)

    rules = sub.add_parser("rules", help="publish fraud rule sets (TOML) and horizons to the rules topic, or show them")
    from streamsuite import rules as rules_module

    rules_module.add_arguments(rules)
    rules.set_defaults(func=cmd_rules)

    report = sub.add_parser("report", help="fraud scoring quality from the cold tables and the generator's labels "
                                           "(Markdown + PNG)")
    from streamsuite import report as report_module

    report_module.add_arguments(report)
    report.set_defaults(func=cmd_report)

    demo = sub.add_parser("demo", help="run the fraud job end to end on the local stack and summarise the results")
    from streamsuite import demo as demo_module

    demo_module.add_arguments(demo)
    demo.set_defaults(func=cmd_demo)

    bench = sub.add_parser("bench", help="benchmark a job against its comparison arms on the local stack")
    from streamsuite import bench as bench_module

    bench_module.add_arguments(bench)
    bench.set_defaults(func=cmd_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from streamsuite.stack import StackError

    try:
        return args.func(args)
    except (UserError, StackError) as exc:
        print(f"streamsuite: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("streamsuite: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
