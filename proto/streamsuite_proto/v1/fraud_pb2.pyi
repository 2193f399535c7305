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

class RuleMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RULE_MODE_UNSPECIFIED: _ClassVar[RuleMode]
    ACTIVE: _ClassVar[RuleMode]
    SHADOW: _ClassVar[RuleMode]
CHANNEL_UNSPECIFIED: Channel
CARD_PRESENT: Channel
ECOMMERCE: Channel
ATM: Channel
RULE_MODE_UNSPECIFIED: RuleMode
ACTIVE: RuleMode
SHADOW: RuleMode

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

class FraudLimits(_message.Message):
    __slots__ = ("small_amount_minor", "max_speed_kmh", "min_travel_km", "min_history", "reason_min_contribution")
    SMALL_AMOUNT_MINOR_FIELD_NUMBER: _ClassVar[int]
    MAX_SPEED_KMH_FIELD_NUMBER: _ClassVar[int]
    MIN_TRAVEL_KM_FIELD_NUMBER: _ClassVar[int]
    MIN_HISTORY_FIELD_NUMBER: _ClassVar[int]
    REASON_MIN_CONTRIBUTION_FIELD_NUMBER: _ClassVar[int]
    small_amount_minor: int
    max_speed_kmh: float
    min_travel_km: float
    min_history: int
    reason_min_contribution: float
    def __init__(self, small_amount_minor: _Optional[int] = ..., max_speed_kmh: _Optional[float] = ..., min_travel_km: _Optional[float] = ..., min_history: _Optional[int] = ..., reason_min_contribution: _Optional[float] = ...) -> None: ...

class SegmentRule(_message.Message):
    __slots__ = ("country", "merchant_category", "weights", "alert_threshold")
    class WeightsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    COUNTRY_FIELD_NUMBER: _ClassVar[int]
    MERCHANT_CATEGORY_FIELD_NUMBER: _ClassVar[int]
    WEIGHTS_FIELD_NUMBER: _ClassVar[int]
    ALERT_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    country: str
    merchant_category: str
    weights: _containers.ScalarMap[str, float]
    alert_threshold: float
    def __init__(self, country: _Optional[str] = ..., merchant_category: _Optional[str] = ..., weights: _Optional[_Mapping[str, float]] = ..., alert_threshold: _Optional[float] = ...) -> None: ...

class FraudRuleSet(_message.Message):
    __slots__ = ("version", "effective_from_ms", "mode", "weights", "alert_threshold", "high_risk_merchant_categories", "limits", "enabled_signals", "segments", "description")
    class WeightsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    VERSION_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_FROM_MS_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    WEIGHTS_FIELD_NUMBER: _ClassVar[int]
    ALERT_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    HIGH_RISK_MERCHANT_CATEGORIES_FIELD_NUMBER: _ClassVar[int]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    ENABLED_SIGNALS_FIELD_NUMBER: _ClassVar[int]
    SEGMENTS_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    version: int
    effective_from_ms: int
    mode: RuleMode
    weights: _containers.ScalarMap[str, float]
    alert_threshold: float
    high_risk_merchant_categories: _containers.RepeatedScalarFieldContainer[str]
    limits: FraudLimits
    enabled_signals: _containers.RepeatedScalarFieldContainer[str]
    segments: _containers.RepeatedCompositeFieldContainer[SegmentRule]
    description: str
    def __init__(self, version: _Optional[int] = ..., effective_from_ms: _Optional[int] = ..., mode: _Optional[_Union[RuleMode, str]] = ..., weights: _Optional[_Mapping[str, float]] = ..., alert_threshold: _Optional[float] = ..., high_risk_merchant_categories: _Optional[_Iterable[str]] = ..., limits: _Optional[_Union[FraudLimits, _Mapping]] = ..., enabled_signals: _Optional[_Iterable[str]] = ..., segments: _Optional[_Iterable[_Union[SegmentRule, _Mapping]]] = ..., description: _Optional[str] = ...) -> None: ...

class RulesHorizon(_message.Message):
    __slots__ = ("until_ms",)
    UNTIL_MS_FIELD_NUMBER: _ClassVar[int]
    until_ms: int
    def __init__(self, until_ms: _Optional[int] = ...) -> None: ...

class FraudRulesUpdate(_message.Message):
    __slots__ = ("rule_set", "horizon")
    RULE_SET_FIELD_NUMBER: _ClassVar[int]
    HORIZON_FIELD_NUMBER: _ClassVar[int]
    rule_set: FraudRuleSet
    horizon: RulesHorizon
    def __init__(self, rule_set: _Optional[_Union[FraudRuleSet, _Mapping]] = ..., horizon: _Optional[_Union[RulesHorizon, _Mapping]] = ...) -> None: ...
