"""The last-value cache: the latest row of every series of a table, as ``last_cache('t')``.

InfluxDB 3 answers "the last point of each host" from a last-value cache queried
with the ``last_cache()`` table function; flight-iox does the same. A series is one
tag set, so the cache holds one row per distinct tag set.

The rows come in two parts, so that a write does not cost a scan of the files:

- the latest row of each series in the table's Parquet files, from one window query
  over the files (deduplicated like any query), recomputed only when the file list
  changes (persist, compaction, delete, retention);
- the latest row of each series in the write buffer, recomputed (in Arrow) whenever the
  buffer changed, and merged with the first part: where both have a row at the same
  time, fields merge last-write-wins like any overlapping write; otherwise the later row wins.

Repeated dashboard queries between writes cost a lookup. Expired rows are hidden when
the rows are served.

The cache is filled before planning (``prepare``), because a DataFusion table
function runs while a query is being planned and cannot run a query itself;
the table function then only hands out the prepared in-memory table.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from datafusion import SessionContext
from datafusion.catalog import Table

from flight_iox.columns import TIME_COLUMN, ColumnRole, role_of
from flight_iox.engine.buffer import TableSnapshot, conform
from flight_iox.engine.dedupe import deduplicate
from flight_iox.sql_quote import quote_identifier as q
from iox_catalog.files import DataFile


def last_rows_sql(schema: pa.Schema, qualified_table: str) -> str:
    """SQL for the latest row of each tag set of a table (all its columns, in order)."""
    tags = [q(f.name) for f in schema if role_of(f) is ColumnRole.TAG]
    columns = ", ".join(q(f.name) for f in schema)
    partition = f"PARTITION BY {', '.join(tags)} " if tags else ""
    return (
        f"SELECT {columns} FROM (SELECT *, row_number() OVER ({partition}ORDER BY "
        f"{q(TIME_COLUMN)} DESC) AS __iox_rank FROM {qualified_table}) AS ranked "
        "WHERE __iox_rank = 1"
    )


def latest_file_rows(files: Table, schema: pa.Schema, context: SessionContext) -> pa.Table:
    """The latest row of each series of a table's ``files`` provider, under ``schema``.

    ``context`` is a throwaway context (with the object store the files are in).
    """
    context.register_table("files", files)
    return conform(context.sql(last_rows_sql(schema, "files")).to_arrow_table(), schema)


def latest_rows(table: pa.Table) -> pa.Table:
    """The row with the latest ``time`` of each tag set of ``table`` (keys must be unique)."""
    if table.num_rows == 0:
        return table
    newest_first = table.take(pc.sort_indices(table, [(TIME_COLUMN, "descending")]))
    tags = [f.name for f in table.schema if role_of(f) is ColumnRole.TAG]
    if not tags:
        return newest_first.slice(0, 1)
    positions = pa.array(np.arange(newest_first.num_rows, dtype=np.int64))
    # Grouped by position names: pyarrow reads a tag named ".." as a nested field path.
    keys = [f"k{i}" for i in range(len(tags))]
    firsts = (
        newest_first.select(tags)
        .rename_columns(keys)
        .unify_dictionaries()
        .append_column("__iox_position", positions)
        .group_by(keys, use_threads=False)
        .aggregate([("__iox_position", "min")])
    )
    return newest_first.take(firsts.column("__iox_position_min"))


def merge_latest(older: pa.Table, newer: pa.Table) -> pa.Table:
    """The latest row per tag set over two sets of latest rows; at equal times, fields merge."""
    if older.num_rows == 0:
        return newer
    if newer.num_rows == 0:
        return older
    combined = pa.concat_tables([older, newer.cast(older.schema)], promote_options="none")
    return latest_rows(deduplicate(combined))


@dataclass(frozen=True)
class _Entry:
    version: Hashable  # the table version the rows are of
    files_version: Hashable  # the file list the file part is of
    file_rows: pa.Table  # latest row per series in the files
    rows: pa.Table  # latest row per series, files and buffer


class LastValueCache:
    """Last rows per (database, table), valid for one table version."""

    def __init__(self, provider: Callable[[pa.Table], Table]) -> None:
        """``provider`` turns an Arrow table into a DataFusion in-memory table."""
        self._provider = provider
        self._lock = threading.Lock()
        self._rows: dict[tuple[str, str], _Entry] = {}
        self._served: dict[tuple[str, str], Table] = {}

    def prepare(
        self,
        database: str,
        table: str,
        version: Hashable,
        files_version: Hashable,
        snapshot: Callable[[], TableSnapshot],
        file_rows: Callable[[tuple[DataFile, ...]], pa.Table],
        retention_ns: int | None = None,
    ) -> None:
        """Make sure the cached rows of ``table`` are those of ``version``.

        Only when the version changed: ``snapshot`` gives the table's files and deduplicated
        buffered rows, and ``file_rows`` computes the latest rows of the files (only when
        ``files_version`` changed too).
        """
        key = (database, table)
        with self._lock:
            hit = self._rows.get(key)
        if hit is not None and hit.version == version and not retention_ns:
            return
        if hit is None or hit.version != version:
            current = snapshot()
            if hit is not None and hit.files_version == files_version:
                from_files = hit.file_rows
            else:
                from_files = file_rows(current.files)
            rows = merge_latest(from_files, latest_rows(current.buffered))
            entry = _Entry(version, files_version, from_files, rows)
        else:
            entry = hit
        with self._lock:
            self._rows[key] = entry
            data = entry.rows
            if retention_ns:  # rows may have expired since they were cached
                cutoff = pa.scalar(time.time_ns() - retention_ns, pa.timestamp("ns"))
                data = data.filter(pc.greater_equal(data.column(TIME_COLUMN), cutoff))
            self._served[key] = self._provider(data)

    def forget(self, database: str, table: str | None = None) -> None:
        """Drop a table's cached rows (or a whole database's)."""
        with self._lock:
            for key in [k for k in self._rows if k[0] == database and table in (None, k[1])]:
                del self._rows[key]
                self._served.pop(key, None)

    def served(self, database: str, table: str) -> Table | None:
        """The prepared ``last_cache('table')`` rows of a table (None if not prepared)."""
        return self._served.get((database, table))
