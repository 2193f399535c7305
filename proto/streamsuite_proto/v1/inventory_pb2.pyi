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

class StockLevel(_message.Message):
    __slots__ = ("store_id", "sku", "on_hand", "reserved", "available", "version", "event_time_ms", "oversold")
    STORE_ID_FIELD_NUMBER: _ClassVar[int]
    SKU_FIELD_NUMBER: _ClassVar[int]
    ON_HAND_FIELD_NUMBER: _ClassVar[int]
    RESERVED_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    EVENT_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    OVERSOLD_FIELD_NUMBER: _ClassVar[int]
    store_id: str
    sku: str
    on_hand: int
    reserved: int
    available: int
    version: int
    event_time_ms: int
    oversold: bool
    def __init__(self, store_id: _Optional[str] = ..., sku: _Optional[str] = ..., on_hand: _Optional[int] = ..., reserved: _Optional[int] = ..., available: _Optional[int] = ..., version: _Optional[int] = ..., event_time_ms: _Optional[int] = ..., oversold: bool = ...) -> None: ...

class LowStockAlert(_message.Message):
    __slots__ = ("alert_id", "store_id", "sku", "available", "reorder_point", "time_to_stockout_ms", "event_time_ms")
    ALERT_ID_FIELD_NUMBER: _ClassVar[int]
    STORE_ID_FIELD_NUMBER: _ClassVar[int]
    SKU_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    REORDER_POINT_FIELD_NUMBER: _ClassVar[int]
    TIME_TO_STOCKOUT_MS_FIELD_NUMBER: _ClassVar[int]
    EVENT_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    alert_id: str
    store_id: str
    sku: str
    available: int
    reorder_point: int
    time_to_stockout_ms: int
    event_time_ms: int
    def __init__(self, alert_id: _Optional[str] = ..., store_id: _Optional[str] = ..., sku: _Optional[str] = ..., available: _Optional[int] = ..., reorder_point: _Optional[int] = ..., time_to_stockout_ms: _Optional[int] = ..., event_time_ms: _Optional[int] = ...) -> None: ...
