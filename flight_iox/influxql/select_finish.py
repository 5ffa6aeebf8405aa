"""Finishers for aggregates that DataFusion gathers as ordered lists (percentile, mode).

Both work on whole list columns at once: offsets and numpy index arithmetic
for ``percentile``, a grouped count over the flattened values for ``mode``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def percentile_index(lists: pa.Array, percent: float) -> np.ndarray:
    """InfluxDB's nearest-rank index into each sorted list (-1 when there is none)."""
    lengths = pc.fill_null(pc.list_value_length(lists), 0).to_numpy(zero_copy_only=False)
    index = np.floor(lengths * percent / 100.0 + 0.5).astype(np.int64) - 1
    return np.where((index >= 0) & (index < lengths), index, -1)


def take_at(lists: pa.Array, index: np.ndarray) -> pa.Array:
    """Element ``index[i]`` of list ``i`` (null where the index is -1)."""
    lists = lists.combine_chunks() if isinstance(lists, pa.ChunkedArray) else lists
    starts = lists.offsets.to_numpy()[:-1] if len(lists) else np.zeros(0, dtype=np.int64)
    positions = np.where(index >= 0, starts + index, 0)
    flat = lists.values
    if len(flat) == 0:
        return pa.nulls(len(lists), flat.type)
    return flat.take(pa.array(positions, mask=index < 0))


def _percentile(lists: pa.Array, literals: list[float]) -> pa.Array:
    return take_at(lists, percentile_index(lists, literals[0] if literals else 50.0))


def _mode(lists: pa.Array, _: list[float]) -> pa.Array:
    """The most frequent value; ties go to the value seen first in time."""
    lists = lists.combine_chunks() if isinstance(lists, pa.ChunkedArray) else lists
    flat = pc.list_flatten(lists)
    if len(flat) == 0:
        return pa.nulls(len(lists), lists.type.value_type)
    parents = pc.list_parent_indices(lists)
    table = pa.table({"p": parents, "v": flat, "i": pa.array(np.arange(len(flat)))})
    counted = table.group_by(["p", "v"], use_threads=False).aggregate(
        [("i", "count"), ("i", "min")]
    )
    order = pc.sort_indices(
        counted, [("p", "ascending"), ("i_count", "descending"), ("i_min", "ascending")]
    )
    counted = counted.take(order)
    p = counted.column("p").to_numpy()
    first = np.r_[True, p[1:] != p[:-1]] if p.size else np.zeros(0, dtype=bool)
    best = counted.filter(pa.array(first))
    index = np.full(len(lists), -1, dtype=np.int64)
    index[best.column("p").to_numpy()] = np.arange(best.num_rows)
    return best.column("v").combine_chunks().take(pa.array(np.maximum(index, 0), mask=index < 0))


FINISHERS: dict[str, Callable[[pa.Array, list[float]], pa.Array]] = {
    "percentile": _percentile,
    "mode": _mode,
}
