"""The ``system`` schema of each database: what tables and Parquet files exist.

``system.tables`` has one row per table (columns, files, bytes, rows buffered, and
how many files may share row keys with another file, which queries must deduplicate
and compaction removes); ``system.parquet_files`` one row per data file of the current
snapshots (``overlapping`` marks those files). Both are small in-memory tables rebuilt
when a database's tables change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa

from flight_iox.columns import ColumnRole, role_of
from flight_iox.engine.buffer import BufferSet
from flight_iox.query.overlap import SharesSeries, overlapping_file_indices

SYSTEM_SCHEMA = "system"


@dataclass(frozen=True)
class SystemTable:
    """A server-wide ``system.<name>`` table (``tokens``, ``queries``), built from its source.

    ``build`` gives the full table, for admin contexts. Other principals' contexts get
    ``scoped(database)`` (the rows about one database they may read) or, without it,
    nothing when ``admin_only``, else ``build()``. A source that changes all the time
    (the query log) gives a ``version``: the table is rebuilt, and statements reading the
    ``system`` schema planned again, when it moved; other sources are rebuilt when
    ``QueryEngine.invalidate_system_tables`` is called.
    """

    build: Callable[[], pa.Table]
    admin_only: bool = True
    scoped: Callable[[str], pa.Table] | None = None
    version: Callable[[], int] | None = None


TABLES_SCHEMA = pa.schema(
    [
        pa.field("table_name", pa.string(), nullable=False),
        pa.field("tag_count", pa.int64(), nullable=False),
        pa.field("field_count", pa.int64(), nullable=False),
        pa.field("file_count", pa.int64(), nullable=False),
        pa.field("file_bytes", pa.int64(), nullable=False),
        pa.field("file_rows", pa.int64(), nullable=False),
        pa.field("buffered_rows", pa.int64(), nullable=False),
        pa.field("overlapping_files", pa.int64(), nullable=False),
    ]
)
PARQUET_FILES_SCHEMA = pa.schema(
    [
        pa.field("table_name", pa.string(), nullable=False),
        pa.field("path", pa.string(), nullable=False),
        pa.field("row_count", pa.int64(), nullable=False),
        pa.field("size_bytes", pa.int64(), nullable=False),
        pa.field("min_time", pa.timestamp("us"), nullable=False),
        pa.field("max_time", pa.timestamp("us"), nullable=False),
        pa.field("commit_sequence", pa.int64(), nullable=False),
        pa.field("overlapping", pa.bool_(), nullable=False),
    ]
)


def system_tables(
    database: str,
    schemas: dict[str, pa.Schema],
    buffers: BufferSet,
    shares: SharesSeries | None = None,
) -> dict[str, pa.Table]:
    """``{"tables": …, "parquet_files": …}`` for one database (``shares``: files overlap
    as queries decide it, series included)."""
    table_rows: list[dict[str, object]] = []
    file_rows: list[dict[str, object]] = []
    for name, schema in sorted(schemas.items()):
        state = buffers.table(database, name)
        files = state.files
        overlapping = overlapping_file_indices(files, shares)
        roles = [role_of(f) for f in schema]
        table_rows.append(
            {
                "table_name": name,
                "tag_count": roles.count(ColumnRole.TAG),
                "field_count": roles.count(ColumnRole.FIELD),
                "file_count": len(files),
                "file_bytes": sum(f.size_bytes for f in files),
                "file_rows": sum(f.record_count for f in files),
                "buffered_rows": state.buffered_rows(),
                "overlapping_files": len(overlapping),
            }
        )
        file_rows.extend(
            {
                "table_name": name,
                "path": f.path,
                "row_count": f.record_count,
                "size_bytes": f.size_bytes,
                "min_time": f.min_time_us,
                "max_time": f.max_time_us,
                "commit_sequence": f.sequence_number,
                "overlapping": i in overlapping,
            }
            for i, f in enumerate(files)
        )
    return {
        "tables": pa.Table.from_pylist(table_rows, schema=TABLES_SCHEMA),
        "parquet_files": pa.Table.from_pylist(file_rows, schema=PARQUET_FILES_SCHEMA),
    }
