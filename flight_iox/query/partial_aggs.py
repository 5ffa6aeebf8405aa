"""Aggregates answered from per-file partial aggregates (``--aggregate-cache-size``).

Dashboards run one aggregate over and over while the table grows (issue 20's soak: the same
``GROUP BY`` every 200 ms); every run aggregated every row of every immutable file again.
For a statement ``partial_plan.partial_shape`` proves answerable, each data file that may
share no key with another source (``overlap.py``: it needs no deduplication) is aggregated
alone, into partial states per group (count, sum, min, max; avg as a float sum and a count),
and those partials are kept, least recently used first out, within a byte bound. The rest
(the buffer and the files of overlap groups, deduplicated as usual) is aggregated fresh at
every run, and a final aggregate over all partials gives the statement's exact output
(names and types from the plan; a count is never NULL; a sum, min, max or avg of no value
is NULL; integer sums wrap as DataFusion's do, and wrapping addition is associative).

A partial is keyed by the database, the caller's scope, the file's identity (path, rows,
size, commit sequence, time range), the table's schema and the normalised partial statement.
Data files are immutable: a compaction, retention or DELETE rewrites rows into new files
(``persist/deletes.py``) and drops the old ones from the table, so a removed file is never
asked for again and ages out. Not applied over a database with a retention period (rows
leave a file's answer as time passes), on a query node (other nodes' rows), or while the
table has a lost file (the plain plan reports it). Float sums may differ from the plain
plan's in the last bits, as DataFusion's own do between runs (the order of addition).
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence

import pyarrow as pa
import pyarrow.compute as pc
from datafusion import DataFrame, Expr, LogicalPlan, SessionContext
from datafusion import functions as f
from datafusion.catalog import Table as Provider

from flight_iox.engine.buffer import TableSnapshot
from flight_iox.errors import FlightIoxError
from flight_iox.query.engine_errors import engine_message, is_engine_error
from flight_iox.query.execution import Query
from flight_iox.query.overlap import overlap_groups, table_sources
from flight_iox.query.partial_plan import Aggregate, PartialShape, partial_shape
from flight_iox.query.registry import USER_SCHEMA, Registration
from flight_iox.query.tables import TableBuilder
from flight_iox.sql_quote import quote_identifier as q
from iox_catalog.files import DataFile

log = logging.getLogger(__name__)
SCRATCH = "__iox_partial_source"
RECENT_STATEMENTS = 16  # statements a new file is aggregated for before it joins its table
_COUNT = pc.ScalarAggregateOptions(min_count=0)  # a count of nothing is 0, never NULL
# The final step of each partial state: pyarrow's hash aggregate over the partials.
_FINAL = {"count": "sum", "sum": "sum", "min": "min", "max": "max"}


# (database, table) -> what the table was last registered from (None: no such table)
Sources = Callable[[str, str], Registration | None]
# (database, table name, provider) -> a context where that table resolves
Isolated = Callable[[str, str, Provider], SessionContext]


class PartialAggregates:
    """The cache of per-file partial aggregates, and the answers built from it."""

    def __init__(
        self,
        capacity_bytes: int,
        sources: Sources,
        tables: TableBuilder,
        isolated: Isolated,
    ) -> None:
        """``tables`` builds providers over chosen sources and knows views and lost files."""
        self.capacity_bytes = capacity_bytes
        self._sources = sources
        self._tables = tables
        self._isolated = isolated
        self._lock = threading.Lock()
        self._kept: OrderedDict[Hashable, pa.Table] = OrderedDict()
        self.used_bytes = 0
        self.hits = 0  # files whose partial was kept
        self.misses = 0  # files aggregated alone and kept
        # Each plan -> its shape (None: not answerable); entries go with their plans.
        self._shapes: weakref.WeakKeyDictionary[DataFrame, PartialShape | None] = (
            weakref.WeakKeyDictionary()
        )
        # The statements answered lately, by (database, table, scope, statement): a file a
        # persist or compaction is about to install is aggregated for them (``warm``).
        self._recent: OrderedDict[tuple[object, ...], PartialShape] = OrderedDict()

    def answer(
        self, database: str | None, scope: frozenset[str] | None, frame: DataFrame, query: Query
    ) -> pa.Table | None:
        """``frame``'s rows from partial aggregates (run within ``query``, then closed), or None:
        not one the partials answer, and the caller runs the plan as made."""
        if self.capacity_bytes <= 0 or database is None:
            return None
        if scope is not None and database not in scope:
            return None
        shape = self._shape(database, frame)
        if shape is None:
            return None
        source = self._sources(database, shape.table)
        if source is None or source.retention_ns:
            return None
        files = source.snapshot.files
        if self._tables.unavailable & {file.path for file in files}:
            return None
        with self._lock:
            recent = (database, shape.table, scope, shape.key)
            self._recent[recent] = shape
            self._recent.move_to_end(recent)
            while len(self._recent) > RECENT_STATEMENTS:
                self._recent.popitem(last=False)
        try:
            partials = self._partials(database, scope, shape, source, query)
            rows = finish(partials, shape, frame.schema())
        except Exception as error:  # our own bugs surface; DataFusion's refusal: plain plan
            if not is_engine_error(error):
                raise
            return None
        query.close()
        return rows

    def warm(
        self,
        database: str,
        table: str,
        files: Sequence[DataFile],
        schema: pa.Schema,
        start: Callable[[], Query],
    ) -> None:
        """Aggregate ``files`` (about to join the table) for the statements lately answered
        over it, so the next run of each finds their partials kept: on the persister's
        thread, not in a query's latency (issue 20's soak: the slowest queries with the
        cache were those right after a persist or compaction, each aggregating the new file).

        A partial depends only on its file's rows, so one made before the file is installed
        is the one a query would make; whether the file needs deduplication is decided when
        a query reads the table. A refusal (no slot, a limit, DataFusion's error) only leaves
        the work to that query.
        """
        if self.capacity_bytes <= 0:
            return
        with self._lock:
            wanted = [
                (k[2], shape) for k, shape in self._recent.items() if k[:2] == (database, table)
            ]
        schema_key = _schema_key(schema)
        label = f"{database}.{table}"
        for scope, shape in wanted:
            for file in files:
                key = (database, table, scope, _identity(file), schema_key, shape.key)
                with self._lock:
                    if key in self._kept:
                        continue
                query = None
                try:
                    query = start()  # a slot and the query limits, as for any query
                    alone = TableSnapshot((file,), schema.empty_table())
                    self._keep(key, self._aggregate(database, shape, schema, alone, label, query))
                except FlightIoxError as error:  # no slot, a query limit: the next query does it
                    log.warning("aggregating %s ahead: %s", file.path, error)
                    return
                except Exception as error:
                    if not is_engine_error(error):
                        raise
                    log.warning("aggregating %s ahead: %s", file.path, engine_message(error))
                    return
                finally:
                    if query is not None:
                        query.close()

    def forget(self, database: str, table: str | None = None) -> None:
        """Drop the partials of a dropped table or database (its file names may come back)."""
        with self._lock:
            for key in [k for k in self._kept if _owner(k)[: 1 if table is None else 2] == (
                (database,) if table is None else (database, table)
            )]:  # fmt: skip
                self.used_bytes -= self._kept.pop(key).nbytes

    def _shape(self, database: str, frame: DataFrame) -> PartialShape | None:
        with self._lock:
            if frame in self._shapes:
                return self._shapes[frame]
        shape = partial_shape(
            frame.logical_plan(),
            lambda fqn: self._resolve(database, fqn),
            lambda body: self._view(database, body),
        )
        with self._lock:
            self._shapes[frame] = shape
        return shape

    def _resolve(
        self, database: str, fqn: tuple[str | None, str | None, str]
    ) -> tuple[str, pa.Schema] | None:
        catalog, schema, name = fqn
        if catalog not in (None, database) or schema not in (None, USER_SCHEMA):
            return None
        source = self._sources(database, name)
        return None if source is None else (name, source.schema)

    def _view(self, database: str, body: LogicalPlan) -> tuple[str, pa.Schema] | None:
        label = self._tables.view_label(body.display_indent())
        prefix = f"{database}."
        if label is None or not label.startswith(prefix):
            return None
        return self._resolve(database, (None, None, label.removeprefix(prefix)))

    def _partials(
        self,
        database: str,
        scope: frozenset[str] | None,
        shape: PartialShape,
        source: Registration,
        query: Query,
    ) -> list[pa.Table]:
        """A partial per file that needs no deduplication (kept), one for the rest (fresh)."""
        files, buffered = source.snapshot.files, source.snapshot.buffered
        grouped = {i for g in overlap_groups(table_sources(files, buffered)) for i in g.members}
        label = f"{database}.{shape.table}"
        schema_key = _schema_key(source.schema)
        partials = []
        for index, file in enumerate(files):
            if index in grouped:
                continue
            key = (database, shape.table, scope, _identity(file), schema_key, shape.key)
            with self._lock:
                kept = self._kept.get(key)
                if kept is not None:
                    self._kept.move_to_end(key)
                    self.hits += 1
            if kept is None:
                alone = TableSnapshot((file,), source.schema.empty_table())
                kept = self._aggregate(database, shape, source.schema, alone, label, query)
                self._keep(key, kept)
            partials.append(kept)
        rest_files = tuple(file for index, file in enumerate(files) if index in grouped)
        rest = TableSnapshot(rest_files, buffered)
        partials.append(self._aggregate(database, shape, source.schema, rest, label, query))
        return partials

    def _keep(self, key: Hashable, partial: pa.Table) -> None:
        with self._lock:
            self.misses += 1
            if partial.nbytes > self.capacity_bytes or key in self._kept:
                return
            self._kept[key] = partial
            self.used_bytes += partial.nbytes
            while self.used_bytes > self.capacity_bytes:
                self.used_bytes -= self._kept.popitem(last=False)[1].nbytes

    def _aggregate(
        self,
        database: str,
        shape: PartialShape,
        schema: pa.Schema,
        snapshot: TableSnapshot,
        label: str,
        query: Query,
    ) -> pa.Table:
        """The partial states of ``snapshot``'s rows (deduplicated among themselves)."""
        provider = self._tables.provider(schema, snapshot, None, label)
        context = self._isolated(database, SCRATCH, provider)
        frame = context.sql(f"SELECT * FROM {q(SCRATCH)} AS {q(shape.alias)}")
        for predicate in shape.predicates:
            frame = frame.filter(_wrap(predicate))
        groups = [_wrap(g).alias(f"g{i}") for i, g in enumerate(shape.groups)]
        frame = frame.aggregate(groups, _partial_states(shape.aggregates))
        return _plain_keys(query.read_all(frame))


def finish(partials: Sequence[pa.Table], shape: PartialShape, schema: pa.Schema) -> pa.Table:
    """The final aggregate over the partials, as the statement's own output."""
    table = pa.concat_tables(partials, promote_options="permissive")
    keys = [f"g{i}" for i in range(len(shape.groups))]
    specs: list[tuple[str, str] | tuple[str, str, pc.FunctionOptions]] = []
    for i, aggregate in enumerate(shape.aggregates):
        if aggregate.kind == "avg":
            specs += [(f"s{i}", "sum"), (f"c{i}", "sum", _COUNT)]
        elif aggregate.kind == "count":
            specs.append((f"s{i}", "sum", _COUNT))
        else:
            specs.append((f"s{i}", _FINAL[aggregate.kind]))
    done = table.group_by(keys, use_threads=False).aggregate(specs)
    columns: list[pa.ChunkedArray] = [done[key] for key in keys]
    for i, aggregate in enumerate(shape.aggregates):
        if aggregate.kind == "avg":
            total, count = done[f"s{i}_sum"], done[f"c{i}_sum"]
            columns.append(pc.divide(total, pc.cast(count, pa.float64())))
        else:
            columns.append(done[f"s{i}_{_FINAL.get(aggregate.kind, 'sum')}"])
    out = pa.table(
        [columns[index] for index in shape.outputs],
        names=[f"o{i}" for i in range(len(shape.outputs))],
    )
    if shape.order:
        out = out.take(_sorted(out, shape))
    return pa.Table.from_arrays(
        [c.cast(t) for c, t in zip(out.columns, schema.types, strict=True)], schema=schema
    )


def _sorted(table: pa.Table, shape: PartialShape) -> pa.Array:
    """The row order of the statement's ORDER BY, then its OFFSET and LIMIT.

    Each key's null placement goes first, as its own key: pyarrow places nulls for all keys
    at once, DataFusion per key. Keys are plain values here (dictionaries were decoded).
    """
    keys: list[tuple[str, str]] = []
    columns = {}
    for n, key in enumerate(shape.order):
        column = table.column(key.column)
        columns[f"n{n}"] = pc.is_valid(column) if key.nulls_first else pc.is_null(column)
        columns[f"v{n}"] = column
        keys += [(f"n{n}", "ascending"), (f"v{n}", "ascending" if key.ascending else "descending")]
    indices = pc.sort_indices(pa.table(columns), sort_keys=keys)
    end = None if shape.fetch is None else shape.skip + shape.fetch
    return indices[shape.skip : end]


def _partial_states(aggregates: Sequence[Aggregate]) -> list[Expr]:
    states = []
    for i, aggregate in enumerate(aggregates):
        arg = _wrap(aggregate.arg)
        if aggregate.kind == "avg":  # DataFusion's avg adds the values as Float64
            states += [f.sum(arg.cast(pa.float64())).alias(f"s{i}"), f.count(arg).alias(f"c{i}")]
        else:
            states.append(_wrap(aggregate.expr).alias(f"s{i}"))
    return states


def _plain_keys(table: pa.Table) -> pa.Table:
    """Dictionary group keys decoded: partials of different files have different dictionaries."""
    for index, field in enumerate(table.schema):
        if pa.types.is_dictionary(field.type):
            decoded = table.column(index).cast(field.type.value_type)
            table = table.set_column(index, field.with_type(field.type.value_type), decoded)
    return table


def _wrap(expr: Expr) -> Expr:
    """The bindings hand plan expressions out raw; the DataFrame API takes wrapped ones."""
    return expr if isinstance(expr, Expr) else Expr(expr)


def _schema_key(schema: pa.Schema) -> tuple[tuple[str, str], ...]:
    return tuple((field.name, str(field.type)) for field in schema)


def _identity(file: DataFile) -> tuple[object, ...]:
    return (
        file.path, file.record_count, file.size_bytes, file.sequence_number,
        file.min_time_us, file.max_time_us,
    )  # fmt: skip


def _owner(key: Hashable) -> tuple[object, ...]:
    assert isinstance(key, tuple)
    return key[:2]
