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
    # Rows whose times all differ share no key: a count of distinct integers is a third of
    # grouping by every key (16,000 rows: 0.33 against 0.88 ms, run at every refresh of a
    # buffer written to; issue 20's soak spent a tenth of its Flight handlers' time here).
    # Where series share timestamps (200 per time) the count costs 0.06 ms on those rows,
    # before the grouping.
    times = table.column(TIME_COLUMN).cast(pa.int64())
    if pc.count_distinct(times).as_py() == table.num_rows:
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


def append_deduplicated(older: pa.Table, newer: pa.Table) -> pa.Table:
    """``older`` then ``newer`` (each without duplicate keys), duplicates collapsed."""
    return appended(older, newer)[0]


def appended(older: pa.Table, newer: pa.Table) -> tuple[pa.Table, int]:
    """``append_deduplicated``, and how many of ``older``'s first rows it kept as they
    were, in place: partial aggregates kept for them stay right (``buffer_partials.py``).

    Rows can only share a key across the two inside the times both hold: ``older``'s rows
    from ``newer``'s first time on, and ``newer``'s rows up to ``older``'s last. Only those
    are deduplicated; the rest are appended as they are. Two writers whose batches
    interleave in time by a few milliseconds then cost a filter of the buffer, not a hash
    of every buffered row at each snapshot.
    """
    older_range, newer_range = time_range(older), time_range(newer)
    if older_range is None:
        return newer, 0
    if newer_range is None:
        return older, older.num_rows
    if newer_range[0] > older_range[1]:
        return pa.concat_tables([older, newer]), older.num_rows
    older_time = older.column(TIME_COLUMN).cast(pa.int64())
    older_late = pc.greater_equal(older_time, newer_range[0])
    # Rows before the first late one are kept as a zero-copy slice: buffered rows arrive
    # nearly in time order, so filtering all of ``older`` would copy the whole buffer at
    # every snapshot (a query's refresh) to move a few late rows.
    first_late = pc.index(older_late, True).as_py()
    head, older = older.slice(0, first_late), older.slice(first_late)
    older_late = older_late.slice(first_late)
    newer_time = newer.column(TIME_COLUMN).cast(pa.int64())
    newer_early = pc.less_equal(newer_time, older_range[1])
    parts = [
        head,
        older.filter(pc.invert(older_late)),
        deduplicate(pa.concat_tables([older.filter(older_late), newer.filter(newer_early)])),
        newer.filter(pc.invert(newer_early)),
    ]
    return pa.concat_tables([p for p in parts if p.num_rows] or [head.slice(0, 0)]), first_late
