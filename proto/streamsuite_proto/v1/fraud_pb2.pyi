from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Channel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CHANNEL_UNSPECIFIED: _ClassVar[Channel]
    CARD_PRESENT: _ClassVar[Channel]
    ECOMMERCE: _ClassVar[Channel]
    ATM: _ClassVar[Channel]
CHANNEL_UNSPECIFIED: Channel
CARD_PRESENT: Channel
ECOMMERCE: Channel
ATM: Channel

class CardTransaction(_message.Message):
    __slots__ = ("transaction_id", "card_id", "event_time_ms", "sequence", "amount_minor", "currency", "merchant_id", "merchant_category", "country", "latitude", "longitude", "channel")
    TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    CARD_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_MINOR_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    MERCHANT_ID_FIELD_NUMBER: _ClassVar[int]
    MERCHANT_CATEGORY_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_FIELD_NUMBER: _ClassVar[int]
    LATITUDE_FIELD_NUMBER: _ClassVar[int]
    LONGITUDE_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    transaction_id: str
    card_id: str
    event_time_ms: int
    sequence: int
    amount_minor: int
    currency: str
    merchant_id: str
    merchant_category: str
    country: str
    latitude: float
    longitude: float
    channel: Channel
    def __init__(self, transaction_id: _Optional[str] = ..., card_id: _Optional[str] = ..., event_time_ms: _Optional[int] = ..., sequence: _Optional[int] = ..., amount_minor: _Optional[int] = ..., currency: _Optional[str] = ..., merchant_id: _Optional[str] = ..., merchant_category: _Optional[str] = ..., country: _Optional[str] = ..., latitude: _Optional[float] = ..., longitude: _Optional[float] = ..., channel: _Optional[_Union[Channel, str]] = ...) -> None: ...

class FraudScore(_message.Message):
    __slots__ = ("card_id", "transaction_id", "event_time_ms", "sequence", "score", "reasons", "features")
    class FeaturesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    CARD_ID_FIELD_NUMBER: _ClassVar[int]
    TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    card_id: str
    transaction_id: str
    event_time_ms: int
    sequence: int
    score: float
    reasons: _containers.RepeatedScalarFieldContainer[str]
    features: _containers.ScalarMap[str, float]
    def __init__(self, card_id: _Optional[str] = ..., transaction_id: _Optional[str] = ..., event_time_ms: _Optional[int] = ..., sequence: _Optional[int] = ..., score: _Optional[float] = ..., reasons: _Optional[_Iterable[str]] = ..., features: _Optional[_Mapping[str, float]] = ...) -> None: ...

class FraudAlert(_message.Message):
    __slots__ = ("alert_id", "card_id", "transaction_id", "event_time_ms", "sequence", "score", "reasons")
    ALERT_ID_FIELD_NUMBER: _ClassVar[int]
    CARD_ID_FIELD_NUMBER: _ClassVar[int]
    TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    alert_id: str
    card_id: str
    transaction_id: str
    event_time_ms: int
    sequence: int
    score: float
    reasons: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, alert_id: _Optional[str] = ..., card_id: _Optional[str] = ..., transaction_id: _Optional[str] = ..., event_time_ms: _Optional[int] = ..., sequence: _Optional[int] = ..., score: _Optional[float] = ..., reasons: _Optional[_Iterable[str]] = ...) -> None: ...
