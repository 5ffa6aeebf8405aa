"""Aggregates answered from per-file partial aggregates (``--aggregate-cache-size``).

Dashboards run one aggregate over and over while the table grows (issue 20's soak: the same
``GROUP BY`` every 200 ms); every run aggregated every row of every immutable file again.
For a statement ``partial_plan.partial_shape`` proves answerable, the table's files are first
pruned as the plain plan's are (``pruned_plans.py``: the statement's time range and tag
values against the manifests; a file left out holds no row the statement sees, and none
that would replace one); a statement left with fewer than ``MIN_ROWS`` rows to read (cached
files counted as their zone maps cut them: ``tables.needed_rows``) runs as planned. Each
kept file that may share no key with another source (``overlap.py``: it needs no
deduplication) is aggregated alone, into partial states per group (count, sum, min, max;
avg as a Float64 sum and a count), and those partials are kept
(``partial_store.py``: least recently used out first, within a byte bound); so is each
settled segment of a buffer in no overlap group (``buffer_ladder.py``). The rest (the
buffer's newest rows, or all of it when it overlaps a file, and the files of overlap groups,
deduplicated as usual) is aggregated fresh at every run, and DataFusion's final aggregate
over all partials, with the statement's ORDER BY, OFFSET and LIMIT, gives its exact output
(``partial_final.py``: names and types from the plan, DataFusion's own rules for NULL, NaN,
signed zeros and integer wrapping).

The whole statement runs within the caller's one ``Query``: one slot, one deadline, the
caller's cancellation, for every per-file aggregate and the final one. DataFusion refusing
a part (at planning or at run time, a memory limit included) leaves the statement to the
plain plan, in the same query, which answers or fails as it always would; a timeout or a
cancellation ends the statement.

A partial is keyed by the caller's scope, the part and the statement (``partial_parts.py``);
data files are immutable (a compaction, retention or DELETE writes new ones), so a removed
file is never asked for again and ages out of the store by its bound. Settled files'
partials are merged into one (``partial_merge.py``), so a run combines a few. Not applied
over a database with a retention period (rows leave a file's answer as time passes), on a
query node (other nodes' rows), or while the table has a lost file (the plain plan reports
it). Float sums may differ from the plain plan's in the last bits, as DataFusion's own do
between runs (the order of addition).
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable, Hashable, Sequence

import pyarrow as pa
from datafusion import DataFrame, LogicalPlan, SessionContext

from flight_iox.engine.buffer import TableSnapshot
from flight_iox.errors import FlightIoxError, QueryCancelledError, QueryTimeoutError
from flight_iox.query.buffer_ladder import SEGMENT_STEP, Runs, ladder_partials
from flight_iox.query.engine_errors import engine_message, is_engine_error
from flight_iox.query.execution import Query
from flight_iox.query.overlap import overlap_groups, table_sources
from flight_iox.query.partial_merge import SettledPrefixes
from flight_iox.query.partial_parts import (
    SEGMENT_ROWS,
    HeldPartials,
    PartialsTooLarge,
    RecentStatements,
    file_identity,
    partial_key,
    statement_digest,
)
from flight_iox.query.partial_plan import PartialShape, partial_shape
from flight_iox.query.partial_runs import Isolated, Part, PartialRuns
from flight_iox.query.partial_store import PartialStore
from flight_iox.query.pruning import kept_files
from flight_iox.query.registry import USER_SCHEMA, Registration
from flight_iox.query.scan_needs import ScanNeeds
from flight_iox.query.tables import TableBuilder
from iox_catalog.files import DataFile

log = logging.getLogger(__name__)
# Statements that can read fewer rows run as planned: DataFusion runs more (the fresh rest
# and the final aggregate, measured as two, now one: ``partial_runs.py``) cost more than the
# plain plan over them (the review's 60 files of 50 rows: 2.0 ms planned, 5.8 ms from
# partials; docs/benchmarks.md). One memory batch, as ``pruned_plans``.
MIN_ROWS = 65_536

# (database, table) -> what the table was last registered from (None: no such table)
Sources = Callable[[str, str], Registration | None]
# (plan, database, table) -> the key predicates its statement prunes the table's files by
Needs = Callable[[DataFrame, str, str], ScanNeeds | None]


class PartialAggregates:
    """The cache of per-file partial aggregates, and the answers built from it."""

    def __init__(
        self,
        capacity_bytes: int,
        sources: Sources,
        tables: TableBuilder,
        isolated: Isolated,
        in_memory: SessionContext,
        whole_in_memory: Callable[[str, str], bool],
        needs: Needs = lambda frame, database, table: None,
        memory_limit: int = 0,
    ) -> None:
        """``tables`` builds providers over chosen sources and knows views and lost files;
        ``in_memory``: the context for plans over partial states (``PartialRuns``);
        ``whole_in_memory``: whether the plain plan reads the table as one memory table
        (``TableRegistry.whole_in_memory``: ``count(*)`` is then left to its statistics);
        ``needs`` is what the plain plan's file pruning used (``PrunedPlanner.needs``);
        ``memory_limit`` bounds the partials one statement holds (``--query-memory-limit``:
        they live outside DataFusion's pool; past it the plan runs as made, in the pool)."""
        self.memory_limit = memory_limit
        self.capacity_bytes = capacity_bytes
        self._sources = sources
        self._tables = tables
        self._runs = PartialRuns(tables, isolated, in_memory)
        self._whole_in_memory = whole_in_memory
        self._needs = needs
        self._store = PartialStore(capacity_bytes)
        self.prefixes = SettledPrefixes(self._store)  # settled files' partials merged
        self.min_rows = MIN_ROWS
        self.segment_rows = SEGMENT_ROWS  # of the buffer's settled front (``partial_parts``)
        self.segment_step = SEGMENT_STEP  # small segments per big one (``buffer_ladder``)
        self._lock = threading.Lock()
        # Each plan -> its shape (None: not answerable); entries go with their plans.
        self._shapes: weakref.WeakKeyDictionary[DataFrame, PartialShape | None] = (
            weakref.WeakKeyDictionary()
        )
        self._recent = RecentStatements()  # what a new file is aggregated for (``warm``)

    @property
    def used_bytes(self) -> int:
        """Bytes the kept partials are counted at (``partial_store.entry_bytes``)."""
        return self._store.used_bytes

    @property
    def hits(self) -> int:
        """Files whose partial was found kept."""
        return self._store.hits

    @property
    def misses(self) -> int:
        """Files aggregated alone (at a query, or ahead for a persist or compaction)."""
        return self._store.misses

    @property
    def entries(self) -> int:
        """Partials kept now."""
        return len(self._store)

    def answer(
        self, database: str | None, scope: frozenset[str] | None, frame: DataFrame, query: Query
    ) -> pa.Table | None:
        """``frame``'s rows from partial aggregates, run within ``query`` (closed when it
        answers), or None: the caller runs the plan as made, in ``query`` still open."""
        found = self._eligible(database, scope, frame)
        if found is None:
            return None
        database, shape, source, needs, files = found
        self._recent.answered(database, shape.table, scope, shape, needs)
        try:
            partials, rest = self._partials(database, scope, shape, source, files, needs, query)
            answer = self._runs.final(database, shape, partials, rest, frame.schema(), query)
            if answer is None:  # order-dependent: this plan, run again, is left to itself
                with self._lock:
                    self._shapes[frame] = None
                return None
        except (QueryTimeoutError, QueryCancelledError):  # these end the statement
            raise
        except PartialsTooLarge as error:
            log.debug("partial aggregates refused: %s", error)
            return None
        except FlightIoxError as error:  # DataFusion's refusal at run time (memory too):
            log.debug("partial aggregates refused, the plan runs as made: %s", error)
            return None
        except Exception as error:  # DataFusion's refusal at planning: the same; ours surface
            if not is_engine_error(error):
                raise
            log.debug("partial aggregates refused: %s", engine_message(error))
            return None
        query.close()
        return answer

    def may_answer(
        self, database: str | None, scope: frozenset[str] | None, frame: DataFrame
    ) -> bool:
        """Whether ``answer`` would take ``frame``'s statement (it may still decline it
        at run time: partials past the query pool, an order of the plan's own)."""
        return self._eligible(database, scope, frame) is not None

    def _eligible(
        self, database: str | None, scope: frozenset[str] | None, frame: DataFrame
    ) -> tuple[str, PartialShape, Registration, ScanNeeds | None, Sequence[DataFile]] | None:
        """The statement's shape, table, needs and the files it can need, when partials
        may answer it: a shape they compute, over enough rows, no file lost."""
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
        needs = self._needs(frame, database, shape.table)
        files = source.snapshot.files
        if shape.counts_rows and self._whole_in_memory(database, shape.table):
            return None  # counted from its statistics (bench/partial_final.py)
        if needs is not None:  # pruned as the plain plan's are (``pruned_plans.py``)
            files = tuple(kept_files(files, needs))
        rows = self._tables.needed_rows(files, needs) + source.snapshot.buffered.num_rows
        unchecked = self._tables.unchecked(files)
        if unchecked:  # checked once, by a provider over them, as every file is
            alone = TableSnapshot(tuple(unchecked), source.schema.empty_table())
            self._tables.provider(source.schema, alone, None, f"{database}.{shape.table}")
        lost = self._tables.unavailable & {file.path for file in source.snapshot.files}
        return None if rows < self.min_rows or lost else (database, shape, source, needs, files)

    def warm(
        self,
        database: str,
        table: str,
        files: Sequence[DataFile],
        schema: pa.Schema,
        start: Callable[[], Query | None],
    ) -> None:
        """Aggregate ``files`` (about to join the table) for the statements lately answered
        over it, so the next run of each finds their partials kept: on the persister's
        thread, not in a query's latency (issue 20's soak: the slowest queries with the
        cache were those right after a persist or compaction, each aggregating the new file).

        A partial depends only on its file's rows, so one made before the file is installed
        is the one a query would make; whether the file needs deduplication is decided when
        a query reads the table. This is a cache, and the persist or compaction calling it
        must never wait or fail for it: ``start`` only takes a free query slot (none: skip),
        and any failure is logged and left to the next query, as a miss.
        """
        if self.capacity_bytes <= 0 or not files:
            return
        wanted = self._recent.over(database, table)
        if not wanted:
            return
        label = f"{database}.{table}"
        query = None
        try:
            query = start()  # a slot (never waited for), a deadline, as for any query
            if query is None:
                log.debug("aggregating new files of %s ahead skipped: no free query slot", label)
                return
            for scope, shape, needs in wanted:
                digest = statement_digest(schema, shape)
                for file in files if needs is None else kept_files(files, needs):
                    key = partial_key(database, table, scope, file_identity(file), digest)
                    if key in self._store:
                        continue
                    alone = Part(schema, TableSnapshot((file,), schema.empty_table()), label, needs)
                    partial = self._runs.aggregate(database, shape, alone, query)
                    self._store.keep(key, partial)
        except Exception as error:  # a failed warm is a miss later, never a failed persist
            if not isinstance(error, FlightIoxError) and not is_engine_error(error):
                log.exception("aggregating new files of %s ahead failed (a bug)", label)
                return
            text = str(error) if isinstance(error, FlightIoxError) else engine_message(error)
            log.warning("aggregating new files of %s ahead failed (the next query will): %s",
                        label, text)  # fmt: skip
        finally:
            if query is not None:
                query.close()

    def forget(self, database: str, table: str | None = None) -> None:
        """Drop the partials and recent statements of a dropped table or database (its
        file names may come back, and its statements must not be warmed for)."""
        prefix: tuple[object, ...] = (database,) if table is None else (database, table)
        self._store.forget(prefix)
        self._recent.forget(prefix)

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
        files: Sequence[DataFile],
        needs: ScanNeeds | None,
        query: Query,
    ) -> tuple[list[pa.Table], Part | None]:
        """A partial per file of ``files`` (those the statement can need) that needs no
        deduplication (kept), and the rest (None: nothing), aggregated fresh with the final
        aggregate. Files pruned out hold no row the statement sees, and none that would
        replace one, so deduplicating among the rest is exact."""
        buffered = source.snapshot.buffered
        schema, digest = source.schema, statement_digest(source.schema, shape)
        groups = overlap_groups(table_sources(files, buffered), self._tables.shares(buffered))
        grouped = {i for g in groups for i in g.members}
        label = f"{database}.{shape.table}"
        counted = HeldPartials(self.memory_limit).counted

        def key_of(identity: Hashable) -> Hashable:
            return partial_key(database, shape.table, scope, identity, digest)

        def merge(parts: list[pa.Table]) -> pa.Table | None:
            return self._runs.merge(database, shape, parts, query)

        def fresh(rows: TableSnapshot) -> pa.Table:
            return self._runs.aggregate(database, shape, Part(schema, rows, label, needs), query)

        def kept(file: DataFile) -> tuple[pa.Table, bool]:
            key = key_of(file_identity(file))
            found = self._store.get(key)
            if found is not None:
                return counted(found), True
            # Made only on a miss: an empty table of a 21-column schema costs 0.13 ms.
            made = fresh(TableSnapshot((file,), schema.empty_table()))
            self._store.keep(key, made)
            return counted(made), False

        partials = self.prefixes.partials(
            [file for index, file in enumerate(files) if index not in grouped],
            key_of, kept, merge, counted,
        )  # fmt: skip
        rest_from = 0
        if len(files) not in grouped:  # no key shared with a file: keep its settled front
            front, rest_from = ladder_partials(  # big segments merged from small ones
                source.snapshot, self.segment_rows, self.segment_step, self._store,
                Runs(key_of, lambda at, n: fresh(TableSnapshot((), buffered.slice(at, n))), merge,
                     counted),
            )  # fmt: skip
            partials += front
        rest_files = tuple(file for index, file in enumerate(files) if index in grouped)
        rest_rows = buffered.slice(rest_from)
        if rest_files or rest_rows.num_rows or not partials:  # nothing adds nothing
            return partials, Part(schema, TableSnapshot(rest_files, rest_rows), label, needs)
        return partials, None
