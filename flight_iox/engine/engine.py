"""The engine: validate writes, make them durable in the WAL, then buffer them.

Transports (HTTP, Flight, CLI) call this and nothing below it. A write is
acknowledged (the call returns) only after its WAL entry is fsync'd, unless
the caller asked for ``no_sync``. On start, the WAL is replayed into the
buffer (``recovery.py``), so every acknowledged write survives a ``kill -9``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pyarrow as pa

from flight_iox.auth.policy import Authorizer, Principal
from flight_iox.auth.tokens import Action
from flight_iox.config import Settings
from flight_iox.engine.buffer import BufferSet
from flight_iox.engine.cache_config import CacheConfig, CacheKind
from flight_iox.engine.catalog import DatabaseSchema, SchemaCatalog
from flight_iox.engine.feed import WriteFeed
from flight_iox.engine.validate import ValidatedTable, validate_measurement
from flight_iox.engine.write_seams import ReplicationGate, WriteRouter
from flight_iox.errors import (
    BufferFullError,
    LimitExceededError,
    LineError,
    LineProtocolError,
)
from flight_iox.ingest import MeasurementBatch, Precision, parse_line_protocol
from flight_iox.metrics import ServerMetrics
from flight_iox.names import validate_database_name
from flight_iox.ports import QueryCaches
from flight_iox.wal import TableWrite, WalWrite, WriteAheadLog, encode_write
from iox_catalog import IoxCatalog

PARTIAL_WRITE_MESSAGE = "partial write of line protocol occurred"


@dataclass(frozen=True)
class WriteOutcome:
    """What a write did: lines seen, rows stored, lines rejected."""

    line_count: int
    rows_written: int
    errors: list[LineError]


class Engine:
    """One server's write path and database lifecycle, over state built by the composition root.

    The schema catalog, buffer, Iceberg catalog, WAL and write feed are passed in
    (``flight_iox/app.py`` builds them and runs recovery first); nothing outside
    this package reaches them through the engine.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        catalog: SchemaCatalog,
        buffers: BufferSet,
        iceberg: IoxCatalog,
        wal: WriteAheadLog,
        feed: WriteFeed,
        caches: QueryCaches,
        metrics: ServerMetrics,
        router: WriteRouter | None = None,
        replication: ReplicationGate | None = None,
    ) -> None:
        """``metrics`` counts the writes (the root built the WAL with its fsync counter);
        ``feed`` moves the watermark and hands each acknowledged write to its readers;
        ``router`` sends a cluster's writes to the tables' owners; ``replication`` refuses
        writes on a replica and holds a sync write's answer until its replicas have it."""
        self._settings = settings
        self._catalog = catalog
        self._buffers = buffers
        self._iceberg = iceberg
        self._wal = wal
        self._feed = feed
        self._caches = caches
        self._metrics = metrics
        self._router = router
        self._replication = replication

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
        self._check_writable()
        self._check_memory()
        parsed = parse_line_protocol(
            body,
            precision=precision,
            default_time_ns=time.time_ns(),
            limits=self._settings.ingest_limits,
        )
        self._metrics.received(database, parsed.line_count, len(body))
        if parsed.errors and not accept_partial:
            self._metrics.stored(database, 0, len(parsed.errors))
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
        self._check_writable()
        remote: dict[str, list[MeasurementBatch]] = {}
        if self._router is not None:
            owners = self._router.remote_owners(database, [b.measurement for b in batches])
            for batch in batches:
                if batch.measurement in owners:
                    remote.setdefault(owners[batch.measurement], []).append(batch)
            batches = [b for b in batches if b.measurement not in owners]
        self._check_memory()
        with self._catalog.lock:
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
                self._metrics.stored(database, 0, len(errors))
                raise _all_or_nothing_error(errors)
            accepted = [v for v in validated if v.batch is not None]
            if accepted:
                db = self._catalog.create_database(database, exist_ok=True)
                for v in accepted:
                    self._catalog.add_columns(db, v.table, v.new_columns)
        rows = self._store(database, accepted, sync=not no_sync)
        self._metrics.stored(database, rows, len(errors))
        for owner, owned in remote.items():
            assert self._router is not None
            stored, rejected = self._router.forward(
                owner, database, owned, principal=principal,
                accept_partial=accept_partial, no_sync=no_sync,
            )  # fmt: skip
            rows += stored
            errors.extend(LineError(n, message, line_text(n)) for n, message in rejected)
        if remote:
            errors.sort(key=lambda e: e.line_number)
            if errors and not accept_partial:
                raise _all_or_nothing_error(errors)
        if line_count is None:
            line_count = sum(len(b.time) for b in batches) + sum(
                len(b.time) for owned in remote.values() for b in owned
            )
        return WriteOutcome(line_count, rows, errors)

    def _validate(self, database: str, batches: list[MeasurementBatch]) -> list[ValidatedTable]:
        db = self._catalog.database(database) if self._catalog.has_database(database) else None
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
                    max_columns=self._settings.limits.max_columns_per_table,
                    table_problem=table_problem,
                )
            )
        return results

    def _room_for_database(self) -> bool:
        return len(self._catalog.database_names()) < self._settings.limits.max_databases

    def _table_problem(self, db: DatabaseSchema | None, table: str) -> str | None:
        if db is None:
            return None
        try:
            self._catalog.check_new_table(db, table)
        except LimitExceededError as error:
            return error.message
        return None

    def _store(self, database: str, accepted: list[ValidatedTable], *, sync: bool) -> int:
        if not accepted:
            return 0
        write = WalWrite(database, [TableWrite(v.table, v.batch) for v in accepted if v.batch])
        sequence = self._wal.append(encode_write(write), sync=sync)
        rows = 0
        try:
            for table_write in write.tables:
                self._buffers.append(database, table_write.table, sequence, table_write.batch)
                rows += table_write.batch.num_rows
        finally:
            self._feed.acknowledge(sequence, write)  # the watermark moves; readers wake
        if sync and self._replication is not None:
            self._replication.wait_replicated(sequence)
        return rows

    def _check_writable(self, ddl: bool = False) -> None:
        """A replica refuses writes and DDL, a query node writes, naming where they go."""
        if self._replication is not None:
            self._replication.check_writable()
        if self._router is not None and not ddl:
            self._router.check_writable()

    def _check_memory(self) -> None:
        limit = self._settings.buffer_memory_limit
        if self._buffers.total_bytes > limit:
            raise BufferFullError(
                f"write buffer is full ({self._buffers.total_bytes} of {limit} bytes); retry later",
                retry_after=5,
            )

    # --- databases -------------------------------------------------------------------------

    def database_names(self) -> list[str]:
        """Every database, sorted."""
        return self._catalog.database_names()

    def has_database(self, name: str) -> bool:
        """Whether the database exists."""
        return self._catalog.has_database(name)

    def table_names(self, name: str) -> list[str]:
        """The tables of a database, sorted (``DatabaseNotFoundError`` if there is none)."""
        with self._catalog.lock:
            return sorted(self._catalog.database(name).tables)

    def retention_ns(self, name: str) -> int | None:
        """How long a database keeps rows, in nanoseconds (None: forever)."""
        return self._catalog.database(name).retention_ns

    def existing_table_schema(self, database: str, table: str) -> pa.Schema:
        """The Arrow schema of a table (``DatabaseNotFoundError``, ``TableNotFoundError``)."""
        return self._catalog.table_schema(database, table)

    def add_cache(self, database: str, config: CacheConfig) -> None:
        """Keep a cache configuration (in ``catalog.json``); queries rebuild the table's caches."""
        self._catalog.add_cache(database, config)
        self._caches.forget_caches(database, config.table)

    def settings(self, database: str, kind: str) -> dict[str, dict[str, object]]:
        """A database's named definitions of one kind (``DatabaseNotFoundError``)."""
        self._catalog.database(database)
        return {n: r for db, n, r in self._catalog.objects(kind) if db == database}

    def put_setting(
        self, database: str, kind: str, name: str, value: dict[str, object] | None
    ) -> None:
        """Keep (None: forget) a named definition, on disk before this returns."""
        with self._catalog.lock:
            if name in self.settings(database, kind):
                self._catalog.remove_object(kind, database, name)
            if value is not None:
                self._catalog.add_object(kind, database, name, value)

    def remove_cache(self, database: str, kind: CacheKind, table: str, name: str) -> None:
        """Forget a cache configuration (``NotFoundError`` if there is none of that name)."""
        self._catalog.remove_cache(database, kind, table, name)
        self._caches.forget_caches(database, table)

    def table_schema(self, database: str, table: str) -> pa.Schema | None:
        """The Arrow schema of a table (None when it or its database does not exist yet)."""
        with self._catalog.lock:
            if not self._catalog.has_database(database):
                return None
            stored = self._catalog.database(database).tables.get(table)
            return None if stored is None else stored.arrow_schema()

    def create_database(
        self,
        name: str,
        retention_ns: int | None = None,
        partition_by: Sequence[str] | None = None,
    ) -> None:
        """Create an empty database, optionally with a retention period and a default
        partition spec for its new tables (``iox_catalog.partition_template``)."""
        self._check_writable(ddl=True)
        db = self._catalog.create_database(name)
        db.retention_ns = retention_ns
        self._iceberg.create_database(name, retention_ns, partition_by)

    def set_retention(self, name: str, retention_ns: int | None) -> None:
        """Change how long a database keeps rows (None: forever)."""
        self._check_writable(ddl=True)
        with self._catalog.changing_shared(name):  # a tick listing before this ends skips it
            self._catalog.database(name).retention_ns = retention_ns
            self._iceberg.create_database(name)
            self._iceberg.set_retention_ns(name, retention_ns)

    def delete_database(self, name: str) -> None:
        """Delete a database, everything buffered for it and its files."""
        self._check_writable(ddl=True)
        validate_database_name(name)
        # Until the shared catalog's drop returns, a tick's listing may still hold it.
        with self._catalog.changing_shared(name):
            self._catalog.delete_database(name, self._wal.last_sequence)
            self._buffers.drop_database(name)
            self._caches.forget_database(name)
            self._iceberg.drop_database(name)
        self._metrics.forget_database(name)

    def close(self) -> None:
        """Flush and close the WAL."""
        self._wal.close()


def _require_write(principal: Principal, database: str) -> None:
    """The name is valid and ``principal`` may write into it (creating it, if new)."""
    validate_database_name(database)
    Authorizer.require(principal, Action.WRITE, database)


def _all_or_nothing_error(errors: list[LineError]) -> LineProtocolError:
    first = errors[0]
    return LineProtocolError(f"write rejected: line {first.line_number}: {first.message}", [first])
