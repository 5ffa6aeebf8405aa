"""The data model (tags, fields, ns time) against the Iceberg table schema.

Iceberg v2 has microsecond timestamps only, so ``time`` is stored as an Iceberg
``timestamp`` (µs) and the sub-microsecond rest (0-999 ns) in ``time_ns_remainder``.
External engines see a real time column; flight-iox rebuilds exact nanoseconds.
Column roles, and Arrow types Iceberg lacks (``uint64`` is stored as ``long``),
are kept in the table property ``iox.columns``.
"""

from __future__ import annotations

import json

import pyarrow as pa

from flight_iox.columns import TAG_TYPE, TIME_COLUMN, TIME_TYPE, ColumnRole, role_field, role_of

REMAINDER_COLUMN = "time_ns_remainder"
COLUMNS_PROPERTY = "iox.columns"

# Data-model type name -> (Arrow type in the model, Arrow type in Parquet files).
MODEL_TYPES: dict[str, tuple[pa.DataType, pa.DataType]] = {
    "tag": (TAG_TYPE, pa.string()),
    "float": (pa.float64(), pa.float64()),
    "integer": (pa.int64(), pa.int64()),
    "unsigned": (pa.uint64(), pa.int64()),
    "boolean": (pa.bool_(), pa.bool_()),
    "string": (pa.string(), pa.string()),
}
_TYPE_NAMES = {model: name for name, (model, _) in MODEL_TYPES.items() if name != "tag"}


def column_kinds(model_schema: pa.Schema) -> dict[str, str]:
    """``{column: "tag" | field type name}`` for every column but time."""
    kinds = {}
    for field in model_schema:
        role = role_of(field)
        if role is ColumnRole.TAG:
            kinds[field.name] = "tag"
        elif role is ColumnRole.FIELD:
            kinds[field.name] = _TYPE_NAMES[field.type]
    return kinds


def encode_kinds(kinds: dict[str, str]) -> str:
    """The ``iox.columns`` property value."""
    return json.dumps(kinds, sort_keys=True, separators=(",", ":"))


def model_schema_from_kinds(kinds: dict[str, str]) -> pa.Schema:
    """The data-model Arrow schema (sorted by name, roles in metadata) for ``iox.columns``."""
    fields = [
        role_field(
            name,
            MODEL_TYPES[kind][0],
            ColumnRole.TAG if kind == "tag" else ColumnRole.FIELD,
        )
        for name, kind in kinds.items()
    ]
    fields.append(role_field(TIME_COLUMN, TIME_TYPE, ColumnRole.TIME))
    return pa.schema(sorted(fields, key=lambda f: f.name))


def file_schema(kinds: dict[str, str]) -> pa.Schema:
    """The Arrow schema of the Parquet files (and so of the Iceberg table)."""
    fields = [pa.field(name, MODEL_TYPES[kind][1]) for name, kind in sorted(kinds.items())]
    fields.append(pa.field(TIME_COLUMN, pa.timestamp("us"), nullable=False))
    fields.append(pa.field(REMAINDER_COLUMN, pa.int32()))
    return pa.schema(fields)
