"""The encoding of every domain state kept in Flink: a JSON array whose first item is its version.

A state is a named record (a dataclass) whose entries are named records too (`NamedTuple`s):
each is written as a JSON array of its fields in order, so field names never travel in the
state, and the state's `from_json` names them again. Changing the fields of a record means a
new encoding version.

JSON text keeps state readable across Python and library upgrades (no class paths, unlike
pickle). orjson writes and reads the same text as `json` (compact separators) several times
faster, which matters on the per-event path, but only for integers of 64 bits: it refuses
larger ones when writing and reads them back as floats. A state that holds larger integers on
purpose (the maintenance job's exact sums of squares) says so with `big_ints` and takes the
standard library; for every other state an integer past 64 bits is an error, not a float.
"""
from __future__ import annotations

import json
from typing import Any

import orjson


def _fields(record: Any) -> tuple:
    """A named record (a NamedTuple, which orjson does not take) as the array of its fields."""
    if isinstance(record, tuple):
        return tuple(record)
    raise TypeError(f"{type(record).__name__} is not part of an encoded state")


def encode_state(version: int, *values: Any, big_ints: bool = False) -> str:
    items = [version, *values]
    if big_ints:
        return json.dumps(items, separators=(",", ":"))
    return orjson.dumps(items, default=_fields).decode()


def decode_state(data: str, version: int, what: str, big_ints: bool = False) -> list:
    """The values after the version; a state written by another encoding version is refused by name."""
    values = json.loads(data) if big_ints else orjson.loads(data)
    if values[0] != version:
        relation = "newer than" if values[0] > version else "not"
        raise ValueError(f"{what} encoding version {values[0]} is {relation} {version}, the one this code reads")
    return values[1:]


def state_version(data: str) -> int:
    """The encoding version of a state, read from its first item without parsing the rest."""
    return int(data[1:data.index(",")] if "," in data else data[1:-1])
