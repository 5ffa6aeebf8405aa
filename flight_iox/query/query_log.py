"""The queries a server runs and ran: ``system.queries``, cancel by id, and the query metrics.

A transport (HTTP SQL, InfluxQL over HTTP, Flight DoGet) calls ``begin`` with what the
client sent (its text, not the SQL an InfluxQL statement became) and the event its queries
already watch for cancellation (``execution.cancellation``: the HTTP request's "client
gone" flag, the DoGet's ``CancelFlightInfo`` flag). Cancelling by id sets that same event,
so a query stops the way it stops for a vanished client, within a poll interval, whether it
is computing or streaming; nothing new is needed in the execution path.

A query ends when its result stream ends, fails or is dropped (``watch``), or when the
transport says so (``end``, idempotent). Running queries are always listed; finished ones
are kept up to ``--query-log-size``, newest last.

Who sees and cancels what: an admin sees every query (``system.queries`` of any database)
and may cancel any; another token sees, in a database it may read, the queries run on that
database (by any token: the text is the statement, which holds no token), and may cancel the
queries its own token started. A query it may not cancel is "not found", like one that ended.
"""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import pyarrow as pa

from flight_iox.auth.policy import Principal
from flight_iox.errors import NotFoundError, QueryCancelledError
from flight_iox.metrics import ServerMetrics

QUERIES_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("query_type", pa.string(), nullable=False),  # flightsql, http_sql, influxql
        pa.field("query_text", pa.string(), nullable=False),
        pa.field("database", pa.string()),
        pa.field("token_name", pa.string(), nullable=False),
        pa.field("start_time", pa.timestamp("ns", "UTC"), nullable=False),
        pa.field("duration_seconds", pa.float64(), nullable=False),  # so far, while running
        pa.field("rows", pa.int64(), nullable=False),
        pa.field("success", pa.bool_()),  # null while running
        pa.field("running", pa.bool_(), nullable=False),
        pa.field("cancelled", pa.bool_(), nullable=False),
        pa.field("error", pa.string()),
    ]
)


@dataclass
class QueryRecord:
    """One query as ``system.queries`` shows it."""

    id: str
    query_type: str
    text: str
    database: str | None
    token_name: str
    stop: threading.Event  # setting it cancels the query
    start_ns: int = field(default_factory=time.time_ns)
    started: float = field(default_factory=time.perf_counter)
    rows: int = 0
    duration: float | None = None  # None while running
    success: bool | None = None
    cancelled: bool = False
    error: str | None = None

    def row(self, now: float) -> dict[str, object]:
        """This record as a row of ``QUERIES_SCHEMA``."""
        running = self.duration is None
        return {
            "id": self.id,
            "query_type": self.query_type,
            "query_text": self.text,
            "database": self.database,
            "token_name": self.token_name,
            "start_time": self.start_ns,
            "duration_seconds": (now - self.started) if running else self.duration,
            "rows": self.rows,
            "success": self.success,
            "running": running,
            "cancelled": self.cancelled,
            "error": self.error,
        }


class QueryLog:
    """Running queries by id, and the last ``size`` finished ones."""

    def __init__(self, size: int = 1000, metrics: ServerMetrics | None = None) -> None:
        self._metrics = metrics if metrics is not None else ServerMetrics()
        self._lock = threading.Lock()
        self._running: dict[str, QueryRecord] = {}
        self._done: deque[QueryRecord] = deque(maxlen=size)
        self._changes = itertools.count(1)
        # Ids: a per-process random prefix and a serial (no id repeats across restarts; a
        # guessed id is no use: only the token that started a query, or an admin, cancels it).
        self._prefix = uuid.uuid4().hex[:12]
        self._ids = itertools.count(1)
        self._version = 0

    @property
    def version(self) -> int:
        """Changes whenever a query begins or ends (``system.queries`` is rebuilt then)."""
        return self._version

    def begin(
        self,
        query_type: str,
        text: str,
        database: str | None,
        principal: Principal,
        stop: threading.Event,
    ) -> QueryRecord:
        """A query starts; setting ``stop`` cancels it (the event its execution watches)."""
        query_id = f"{self._prefix}-{next(self._ids)}"
        record = QueryRecord(query_id, query_type, text, database, principal.name, stop)
        with self._lock:
            self._running[record.id] = record
            self._version = next(self._changes)
        self._metrics.query_started(query_type)
        return record

    def end(self, record: QueryRecord, error: BaseException | None = None) -> None:
        """The query ended (with ``error``, or successfully); later calls change nothing."""
        with self._lock:
            if self._running.pop(record.id, None) is None:
                return
            record.duration = time.perf_counter() - record.started
            record.success = error is None
            record.cancelled = isinstance(error, QueryCancelledError | GeneratorExit)
            if error is not None:
                record.error = str(error) or type(error).__name__
                if isinstance(error, GeneratorExit):
                    record.error = "the client stopped reading the result"
            self._done.append(record)
            self._version = next(self._changes)
        self._metrics.query_ended(record.query_type, record.duration, error is not None)

    def watch(self, record: QueryRecord, reader: pa.RecordBatchReader) -> pa.RecordBatchReader:
        """``reader``, counting its rows; the query ends with the stream, however it ends."""
        return pa.RecordBatchReader.from_batches(reader.schema, self.counted(record, reader))

    def counted(
        self, record: QueryRecord, reader: Iterable[pa.RecordBatch]
    ) -> Iterator[pa.RecordBatch]:
        """``reader``'s batches, counting rows: ``watch`` as a generator, for a caller that
        makes one reader of its own (each reader between costs two crossings a batch)."""
        try:
            for batch in reader:
                record.rows += batch.num_rows
                yield batch
        except BaseException as error:
            self.end(record, error)
            raise
        self.end(record)

    def cancel(self, query_id: str, principal: Principal) -> QueryRecord:
        """Cancel a running query: an admin's any, another token's only its own.

        ``NotFoundError`` for a query that is not running or that ``principal`` may not
        cancel (so a token learns nothing of other tokens' queries).
        """
        with self._lock:
            record = self._running.get(query_id)
        if record is None or not (principal.admin or principal.name == record.token_name):
            raise NotFoundError(f"no running query with id {query_id!r}")
        record.stop.set()
        return record

    def table(self, database: str | None = None) -> pa.Table:
        """``system.queries``: every query, or (``database``) those run on that database."""
        now = time.perf_counter()
        with self._lock:
            records = [*self._done, *self._running.values()]
        rows = [r.row(now) for r in records if database is None or r.database == database]
        return pa.Table.from_pylist(rows, schema=QUERIES_SCHEMA)
