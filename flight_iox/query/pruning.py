"""Which data files a statement can need: its time range and tag values against the manifests.

What each table's scans need comes from DataFusion's optimized plan of the statement over
empty tables (``scan_plan.statement_needs``, which a query node also uses to ask ingest
nodes for their rows): a time range in exact nanoseconds and, per tag, the values it may
hold. Only predicates on the row key are in it, time and tags, so a file left out holds
no row the query could see, and no row that could replace one it sees (deduplication
merges rows of one key, and all of them satisfy the same key predicates).

Time literals arrive as exact nanoseconds: the empty tables' ``time`` is Timestamp(ns), so
DataFusion coerces the literal to nanoseconds itself, and no cast of the column is
unwrapped by truncating the literal (DataFusion 55 does that to ``CAST(µs AS ns)``; see
``tables._time_expression``). A file is kept when its whole-nanosecond range
``[min_µs·1000, max_µs·1000 + 999]`` meets the statement's, its tag bounds (manifest column
statistics) may hold one of the values of each restricted tag, and its partition values
(identity or ``bucket[N]`` of a tag) are those of one of the values.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import numpy as np
from pyiceberg.transforms import parse_transform
from pyiceberg.types import StringType

from flight_iox.query.scan_needs import ScanNeeds
from iox_catalog.files import DataFile


def kept_files(files: Sequence[DataFile], needs: ScanNeeds) -> list[DataFile]:
    """The files that may hold rows ``needs`` allows, in their order (commit order stays)."""
    if needs.first is None and needs.last is None and not needs.tags:
        return list(files)
    lows = np.fromiter((f.min_time_us for f in files), np.int64, len(files)) * 1000
    highs = np.fromiter((f.max_time_us for f in files), np.int64, len(files)) * 1000 + 999
    inside = (lows == 0) & (highs == 999)  # no time bounds recorded: keep
    meets = np.ones(len(files), dtype=bool)
    if needs.first is not None:
        meets &= highs >= needs.first
    if needs.last is not None:
        meets &= lows <= needs.last
    inside |= meets
    tags = dict(needs.tags)
    return [files[i] for i in np.flatnonzero(inside).tolist() if _may_hold(files[i], tags)]


def _may_hold(file: DataFile, tags: dict[str, frozenset[str]]) -> bool:
    """Whether the file's tag bounds and partition values allow one of each tag's values."""
    partition = dict(zip(file.partition_fields, file.partition.values, strict=False)) if (
        file.partition is not None
    ) else {}  # fmt: skip
    for tag, values in tags.items():
        if not values:
            return False
        bounds = file.tag_bounds(tag)
        if not bounds.values:
            return False  # the tag is null in every row
        candidates = [
            v
            for v in values
            if (bounds.lower is None or v >= bounds.lower)
            and (bounds.upper is None or v <= bounds.upper)
        ]
        for (column, transform), value in partition.items():
            if column == tag and (check := _partition_check(transform)) is not None:
                candidates = [v for v in candidates if check(v) == value]
        if not candidates:
            return False
    return True


@functools.lru_cache(maxsize=256)
def _partition_check(transform_text: str) -> Callable[[str], object] | None:
    """The per-value function of a tag's partition transform (None: not one we apply)."""
    transform = parse_transform(transform_text)
    if not transform.can_transform(StringType()):
        return None
    result: Callable[[str], object] = transform.transform(StringType())
    return result
