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
    probe = ("from streamsuite.bench import free_port; from streamsuite.stack import KafkaService, StackSettings; "
             "settings = StackSettings.from_env(kafka_port=free_port()); "
             "service = KafkaService('kafka', settings); "
             "print([service.healthy() for _ in range(3)])")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[False, False, False]"
    assert result.stderr == ""
