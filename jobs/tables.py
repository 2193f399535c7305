"""The columns of a job's cold tables: one declaration that is both the DataStream row type the
operator emits and the SQL DDL of the Parquet table the cold sink writes."""
from __future__ import annotations

from dataclasses import dataclass

_FLINK_TYPES = {"STRING": "STRING", "BIGINT": "LONG", "DOUBLE": "DOUBLE", "BOOLEAN": "BOOLEAN", "INT": "INT"}


@dataclass(frozen=True)
class Columns:
    """The columns of a cold table, usable as a DataStream row type and as SQL DDL."""

    items: tuple

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.items]

    def row_type(self):
        from pyflink.common import Types

        return Types.ROW_NAMED(self.names, [getattr(Types, _FLINK_TYPES[t])() for _, t in self.items])

    def ddl(self) -> str:
        return ", ".join(f"`{name}` {sql}" for name, sql in self.items)


@dataclass(frozen=True)
class ColdTable:
    """A cold table: Parquet under `<cold base>/<name>/dt=YYYY-MM-DD/`."""

    name: str
    columns: Columns


def columns(*items: tuple[str, str]) -> Columns:
    unknown = [t for _, t in items if t not in _FLINK_TYPES]
    if unknown:
        raise ValueError(f"unsupported column type(s) {unknown}")
    return Columns(tuple(items))
