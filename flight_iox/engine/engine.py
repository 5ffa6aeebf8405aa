"""The engine: validate writes, make them durable in the WAL, then buffer them.

Transports (HTTP, Flight, CLI) call this and nothing below it. A write is
acknowledged (the call returns) only after its WAL entry is fsync'd, unless
the caller asked for ``no_sync``. On start, the WAL is replayed into the
buffer, so every acknowledged write survives a ``kill -9``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from flight_iox.auth.policy import Authorizer, Principal
from flight_iox.auth.tokens import Action
from flight_iox.config import Settings
from flight_iox.engine.buffer import BufferSet
from flight_iox.engine.catalog import DatabaseSchema, SchemaCatalog
from flight_iox.engine.validate import ValidatedTable, validate_measurement
from flight_iox.engine.watermark import SequenceWatermark
from flight_iox.errors import (
    BufferFullError,
    LimitExceededError,
    LineError,
    LineProtocolError,
)
from flight_iox.ingest import MeasurementBatch, Precision, parse_line_protocol
from flight_iox.metrics import ServerMetrics
from flight_iox.names import validate_database_name
from flight_iox.persist.follower import CatalogMirror
from flight_iox.persist.parquet_files import read_model_rows
from flight_iox.query import QueryEngine
from flight_iox.query.file_cache import FileCache
from flight_iox.query.file_checks import checked_schema
from flight_iox.wal import TableWrite, WalWrite, WriteAheadLog, decode_write, encode_write
from iox_catalog import IoxCatalog

log = logging.getLogger(__name__)

PARTIAL_WRITE_MESSAGE = "partial write of line protocol occurred"


@dataclass(frozen=True)
class WriteOutcome:
    """What a write did: lines seen, rows stored, lines rejected."""

    line_count: int
    rows_written: int
    errors: list[LineError]


class Engine:
    """One server's storage engine."""

    def __init__(self, settings: Settings, metrics: ServerMetrics | None = None) -> None:
        """``metrics`` counts writes and WAL fsyncs (a private set when None)."""
        self.settings = settings
        self.metrics = metrics if metrics is not None else ServerMetrics()
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.catalog = SchemaCatalog(settings.data_dir / "catalog.json", settings.limits)
        self.buffers = BufferSet()
        self.iceberg = IoxCatalog(settings.catalog_config())
        self.storage = self.iceberg.storage
        self.mirror = CatalogMirror(self.iceberg, self.catalog, self.buffers)
        persisted = self.mirror.load()  # every persisted table; the follower keeps it current
        self.wal = WriteAheadLog(
            settings.wal_dir,
            fsync=settings.wal_fsync,
            segment_bytes=settings.wal_segment_bytes,
            on_sync=self.metrics.wal_synced,
        )
        self.replayed_entries = self._replay(persisted)
        self.watermark = SequenceWatermark(self.wal.last_sequence)
        self.file_cache = FileCache(
            settings.parquet_cache_size,
            lambda file, schema: read_model_rows(file.path, schema, self.storage),
        )
        self.query = QueryEngine(
            self.catalog,
            self.buffers,
            object_store=self.iceberg.config.store.datafusion_store(),
            file_cache=self.file_cache,
            limits=settings.query_limits,
            file_check=lambda file: checked_schema(file, self.storage),
        )

    def _replay(self, persisted: dict[tuple[str, str], int]) -> int:
        """Replay WAL entries newer than what the catalog says each table has persisted.

        The check is per table only: there is no global floor, because a commit records
        the global WAL sequence, so an older entry may hold a table that no commit
        covered yet (another database persisted alone, a table whose first commit
        failed, or a table of another server sharing the catalog).
        """
        count = 0
        for entry in self.wal.replay(after_sequence=0):
            write = decode_write(entry.payload)
            if entry.sequence <= self.catalog.deleted_through(write.database):
                continue
            for table_write in write.tables:
                key = (write.database, table_write.table)
                if entry.sequence <= max(
                    persisted.get(key, 0), self.catalog.table_deleted_through(*key)
                ):
                    continue
                self.catalog.apply_replayed_schema(
                    write.database, table_write.table, table_write.batch.schema
                )
                self.buffers.append(
                    write.database, table_write.table, entry.sequence, table_write.batch
                )
            count += 1
        log.info("replayed %d WAL entries", count)
        return count

    # --- writes ----------------------------------------------------------------------------

    def write_line_protocol(
        self,
        database: str,
        body: bytes,
        *,
        principal: Principal,
        precision: Precision = Precision.NANOSECOND,
        accept_partial: bool = True,
        no_sync: bool = False,
    ) -> WriteOutcome:
        """Parse, validate and durably store a line-protocol body.

        With ``accept_partial`` the valid lines are stored and the rejected ones
        returned; without it, any bad line raises ``LineProtocolError`` and
        nothing is stored. ``principal`` needs ``write`` on ``database`` (also to
        create it with the first write); it is checked before the body is parsed.
        """
        _require_write(principal, database)
        self._check_memory()
        parsed = parse_line_protocol(
            body,
            precision=precision,
            default_time_ns=time.time_ns(),
            limits=self.settings.ingest_limits,
        )
        self.metrics.received(database, parsed.line_count, len(body))
        if parsed.errors and not accept_partial:
            self.metrics.stored(database, 0, len(parsed.errors))
            raise _all_or_nothing_error(parsed.errors)
        return self.write_batches(
            database,
            parsed.batches,
            principal=principal,
            line_count=parsed.line_count,
            line_text=parsed.line_text,
            earlier_errors=parsed.errors,
            accept_partial=accept_partial,
            no_sync=no_sync,
        )

    def write_batches(
        self,
        database: str,
        batches: list[MeasurementBatch],
        *,
        principal: Principal,
        line_count: int | None = None,
        line_text: Callable[[int], str] = lambda n: f"row {n}",
        earlier_errors: list[LineError] | None = None,
        accept_partial: bool = True,
        no_sync: bool = False,
    ) -> WriteOutcome:
        """Validate and durably store rows given as ``MeasurementBatch`` columns.

        This is the one write path: line protocol arrives here after parsing, and
        Arrow writers (Flight SQL ingest, ``SELECT ... INTO``) build the batches
        themselves; ``line_numbers`` then number the rows and ``line_text``
        describes a row in error messages. ``principal`` needs ``write`` on ``database``.
        """
        _require_write(principal, database)
        self._check_memory()
        with self.catalog.lock:
            validated = self._validate(database, batches)
            errors = sorted(
                [
                    *(earlier_errors or []),
                    *(
                        LineError(n, message, line_text(n))
                        for v in validated
                        for n, message in v.rejected
                    ),
                ],
                key=lambda e: e.line_number,
            )
            if errors and not accept_partial:
                self.metrics.stored(database, 0, len(errors))
                raise _all_or_nothing_error(errors)
            accepted = [v for v in validated if v.batch is not None]
            if accepted:
                db = self.catalog.create_database(database, exist_ok=True)
                for v in accepted:
                    self.catalog.add_columns(db, v.table, v.new_columns)
        rows = self._store(database, accepted, sync=not no_sync)
        self.metrics.stored(database, rows, len(errors))
        if line_count is None:
            line_count = sum(len(b.time) for b in batches)
        return WriteOutcome(line_count, rows, errors)

    def _validate(self, database: str, batches: list[MeasurementBatch]) -> list[ValidatedTable]:
        db = self.catalog.database(database) if self.catalog.has_database(database) else None
        if db is None and batches and not self._room_for_database():
            problem = f"cannot create database {database!r}: the database limit is reached"
        else:
            problem = None
        results = []
        for batch in batches:
            existing = db.tables.get(batch.measurement) if db else None
            table_problem = problem or (self._table_problem(db, batch.measurement))
            results.append(
                validate_measurement(
                    batch,
                    existing,
                    max_columns=self.settings.limits.max_columns_per_table,
                    table_problem=table_problem,
                )
            )
        return results

    def _room_for_database(self) -> bool:
        return len(self.catalog.database_names()) < self.settings.limits.max_databases

    def _table_problem(self, db: DatabaseSchema | None, table: str) -> str | None:
        if db is None:
            return None
        try:
            self.catalog.check_new_table(db, table)
        except LimitExceededError as error:
            return error.message
        return None

    def _store(self, database: str, accepted: list[ValidatedTable], *, sync: bool) -> int:
        if not accepted:
            return 0
        write = WalWrite(database, [TableWrite(v.table, v.batch) for v in accepted if v.batch])
        sequence = self.wal.append(encode_write(write), sync=sync)
        rows = 0
        try:
            for table_write in write.tables:
                self.buffers.append(database, table_write.table, sequence, table_write.batch)
                rows += table_write.batch.num_rows
        finally:
            self.watermark.applied(sequence)
        return rows

    def _check_memory(self) -> None:
        limit = self.settings.buffer_memory_limit
        if self.buffers.total_bytes > limit:
            raise BufferFullError(
                f"write buffer is full ({self.buffers.total_bytes} of {limit} bytes); retry later",
                retry_after=5,
            )

    # --- databases -------------------------------------------------------------------------

    def create_database(self, name: str, retention_ns: int | None = None) -> None:
        """Create an empty database, optionally with a retention period."""
        db = self.catalog.create_database(name)
        db.retention_ns = retention_ns
        self.iceberg.create_database(name, retention_ns)

    def set_retention(self, name: str, retention_ns: int | None) -> None:
        """Change how long a database keeps rows (None: forever)."""
        self.catalog.database(name).retention_ns = retention_ns
        self.iceberg.create_database(name)
        self.iceberg.set_retention_ns(name, retention_ns)

    def delete_database(self, name: str) -> None:
        """Delete a database, everything buffered for it and its files."""
        validate_database_name(name)
        self.catalog.delete_database(name, self.wal.last_sequence)
        self.buffers.drop_database(name)
        self.query.forget_database(name)
        self.iceberg.drop_database(name)
        self.metrics.forget_database(name)

    def close(self) -> None:
        """Flush and close the WAL."""
        self.wal.close()


def _require_write(principal: Principal, database: str) -> None:
    """The name is valid and ``principal`` may write into it (creating it, if new)."""
    validate_database_name(database)
    Authorizer.require(principal, Action.WRITE, database)


def _all_or_nothing_error(errors: list[LineError]) -> LineProtocolError:
    first = errors[0]
    return LineProtocolError(f"write rejected: line {first.line_number}: {first.message}", [first])
