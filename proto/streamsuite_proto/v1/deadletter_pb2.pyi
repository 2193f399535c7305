from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class DeadLetter(_message.Message):
    __slots__ = ("payload", "reason", "source_topic", "job", "event_time_ms", "payload_size", "payload_sha256")
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    SOURCE_TOPIC_FIELD_NUMBER: _ClassVar[int]
    JOB_FIELD_NUMBER: _ClassVar[int]
    EVENT_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_SHA256_FIELD_NUMBER: _ClassVar[int]
    payload: bytes
    reason: str
    source_topic: str
    job: str
    event_time_ms: int
    payload_size: int
    payload_sha256: bytes
    def __init__(self, payload: _Optional[bytes] = ..., reason: _Optional[str] = ..., source_topic: _Optional[str] = ..., job: _Optional[str] = ..., event_time_ms: _Optional[int] = ..., payload_size: _Optional[int] = ..., payload_sha256: _Optional[bytes] = ...) -> None: ...
