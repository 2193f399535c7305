"""Which TCP ports a set of processes listens on, read from /proc (no tools needed)."""
from __future__ import annotations

import ipaddress
import os
from pathlib import Path

from streamsuite import procfs


def process_group(pid: int) -> list[int]:
    """The recorded PID and every process in its group (each service starts in a session of its own)."""
    members = []
    for member in procfs.process_table():
        try:
            if os.getpgid(member) == pid:
                members.append(member)
        except OSError:
            pass
    return members


def socket_inodes(pid: int) -> set[str]:
    inodes = set()
    try:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    except OSError:
        pass
    return inodes


def decode_address(hex_address: str) -> ipaddress._BaseAddress:
    """An address of /proc/net/tcp{,6}: 32-bit words, each in the host's (little-endian) byte order."""
    raw = bytes.fromhex(hex_address)
    return ipaddress.ip_address(b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4)))


def tcp_listeners() -> dict[str, tuple[ipaddress._BaseAddress, int]]:
    """Every listening TCP socket of this network namespace: inode -> (address, port)."""
    listeners = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A":  # TCP_LISTEN
                address, port = fields[1].split(":")
                listeners[fields[9]] = (decode_address(address), int(port, 16))
    return listeners


def loopback(address: ipaddress._BaseAddress) -> bool:
    mapped = getattr(address, "ipv4_mapped", None)
    return address.is_loopback or (mapped is not None and mapped.is_loopback)


def process_tree(pid: int) -> list[int]:
    """`pid`, then all its descendants."""
    return [pid] + sorted(procfs.process_tree([pid]) - {pid})


def listening(pids: list[int]) -> list[tuple[str, int]]:
    """(address, port) of every socket these processes listen on."""
    listeners = tcp_listeners()
    inodes = set().union(*(socket_inodes(pid) for pid in pids))
    return sorted((str(listeners[i][0]), listeners[i][1]) for i in inodes if i in listeners)
