"""Wire format: raw Protobuf and Confluent Schema Registry framing, byte for byte."""
import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.protobuf import ProtobufDeserializer, ProtobufSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from streamsuite_proto.v1 import fraud_pb2, maintenance_pb2
from udfs.codec import DecodeError, Frame, decode, encode, frame, message_indexes, unframe

PAYLOAD = b"\x0a\x03tx1"


def transaction(**overrides) -> fraud_pb2.CardTransaction:
    fields = dict(transaction_id="t-1", card_id="c-1", event_time_ms=1_767_225_600_000, sequence=1,
                  amount_minor=1250, currency="EUR", merchant_id="m-1", merchant_category="5411",
                  country="DE", latitude=52.5, longitude=13.4, channel=fraud_pb2.CARD_PRESENT)
    fields.update(overrides)
    return fraud_pb2.CardTransaction(**fields)


@pytest.mark.parametrize("schema_id, indexes, header", [
    (1, (0,), b"\x00\x00\x00\x00\x01\x00"),                  # the [0] shortcut: one 0x00 byte
    (258, (1,), b"\x00\x00\x00\x01\x02\x02\x02"),           # count 1 -> 0x02, index 1 -> 0x02
    (7, (2,), b"\x00\x00\x00\x00\x07\x02\x04"),
    (7, (1, 0), b"\x00\x00\x00\x00\x07\x04\x02\x00"),       # nested: count 2, then 1, 0
    (7, (0, 3, 1), b"\x00\x00\x00\x00\x07\x06\x00\x06\x02"),
    (7, (64,), b"\x00\x00\x00\x00\x07\x02\x80\x01"),        # zig-zag 128 needs two varint bytes
    (2**31 - 1, (0,), b"\x00\x7f\xff\xff\xff\x00"),
])
def test_frame_vectors(schema_id, indexes, header):
    framed = frame(PAYLOAD, schema_id, indexes)
    assert framed == header + PAYLOAD
    assert unframe(framed) == (Frame(schema_id, tuple(indexes)), PAYLOAD)


def test_explicit_zero_index_array_decodes_like_the_shortcut():
    assert unframe(b"\x00\x00\x00\x00\x05\x02\x00" + PAYLOAD) == (Frame(5, (0,)), PAYLOAD)


def test_raw_message_passes_through():
    raw = transaction().SerializeToString()
    assert unframe(raw) == (None, raw)
    assert decode(raw, fraud_pb2.CardTransaction) == transaction()


def test_message_indexes_follow_the_file_layout():
    assert message_indexes(fraud_pb2.CardTransaction) == (0,)
    assert message_indexes(fraud_pb2.FraudScore) == (1,)
    assert message_indexes(fraud_pb2.FraudScore.FeaturesEntry) == (1, 0)
    assert message_indexes(maintenance_pb2.MachineHealth.SensorAnomalyEntry) == (1, 0)


def test_encode_round_trip_framed_and_raw():
    for schema_id in (None, 42):
        assert decode(encode(transaction(), schema_id), fraud_pb2.CardTransaction) == transaction()


def _confluent(message_class):
    client = SchemaRegistryClient.new_client({"url": "mock://streamsuite-tests"})
    ctx = SerializationContext("fraud.transactions", MessageField.VALUE)
    serializer = ProtobufSerializer(message_class, client, {"use.deprecated.format": False})
    deserializer = ProtobufDeserializer(message_class, {"use.deprecated.format": False})
    return serializer, deserializer, ctx


def test_confluent_serializer_bytes_decode_here():
    serializer, _, ctx = _confluent(fraud_pb2.CardTransaction)
    framed = serializer(transaction(), ctx)
    header, payload = unframe(framed)
    assert header.message_indexes == (0,)
    assert framed == frame(transaction().SerializeToString(), header.schema_id, (0,))
    assert decode(framed, fraud_pb2.CardTransaction) == transaction()


def test_our_framing_decodes_with_confluent_deserializer():
    serializer, deserializer, ctx = _confluent(fraud_pb2.FraudScore)
    score = fraud_pb2.FraudScore(card_id="c-1", transaction_id="t-9", score=0.75, reasons=["velocity_1m"],
                                 features={"velocity_1m": 6.0})
    schema_id = unframe(serializer(score, ctx))[0].schema_id
    assert deserializer(encode(score, schema_id), ctx) == score


@pytest.mark.parametrize("data, reason", [
    (b"", "empty"),
    (b"\x00\x00\x01", "truncated_frame"),
    (b"\x00\x00\x00\x00\x01", "truncated_frame"),
    (b"\x00\x00\x00\x00\x01\x02", "truncated_frame"),          # count 1, index missing
    (b"\x00\x00\x00\x00\x01\x01\x00", "bad_frame"),           # count -1
    (b"\x00\x00\x00\x00\x01\x02\x01", "bad_frame"),           # index -1
    (b"\x00\x00\x00\x00\x01" + b"\xff" * 11, "bad_frame"),    # varint longer than 10 bytes
    (b"\x00\x00\x00\x00\x01\x02\x02" + PAYLOAD, "wrong_message_type"),
    (b"\x0a\xff\x01abc", "invalid_protobuf"),                 # length runs past the end
    (b"\xff\xff\xff\xff", "invalid_protobuf"),
    (b"\x12\x02\xc3\x28", "invalid_protobuf"),                # invalid UTF-8 in a string field
])
def test_bad_bytes_raise_one_typed_error(data, reason):
    with pytest.raises(DecodeError) as info:
        decode(data, fraud_pb2.CardTransaction)
    assert info.value.reason == reason
    assert str(info.value).startswith(reason)


def test_frame_rejects_schema_ids_out_of_range():
    with pytest.raises(ValueError):
        frame(PAYLOAD, 2**31, (0,))
