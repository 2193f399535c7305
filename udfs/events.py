"""What every input event type shares: decoding plus the validation every job applies before its logic.

Each domain module declares its own `EventType` beside its core (`udfs.fraud.EVENT_TYPE`, ...):
the message class, its validation and the key its job partitions state by; the job's spec
(`jobs.specs`) holds it, and the registry of all of them is derived from the specs there.
An event that fails validation is a dead letter with the reason, never an exception that
stops a job. Readings that are possible but wrong (a stuck sensor) are the domain's
business and pass.
"""
from __future__ import annotations

import functools
import importlib
import pkgutil
import time
from dataclasses import dataclass
from typing import Callable, Generic, TypeVar

from google.protobuf.message import Message

import streamsuite_proto.v1
from udfs.codec import DecodeError, decode

M = TypeVar("M", bound=Message)

# 2000-01-01T00:00:00Z: an event time before this is a producer bug, not an old event.
MIN_EVENT_TIME_MS = 946_684_800_000
# Ids and keys become Redis keys and state keys: bounded, and free of the characters that join them.
MAX_ID_BYTES = 128
KEY_SEPARATORS = ("|", ":")


DAY_MS = 86_400_000


def event_date(event_time_ms: int) -> str:
    """The UTC date of an event time, YYYY-MM-DD: the `dt=` partition of cold rows."""
    return _day_name(event_time_ms // DAY_MS)


@functools.lru_cache(maxsize=4096)
def _day_name(day: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(day * 86_400))


class InvalidEvent(DecodeError):
    """Decoded bytes that break a rule of the event type."""


def require(condition: bool, reason: str, detail: str) -> None:
    if not condition:
        raise InvalidEvent(reason, detail)


def bounded_id(name: str, value: str, joined: bool = False) -> None:
    """An id that goes into state and Redis keys: at most MAX_ID_BYTES; when it is joined with
    another id into one key, without the separators (so `s|1`+`k` and `s`+`1|k` never meet)."""
    size = len(value.encode("utf-8"))
    require(size <= MAX_ID_BYTES, "out_of_range", f"{name} is {size} bytes, more than {MAX_ID_BYTES}")
    if joined:
        require(not any(sep in value for sep in KEY_SEPARATORS), "bad_field",
                f"{name} {value[:40]!r} contains one of {' '.join(KEY_SEPARATORS)}, which join ids into keys")


def common_fields(event_id: str, key: str, event_time_ms: int, sequence: int) -> None:
    """The rules every event type has: an event id and a key, an event time, a sequence."""
    require(bool(event_id), "missing_field", "the event id is empty")
    require(bool(key), "missing_field", "the key is empty")
    bounded_id("the event id", event_id)
    require(event_time_ms >= MIN_EVENT_TIME_MS, "out_of_range",
            f"event time {event_time_ms} ms is before 2000-01-01 or missing")
    require(sequence >= 1, "out_of_range", f"sequence {sequence} is not 1 or more")


def check_event_time(event_time_ms: int, record_timestamp_ms: int | None, max_skew_ms: int) -> None:
    """An event may not be dated more than `max_skew_ms` after Kafka received (or was told) it."""
    if record_timestamp_ms is None or record_timestamp_ms < 0:
        return
    require(event_time_ms <= record_timestamp_ms + max_skew_ms, "out_of_range",
            f"event time {event_time_ms} ms is more than {max_skew_ms} ms (kafka.max_event_time_skew_ms) after "
            f"its Kafka record timestamp {record_timestamp_ms}")


@dataclass(frozen=True)
class EventType(Generic[M]):
    """An input message type with its rules."""

    name: str
    message_class: type[M]
    validate: Callable[[M], None]
    # The key the job partitions its state by.
    key: Callable[[M], str]

    def parse(self, data: bytes) -> M:
        """Decode and validate; raises DecodeError (or its InvalidEvent) with a reason."""
        event = decode(data, self.message_class)
        self.validate(event)
        return event


def generated_modules() -> list[str]:
    """The names of every generated module of `streamsuite_proto.v1` (`streamsuite_proto.v1.fraud_pb2`, ...),
    found in the package rather than listed, so a new .proto needs no list of its own."""
    return sorted(f"streamsuite_proto.v1.{info.name}" for info in pkgutil.iter_modules(streamsuite_proto.v1.__path__)
                  if info.name.endswith("_pb2"))


def message_class(name: str) -> type[Message]:
    """Any streamsuite message class by its short or full name (e.g. `FraudScore`)."""
    short = name.rsplit(".", 1)[-1]
    for module_name in generated_modules():
        module = importlib.import_module(module_name)
        if short in module.DESCRIPTOR.message_types_by_name:
            return getattr(module, short)
    raise KeyError(name)
