"""Benchmark arm `quix`: our fraud scoring, written with Quix Streams instead of PyFlink.

The same per-card logic as `jobs/fraud_scoring.py` (`udfs.fraud.FraudScorer` with the default
model, `CardProfile` as JSON in keyed state, the same hot records) on Quix Streams 3.28.1:

* input: Protobuf `CardTransaction` bytes, raw or Confluent-framed, decoded and validated by
  `udfs.events` exactly as our job does (`udfs.codec.decode` = `unframe` + `FromString`, then
  the event rules); messages that fail are skipped and counted (our job dead-letters them;
  this arm has no dead-letter topic, no S3 cold path and no lateness check);
* state: the Kafka message key is the card id (`streamsuite.generator.base.state_key`), so Quix's
  per-message-key state is per card, in RocksDB under --state-dir with a changelog topic
  (`changelog__<group>--<topic>--default`, created by Quix; delete it with the input topic);
* guarantee: `processing_guarantee="exactly-once"`, a checkpoint every --commit-interval
  (1 s, like our job's 1-2 s checkpoints);
* hot results: a `BatchingSink` whose `write` applies every `HotRecord` of the checkpoint with
  our version-fenced Lua upsert (`deploy/redis-sink/.../upsert_if_newer.lua`, EVALSHA,
  pipelined per topic-partition batch). Quix flushes sinks at every checkpoint before it
  commits the offsets and the state changelog transaction, so a write is never lost and a
  replay only rewrites the same versions, which the fence ignores;
* progress: the number of input messages processed (undecodable ones included) is written
  every 0.25 s to --progress-file (temp file + os.replace, a plain integer).

It needs the separate virtualenv of `benchmarks/requirements-quix.txt` (no PyFlink):

    python3.11 -m venv .run/venvs/quix
    .run/venvs/quix/bin/pip install -r benchmarks/requirements-quix.txt
    .run/venvs/quix/bin/python benchmarks/fraud_quix.py --bootstrap 127.0.0.1:9092 \\
        --topic fraud.transactions --group quix-fraud --redis-url redis://127.0.0.1:6379/0 \\
        --prefix quix --state-dir .run/bench/quix-state --progress-file .run/bench/quix.progress

It runs until SIGTERM or SIGINT, which stop the application (`Application.stop`): the last
checkpoint is committed, a summary goes to stderr as one JSON line, exit status 0.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# setup.py maps the package `streamsuite_proto` to proto/streamsuite_proto.
for _path in (ROOT / "proto", ROOT):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import redis  # noqa: E402

# authlib (imported by confluent-kafka's schema registry client) warns about httpx on import and
# forces its warnings on with simplefilter("always"); recording them keeps stderr clean.
with warnings.catch_warnings(record=True):
    from quixstreams import Application  # noqa: E402
    from quixstreams.sinks import BatchingSink, SinkBatch  # noqa: E402

from udfs.codec import DecodeError  # noqa: E402
from udfs.events import InvalidEvent  # noqa: E402
from udfs.fraud import (DEFAULT_WEIGHTS, EVENT_TYPE, CardProfile, FraudModel, FraudScorer, Transaction,  # noqa: E402
                        alert_hot_record, card_hot_record)
from udfs.hot import HotRecord  # noqa: E402

UPSERT_LUA = ROOT / "deploy/redis-sink/src/main/resources/io/streamsuite/redis/upsert_if_newer.lua"
PROGRESS_INTERVAL_S = 0.25
PROFILE = "profile"


def score_text(score: float) -> str:
    """The index score as the JVM sink sends it: integral scores (event times) as integers."""
    if score == int(score) and abs(score) < 1e15:
        return str(int(score))
    return repr(float(score))


def upsert_args(record: HotRecord) -> tuple:
    """numkeys, KEYS and ARGV of one `upsert_if_newer.lua` call."""
    keys = (record.key, record.index_key) if record.index_key else (record.key,)
    return (len(keys), *keys, str(record.version), score_text(record.index_score), record.index_member,
            str(record.ttl_ms), *record.field_values())


class Counters:
    def __init__(self):
        self.processed = 0
        self.undecodable = 0
        self.invalid = 0
        self.key_mismatch = 0
        self.alerts = 0
        self.upserts = 0
        self.applied = 0
        self.flushes = 0
        self.noscript_reloads = 0


class RedisUpsertSink(BatchingSink):
    """Applies the hot records of a checkpoint with our Lua upsert-if-newer, pipelined."""

    def __init__(self, redis_url: str, script: str, counters: Counters, chunk: int = 2000):
        super().__init__()
        self._url = redis_url
        self._script = script
        self._counters = counters
        self._chunk = chunk
        self._client: redis.Redis | None = None
        self._sha = ""

    def setup(self):
        self._client = redis.Redis.from_url(self._url)
        self._client.ping()
        self._sha = self._client.script_load(self._script)

    def _execute(self, calls: list[tuple]) -> list:
        pipe = self._client.pipeline(transaction=False)
        for args in calls:
            pipe.evalsha(self._sha, *args)
        return pipe.execute()

    def write(self, batch: SinkBatch):
        calls = [upsert_args(record) for item in batch for record in item.value]
        for start in range(0, len(calls), self._chunk):
            part = calls[start:start + self._chunk]
            try:
                results = self._execute(part)
            except redis.exceptions.NoScriptError:
                # Redis lost its script cache (restart, SCRIPT FLUSH): load it again and redo the
                # whole chunk; the version fence makes the calls that did run no-ops.
                self._sha = self._client.script_load(self._script)
                self._counters.noscript_reloads += 1
                results = self._execute(part)
            self._counters.upserts += len(part)
            self._counters.applied += sum(1 for r in results if r == 1)
        self._counters.flushes += 1


def write_progress(path: Path, value: int) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(f"{value}\n")
    os.replace(tmp, path)


def progress_loop(path: Path, counters: Counters, stop: threading.Event) -> None:
    last = None
    while not stop.wait(PROGRESS_INTERVAL_S):
        value = counters.processed
        if value != last:
            write_progress(path, value)
            last = value


def build_app(args: argparse.Namespace, counters: Counters) -> Application:
    scorer = FraudScorer(FraudModel(weights=dict(DEFAULT_WEIGHTS)))
    parse = EVENT_TYPE.parse
    prefix = args.prefix

    def on_processed(_topic: str, _partition: int, _offset: int) -> None:
        counters.processed += 1

    app = Application(
        broker_address=args.bootstrap,
        consumer_group=args.group,
        auto_offset_reset="earliest",
        processing_guarantee="exactly-once",
        commit_interval=args.commit_interval,
        state_dir=args.state_dir,
        use_changelog_topics=not args.no_changelog,
        on_message_processed=on_processed,
        loglevel=args.loglevel,
    )
    topic = app.topic(args.topic, key_deserializer="bytes", value_deserializer="bytes")
    sdf = app.dataframe(topic)

    def decode(value, key, _timestamp, _headers):
        if value is None:
            counters.undecodable += 1
            return None
        try:
            msg = parse(value)
        except InvalidEvent:
            counters.invalid += 1
            return None
        except DecodeError:
            counters.undecodable += 1
            return None
        if key is None or key != msg.card_id.encode():
            # State is per message key; a producer that does not key by card would split a card.
            counters.key_mismatch += 1
        return Transaction.from_message(msg)

    def score(tx: Transaction, state) -> tuple[HotRecord, ...]:
        scored, profile = scorer.score(tx, CardProfile.from_json(state.get(PROFILE)))
        state.set(PROFILE, profile.to_json())
        # Stamped once the state is updated, like our job's keyed operator (jobs.operators.now_ms()).
        card = card_hot_record(scored, prefix, int(time.time() * 1000))
        if not scorer.is_alert(scored):
            return (card,)
        counters.alerts += 1
        return card, alert_hot_record(scored, prefix)

    sdf = sdf.apply(decode, metadata=True)
    sdf = sdf.filter(lambda tx: tx is not None)
    sdf = sdf.apply(score, stateful=True)
    script = UPSERT_LUA.read_text()
    sdf.sink(RedisUpsertSink(args.redis_url, script, counters))
    return app


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bootstrap", default="127.0.0.1:9092", help="Kafka bootstrap servers")
    p.add_argument("--topic", required=True, help="input topic of CardTransaction messages, keyed by card id")
    p.add_argument("--group", required=True, help="consumer group (also names Quix's changelog topic)")
    p.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    p.add_argument("--prefix", default="quix", help="Redis key prefix (<prefix>:card:<id>, <prefix>:alerts, ...)")
    p.add_argument("--state-dir", required=True, help="RocksDB state folder")
    p.add_argument("--progress-file", required=True, help="gets the count of input messages processed every 0.25 s")
    p.add_argument("--commit-interval", type=float, default=1.0, help="seconds between checkpoints (default 1)")
    p.add_argument("--no-changelog", action="store_true",
                   help="keep state only in local RocksDB (no changelog topic); not durable across hosts")
    p.add_argument("--loglevel", default="WARNING", help="Quix Streams log level (default WARNING)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=args.loglevel, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    progress_path = Path(args.progress_file)
    progress_path.parent.mkdir(parents=True, exist_ok=True)
    Path(args.state_dir).mkdir(parents=True, exist_ok=True)
    counters = Counters()
    write_progress(progress_path, 0)
    app = build_app(args, counters)

    # Application.run installs the same handlers; these cover the start-up before it.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: app.stop())
    stop = threading.Event()
    writer = threading.Thread(target=progress_loop, args=(progress_path, counters, stop),
                              name="progress", daemon=True)
    writer.start()
    started = time.monotonic()
    try:
        app.run()
    finally:
        stop.set()
        writer.join()
        write_progress(progress_path, counters.processed)
        summary = dict(vars(counters), seconds=round(time.monotonic() - started, 3))
        print(json.dumps({"arm": "quix", **summary}), file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
