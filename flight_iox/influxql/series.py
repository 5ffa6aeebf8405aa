"""Series bookkeeping in Arrow/numpy: group ids over sorted rows, per-series limits, slicing."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from flight_iox.query.dictionaries import decoded


def group_ids(table: pa.Table, keys: list[str]) -> np.ndarray:
    """A series number per row, for rows already sorted by ``keys`` (0 when there are none)."""
    rows = table.num_rows
    if not keys or rows == 0:
        return np.zeros(rows, dtype=np.int64)
    change = np.zeros(rows, dtype=bool)
    for key in keys:
        values = pc.fill_null(decoded(table.column(key)), "\x00")
        differs = pc.not_equal(values.slice(1), values.slice(0, rows - 1))
        change[1:] |= differs.to_numpy(zero_copy_only=False)
    return np.cumsum(change)


def order_ties(table: pa.Table, ids: np.ndarray, times: np.ndarray, keys: list[str]) -> pa.Table:
    """Rows at the same time in the same series put in order of ``keys`` (nulls first).

    ``table`` is sorted by series then time; only runs of tied rows move (a stable sort by
    run number, then the keys), and a table without ties comes back as it is.
    """
    if not keys or table.num_rows < 2:
        return table
    tied = (ids[1:] == ids[:-1]) & (times[1:] == times[:-1])
    if not tied.any():
        return table
    columns = {"__run": pa.array(np.cumsum(np.concatenate(([True], ~tied))))}
    for key in keys:
        columns[key] = decoded(table.column(key))
    order = pc.sort_indices(
        pa.table(columns), sort_keys=[(name, "ascending", "at_start") for name in columns]
    )
    return table.take(order)


def starts_of(ids: np.ndarray) -> np.ndarray:
    """The first row index of each series."""
    if ids.size == 0:
        return np.zeros(0, dtype=np.int64)
    return np.concatenate(([0], np.flatnonzero(ids[1:] != ids[:-1]) + 1))


def position_in_series(ids: np.ndarray) -> np.ndarray:
    """Each row's index within its own series."""
    starts = starts_of(ids)
    first = np.repeat(starts, np.diff(starts, append=ids.size))
    return np.arange(ids.size) - first


def limit_mask(ids: np.ndarray, limit: int, offset: int) -> np.ndarray | None:
    """Rows kept by LIMIT/OFFSET applied per series (None when nothing is cut)."""
    if not limit and not offset:
        return None
    pos = position_in_series(ids)
    keep = pos >= offset
    if limit:
        keep &= pos < offset + limit
    return keep


def slices(ids: np.ndarray) -> list[tuple[int, int]]:
    """``(start, length)`` of each series."""
    starts = starts_of(ids)
    return list(zip(starts.tolist(), np.diff(starts, append=ids.size).tolist(), strict=True))
