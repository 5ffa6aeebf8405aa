"""Gap filling for ``GROUP BY time(...)`` in Arrow and numpy, never row by row.

The aggregated rows come sorted by series then bucket. Each series is laid out
on the full grid of buckets between the query's bounds; buckets without rows
are then filled as ``fill(...)`` says.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from flight_iox.influxql import ast
from flight_iox.influxql.series import group_ids, starts_of

TIME_KEY = "__time"


@dataclass(frozen=True)
class Grid:
    """The buckets of ``GROUP BY time(interval, offset)`` between two bucket starts."""

    interval: int
    offset: int
    first: int | None
    last: int | None

    def floor(self, nanos: int) -> int:
        """The start of the bucket holding ``nanos``."""
        return (nanos - self.offset) // self.interval * self.interval + self.offset


def _previous_valid(valid: np.ndarray, ids: np.ndarray) -> np.ndarray:
    index = np.where(valid, np.arange(valid.size), -1)
    index = np.maximum.accumulate(index) if index.size else index
    ok = index >= 0
    ok[ok] = ids[index[ok]] == ids[ok]
    return np.where(ok, index, -1)


def _next_valid(valid: np.ndarray, ids: np.ndarray) -> np.ndarray:
    rev = _previous_valid(valid[::-1], ids[::-1])[::-1]
    return np.where(rev >= 0, valid.size - 1 - rev, -1)


def fill_column(
    column: pa.Array, gap: np.ndarray, ids: np.ndarray, times: np.ndarray, fill: ast.Fill
) -> pa.Array:
    """Fill the gap rows of one column (``gap`` marks buckets that had no rows)."""
    if fill.kind == "value" and fill.value is not None:
        value = fill.value
        if pa.types.is_integer(column.type):
            value = int(value)  # InfluxDB truncates: count with fill(3.14) shows 3
        if pa.types.is_integer(column.type) or pa.types.is_floating(column.type):
            scalar = pa.scalar(value, type=column.type)
            return pc.if_else(pa.array(gap), scalar, column)
        return column
    if fill.kind not in ("previous", "linear"):
        return column
    valid = ~gap & column.is_valid().to_numpy(zero_copy_only=False)
    prev = _previous_valid(valid, ids)
    if fill.kind == "previous":
        source = np.where(gap & (prev >= 0), prev, np.arange(gap.size))
        taken = column.take(pa.array(source))
        return pc.if_else(pa.array(gap & (prev < 0)), pa.scalar(None, column.type), taken)
    if not (pa.types.is_integer(column.type) or pa.types.is_floating(column.type)):
        return column
    nxt = _next_valid(valid, ids)
    inner = gap & (prev >= 0) & (nxt >= 0)
    values = column.cast(pa.float64()).fill_null(0.0).to_numpy(zero_copy_only=False)
    p, n = np.where(inner, prev, 0), np.where(inner, nxt, 0)
    span = np.where(inner, times[n] - times[p], 1)
    result = values[p] + (values[n] - values[p]) * (times - times[p]) / span
    if pa.types.is_integer(column.type):
        filled = pa.array(np.trunc(result).astype(np.int64)).cast(column.type)
    else:
        filled = pa.array(result, pa.float64())
    return pc.if_else(pa.array(inner), filled, column)


def gap_fill(
    table: pa.Table,
    keys: list[str],
    values: list[str],
    grid: Grid,
    fill: ast.Fill,
    empty: dict[str, int],
) -> pa.Table:
    """Lay each series of ``table`` on ``grid`` and fill the empty buckets.

    One ``take`` lays every column out, with nulls in the empty buckets; then the series
    keys and times of those buckets are set, and each value column is filled.
    """
    if fill.kind == "none" or table.num_rows == 0:
        return table
    ids = group_ids(table, keys)
    times = table.column(TIME_KEY).cast(pa.int64()).to_numpy()
    first = grid.first if grid.first is not None else int(times.min())
    last = grid.last if grid.last is not None else int(times.max())
    inside = (times >= first) & (times <= last)
    if not inside.all():
        table, ids, times = table.filter(pa.array(inside)), ids[inside], times[inside]
        if table.num_rows == 0:
            return table
        ids = np.unique(ids, return_inverse=True)[1]
    buckets = (last - first) // grid.interval + 1
    groups = int(ids[-1]) + 1
    where = np.full(groups * buckets, -1, dtype=np.int64)
    where[ids * buckets + (times - first) // grid.interval] = np.arange(table.num_rows)
    gap = where < 0
    full_ids = np.repeat(np.arange(groups), buckets)
    full_times = np.tile(first + np.arange(buckets, dtype=np.int64) * grid.interval, groups)
    if not gap.any():
        return table
    out = table.take(pa.array(where, mask=gap))
    first_row = starts_of(ids)[full_ids]  # each bucket's series' first row
    gaps = pa.array(gap)
    columns = {}
    for name in out.column_names:
        if name == TIME_KEY:
            column = pa.array(full_times).cast(pa.timestamp("ns"))
        elif name in keys:
            column = table.column(name).take(pa.array(first_row))
        elif name in values:
            column = out.column(name)
            if fill.kind == "null" and name in empty:
                column = pc.if_else(gaps, pa.scalar(empty[name], column.type), column)
            elif fill.kind != "null":
                column = fill_column(column.combine_chunks(), gap, full_ids, full_times, fill)
        else:
            column = table.column(name).take(pa.array(np.where(gap, first_row, where)))
        columns[name] = column
    return pa.table(columns)
