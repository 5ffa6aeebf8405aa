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
3. a table that loses files, or whose key predicates restrict it, gets a provider over the
   kept files (the cached ones cut to the rows they may need: ``zone_maps.py``) and the same
   buffer (``TableBuilder.provider``, cached by file set and needs), which the registry
   resolves to only while this statement is planned (``TableRegistry.swapped``);
4. a statement that can read at most ``SMALL_ROWS`` rows in all is planned in a context of
   one partition (``narrow``): DataFusion would otherwise spread a few hundred rows over
   every core (a hash repartition, a final aggregation per partition, a merge), which costs
   a small query more than its rows (TSBS single-groupby-1-1-1, in process: ~0.6 ms of 2).

Tables with files are registered as empty stand-ins between statements
(``registry.Registration.lazy``): a table the statement may read and that is not pruned
gets its full provider, built once per registration. Every statement is planned under the
registry's lock, so none sees another's providers. When the empty-table plan fails (a
system table, a table function, a statement that lists tables), nothing is pruned: every
table the statement may read is planned over every file, as before.
"""

from __future__ import annotations

import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping, Sequence

import pyarrow as pa
from datafusion import DataFrame, SessionContext
from datafusion.catalog import Table

from flight_iox.engine.buffer import TableSnapshot
from flight_iox.query.kept_plans import planned_in, small
from flight_iox.query.pruning import kept_files
from flight_iox.query.reads import tables_read
from flight_iox.query.registry import Registration, TableRegistry
from flight_iox.query.scan_needs import ScanNeeds
from flight_iox.query.scan_plan import StatementNeeds, statement_needs
from flight_iox.query.tables import TableBuilder
from iox_catalog.files import DataFile

# Statements are pruned only when a table they may read has at least this many files.
MIN_FILES = 1
# Pruned providers kept (by table, registration, file set and needs), least recently used
# dropped.
PRUNED_PROVIDERS = 64
# A statement that can read at most this many rows is planned on one partition (one batch
# of a memory table: ``tables.MEMORY_BATCH_ROWS``).
SMALL_ROWS = 65_536
# Statements whose needs (``statement_needs``) are kept for the next plan of the same text.
NEEDS_KEPT = 64
Planner = Callable[[SessionContext], DataFrame]


class PrunedPlanner:
    """Plans statements with each table narrowed to the files the statement can read."""

    def __init__(self, registry: TableRegistry, tables: TableBuilder, enabled: bool) -> None:
        """``enabled=False`` plans every statement over every file (the setting's off)."""
        self._registry = registry
        self._tables = tables
        self._enabled = enabled
        self._providers: OrderedDict[tuple[object, ...], tuple[Table, int]] = OrderedDict()
        # Each plan -> what its statement needs of each table (``needs``); goes with the plan.
        self._needs: weakref.WeakKeyDictionary[DataFrame, StatementNeeds] = (
            weakref.WeakKeyDictionary()
        )
        # Statements' needs by database, text and the schemas held (registry lock held).
        self._statement_needs_kept: OrderedDict[Hashable, StatementNeeds] = OrderedDict()

    def plan(
        self,
        context: SessionContext,
        database: str | None,
        held: Sequence[str],
        sql: str,
        planner: Planner,
        narrow: Callable[[], SessionContext] | None = None,
    ) -> DataFrame:
        """``planner``'s plan of ``sql`` in ``context`` (default ``database``, the databases
        ``held``), each table it reads narrowed to the files it can need; in ``narrow()``
        (the same context on one partition) when it can read few rows."""
        with self._registry.lock:
            registrations, may_read = self._readable(held, sql)
            providers, rows, needs = self._pruned(database, sql, may_read, registrations)
            for key, registration in may_read.items():
                if registration.lazy and key not in providers:  # the stand-in reads nothing
                    providers[key] = self._registry.full_provider(*key)
            few = narrow is not None and rows is not None and rows <= SMALL_ROWS
            if few:
                assert narrow is not None
                context = narrow()
            with self._registry.swapped(providers):
                frame = planned_in(planner(context), context)  # where a kept plan runs
            if needs is not None:
                self._needs[frame] = needs
            return small(frame) if few else frame

    def probe(
        self,
        context: SessionContext,
        database: str | None,
        held: Sequence[str],
        sql: str,
        planner: Planner,
        min_rows: int,
    ) -> DataFrame | None:
        """``planner``'s plan of ``sql`` over the tables as registered between statements:
        a table with files is its stand-in (an empty view of its schema), so no file is
        registered or scanned and the cost does not grow with the files. Its schema and
        logical plan are the statement's; it reads nothing, so it is for answering from
        partial aggregates (``partial_aggs.py``), never to run. What the statement needs
        of each table is kept with it, as for ``plan``. None, unplanned, when the files it
        can need and the buffers hold fewer than ``min_rows`` rows (a small query pays
        nothing for it: its needs, found first, are the ones its plan then uses)."""
        with self._registry.lock:
            registrations, may_read = self._readable(held, sql)
            needs = self._statement_needs(database, sql, registrations)
            rows = 0
            for (db, name), registration in may_read.items():
                found = None if needs is None else needs.get(db, {}).get(name)
                files = registration.snapshot.files
                kept = files if found is None else kept_files(files, found)
                rows += self._tables.needed_rows(kept, found)
                rows += registration.snapshot.buffered.num_rows
            if rows < min_rows:
                return None
            frame = planner(context)
            if needs is not None:
                self._needs[frame] = needs
            return frame

    def _readable(
        self, held: Sequence[str], sql: str
    ) -> tuple[dict[tuple[str, str], Registration], dict[tuple[str, str], Registration]]:
        """The tables of the databases ``held``, and those of them ``sql`` may read (registry
        lock held)."""
        registrations = {key: r for key, r in self._registry.sources.items() if key[0] in held}
        read = tables_read(sql, {name for _, name in registrations})
        may_read = {key: r for key, r in registrations.items() if read is None or key[1] in read}
        return registrations, may_read

    def needs(self, frame: DataFrame, database: str, table: str) -> ScanNeeds | None:
        """What ``frame``'s statement needs of ``database.table`` (None: every row may do):
        the key predicates its files were pruned by, for ``partial_aggs.py``."""
        with self._registry.lock:
            found = self._needs.get(frame)
        return None if found is None else found.get(database, {}).get(table)

    def _pruned(
        self,
        database: str | None,
        sql: str,
        may_read: Mapping[tuple[str, str], Registration],
        registrations: Mapping[tuple[str, str], Registration],
    ) -> tuple[dict[tuple[str, str], Table], int | None, StatementNeeds]:
        """Pruned providers of the tables in ``may_read`` that lose files or rows
        (``registrations``: every table of the databases held, which the probe must resolve
        too), how many rows the statement can read at most (None: unknown), and its needs."""
        if not self._enabled or not may_read:
            return {}, None, None
        total = sum(_rows(r.snapshot) for r in may_read.values())
        if all(len(r.snapshot.files) < MIN_FILES for r in may_read.values()):
            return {}, total, None  # nothing to prune: no probe
        needs = self._statement_needs(database, sql, registrations)
        if needs is None:
            return {}, total, None  # over every file; the real plan reports real errors
        pruned = {}
        rows = 0
        for (db, name), registration in may_read.items():
            found = needs.get(db, {}).get(name)
            files = registration.snapshot.files
            kept = list(files) if found is None else kept_files(files, found)
            # Key predicates cut the files the Parquet cache holds (zone maps); files read
            # from Parquet are cut by DataFusion's own row-group pruning.
            narrows = (
                found is not None
                and (found.first is not None or found.last is not None or bool(found.tags))
                and bool(self._tables.cached_files(kept))
            )
            if len(files) >= MIN_FILES and (len(kept) < len(files) or narrows):
                needs_here = found if narrows else None
                provider, size = self._provider(db, name, registration, kept, needs_here)
                pruned[(db, name)] = provider
            else:
                size = _rows(registration.snapshot)
            rows += size
        return pruned, rows, needs

    def _statement_needs(
        self,
        database: str | None,
        sql: str,
        registrations: Mapping[tuple[str, str], Registration],
    ) -> StatementNeeds:
        """What ``sql`` needs of each table, from its plan over empty tables (``registrations``:
        every table of the databases held, which the probe must resolve); None: unknown."""
        if not self._enabled:
            return None
        schemas: dict[str, dict[str, pa.Schema]] = {}
        for (db, name), registration in registrations.items():
            schemas.setdefault(db, {})[name] = registration.schema
        key = (
            database,
            sql,
            tuple((db, name, r.schema) for (db, name), r in registrations.items()),
        )
        if key in self._statement_needs_kept:  # a probe found them first (``probe``)
            self._statement_needs_kept.move_to_end(key)
            return self._statement_needs_kept[key]
        needs = self._statement_needs_kept[key] = statement_needs(sql, database, schemas)
        while len(self._statement_needs_kept) > NEEDS_KEPT:
            self._statement_needs_kept.popitem(last=False)
        return needs

    def _provider(
        self,
        db: str,
        name: str,
        registration: Registration,
        kept: list[DataFile],
        needs: ScanNeeds | None,
    ) -> tuple[Table, int]:
        """A provider of the table over ``kept`` and its buffer, the cached files cut to
        ``needs`` (cached by file set and needs), and how many rows it holds at most."""
        key = (db, name, registration.registered, tuple(f.path for f in kept), _key(needs))
        found = self._providers.get(key)
        if found is not None:
            self._providers.move_to_end(key)
            return found
        for stale in [k for k in self._providers if k[:2] == (db, name) and k[2] != key[2]]:
            del self._providers[stale]  # an older version's: it holds an older buffer
        snapshot = TableSnapshot(tuple(kept), registration.snapshot.buffered)
        provider, rows = self._tables.provider_and_rows(
            registration.schema, snapshot, registration.retention_ns, f"{db}.{name}", needs
        )
        self._providers[key] = (provider, rows)
        while len(self._providers) > PRUNED_PROVIDERS:
            self._providers.popitem(last=False)
        return provider, rows


def _key(needs: ScanNeeds | None) -> tuple[object, ...]:
    """What of ``needs`` a provider depends on: the key predicates."""
    return () if needs is None else (needs.first, needs.last, needs.tags)


def _rows(snapshot: TableSnapshot) -> int:
    """The rows a table's files and buffer hold."""
    return sum(f.record_count for f in snapshot.files) + snapshot.buffered.num_rows
