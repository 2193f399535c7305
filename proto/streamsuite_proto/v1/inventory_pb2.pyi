from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class MovementKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MOVEMENT_KIND_UNSPECIFIED: _ClassVar[MovementKind]
    SALE: _ClassVar[MovementKind]
    RESTOCK: _ClassVar[MovementKind]
    RETURN: _ClassVar[MovementKind]
    ADJUSTMENT: _ClassVar[MovementKind]
    RESERVATION: _ClassVar[MovementKind]
    RELEASE: _ClassVar[MovementKind]
MOVEMENT_KIND_UNSPECIFIED: MovementKind
SALE: MovementKind
RESTOCK: MovementKind
RETURN: MovementKind
ADJUSTMENT: MovementKind
RESERVATION: MovementKind
RELEASE: MovementKind

class InventoryMovement(_message.Message):
    __slots__ = ("event_id", "store_id", "sku", "event_time_ms", "sequence", "kind", "quantity", "reservation_id")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    STORE_ID_FIELD_NUMBER: _ClassVar[int]
    SKU_FIELD_NUMBER: _ClassVar[int]
    EVENT_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    RESERVATION_ID_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    store_id: str
    sku: str
    event_time_ms: int
    sequence: int
    kind: MovementKind
    quantity: int
    reservation_id: str
    def __init__(self, event_id: _Optional[str] = ..., store_id: _Optional[str] = ..., sku: _Optional[str] = ..., event_time_ms: _Optional[int] = ..., sequence: _Optional[int] = ..., kind: _Optional[_Union[MovementKind, str]] = ..., quantity: _Optional[int] = ..., reservation_id: _Optional[str] = ...) -> None: ...
