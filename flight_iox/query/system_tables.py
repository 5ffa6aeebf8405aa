"""The ``system`` schema of each database: what tables and Parquet files exist.

``system.tables`` has one row per table (columns, files, bytes, rows buffered);
``system.parquet_files`` one row per data file of the current snapshots. Both
are small in-memory tables rebuilt when a database's tables change.
"""

from __future__ import annotations

import pyarrow as pa

from flight_iox.columns import ColumnRole, role_of
from flight_iox.engine.buffer import BufferSet

SYSTEM_SCHEMA = "system"

TABLES_SCHEMA = pa.schema(
    [
        pa.field("table_name", pa.string(), nullable=False),
        pa.field("tag_count", pa.int64(), nullable=False),
        pa.field("field_count", pa.int64(), nullable=False),
        pa.field("file_count", pa.int64(), nullable=False),
        pa.field("file_bytes", pa.int64(), nullable=False),
        pa.field("file_rows", pa.int64(), nullable=False),
        pa.field("buffered_rows", pa.int64(), nullable=False),
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
    ]
)


def system_tables(
    database: str, schemas: dict[str, pa.Schema], buffers: BufferSet
) -> dict[str, pa.Table]:
    """``{"tables": …, "parquet_files": …}`` for one database."""
    table_rows: list[dict[str, object]] = []
    file_rows: list[dict[str, object]] = []
    for name, schema in sorted(schemas.items()):
        state = buffers.table(database, name)
        files = state.files
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
            }
            for f in files
        )
    return {
        "tables": pa.Table.from_pylist(table_rows, schema=TABLES_SCHEMA),
        "parquet_files": pa.Table.from_pylist(file_rows, schema=PARQUET_FILES_SCHEMA),
    }
