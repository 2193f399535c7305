"""What every domain's generator shares: the stream's parameters, its records and their labels,
and the base class of a domain's event source."""
from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from typing import Any, Iterator, NamedTuple

from google.protobuf.message import Message

from jobs.specs import EVENT_TYPES
from udfs import codec

DEFAULT_START_TIME_MS = 1_704_067_200_000  # 2024-01-01T00:00:00Z, fixed so output is reproducible
DEFAULT_SEED = 1
DEFAULT_COUNT = 10_000
DEFAULT_SCHEMA_ID = 1
DEFAULT_OUT_OF_ORDER_MS = 5_000
DEFAULT_BOOTSTRAP = "127.0.0.1:9092"
BROKER_TIMEOUT_S = 10.0
DELIVERY_TIMEOUT_MS = 60_000
TRUTH_FORMAT = "streamsuite.generator.truth/1"
FRAMINGS = ("raw", "confluent")


POISON_KINDS = (
    "garbage",
    "truncated_protobuf",
    "empty",
    "truncated_header",
    "wrong_message_index",
    "foreign_message",
    "missing_field",
    "out_of_range",
)


class Label(NamedTuple):
    """What a record is: kind "event", "duplicate" or "poison"; tags name patterns and faults."""

    kind: str
    event_id: str
    tags: tuple[str, ...] = ()


class Record(NamedTuple):
    key: bytes
    value: bytes
    label: Label
    # Written as the Kafka record timestamp, so Flink's source derives per-partition
    # watermarks from it; poison carries the time of the event before it.
    event_time_ms: int = 0


class Emitted(NamedTuple):
    """A valid event as a domain generator hands it over, with the message for poison templates."""

    key: bytes
    value: bytes
    label: Label
    message: Message
    event_time_ms: int


@dataclass(frozen=True)
class Params:
    domain: str
    count: int | None
    duration_s: float | None
    rate: float
    keys: int
    seed: int
    poison: int
    framing: str
    schema_id: int
    start_time_ms: int
    out_of_order_ms: int
    late: int = 0
    resend: int = 0
    allowed_lateness_ms: int = 0

    @property
    def planned_events(self) -> int:
        if self.count is not None:
            return self.count
        return max(1, int(self.duration_s * self.rate))

    @property
    def planned_span_ms(self) -> float:
        """Event-time span the planned events cover; anomalies are placed inside it."""
        return self.planned_events / self.rate * 1000.0

    @property
    def end_ms(self) -> int | None:
        if self.duration_s is None:
            return None
        return self.start_time_ms + int(self.duration_s * 1000)

    def as_dict(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "duration_s": self.duration_s,
            "rate": self.rate,
            "keys": self.keys,
            "poison": self.poison,
            "framing": self.framing,
            "schema_id": self.schema_id,
            "start_time_ms": self.start_time_ms,
            "out_of_order_ms": self.out_of_order_ms,
            **({"late": self.late, "resend": self.resend, "allowed_lateness_ms": self.allowed_lateness_ms}
               if self.late or self.resend else {}),
        }


def state_key(message: Message) -> bytes:
    """The Kafka key: the job's state key, so one key's events share a partition and stay in order."""
    return EVENT_TYPES[message.DESCRIPTOR.name].key(message).encode()


# Out of range in every domain: an event time before 2000 and a sequence below 1.
COMMON_OUT_OF_RANGE = (("event_time_ms", 86_400_000), ("sequence", 0))


def random_uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


class DomainGenerator:
    """One domain's event source: an endless (or duration-bounded) time-ordered stream.

    A domain is a job (`jobs.specs`); its generator says how many keys and events per second a
    stream has unless told otherwise."""

    default_keys: int
    default_rate: float
    # The job's default allowed lateness, which `late` events are seeded around; None: the job has none.
    allowed_lateness_ms: int | None = None
    # The event id field (a poison message is a copy of a valid event under an id of its own), and
    # the edits that make such a copy invalid, as (field, value): a missing field, a value out of range.
    id_field: str
    missing_field_edits: tuple[tuple[str, Any], ...]
    out_of_range_edits: tuple[tuple[str, Any], ...]

    @staticmethod
    def example_event(event_id: str, event_time_ms: int) -> Message:
        """A fixed valid event: another domain's foreign-message poison, and the template before any event."""
        raise NotImplementedError

    def __init__(self, params: Params):
        self.params = params
        self.rng = random.Random(f"{params.seed}:{params.domain}")
        self.schema_id = params.schema_id if params.framing == "confluent" else None

    def encode(self, message: Message) -> bytes:
        return codec.encode(message, self.schema_id)

    def new_id(self) -> str:
        return random_uuid(self.rng)

    def past_end(self, time_ms: float) -> bool:
        end = self.params.end_ms
        return end is not None and time_ms >= end

    def events(self) -> Iterator[Emitted]:
        raise NotImplementedError

    def truth(self) -> dict[str, Any]:
        raise NotImplementedError

    def keys_used(self) -> int:
        raise NotImplementedError

    def late_copy(self, template: Emitted, event_time_ms: int) -> Emitted:
        """A new event for `template`'s key at `event_time_ms`, taking the key's next sequence."""
        raise ValueError(f"the {self.params.domain} stream has no late events")
