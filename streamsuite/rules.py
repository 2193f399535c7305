"""`streamsuite rules`: publish fraud rule sets and horizons to the rules topic, and show the book.

The job reads the rules topic in order and applies each record with `udfs.fraud_rules.RuleBook`;
`show` applies the same records with the same code, so what it prints is what the job holds.
`publish` checks a rule set against that book first and refuses locally what the job would refuse.
"""
from __future__ import annotations

import argparse
import json
import time
import tomllib
from pathlib import Path

from jobs.specs import JOBS
from udfs.fraud_rules import RULES_KEY, horizon_update, rule_set_update

EXAMPLE = Path(__file__).resolve().parents[1] / "deploy" / "rules" / "fraud-example.toml"


class RulesError(Exception):
    """A rule set or horizon that is not published; the message says why."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="rules_action", required=True, metavar="ACTION")
    publish = sub.add_parser("publish", help="publish a rule set from a TOML file (checked first)")
    publish.add_argument("file", help="the rule set as TOML (keys: version, effective_from, mode, weights, ...)")
    publish.add_argument("--horizon", metavar="UNTIL",
                         help="also promise no other rule set takes effect before UNTIL (ms, ISO time, or +SECONDS)")
    horizon = sub.add_parser("horizon", help="promise that no rule set not yet published takes effect before UNTIL")
    horizon.add_argument("until", help="milliseconds, an ISO-8601 UTC time, or +SECONDS from now")
    show = sub.add_parser("show", help="the rule book the job builds from the topic: versions, horizon, refusals")
    for command in (publish, horizon, show):
        command.add_argument("--bootstrap", help="Kafka bootstrap servers (default: the local stack)")
        command.add_argument("--topic", default=JOBS["fraud"].rules_topic, help="the rules topic (default fraud.rules)")


def until_ms(text: str, now_ms: int) -> int:
    """UNTIL of the command line: +SECONDS from now, milliseconds, or an ISO-8601 UTC time."""
    from udfs.fraud_rules import InvalidRuleSet, parse_time_ms

    text = text.strip()
    try:
        if text.startswith("+"):
            return now_ms + int(float(text[1:]) * 1000)
        return int(text) if text.lstrip("-").isdigit() else parse_time_ms(text, "until")
    except (ValueError, InvalidRuleSet):
        raise RulesError(f"{text!r} is not +SECONDS, milliseconds or a time like 2024-01-01T06:00:00Z") from None


def load_rule_set(path: Path):
    """The FraudRuleSet of a TOML file, validated."""
    from udfs.fraud_rules import InvalidRuleSet, rule_set_message

    try:
        return rule_set_message(tomllib.loads(path.read_text()))
    except FileNotFoundError:
        raise RulesError(f"{path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise RulesError(f"{path} is not valid TOML: {exc}") from None
    except (InvalidRuleSet, TypeError, ValueError) as exc:
        raise RulesError(f"{path}: {exc}") from None


def replay_book(records: list[bytes]):
    """The book the job holds after these rules records, and what each record did."""
    from udfs.fraud import FraudModel
    from udfs.fraud_rules import InvalidRuleSet, RuleBook, RuleSet

    book = RuleBook(RuleSet.startup(FraudModel()))
    outcomes = []
    for record in records:
        try:
            outcomes.append(f"accepted: {book.apply(record)}")
        except InvalidRuleSet as exc:
            outcomes.append(f"refused: {exc}")
    return book, outcomes


def publish_updates(bootstrap: str, topic: str, updates: list[bytes], now_ms: int) -> None:
    from streamsuite.generator.outputs import KafkaOutput, OutputError

    try:
        output = KafkaOutput(bootstrap, topic)
        for update in updates:
            output.write(RULES_KEY, update, now_ms)
        output.close()
    except OutputError as exc:
        raise RulesError(str(exc)) from None


def _records(bootstrap: str, topic: str) -> list[bytes]:
    from confluent_kafka import KafkaException

    from streamsuite.topics import read_topic

    try:
        return [value for _, _, _, value in read_topic(bootstrap, topic, timeout_s=30)]
    except KeyError:
        return []
    except (KafkaException, TimeoutError) as exc:
        raise RulesError(f"cannot read {topic} at {bootstrap} ({exc.__class__.__name__}); is Kafka up "
                         "(`streamsuite stack up`)?") from None


def run(args: argparse.Namespace) -> int:
    from streamsuite.stack import StackSettings
    from udfs.fraud_rules import NO_HORIZON, InvalidRuleSet, RuleSet, describe

    bootstrap = args.bootstrap or StackSettings.from_env().kafka_bootstrap
    now_ms = int(time.time() * 1000)
    message = load_rule_set(Path(args.file)) if args.rules_action == "publish" else None
    until_text = args.until if args.rules_action == "horizon" else getattr(args, "horizon", None)
    until = until_ms(until_text, now_ms) if until_text is not None else None
    book, outcomes = replay_book(_records(bootstrap, args.topic))
    if args.rules_action == "show":
        for i, outcome in enumerate(outcomes, 1):
            print(f"record {i}: {outcome}")
        horizon = "none" if book.horizon_ms == NO_HORIZON else f"{book.horizon_ms} ms"
        print(f"horizon: {horizon} (transactions at or after it wait for the rules topic)")
        for rules in [book.startup] + sorted(book.active + book.shadow, key=lambda r: r.version):
            print(json.dumps(describe(rules), sort_keys=True))
        print(f"in force now: version {book.in_force(now_ms).version}")
        return 0
    updates = []
    if message is not None:
        try:
            book.accept(RuleSet.from_message(message))
        except InvalidRuleSet as exc:
            raise RulesError(f"{args.file}: the job would refuse it: {exc}") from None
        updates.append(rule_set_update(message))
    if until is not None:
        updates.append(horizon_update(until))
    publish_updates(bootstrap, args.topic, updates, now_ms)
    what = [f"rule set {message.version}"] if message is not None else []
    what += [f"horizon {until} ms"] if until is not None else []
    print(f"published {' and '.join(what)} to {args.topic} at {bootstrap}")
    return 0
