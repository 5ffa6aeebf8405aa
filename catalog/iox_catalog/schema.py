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

from iox_datamodel.columns import (
    TAG_TYPE,
    TIME_COLUMN,
    TIME_TYPE,
    ColumnKind,
    ColumnRole,
    FieldType,
    column_kind,
    role_field,
    role_of,
)

REMAINDER_COLUMN = "time_ns_remainder"
COLUMNS_PROPERTY = "iox.columns"
# What the table property holds: each column but time, and its kind.
ColumnKinds = dict[str, ColumnKind]


def column_kinds(model_schema: pa.Schema) -> ColumnKinds:
    """``{column: ColumnRole.TAG | its FieldType}`` for every column but time."""
    kinds: ColumnKinds = {}
    for field in model_schema:
        role = role_of(field)
        if role is ColumnRole.TAG:
            kinds[field.name] = ColumnRole.TAG
        elif role is ColumnRole.FIELD:
            kind = FieldType.of_arrow(field.type)
            if kind is None:
                raise ValueError(f"field {field.name!r} has type {field.type}, not a field type")
            kinds[field.name] = kind
    return kinds


def decode_kinds(text: str) -> ColumnKinds:
    """The kinds stored in an ``iox.columns`` property value."""
    return {name: column_kind(kind) for name, kind in json.loads(text).items()}


def encode_kinds(kinds: ColumnKinds) -> str:
    """The ``iox.columns`` property value."""
    return json.dumps(kinds, sort_keys=True, separators=(",", ":"))


def model_schema_from_kinds(kinds: ColumnKinds) -> pa.Schema:
    """The data-model Arrow schema (sorted by name, roles in metadata) for ``iox.columns``."""
    fields = [
        role_field(name, TAG_TYPE, ColumnRole.TAG)
        if isinstance(kind, ColumnRole)
        else role_field(name, kind.arrow_type, ColumnRole.FIELD)
        for name, kind in kinds.items()
    ]
    fields.append(role_field(TIME_COLUMN, TIME_TYPE, ColumnRole.TIME))
    return pa.schema(sorted(fields, key=lambda f: f.name))


def file_schema(kinds: ColumnKinds) -> pa.Schema:
    """The Arrow schema of the Parquet files (and so of the Iceberg table); tags are strings."""
    fields = [
        pa.field(name, pa.string() if isinstance(kind, ColumnRole) else kind.file_type)
        for name, kind in sorted(kinds.items())
    ]
    fields.append(pa.field(TIME_COLUMN, pa.timestamp("us"), nullable=False))
    fields.append(pa.field(REMAINDER_COLUMN, pa.int32()))
    return pa.schema(fields)
