from pathlib import Path

from streamsuite.processes import ephemeral_port_note


def test_a_port_taken_in_the_ephemeral_range_says_so():
    low, high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    assert ephemeral_port_note(low - 1) == ""
    assert ephemeral_port_note(high) == f" below {low}: {high} is in this machine's ephemeral range ({low}-{high}), " \
                                    "used by outgoing connections"
