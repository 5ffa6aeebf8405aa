"""Compaction: merge a partition's small or overlapping files into sorted, deduplicated ones.

Each persist adds files, and a late write to an old day adds a file that
overlaps the day's others, which queries must then deduplicate. Compaction
reads such a partition's files in commit order, deduplicates (last write wins,
field by field), writes it back as sorted files and swaps the old files for the
new in one atomic Iceberg commit. Old snapshots are expired afterwards.

A partition is one value of one spec (``DataFile.partition``, read from the
table's manifests): files are never merged across partitions, nor across specs
after the table's partitioning changed. The merged files are written under the
table's current spec, as Iceberg's own rewrites do.

Old files are deleted only when the table's own history proves they are ours:
our commits removed them, expiry unreferenced them, they lie under the table's
own ``data/`` folder, and ``FILE_DELETE_GRACE_SECONDS`` passed since (queries
planned before may still read them). No folder is listed: see
``iox_catalog.cleanup``.
"""

from __future__ import annotations

import itertools
import logging
from collections import defaultdict
from dataclasses import dataclass

import pyarrow as pa

from flight_iox.engine.buffer import conform
from flight_iox.engine.dedupe import deduplicate, has_duplicate_keys
from flight_iox.persist.parquet_files import read_model_rows, write_partitioned
from flight_iox.persist.retention import drop_expired_files
from flight_iox.persist.tables import TableStore
from iox_catalog.files import DataFile
from iox_catalog.partitioning import PartitionKey
from iox_catalog.schema import column_kinds

log = logging.getLogger(__name__)
FILE_DELETE_GRACE_SECONDS = 3600.0


@dataclass
class CompactReport:
    """What one compaction pass did."""

    partitions: int = 0
    files_before: int = 0
    files_after: int = 0
    orphans_deleted: int = 0
    expired_files: int = 0

    def as_json(self) -> dict[str, int]:
        """The admin endpoint's answer."""
        return dict(vars(self))


def _overlapping(files: list[DataFile]) -> bool:
    ranges = sorted((f.min_time_us, f.max_time_us) for f in files)
    return any(b[0] <= a[1] for a, b in itertools.pairwise(ranges))


def partitions_to_compact(files: tuple[DataFile, ...], min_files: int) -> list[list[DataFile]]:
    """Partitions with at least ``min_files`` files, or with files that overlap in time."""
    by_partition: dict[PartitionKey | None, list[DataFile]] = defaultdict(list)
    for file in files:
        by_partition[file.partition].append(file)
    groups = [
        sorted(group, key=lambda f: f.sequence_number)
        for group in by_partition.values()
        if len(group) >= min_files or (len(group) > 1 and _overlapping(group))
    ]
    return sorted(groups, key=lambda group: min(f.min_time_us for f in group))


def compact_table(
    tables: TableStore, database: str, table: str, schema: pa.Schema, min_files: int,
    delete_grace_seconds: float = FILE_DELETE_GRACE_SECONDS,
) -> CompactReport:  # fmt: skip
    """Compact one table's partitions that need it; the caller serialises with persists."""
    report = CompactReport()
    report.expired_files = drop_expired_files(tables, database, table, schema)
    state = tables.buffers.table(database, table)
    kinds = column_kinds(schema)
    for group in partitions_to_compact(state.files, min_files):
        try:
            parts = [read_model_rows(f.path, schema, tables.storage) for f in group]
        except (OSError, pa.ArrowException) as error:  # a lost file: repair's job, not ours
            _skip_unreadable(f"{database}.{table}", group, error)
            continue
        rows = pa.concat_tables([conform(part, schema) for part in parts])
        if has_duplicate_keys(rows):
            rows = deduplicate(rows)
        target = tables.iceberg.write_target(database, table, schema)
        written = write_partitioned(rows, kinds, target, tables.storage)
        stored = tables.iceberg.replace_files(
            database, table, remove=[f.path for f in group], add=written, model_schema=schema
        )
        state.replace_files(stored.files.files)
        report.partitions += 1
        report.files_before += len(group)
        report.files_after += len(written)
    tables.iceberg.expire_snapshots(database, table)  # also after deletes' and retention's commits
    report.orphans_deleted = tables.iceberg.delete_unreferenced(
        database, table, delete_grace_seconds
    )
    return report


_reported_groups: set[frozenset[str]] = set()


def _skip_unreadable(table: str, group: list[DataFile], error: Exception) -> None:
    """Leave a partition with an unreadable file as it is; say so once per partition.

    Compacting around the file would hide that its rows are lost; ``flight-iox repair``
    removes it from the table, and the next pass compacts what remains.
    """
    paths = frozenset(f.path for f in group)
    if paths not in _reported_groups:
        _reported_groups.add(paths)
        log.warning("not compacting a partition of %s: a file cannot be read (%s); "
                    "run `flight-iox repair` to remove lost files", table, error)  # fmt: skip
