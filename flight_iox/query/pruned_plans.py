"""Planning a statement over only the files it can need (issue 16: pruning before planning).

A table with files is a view with one scan per file (``tables.py``): a query over one hour
of a table with thousands of files would otherwise plan, optimize and open every one. So
before a statement is planned:

1. it is planned once more over *stand-ins* (``Probe``): each table as an empty Arrow
   dataset of the same schema, in a context of its own. Planning and optimizing that costs
   about a millisecond, and DataFusion's optimizer pushes the statement's filters into each
   ``TableScan``, with literals already coerced to the column types (so ``time`` bounds are
   exact nanoseconds, never a truncated microsecond literal);
2. ``pruning.scan_bounds`` reads each scan's time range and tag values from that plan, and
   ``pruning.kept_files`` keeps the files whose manifest bounds and partition values meet
   them;
3. a table that loses files gets a provider built over the kept files and the same buffer
   (``TableBuilder.provider``, cached by file set), which the registry resolves only while
   this statement is planned (``TableRegistry.swapped``).

Every statement is planned under the registry's lock, so none sees another's pruned
table. When the stand-in plan fails (a system table, a table function, unbound
placeholders), nothing is pruned: the statement is planned as it always was.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence

import pyarrow as pa
import pyarrow.dataset as ds
from datafusion import DataFrame, SessionConfig, SessionContext
from datafusion.catalog import Catalog, Schema, Table

from flight_iox.columns import ColumnRole, role_of
from flight_iox.engine.buffer import TableSnapshot
from flight_iox.query.engine_errors import is_engine_error
from flight_iox.query.pruning import ScanBounds, TableName, kept_files, scan_bounds
from flight_iox.query.reads import tables_read
from flight_iox.query.registry import USER_SCHEMA, Registration, TableRegistry
from flight_iox.query.tables import TableBuilder
from iox_catalog.files import DataFile

# A statement is probed only when a table it may read has at least this many files.
MIN_FILES = 1
# Pruned providers kept (by table, registration and file set), least recently used dropped.
PRUNED_PROVIDERS = 64
NO_DATABASE = "__no_database__"
Planner = Callable[[SessionContext], DataFrame]


class Probe:
    """Empty stand-ins of the registered tables, in contexts of their own."""

    def __init__(self) -> None:
        self._scratch = SessionContext()
        self._catalogs: dict[str, tuple[Catalog, Schema, dict[str, pa.Schema]]] = {}
        self._contexts: dict[str, tuple[SessionContext, set[str]]] = {}

    def context(
        self, database: str | None, tables: Mapping[str, Mapping[str, pa.Schema]]
    ) -> SessionContext:
        """A context where ``database`` is the default and each of ``tables`` has a stand-in."""
        for name, schemas in tables.items():
            self._update(name, schemas)
        key = database or NO_DATABASE
        entry = self._contexts.get(key)
        if entry is None:
            config = SessionConfig().with_default_catalog_and_schema(key, USER_SCHEMA)
            entry = self._contexts[key] = (SessionContext(config), set())
        context, known = entry
        for name in tables.keys() - known:
            context.register_catalog_provider(name, self._catalogs[name][0])
            known.add(name)
        return context

    def _update(self, database: str, schemas: Mapping[str, pa.Schema]) -> None:
        if database not in self._catalogs:
            catalog, schema = Catalog.memory_catalog(), Schema.memory_schema()
            catalog.register_schema(USER_SCHEMA, schema)
            self._catalogs[database] = (catalog, schema, {})
        _, df_schema, registered = self._catalogs[database]
        for name, schema in schemas.items():
            if registered.get(name) == schema:
                continue
            if name in registered:
                df_schema.deregister_table(name)
            df_schema.register_table(name, self._stand_in(schema))
            registered[name] = schema

    def _stand_in(self, schema: pa.Schema) -> Table:
        """An empty table of ``schema`` that takes filters into its scan (as a dataset does)."""
        self._scratch.register_dataset("stand_in", ds.dataset(schema.empty_table()))
        try:
            return self._scratch.table_provider("stand_in")
        finally:
            self._scratch.deregister_table("stand_in")


class PrunedPlanner:
    """Plans statements with each table narrowed to the files the statement can read."""

    def __init__(self, registry: TableRegistry, tables: TableBuilder, enabled: bool) -> None:
        """``enabled=False`` plans every statement over every file (the setting's off)."""
        self._registry = registry
        self._tables = tables
        self._enabled = enabled
        self._probe = Probe()
        self._providers: OrderedDict[tuple[object, ...], Table] = OrderedDict()

    def plan(
        self,
        context: SessionContext,
        database: str | None,
        held: Sequence[str],
        sql: str,
        planner: Planner,
    ) -> DataFrame:
        """``planner``'s plan of ``sql`` in ``context`` (default ``database``, the databases
        ``held``), each table it reads narrowed to the files it can need."""
        with self._registry.lock:
            registrations = {
                key: r for key, r in self._registry.sources.items() if key[0] in held
            }  # fmt: skip
            read = tables_read(sql, {name for _, name in registrations})
            may_read = {
                key: r for key, r in registrations.items() if read is None or key[1] in read
            }  # fmt: skip
            providers = self._pruned(database, may_read, registrations, planner)
            for key, registration in may_read.items():
                if registration.lazy and key not in providers:  # the stand-in reads nothing
                    providers[key] = self._registry.full_provider(*key)
            with self._registry.swapped(providers):
                return planner(context)

    def _pruned(
        self,
        database: str | None,
        may_read: Mapping[tuple[str, str], Registration],
        registrations: Mapping[tuple[str, str], Registration],
        planner: Planner,
    ) -> dict[tuple[str, str], Table]:
        """Pruned providers of the tables in ``may_read`` that lose files (``registrations``:
        every table of the databases held, which the probe must resolve too)."""
        if not self._enabled:
            return {}
        candidates = {k: r for k, r in may_read.items() if len(r.snapshot.files) >= MIN_FILES}
        if not candidates:
            return {}
        tables: dict[str, dict[str, pa.Schema]] = {}
        for (db, name), registration in registrations.items():
            tables.setdefault(db, {})[name] = registration.schema
        try:
            plan = planner(self._probe.context(database, tables)).optimized_logical_plan()
        except Exception as error:
            if not is_engine_error(error):
                raise
            return {}  # planned without pruning; the real plan reports real errors
        scans = scan_bounds(plan)
        pruned = {}
        for (db, name), registration in candidates.items():
            found = _scans_of(scans, database, db, name)
            if not found:
                continue
            files = registration.snapshot.files
            kept = kept_files(files, found, _tags(registration.schema))
            if len(kept) < len(files):
                pruned[(db, name)] = self._provider(db, name, registration, kept)
        return pruned

    def _provider(
        self, db: str, name: str, registration: Registration, kept: list[DataFile]
    ) -> Table:
        """A provider of the table over ``kept`` and its buffer (cached by file set)."""
        key = (db, name, registration.registered, tuple(f.path for f in kept))
        provider = self._providers.get(key)
        if provider is not None:
            self._providers.move_to_end(key)
            return provider
        snapshot = TableSnapshot(tuple(kept), registration.snapshot.buffered)
        provider = self._tables.provider(
            registration.schema, snapshot, registration.retention_ns, f"{db}.{name}"
        )
        self._providers[key] = provider
        while len(self._providers) > PRUNED_PROVIDERS:
            self._providers.popitem(last=False)
        return provider


def _scans_of(
    scans: Mapping[TableName, list[ScanBounds]], database: str | None, db: str, name: str
) -> list[ScanBounds]:
    found: list[ScanBounds] = []
    for (catalog, schema, table), bounds in scans.items():
        if table == name and (catalog or database) == db and (schema or USER_SCHEMA) == USER_SCHEMA:
            found += bounds
    return found


def _tags(schema: pa.Schema) -> set[str]:
    return {f.name for f in schema if role_of(f) is ColumnRole.TAG}
