"""The SQL that unions a table's sources, deduplicating only rows that may collide.

``overlap.overlap_groups`` says which sources may share row keys and, for each, the time
windows where it meets another. A source in no group is unioned as it is (``UNION ALL``).
A source in a group is split: its rows outside its windows are unioned as they are, and
only its rows inside them go through the deduplicating aggregation, with the other
members' rows in their windows. Any two rows that share a key are both in windows of
their sources (the key's time lies in both sources' ranges, and the pair shares keys),
so the split loses no duplicate.

The aggregation keeps the last write field by field: ``last_value(f ORDER BY source)``
over non-null values, sources numbered in commit order with the buffer last. It is
DataFusion's hash aggregation under the context's memory pool, which spills to disk past
``--query-memory-limit`` (or fails clearly without a spill folder); what it hashes is the
rows in windows, normally the newest file's late edge and the buffer (the compactor
removes overlap between files: ``persist/compactor.py``). ``bench/dedupe_plan.py``
compares it with a sort-based plan.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa

from flight_iox.columns import TIME_COLUMN, ColumnRole, role_of
from flight_iox.query.overlap import OverlapGroup, Window
from flight_iox.sql_quote import quote_identifier as q

ORDER_COLUMN = "__iox_source_order"


def _nanos(value: int) -> str:
    return f"arrow_cast({int(value)}, 'Timestamp(Nanosecond, None)')"


def window_condition(windows: Sequence[Window]) -> str:
    """A predicate true for rows whose time lies in one of ``windows``."""
    time = q(TIME_COLUMN)
    return " OR ".join(
        f"({time} >= {_nanos(first)} AND {time} <= {_nanos(last)})" for first, last in windows
    )


def union_sql(
    schema: pa.Schema, selects: Sequence[str], indices: Sequence[int], groups: list[OverlapGroup]
) -> str:
    """One relation of every source, duplicates collapsed.

    ``selects[k]`` is the SQL of source ``indices[k]`` (its position in commit order, the
    buffer last), projecting exactly ``schema``'s columns.
    """
    windows = {i: w for group in groups for i, w in group.windows.items()}
    plain, colliding = [], []
    for index, select in zip(indices, selects, strict=True):
        own = windows.get(index)
        if not own:
            plain.append(select)
            continue
        condition = window_condition(own)
        plain.append(f"SELECT * FROM ({select}) AS source WHERE NOT ({condition})")
        colliding.append(
            f"SELECT *, {int(index)} AS {ORDER_COLUMN} FROM ({select}) AS source WHERE {condition}"
        )
    if colliding:
        plain.append(dedupe_sql(schema, " UNION ALL ".join(colliding)))
    return " UNION ALL ".join(plain)


def dedupe_sql(schema: pa.Schema, union: str) -> str:
    """Rows of ``union`` (with ``ORDER_COLUMN``) grouped by key, last write per field."""
    keys = [f.name for f in schema if role_of(f) is not ColumnRole.FIELD]
    parts = []
    for field in schema:
        name = q(field.name)
        if field.name in keys:
            parts.append(name)
        else:
            parts.append(
                f"last_value({name} ORDER BY {ORDER_COLUMN}) FILTER (WHERE {name} IS NOT NULL)"
                f" AS {name}"
            )
    group = ", ".join(q(k) for k in keys)
    return f"SELECT {', '.join(parts)} FROM ({union}) AS sources GROUP BY {group}"
