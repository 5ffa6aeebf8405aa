"""The gap-filling step of IOx's ``date_bin_gapfill``: missing buckets, ``locf``, ``interpolate``.

``iox_sql`` rewrites the SQL to DataFusion's ``date_bin``; this runs over the Arrow result,
with array operations only (no per-row Python), as IOx's GapFill operator does.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from flight_iox.query.dictionaries import decoded


def fill_buckets(
    table: pa.Table,
    first: int,
    last: int,
    stride: int,
    time_index: int,
    keys: list[int],
    fills: dict[int, str],
) -> pa.Table:
    """Add the missing buckets of every group, then fill ``locf``/``interpolate`` columns.

    ``table`` holds one row per (group ``keys``, time bucket) that had data; the result has one
    row per group and bucket from ``first`` to ``last`` (every ``stride``), with ``fills``
    naming the columns filled from their neighbours (column index -> ``locf`` | ``interpolate``).
    """
    grid = np.arange(first, last + 1, stride, dtype=np.int64)
    n = len(grid)
    names = [f"c{i}" for i in range(table.num_columns)]
    data = table.rename_columns(names)
    for i in keys:  # group and join on plain values, not dictionaries
        if pa.types.is_dictionary(table.schema.field(i).type):
            data = data.set_column(i, names[i], decoded(data[names[i]]))
    key_names = [names[i] for i in keys]
    rows = np.arange(data.num_rows, dtype=np.int64)
    if key_names:
        distinct = data.select(key_names).group_by(key_names).aggregate([])
        distinct = distinct.sort_by([(k, "ascending") for k in key_names])
        distinct = distinct.append_column("__g", pa.array(np.arange(distinct.num_rows)))
        pairs = data.select(key_names).append_column("__row", pa.array(rows))
        joined = pairs.join(distinct, key_names, join_type="inner", use_threads=False)
        row_of = joined["__row"].to_numpy()
        group_of = joined["__g"].to_numpy()
        groups = distinct.num_rows
    else:
        row_of, group_of, groups = rows, np.zeros(len(rows), dtype=np.int64), 1
    times = data.column(time_index).cast(pa.int64()).to_numpy(zero_copy_only=False)[row_of]
    bucket = (times - first) // stride
    inside = (bucket >= 0) & (bucket < n) & (times == first + bucket * stride)
    slot = np.full(groups * n, -1, dtype=np.int64)
    slot[group_of[inside] * n + bucket[inside]] = row_of[inside]
    missing = slot < 0
    take = pa.array(slot, mask=missing)
    group_start = np.repeat(np.arange(groups, dtype=np.int64) * n, n)
    columns = []
    for i, name in enumerate(names):
        if i == time_index:
            columns.append(pa.array(np.tile(grid, groups)).cast(table.schema.field(i).type))
        elif i in keys:
            values = distinct[name].combine_chunks()
            values = values.take(pa.array(np.repeat(np.arange(groups), n)))
            columns.append(values.cast(table.schema.field(i).type))
        else:
            column = data[name].combine_chunks().take(take)
            kind = fills.get(i)
            if kind == "locf":
                column = _locf(column, group_start)
            elif kind == "interpolate":
                column = _interpolate(column, group_start, n, np.tile(grid, groups))
            columns.append(column)
    return pa.Table.from_arrays(columns, schema=table.schema)


def _previous_valid(valid: np.ndarray, group_start: np.ndarray) -> np.ndarray:
    index = np.where(valid, np.arange(len(valid)), -1)
    previous = np.maximum.accumulate(index) if len(index) else index
    previous[previous < group_start] = -1
    return previous


def _locf(column: pa.Array, group_start: np.ndarray) -> pa.Array:
    previous = _previous_valid(column.is_valid().to_numpy(zero_copy_only=False), group_start)
    return column.take(pa.array(previous, mask=previous < 0))


def _interpolate(column: pa.Array, group_start: np.ndarray, n: int, times: np.ndarray) -> pa.Array:
    if not (pa.types.is_floating(column.type) or pa.types.is_integer(column.type)):
        return column
    valid = column.is_valid().to_numpy(zero_copy_only=False)
    size = len(valid)
    previous = _previous_valid(valid, group_start)
    index = np.where(valid, np.arange(size), size)
    following = np.minimum.accumulate(index[::-1])[::-1] if size else index
    following[following >= group_start + n] = size
    values = pc.cast(column, pa.float64()).fill_null(np.nan).to_numpy(zero_copy_only=False)
    gap = ~valid & (previous >= 0) & (following < size)
    p, f = previous[gap], following[gap]
    out = values.copy()
    slope = (values[f] - values[p]) / (times[f] - times[p])  # as IOx: y0 + slope * (x - x0)
    out[gap] = values[p] + slope * (times[gap] - times[p])
    filled = pa.array(out, mask=~(valid | gap))
    if pa.types.is_integer(column.type):
        filled = pc.cast(pc.trunc(filled), column.type)
    return filled
