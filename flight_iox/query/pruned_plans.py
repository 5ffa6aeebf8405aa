"""Planning a statement over only the files it can need (issue 16: pruning before planning).

A table with files is a view with one scan per file (``tables.py``): a query over one hour
of a table with thousands of files would otherwise plan, optimize and open every one. So
before a statement is planned:

1. ``scan_plan.statement_needs`` plans it over empty tables of the same schemas (about a
   millisecond) and reads, from the optimized plan, each scanned table's time range (exact
   nanoseconds: literals coerced by DataFusion to the ns column, never truncated) and tag
   values (the same reading a query node pushes down to ingest nodes);
2. ``pruning.kept_files`` keeps the files whose manifest bounds and partition values meet
   them;
3. a table that loses files gets a provider over the kept files and the same buffer
   (``TableBuilder.provider``, cached by file set), which the registry resolves to only
   while this statement is planned (``TableRegistry.swapped``).

Tables with files are registered as empty stand-ins between statements
(``registry.Registration.lazy``): a table the statement may read and that is not pruned
gets its full provider, built once per registration. Every statement is planned under the
registry's lock, so none sees another's providers. When the empty-table plan fails (a
system table, a table function, a statement that lists tables), nothing is pruned: every
table the statement may read is planned over every file, as before.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence

import pyarrow as pa
from datafusion import DataFrame, SessionContext
from datafusion.catalog import Table

from flight_iox.engine.buffer import TableSnapshot
from flight_iox.query.pruning import kept_files
from flight_iox.query.reads import tables_read
from flight_iox.query.registry import Registration, TableRegistry
from flight_iox.query.scan_plan import statement_needs
from flight_iox.query.tables import TableBuilder
from iox_catalog.files import DataFile

# Statements are pruned only when a table they may read has at least this many files.
MIN_FILES = 1
# Pruned providers kept (by table, registration and file set), least recently used dropped.
PRUNED_PROVIDERS = 64
Planner = Callable[[SessionContext], DataFrame]


class PrunedPlanner:
    """Plans statements with each table narrowed to the files the statement can read."""

    def __init__(self, registry: TableRegistry, tables: TableBuilder, enabled: bool) -> None:
        """``enabled=False`` plans every statement over every file (the setting's off)."""
        self._registry = registry
        self._tables = tables
        self._enabled = enabled
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
            providers = self._pruned(database, sql, may_read, registrations)
            for key, registration in may_read.items():
                if registration.lazy and key not in providers:  # the stand-in reads nothing
                    providers[key] = self._registry.full_provider(*key)
            with self._registry.swapped(providers):
                return planner(context)

    def _pruned(
        self,
        database: str | None,
        sql: str,
        may_read: Mapping[tuple[str, str], Registration],
        registrations: Mapping[tuple[str, str], Registration],
    ) -> dict[tuple[str, str], Table]:
        """Pruned providers of the tables in ``may_read`` that lose files (``registrations``:
        every table of the databases held, which the probe must resolve too)."""
        if not self._enabled:
            return {}
        candidates = {k: r for k, r in may_read.items() if len(r.snapshot.files) >= MIN_FILES}
        if not candidates:
            return {}
        schemas: dict[str, dict[str, pa.Schema]] = {}
        for (db, name), registration in registrations.items():
            schemas.setdefault(db, {})[name] = registration.schema
        needs = statement_needs(sql, database, schemas)
        if needs is None:
            return {}  # planned over every file; the real plan reports real errors
        pruned = {}
        for (db, name), registration in candidates.items():
            found = needs.get(db, {}).get(name)
            if found is None:
                continue
            files = registration.snapshot.files
            kept = kept_files(files, found)
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
        for stale in [k for k in self._providers if k[:2] == (db, name) and k[2] != key[2]]:
            del self._providers[stale]  # an older version's: it holds an older buffer
        snapshot = TableSnapshot(tuple(kept), registration.snapshot.buffered)
        provider = self._tables.provider(
            registration.schema, snapshot, registration.retention_ns, f"{db}.{name}"
        )
        self._providers[key] = provider
        while len(self._providers) > PRUNED_PROVIDERS:
            self._providers.popitem(last=False)
        return provider
