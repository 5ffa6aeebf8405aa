"""Which sources of a table may hold the same row key, and where in time they may.

A table is read as its files (commit order) and its buffered rows. Each source is
deduplicated within itself (the persister and the compactor write deduplicated files, the
buffer snapshot is deduplicated), so rows can only collide *across* sources, and only
if both sources may hold the key: their time ranges intersect, their partitions (of one
keyed spec) are the same, and for every tag the values they hold may meet (IOx compares
chunks' primary-key ranges the same way). Tag bounds come from the manifests' column
statistics for files (``iox_catalog.files.TagBounds``) and from the Arrow columns for the
buffer.

Deciding on time alone made every query of a table written by two writers deduplicate
every row (issue 20): their sources always overlap in time. Here sources that cannot
collide are grouped apart (``overlap_groups``), and within a group each source also
says the time *windows* where it meets another member: a row outside every window of its
source meets no other source, so only rows inside windows are deduplicated. Everything
here only narrows what must be deduplicated by what cannot share a key: the answer stays
exact.

Bounds per source still pair the files of several writers (each writer's series span the
same tags, and the writers' clocks differ at a persist's edge), so a pair the bounds keep
is then asked a ``SharesSeries`` check when the caller has one (``series_index.py``):
whether some series is in both sources at intersecting times.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from flight_iox.columns import ColumnRole, role_of
from flight_iox.engine.dedupe import time_range
from iox_catalog.files import UNKNOWN_TAG, DataFile, TagBounds
from iox_catalog.partitioning import PartitionKey

# A group's source keeps at most this many windows; more are merged across the smallest
# gaps (a wider window only deduplicates more rows, so the answer stays exact).
MAX_WINDOWS = 8
Window = tuple[int, int]  # first and last nanosecond, inclusive


@dataclass(frozen=True)
class SourceRange:
    """What one source may hold: its time range, its partition and its tags' bounds."""

    index: int  # position in the table's union: files in commit order, the buffer last
    first: int
    last: int
    partition: PartitionKey | None = None
    tags: Mapping[str, TagBounds] | None = None  # None: nothing known of any tag
    path: str | None = None  # a data file's path (None: the buffer)

    def tag(self, name: str) -> TagBounds:
        """The bounds of tag ``name`` (unknown when not recorded)."""
        return UNKNOWN_TAG if self.tags is None else self.tags.get(name, UNKNOWN_TAG)


def file_range(index: int, file: DataFile) -> SourceRange:
    """A data file as a source (its µs bounds widened to whole nanoseconds)."""
    tags = None if file.tags is None else dict(file.tags)
    first, last = file.min_time_us * 1000, file.max_time_us * 1000 + 999
    return SourceRange(index, first, last, file.partition, tags, file.path)


def buffer_range(index: int, rows: pa.Table) -> SourceRange | None:
    """The buffered rows as a source, or None when there are none."""
    bounds = time_range(rows)
    if bounds is None:
        return None
    tags = {f.name: column_bounds(rows.column(f.name)) for f in rows.schema if _is_tag(f)}
    return SourceRange(index, bounds[0], bounds[1], None, tags)


def _is_tag(field: pa.Field) -> bool:
    return role_of(field) is ColumnRole.TAG


def column_bounds(column: pa.ChunkedArray) -> TagBounds:
    """Bounds of a tag column's values, read from each chunk's dictionary when it has one.

    A dictionary may hold values no row uses, which only widens the bounds; reading it
    costs the dictionary's size, not the rows'. All chunks' values are read in one call:
    one call per chunk cost a soak query about 1.5 ms over a buffer of some 30 chunks.
    """
    values: list[pa.Array] = []
    nulls = False
    for chunk in column.chunks:
        if isinstance(chunk, pa.DictionaryArray):
            nulls = nulls or chunk.null_count > 0
            chunk = chunk.dictionary
        nulls = nulls or chunk.null_count > 0
        values.append(chunk)
    if not values:
        return TagBounds(None, None, values=False, nulls=nulls)
    bounds = pc.min_max(pa.chunked_array(values, values[0].type))
    lower, upper = bounds["min"].as_py(), bounds["max"].as_py()
    if lower is None:  # every value null
        return TagBounds(None, None, values=False, nulls=nulls)
    return TagBounds(lower, upper, values=True, nulls=nulls)


def tags_may_meet(a: TagBounds, b: TagBounds) -> bool:
    """Whether two sources may hold a row with the same value (or both no value) of a tag."""
    if a.nulls and b.nulls:
        return True
    if not (a.values and b.values):
        return False
    if a.lower is not None and b.upper is not None and a.lower > b.upper:
        return False
    return not (b.lower is not None and a.upper is not None and b.lower > a.upper)


def keys_may_meet(a: SourceRange, b: SourceRange) -> bool:
    """Whether two sources may share a row key, apart from time."""
    pa_, pb = a.partition, b.partition
    if (
        pa_ is not None
        and pb is not None
        and pa_.spec_id == pb.spec_id
        and pa_.keyed
        and pa_.values != pb.values
    ):
        return False  # partition fields derive from the key: different values, different keys
    names = set(a.tags or ()) | set(b.tags or ())
    return all(tags_may_meet(a.tag(name), b.tag(name)) for name in names)


@dataclass(frozen=True)
class OverlapGroup:
    """Sources that must be deduplicated together, each with the windows where it may
    meet another member (rows of a member outside its windows meet no other source)."""

    members: tuple[int, ...]
    windows: Mapping[int, tuple[Window, ...]] = field(default_factory=dict)


# (a, b, the window they share) -> whether some series is in both at intersecting times
SharesSeries = Callable[[SourceRange, SourceRange, Window], bool]


def overlapping_pairs(
    sources: Sequence[SourceRange], shares: SharesSeries | None = None
) -> list[tuple[int, int, Window]]:
    """Each pair of sources that may share a key, with the time window they share
    (``shares``, when given, asked of each pair the bounds keep).

    A sweep in time order compares a source only with those still open at its start, so
    a table whose files follow each other in time costs O(n log n), not O(n²).
    """
    pairs = []
    ordered = sorted(sources, key=lambda s: (s.first, s.last))
    open_: list[SourceRange] = []
    for source in ordered:
        open_ = [s for s in open_ if s.last >= source.first]
        for other in open_:
            if keys_may_meet(other, source):
                window = (source.first, min(source.last, other.last))
                if shares is None or shares(other, source, window):
                    pairs.append((other.index, source.index, window))
        open_.append(source)
    return pairs


def overlap_groups(
    sources: Sequence[SourceRange], shares: SharesSeries | None = None
) -> list[OverlapGroup]:
    """The groups of two or more sources that may share keys (connected through pairs)."""
    parent = {s.index: s.index for s in sources}

    def root(index: int) -> int:
        while parent[index] != index:
            parent[index] = parent[parent[index]]
            index = parent[index]
        return index

    windows: dict[int, list[Window]] = {}
    for a, b, window in overlapping_pairs(sources, shares):
        parent[root(a)] = root(b)
        windows.setdefault(a, []).append(window)
        windows.setdefault(b, []).append(window)
    members: dict[int, list[int]] = {}
    for index in windows:
        members.setdefault(root(index), []).append(index)
    return [
        OverlapGroup(tuple(sorted(group)), {i: merged_windows(windows[i]) for i in group})
        for group in sorted(members.values(), key=min)
    ]


def merged_windows(windows: list[Window], limit: int = MAX_WINDOWS) -> tuple[Window, ...]:
    """``windows`` as disjoint sorted windows, at most ``limit`` (closest ones joined)."""
    merged: list[Window] = []
    for first, last in sorted(windows):
        if merged and first <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], last))
        else:
            merged.append((first, last))
    while len(merged) > limit:
        gaps = [later[0] - earlier[1] for earlier, later in itertools.pairwise(merged)]
        at = gaps.index(min(gaps))
        merged[at : at + 2] = [(merged[at][0], merged[at + 1][1])]
    return tuple(merged)


def table_sources(files: Sequence[DataFile], buffered: pa.Table) -> list[SourceRange]:
    """A table's sources: its files in commit order, then its buffered rows (if any)."""
    sources = file_sources(files)
    buffered_range = buffer_range(len(files), buffered)
    if buffered_range is not None:
        sources.append(buffered_range)
    return sources


def file_sources(files: Sequence[DataFile]) -> list[SourceRange]:
    """``files`` as sources, in their order."""
    return [file_range(i, f) for i, f in enumerate(files)]


def overlapping_file_indices(
    files: Sequence[DataFile], shares: SharesSeries | None = None
) -> set[int]:
    """The positions of ``files`` that may share a key with another file (``system.tables``)."""
    groups = overlap_groups(file_sources(files), shares)
    return {i for group in groups for i in group.members}
