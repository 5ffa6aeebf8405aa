"""One table for DataFusion: its Parquet files and its buffered rows as one relation.

A table with no files is an in-memory base table. A table with files is a view: each file
is scanned by DataFusion's own Parquet reader (so its statistics prune row groups) and
projected onto the data-model schema (tags back to dictionaries, exact nanosecond time
rebuilt from microseconds plus the remainder, columns a file lacks as nulls), then
unioned with the buffered rows. Only rows of sources that
may share a key (time, partition and tag bounds: ``overlap.py``), in the time windows
where they meet, are deduplicated (``dedupe_plan.py``): last write wins field by
field, files in commit order, the buffer last.

A file that is missing or corrupt (``file_checks.py``) does not stop the table, nor any
other, from registering: it becomes a source that raises ``DataFileUnavailableError`` when
a query scans it, so only queries over that table fail, saying which file and what to do.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence

import pyarrow as pa
from datafusion import DataFrame, SessionConfig, SessionContext, udf
from datafusion.catalog import Table

from flight_iox.columns import TIME_COLUMN
from flight_iox.engine.buffer import TableSnapshot, conform
from flight_iox.errors import DataFileUnavailableError, carried_error
from flight_iox.query.dedupe_plan import union_sql
from flight_iox.query.engine_errors import is_engine_error
from flight_iox.query.file_cache import FileCache, Given
from flight_iox.query.file_checks import UnreadableFileError
from flight_iox.query.file_columns import cast_sql, read_field, time_expression
from flight_iox.query.loopback_files import FileUrls
from flight_iox.query.overlap import OverlapGroup, SharesSeries, overlap_groups, table_sources
from flight_iox.query.scan_needs import ScanNeeds
from flight_iox.query.series_index import SeriesIndex
from flight_iox.query.zone_maps import ZoneMaps
from flight_iox.sql_quote import quote_identifier as q
from iox_catalog.files import DataFile

log = logging.getLogger(__name__)
# Raises its argument (a carried DataFileUnavailableError) whenever it is evaluated.
UNAVAILABLE_FUNCTION = "__iox_unavailable"
# Reads a data file's Arrow schema after checking it (``file_checks.checked_schema``).
SchemaCheck = Callable[[DataFile], pa.Schema]
# In-memory tables are split into batches of at most this many rows, spread over partitions;
# a table of at most one such batch's rows stays on one partition (``_memory_table``).
MEMORY_BATCH_ROWS = 65_536
VIEWS_KEPT = 4_096  # views whose plans ``view_label`` recognises (older ones: no rewrite)
# Parquet scans prune pages with the page index (files are sorted by tags, so a tag predicate
# skips most pages), and evaluate filters in the decoder, which then decodes the other columns
# only for matching rows (TSBS high-cpu-all: 0.8x). Pushdown once cost InfluxQL conformance
# (389 -> 315 cases), most likely through file time as a CAST, which DataFusion unwraps by
# truncating the literal; with integer time (``file_columns.time_expression``) all 644
# conformance outcomes are the same with and without it. File statistics are not collected at
# planning: with them DataFusion takes the files' sort order (tags, time) as the scans' output
# ordering, and planning a union of such a scan with the buffer grows with the number of
# columns (TSBS ``SELECT *`` over files + buffer: 130-640 ms to plan, against 2-5 ms
# without). Row groups and pages are still pruned by the statistics in each file, when it is
# opened.
PARQUET_OPTIONS = {
    "datafusion.execution.collect_statistics": "false",
    "datafusion.execution.parquet.enable_page_index": "true",
    "datafusion.execution.parquet.pushdown_filters": "true",
    "datafusion.execution.parquet.reorder_filters": "true",
}


def _raise_unavailable(carried: pa.Array) -> pa.Array:
    """The body of ``__iox_unavailable``: fail the query with the carried error."""
    raise RuntimeError(carried[0].as_py())


class TableBuilder:
    """Builds DataFusion providers for tables, caching each file's scan."""

    def __init__(
        self,
        partitions: int,
        file_cache: FileCache | None = None,
        check: SchemaCheck | None = None,
        file_urls: FileUrls | None = None,
        series: SeriesIndex | None = None,
    ) -> None:
        """Memory tables get ``partitions`` partitions; ``file_cache`` serves decoded files;
        ``file_urls`` gives the URL DataFusion reads a file at (else its path); ``check``
        reads a file's schema after checking it is there and whole; without it DataFusion
        infers the schema (and a bad file fails the whole registration); ``series`` says
        which files share a series in time (``series_index.py``; None: bounds decide)."""
        self._context = SessionContext(SessionConfig(PARQUET_OPTIONS))
        # Volatile, so the optimizer never evaluates it while planning.
        self._context.register_udf(
            udf(_raise_unavailable, [pa.string()], pa.string(), "volatile", UNAVAILABLE_FUNCTION)
        )
        self._lock = threading.Lock()
        self._partitions = partitions
        self._file_cache = file_cache
        self._check = check
        self._file_urls = file_urls
        self._series = series
        self._file_scans: dict[str, tuple[Table, pa.Schema]] = {}
        self._zones = ZoneMaps()
        self._reported: set[str] = set()  # unreadable files already logged
        self._unavailable: set[str] = set()  # unreadable files in the providers built
        self._counter = itertools.count()
        # Each view's plan as DataFusion renders it -> its label (``latest_plan.py`` asks).
        self._views: OrderedDict[str, str] = OrderedDict()

    @property
    def context(self) -> SessionContext:
        """The scratch context (object stores must be registered here too)."""
        return self._context

    def provider(
        self,
        schema: pa.Schema,
        snapshot: TableSnapshot,
        retention_ns: int | None = None,
        label: str = "?",
    ) -> Table:
        """The provider to register for a table (``label`` is its ``db.name``, for errors);
        rows past the retention period are hidden.

        Files the Parquet cache holds are read from memory. The cached files and the buffer
        that overlap no other source are one in-memory table, so a table whose files are all
        cached and apart is scanned like the buffer alone.
        """
        return self.provider_and_rows(schema, snapshot, retention_ns, label)[0]

    def provider_and_rows(
        self,
        schema: pa.Schema,
        snapshot: TableSnapshot,
        retention_ns: int | None = None,
        label: str = "?",
        needs: ScanNeeds | None = None,
    ) -> tuple[Table, int]:
        """``provider``, with ``needs`` (one statement's key predicates) cutting the cached
        files in no overlap group to the rows they may need (``zone_maps.py``); and how many
        rows it holds at most."""
        with self._lock:
            files = snapshot.files
            groups = []
            if files:  # the buffer alone overlaps nothing (and may be a system table's rows)
                shares = self.shares(snapshot.buffered)
                groups = overlap_groups(table_sources(files, snapshot.buffered), shares)
            grouped = {i for group in groups for i in group.members}
            cached = {}
            if self._file_cache is not None and files:
                cached = self._file_cache.tables(files, schema)
            # Sources in no overlap group that are in memory become one in-memory table.
            free = [
                conform(self._zones.needed(f.path, cached[f.path], needs), schema)
                for i, f in enumerate(files)
                if f.path in cached and i not in grouped
            ]
            sources: list[tuple[int, DataFile | pa.Table]] = [
                (i, f) for i, f in enumerate(files) if f.path not in cached or i in grouped
            ]
            if len(files) in grouped:
                sources.append((len(files), snapshot.buffered))
            else:
                free.append(conform(snapshot.buffered, schema))
            in_memory = pa.concat_tables(free) if free else schema.empty_table()
            rows = in_memory.num_rows + sum(
                s.num_rows if isinstance(s, pa.Table) else s.record_count for _, s in sources
            )
            if not sources and not retention_ns:
                return self._memory_table(in_memory), rows
            if in_memory.num_rows or not sources:
                sources.insert(0, (-1, in_memory))
            return self._view(schema, sources, retention_ns, cached, groups, label), rows

    def shares(self, buffered: pa.Table | None = None) -> SharesSeries | None:
        """The series check for a table's files and ``buffered`` rows (None: bounds decide)."""
        return None if self._series is None else self._series.check(buffered)

    def view_label(self, rendering: str) -> str | None:
        """The label of our view whose plan renders as ``rendering`` (names are unique)."""
        return self._views.get(rendering)

    def load_files(self, files: Sequence[DataFile], schema: pa.Schema, rows: Given) -> None:
        """Put ``files`` in the Parquet cache (those that fit) before any query needs them."""
        if self._file_cache is not None and files:
            self._file_cache.tables(files, schema, rows)

    def unchecked(self, files: Sequence[DataFile]) -> list[DataFile]:
        """The files of ``files`` neither cached nor checked (``_file_scan``) yet."""
        held = self.cached_files(files)
        with self._lock:
            return [f for f in files if f.path not in held and f.path not in self._file_scans]

    def cached_files(self, files: Sequence[DataFile]) -> dict[str, pa.Table]:
        """The decoded rows the Parquet cache holds of ``files``, without loading any."""
        return {} if self._file_cache is None else self._file_cache.held(files)

    def needed_rows(self, files: Sequence[DataFile], needs: ScanNeeds | None) -> int:
        """At most how many rows of ``files`` a statement with ``needs`` reads: those of
        cached files left by their zone maps (as ``provider_and_rows`` cuts them), all of
        the others'."""
        held = self.cached_files(files)
        with self._lock:
            cut = {p: self._zones.needed_count(p, rows, needs) for p, rows in held.items()}
        return sum(cut.get(f.path, f.record_count) for f in files)

    def stand_in(self, schema: pa.Schema, label: str = "?") -> Table:
        """An empty view of ``schema`` named ``label`` (``view_label``): what a table with
        files is registered as between statements (``registry.Registration``)."""
        with self._lock:
            return self._view(schema, [(-1, schema.empty_table())], None, {}, [], label)

    def forget_files(self, keep: set[str]) -> None:
        """Drop cached scans (and cached data) of files no longer in any table."""
        with self._lock:
            for path in set(self._file_scans) - keep:
                del self._file_scans[path]
            self._zones.keep_only(keep)
            self._reported &= keep
            self._unavailable &= keep
        if self._file_cache is not None:
            self._file_cache.keep_only(keep)
        if self._file_urls is not None:
            self._file_urls.keep_only(keep)

    def raise_if_unavailable(self, frame: DataFrame) -> None:
        """Raise ``DataFileUnavailableError`` if running ``frame`` would read a lost file.

        The source standing for a lost file raises when executed, but by then an HTTP
        answer may have started streaming other sources' rows. The optimized plan shows
        whether that source is still in it (``WHERE false`` prunes it, say), so the query
        fails before any row goes out. This costs one more optimizer pass, and only while
        some table has a lost file.
        """
        if not self._unavailable:
            return
        try:
            plan = str(frame.optimized_logical_plan())
        except Exception as error:
            if not is_engine_error(error):
                raise
            return  # running the query reports DataFusion's own errors
        lost = carried_error(plan)
        if lost is not None:
            raise lost

    @property
    def unavailable(self) -> set[str]:
        """The unreadable files standing in the providers built so far."""
        with self._lock:
            return set(self._unavailable)

    def forget_scans(self, paths: set[str]) -> None:
        """Check these files again the next time a table with them is built."""
        with self._lock:
            for path in paths:
                self._file_scans.pop(path, None)
                self._reported.discard(path)

    def _memory_table(self, data: pa.Table) -> Table:
        batches = data.to_batches(max_chunksize=MEMORY_BATCH_ROWS) or [
            pa.RecordBatch.from_pylist([], schema=data.schema)
        ]
        # A few rows (those a pruned statement cut from cached files, in several chunks) on
        # one partition: spread over two, their plan gathered them again with an operator a
        # kept plan may not hold, so every run was planned anew (TSBS single-groupby-5-8-1:
        # 2.1 against 0.5 ms of CPU in process; bench/partial_final.py).
        one = data.num_rows <= MEMORY_BATCH_ROWS
        parts = 1 if one else min(self._partitions, len(batches))
        name = self._scratch_name()
        self._context.register_record_batches(name, [batches[i::parts] for i in range(parts)])
        try:
            return self._context.table_provider(name)
        finally:
            self._context.deregister_table(name)

    def _file_scan(self, file: DataFile, schema: pa.Schema, label: str) -> tuple[Table, pa.Schema]:
        """A scan of one file, read straight into the data model's types where they differ.

        Files store tags as ``dictionary<int32, utf8>`` for DataFusion's reader
        (``parquet_files.StoredSchema``), which decodes them from the dictionary pages.
        Files that store no schema (``StoredSchema.STRINGS``, written before) say ``utf8``,
        and their tags are cast in the scan (after the decoder's filters), which hashes each
        value read. Strings are read as ``utf8``.
        """
        cached = self._file_scans.get(file.path)
        if cached is None:
            name = self._scratch_name()
            url = file.path if self._file_urls is None else self._file_urls.url(file.path, label)
            if self._check is not None:
                checked = self._check(file)  # raises UnreadableFileError
                found = pa.schema(pa.field(f.name, f.type, f.nullable) for f in checked)
            else:
                self._context.register_parquet(name, url)
                try:
                    found = self._context.table(name).schema()
                finally:
                    self._context.deregister_table(name)
            read_schema = pa.schema(read_field(f, schema) for f in found)
            self._context.register_parquet(name, url, schema=read_schema)
            try:
                provider = self._context.table_provider(name)
            finally:
                self._context.deregister_table(name)
            cached = self._file_scans[file.path] = (provider, read_schema)
        return cached

    def _view(
        self,
        schema: pa.Schema,
        sources: list[tuple[int, DataFile | pa.Table]],
        retention_ns: int | None,
        cached: dict[str, pa.Table],
        groups: list[OverlapGroup],
        label: str,
    ) -> Table:
        """A view over ``sources`` (index in commit order, then a file or in-memory rows)."""
        names: list[str] = []
        selects = []
        columns_sql = ", ".join(q(f.name) for f in schema)
        try:
            for _, source in sources:
                name = self._scratch_name()
                if isinstance(source, pa.Table) or source.path in cached:
                    rows = source if isinstance(source, pa.Table) else cached[source.path]
                    self._context.register_table(name, self._memory_table(conform(rows, schema)))
                    names.append(name)
                    selects.append(f"SELECT {columns_sql} FROM {name}")
                    continue
                try:
                    provider, read_schema = self._file_scan(source, schema, label)
                except UnreadableFileError as error:
                    lost = DataFileUnavailableError(source.path, label, error.reason)
                    selects.append(self._unavailable_select(schema, lost))
                    self._unavailable.add(source.path)
                    continue
                self._unavailable.discard(source.path)
                self._context.register_table(name, provider)
                names.append(name)
                selects.append(self._file_select(name, schema, read_schema, source))
            sql = union_sql(schema, selects, [index for index, _ in sources], groups)
            if retention_ns:
                # now() is folded when each query is planned, so the cutoff moves with time.
                since = f"arrow_cast(now(), 'Int64') - {int(retention_ns)}"
                cutoff = cast_sql(since, pa.timestamp("ns"))
                sql = f"SELECT * FROM ({sql}) AS kept WHERE {q(TIME_COLUMN)} >= {cutoff}"
            frame = self._context.sql(sql)
            self._views[frame.logical_plan().display_indent()] = label
            while len(self._views) > VIEWS_KEPT:
                self._views.popitem(last=False)
            return Table(frame)
        finally:
            for name in names:
                self._context.deregister_table(name)

    def _file_select(
        self,
        name: str,
        schema: pa.Schema,
        read_schema: pa.Schema,
        file: DataFile,
    ) -> str:
        parts = []
        for field in schema:
            index = read_schema.get_field_index(field.name)
            if field.name == TIME_COLUMN:
                expression = time_expression(file)
            elif index < 0:
                expression = cast_sql("NULL", field.type)
            elif read_schema.field(index).type == field.type:
                expression = q(field.name)  # a no-op cast still costs planning time
            else:
                expression = cast_sql(q(field.name), field.type)
            parts.append(f"{expression} AS {q(field.name)}")
        return f"SELECT {', '.join(parts)} FROM {name}"

    def _unavailable_select(self, schema: pa.Schema, error: DataFileUnavailableError) -> str:
        """A source standing for an unreadable file: evaluating any of it raises ``error``.

        Every column and the filter call the raising function, so a query that reads the
        table fails whether it projects columns, filters them or only counts rows.
        """
        if error.path not in self._reported:
            self._reported.add(error.path)
            log.warning("%s", error.message)
        fail = f"{UNAVAILABLE_FUNCTION}('{error.carried()}')"
        parts = [f"{cast_sql(fail, field.type)} AS {q(field.name)}" for field in schema]
        never = cast_sql(fail, pa.bool_())
        return f"SELECT {', '.join(parts)} FROM (SELECT 1) AS lost WHERE {never}"

    def _scratch_name(self) -> str:
        return f"__iox_scratch_{next(self._counter)}"
