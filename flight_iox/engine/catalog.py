"""The in-memory schema catalog: databases, tables, and each column's role and type.

Table schemas are rebuilt from the WAL on start (every WAL batch carries its
columns' roles), so only what the WAL cannot say is kept on disk, in
``catalog.json``: databases created empty, databases deleted (with the WAL
sequence at deletion, so replay skips their older writes), each database's
last-value and distinct-value cache configurations (``cache_config.py``), and other named
definitions kept per database as JSON records (``objects``: subscriptions, continuous
queries, the retention policy's name). The persistence
issue moves this into the Iceberg catalog.
"""

from __future__ import annotations

import contextlib
import json
import math
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from flight_iox.columns import TIME_COLUMN, TIME_TYPE, ColumnRole, role_field, role_of
from flight_iox.config import Limits
from flight_iox.engine.cache_config import CacheConfig, CacheKind, from_json, to_json
from flight_iox.errors import (
    AlreadyExistsError,
    DatabaseNotFoundError,
    LimitExceededError,
    NotFoundError,
    TableNotFoundError,
)
from flight_iox.json_file import write_json_atomically
from flight_iox.names import validate_database_name


@dataclass(frozen=True)
class Column:
    """One column of a table: its role and Arrow type."""

    role: ColumnRole
    data_type: pa.DataType


@dataclass
class TableSchema:
    """The columns of one table; mutated only under the catalog lock."""

    name: str
    columns: dict[str, Column] = field(default_factory=dict)
    _arrow: tuple[tuple[tuple[str, Column], ...], pa.Schema] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    def arrow_schema(self) -> pa.Schema:
        """Columns sorted by name (as IOx does), each tagged with its role.

        Built again only when the columns changed (queries ask for it on every call).
        """
        columns = tuple(self.columns.items())
        if self._arrow is None or self._arrow[0] != columns:
            schema = pa.schema(role_field(n, c.data_type, c.role) for n, c in sorted(columns))
            self._arrow = (columns, schema)
        return self._arrow[1]

    def tag_names(self) -> list[str]:
        """The tag columns, sorted: with time they form the primary key."""
        return sorted(n for n, c in self.columns.items() if c.role is ColumnRole.TAG)


@dataclass
class DatabaseSchema:
    """The tables of one database."""

    name: str
    tables: dict[str, TableSchema] = field(default_factory=dict)
    retention_ns: int | None = None


class SchemaCatalog:
    """Thread-safe registry of databases and table schemas.

    Writers hold ``lock`` while they validate a write and add its new columns,
    so two concurrent writes can never give one column two types.
    """

    def __init__(self, state_path: Path, limits: Limits) -> None:
        self.lock = threading.RLock()
        self.limits = limits
        self._state_path = state_path
        self._databases: dict[str, DatabaseSchema] = {}
        self._deleted: dict[str, int] = {}
        # When this process's deletes and retention changes of databases ended (monotonic;
        # inf while one runs). Not saved: the catalog follower asks it to tell a listing
        # taken before them (stale) from a change made elsewhere.
        self._changes_ended: dict[str, float] = {}
        self._deleted_tables: dict[str, int] = {}
        self._caches: dict[str, dict[tuple[CacheKind, str, str], CacheConfig]] = {}
        self._objects: dict[str, dict[str, dict[str, dict[str, object]]]] = {}
        self._load_state()

    # --- databases -------------------------------------------------------------------------

    def database_names(self) -> list[str]:
        """All databases, sorted."""
        with self.lock:
            return sorted(self._databases)

    def has_database(self, name: str) -> bool:
        """Whether the database exists."""
        return name in self._databases

    def database(self, name: str) -> DatabaseSchema:
        """The database, or ``DatabaseNotFoundError``."""
        try:
            return self._databases[name]
        except KeyError:
            raise DatabaseNotFoundError(name) from None

    def table_schema(self, database: str, table: str) -> pa.Schema:
        """A table's Arrow schema, or ``DatabaseNotFoundError`` / ``TableNotFoundError``."""
        with self.lock:
            stored = self.database(database).tables.get(table)
            if stored is None:
                raise TableNotFoundError(f"table not found: {database}.{table}")
            return stored.arrow_schema()

    def create_database(self, name: str, *, exist_ok: bool = False) -> DatabaseSchema:
        """Create a database (validating its name and the limit) and record it on disk."""
        validate_database_name(name)
        with self.lock:
            existing = self._databases.get(name)
            if existing is not None:
                if exist_ok:
                    return existing
                raise AlreadyExistsError(f"database already exists: {name!r}")
            if len(self._databases) >= self.limits.max_databases:
                raise LimitExceededError(
                    f"cannot create database {name!r}: the limit of "
                    f"{self.limits.max_databases} databases is reached"
                )
            db = self._databases[name] = DatabaseSchema(name)
            try:
                self._save_state()
            except BaseException:  # not on disk, so not created (a full disk, say)
                del self._databases[name]
                raise
            return db

    def delete_database(self, name: str, wal_sequence: int) -> None:
        """Forget a database; WAL entries up to ``wal_sequence`` will not bring it back.

        A caller that drops it from the shared catalog next does both inside
        ``changing_shared`` (until then the follower does not take it from a listing).
        """
        with self.lock:
            if name not in self._databases:
                raise DatabaseNotFoundError(name)
            del self._databases[name]
            self._deleted[name] = wal_sequence
            running = self._changes_ended.get(name, -math.inf)  # inf inside changing_shared
            self._changes_ended[name] = max(running, time.monotonic())
            self._caches.pop(name, None)
            for held in self._objects.values():
                held.pop(name, None)
            self._save_state()

    @contextlib.contextmanager
    def changing_shared(self, name: str) -> Iterator[None]:
        """Mark ``name`` as being changed (retention) or deleted here, in memory and then in
        the shared catalog.

        Until the block ends (and for listings taken before its end) ``changed_since``
        says so, and the follower does not apply a listing that predates the change: it
        would put the old value back (a retention cleared here read back as the old period
        until the next tick, seen in CI).
        """
        with self.lock:
            self._changes_ended[name] = math.inf
        try:
            yield
        finally:
            with self.lock:
                self._changes_ended[name] = time.monotonic()

    def changed_since(self, name: str, since: float) -> bool:
        """Whether a delete or retention change of ``name`` here was running or ended at or
        after ``since``.

        A listing of the shared catalog taken at ``since`` may still hold the database as it
        was before: the follower must not apply it (its next listing decides).
        """
        with self.lock:
            return self._changes_ended.get(name, -math.inf) >= since

    def forget_changes_ended_before(self, since: float) -> None:
        """Drop the ends before ``since``: no listing taken at or after it can predate them.

        The follower calls this with each new listing's time, which only grows, so the
        record stays as small as the changes a listing may still be racing.
        """
        with self.lock:
            ended = [name for name, at in self._changes_ended.items() if at < since]
            for name in ended:
                del self._changes_ended[name]

    def drop_table(self, database: str, table: str, wal_sequence: int) -> None:
        """Forget a table; WAL entries up to ``wal_sequence`` will not bring it back."""
        with self.lock:
            self.database(database).tables.pop(table, None)
            self._deleted_tables[f"{database}/{table}"] = wal_sequence
            held = self._caches.get(database, {})
            for key in [k for k in held if k[1] == table]:
                del held[key]
            self._save_state()

    def table_deleted_through(self, database: str, table: str) -> int:
        """The WAL sequence up to which writes to the table were dropped (0 if never)."""
        return self._deleted_tables.get(f"{database}/{table}", 0)

    def deleted_through(self, name: str) -> int:
        """The WAL sequence up to which writes to ``name`` were deleted (0 if never)."""
        return self._deleted.get(name, 0)

    # --- caches ----------------------------------------------------------------------------

    def caches(self, database: str, kind: CacheKind | None = None) -> list[CacheConfig]:
        """A database's cache configurations (of one ``kind``, if given), by table and name."""
        with self.lock:
            held = self._caches.get(database, {})
            return [held[k] for k in sorted(held) if kind in (None, k[0])]

    def add_cache(self, database: str, config: CacheConfig) -> None:
        """Record a new cache configuration on disk (``AlreadyExistsError``: name taken)."""
        with self.lock:
            self.database(database)
            held = self._caches.setdefault(database, {})
            key = (config.kind, config.table, config.name)
            if key in held:
                where = f"{database}.{config.table}"
                raise AlreadyExistsError(f"{config.kind} cache {config.name!r} exists on {where}")
            held[key] = config
            try:
                self._save_state()
            except BaseException:  # not on disk, so not created
                del held[key]
                raise

    def remove_cache(self, database: str, kind: CacheKind, table: str, name: str) -> None:
        """Forget a cache configuration (``NotFoundError`` if there is none of that name)."""
        with self.lock:
            self.database(database)
            held = self._caches.get(database, {})
            if held.pop((kind, table, name), None) is None:
                raise NotFoundError(f"no {kind} cache {name!r} on table {database}.{table}")
            self._save_state()

    # --- named definitions (subscriptions, ...) ---------------------------------------------

    def objects(self, kind: str) -> list[tuple[str, str, dict[str, object]]]:
        """Every definition of ``kind`` as (database, name, record), sorted."""
        with self.lock:
            held = self._objects.get(kind, {})
            return [(db, n, dict(r)) for db in sorted(held) for n, r in sorted(held[db].items())]

    def add_object(self, kind: str, database: str, name: str, record: dict[str, object]) -> None:
        """Record a definition on disk (``AlreadyExistsError``: the name is taken)."""
        with self.lock:
            self.database(database)
            held = self._objects.setdefault(kind, {}).setdefault(database, {})
            if name in held:
                raise AlreadyExistsError(f"{kind} {name!r} already exists on {database!r}")
            held[name] = dict(record)
            try:
                self._save_state()
            except BaseException:  # not on disk, so not created
                del held[name]
                raise

    def replace_object(
        self, kind: str, database: str, name: str, record: dict[str, object]
    ) -> None:
        """Change a definition on disk (``NotFoundError`` if there is none of that name)."""
        with self.lock:
            held = self._objects.get(kind, {}).get(database, {})
            if name not in held:
                raise NotFoundError(f"{kind} not found: {name!r} on {database!r}")
            before, held[name] = held[name], dict(record)
            try:
                self._save_state()
            except BaseException:  # not on disk, so not changed
                held[name] = before
                raise

    def remove_object(self, kind: str, database: str, name: str) -> None:
        """Forget a definition (``NotFoundError`` if there is none of that name)."""
        with self.lock:
            held = self._objects.get(kind, {}).get(database, {})
            if held.pop(name, None) is None:
                raise NotFoundError(f"{kind} not found: {name!r} on {database!r}")
            self._save_state()

    # --- tables ----------------------------------------------------------------------------

    def check_new_table(self, db: DatabaseSchema, table: str) -> None:
        """Raise ``LimitExceededError`` if ``db`` cannot take one more table."""
        if table not in db.tables and len(db.tables) >= self.limits.max_tables_per_database:
            raise LimitExceededError(
                f"cannot create table {table!r}: database {db.name!r} has reached the limit of "
                f"{self.limits.max_tables_per_database} tables"
            )

    def add_columns(self, db: DatabaseSchema, table: str, columns: dict[str, Column]) -> None:
        """Add already-validated new columns (and the table, if new). Call under ``lock``."""
        schema = db.tables.get(table)
        if schema is None:
            schema = db.tables[table] = TableSchema(table)
            schema.columns[TIME_COLUMN] = Column(ColumnRole.TIME, TIME_TYPE)
        schema.columns.update(columns)

    def apply_replayed_schema(self, database: str, table: str, schema: pa.Schema) -> None:
        """Register the columns of a batch read back from the WAL."""
        with self.lock:
            db = self._databases.get(database)
            if db is None:
                db = self._databases[database] = DatabaseSchema(database)
            columns = {f.name: Column(role_of(f), f.type) for f in schema}
            self.add_columns(db, table, columns)

    # --- state on disk ---------------------------------------------------------------------

    def _load_state(self) -> None:
        if not self._state_path.exists():
            return
        state = json.loads(self._state_path.read_text())
        self._databases = {n: DatabaseSchema(n) for n in state.get("databases", [])}
        self._deleted = {n: int(s) for n, s in state.get("deleted", {}).items()}
        self._deleted_tables = {n: int(s) for n, s in state.get("deleted_tables", {}).items()}
        for database, stored in state.get("caches", {}).items():
            configs = [from_json(c) for c in stored]
            self._caches[database] = {(c.kind, c.table, c.name): c for c in configs}
        self._objects = state.get("objects", {})

    def _save_state(self) -> None:
        state = {
            "databases": sorted(self._databases),
            "deleted": self._deleted,
            "deleted_tables": self._deleted_tables,
            "caches": {
                db: [to_json(c) for c in held.values()] for db, held in self._caches.items() if held
            },
            "objects": self._objects,
        }
        write_json_atomically(self._state_path, state)
