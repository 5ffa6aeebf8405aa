"""Per-table state: the rows buffered since the last persist, and the persisted files.

Writers append batches tagged with their WAL sequence; nothing is copied or
concatenated on the write path. A query takes a snapshot: pending batches are
merged into an immutable, deduplicated table (a zero-copy append of chunks when
new rows are later than the merged ones and carry no duplicate keys, the usual
in-order ingest; its chunks are then combined in tiers, ``chunks.py``, so a query's
refresh does not pay per write) and returned together with the file list. The
persister freezes the buffered rows, writes them, and then, in one step under the
table's lock, drops them and installs the new file list, so a query sees each point
exactly once, in the buffer or in a file.

Rows written during a persist are kept apart from the frozen ones (``merged``: what stays
buffered once the files are committed) and, for queries, merged into a *view* of the frozen
rows as they arrive, as writes are merged at any other time. The frozen and new rows were
merged again at each snapshot instead: a pass over all the frozen rows' times and a
deduplication of the rows the soak's two writers share at the frozen rows' end, under the
table's lock, at every query (``bench/persist_snapshot.py``: 22.8 ms at the median against
4.0 ms for the view, a million frozen rows); and rows that no snapshot could promise to the
next, since two writers' late rows always reach into the frozen ones' end.

A snapshot also says which of its buffered rows are as they were (``TableSnapshot.version``):
writes append, and a late row rewrites only the rows from its time on, so the buffer keeps,
for its current *epoch*, where each such rewrite began. Two snapshots of one epoch that
give the same version for their first ``n`` rows hold the same first ``n`` rows, so a query
can keep partial aggregates of the buffer's settled segments (``query/partial_parts.py``)
instead of aggregating every buffered row at every run. Rows leaving the front (a persist),
a failed persist's rows coming back, or a delete start a new epoch.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pyarrow as pa

from flight_iox.engine.buffer_merge import (
    append_unique,
    buffers,
    bytes_beside,
    later,
    max_time,
    merge_ordered,
)
from flight_iox.engine.chunks import consolidated
from flight_iox.engine.dedupe import deduplicate, has_duplicate_keys, time_range
from iox_catalog.files import DataFile

_serials = itertools.count(1)  # one per table buffer: a table made again has a new version
MAX_REWRITES = 1024  # rewrites recorded in one epoch (each snapshot copies the list)


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


@dataclass(frozen=True)
class TableSnapshot:
    """What a query reads of one table: persisted files plus buffered rows.

    ``epoch`` names the buffer and its epoch (None: rows from elsewhere, nothing kept);
    ``rewrites`` are where that epoch's rewrites of buffered rows began, in order.
    """

    files: tuple[DataFile, ...]
    buffered: pa.Table
    epoch: tuple[int, int] | None = None
    rewrites: tuple[int, ...] = ()

    def version(self, rows: int) -> int | None:
        """Names the first ``rows`` buffered rows within the epoch: snapshots of one epoch
        with the same version of ``rows`` hold the same first ``rows`` rows (None: past the
        buffered rows, or rows from elsewhere)."""
        if self.epoch is None or rows > self.buffered.num_rows:
            return None
        return max((i + 1 for i, start in enumerate(self.rewrites) if start < rows), default=0)


@dataclass
class TableBuffer:
    """Buffered rows and persisted files of one table."""

    name: str
    database: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)
    pending: list[tuple[int, pa.RecordBatch]] = field(default_factory=list)
    merged: pa.Table | None = None
    merged_max_time: int | None = None
    frozen: pa.Table | None = None
    view: pa.Table | None = None  # during a persist: the frozen rows, then the new ones
    view_max_time: int | None = None
    _frozen_buffers: tuple[pa.Table | None, dict[int, int]] = (None, {})  # for ``_recount``
    files: tuple[DataFile, ...] = ()
    nbytes: int = 0
    appends: int = 0
    files_version: int = 0
    oldest_pending: float | None = None
    serial: int = field(default_factory=lambda: next(_serials))
    epoch: int = 0  # a new one when buffered rows leave, return or are deleted
    rewrites: list[int] = field(default_factory=list)  # where this epoch's rewrites began

    def append(self, sequence: int, batch: pa.RecordBatch) -> int:
        """Add a validated batch; returns the bytes it adds to the buffer."""
        size = batch.get_total_buffer_size()
        with self.lock:
            self.pending.append((sequence, batch))
            self.nbytes += size
            self.appends += 1
            if self.oldest_pending is None:
                self.oldest_pending = time.monotonic()
        return size

    @property
    def version(self) -> tuple[int, int, int]:
        """Changes whenever the rows a query would see change: (serial, appends, files)."""
        return (self.serial, self.appends, self.files_version)

    def buffered_rows(self) -> int:
        """Rows held in memory (before dedupe of pending batches)."""
        parts = (self.merged, self.frozen)
        return sum(p.num_rows for p in parts if p is not None) + sum(
            b.num_rows for _, b in self.pending
        )

    def snapshot(self, schema: pa.Schema) -> tuple[TableSnapshot, int]:
        """Files and deduplicated buffered rows under ``schema``; and the change in bytes."""
        with self.lock:
            before = self.nbytes
            self._merge_pending(schema)
            merged = conform(self.merged, schema) if self.merged is not None else None
            self.merged = merged
            if self.frozen is not None:
                buffered = self._view(schema)
            else:
                buffered = merged if merged is not None else schema.empty_table()
            snapshot = TableSnapshot(
                self.files, buffered, (self.serial, self.epoch), tuple(self.rewrites)
            )
            return snapshot, self.nbytes - before

    def _view(self, schema: pa.Schema) -> pa.Table:
        """The frozen rows merged with those written since (made again only after a delete
        removed rows, which starts a new epoch)."""
        assert self.frozen is not None, "a view is of frozen rows"
        view = self.view
        if view is None:
            frozen = conform(self.frozen, schema)
            if self.merged is None:
                view = frozen
            else:
                merged = conform(self.merged, schema)
                view = consolidated(merge_ordered(frozen, merged, max_time(frozen))[0])
            self.view_max_time = max_time(view)
        view = conform(view, schema)
        if view is not self.view:
            self.view = view
            self._recount()
        return view

    def _merge_pending(self, schema: pa.Schema) -> None:
        if not self.pending:
            return
        pending = sorted(self.pending, key=lambda item: item[0])
        self.pending = []
        new = pa.concat_tables([conform(pa.Table.from_batches([b]), schema) for _, b in pending])
        if has_duplicate_keys(new):
            new = deduplicate(new)
        bounds = time_range(new)
        old = conform(self.merged, schema) if self.merged is not None else None
        merged, kept = append_unique(old, new, self.merged_max_time)
        if self.frozen is None:
            if old is not None and kept < old.num_rows:
                self._changed_from(kept)
        elif self.view is not None:  # what queries read: the view's rows are recorded
            view = conform(self.view, schema)
            merged_view, kept = append_unique(view, new, self.view_max_time)
            if kept < view.num_rows:
                self._changed_from(kept)
            self.view = consolidated(merged_view)
            if bounds is not None:
                self.view_max_time = later(self.view_max_time, bounds[1])
        self.merged = consolidated(merged)
        if bounds is not None:
            self.merged_max_time = later(self.merged_max_time, bounds[1])
        self._recount()

    def _changed_from(self, row: int) -> None:
        """Buffered rows from ``row`` on were rewritten (a long epoch of late writes
        starts a new one rather than carry an ever longer list)."""
        self.rewrites.append(row)
        if len(self.rewrites) > MAX_REWRITES:
            self._new_epoch()

    def _new_epoch(self) -> None:
        """Buffered rows left, returned or were deleted: nothing kept of them holds."""
        self.epoch += 1
        self.rewrites = []

    def _recount(self) -> None:
        parts = [p for p in (self.merged, self.frozen) if p is not None]
        self.nbytes = sum(p.get_total_buffer_size() for p in parts) + sum(
            b.get_total_buffer_size() for _, b in self.pending
        )
        if self.view is None or self.frozen is None:
            self._frozen_buffers = (None, {})  # kept, it would hold the frozen rows alive
            return
        if self._frozen_buffers[0] is not self.frozen:  # read once per persist
            self._frozen_buffers = (self.frozen, buffers(self.frozen))
        self.nbytes += bytes_beside(self.view, self._frozen_buffers[1])

    def freeze(self, schema: pa.Schema) -> tuple[pa.Table | None, int]:
        """Hand the buffered rows to the persister (None if empty); and the change in bytes."""
        with self.lock:
            before = self.nbytes
            self._merge_pending(schema)
            if self.frozen is not None or self.merged is None or self.merged.num_rows == 0:
                return None, self.nbytes - before
            self.view, self.view_max_time = self.merged, self.merged_max_time
            self.frozen, self.merged, self.merged_max_time = self.merged, None, None
            self.oldest_pending = None
            return self.frozen, self.nbytes - before

    def thaw(self, schema: pa.Schema) -> int:
        """The persist failed: the frozen rows return to the buffer, older than the rest."""
        with self.lock:
            before = self.nbytes
            if self.frozen is not None:
                self.merged = self._view(schema)  # the frozen rows, then the newer ones
                self.merged_max_time = self.view_max_time
                self.frozen = self.view = self.view_max_time = None
                self._new_epoch()
                self.oldest_pending = self.oldest_pending or time.monotonic()
            self._recount()
            return self.nbytes - before

    def persisted(self, files: tuple[DataFile, ...]) -> int:
        """The frozen rows are committed as ``files``: drop them and show the files, at once."""
        with self.lock:
            before = self.nbytes
            self.frozen = self.view = self.view_max_time = None
            self.files = files
            self.files_version += 1
            self._new_epoch()
            self._recount()
            return self.nbytes - before

    def filter_rows(self, schema: pa.Schema, keep: Callable[[pa.Table], pa.Table]) -> int:
        """Keep only the buffered rows ``keep`` returns; how many were removed."""
        with self.lock:
            self._merge_pending(schema)
            removed = 0
            if self.merged is not None:
                kept = keep(conform(self.merged, schema))
                removed += self.merged.num_rows - kept.num_rows
                self.merged = kept
            if self.frozen is not None:
                kept = keep(conform(self.frozen, schema))
                removed += self.frozen.num_rows - kept.num_rows
                self.frozen = kept
            if self.merged is not None or self.frozen is not None:
                # DataFusion's filter need not keep the rows' order, even removing none
                self.view = self.view_max_time = None  # made again from both, if frozen
                self._new_epoch()
            if removed:
                self.appends += 1
            self._recount()
            return removed

    def replace_files(self, files: tuple[DataFile, ...]) -> None:
        """Install a new file list (compaction, retention, deletes)."""
        with self.lock:
            self.files = files
            self.files_version += 1


class BufferSet:
    """Every table's state, with the memory the buffers hold."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tables: dict[tuple[str, str], TableBuffer] = {}
        self.total_bytes = 0

    def table(self, database: str, table: str) -> TableBuffer:
        """A table's state (created empty on first use)."""
        with self._lock:
            state = self._tables.get((database, table))
            if state is None:
                state = self._tables[(database, table)] = TableBuffer(table, database)
            return state

    def buffered_rows(self) -> int:
        """Rows held in memory over every table (read on a metrics scrape, not per write)."""
        with self._lock:
            states = list(self._tables.values())
        return sum(state.buffered_rows() for state in states)

    def tables(self, database: str | None = None) -> list[tuple[str, str]]:
        """``(database, table)`` of every known table, or of one database."""
        with self._lock:
            return [k for k in self._tables if database is None or k[0] == database]

    def _account(self, delta: int) -> None:
        if delta:
            with self._lock:
                self.total_bytes += delta

    def append(self, database: str, table: str, sequence: int, batch: pa.RecordBatch) -> None:
        """Add a batch to a table's buffer."""
        self._account(self.table(database, table).append(sequence, batch))

    def snapshot(self, database: str, table: str, schema: pa.Schema) -> TableSnapshot:
        """Files and deduplicated buffered rows of a table."""
        state, delta = self.table(database, table).snapshot(schema)
        self._account(delta)
        return state

    def freeze(self, database: str, table: str, schema: pa.Schema) -> pa.Table | None:
        """Buffered rows for the persister to write (None if there are none)."""
        rows, delta = self.table(database, table).freeze(schema)
        self._account(delta)
        return rows

    def thaw(self, database: str, table: str, schema: pa.Schema) -> None:
        """Undo ``freeze`` after a failed persist."""
        self._account(self.table(database, table).thaw(schema))

    def persisted(self, database: str, table: str, files: tuple[DataFile, ...]) -> None:
        """Swap the frozen rows for the committed files."""
        self._account(self.table(database, table).persisted(files))

    def version(self, database: str, table: str) -> tuple[int, int, int]:
        """Changes whenever the rows of a table change (read it before taking a snapshot).

        Never repeats for one name: a table dropped and made again has a new serial.
        """
        state = self._tables.get((database, table))
        return (0, 0, 0) if state is None else state.version

    def drop_table(self, database: str, table: str) -> None:
        """Forget one table."""
        with self._lock:
            state = self._tables.pop((database, table), None)
            if state is not None:
                self.total_bytes -= state.nbytes

    def drop_database(self, database: str) -> None:
        """Forget every table of a database."""
        with self._lock:
            for key in [k for k in self._tables if k[0] == database]:
                self.total_bytes -= self._tables.pop(key).nbytes
