"""What the cache table functions and natural lastpoint SQL read, filled on demand.

``last_cache(..)`` and ``distinct_cache(..)`` read rows a configured cache keeps, and
natural lastpoint SQL (``latest_rows.py``) reads the latest row of each series. Each is
filled or brought up to date here, before the statement that reads it is planned, from
the table's buffer and files as the registry has them; ``engine.py`` only asks.
"""

from __future__ import annotations

from functools import partial

import pyarrow as pa
from datafusion import SessionConfig
from datafusion.catalog import Table

from flight_iox.engine.buffer import BufferSet, TableSnapshot
from flight_iox.engine.catalog import SchemaCatalog
from flight_iox.errors import QueryError
from flight_iox.query.configured_caches import LAST, ConfiguredCaches, cache_calls
from flight_iox.query.contexts import Contexts
from flight_iox.query.last_cache import LastValueCache, latest_file_rows
from flight_iox.query.registry import TableRegistry
from flight_iox.query.tables import PARQUET_OPTIONS, TableBuilder
from iox_catalog.files import DataFile


class CacheFills:
    """Fills the configured caches and the latest rows a statement is about to read."""

    def __init__(
        self,
        catalog: SchemaCatalog,
        buffers: BufferSet,
        registry: TableRegistry,
        tables: TableBuilder,
        contexts: Contexts,
        caches: ConfiguredCaches,
        last_cache: LastValueCache,
    ) -> None:
        self._catalog = catalog
        self._buffers = buffers
        self._registry = registry
        self._tables = tables
        self._contexts = contexts
        self._caches = caches
        self._last_cache = last_cache

    def prepare(self, database: str | None, sql: str) -> None:
        """Fill the caches the ``last_cache(..)`` / ``distinct_cache(..)`` calls in ``sql`` read."""
        if database is None:
            return  # the table function says it needs a default database
        for call in cache_calls(sql):
            table = call[1]
            with self._catalog.lock:
                db = self._catalog.database(database)
                schema = db.tables[table].arrow_schema() if table in db.tables else None
                retention_ns = db.retention_ns
                configs = self._catalog.caches(database)
            version = self._registry.registered.get((database, table))
            if schema is None or version is None:
                raise QueryError(f"{call[0]}(): no table {table!r} in database {database!r}")
            resolved = self._caches.resolve(call[0], table, call[2], configs)
            if isinstance(resolved, str):  # said here: DataFusion would wrap it in its own text
                raise QueryError(resolved)
            self._caches.prepare(
                database,
                call,
                resolved,
                version,
                partial(self._cache_rows, database, table, schema, retention_ns),
            )
            if resolved is None and call[0] == LAST:
                self.latest_rows(database, table)

    def table_schema(self, database: str, table: str) -> pa.Schema | None:
        """A user table's Arrow schema (None: no such table)."""
        with self._catalog.lock:
            tables = self._catalog.database(database).tables
            return tables[table].arrow_schema() if table in tables else None

    def latest_rows(self, database: str, table: str) -> Table | None:
        """The latest row of each series of a table, made current: the built-in
        ``last_cache('t')``, and natural lastpoint SQL (``latest_rows.py``)."""
        with self._catalog.lock:
            db = self._catalog.database(database)
            schema = db.tables[table].arrow_schema() if table in db.tables else None
            retention_ns = db.retention_ns
        version = self._registry.registered.get((database, table))
        if schema is None or version is None:
            return None
        self._last_cache.prepare(
            database,
            table,
            version,
            (self._buffers.version(database, table)[2], len(schema)),
            partial(self._buffers.snapshot, database, table, schema),
            lambda files: self._file_last_rows(schema, files, f"{database}.{table}"),
            retention_ns,
        )
        return self._last_cache.served(database, table)

    def _cache_rows(
        self, database: str, table: str, schema: pa.Schema, retention_ns: int | None, sql: str
    ) -> pa.Table:
        """Run a configured cache's fill query over the table's files and buffer."""
        snapshot = self._buffers.snapshot(database, table, schema)
        provider = self._tables.provider(schema, snapshot, retention_ns, f"{database}.{table}")
        context = self._contexts.session(SessionConfig(PARQUET_OPTIONS))
        context.register_table("source", provider)
        return context.sql(sql).to_arrow_table()

    def _file_last_rows(
        self, schema: pa.Schema, files: tuple[DataFile, ...], label: str
    ) -> pa.Table:
        """The latest row of each series in ``files`` (deduplicated), under ``schema``."""
        if not files:
            return schema.empty_table()
        snapshot = TableSnapshot(files, schema.empty_table())
        provider = self._tables.provider(schema, snapshot, None, label)
        context = self._contexts.session(SessionConfig(PARQUET_OPTIONS))
        return latest_file_rows(provider, schema, context)
