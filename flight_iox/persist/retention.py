"""Retention: drop whole files whose rows are all older than the database's retention period.

Queries already hide expired rows (the table view filters on ``now()``); this
reclaims the storage, one atomic Iceberg commit per table.
"""

from __future__ import annotations

import time

import pyarrow as pa

from flight_iox.persist.tables import TableStore


def drop_expired_files(tables: TableStore, database: str, table: str, schema: pa.Schema) -> int:
    """Remove the table's files that lie wholly before the cutoff; returns how many."""
    with tables.catalog.lock:
        retention_ns = tables.catalog.database(database).retention_ns
    if not retention_ns:
        return 0
    cutoff_us = (time.time_ns() - retention_ns) // 1_000
    state = tables.buffers.table(database, table)
    expired = [f.path for f in state.files if f.max_time_us < cutoff_us]
    if not expired:
        return 0
    stored = tables.iceberg.replace_files(database, table, expired, [], schema)
    state.replace_files(stored.files.files)
    return len(expired)
