"""``integral(field[, unit])``: InfluxDB 1.x's trapezoidal area, in numpy over the raw points.

As 1.x's integral reducer: per series, points in time order (the later of two points at the
same time wins), the area of each trapezium between neighbours divided by ``unit`` (1s by
default). Under ``GROUP BY time`` a trapezium that crosses its bucket's end is cut there at
the linearly interpolated value: the part up to the end counts for the first point's bucket,
the rest for the second point's bucket (also across empty buckets). A bucket appears when a
point opens it; the last bucket of a series is left out when its only point lies on the
bucket's start (no area), as 1.x does.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from flight_iox.influxql.fill import TIME_KEY
from flight_iox.influxql.select_exec import Query, group_keys, group_select, zone_offsets
from flight_iox.influxql.series import group_ids, starts_of
from flight_iox.query.dictionaries import decoded
from flight_iox.sql_quote import quote_identifier

TIME = quote_identifier("time")


def integral_values(query: Query, table: pa.Table, value_sql: str, unit: int) -> pa.Array:
    """The integral of ``value_sql`` for each row (group, bucket) of the aggregated table."""
    keys = group_keys(query)
    sql = (
        f"SELECT {TIME} AS {quote_identifier(TIME_KEY)}, "
        + "".join(f"{c}, " for c in group_select(query))
        + f"CAST({value_sql} AS DOUBLE) AS __v FROM {query.source.ref} "
        f"WHERE ({query.where}) AND {value_sql} IS NOT NULL "
        f"ORDER BY {', '.join([*(quote_identifier(k) for k in keys), quote_identifier(TIME_KEY)])}"
    )
    points = query.source.run(sql)
    ids = group_ids(points, keys)
    t = points.column(TIME_KEY).cast(pa.int64()).to_numpy()
    v = points.column("__v").to_numpy(zero_copy_only=False).astype(np.float64)
    if t.size:
        last_of_time = np.r_[(ids[1:] != ids[:-1]) | (t[1:] != t[:-1]), True]
        points, ids, t, v = (
            points.filter(pa.array(last_of_time)),
            *(a[last_of_time] for a in (ids, t, v)),
        )
    same = ids[1:] == ids[:-1]
    t0, t1, v0, v1 = t[:-1], t[1:], v[:-1], v[1:]
    grouping = query.shape.time_group
    starts = starts_of(ids)
    if grouping is None:
        area = np.where(same, 0.5 * (v0 + v1) * (t1 - t0) / unit, 0.0)
        sums = np.bincount(ids[1:], weights=area, minlength=starts.size)[: starts.size]
        found = points.take(pa.array(starts)).select(keys)
        return _attach(table, keys, found, sums)
    steps = zone_offsets(query)
    local = steps.to_local(t) if steps is not None else t
    d = grouping.interval
    w = (local - grouping.offset) // d * d + grouping.offset
    l0, l1, w0, w1 = local[:-1], local[1:], w[:-1], w[1:]
    e0 = w0 + d
    cross = same & (l1 >= e0)
    within = same & ~cross
    span = np.where(l1 > l0, l1 - l0, 1)
    vm = v0 + (v1 - v0) * (e0 - l0) / span
    part_a = np.where(within, 0.5 * (v0 + v1) * (l1 - l0), 0.0)
    part_a = np.where(cross, 0.5 * (v0 + vm) * (e0 - l0), part_a) / unit
    part_b = np.where(cross, 0.5 * (vm + v1) * (l1 - e0), 0.0) / unit
    # Buckets opened: each series' first point's, and the second point's of each crossing.
    open_ids = np.r_[ids[starts], ids[1:][cross]]
    open_w = np.r_[w[starts], w1[cross]]
    ends = np.r_[starts[1:], ids.size] - 1 if ids.size else starts
    dropped = local[ends] == w[ends]  # the last bucket's only point is on its start
    all_ids = np.r_[open_ids, ids[:-1], ids[1:]]
    all_w = np.r_[open_w, w0, w1]
    all_area = np.r_[np.zeros(open_ids.size), part_a, part_b]
    order = np.lexsort((all_w, all_ids))
    all_ids, all_w, all_area = all_ids[order], all_w[order], all_area[order]
    first = np.r_[True, (all_ids[1:] != all_ids[:-1]) | (all_w[1:] != all_w[:-1])]
    slot = np.cumsum(first) - 1
    sums = np.bincount(slot, weights=all_area)
    u_ids, u_w = all_ids[first], all_w[first]
    opened = np.zeros(u_ids.size, dtype=bool)
    opened[_slots_of(u_ids, u_w, open_ids, open_w)] = True
    opened[_slots_of(u_ids, u_w, ids[ends][dropped], w[ends][dropped])] = False
    rows = starts[u_ids[opened]]
    found = points.take(pa.array(rows)).select(keys)
    found = found.append_column(TIME_KEY, pa.array(u_w[opened]))
    return _attach(table, [*keys, TIME_KEY], found, sums[opened])


def _slots_of(u_ids: np.ndarray, u_w: np.ndarray, ids: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Positions of the (id, bucket) pairs in the sorted unique pairs ``(u_ids, u_w)``."""
    buckets = np.unique(u_w)
    width = buckets.size + 1
    combined = u_ids * width + np.searchsorted(buckets, u_w)
    return np.searchsorted(combined, ids * width + np.searchsorted(buckets, w))


def _key(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    column = decoded(column)
    if pa.types.is_timestamp(column.type) or pa.types.is_integer(column.type):
        return column.cast(pa.int64())
    return pc.fill_null(column.cast(pa.string()), "\x00")


def _attach(table: pa.Table, keys: list[str], found: pa.Table, values: np.ndarray) -> pa.Array:
    rows = table.num_rows
    left = {k: _key(table.column(k)) for k in keys}
    right = {k: _key(found.column(k)) for k in keys}
    left["__k"] = pa.array(np.zeros(rows, dtype=np.int64))
    right["__k"] = pa.array(np.zeros(found.num_rows, dtype=np.int64))
    left["__row"] = pa.array(np.arange(rows, dtype=np.int64))
    right["__val"] = pa.array(values, pa.float64())
    joined = pa.table(left).join(pa.table(right), [*keys, "__k"], join_type="left outer")
    joined = joined.take(pc.sort_indices(joined.column("__row")))
    return joined.column("__val").combine_chunks()
