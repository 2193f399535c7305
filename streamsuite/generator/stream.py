"""One seeded stream: a domain's events with poison at seeded positions, then its ground truth."""
from __future__ import annotations

import math
import random
from collections import deque
from dataclasses import dataclass
from typing import Any, Iterator

from jobs.specs import JOBS
from streamsuite.generator.base import (DEFAULT_COUNT, DEFAULT_OUT_OF_ORDER_MS, DEFAULT_SCHEMA_ID, DEFAULT_SEED,
                                        DEFAULT_START_TIME_MS, Emitted, FRAMINGS, Label, POISON_KINDS, Params, Record,
                                        TRUTH_FORMAT)
from streamsuite.generator.domains import GENERATORS
from streamsuite.generator.outputs import KafkaOutput
from streamsuite.generator.poison import PoisonMaker
from udfs.events import MIN_EVENT_TIME_MS


class EventStream:
    """One seeded stream: iterate once for `Record`s, then `truth()` is the ground truth.

    Options: count (valid event messages; default DEFAULT_COUNT unless duration_s is
    given), duration_s (event-time span instead of a count), rate (events/s of event
    time; default per domain), keys (cards, store-SKU pairs or machines; default per
    domain), seed, poison (number of malformed messages), framing ("raw" or
    "confluent"), schema_id, start_time_ms, out_of_order_ms (inventory lateness bound), late
    and resend (events around the allowed lateness and exact copies, see the package doc),
    allowed_lateness_ms (default: the job model's).
    """

    def __init__(self, domain: str, *, count: int | None = None, duration_s: float | None = None,
                 rate: float | None = None, keys: int | None = None, seed: int = DEFAULT_SEED,
                 poison: int = 0, framing: str = "raw", schema_id: int = DEFAULT_SCHEMA_ID,
                 start_time_ms: int = DEFAULT_START_TIME_MS, out_of_order_ms: int = DEFAULT_OUT_OF_ORDER_MS,
                 late: int = 0, resend: int = 0, allowed_lateness_ms: int | None = None):
        if domain not in GENERATORS:
            raise ValueError(f"unknown domain {domain!r}; choose one of {', '.join(GENERATORS)}")
        defaults = GENERATORS[domain]
        if count is not None and duration_s is not None:
            raise ValueError("give a count or a duration, not both")
        if count is None and duration_s is None:
            count = DEFAULT_COUNT
        rate = defaults.default_rate if rate is None else rate
        keys = defaults.default_keys if keys is None else keys
        checks = [
            (count is None or count >= 1, f"count must be 1 or more, not {count}"),
            (duration_s is None or duration_s > 0, f"duration must be positive, not {duration_s}"),
            (rate > 0 and math.isfinite(rate), f"rate must be a positive number of events per second, not {rate}"),
            (keys >= 1, f"keys must be 1 or more, not {keys}"),
            (poison >= 0, f"poison must be 0 or more, not {poison}"),
            (framing in FRAMINGS, f"framing must be one of {', '.join(FRAMINGS)}, not {framing!r}"),
            (0 <= schema_id < 2**31, f"schema id {schema_id} is outside 0..2^31-1"),
            (start_time_ms >= MIN_EVENT_TIME_MS, f"start time {start_time_ms} ms is before 2000-01-01"),
            (out_of_order_ms >= 0, f"out-of-order bound must be 0 or more, not {out_of_order_ms}"),
            (late >= 0 and resend >= 0, f"late and resend must be 0 or more, not {late} and {resend}"),
            (not late or defaults.allowed_lateness_ms is not None,
             f"the {domain} job has no allowed lateness to seed late events around"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)
        if allowed_lateness_ms is None:
            allowed_lateness_ms = defaults.allowed_lateness_ms or 0
        self.params = Params(domain, count, duration_s, float(rate), keys, seed, poison, framing, schema_id,
                             start_time_ms, out_of_order_ms, late, resend, allowed_lateness_ms)
        self._domain = GENERATORS[domain](self.params)
        self._poison = PoisonMaker(self.params)
        positions_rng = random.Random(f"{seed}:poison-positions")
        planned_total = self.params.planned_events + poison
        self._poison_positions = sorted(positions_rng.sample(range(1, planned_total), poison))
        # Drawn apart from the domain's generator, so without them the stream is unchanged.
        self._edge_rng = random.Random(f"{seed}:late-and-resend")
        spots = self._edge_rng.sample(range(1, max(2, self.params.planned_events - late - resend)), late + resend)
        self._late_after, self._resend_after = set(spots[:late]), set(spots[late:])
        self._key_time: dict[bytes, int] = {}
        self._domain_events = 0
        self._late_log: list[dict[str, Any]] = []
        self._started = False
        self.finished = False
        self.messages = 0
        self.valid = 0
        self.duplicates = 0
        self._first_ms: int | None = None
        self._min_ms: int | None = None
        self._max_ms: int | None = None
        self._last_ms: int | None = None
        self._poison_log: list[dict[str, Any]] = []

    @property
    def expected_messages(self) -> int:
        """Exact with a count; an estimate with a duration."""
        return self.params.planned_events + self.params.poison

    def __iter__(self) -> Iterator[Record]:
        if self._started:
            raise RuntimeError("an EventStream is read once; create a new one to read it again")
        self._started = True
        positions = deque(self._poison_positions)
        events = self._domain.events()
        template: Emitted | None = None
        while True:
            if positions and positions[0] <= self.messages:
                positions.popleft()
                yield self._poison_record(template)
                continue
            if self.params.count is not None and self.valid >= self.params.count:
                break
            item = next(events, None)
            if item is None:
                break
            template = item
            self._note(item)
            yield Record(item.key, item.value, item.label, item.event_time_ms)
            for extra in self._extras(item):
                if self.params.count is not None and self.valid >= self.params.count:
                    break
                self._note(extra)
                yield Record(extra.key, extra.value, extra.label, extra.event_time_ms)
        while positions:
            positions.popleft()
            yield self._poison_record(template)
        self.finished = True

    def _extras(self, item: Emitted) -> Iterator[Emitted]:
        """The late event and the copy seeded after the domain's n-th event, if any."""
        self._domain_events += 1
        if self._domain_events in self._late_after:
            key_time = self._key_time[item.key]
            # Alternately 1..1000 ms past the allowed lateness (late) and 0..999 ms inside it (on time).
            late = len(self._late_log) % 2 == 0
            offset = self._edge_rng.randint(1, 1000) if late else -self._edge_rng.randint(0, 999)
            event_time = key_time - self.params.allowed_lateness_ms - offset
            extra = self._domain.late_copy(item, event_time)
            tags = extra.label.tags + ("late_edge", "late" if late else "on_time")
            extra = extra._replace(label=extra.label._replace(tags=tags))
            self._late_log.append({"event_id": extra.label.event_id, "key": item.key.decode(),
                                   "key_time_ms": key_time, "event_time_ms": event_time, "late": late})
            yield extra
        if self._domain_events in self._resend_after:
            yield item._replace(label=Label("duplicate", item.label.event_id, item.label.tags))

    def _note(self, item: Emitted) -> None:
        self._key_time[item.key] = max(self._key_time.get(item.key, item.event_time_ms), item.event_time_ms)
        self.messages += 1
        self.valid += 1
        if item.label.kind == "duplicate":
            self.duplicates += 1
        t = item.event_time_ms
        if self._first_ms is None:
            self._first_ms = self._min_ms = self._max_ms = t
        self._min_ms = min(self._min_ms, t)
        self._max_ms = max(self._max_ms, t)
        self._last_ms = t

    def _poison_record(self, template: Emitted | None) -> Record:
        if template is None:
            key, time_ms = b"poison", self.params.start_time_ms
            message = self._domain.example_event("template", time_ms)
        else:
            key, message, time_ms = template.key, template.message, template.event_time_ms
        kind, poison_id, value, reason = self._poison.make(message)
        self._poison_log.append({"index": self.messages, "kind": kind, "reason": reason})
        self.messages += 1
        return Record(key, value, Label("poison", poison_id, (kind,)), time_ms)

    def truth(self) -> dict[str, Any]:
        """The ground truth of what was generated so far (all of it once iteration finished)."""
        poison_by_kind = {kind: 0 for kind in POISON_KINDS}
        for entry in self._poison_log:
            poison_by_kind[entry["kind"]] += 1
        domain_truth = self._domain.truth()
        out_of_order = len(domain_truth.get("out_of_order", ()))
        return {
            "format": TRUTH_FORMAT,
            "domain": self.params.domain,
            "event_type": JOBS[self.params.domain].event_type.name,
            "seed": self.params.seed,
            "params": self.params.as_dict(),
            "complete": self.finished,
            "counts": {
                "messages": self.messages,
                "valid_events": self.valid,
                "unique_events": self.valid - self.duplicates,
                "duplicates": self.duplicates,
                "out_of_order": out_of_order,
                "poison": len(self._poison_log),
                "poison_by_kind": poison_by_kind,
                "keys": self._domain.keys_used(),
            },
            "event_time": {"first_ms": self._first_ms, "last_ms": self._last_ms,
                           "min_ms": self._min_ms, "max_ms": self._max_ms},
            "poison_indexes": [entry["index"] for entry in self._poison_log],
            "poison": self._poison_log,
            "labels": domain_truth,
            **({"late_edge": self._late_log} if self.params.late else {}),
        }


@dataclass
class GeneratedStream:
    records: list[tuple[bytes, bytes]]
    labels: list[Label]
    truth: dict[str, Any]
    times_ms: list[int]

    def publish(self, bootstrap: str, topic: str) -> int:
        """Produce every record, keyed and timestamped, to `topic`; returns how many."""
        output = KafkaOutput(bootstrap, topic)
        for (key, value), time_ms in zip(self.records, self.times_ms):
            output.write(key, value, time_ms)
        output.close()
        return output.written


def generate(domain: str, **options: Any) -> GeneratedStream:
    """The whole stream in memory, for tests and the reference oracle; options as `EventStream`."""
    stream = EventStream(domain, **options)
    records, labels, times = [], [], []
    for key, value, label, time_ms in stream:
        records.append((key, value))
        labels.append(label)
        times.append(time_ms)
    return GeneratedStream(records, labels, stream.truth(), times)
