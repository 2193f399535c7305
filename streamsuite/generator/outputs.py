"""Where a stream goes: the length-prefixed record file, or a Kafka topic."""
from __future__ import annotations

import logging
import os
import struct
from pathlib import Path
from typing import Any, Iterable, Iterator

from streamsuite.generator.base import BROKER_TIMEOUT_S, DELIVERY_TIMEOUT_MS
from streamsuite.stack import quiet_kafka_logger
from streamsuite.topics import TopicError, create_topics, kafka_reason


_LENGTH = struct.Struct(">I")


class OutputError(RuntimeError):
    """A destination that cannot take the stream; the message is one line for the user."""


def write_records(path: str | os.PathLike[str], records: Iterable[tuple[bytes, bytes]]) -> int:
    """Write records in the length-prefixed file format; returns how many."""
    output = FileOutput(Path(path))
    for key, value in records:
        output.write(key, value)
    output.close()
    return output.written


def read_records(path: str | os.PathLike[str]) -> Iterator[tuple[bytes, bytes]]:
    """Read (key, value) pairs back from the length-prefixed file format."""
    with open(path, "rb") as f:

        def read_exact(size: int) -> bytes:
            data = f.read(size)
            if len(data) != size:
                raise ValueError(f"{path} ends in the middle of a record")
            return data

        while True:
            head = f.read(_LENGTH.size)
            if not head:
                return
            if len(head) != _LENGTH.size:
                raise ValueError(f"{path} ends in the middle of a record")
            key = read_exact(_LENGTH.unpack(head)[0])
            value = read_exact(_LENGTH.unpack(read_exact(_LENGTH.size))[0])
            yield key, value


class FileOutput:
    """The length-prefixed file; written to a temporary name and renamed when complete."""

    def __init__(self, path: Path):
        self.path = path
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._partial = path.with_name(path.name + ".partial")
        self._file = open(self._partial, "wb")
        self.written = 0

    def write(self, key: bytes, value: bytes, timestamp_ms: int | None = None) -> None:
        self._file.write(_LENGTH.pack(len(key)) + key + _LENGTH.pack(len(value)) + value)
        self.written += 1

    def close(self) -> None:
        self._file.close()
        os.replace(self._partial, self.path)

    def abort(self) -> None:
        self._file.close()
        self._partial.unlink(missing_ok=True)


class KafkaOutput:
    """Idempotent keyed producer: per-key order is kept because a key always goes to one partition."""

    def __init__(self, bootstrap: str, topic: str, partitions: int = 1, timeout_s: float = BROKER_TIMEOUT_S):
        from confluent_kafka import KafkaException, Producer

        self.topic = topic
        self.bootstrap = bootstrap
        self.written = 0
        self.delivered = 0
        self.failed = 0
        self.first_error = ""
        logger = quiet_kafka_logger()
        self._producer = Producer({
            "bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all",
            "linger.ms": 5, "message.timeout.ms": DELIVERY_TIMEOUT_MS, "logger": logger,
        })
        try:
            metadata = self._producer.list_topics(timeout=timeout_s)
        except KafkaException as exc:
            reason = kafka_reason(exc)
            raise OutputError(f"cannot reach Kafka at {bootstrap} within {timeout_s:g} s ({reason})") from None
        if topic not in metadata.topics:
            self._create_topic(partitions, timeout_s, logger)

    def _create_topic(self, partitions: int, timeout_s: float, logger: logging.Logger) -> None:
        try:
            create_topics(self.bootstrap, {self.topic: partitions}, replication_factor=-1, timeout_s=timeout_s,
                          logger=logger)
        except TopicError as exc:
            raise OutputError(f"cannot create topic {self.topic} on {self.bootstrap}: {exc.reason}") from None

    def _on_delivery(self, error: Any, _message: Any) -> None:
        if error is None:
            self.delivered += 1
            return
        self.failed += 1
        if not self.first_error:
            self.first_error = error.str()

    def write(self, key: bytes, value: bytes, timestamp_ms: int | None = None) -> None:
        extra = {"timestamp": timestamp_ms} if timestamp_ms else {}
        while True:
            try:
                self._producer.produce(self.topic, value=value, key=key, on_delivery=self._on_delivery, **extra)
                break
            except BufferError:
                self._producer.poll(0.05)
        self._producer.poll(0)
        self.written += 1

    def close(self) -> None:
        flush_timeout_s = DELIVERY_TIMEOUT_MS / 1000 + 10
        remaining = self._producer.flush(flush_timeout_s)
        if remaining:
            raise OutputError(f"{remaining} of {self.written} messages not delivered to {self.topic} "
                              f"within {flush_timeout_s:g} s")
        if self.failed:
            raise OutputError(f"{self.failed} of {self.written} messages failed delivery to {self.topic}: "
                              f"{self.first_error}")

    def abort(self) -> None:
        self._producer.purge()
        self._producer.poll(0)
