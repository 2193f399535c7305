"""The `streamsuite` command as a user runs it: decode from stdin, one-line errors."""
import json
import subprocess
import sys

from tests.unit.test_codec import transaction
from udfs.codec import encode


def streamsuite(*args, stdin=b""):
    return subprocess.run([sys.executable, "-m", "streamsuite", *args], input=stdin, capture_output=True,
                          timeout=60)


def test_decode_raw_and_framed_to_json():
    for data in (encode(transaction()), encode(transaction(), schema_id=9)):
        result = streamsuite("decode", "CardTransaction", stdin=data)
        assert result.returncode == 0, result.stderr
        decoded = json.loads(result.stdout)
        assert decoded["card_id"] == "c-1" and decoded["amount_minor"] == "1250"


def test_decode_bad_bytes_exits_1_with_one_line():
    result = streamsuite("decode", "CardTransaction", stdin=b"\x00\x00\x00")
    assert result.returncode == 1
    assert result.stderr.decode().strip().splitlines() == [
        "streamsuite: cannot decode CardTransaction: truncated_frame: 3 bytes is shorter than the 6-byte header"]


def test_decode_invalid_event_names_the_rule():
    result = streamsuite("decode", "CardTransaction", stdin=encode(transaction(amount_minor=-1)))
    assert result.returncode == 1 and b"out_of_range" in result.stderr


def test_decode_unknown_type():
    result = streamsuite("decode", "Nope", stdin=b"\x08\x01")
    assert result.returncode == 1 and b"unknown message type 'Nope'" in result.stderr


def test_proto_check_passes():
    result = streamsuite("proto", "check")
    assert result.returncode == 0, result.stdout


def test_rules_publish_refuses_an_invalid_file_before_any_kafka(tmp_path):
    bad = tmp_path / "rules.toml"
    bad.write_text('version = 2\neffective_from = "2024-01-01T06:00:00Z"\n[weights]\nvelocity_9m = 0.5\n')
    result = streamsuite("rules", "publish", str(bad), "--bootstrap", "127.0.0.1:1")
    assert result.returncode == 1
    assert result.stderr.decode().strip().splitlines() == [
        f"streamsuite: {bad}: rule set 2: unknown signal 'velocity_9m'; known: velocity_1m, velocity_1h, "
        "card_testing, amount_spike, impossible_travel, new_country, new_high_risk_merchant"]


def test_rules_horizon_takes_seconds_from_now_milliseconds_or_a_time():
    from streamsuite.rules import RulesError, until_ms

    assert until_ms("+1.5", 1_000) == 2_500
    assert until_ms("1704067200000", 0) == 1_704_067_200_000
    assert until_ms("2024-01-01T00:00:01Z", 0) == 1_704_067_201_000
    try:
        until_ms("soon", 0)
    except RulesError as exc:
        assert str(exc) == "'soon' is not +SECONDS, milliseconds or a time like 2024-01-01T06:00:00Z"
    else:
        raise AssertionError("'soon' was taken")


def test_rules_show_replays_the_topic_with_the_jobs_code():
    from streamsuite.rules import replay_book
    from streamsuite_proto.v1 import fraud_pb2
    from udfs.fraud_rules import rule_set_message

    def update(**table):
        return fraud_pb2.FraudRulesUpdate(rule_set=rule_set_message(table)).SerializeToString()

    book, outcomes = replay_book([update(version=1, effective_from_ms=1_000), update(version=1, effective_from_ms=2_000),
                                  fraud_pb2.FraudRulesUpdate(horizon=fraud_pb2.RulesHorizon(until_ms=5_000))
                                  .SerializeToString()])
    assert outcomes == ["accepted: rule set 1 (active) from 1000 ms",
                        "refused: rule set 1 is not newer than version 1, the latest known",
                        "accepted: horizon 5000 ms"]
    assert book.in_force(1_500).version == 1 and book.horizon_ms == 5_000


def test_demo_rejects_a_bad_count_before_it_starts_anything():
    result = streamsuite("demo", "--count", "-5")
    assert result.returncode == 2
    assert result.stderr.decode().strip().splitlines()[-1] == \
        "streamsuite demo: error: argument --count: must be 1 or more, not -5"


def test_generate_says_what_a_count_must_be():
    result = streamsuite("generate", "fraud", "--count", "abc", "--to-file", "unused.bin")
    assert result.returncode == 2
    assert result.stderr.decode().strip().splitlines()[-1] == \
        "streamsuite generate: error: argument --count: must be a whole number of 1 or more, not 'abc'"


def test_waiting_for_a_kafka_that_is_not_up_prints_nothing():
    """librdkafka logs each refused connect; while the stack waits for its broker it must stay quiet."""
    probe = ("from streamsuite.bench.rest import free_port; from streamsuite.stack import KafkaService, StackSettings; "
             "settings = StackSettings.from_env(kafka_port=free_port()); "
             "service = KafkaService('kafka', settings); "
             "print([service.healthy() for _ in range(3)])")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[False, False, False]"
    assert result.stderr == ""
