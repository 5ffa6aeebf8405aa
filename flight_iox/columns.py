"""The Arrow shape of table data: column roles, types and the ``time`` column.

Every batch in the WAL, the write buffer and (later) Parquet has this shape:
tag columns are ``dictionary<int32, utf8>``, fields are one of ``FIELD_TYPES``,
and ``time`` is ``timestamp[ns]``. Each Arrow field carries its role in its
metadata under ``ROLE_KEY`` so a batch read back from the WAL is self-describing.
"""

from __future__ import annotations

from enum import StrEnum

import pyarrow as pa

TIME_COLUMN = "time"
ROLE_KEY = b"iox::column_type"
TAG_TYPE = pa.dictionary(pa.int32(), pa.string())
TIME_TYPE = pa.timestamp("ns")


class ColumnRole(StrEnum):
    """What a column is in the InfluxDB data model."""

    TAG = "tag"
    FIELD = "field"
    TIME = "time"


# Arrow type of a field -> the name InfluxDB uses for it in errors and SHOW FIELD KEYS.
FIELD_TYPES: dict[pa.DataType, str] = {
    pa.float64(): "float",
    pa.int64(): "integer",
    pa.uint64(): "unsigned",
    pa.bool_(): "boolean",
    pa.string(): "string",
}


def role_field(name: str, data_type: pa.DataType, role: ColumnRole) -> pa.Field:
    """An Arrow field tagged with its role."""
    return pa.field(
        name,
        data_type,
        nullable=role is not ColumnRole.TIME,
        metadata={ROLE_KEY: role.value.encode()},
    )


def role_of(field: pa.Field) -> ColumnRole:
    """The role recorded on an Arrow field (fields without one are fields)."""
    raw = (field.metadata or {}).get(ROLE_KEY)
    return ColumnRole(raw.decode()) if raw else ColumnRole.FIELD
