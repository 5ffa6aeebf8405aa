"""Deduplicate rows on the primary key (tags, time), last write wins, field by field.

A later write that omits a field (null) keeps the earlier value of that field,
as InfluxDB does. Rows must be in write order: pyarrow's ordered ``last``
aggregation (``use_threads=False``) skips nulls, which is exactly this rule.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from flight_iox.columns import TIME_COLUMN, ColumnRole, role_of


def primary_key(schema: pa.Schema) -> list[str]:
    """The tag columns (sorted) followed by ``time``."""
    tags = sorted(f.name for f in schema if role_of(f) is ColumnRole.TAG)
    return [*tags, TIME_COLUMN]


def has_duplicate_keys(table: pa.Table) -> bool:
    """Whether two rows of ``table`` share a primary key."""
    if table.num_rows < 2:
        return False
    keys = primary_key(table.schema)
    selected = _positional(table.select(keys))
    return (
        selected.unify_dictionaries().group_by(selected.column_names).aggregate([]).num_rows
        != table.num_rows
    )


def _positional(table: pa.Table) -> pa.Table:
    """``table`` with columns named ``c0, c1, ...``.

    pyarrow's group_by reads a name like ``..`` or ``a.b`` as a path into nested
    fields, so a tag named ``..`` (found by fuzzing) failed every refresh of the buffer.
    """
    return table.rename_columns([f"c{i}" for i in range(table.num_columns)])


def deduplicate(table: pa.Table) -> pa.Table:
    """Collapse rows that share a primary key, later non-null values winning per field."""
    keys = primary_key(table.schema)
    values = [f.name for f in table.schema if f.name not in keys]
    safe = _positional(table.select([*keys, *values]))
    safe_keys, safe_values = safe.column_names[: len(keys)], safe.column_names[len(keys) :]
    grouped = (
        safe.unify_dictionaries()
        .group_by(safe_keys, use_threads=False)
        .aggregate([(v, "last") for v in safe_values])
    )
    renamed = grouped.rename_columns([*keys, *values])
    # group_by returns dictionary keys unified; restore the input's field order and metadata.
    columns = [renamed.column(f.name).cast(f.type) for f in table.schema]
    return pa.Table.from_arrays(columns, schema=table.schema)


def time_range(table: pa.Table) -> tuple[int, int] | None:
    """(min, max) of ``time`` in nanoseconds, or None for an empty table."""
    if table.num_rows == 0:
        return None
    bounds = pc.min_max(table.column(TIME_COLUMN).cast(pa.int64()))
    return bounds["min"].as_py(), bounds["max"].as_py()
