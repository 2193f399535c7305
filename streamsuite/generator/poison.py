"""Malformed messages of every kind the decoder must dead-letter, each checked to fail parsing."""
from __future__ import annotations

import random

from google.protobuf.message import Message

from jobs.specs import JOBS
from streamsuite.generator.base import DEFAULT_SCHEMA_ID, POISON_KINDS, Params, random_uuid
from streamsuite.generator.domains import GENERATORS, foreign_domain
from streamsuite_proto.v1 import inventory_pb2
from udfs import codec
from udfs.codec import DecodeError
from udfs.maintenance_records import SENSORS


class PoisonMaker:
    """Malformed messages, one kind after another in a seeded order, each checked to fail parsing."""

    def __init__(self, params: Params):
        self.params = params
        self.rng = random.Random(f"{params.seed}:poison")
        self.event_type = JOBS[params.domain].event_type
        self.frame_schema_id = params.schema_id if params.framing == "confluent" else None
        self.kinds = list(POISON_KINDS)
        self.rng.shuffle(self.kinds)
        self.made = 0

    def make(self, template: Message) -> tuple[str, str, bytes, str]:
        """Returns (kind, poison id, bytes, the reason the decoder gives)."""
        kind = self.kinds[self.made % len(self.kinds)]
        self.made += 1
        poison_id = f"poison-{random_uuid(self.rng)}"
        for _ in range(100):
            value = self._build(kind, template, poison_id)
            try:
                self.event_type.parse(value)
            except DecodeError as exc:
                return kind, poison_id, value, exc.reason
            if kind != "garbage":
                break
        raise AssertionError(f"a {kind} poison message parsed as a valid {self.event_type.name}")

    def _copy(self, template: Message, poison_id: str) -> Message:
        message = type(template)()
        message.CopyFrom(template)
        setattr(message, GENERATORS[self.params.domain].id_field, poison_id)
        return message

    def _build(self, kind: str, template: Message, poison_id: str) -> bytes:
        rng, domain = self.rng, self.params.domain
        schema_id = self.frame_schema_id if self.frame_schema_id is not None else DEFAULT_SCHEMA_ID
        if kind == "garbage":
            return rng.randbytes(rng.randint(8, 64))
        if kind == "empty":
            return b""
        if kind == "truncated_header":
            return b"\x00" + schema_id.to_bytes(4, "big")[: rng.randint(0, 4)]
        if kind == "truncated_protobuf":
            payload = self._copy(template, poison_id).SerializeToString()
            cut = rng.randint(2, 1 + len(poison_id))  # inside the id, field 1, serialized first
            return self._frame(payload[:cut])
        if kind == "wrong_message_index":
            payload = self._copy(template, poison_id).SerializeToString()
            return codec.frame(payload, schema_id, (rng.choice((1, 2)),))
        if kind == "foreign_message":
            # A valid event of another domain; each pairing is checked to fail.
            foreign = GENERATORS[foreign_domain(domain)].example_event(poison_id, self.params.start_time_ms)
            return self._frame(foreign.SerializeToString())
        message = self._copy(template, poison_id)
        generator = GENERATORS[domain]
        edits = generator.missing_field_edits if kind == "missing_field" else generator.out_of_range_edits
        name, value = rng.choice(edits)
        if name == "sensors":
            for sensor in SENSORS:
                message.ClearField(sensor)
        elif name == "reservation_id":
            message.kind = inventory_pb2.RESERVATION
            message.reservation_id = ""
        else:
            setattr(message, name, value)
        return self._frame(message.SerializeToString())

    def _frame(self, payload: bytes) -> bytes:
        return payload if self.frame_schema_id is None else codec.frame(payload, self.frame_schema_id)
