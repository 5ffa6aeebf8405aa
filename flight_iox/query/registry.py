"""The DataFusion catalogs of every database, kept in step with the buffers one database at a time.

Each database is a DataFusion catalog holding schema ``iox``; the same catalog objects are
registered in every context (``contexts.py``), so ``db.iox.table`` resolves from any of them.
Each database has two catalog objects sharing one ``iox`` schema: the full one, whose
``system`` schema also holds the admin-only server-wide tables (``system.tokens``), and the
scoped one without them.

A table is registered again only when its buffer changed since it was last registered,
and only when a statement may read it. Versions are per table (``BufferSet.version``, the
table's column count, its database's retention): a query refreshes only the tables of the
databases it can read whose names it spells (``reads.py``), and its cached schema and plan
are keyed by exactly those tables' versions, so a write to one table leaves every other
table's registration, and the statements cached over them, alone. A statement naming
``system`` (or listing every table) reads every table of the database, and the ``system``
tables, which are rebuilt when any table of the database changed.

A refresh also deregisters the tables of its databases the catalog no longer holds (and a
deleted database's): a drop reaches the catalog before its dropper (this server's or the
follower of another's) calls ``forget_table``, and a statement keyed in between, by a state
without the table, must not resolve it (its plan would be kept under that state).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import NamedTuple

import pyarrow as pa
from datafusion.catalog import Catalog, Schema, Table

from flight_iox.engine.buffer import BufferSet, TableSnapshot
from flight_iox.engine.catalog import SchemaCatalog
from flight_iox.query.configured_caches import cache_system_tables
from flight_iox.query.reads import reads_system_rows, tables_read
from flight_iox.query.remote import RemoteTable, RemoteTables
from flight_iox.query.scan_plan import statement_needs
from flight_iox.query.system_tables import SYSTEM_SCHEMA, SystemTable, system_tables
from flight_iox.query.tables import TableBuilder

USER_SCHEMA = "iox"
# What a statement's cached schema and plan were made over: each database it can read,
# with that database's state (its identity, retention and the versions of the tables read).
State = tuple[tuple[str, tuple[object, ...]], ...]
# One table's state: its name, buffer version (plus other nodes' token) and column count.
TableState = tuple[str, tuple[object, ...], int]
# What a table was registered as: its buffer version, column count and retention.
Registered = tuple[tuple[object, ...], int, int | None]


class DatabaseState(NamedTuple):
    """What the tables a statement reads of one database depend on, as the catalog has them."""

    key: tuple[object, ...]  # the database's part of a statement's ``State``
    tables: tuple[TableState, ...]  # the tables' part of it
    schemas: dict[str, pa.Schema]  # theirs
    every: bool  # whether that is every table of the database
    dropped: list[str]  # tables registered here that the catalog no longer holds


@dataclass
class Registration:
    """A registered table: what its provider was built of (pruned providers reuse it).

    ``lazy``: the table has files, and what is registered is an empty stand-in; statements
    are planned over a pruned provider or the full one (``full``, built on first need), so
    a write no longer rebuilds a view over every file before each query.
    """

    schema: pa.Schema
    snapshot: TableSnapshot
    retention_ns: int | None
    provider: Table  # what the catalog holds between statements
    registered: Registered
    lazy: bool = False
    full: Table | None = None


def memory(data: pa.Table) -> TableSnapshot:
    """An in-memory table as a snapshot with no files."""
    return TableSnapshot((), data)


def new_catalog() -> tuple[Catalog, Schema]:
    """An empty catalog holding an empty ``iox`` schema."""
    df_catalog = Catalog.memory_catalog()
    df_schema = Schema.memory_schema()
    df_catalog.register_schema(USER_SCHEMA, df_schema)
    return df_catalog, df_schema


class TableRegistry:
    """Registers each database's tables and system tables, refreshed per database."""

    def __init__(
        self,
        catalog: SchemaCatalog,
        buffers: BufferSet,
        tables: TableBuilder,
        remote: RemoteTables | None = None,
    ) -> None:
        """``remote`` (a query node's) brings other nodes' unpersisted rows in (``remote.py``):
        fetched for each statement, before its tables' versions are read."""
        self._catalog = catalog
        self._remote = remote
        self._remote_tables: dict[tuple[str, str], RemoteTable] = {}
        self._buffers = buffers
        self._tables = tables
        self.lock = threading.RLock()
        self.catalogs: dict[str, tuple[Catalog, Schema]] = {}  # full: admin tables too
        self.scoped_catalogs: dict[str, Catalog] = {}  # same ``iox``, no admin-only tables
        self.registered: dict[tuple[str, str], Registered] = {}
        self.sources: dict[tuple[str, str], Registration] = {}  # what each was built of
        self._names: dict[str, set[str]] = {}  # the user tables registered, by database
        self._system_states: dict[str, tuple[object, ...]] = {}  # what each system was built of
        self._system_ready: set[str] = set()
        self._global_system: dict[str, SystemTable] = {}
        self._live_built: dict[str, tuple[int, ...]] = {}  # live tables' versions, as built

    def refresh(
        self,
        databases: Iterable[str],
        sql: str | None = None,
        default: str | None = None,
        *,
        fetch_remote: bool = True,
    ) -> State:
        """Bring the tables ``sql`` may read of ``databases`` up to date; their state, for keys.

        Without ``sql``, every table (and the ``system`` tables). Unknown names are skipped
        (they do not resolve; the state says so by omission). ``default``: the database
        unqualified names resolve in (what a query node needs of each table depends on
        it). Call with ``lock`` held when the answer must match the registered tables.
        ``fetch_remote=False``: keep the rows last fetched from other nodes (a plan right
        after its statement's key fetched them).
        """
        state = []
        databases = list(databases)
        with self.lock:
            needs = None
            source = self._remote if sql is not None and fetch_remote else None
            if source is not None and sql is not None:
                known = self._known_schemas(databases, sql)
                needs = None if known is None else statement_needs(sql, default, known)
            for name in databases:
                if source is not None:
                    wanted = None if needs is None else needs.get(name, {})
                    for table, remote in source.fetch(name, sql, wanted).items():
                        self._remote_tables[(name, table)] = remote
                current = self._state(name, sql)
                if current is None:
                    if self._names.get(name):  # deleted: its forget has not come yet
                        self.forget_database(name)
                    continue
                key, tables, schemas, every, dropped = current
                for table in dropped:  # their forget has not come yet
                    self.forget_table(name, table)
                self._refresh_database(name, key, tables, schemas, every)
                if sql is not None and every and reads_system_rows(sql):
                    key = (*key, self._refresh_live(name, schemas))
                state.append((name, key))
        return tuple(state)

    def _known_schemas(
        self, databases: list[str], sql: str
    ) -> dict[str, dict[str, pa.Schema]] | None:
        """The schemas this node knows of the tables ``sql`` may read (``scan_plan.py``);
        None when it may read every table (a listing, the ``system`` tables)."""
        known: dict[str, dict[str, pa.Schema]] = {}
        with self._catalog.lock:
            for name in databases:
                if not self._catalog.has_database(name):
                    continue
                tables = self._catalog.database(name).tables
                read = tables_read(sql, tables)
                if read is None:
                    return None
                known[name] = {t: tables[t].arrow_schema() for t in read}
        return known

    def _refresh_live(self, database: str, schemas: dict[str, pa.Schema]) -> tuple[int, ...]:
        """Rebuild the system tables if a live one's source moved; the live versions.

        Only statements that may read the rows of ``system`` tables ask (not a refresh
        without SQL, as every plan makes, nor a listing such as ``information_schema``),
        so the query log changing with every query costs other statements nothing: a
        listing run after each query (the auth tests' fingerprint, a client's table
        browser) rebuilt every system table of each database it held, and was planned
        again, each time.
        """
        live = tuple(t.version() for t in self._global_system.values() if t.version)
        if live and self._live_built.get(database) != live:
            self._refresh_system_tables(database, schemas)
            self._live_built[database] = live
        return live

    def set_system_table(self, name: str, table: SystemTable) -> None:
        """Add ``system.<name>`` to every database at its next refresh."""
        with self.lock:
            self._global_system[name] = table
            self._system_ready.clear()

    def invalidate_system_tables(self) -> None:
        """Rebuild every database's system tables at its next refresh."""
        with self.lock:
            self._system_ready.clear()

    def forget_table(self, database: str, table: str) -> None:
        """Deregister a dropped table."""
        with self.lock:
            pair = self.catalogs.get(database)
            if pair is not None and pair[1].table_exist(table):
                pair[1].deregister_table(table)
            self.forget_version(database, table)
            self.sources.pop((database, table), None)
            self._names.get(database, set()).discard(table)
            self._remote_tables.pop((database, table), None)

    def forget_version(self, database: str, table: str) -> None:
        """Register ``table`` again at the next refresh that reads it."""
        with self.lock:
            self.registered.pop((database, table), None)
            self._system_ready.discard(database)

    def forget_database(self, database: str) -> None:
        """Deregister a deleted database's tables."""
        with self.lock:
            pair = self.catalogs.get(database)
            if pair is not None:
                for name in list(pair[1].names()):
                    pair[1].deregister_table(name)
            self.registered = {k: v for k, v in self.registered.items() if k[0] != database}
            self.sources = {k: v for k, v in self.sources.items() if k[0] != database}
            self._names.pop(database, None)
            self._remote_tables = {k: v for k, v in self._remote_tables.items() if k[0] != database}
            self._system_ready.discard(database)

    def _state(self, database: str, sql: str | None) -> DatabaseState | None:
        """What the tables ``sql`` reads of a database depend on (None: no such database)."""
        with self._catalog.lock:
            if not self._catalog.has_database(database):
                return None
            db = self._catalog.database(database)
            dropped = [name for name in self._names.get(database, ()) if name not in db.tables]
            read = None if sql is None else tables_read(sql, db.tables)
            schemas = {
                name: table.arrow_schema()
                for name, table in db.tables.items()
                if read is None or name in read
            }
            retention_ns = db.retention_ns
            identity = id(db)
        # Versions after the schemas: a table's rows are at least as new as its schema.
        tables: tuple[TableState, ...] = tuple(
            (name, self._version(database, name), len(schema))
            for name, schema in sorted(schemas.items())
        )
        return DatabaseState(
            (identity, retention_ns, tables), tables, schemas, read is None, dropped
        )

    def _version(self, database: str, table: str) -> tuple[object, ...]:
        """The table's buffer version, and the other nodes' token when they hold some of it."""
        version: tuple[object, ...] = self._buffers.version(database, table)
        remote = self._remote_tables.get((database, table))
        return version if remote is None else (*version, remote.token)

    def _refresh_database(
        self,
        database: str,
        key: tuple[object, ...],
        tables: tuple[TableState, ...],
        schemas: dict[str, pa.Schema],
        every: bool,
    ) -> None:
        """Register again the ``tables`` whose version moved; with ``every`` (all of them),
        the system tables too when any table changed since they were built."""
        retention_ns = key[1]
        assert retention_ns is None or isinstance(retention_ns, int)
        if database not in self.catalogs:
            self.catalogs[database] = new_catalog()
            self.scoped_catalogs[database] = Catalog.memory_catalog()
            self.scoped_catalogs[database].register_schema(USER_SCHEMA, self.catalogs[database][1])
        files_changed = False
        df_schema = self.catalogs[database][1]
        for name, version, columns in tables:
            registered = (version, columns, retention_ns)
            before = self.registered.get((database, name))
            if before == registered:
                continue
            files_changed |= before is None or before[0][::2] != version[::2]
            schema = schemas[name]
            snapshot = self._buffers.snapshot(database, name, schema)
            remote = self._remote_tables.get((database, name))
            if remote is not None:
                snapshot = remote.merged(snapshot, schema)
                files_changed = True
            lazy = bool(snapshot.files)
            if lazy:
                provider = self._tables.stand_in(schema, f"{database}.{name}")
            else:
                provider = self._tables.provider(
                    schema, snapshot, retention_ns, f"{database}.{name}"
                )
            if df_schema.table_exist(name):
                df_schema.deregister_table(name)
            df_schema.register_table(name, provider)
            self.registered[(database, name)] = registered
            self._names.setdefault(database, set()).add(name)
            self.sources[(database, name)] = Registration(
                schema, snapshot, retention_ns, provider, registered, lazy
            )
        if files_changed:
            self._tables.forget_files(
                {
                    f.path
                    for db_name, t in self._buffers.tables()
                    for f in self._buffers.table(db_name, t).files
                }
                | {f.path for r in self._remote_tables.values() for fs in r.file_lists for f in fs}
            )
        stale = self._system_states.get(database) != key or database not in self._system_ready
        if every and stale:
            self._refresh_system_tables(database, schemas)
            self._system_states[database] = key

    def source(self, database: str, name: str) -> Registration | None:
        """What a table was last registered from (a statement's key refreshed it)."""
        with self.lock:
            return self.sources.get((database, name))

    def full_provider(self, database: str, name: str) -> Table:
        """The table over every file and its buffer (built once per registration)."""
        found = self.sources[(database, name)]
        if found.full is None:
            label = f"{database}.{name}"
            found.full = self._tables.provider(
                found.schema, found.snapshot, found.retention_ns, label
            )
        return found.full

    def whole_in_memory(self, database: str, name: str) -> bool:
        """Whether a plan over all of the table reads one in-memory table (``full_provider``,
        or the buffer's when it has no file), whose exact row count DataFusion knows."""
        with self.lock:
            found = self.sources.get((database, name))
            if found is None:
                return False
            provider = self.full_provider(database, name) if found.lazy else found.provider
        return provider.kind == "physical"

    @contextlib.contextmanager
    def swapped(self, providers: Mapping[tuple[str, str], Table]) -> Iterator[None]:
        """Resolve these tables to these providers (pruned or full) while planning one statement.

        Hold ``lock`` throughout: every statement is planned under it, so no other statement
        sees them; a plan keeps the providers it resolved, so restoring afterwards is safe.
        """
        for (database, name), provider in providers.items():
            df_schema = self.catalogs[database][1]
            df_schema.deregister_table(name)
            df_schema.register_table(name, provider)
        try:
            yield
        finally:
            for database, name in providers:
                df_schema = self.catalogs[database][1]
                df_schema.deregister_table(name)
                df_schema.register_table(name, self.sources[(database, name)].provider)

    def _refresh_system_tables(self, database: str, schemas: dict[str, pa.Schema]) -> None:
        """Rebuild a database's ``system`` schemas: full (admin) and scoped."""
        full, scoped = Schema.memory_schema(), Schema.memory_schema()
        tables = system_tables(database, schemas, self._buffers, self._tables.shares())
        tables.update(cache_system_tables(self._catalog.caches(database)))
        for name, data in tables.items():
            provider = self._tables.provider(data.schema, memory(data))
            full.register_table(name, provider)
            scoped.register_table(name, provider)
        for name, table in self._global_system.items():
            data = table.build()
            provider = self._tables.provider(data.schema, memory(data))
            full.register_table(name, provider)
            if table.scoped is not None:
                rows = table.scoped(database)
                scoped.register_table(name, self._tables.provider(rows.schema, memory(rows)))
            elif not table.admin_only:
                scoped.register_table(name, provider)
        for df_catalog, system in (
            (self.catalogs[database][0], full),
            (self.scoped_catalogs[database], scoped),
        ):
            if SYSTEM_SCHEMA in df_catalog.schema_names():
                df_catalog.deregister_schema(SYSTEM_SCHEMA)
            df_catalog.register_schema(SYSTEM_SCHEMA, system)
        self._system_ready.add(database)
