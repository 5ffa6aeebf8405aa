"""What compaction rewrites: overlapping files into non-overlapping ones, small files into fewer.

As IOx's compactor turns level-0 files into non-overlapping level-1 files, a pass here
looks at each partition's files (``DataFile.partition``) and:

- merges each *overlap group* (files that may share row keys, decided by time and tag
  bounds as queries decide it: ``query/overlap.py``), deduplicating only the rows in the
  windows where members meet;
- packs neighbouring units (a group, or a file no other file overlaps) whose rows sum to
  at most ``target_rows`` into one job, when the partition has ``min_files`` files or more
  (small files are merged) or the job holds a group;
- writes each job's rows as files of at most ``target_rows`` rows, cut at time boundaries,
  so the files written never overlap each other.

So no pass reads more than about ``target_rows`` rows plus one overlap group: compaction's
memory does not grow with a partition's size, as merging whole partitions did (a day of a
soak test was read into memory at each pass). A persist whose file overlaps the newest
compacted file (late rows of the seconds before it) joins a group with that file alone.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from flight_iox.columns import TIME_COLUMN
from flight_iox.engine.dedupe import deduplicate
from flight_iox.query.overlap import SharesSeries, Window, file_sources, overlap_groups
from iox_catalog.files import DataFile
from iox_catalog.partitioning import PartitionKey

# Rows per compacted file, and most rows read by one job outside an overlap group: the
# default ``--persist-max-rows``, so a persisted file is about one compacted file.
TARGET_ROWS = 1_000_000


@dataclass(frozen=True)
class CompactionJob:
    """Files of one partition rewritten together (commit order), and where they overlap.

    ``windows[path]``: the time windows where that file may share keys with another file
    of the job; rows outside them are unique and are not deduplicated.
    """

    files: tuple[DataFile, ...]
    windows: dict[str, tuple[Window, ...]]

    @property
    def overlapping(self) -> bool:
        """Whether some rows of the job must be deduplicated."""
        return bool(self.windows)


@dataclass
class _Unit:
    files: list[DataFile]
    windows: dict[str, tuple[Window, ...]]

    @property
    def rows(self) -> int:
        return sum(f.record_count for f in self.files)

    @property
    def first(self) -> int:
        return min(f.min_time_us for f in self.files)


def plan_compaction(
    files: Sequence[DataFile],
    min_files: int,
    target_rows: int = TARGET_ROWS,
    shares: SharesSeries | None = None,
) -> list[CompactionJob]:
    """The jobs one pass runs over a table's ``files``, oldest data first (``shares``: the
    series check that overlap groups are decided with, as queries decide them)."""
    by_partition: dict[PartitionKey | None, list[DataFile]] = defaultdict(list)
    for file in files:
        by_partition[file.partition].append(file)
    jobs = []
    for members in by_partition.values():
        jobs.extend(_partition_jobs(members, min_files, target_rows, shares))
    return sorted(jobs, key=lambda job: min(f.min_time_us for f in job.files))


def _partition_jobs(
    files: list[DataFile], min_files: int, target_rows: int, shares: SharesSeries | None
) -> list[CompactionJob]:
    if len(files) < 2:
        return []
    groups = overlap_groups(file_sources(files), shares)
    grouped = {i for group in groups for i in group.members}
    units = [
        _Unit(
            [files[i] for i in group.members],
            {files[i].path: group.windows[i] for i in group.members},
        )
        for group in groups
    ]
    units += [_Unit([f], {}) for i, f in enumerate(files) if i not in grouped]
    units.sort(key=lambda unit: unit.first)
    merge_small = len(files) >= min_files
    jobs, current = [], _Unit([], {})
    for unit in units:
        if current.files and current.rows + unit.rows > target_rows:
            jobs.append(current)
            current = _Unit([], {})
        if unit.rows >= target_rows and not unit.windows:
            jobs.append(current)  # a full-sized file stays as it is
            current = _Unit([], {})
            continue
        current.files += unit.files
        current.windows.update(unit.windows)
    jobs.append(current)
    return [
        CompactionJob(tuple(sorted(job.files, key=lambda f: f.sequence_number)), job.windows)
        for job in jobs
        if job.windows or (merge_small and len(job.files) > 1)
    ]


def in_windows(rows: pa.Table, windows: Sequence[Window]) -> pa.ChunkedArray:
    """A mask of the rows whose time lies in one of ``windows``."""
    time = rows.column(TIME_COLUMN).cast(pa.int64())
    mask = None
    for first, last in windows:
        inside = pc.and_(pc.greater_equal(time, first), pc.less_equal(time, last))
        mask = inside if mask is None else pc.or_(mask, inside)
    return mask if mask is not None else pa.chunked_array([np.zeros(len(rows), dtype=bool)])


def merged_rows(job: CompactionJob, parts: Sequence[pa.Table]) -> pa.Table:
    """The job's files' rows (``parts``, in the job's order) with duplicates collapsed.

    Only rows in their file's windows can share a key with another file's row, so only
    those are deduplicated (last write wins, field by field, in commit order).
    """
    unique, colliding = [], []
    for file, part in zip(job.files, parts, strict=True):
        windows = job.windows.get(file.path)
        if not windows:
            unique.append(part)
            continue
        mask = in_windows(part, windows)
        unique.append(part.filter(pc.invert(mask)))
        colliding.append(part.filter(mask))
    if colliding:
        unique.append(deduplicate(pa.concat_tables(colliding)))
    return pa.concat_tables(unique)


def time_slices(rows: pa.Table, target_rows: int = TARGET_ROWS) -> list[pa.Table]:
    """``rows`` cut at time boundaries into tables of at most ``target_rows`` rows.

    Cuts fall between distinct times, so the slices' time ranges are disjoint and the files
    written from them never overlap; a slice passes the target only where more rows than
    that share one time.
    """
    if rows.num_rows <= target_rows:
        return [rows]
    times = rows.column(TIME_COLUMN).cast(pa.int64()).to_numpy()
    order = np.argsort(times, kind="stable")
    ordered = times[order]
    bounds, position = [0], target_rows
    while position < len(ordered):
        cut = int(np.searchsorted(ordered, ordered[position], side="left"))
        if cut <= bounds[-1]:  # one time holds more than the target: keep it whole
            cut = int(np.searchsorted(ordered, ordered[position], side="right"))
        if cut >= len(ordered):
            break
        bounds.append(cut)
        position = cut + target_rows
    bounds.append(len(ordered))
    taken = rows.take(pa.array(order))
    return [taken.slice(start, end - start) for start, end in itertools.pairwise(bounds)]
