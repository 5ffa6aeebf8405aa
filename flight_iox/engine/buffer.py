"""The write buffer: per table, the Arrow batches written since the last persist.

Writers append batches tagged with their WAL sequence; nothing is copied or
concatenated on the write path. A query asks for a snapshot: pending batches
are merged into an immutable, deduplicated table. When new rows are all later
than the merged ones and carry no duplicate keys (the usual in-order ingest),
the merge is a zero-copy append of chunks; otherwise the whole table is
deduplicated once and the result kept for the next queries.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import pyarrow as pa

from flight_iox.engine.dedupe import deduplicate, has_duplicate_keys, time_range


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` with exactly ``schema``'s columns: missing ones become nulls."""
    if table.schema.equals(schema, check_metadata=True):
        return table
    columns = []
    for f in schema:
        index = table.schema.get_field_index(f.name)
        if index < 0:
            columns.append(pa.nulls(table.num_rows, f.type))
        else:
            column = table.column(index)
            columns.append(column if column.type == f.type else column.cast(f.type))
    return pa.Table.from_arrays(columns, schema=schema)


@dataclass
class TableBuffer:
    """Buffered rows of one table."""

    name: str
    lock: threading.Lock = field(default_factory=threading.Lock)
    pending: list[tuple[int, pa.RecordBatch]] = field(default_factory=list)
    merged: pa.Table | None = None
    merged_max_time: int | None = None
    nbytes: int = 0
    appends: int = 0

    def append(self, sequence: int, batch: pa.RecordBatch) -> int:
        """Add a validated batch; returns the bytes it adds to the buffer."""
        size = batch.get_total_buffer_size()
        with self.lock:
            self.pending.append((sequence, batch))
            self.nbytes += size
            self.appends += 1
        return size

    def snapshot(self, schema: pa.Schema) -> tuple[pa.Table, int]:
        """The deduplicated rows under ``schema``, and the change in buffered bytes."""
        with self.lock:
            before = self.nbytes
            if self.pending:
                self._merge(schema)
            merged = self.merged if self.merged is not None else schema.empty_table()
            merged = conform(merged, schema)
            self.merged = merged
            return merged, self.nbytes - before

    def _merge(self, schema: pa.Schema) -> None:
        pending = sorted(self.pending, key=lambda item: item[0])
        self.pending = []
        new = pa.concat_tables([conform(pa.Table.from_batches([b]), schema) for _, b in pending])
        bounds = time_range(new)
        if bounds is None:
            return
        old = conform(self.merged, schema) if self.merged is not None else None
        in_order = old is None or self.merged_max_time is None or bounds[0] > self.merged_max_time
        combined = new if old is None else pa.concat_tables([old, new])
        if not in_order or has_duplicate_keys(new):
            combined = deduplicate(combined)
        self.merged = combined
        self.merged_max_time = max(bounds[1], self.merged_max_time or bounds[1])
        self.nbytes = combined.get_total_buffer_size()


class BufferSet:
    """All table buffers of the server, with the memory they hold."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tables: dict[tuple[str, str], TableBuffer] = {}
        self.total_bytes = 0

    def append(self, database: str, table: str, sequence: int, batch: pa.RecordBatch) -> None:
        """Add a batch to a table's buffer."""
        with self._lock:
            buffer = self._tables.get((database, table))
            if buffer is None:
                buffer = self._tables[(database, table)] = TableBuffer(table)
        added = buffer.append(sequence, batch)
        with self._lock:
            self.total_bytes += added

    def snapshot(self, database: str, table: str, schema: pa.Schema) -> pa.Table:
        """The deduplicated rows of a table (empty if nothing is buffered)."""
        buffer = self._tables.get((database, table))
        if buffer is None:
            return schema.empty_table()
        table_data, delta = buffer.snapshot(schema)
        with self._lock:
            self.total_bytes += delta
        return table_data

    def version(self, database: str, table: str) -> int:
        """Grows whenever rows are added to a table (read it before taking a snapshot)."""
        buffer = self._tables.get((database, table))
        return 0 if buffer is None else buffer.appends

    def drop_database(self, database: str) -> None:
        """Forget every table of a database."""
        with self._lock:
            for key in [k for k in self._tables if k[0] == database]:
                self.total_bytes -= self._tables.pop(key).nbytes
