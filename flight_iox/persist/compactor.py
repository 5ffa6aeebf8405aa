"""Compaction: rewrite a partition's overlapping or small files as sorted, non-overlapping ones.

Each persist adds files, and a late write to an old day adds a file that
overlaps the day's others, which queries must then deduplicate. Compaction
(``compaction_plan.py`` decides what) reads a job's files in commit order,
deduplicates the rows where they overlap (last write wins, field by field), writes
them back as sorted files cut at time boundaries and swaps the old files for the new
in one atomic Iceberg commit per job. Old snapshots are expired afterwards.

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

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow as pa

from flight_iox.engine.buffer import conform
from flight_iox.persist.compaction_plan import (
    TARGET_ROWS,
    merged_rows,
    plan_compaction,
    time_slices,
)
from flight_iox.persist.parquet_files import WrittenPart, kept_rows, read_model_rows
from flight_iox.persist.retention import drop_expired_files
from flight_iox.persist.tables import TableStore
from flight_iox.query.overlap import SharesSeries, file_sources, overlapping_pairs
from iox_catalog.files import DataFile
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


def compact_table(
    tables: TableStore, database: str, table: str, schema: pa.Schema, min_files: int,
    delete_grace_seconds: float = FILE_DELETE_GRACE_SECONDS, target_rows: int = TARGET_ROWS,
) -> CompactReport:  # fmt: skip
    """Compact one table's partitions that need it; the caller serialises with persists."""
    report = CompactReport()
    report.expired_files = drop_expired_files(tables, database, table, schema)
    state = tables.buffers.table(database, table)
    kinds = column_kinds(schema)
    shares = tables.series.check()
    for job in plan_compaction(state.files, min_files, target_rows, shares):
        group = list(job.files)
        try:
            held = tables.caches.cached_files(group)  # decoded already: no Parquet read
            parts = [held.get(f.path) or read_model_rows(f.path, schema, tables.storage)
                     for f in group]  # fmt: skip
        except (OSError, pa.ArrowException) as error:  # a lost file: repair's job, not ours
            _skip_unreadable(f"{database}.{table}", group, error)
            continue
        rows = merged_rows(job, [conform(part, schema) for part in parts])
        del parts
        target = tables.iceberg.write_target(database, table, schema)
        parts = []
        for piece in time_slices(rows, target_rows):  # disjoint in time: files never overlap
            parts += tables.write_parts(piece, kinds, target)
        written = [part.file for part in parts]
        stored = tables.iceberg.replace_files(
            database, table, [f.path for f in group], written, schema,
            keep_order=lambda files: _sharing_pairs(files, shares),
        )  # fmt: skip
        cache_new_files(tables, database, table, stored.files.files, schema, parts)
        del parts
        state.replace_files(stored.files.files)
        report.partitions += 1
        report.files_before += len(group)
        report.files_after += len(written)
    tables.iceberg.expire_snapshots(database, table)  # also after deletes' and retention's commits
    report.orphans_deleted = tables.iceberg.delete_unreferenced(
        database, table, delete_grace_seconds
    )
    return report


def cache_new_files(
    tables: TableStore,
    database: str,
    table: str,
    files: Sequence[DataFile],
    schema: pa.Schema,
    written: list[WrittenPart],
) -> None:
    """Put the files a commit (a persist's or a compaction's) added into the query side's
    Parquet cache, before they are installed: the first query after then finds them in
    memory. Their rows are the ones just written, so nothing is decoded (``kept_rows``)."""
    known = {f.path for f in tables.buffers.table(database, table).files}
    new = [f for f in files if f.path not in known]
    for part in written:  # series ranges, as the footer holds them: no footer read later
        tables.series.put(part.file.uri, part.series)
    tables.caches.load_files(new, schema, (database, table), kept_rows(written))


def _sharing_pairs(files: Sequence[DataFile], shares: SharesSeries) -> list[tuple[int, int]]:
    """The pairs of ``files`` (indexes) that may hold a row of the same key and time."""
    return [(i, j) for i, j, _ in overlapping_pairs(file_sources(files), shares)]


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
