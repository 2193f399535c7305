from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class SensorReading(_message.Message):
    __slots__ = ("reading_id", "machine_id", "event_time_ms", "sequence", "temperature_c", "vibration_mm_s", "pressure_bar", "rotation_rpm")
    READING_ID_FIELD_NUMBER: _ClassVar[int]
    MACHINE_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    TEMPERATURE_C_FIELD_NUMBER: _ClassVar[int]
    VIBRATION_MM_S_FIELD_NUMBER: _ClassVar[int]
    PRESSURE_BAR_FIELD_NUMBER: _ClassVar[int]
    ROTATION_RPM_FIELD_NUMBER: _ClassVar[int]
    reading_id: str
    machine_id: str
    event_time_ms: int
    sequence: int
    temperature_c: float
    vibration_mm_s: float
    pressure_bar: float
    rotation_rpm: float
    def __init__(self, reading_id: _Optional[str] = ..., machine_id: _Optional[str] = ..., event_time_ms: _Optional[int] = ..., sequence: _Optional[int] = ..., temperature_c: _Optional[float] = ..., vibration_mm_s: _Optional[float] = ..., pressure_bar: _Optional[float] = ..., rotation_rpm: _Optional[float] = ...) -> None: ...

class MachineHealth(_message.Message):
    __slots__ = ("machine_id", "window_end_ms", "health", "sensor_anomaly", "time_to_failure_ms", "version", "faulty_sensors")
    class SensorAnomalyEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    MACHINE_ID_FIELD_NUMBER: _ClassVar[int]
    WINDOW_END_MS_FIELD_NUMBER: _ClassVar[int]
    HEALTH_FIELD_NUMBER: _ClassVar[int]
    SENSOR_ANOMALY_FIELD_NUMBER: _ClassVar[int]
    TIME_TO_FAILURE_MS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    FAULTY_SENSORS_FIELD_NUMBER: _ClassVar[int]
    machine_id: str
    window_end_ms: int
    health: float
    sensor_anomaly: _containers.ScalarMap[str, float]
    time_to_failure_ms: int
    version: int
    faulty_sensors: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, machine_id: _Optional[str] = ..., window_end_ms: _Optional[int] = ..., health: _Optional[float] = ..., sensor_anomaly: _Optional[_Mapping[str, float]] = ..., time_to_failure_ms: _Optional[int] = ..., version: _Optional[int] = ..., faulty_sensors: _Optional[_Iterable[str]] = ...) -> None: ...
