from pathlib import Path

from streamsuite.processes import ephemeral_port_note
from streamsuite.stack import kafka_cluster_id


def test_a_port_taken_in_the_ephemeral_range_says_so():
    low, high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    assert ephemeral_port_note(low - 1) == ""
    assert ephemeral_port_note(high) == f" below {low}: {high} is in this machine's ephemeral range ({low}-{high}), " \
                                    "used by outgoing connections"


def test_kafka_cluster_ids_never_look_like_an_option():
    ids = [kafka_cluster_id() for _ in range(5_000)]
    assert not any(i.startswith("-") for i in ids)
    assert all(len(i) == 22 for i in ids) and len(set(ids)) == len(ids)
