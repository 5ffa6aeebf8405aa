"""Move buffered rows to Parquet files committed to Iceberg, then trim the WAL.

A persist cycle first reads the applied watermark ``W`` (every WAL entry up to
``W`` is in the buffer), then for each table freezes its buffered rows, writes
them as sorted Parquet files and commits them with ``iox.wal-sequence = W``.
Rows buffered after ``W`` may be frozen too; claiming a lower sequence than a
file holds only makes recovery replay a write again, which dedupe absorbs.
Claiming a higher one would lose data, and never happens. After a full cycle
with no failure, WAL segments wholly at or below ``W`` are deleted.

Cycles run on a background thread when a trigger fires (rows per table, age of
the oldest buffered row, total buffer memory) and on shutdown, and on demand
through ``persist()`` (the admin endpoint and ``flight-iox persist``).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field

import pyarrow as pa
from pyiceberg.exceptions import CommitFailedException, ValidationException

from flight_iox.config import Settings
from flight_iox.engine.watermark import SequenceWatermark
from flight_iox.errors import InsufficientStorageError, storage_full
from flight_iox.metrics import ServerMetrics
from flight_iox.persist.compaction_plan import TARGET_ROWS
from flight_iox.persist.compactor import (
    FILE_DELETE_GRACE_SECONDS,
    CompactReport,
    cache_new_files,
    compact_table,
)
from flight_iox.persist.tables import TableStore
from flight_iox.query.file_checks import listed_problems
from flight_iox.wal import WriteAheadLog
from iox_catalog.schema import column_kinds

log = logging.getLogger(__name__)
# Whether this node may compact a table now, held while it does (a cluster's compact lease).
CompactLease = Callable[[str, str], AbstractContextManager[bool]]
# How often the background thread compares the tables' files with storage (``check_files``).
FILE_CHECK_SECONDS = 300.0


@dataclass
class PersistReport:
    """What one persist cycle did."""

    tables: int = 0
    rows: int = 0
    files: int = 0
    wal_sequence: int = 0
    failures: list[str] = field(default_factory=list)
    full: InsufficientStorageError | None = None  # a failure because a disk is full

    def as_json(self) -> dict[str, object]:
        """The admin endpoint's answer."""
        return {
            "tables": self.tables,
            "rows": self.rows,
            "files": self.files,
            "wal_sequence": self.wal_sequence,
            "failures": self.failures,
        }


class Persister:
    """Persists the buffer, on triggers and on demand."""

    def __init__(
        self,
        settings: Settings,
        tables: TableStore,
        wal: WriteAheadLog,
        watermark: SequenceWatermark,
        metrics: ServerMetrics | None = None,
        *,
        persists: bool = True,
        compacts: bool = True,
        compact_lease: CompactLease | None = None,
    ) -> None:
        """``metrics`` times persist cycles and compactions (a private set when None).

        A cluster node without the ingest role has nothing to persist (``persists``); one
        without the compact role never compacts in the background (``compacts``), and a
        compactor compacts a table only under its ``compact_lease``, which it looks at
        whenever the table's files change (other nodes' persists, followed).
        """
        self.settings = settings
        self.tables = tables
        self._wal = wal
        self._watermark = watermark
        self._metrics = metrics if metrics is not None else ServerMetrics()
        self._cycle_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pins = 0
        self._pins_lock = threading.Lock()
        self._persists = persists
        self._compacts = compacts
        self._compact_lease = compact_lease
        self._compacted: dict[tuple[str, str], tuple[int, int, int]] = {}  # versions seen

    @property
    def cycle_lock(self) -> threading.Lock:
        """Held by every persist, compaction and delete: one table change at a time."""
        return self._cycle_lock

    @contextmanager
    def pin_files(self) -> Iterator[None]:
        """While held, compaction deletes no unreferenced file (a backup is copying them).

        Compaction only deletes files unreferenced for ``FILE_DELETE_GRACE_SECONDS``, so a
        short backup would be safe anyway; the pin makes a slow one safe too.
        """
        with self._pins_lock:
            self._pins += 1
        try:
            yield
        finally:
            with self._pins_lock:
                self._pins -= 1

    def persist(self, database: str | None = None) -> PersistReport:
        """Persist everything buffered (of one database, or all); returns when committed."""
        with self._cycle_lock:
            return self._cycle(database)

    def persist_locked(self, database: str | None = None) -> PersistReport:
        """``persist`` for a caller that already holds ``cycle_lock``."""
        return self._cycle(database)

    def _cycle(self, database: str | None) -> PersistReport:
        started = time.perf_counter()
        report = self._persist(database)
        self._metrics.persisted(time.perf_counter() - started, len(report.failures))
        return report

    def _persist(self, database: str | None) -> PersistReport:
        tables = self.tables
        watermark = self._watermark.value
        report = PersistReport(wal_sequence=watermark)
        for db, table in tables.buffers.tables(database):
            schema = tables.schema(db, table)
            if schema is None:
                continue
            rows = tables.buffers.freeze(db, table, schema)
            if rows is None:
                continue
            try:
                kinds = column_kinds(schema)
                target = tables.iceberg.write_target(db, table, schema)
                written = tables.write_parts(rows, kinds, target)
                files = [part.file for part in written]
                stored = tables.iceberg.commit_files(db, table, schema, files, watermark)
            except Exception as error:  # storage can fail in many ways; keep the rows
                tables.buffers.thaw(db, table, schema)
                warehouse = tables.iceberg.config.warehouse
                full = storage_full(error, warehouse, "the rows stay buffered and in the WAL")
                if full is not None:  # expected while the disk is full: no traceback
                    log.warning("persisting %s.%s failed: %s", db, table, full.message)
                    report.full = full
                else:
                    log.exception("persisting %s.%s failed; rows stay buffered", db, table)
                report.failures.append(f"{db}.{table}: {full.message if full else error}")
                continue
            cache_new_files(tables, db, table, stored.files.files, schema, written)
            tables.buffers.persisted(db, table, stored.files.files)
            report.tables += 1
            report.rows += rows.num_rows
            report.files += len(written)
        if database is None and not report.failures:
            self._wal.delete_segments_through(watermark)
        if report.tables:
            log.info("persisted %d rows of %d tables in %d files through WAL sequence %d",
                     report.rows, report.tables, report.files, watermark)  # fmt: skip
        return report

    def compact(
        self,
        database: str | None = None,
        min_files: int = 2,
        target_rows: int = TARGET_ROWS,
        changed_only: bool = False,
    ) -> CompactReport:
        """Rewrite overlapping files, and small ones in partitions of ``min_files`` or more,
        as files of at most about ``target_rows`` rows that do not overlap (``changed_only``:
        only tables whose files changed since the last pass)."""
        total = CompactReport()
        with self._cycle_lock:
            started = time.perf_counter()
            failed = True
            try:
                for db, table in self.tables.buffers.tables(database):
                    schema = self.tables.schema(db, table)
                    if schema is None or not self.tables.buffers.table(db, table).files:
                        continue
                    version = self.tables.buffers.version(db, table)
                    if changed_only and self._compacted.get((db, table)) == version:
                        continue
                    report = self._compact_table(db, table, schema, min_files, target_rows)
                    self._compacted[(db, table)] = self.tables.buffers.version(db, table)
                    for name, value in vars(report).items():
                        setattr(total, name, getattr(total, name) + value)
                failed = False
            finally:
                self._metrics.compacted(time.perf_counter() - started, failed)
        return total

    def _compact_table(
        self, db: str, table: str, schema: pa.Schema, min_files: int, target_rows: int
    ) -> CompactReport:
        grace = math.inf if self._pins else FILE_DELETE_GRACE_SECONDS
        if self._compact_lease is None:
            return compact_table(self.tables, db, table, schema, min_files, grace, target_rows)
        with self._compact_lease(db, table) as ours:
            if not ours:  # another compactor is on it
                return CompactReport()
            try:
                return compact_table(self.tables, db, table, schema, min_files, grace, target_rows)
            except (CommitFailedException, ValidationException) as error:
                # An ingest node committed to the table meanwhile (Iceberg's optimistic
                # commit refused ours, nothing changed): the files changed, so it is retried.
                log.info("compacting %s.%s met a concurrent commit; retried: %s", db, table,
                         str(error).splitlines()[0])  # fmt: skip
                return CompactReport()

    # --- triggers --------------------------------------------------------------------------

    def due(self) -> bool:
        """Whether a trigger fires: rows per table, oldest row's age, or buffer memory."""
        buffers, settings = self.tables.buffers, self.settings
        if buffers.total_bytes > settings.buffer_memory_limit // 2:
            return True
        now = time.monotonic()
        for db, table in buffers.tables():
            state = buffers.table(db, table)
            if state.buffered_rows() >= settings.persist_max_rows:
                return True
            oldest = state.oldest_pending
            if oldest is not None and now - oldest > settings.persist_max_age_seconds:
                return True
        return False

    def start(self) -> None:
        """Run trigger checks on a background thread."""
        self._thread = threading.Thread(target=self._run, name="persister", daemon=True)
        self._thread.start()

    def check_files(self) -> int:
        """Compare each table's files with a listing of storage; returns how many are lost.

        DataFusion reads a file deleted after its table was registered as empty, so a loss
        is looked for now and then; a lost file makes its table be built again, and queries
        over it then fail naming the file (``query/tables.py``) instead of missing rows.
        """
        lost = 0
        tables = self.tables
        for db, table in tables.buffers.tables():
            files = tables.buffers.table(db, table).files
            problems = listed_problems(files, tables.storage)
            if problems:
                tables.caches.recheck_files(db, table, set(problems))
                lost += len(problems)
        return lost

    def _run(self) -> None:
        next_check = time.monotonic() + FILE_CHECK_SECONDS
        while not self._stop.wait(self.settings.persist_interval_seconds):
            try:
                if time.monotonic() >= next_check:
                    next_check = time.monotonic() + FILE_CHECK_SECONDS
                    self.check_files()
                if self._persists and self.due():
                    self.persist()
                    if self._compacts:
                        self.compact(min_files=self.settings.compact_min_files)
                elif self._compacts and not self._persists:  # a compactor: others persist
                    self.compact(min_files=self.settings.compact_min_files, changed_only=True)
            except Exception as error:
                full = storage_full(error, self.tables.iceberg.config.warehouse, "retrying later")
                if full is None:
                    log.exception("background persist or compaction failed")
                else:  # expected while the disk is full: one line, no traceback
                    log.warning("background compaction failed: %s", full.message)

    def stop(self) -> None:
        """Stop the trigger thread and, if configured, persist what is buffered."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=60)
        if self.settings.persist_on_shutdown and self._persists:
            self.persist()
