"""A long seeded fuzz run of decode + validate + the domain step, with a Markdown report.

    python -m tests.fuzz [--inputs 1000000] [--seed 1] [--report tests/fuzz/report.md]

Inputs, for each event type in turn: valid generated events (so keys build up state), random
bytes, valid messages (raw and framed) cut at a random byte, one byte flipped, and one to
three fields set to boundary or random values. A failure is any exception other than the
decoder's `DecodeError`, or an output the JVM could not take; the report lists the first
ones with their input bytes, and the command exits 1 if there is any.
"""
from __future__ import annotations

import argparse
import random
import sys
import time
import traceback
from collections import Counter
from pathlib import Path

from jobs.specs import EVENT_TYPES, JOBS
from streamsuite.generator import generate
from tests.fuzz import PIPELINES, framed, mutate_field

DOMAINS = {spec.event_type.name: spec.job for spec in JOBS.values()}
KINDS = ("valid", "random_bytes", "truncated", "byte_flipped", "fields_mutated")


def inputs(event_type: str, n: int, rng: random.Random):
    """(kind, bytes, Kafka record timestamp) for one event type."""
    stream = generate(DOMAINS[event_type], count=2_000, keys=50, seed=rng.randint(0, 10**6))
    valid = [value for _, value in stream.records]
    message_class = EVENT_TYPES[event_type].message_class
    for i in range(n):
        kind = KINDS[i % len(KINDS)]
        base, ts = valid[i % len(valid)], stream.times_ms[i % len(valid)]
        if kind == "valid":
            yield kind, base, ts
        elif kind == "random_bytes":
            yield kind, rng.randbytes(rng.randint(0, 64)), ts
        elif kind == "truncated":
            yield kind, base[:rng.randint(0, max(0, len(base) - 1))], ts
        elif kind == "byte_flipped":
            data = bytearray(base)
            if data:
                data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
            yield kind, bytes(data), ts
        else:
            msg = EVENT_TYPES[event_type].parse(base)
            copy = message_class()
            copy.CopyFrom(msg)
            for _ in range(rng.randint(1, 3)):
                mutate_field(copy, rng)
            yield kind, framed(copy, rng), ts


def run(total: int, seed: int) -> dict:
    rng = random.Random(seed)
    results = {}
    for n, (event_type, make) in enumerate(PIPELINES.items()):
        per_type = total // len(PIPELINES) + (1 if n < total % len(PIPELINES) else 0)
        pipeline = make()
        kinds, outcomes, failures = Counter(), Counter(), []
        t0 = time.monotonic()
        for kind, data, ts in inputs(event_type, per_type, rng):
            kinds[kind] += 1
            try:
                outcomes[(kind, pipeline.feed(data, ts))] += 1
            except Exception as exc:  # noqa: BLE001 - a failure is what this run looks for
                outcomes[(kind, "FAILED")] += 1
                if len(failures) < 10:
                    failures.append((kind, data[:96].hex(), f"{exc.__class__.__name__}: {exc}"[:300],
                                     traceback.format_exc(limit=3).splitlines()[-3:]))
        results[event_type] = {"kinds": kinds, "outcomes": outcomes, "failures": failures,
                               "seconds": time.monotonic() - t0, "keys": len(pipeline.states)}
        print(f"fuzz {event_type}: {per_type:,} inputs in {results[event_type]['seconds']:.0f} s, "
              f"{sum(v for (k, o), v in outcomes.items() if o == 'FAILED')} failures", flush=True)
    return results


def report(results: dict, total: int, seed: int, command: str) -> str:
    lines = ["# Fuzz report: decode + validate + domain step", "",
             f"Command: `{command}` (seed {seed}, {total:,} inputs). Produced by `tests/fuzz/__main__.py`; "
             "the properties are in `tests/fuzz/__init__.py`.", "",
             "| event type | input kind | inputs | dead-lettered | processed | failed |", "|---|---|---|---|---|---|"]
    failed_total = 0
    for event_type, r in results.items():
        for kind in KINDS:
            o = r["outcomes"]
            failed = o[(kind, "FAILED")]
            failed_total += failed
            lines.append(f"| {event_type} | {kind} | {r['kinds'][kind]:,} | {o[(kind, 'dead_letter')]:,} | "
                         f"{o[(kind, 'processed')]:,} | {failed:,} |")
    lines += ["", f"**{failed_total} failures** in {total:,} inputs."]
    for event_type, r in results.items():
        lines.append(f"- {event_type}: {r['seconds']:.0f} s, {r['keys']:,} keys with state at the end")
        for kind, data, error, where in r["failures"]:
            lines.append(f"  - FAILED {kind}: `{error}` input `{data}` at {' / '.join(w.strip() for w in where)}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz", description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--report", default=str(Path(__file__).parent / "report.md"))
    args = parser.parse_args(argv)
    command = "python -m tests.fuzz " + " ".join(argv if argv is not None else sys.argv[1:])
    results = run(args.inputs, args.seed)
    text = report(results, args.inputs, args.seed, command.strip())
    Path(args.report).write_text(text)
    print(f"report in {args.report}")
    return 1 if "FAILED" in text else 0


if __name__ == "__main__":
    sys.exit(main())
