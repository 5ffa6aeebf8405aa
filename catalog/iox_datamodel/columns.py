"""The Arrow shape of table data: column roles, field types and the ``time`` column.

Every batch in the WAL, the write buffer and (later) Parquet has this shape:
tag columns are ``dictionary<int32, utf8>``, fields are one of the ``FieldType``
types, and ``time`` is ``timestamp[ns]``. Each Arrow field carries its role in its
metadata under ``ROLE_KEY`` so a batch read back from the WAL is self-describing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeAlias

import pyarrow as pa

__all__ = [
    "ROLE_KEY",
    "TAG_TYPE",
    "TIME_COLUMN",
    "TIME_TYPE",
    "ColumnKind",
    "ColumnRole",
    "FieldType",
    "column_kind",
    "role_field",
    "role_of",
]

TIME_COLUMN = "time"
ROLE_KEY = b"iox::column_type"
TAG_TYPE = pa.dictionary(pa.int32(), pa.string())
TIME_TYPE = pa.timestamp("ns")


class ColumnRole(StrEnum):
    """What a column is in the InfluxDB data model."""

    TAG = "tag"
    FIELD = "field"
    TIME = "time"


class FieldType(StrEnum):
    """A field's type; its value is the name InfluxDB gives it (errors, SHOW FIELD KEYS).

    Every other name of the type (Arrow, Parquet/Iceberg, SQL) is a property read
    from the one table ``_SPECS`` below, so no module keeps its own mapping.
    """

    FLOAT = "float"
    INTEGER = "integer"
    UNSIGNED = "unsigned"
    BOOLEAN = "boolean"
    STRING = "string"

    @property
    def arrow_type(self) -> pa.DataType:
        """The Arrow type of the field in batches, the WAL and the write buffer."""
        return _SPECS[self].arrow

    @property
    def file_type(self) -> pa.DataType:
        """The Arrow type in Parquet files (Iceberg has no unsigned: uint64 is stored as int64)."""
        return _SPECS[self].file

    @property
    def iceberg_type(self) -> str:
        """The Iceberg primitive type of the column in the table schema."""
        return _SPECS[self].iceberg

    @property
    def sql_type(self) -> str:
        """The SQL type name (as in CAST and GetXdbcTypeInfo)."""
        return _SPECS[self].sql

    @property
    def datafusion_type(self) -> str:
        """DataFusion's name of the Arrow type (as in ``arrow_cast``)."""
        return _SPECS[self].datafusion

    @classmethod
    def of_arrow(cls, data_type: pa.DataType) -> FieldType | None:
        """The field type whose Arrow type is ``data_type``, or None."""
        return _BY_ARROW.get(data_type)

    @classmethod
    def widening(cls, data_type: pa.DataType) -> FieldType | None:
        """The field type that holds values of ``data_type``, or None when none does.

        Writers of Arrow data and ``CREATE TABLE`` accept any width: every float is
        stored as float, every signed integer as integer, and so on.
        """
        return next((kind for kind, accepts in _WIDENING if accepts(data_type)), None)


@dataclass(frozen=True)
class _Spec:
    arrow: pa.DataType
    file: pa.DataType
    iceberg: str
    sql: str
    datafusion: str


_SPECS: dict[FieldType, _Spec] = {
    FieldType.FLOAT: _Spec(pa.float64(), pa.float64(), "double", "DOUBLE", "Float64"),
    FieldType.INTEGER: _Spec(pa.int64(), pa.int64(), "long", "BIGINT", "Int64"),
    FieldType.UNSIGNED: _Spec(pa.uint64(), pa.int64(), "long", "BIGINT UNSIGNED", "UInt64"),
    FieldType.BOOLEAN: _Spec(pa.bool_(), pa.bool_(), "boolean", "BOOLEAN", "Boolean"),
    FieldType.STRING: _Spec(pa.string(), pa.string(), "string", "VARCHAR", "Utf8"),
}
_BY_ARROW: dict[pa.DataType, FieldType] = {spec.arrow: kind for kind, spec in _SPECS.items()}
_WIDENING: tuple[tuple[FieldType, Callable[[pa.DataType], bool]], ...] = (
    (FieldType.FLOAT, pa.types.is_floating),
    (FieldType.INTEGER, pa.types.is_signed_integer),
    (FieldType.UNSIGNED, pa.types.is_unsigned_integer),
    (FieldType.BOOLEAN, pa.types.is_boolean),
    (FieldType.STRING, pa.types.is_string),
    (FieldType.STRING, pa.types.is_large_string),
    (FieldType.STRING, pa.types.is_string_view),
)

# What a column is, in one value: ``ColumnRole.TAG`` or the type of a field (time is implied).
# Both are ``str`` enums, so a kind is written to JSON (``iox.columns``) as "tag" or "float".
ColumnKind: TypeAlias = ColumnRole | FieldType


def column_kind(text: str) -> ColumnKind:
    """The kind named ``text`` ("tag" or a field type name); ValueError for anything else."""
    return ColumnRole.TAG if text == ColumnRole.TAG else FieldType(text)


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
