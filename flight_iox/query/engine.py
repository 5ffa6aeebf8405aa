"""DataFusion SQL over every database, with warm contexts.

Each database is a DataFusion catalog holding schema ``iox``; the same catalog
objects are registered in every context, so ``db.iox.table`` resolves from any
of them. There is one long-lived context per default database (the one a
request names), so unqualified table names resolve without a per-query context.
A table is re-registered only when its buffer changed since the last query, and
when nothing changed anywhere (``buffer.change_count`` and the catalog's shape) the
refresh is a comparison. Result schemas and plans are kept per statement and table
state (``statement_cache.py``), so a Flight SQL query is planned once, and a repeated
statement that does not read the time not at all.

Who may read what is decided by which catalogs a context holds (``Scope``): the
methods here serve every database (admin tokens, auth off, the server's own
callers), and ``scoped(principal)`` (``scoped.py``) serves one principal from
contexts that hold only the databases it may read, so an unreadable database does
not resolve in any syntax. Each database has two catalog objects sharing one ``iox``
schema: the full one, whose ``system`` schema also holds the admin-only server-wide
tables (``system.tokens``), and the scoped one without them.
"""

from __future__ import annotations

import functools
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence

import pyarrow as pa
from datafusion import DataFrame, SessionConfig, SessionContext, SQLOptions
from datafusion.catalog import Catalog, Schema

from flight_iox.auth.policy import Principal
from flight_iox.config import QueryLimits
from flight_iox.engine.buffer import BufferSet, TableSnapshot, change_count
from flight_iox.engine.catalog import SchemaCatalog
from flight_iox.errors import DatabaseNotFoundError, NotSupportedError, QueryError, query_error
from flight_iox.influxql.iox_sql import rewrite_iox_sql
from flight_iox.query.engine_errors import is_engine_error
from flight_iox.query.execution import QueryRunner, clear_spill_dir, runtime_env
from flight_iox.query.file_cache import FileCache
from flight_iox.query.last_cache import LastValueCache, latest_file_rows, referenced_tables
from flight_iox.query.limits import check_expression_depth
from flight_iox.query.placeholders import (
    parameter_values,
    rewrite_placeholders,
    typed_placeholders,
)
from flight_iox.query.scoped import ScopedQuery
from flight_iox.query.statement_cache import StatementCache, params_key, time_dependent
from flight_iox.query.system_tables import SYSTEM_SCHEMA, system_tables
from flight_iox.query.tables import PARQUET_OPTIONS, SchemaCheck, TableBuilder
from iox_catalog.files import DataFile

USER_SCHEMA = "iox"
NO_DATABASE = "__no_database__"
# The databases a context holds: None for every one (and the admin-only system tables),
# else exactly these names.
Scope = frozenset[str] | None
# Contexts kept for scoped principals (per default database and readable set), LRU.
SCOPED_CONTEXTS = 128
UpdateHandler = Callable[[str | None, str, Sequence[object], Principal], int]
_READ_ONLY = SQLOptions().with_allow_ddl(False).with_allow_dml(False).with_allow_statements(False)


class QueryEngine:
    """Plans and runs SQL; implements the Flight SQL service's ``QueryBackend``."""

    def __init__(
        self,
        catalog: SchemaCatalog,
        buffers: BufferSet,
        batch_size: int = 65_536,
        object_store: tuple[str, object, str] | None = None,
        file_cache: FileCache | None = None,
        file_check: SchemaCheck | None = None,
        limits: QueryLimits | None = None,
    ):
        self._limits = limits or QueryLimits()
        clear_spill_dir(self._limits.spill_dir)
        self._runner = QueryRunner(self._limits)
        self._catalog = catalog
        self._buffers = buffers
        self._batch_size = batch_size
        self._lock = threading.RLock()
        self._schemas: dict[str, tuple[Catalog, Schema]] = {}
        self._scoped_catalogs: dict[str, Catalog] = {}  # same ``iox``, no admin-only tables
        self._registered: dict[tuple[str, str], tuple[object, ...]] = {}
        self._system_ready: set[str] = set()
        self._contexts: dict[str, tuple[SessionContext, set[str]]] = {}
        self._scoped_contexts: OrderedDict[tuple[str, Scope], tuple[SessionContext, set[str]]]
        self._scoped_contexts = OrderedDict()
        self._state: tuple[object, ...] | None = None  # what the last full refresh saw
        self._statements = StatementCache()
        self._tables = TableBuilder(max(1, os.cpu_count() or 1), file_cache, file_check)
        self._object_store = object_store
        self._update_handler: UpdateHandler | None = None
        self._global_system: dict[str, tuple[Callable[[], pa.Table], bool]] = {}
        self._last_cache = LastValueCache(
            lambda data: self._tables.provider(data.schema, _memory(data))
        )
        if object_store is not None:
            self._tables.context.register_object_store(*object_store)

    def scoped(self, principal: Principal) -> ScopedQuery:
        """This engine as ``principal`` sees it (a ``QueryBackend`` and ``UpdateBackend``)."""
        return ScopedQuery(self, principal)

    # --- the QueryBackend protocol (every database) ----------------------------------------

    def database_names(self) -> list[str]:
        """All databases, sorted."""
        return self._catalog.database_names()

    def table_schemas(self, database: str) -> dict[str, pa.Schema]:
        """The Arrow schema of each user table of a database."""
        with self._catalog.lock:
            db = self._catalog.database(database)
            return {name: table.arrow_schema() for name, table in sorted(db.tables.items())}

    def query_schema(
        self,
        database: str | None,
        sql: str,
        params: Sequence[object] = (),
        *,
        scope: Scope = None,
    ) -> pa.Schema:
        """The result schema of ``sql``, planned but not run (with ``params`` bound, if any).

        Bound, it is the schema ``execute`` streams (the Flight SQL layer conforms the stream).
        Cached per database, scope, SQL, parameters and table state (see ``_refresh_tables``).
        """
        if database is not None and not self._catalog.has_database(database):
            raise DatabaseNotFoundError(database)
        key = self._statement_key(database, sql, params, scope)
        schema = self._statements.schema(key)
        if schema is not None:
            return schema
        frame = self._plan(database, rewrite_iox_sql(sql)[0], params, bound=False, scope=scope)
        schema = frame.schema()
        self._statements.keep_schema(key, schema)
        if len(params) >= self.parameter_count(sql):  # fully bound: the plan can run
            self._statements.keep_plan(key, frame)
        return schema

    def parameter_count(self, sql: str) -> int:
        """How many positional parameters ``sql`` takes."""
        return rewrite_placeholders(sql)[1]

    def execute(
        self,
        database: str | None,
        sql: str,
        params: Sequence[object] | Mapping[str, object] = (),
        *,
        scope: Scope = None,
    ) -> pa.RecordBatchReader:
        """Run ``sql`` and stream its result.

        ``params`` binds ``?``/``$1..$n`` by position (a sequence) or ``$name`` by name (a mapping).
        ``scope`` limits the databases ``sql`` can name (None: all of them).
        """
        query = self._runner.start()  # a slot, a deadline, the caller's cancellation
        try:
            key = self._statement_key(database, sql, params, scope)
            reusable = self._reusable(database, sql)
            frame = self._statements.plan(key, reusable)
            sql, finish = rewrite_iox_sql(sql)  # IOx's selector_* and date_bin_gapfill
            if frame is None:
                frame = self._plan(database, sql, params, scope=scope)
                if reusable:
                    self._statements.keep_plan(key, frame)
            self._tables.raise_if_unavailable(frame)  # before any row of another source
            if finish is not None:
                return finish(query.read_all(frame)).to_reader()
            return query.reader(frame)  # the reader closes the query when it ends
        except BaseException:
            query.close()
            raise

    def execute_update(
        self, database: str | None, sql: str, params: Sequence[object] = (), *,
        principal: Principal,
    ) -> int:  # fmt: skip
        """Run DELETE, DROP or CREATE TABLE through the handler the server installed.

        The handler resolves the statement's target and checks ``principal`` on it
        before it looks the database up, so a refused caller learns nothing of it.
        """
        if self._update_handler is None:
            raise NotSupportedError("this server does not change data through SQL")
        check_expression_depth(sql, self._limits.max_expression_depth)  # WHERE of a DELETE
        return self._update_handler(database, sql, params, principal)

    def set_update_handler(self, handler: UpdateHandler) -> None:
        """Install what ``execute_update`` calls (the persistence layer's ``Deleter``)."""
        self._update_handler = handler

    def set_system_table(
        self, name: str, build: Callable[[], pa.Table], *, admin_only: bool = True
    ) -> None:
        """Add ``system.<name>`` to every database, from ``build`` (server-wide, e.g. tokens).

        A server-wide table shows every database's (or every token's) rows, so by default it
        exists only in admin contexts. The table is a snapshot: call
        ``invalidate_system_tables`` when its source changes.
        """
        with self._lock:
            self._global_system[name] = (build, admin_only)
            self._system_ready.clear()
        self._statements.forget_plans()

    def invalidate_system_tables(self) -> None:
        """Rebuild every database's system tables at the next query."""
        with self._lock:
            self._system_ready.clear()
        self._statements.forget_plans()  # they may read the old system tables

    # --- database lifecycle ----------------------------------------------------------------

    def forget_table(self, database: str, table: str) -> None:
        """Drop a dropped table from every context."""
        with self._lock:
            pair = self._schemas.get(database)
            if pair is not None and pair[1].table_exist(table):
                pair[1].deregister_table(table)
            self._registered.pop((database, table), None)
            self._system_ready.discard(database)
            self._state = None
            self._last_cache.forget(database, table)

    def recheck_files(self, database: str, table: str, paths: set[str]) -> None:
        """Check ``paths`` again when the table is next registered (``repair`` found them lost).

        A file is checked once, when first registered; DataFusion would read one deleted
        later as empty, so a lost file found later makes its table be built again.
        """
        with self._lock:
            paths = paths - self._tables.unavailable  # those are already known
            if not paths:
                return
            self._tables.forget_scans(paths)
            self._registered.pop((database, table), None)
            self._state = None
        self._statements.forget_plans()  # they hold the table as it was built

    def forget_database(self, database: str) -> None:
        """Drop a deleted database's tables from every context."""
        with self._lock:
            pair = self._schemas.get(database)
            if pair is not None:
                for name in list(pair[1].names()):
                    pair[1].deregister_table(name)
            self._registered = {k: v for k, v in self._registered.items() if k[0] != database}
            self._system_ready.discard(database)
            self._state = None
            self._last_cache.forget(database)

    # --- internals -------------------------------------------------------------------------

    def _statement_key(
        self,
        database: str | None,
        sql: str,
        params: Sequence[object] | Mapping[str, object],
        scope: Scope = None,
    ) -> tuple[object, ...]:
        """What a statement's schema and plan depend on: the scope and table state included."""
        with self._lock:
            self._refresh_tables()
            return (database, scope, sql, params_key(params), self._state)

    def _reusable(self, database: str | None, sql: str) -> bool:
        """Whether a plan of ``sql`` may run again: nothing in it depends on the time.

        Retention hides rows older than ``now()`` at planning, so no plan over a database
        with a retention period is reused; neither is SQL naming a time or random function.
        """
        if time_dependent(sql):
            return False
        with self._catalog.lock:
            names = self._catalog.database_names() if database is None else [database]
            return not any(
                self._catalog.has_database(name) and self._catalog.database(name).retention_ns
                for name in names
            )

    def _plan(
        self,
        database: str | None,
        sql: str,
        params: Sequence[object] | Mapping[str, object],
        *,
        bound: bool = True,
        scope: Scope = None,
    ) -> DataFrame:
        """Plan ``sql``; with ``bound=False`` placeholders may stay unbound (schema only)."""
        if database is not None and not self._catalog.has_database(database):
            raise DatabaseNotFoundError(database)
        check_expression_depth(sql, self._limits.max_expression_depth)  # before DataFusion
        rewritten, count = rewrite_placeholders(sql)
        values = parameter_values(params, count, bound)
        context = self._refreshed_context(database, scope)
        try:
            self._prepare_last_cache(context, database, rewritten)
            return _sql(context, rewritten, values)
        except Exception as error:
            if not is_engine_error(error):
                raise
            message = _engine_message(error)
        if count == 0:
            raise query_error(message)
        try:  # placeholders DataFusion could not type from their context, typed by their values
            return _sql(context, typed_placeholders(rewritten, params, count), values)
        except Exception as error:
            if not is_engine_error(error):
                raise
            raise QueryError(message) from None

    def _refreshed_context(self, database: str | None, scope: Scope = None) -> SessionContext:
        """The warm context for ``database`` holding the catalogs of ``scope``."""
        with self._lock:
            self._refresh_tables()
            if scope is not None:
                return self._scoped_context(database, scope)
            entry = self._contexts.get(database or NO_DATABASE)
            if entry is None:
                entry = self._contexts[database or NO_DATABASE] = self._new_context(database)
            context, known = entry
            for name, (df_catalog, _) in self._schemas.items():
                if name not in known:
                    context.register_catalog_provider(name, df_catalog)
                    known.add(name)
            return context

    def _scoped_context(self, database: str | None, scope: frozenset[str]) -> SessionContext:
        """A context per default database and readable set holding only those catalogs.

        Kept warm, least recently used dropped first; the scope is part of every statement
        key, so no plan made in one scope ever runs in another.
        """
        key = (database or NO_DATABASE, scope)
        entry = self._scoped_contexts.get(key)
        if entry is None:
            entry = self._scoped_contexts[key] = self._new_context(database)
            while len(self._scoped_contexts) > SCOPED_CONTEXTS:
                self._scoped_contexts.popitem(last=False)
        else:
            self._scoped_contexts.move_to_end(key)
        context, known = entry
        if len(known) < len(scope):
            for name in scope - known:
                if name in self._scoped_catalogs:
                    context.register_catalog_provider(name, self._scoped_catalogs[name])
                    known.add(name)
        return context

    def _new_context(self, database: str | None) -> tuple[SessionContext, set[str]]:
        # Two optimizer passes, not three: on our plans the third only confirms the
        # fixed point (same TSBS plans, 0.2-0.5 ms less planning per query).
        key = database or NO_DATABASE
        config = (
            SessionConfig({**PARQUET_OPTIONS, "datafusion.optimizer.max_passes": "2"})
            .with_default_catalog_and_schema(key, USER_SCHEMA)
            .with_information_schema(True)
            .with_batch_size(self._batch_size)
        )
        context = self._session(config)
        if self._object_store is not None:
            context.register_object_store(*self._object_store)
        # The default catalog is always ours, so a database the context may not hold never
        # resolves by the default name either (DataFusion would make an empty one).
        context.register_catalog_provider(key, self._new_catalog()[0])
        context.register_udtf(self._last_cache.function(database))
        return context, set()

    def _prepare_last_cache(self, context: SessionContext, database: str | None, sql: str) -> None:
        """Fill the last-value cache for the tables ``last_cache('t')`` names in ``sql``."""
        if database is None:
            return
        for table in referenced_tables(sql):
            with self._catalog.lock:
                db = self._catalog.database(database)
                schema = db.tables[table].arrow_schema() if table in db.tables else None
                retention_ns = db.retention_ns
            version = self._registered.get((database, table))
            if schema is None or version is None:
                continue  # the table function reports the unknown table
            self._last_cache.prepare(
                database,
                table,
                version,
                (self._buffers.version(database, table)[1], len(schema)),
                functools.partial(self._buffers.snapshot, database, table, schema),
                functools.partial(self._file_rows_of, schema, f"{database}.{table}"),
                retention_ns,
            )

    def _file_rows_of(self, schema: pa.Schema, label: str, files: tuple[DataFile, ...]) -> pa.Table:
        """``_file_last_rows`` with the files last, as the last-value cache calls it."""
        return self._file_last_rows(schema, files, label)

    def _file_last_rows(
        self, schema: pa.Schema, files: tuple[DataFile, ...], label: str
    ) -> pa.Table:
        """The latest row of each series in ``files`` (deduplicated), under ``schema``."""
        if not files:
            return schema.empty_table()
        snapshot = TableSnapshot(files, schema.empty_table())
        provider = self._tables.provider(schema, snapshot, None, label)
        context = self._session(SessionConfig(PARQUET_OPTIONS))
        if self._object_store is not None:
            context.register_object_store(*self._object_store)
        return latest_file_rows(provider, schema, context)

    def _session(self, config: SessionConfig) -> SessionContext:
        """A context under the query limits: its own fair memory pool, spilling to disk."""
        return SessionContext(config, runtime_env(self._limits))

    def _new_catalog(self) -> tuple[Catalog, Schema]:
        df_catalog = Catalog.memory_catalog()
        df_schema = Schema.memory_schema()
        df_catalog.register_schema(USER_SCHEMA, df_schema)
        return df_catalog, df_schema

    def _catalog_state(self) -> tuple[object, ...]:
        """What the registered tables depend on: every change count, database and column count."""
        changes = change_count()  # first: the state read below is at least this new
        with self._catalog.lock:
            databases = [
                (name, self._catalog.database(name)) for name in self._catalog.database_names()
            ]
            shape = tuple(
                (
                    name,
                    id(db),
                    db.retention_ns,
                    tuple((t, len(s.columns)) for t, s in db.tables.items()),
                )
                for name, db in databases
            )
        return (changes, shape)

    def _refresh_tables(self) -> None:
        state = self._catalog_state()
        if state == self._state and self._system_ready.issuperset(self._schemas):
            return
        self._refresh_all_tables()
        self._state = state

    def _refresh_all_tables(self) -> None:
        with self._catalog.lock:
            tables = [
                (db_name, name, table.arrow_schema(), self._catalog.database(db_name).retention_ns)
                for db_name in self._catalog.database_names()
                for name, table in self._catalog.database(db_name).tables.items()
            ]
            for db_name in self._catalog.database_names():
                if db_name not in self._schemas:
                    self._schemas[db_name] = self._new_catalog()
                    self._scoped_catalogs[db_name] = Catalog.memory_catalog()
                    self._scoped_catalogs[db_name].register_schema(
                        USER_SCHEMA, self._schemas[db_name][1]
                    )
        changed: set[str] = set()
        for db_name, name, schema, retention_ns in tables:
            version = (self._buffers.version(db_name, name), len(schema), retention_ns)
            if self._registered.get((db_name, name)) == version:
                continue
            changed.add(db_name)
            snapshot = self._buffers.snapshot(db_name, name, schema)
            df_schema = self._schemas[db_name][1]
            provider = self._tables.provider(schema, snapshot, retention_ns, f"{db_name}.{name}")
            if df_schema.table_exist(name):
                df_schema.deregister_table(name)
            df_schema.register_table(name, provider)
            self._registered[(db_name, name)] = version
        if changed:
            self._tables.forget_files(
                {
                    f.path
                    for db, t in self._buffers.tables()
                    for f in self._buffers.table(db, t).files
                }
            )
        for db_name in changed | (set(self._schemas) - self._system_ready):
            self._refresh_system_tables(db_name, tables)

    def _refresh_system_tables(self, database: str, tables: list[tuple]) -> None:
        """Rebuild a database's ``system`` schemas: full (admin) and scoped."""
        schemas = {name: schema for db_name, name, schema, _ in tables if db_name == database}
        full, scoped = Schema.memory_schema(), Schema.memory_schema()
        for name, data in system_tables(database, schemas, self._buffers).items():
            provider = self._tables.provider(data.schema, _memory(data))
            full.register_table(name, provider)
            scoped.register_table(name, provider)
        for name, (build, admin_only) in self._global_system.items():
            data = build()
            provider = self._tables.provider(data.schema, _memory(data))
            full.register_table(name, provider)
            if not admin_only:
                scoped.register_table(name, provider)
        for df_catalog, system in (
            (self._schemas[database][0], full),
            (self._scoped_catalogs[database], scoped),
        ):
            if SYSTEM_SCHEMA in df_catalog.schema_names():
                df_catalog.deregister_schema(SYSTEM_SCHEMA)
            df_catalog.register_schema(SYSTEM_SCHEMA, system)
        self._system_ready.add(database)


def _memory(data: pa.Table) -> TableSnapshot:
    return TableSnapshot((), data)


def _sql(context: SessionContext, sql: str, values: dict[str, object]) -> DataFrame:
    if values:
        return context.sql_with_options(sql, _READ_ONLY, param_values=values)
    return context.sql_with_options(sql, _READ_ONLY)


def _engine_message(error: Exception) -> str:
    message = str(error)
    for prefix in ("DataFusion error: ", "Error during planning: "):
        message = message.removeprefix(prefix)
    return message.strip()
