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
