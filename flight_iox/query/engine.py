"""DataFusion SQL over every database: the facade the transports call.

The parts live in their own modules: ``registry.py`` keeps each database's DataFusion
catalog in step with the buffers, one table at a time; ``contexts.py`` keeps the warm
contexts (per default database and the databases a statement names, ``reads.py``);
``statement_cache.py`` keeps result schemas and plans; ``execution.py`` runs a plan under
the query limits. Result schemas and plans are keyed by the versions of the tables a
statement can read (``reads.py``), so a write to one table leaves the cached statements
over every other table alone, and a query refreshes only the tables it can read.
A repeated statement that does not read the time is planned once.

Who may read what is decided by which catalogs a context holds (``Scope``): the
methods here serve every database (admin tokens, auth off, the server's own
callers), and ``SqlService.scoped(principal)`` (``scoped.py``) serves one principal
from contexts that hold only the databases it may read, so an unreadable database
does not resolve in any syntax. Statements that change data are not run here: the
``SqlService`` hands them to the persistence layer's handler.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from functools import partial

import pyarrow as pa
from datafusion import DataFrame, SessionContext, SQLOptions

from flight_iox.config import QueryLimits
from flight_iox.engine.buffer import BufferSet
from flight_iox.engine.catalog import SchemaCatalog
from flight_iox.errors import DatabaseNotFoundError, QueryError, query_error
from flight_iox.query.cache_fills import CacheFills
from flight_iox.query.configured_caches import ConfiguredCaches
from flight_iox.query.contexts import NO_DATABASE, Contexts, Scope, no_database_error
from flight_iox.query.engine_errors import engine_message, is_engine_error
from flight_iox.query.execution import QueryRunner, clear_spill_dir, reads_no_data
from flight_iox.query.file_cache import FileCache, Given
from flight_iox.query.iox_sql import rewrite_iox_sql
from flight_iox.query.last_cache import LastValueCache
from flight_iox.query.latest_rows import LatestRows
from flight_iox.query.limits import check_expression_depth
from flight_iox.query.loopback_files import FileUrls
from flight_iox.query.partial_aggs import PartialAggregates
from flight_iox.query.placeholders import (
    parameter_values,
    rewrite_placeholders,
    typed_placeholders,
)
from flight_iox.query.probe_plans import ProbePlanner
from flight_iox.query.pruned_plans import PrunedPlanner
from flight_iox.query.reads import databases_read
from flight_iox.query.registry import State, TableRegistry, memory
from flight_iox.query.remote import RemoteTables
from flight_iox.query.series_index import SeriesIndex
from flight_iox.query.statement_cache import StatementCache, note_reads, params_key, reusable
from flight_iox.query.system_tables import SystemTable
from flight_iox.query.tables import SchemaCheck, TableBuilder
from iox_catalog.files import DataFile

__all__ = ["NO_DATABASE", "QueryEngine", "Scope", "SystemTable"]

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
        system_tables: Mapping[str, SystemTable] | None = None,
        remote: RemoteTables | None = None,
        latest_rows: bool = True,
        file_urls: FileUrls | None = None,
        aggregate_cache_bytes: int = 64 << 20,
        series: SeriesIndex | None = None,
    ):
        """``system_tables`` are server-wide tables added to every database's ``system``
        schema (``system.tokens``); call ``invalidate_system_tables`` when their source changes.
        ``remote`` (a query node's) merges other nodes' unpersisted rows into each table.
        ``latest_rows``: answer natural lastpoint SQL from the latest rows (``latest_rows.py``).
        ``file_urls``: where DataFusion reads a file (``TableBuilder``), with ``object_store``
        the store serving it (``loopback_files.py``).
        ``aggregate_cache_bytes``: per-file partial aggregates kept (``partial_aggs.py``; 0: off),
        their statements planned without the files first (``probe_plans.py``).
        ``series``: which files share a series in time (``series_index.py``)."""
        self._limits = limits or QueryLimits()
        clear_spill_dir(self._limits.spill_dir)
        self._runner = QueryRunner(self._limits)
        self._catalog = catalog
        self._buffers = buffers
        self._statements = StatementCache()
        cores = max(1, os.cpu_count() or 1)
        self._tables = TableBuilder(cores, file_cache, file_check, file_urls, series)
        self._remote = remote
        self._registry = TableRegistry(catalog, buffers, self._tables, remote)
        self._pruner = PrunedPlanner(self._registry, self._tables, self._limits.prune_files)
        for name, table in (system_tables or {}).items():
            self._registry.set_system_table(name, table)
        self._last_cache = LastValueCache(
            lambda data: self._tables.provider(data.schema, memory(data))
        )
        self._caches = ConfiguredCaches(
            lambda data: self._tables.provider(data.schema, memory(data)), self._last_cache.served
        )
        self._contexts = Contexts(
            self._registry, self._limits, batch_size, object_store, self._caches.functions
        )
        if object_store is not None:
            self._tables.context.register_object_store(*object_store)
        self._fills = CacheFills(
            catalog, buffers, self._registry, self._tables, self._contexts, self._caches,
            self._last_cache,
        )  # fmt: skip
        # A query node's buffer lacks other nodes' rows, which the latest rows would miss.
        self._latest = None
        if remote is None and latest_rows:
            self._latest = LatestRows(
                self._fills.table_schema,
                self._fills.latest_rows,
                self._contexts.isolated,
                self._tables.raise_if_unavailable,
                self._tables.view_label,
            )
        self.partial_aggregates = PartialAggregates(  # not on a query node (other nodes' rows)
            aggregate_cache_bytes if remote is None else 0, self._registry.source, self._tables,
            self._contexts.isolated, self._contexts.in_memory, self._registry.whole_in_memory,
            self._pruner.needs, self._limits.memory_limit,
        )  # fmt: skip
        self._probes = ProbePlanner(
            self.partial_aggregates, self._pruner, self._context, _sql,
            self._limits.max_expression_depth, catalog,
        )  # fmt: skip

    @property
    def slots_used(self) -> int:
        """Queries holding one of the ``--max-concurrent-queries`` slots now."""
        return self._runner.running

    @property
    def queries_waiting(self) -> int:
        """Queries waiting for a slot now (what a 503 is measured against)."""
        return self._runner.waiting

    @property
    def limits(self) -> QueryLimits:
        """What one query may cost (the update path checks statements against it too)."""
        return self._limits

    # --- the QueryBackend protocol (every database) ----------------------------------------

    def database_names(self) -> list[str]:
        """All databases, sorted."""
        return self._catalog.database_names()

    def table_schemas(self, database: str) -> dict[str, pa.Schema]:
        """The Arrow schema of each user table of a database (on a query node, with the
        tables and columns only the ingest nodes hold yet)."""
        if self._remote is not None:
            self._remote.learn_schemas(database)
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
        Cached per database, scope, SQL, parameters and table state (``_statement_key``).
        """
        if database is not None and not self._catalog.has_database(database):
            raise DatabaseNotFoundError(database)
        with self._registry.lock:  # keyed and planned in one refresh (``_statement_key``)
            key, held = self._statement_key(database, sql, params, scope)
            schema = self._statements.schema(key)
            if schema is not None:
                return schema
            text, finish = rewrite_iox_sql(sql)
            probe = None
            if finish is None:
                probe = self._probes.plan(database, text, params, scope, held, bound=False)
            frame = probe or self._plan(database, text, params, held, bound=False, scope=scope)
        schema = frame.schema()
        self._statements.keep_schema(key, schema)
        note_reads(sql, reads_no_data(frame))  # where Flight SQL runs it (statement_cache)
        if probe is None and len(params) >= self.parameter_count(sql):  # bound: it can run
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
            with self._registry.lock:  # keyed and planned in one refresh (``_statement_key``)
                key, held = self._statement_key(database, sql, params, scope)
                kept = reusable(self._catalog, database, sql)
                frame = self._statements.plan(key, kept)
                sql, finish = rewrite_iox_sql(sql)  # IOx's selector_* and date_bin_gapfill
                probe = None
                if frame is None and finish is None:
                    probe = self._statements.probe(key) if kept else None
                    if probe is None:
                        probe = self._probes.plan(database, sql, params, scope, held)
                        if probe is not None and kept:
                            self._statements.keep_probe(key, probe)
                if frame is None and probe is None:
                    frame = self._plan(database, sql, params, held, scope=scope)
                    if kept:
                        self._statements.keep_plan(key, frame)
            if finish is None:  # partial aggregates, or the query is still open
                planned = probe or frame
                assert planned is not None
                partials = self._probes.answer(
                    database, sql, scope, planned, probe is not None, query
                )
                if partials is not None:
                    return partials.to_reader()
            if frame is None:  # the probe's partials declined it: plan it over its files
                self._statements.forget_probe(key)  # (the next run is planned so, and kept)
                with self._registry.lock:
                    held = self._refresh(database, sql, scope)[1]
                    frame = self._plan(database, sql, params, held, scope=scope)
            self._tables.raise_if_unavailable(frame)  # before any row of another source
            if finish is not None:
                return finish(query.read_all(frame)).to_reader()
            if self._latest is not None and self._latest.rewritten(frame):
                return self._latest.answer(frame, query).to_reader()  # kept with the plan
            return query.reader(frame, kept and self._remote is None)  # closes it at its end
        except BaseException:
            query.close()
            raise

    def invalidate_system_tables(self) -> None:
        """Rebuild every database's system tables at the next query."""
        self._registry.invalidate_system_tables()
        self._statements.forget_plans()  # they may read the old system tables

    # --- database lifecycle ----------------------------------------------------------------

    def forget_table(self, database: str, table: str) -> None:
        """Drop a dropped table from every context."""
        self._registry.forget_table(database, table)
        self._last_cache.forget(database, table)
        self._caches.forget(database, table)
        self.partial_aggregates.forget(database, table)

    def recheck_files(self, database: str, table: str, paths: set[str]) -> None:
        """Check ``paths`` again when the table is next registered (``repair`` found them lost):
        a file is checked once, when first registered; DataFusion would read one deleted later
        as empty, so a lost file found later makes its table be built again."""
        with self._registry.lock:
            paths = paths - self._tables.unavailable  # those are already known
            if not paths:
                return
            self._tables.forget_scans(paths)
            self._registry.forget_version(database, table)
        self._statements.forget_plans()  # they hold the table as it was built

    def forget_database(self, database: str) -> None:
        """Drop a deleted database's tables from every context."""
        self._registry.forget_database(database)
        self._last_cache.forget(database)
        self._caches.forget(database)
        self.partial_aggregates.forget(database)

    # --- internals -------------------------------------------------------------------------

    def _statement_key(
        self,
        database: str | None,
        sql: str,
        params: Sequence[object] | Mapping[str, object],
        scope: Scope = None,
    ) -> tuple[tuple[object, ...], list[str]]:
        """What a statement's schema and plan depend on (the scope and the state of the
        databases it can read, refreshed here), and those databases.

        Plan it in this hold of the registry's lock without refreshing again, so its names
        resolve to exactly the tables its key names (and, on a query node, no other statement
        registers its cut of the ingest nodes' rows between). A second refresh once registered
        a table that arrived after the key: that plan, kept under a state without the table,
        answered for it again after its drop (``tests/unit/persist/test_follower_races.py``).
        """
        state, held = self._refresh(database, sql, scope)
        return (database, scope, sql, params_key(params), state), held

    def _refresh(self, database: str | None, sql: str, scope: Scope) -> tuple[State, list[str]]:
        """Refresh the tables ``sql`` can read (only those, ``reads.tables_read``: refreshing
        every table rebuilt the ``system`` tables at any write, a tenth of a query's time in
        issue 20's soak) of the databases its context holds (``database`` and those it names,
        in ``scope``); their state, and those databases. Call with the registry's lock held."""
        visible = self._catalog.database_names() if scope is None else scope
        held = databases_read(sql, database, visible)
        return self._registry.refresh(held, sql, database), held

    def _context(self, database: str | None, held: Sequence[str], scope: Scope) -> SessionContext:
        """The warm context for ``database`` in ``scope`` holding ``held``, as the statement's
        refresh left it (registry lock held since)."""
        return self._contexts.get(database, frozenset(held), admin=scope is None)

    def _plan(
        self,
        database: str | None,
        sql: str,
        params: Sequence[object] | Mapping[str, object],
        held: Sequence[str],
        *,
        bound: bool = True,
        scope: Scope = None,
    ) -> DataFrame:
        """Plan ``sql`` in the context holding ``held`` as its statement's refresh left it
        (registry lock held since); with ``bound=False`` placeholders may stay unbound."""
        if database is not None and not self._catalog.has_database(database):
            raise DatabaseNotFoundError(database)
        check_expression_depth(sql, self._limits.max_expression_depth)  # before DataFusion
        rewritten, count = rewrite_placeholders(sql)
        values = parameter_values(params, count, bound)
        context = self._context(database, held, scope)

        def planned(text: str) -> DataFrame:  # over the files ``text`` can need
            plan = partial(_sql, sql=text, values=values)
            narrow = partial(self._contexts.get, database, frozenset(held), scope is None, True)
            return self._pruner.plan(context, database, held, text, plan, narrow)

        try:
            self._fills.prepare(database, rewritten)
            frame = planned(rewritten)
            if self._latest is None:
                return frame
            return self._latest.rewrite(
                database, scope, frame, partial(_sql, sql=rewritten, values=values)
            )
        except Exception as error:
            if not is_engine_error(error):
                raise
            message = engine_message(error)
        if count == 0:
            raise no_database_error(message, database) or query_error(message)
        try:  # placeholders DataFusion could not type from their context, typed by their values
            return planned(typed_placeholders(rewritten, params, count))
        except Exception as error:
            if not is_engine_error(error):
                raise
            raise no_database_error(message, database) or QueryError(message) from None

    def load_files(
        self, files: Sequence[DataFile], schema: pa.Schema, table: tuple[str, str] | None = None,
        rows: Given = None,
    ) -> None:  # fmt: skip
        """Cache (``rows``: as written, else decoded) and aggregate (``partial_aggs.py``) files a
        persist or compaction is about to install, so the first query after need not."""
        self._tables.load_files(files, schema, rows)
        if table is not None and files:
            self.partial_aggregates.warm(*table, files, schema, self._runner.try_start)

    def cached_files(self, files: Sequence[DataFile]) -> dict[str, pa.Table]:
        """The decoded rows the Parquet cache holds of ``files`` (compaction reads them)."""
        return self._tables.cached_files(files)

    def forget_caches(self, database: str, table: str) -> None:
        """Drop the rows held for a table's configured caches (a configuration changed)."""
        self._caches.forget(database, table)
        self._registry.invalidate_system_tables()
        self._statements.forget_plans()


def _sql(context: SessionContext, sql: str, values: dict[str, object]) -> DataFrame:
    options = {"param_values": values} if values else {}
    return context.sql_with_options(sql, _READ_ONLY, **options)
