"""Protobuf on the wire: plain serialized messages and the Confluent Schema Registry framing.

Confluent framing is byte 0x00, a 4-byte big-endian schema id, the message-index
array (a zig-zag varint count, then zig-zag varint indexes; the common `[0]` is the
single byte 0x00), then the message. A non-empty Protobuf message never starts with
0x00 (field number 0 is invalid), so the two forms are told apart by the first byte.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence, TypeVar

from google.protobuf.message import Message

MAGIC = 0x00
M = TypeVar("M", bound=Message)


class DecodeError(ValueError):
    """Bytes that cannot become the expected message; `reason` is a short stable code."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Frame:
    """The Schema Registry header of a framed message."""

    schema_id: int
    message_indexes: tuple[int, ...]


def _zigzag_encode(value: int) -> int:
    return (value << 1) ^ (value >> 63)


def varint(value: int) -> bytes:
    """A non-negative int as a Protobuf base-128 varint."""
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _read_zigzag(data: bytes, pos: int) -> tuple[int, int]:
    shift = 0
    result = 0
    while True:
        if pos >= len(data):
            raise DecodeError("truncated_frame", "message-index array ends mid-varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return (result >> 1) ^ -(result & 1), pos
        shift += 7
        if shift > 63:
            raise DecodeError("bad_frame", "varint in message-index array is longer than 10 bytes")


def frame(payload: bytes, schema_id: int, message_indexes: Sequence[int] = (0,)) -> bytes:
    """Wrap a serialized message in the Confluent wire format."""
    if not 0 <= schema_id < 2**31:
        raise ValueError(f"schema id {schema_id} is outside 0..2^31-1")
    header = bytes([MAGIC]) + schema_id.to_bytes(4, "big")
    if tuple(message_indexes) == (0,):
        indexes = b"\x00"
    else:
        indexes = varint(_zigzag_encode(len(message_indexes)))
        indexes += b"".join(varint(_zigzag_encode(i)) for i in message_indexes)
    return header + indexes + payload


def unframe(data: bytes) -> tuple[Frame | None, bytes]:
    """Split framed bytes into header and message; plain messages pass through unchanged."""
    if not data or data[0] != MAGIC:
        return None, data
    if len(data) < 6:
        raise DecodeError("truncated_frame", f"{len(data)} bytes is shorter than the 6-byte header")
    schema_id = int.from_bytes(data[1:5], "big")
    count, pos = _read_zigzag(data, 5)
    if count == 0:
        return Frame(schema_id, (0,)), data[pos:]
    if count < 0 or count > 64:
        raise DecodeError("bad_frame", f"message-index count {count} is not in 1..64")
    indexes = []
    for _ in range(count):
        index, pos = _read_zigzag(data, pos)
        if index < 0:
            raise DecodeError("bad_frame", f"negative message index {index}")
        indexes.append(index)
    return Frame(schema_id, tuple(indexes)), data[pos:]


def message_indexes(message_class: type[Message]) -> tuple[int, ...]:
    """The index path of a message type inside its .proto file, as framing carries it."""
    path = []
    descriptor = message_class.DESCRIPTOR
    while descriptor.containing_type is not None:
        parent = descriptor.containing_type
        path.append(parent.nested_types.index(descriptor))
        descriptor = parent
    path.append(list(descriptor.file.message_types_by_name.values()).index(descriptor))
    return tuple(reversed(path))


def decode(data: bytes, message_class: type[M]) -> M:
    """Parse raw or framed bytes as `message_class`; raises DecodeError, never anything else."""
    if not data:
        raise DecodeError("empty", "the message has no bytes")
    header, payload = unframe(bytes(data))
    if header is not None and header.message_indexes != message_indexes(message_class):
        raise DecodeError(
            "wrong_message_type",
            f"framing names message index {list(header.message_indexes)}, "
            f"{message_class.DESCRIPTOR.full_name} is {list(message_indexes(message_class))}",
        )
    message = message_class()
    try:
        message.ParseFromString(payload)
    except Exception as exc:  # upb raises DecodeError, RuntimeWarning-derived or ValueError
        raise DecodeError("invalid_protobuf", f"not a valid {message_class.DESCRIPTOR.full_name}: {exc}") from None
    return message


def encode(message: Message, schema_id: int | None = None) -> bytes:
    """Serialize `message`, framed when a schema id is given."""
    payload = message.SerializeToString()
    if schema_id is None:
        return payload
    return frame(payload, schema_id, message_indexes(type(message)))
