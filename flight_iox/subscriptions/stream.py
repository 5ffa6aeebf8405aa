"""Streaming subscriptions over Flight: a DoGet that sends a table's new rows as they come.

The ticket is JSON (next to the InfluxDB 3 query ticket)::

    {"subscribe": {"database": "db", "table": "cpu", "columns": ["host", "usage", "time"],
                   "where": "usage > 90 AND host <> 'a'", "from_sequence": 1234}}

``columns`` (default: every column the table has when the stream opens) and ``where`` (a
SQL predicate) are optional. Without ``from_sequence`` the stream starts with the next
acknowledged write; with it, at that WAL sequence (inclusive), as far back as the WAL
still holds entries (else NOT_FOUND, naming the earliest it holds).

Every message's ``app_metadata`` is ``{"wal_sequence": N}``: the rows of every write up to
``N`` were sent, so a client resumes with ``from_sequence = N + 1``. The first message is
an empty batch giving the starting point, and an empty one follows every second with no
rows (the position moves with other tables' writes, and a gone client is noticed).

The caller needs read permission on the database, checked where the name is resolved
(here, before anything is read). The predicate is parsed by DataFusion as one expression
against the table's schema (``parse_sql_expr``: no statement, no second clause can be
smuggled in; an unknown column or a bad type is a 400 before the stream starts) and
evaluated on each batch in a private session that holds nothing but that batch.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
from datafusion import Expr, SessionContext, col

from flight_iox.auth.policy import Authorizer, Principal
from flight_iox.auth.tokens import Action
from flight_iox.engine.catalog import SchemaCatalog
from flight_iox.errors import BadRequestError, NotFoundError, QueryError
from flight_iox.names import validate_database_name
from flight_iox.ports import AcknowledgedWrite, WalFeed
from flight_iox.query.engine_errors import is_engine_error

HEARTBEAT_SECONDS = 1.0
MAX_BATCH_ROWS = 65_536
ENTRIES_PER_READ = 1024
_TABLE = "rows"


@dataclass(frozen=True)
class StreamSpec:
    """A decoded subscribe ticket."""

    database: str
    table: str
    columns: tuple[str, ...] | None
    where: str | None
    from_sequence: int | None


def is_subscribe_ticket(body: dict[str, Any]) -> bool:
    """A JSON ticket asking for a stream rather than a query."""
    return "subscribe" in body


def parse_spec(body: dict[str, Any], header_database: str | None) -> StreamSpec:
    """Check the ticket's fields, naming the one that is wrong."""
    spec = body.get("subscribe")
    if not isinstance(spec, dict):
        raise BadRequestError("'subscribe' in the ticket must be a JSON object")
    unknown = set(spec) - {"database", "table", "columns", "where", "from_sequence"}
    if unknown:
        raise BadRequestError(f"unknown field(s) in 'subscribe': {sorted(unknown)}")
    database = spec.get("database") or header_database
    if not isinstance(database, str) or not database:
        raise BadRequestError("'subscribe' needs 'database' (a string)")
    if header_database and database != header_database:
        raise BadRequestError(
            f"the ticket names database {database!r} but the call's database is "
            f"{header_database!r}; name one"
        )
    table = spec.get("table")
    if not isinstance(table, str) or not table:
        raise BadRequestError("'subscribe' needs 'table' (a string)")
    columns = spec.get("columns")
    if columns is not None and (
        not isinstance(columns, list) or not columns or not all(isinstance(c, str) for c in columns)
    ):
        raise BadRequestError("'columns' must be a non-empty list of column names")
    where = spec.get("where")
    if where is not None and (not isinstance(where, str) or not where.strip()):
        raise BadRequestError("'where' must be a SQL predicate (a non-empty string)")
    start = spec.get("from_sequence")
    if start is not None and (isinstance(start, bool) or not isinstance(start, int) or start < 0):
        raise BadRequestError("'from_sequence' must be a WAL sequence (an integer >= 0)")
    return StreamSpec(database, table, tuple(columns) if columns else None, where, start)


def metadata(sequence: int) -> bytes:
    """The ``app_metadata`` of a message covering the writes up to ``sequence``."""
    return json.dumps({"wal_sequence": sequence}).encode()


class RowStreams:
    """Opens streams over the write feed (``query.backend.StreamBackend``)."""

    def __init__(self, catalog: SchemaCatalog, feed: WalFeed) -> None:
        self._catalog = catalog
        self._feed = feed
        self._closed = threading.Event()

    def close(self) -> None:
        """End every stream (the server stops: the Flight server waits for its DoGets)."""
        self._closed.set()

    def open(
        self,
        principal: Principal,
        ticket: dict[str, Any],
        header_database: str | None,
        cancelled: Callable[[], bool],
    ) -> tuple[pa.Schema, Iterator[tuple[pa.RecordBatch, bytes]]]:
        """Authorize and check a subscribe ticket; the stream's schema and its messages."""
        spec = parse_spec(ticket, header_database)
        validate_database_name(spec.database)
        Authorizer.require(principal, Action.READ, spec.database)
        table_schema = self._catalog.table_schema(spec.database, spec.table)
        stream = _Stream(spec, table_schema, self._feed)
        closed = self._closed
        return stream.schema, stream.messages(lambda: closed.is_set() or cancelled())


class _Stream:
    """One subscriber's position, projection and predicate."""

    def __init__(self, spec: StreamSpec, table_schema: pa.Schema, feed: WalFeed) -> None:
        self._spec = spec
        self._feed = feed
        # Tags go out as plain strings: pyarrow's GeneratorStream never sends a batch with
        # dictionary columns (the DoGet stalls after the schema).
        self._source = pa.schema([_plain(f) for f in table_schema])
        names = spec.columns or tuple(self._source.names)
        missing = [n for n in names if n not in self._source.names]
        if missing:
            raise BadRequestError(
                f"column(s) {missing} not in table {spec.database}.{spec.table}; "
                f"it has {self._source.names}"
            )
        self.schema = pa.schema([self._source.field(n) for n in names])
        self._ctx = SessionContext()
        self._filter: Expr | None = None
        if spec.where is not None:
            self._filter = self._parse(spec.where)
            self._apply([_empty(self._source)])  # a predicate that cannot run fails here
        if spec.from_sequence is None:
            self._after = feed.acknowledged
        else:
            self._after = max(spec.from_sequence - 1, 0)
            probe = feed.read(self._after, limit=1)
            if probe.missing:
                raise NotFoundError(
                    f"WAL sequence {spec.from_sequence} is no longer held (entries up to "
                    f"{self._after + probe.missing} were persisted and deleted); query the "
                    "table for those rows and subscribe from a later sequence"
                )
        self._holder = f"stream:{uuid.uuid4()}"

    def _parse(self, where: str) -> Expr:
        self._ctx.register_record_batches(_TABLE, [[_empty(self._source)]])
        try:
            return self._ctx.table(_TABLE).parse_sql_expr(where)
        except Exception as error:
            if not is_engine_error(error):
                raise
            raise QueryError(f"bad 'where' predicate: {_datafusion_message(error)}") from None
        finally:
            self._ctx.deregister_table(_TABLE)

    def _apply(self, batches: list[pa.RecordBatch]) -> pa.Table:
        """The rows the predicate keeps, with the stream's columns, from batches of ``_source``."""
        if self._filter is None:
            table = pa.Table.from_batches(batches, self._source)
            return table.select(list(self.schema.names))
        self._ctx.register_record_batches(_TABLE, [batches])
        try:
            frame = self._ctx.table(_TABLE).filter(self._filter)
            result = frame.select(*[col(f'"{n}"') for n in self.schema.names]).to_arrow_table()
        except Exception as error:
            if not is_engine_error(error):
                raise
            raise QueryError(f"bad 'where' predicate: {_datafusion_message(error)}") from None
        finally:
            self._ctx.deregister_table(_TABLE)
        return result.cast(self.schema)

    def messages(self, cancelled: Callable[[], bool]) -> Iterator[tuple[pa.RecordBatch, bytes]]:
        """The stream: a starting point, then rows as they are acknowledged, and heartbeats."""
        feed = self._feed
        feed.hold(self._holder, self._after)
        try:
            yield _empty(self.schema), metadata(self._after)
            beat = time.monotonic()
            while not cancelled():
                if feed.wait(self._after, timeout=0.5) <= self._after:
                    if time.monotonic() - beat >= HEARTBEAT_SECONDS:
                        yield _empty(self.schema), metadata(self._after)
                        beat = time.monotonic()
                    continue
                read = feed.read(self._after, self._spec.database, ENTRIES_PER_READ)
                if read.missing:
                    raise NotFoundError(
                        f"{read.missing} WAL entries after sequence {self._after} were deleted "
                        "before this stream read them; resubscribe from a later sequence"
                    )
                for batch, through in self._chunks(read.entries, read.through):
                    yield batch, metadata(through)
                    beat = time.monotonic()
                self._after = read.through
                feed.hold(self._holder, self._after)
        finally:
            feed.release(self._holder)

    def _chunks(
        self, entries: tuple[AcknowledgedWrite, ...], through: int
    ) -> Iterator[tuple[pa.RecordBatch, int]]:
        """The rows of ``entries`` for the table, in batches of at most ``MAX_BATCH_ROWS``."""
        pending: list[pa.RecordBatch] = []
        rows = 0
        for index, entry in enumerate(entries):
            for name, batch in entry.tables:
                if name == self._spec.table:
                    pending.append(_conform(batch, self._source))
                    rows += batch.num_rows
            last = index == len(entries) - 1
            if pending and (rows >= MAX_BATCH_ROWS or last):
                kept = self._apply(pending)
                covered = through if last else entry.sequence
                if kept.num_rows:
                    for batch in kept.combine_chunks().to_batches(MAX_BATCH_ROWS):
                        yield batch, covered
                pending, rows = [], 0


def _conform(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """A WAL batch (the columns its write gave) as the stream's source schema."""
    columns = []
    for field in schema:
        index = batch.schema.get_field_index(field.name)
        if index < 0:
            columns.append(pa.nulls(batch.num_rows, field.type))
        else:
            columns.append(batch.column(index).cast(field.type))
    return pa.RecordBatch.from_arrays(columns, schema=schema)


def _plain(field: pa.Field) -> pa.Field:
    kind = field.type
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    return pa.field(field.name, kind, field.nullable)


def _empty(schema: pa.Schema) -> pa.RecordBatch:
    return pa.RecordBatch.from_pylist([], schema=schema)


def _datafusion_message(error: Exception) -> str:
    return str(error).removeprefix("DataFusion error: ").strip()
