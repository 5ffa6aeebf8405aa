"""The one error hierarchy of flight-iox.

It lives in this leaf package so the catalog raises the same classes as the
server without importing it; ``flight_iox.errors`` re-exports it unchanged.

Every error a client can cause or see is one of these classes. Each class maps
to exactly one HTTP status and one gRPC status, in ``STATUS_TABLE`` below, so
the HTTP app and the Flight service translate errors the same way::

    FlightIoxError                      500  INTERNAL
    ├── BadRequestError                 400  INVALID_ARGUMENT
    │   ├── InvalidNameError            400  INVALID_ARGUMENT
    │   ├── InvalidPrecisionError       400  INVALID_ARGUMENT
    │   ├── InvalidBodyError            400  INVALID_ARGUMENT   (bad gzip, not UTF-8)
    │   ├── LineProtocolError           400  INVALID_ARGUMENT   (carries per-line errors, capped)
    │   └── QueryError                  400  INVALID_ARGUMENT   (SQL that does not parse or plan)
    │       ├── NoDatabaseError         400  INVALID_ARGUMENT   (needs a database; none named)
    │       ├── ExpressionTooDeepError  400  INVALID_ARGUMENT   (--max-expression-depth)
    │       └── RegexError              400  INVALID_ARGUMENT   (a pattern RE2 refuses)
    ├── UnauthorizedError               401  UNAUTHENTICATED
    ├── ForbiddenError                  403  PERMISSION_DENIED
    ├── NotFoundError                   404  NOT_FOUND
    │   ├── DatabaseNotFoundError       404  NOT_FOUND
    │   └── TableNotFoundError          404  NOT_FOUND
    ├── AlreadyExistsError              409  ALREADY_EXISTS
    ├── PayloadTooLargeError            413  RESOURCE_EXHAUSTED
    ├── LimitExceededError              422  FAILED_PRECONDITION (too many databases/tables/columns)
    ├── NotSupportedError               501  UNIMPLEMENTED
    ├── WrongNodeError                  421  FAILED_PRECONDITION (not this node's --mode; a replica)
    ├── ReplicationTimeoutError         504  DEADLINE_EXCEEDED  (sync replicas did not confirm)
    ├── QueryLimitError                 (a query stopped by a bound; never a statement's fault)
    │   ├── QueryCancelledError         499  CANCELLED          (the client went away or cancelled)
    │   ├── QueryTimeoutError           504  DEADLINE_EXCEEDED  (--query-timeout)
    │   └── QueryMemoryError            507  RESOURCE_EXHAUSTED (--query-memory-limit)
    ├── RetryLaterError                 503  UNAVAILABLE        (with a Retry-After)
    │   ├── BufferFullError             503  UNAVAILABLE        (write buffer over its memory limit)
    │   └── TooManyQueriesError         503  UNAVAILABLE        (the query queue is full)
    ├── InsufficientStorageError        507  RESOURCE_EXHAUSTED (a disk is full; names the path)
    ├── DataFileUnavailableError        500  INTERNAL           (a data file is missing or corrupt)
    ├── DataFileReadError               500  INTERNAL           (reading a local file failed)
    ├── PluginError                     500  INTERNAL           (a request plugin failed)
    ├── StoragePathError                500  INTERNAL           (a path outside the warehouse)
    ├── DataDirLockedError              startup only
    └── WalCorruptionError              startup only (names the file and the offset)
"""

from __future__ import annotations

import base64
import errno
import json
import logging
import re
from dataclasses import dataclass
from urllib.parse import unquote

__all__ = [
    "MAX_LISTED_LINE_ERRORS",
    "MAX_QUOTED_LINE_CHARS",
    "STATUS_TABLE",
    "AlreadyExistsError",
    "BadRequestError",
    "BufferFullError",
    "DataDirLockedError",
    "DataFileReadError",
    "DataFileUnavailableError",
    "DatabaseNotFoundError",
    "ExpressionTooDeepError",
    "FlightIoxError",
    "ForbiddenError",
    "InsufficientStorageError",
    "InvalidBodyError",
    "InvalidNameError",
    "InvalidPrecisionError",
    "LimitExceededError",
    "LineError",
    "LineProtocolError",
    "NoDatabaseError",
    "NotFoundError",
    "NotSupportedError",
    "PayloadTooLargeError",
    "PluginError",
    "QueryCancelledError",
    "QueryError",
    "QueryLimitError",
    "QueryMemoryError",
    "QueryTimeoutError",
    "RegexError",
    "ReplicationTimeoutError",
    "RetryLaterError",
    "StoragePathError",
    "TableNotFoundError",
    "TooManyQueriesError",
    "UnauthorizedError",
    "WalCorruptionError",
    "WrongNodeError",
    "carried_error",
    "query_error",
    "status_of",
    "storage_full",
]

# A rejected body lists this many line errors, then says how many more there were: 2.5M bad
# lines once made a 359 MB answer. Each listed line is cut to MAX_QUOTED_LINE_CHARS.
MAX_LISTED_LINE_ERRORS = 100
MAX_QUOTED_LINE_CHARS = 256


@dataclass(frozen=True)
class LineError:
    """One rejected line of a line-protocol body (line numbers start at 1)."""

    line_number: int
    message: str
    original_line: str

    def as_json(self) -> dict[str, object]:
        """The InfluxDB 3 JSON shape of a per-line error."""
        line = self.original_line
        if len(line) > MAX_QUOTED_LINE_CHARS:
            line = f"{line[:MAX_QUOTED_LINE_CHARS]}… ({len(line)} characters)"
        return {
            "error_message": self.message,
            "line_number": self.line_number,
            "original_line": line,
        }


class FlightIoxError(Exception):
    """Base of every flight-iox error; unexpected ones map to 500/INTERNAL."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def as_json(self) -> dict[str, object]:
        """The JSON body an HTTP client receives for this error."""
        return {"error": self.message}


class BadRequestError(FlightIoxError):
    """The request itself is wrong: fix it and send it again."""


class InvalidNameError(BadRequestError):
    """A database, table or column name breaks the naming rules."""


class InvalidPrecisionError(BadRequestError):
    """The ``precision`` parameter is not one of the accepted units."""


class InvalidBodyError(BadRequestError):
    """The body cannot be decoded (bad gzip, bad encoding)."""


class LineProtocolError(BadRequestError):
    """Some lines of a write were rejected; ``line_errors`` says which and why."""

    def __init__(self, message: str, line_errors: list[LineError]) -> None:
        super().__init__(message)
        self.line_errors = line_errors

    def as_json(self) -> dict[str, object]:
        """InfluxDB 3's body: a summary plus one entry per rejected line, the first ones only.

        Past ``MAX_LISTED_LINE_ERRORS`` the summary ends "and N more" and ``more_line_errors``
        counts the lines not listed.
        """
        listed = self.line_errors[:MAX_LISTED_LINE_ERRORS]
        body: dict[str, object] = {"error": self.message, "data": [e.as_json() for e in listed]}
        more = len(self.line_errors) - len(listed)
        if more:
            body["error"] = f"{self.message} (first {len(listed)} lines listed, and {more} more)"
            body["more_line_errors"] = more
        return body


class QueryError(BadRequestError):
    """A query that does not parse, plan or bind; the message is the engine's."""


class NoDatabaseError(QueryError):
    """A statement needs a database and its request names none.

    How a request names one is the transport's (Flight's ``database`` header, HTTP's ``db``
    parameter), so the transport that answers adds it: ``with_hint``.
    """

    def __init__(self, problem: str, hint: str = "") -> None:
        super().__init__(f"{problem}: {hint}" if hint else problem)
        self.problem = problem
        self.hint = hint

    def with_hint(self, hint: str) -> NoDatabaseError:
        """The same error, saying how to name a database (once)."""
        return self if self.hint else NoDatabaseError(self.problem, hint)


class ExpressionTooDeepError(QueryError):
    """An expression nests or chains operators past the limit (DataFusion would overflow)."""

    def __init__(self, depth: int, limit: int, source: str = "--max-expression-depth") -> None:
        super().__init__(
            f"expression too deep: {depth} chained operators and brackets, over the limit of "
            f"{limit} ({source}); use IN (...) lists or regexes, or split the query"
        )


class RegexError(QueryError):
    """A regular expression the RE2 engine refuses (backreferences, lookaround, bad syntax)."""


class UnauthorizedError(FlightIoxError):
    """No token, or a token that is not valid."""


class ForbiddenError(FlightIoxError):
    """A valid token that may not do this."""


class NotFoundError(FlightIoxError):
    """The thing asked for does not exist."""


class DatabaseNotFoundError(NotFoundError):
    """The database named in the request does not exist."""

    def __init__(self, database: str) -> None:
        super().__init__(f"database not found: {database!r}")
        self.database = database


class TableNotFoundError(NotFoundError):
    """The table named in the request does not exist."""


class AlreadyExistsError(FlightIoxError):
    """Creating something that already exists."""


class PayloadTooLargeError(FlightIoxError):
    """The request body is over the configured size limit."""


class LimitExceededError(FlightIoxError):
    """A configured limit on databases, tables or columns would be exceeded."""


class NotSupportedError(FlightIoxError):
    """A valid request for something flight-iox does not do (yet)."""


class WrongNodeError(FlightIoxError):
    """A request this node's role does not serve (a write to a query node); the message
    names the nodes that do."""


class ReplicationTimeoutError(FlightIoxError):
    """A sync write is durable on this node, but too few replicas confirmed it in time.

    The message names each replica that did not, with its state. The write is in this
    node's WAL and may be visible here: retrying it is safe (a point written twice keeps
    its last value).
    """


class QueryLimitError(FlightIoxError):
    """A query stopped by a server bound; InfluxQL passes it on instead of a statement error."""


class QueryCancelledError(QueryLimitError):
    """The query was cancelled (its client disconnected or asked to cancel it)."""


class QueryTimeoutError(QueryLimitError):
    """The query ran past the query timeout and was cancelled."""


class QueryMemoryError(QueryLimitError):
    """The query needed more memory than the query memory limit allows."""


class RetryLaterError(FlightIoxError):
    """The server is too busy right now; retry after ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class BufferFullError(RetryLaterError):
    """The write buffer is over its memory limit; retry after ``retry_after`` seconds."""


class TooManyQueriesError(RetryLaterError):
    """Every query slot is busy and the queue of waiting queries is full."""


class InsufficientStorageError(FlightIoxError):
    """A disk (or quota) is full: nothing was stored; free space and retry.

    HTTP says 507 Insufficient Storage. gRPC's RESOURCE_EXHAUSTED is the status named
    for "the entire file system is out of space"; pyarrow's Flight server cannot send
    it from Python, so Flight clients see UNKNOWN with this message (``flightsql/status.py``).
    """

    def __init__(self, path: str, reason: str, what: str = "the write was not stored") -> None:
        super().__init__(f"insufficient storage at {path}: {reason}; {what}; free space and retry")
        self.path = path


# errno values that mean "no room": a full disk, a full quota, a file over RLIMIT_FSIZE.
_NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


def storage_full(error: BaseException, path: str, what: str = "the write was not stored"
                 ) -> InsufficientStorageError | None:  # fmt: skip
    """``InsufficientStorageError`` if ``error`` (or what caused it) says no space was left.

    pyarrow keeps the errno on the ``OSError`` it raises, so its Parquet writes are
    recognised like ``os.write``; SQLite says "database or disk is full" without one.
    """
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno in _NO_SPACE:
            return InsufficientStorageError(path, seen.strerror or str(seen), what)
        if "database or disk is full" in str(seen):
            return InsufficientStorageError(path, "database or disk is full", what)
        seen = seen.__cause__ or seen.__context__
    return None


class DataFileUnavailableError(FlightIoxError):
    """A data file a query needs is missing or unreadable: its rows cannot be read.

    The request is fine and retrying will not help: the server's storage lost the
    file, so it is a 5xx. The body names the file and the table and says what to do
    (``flight-iox repair`` removes lost files from their table, keeping the rest).
    The error is raised inside DataFusion while it executes, so it travels back as
    text: ``carried`` encodes it and ``query_error`` finds it again.
    """

    def __init__(self, path: str, table: str, reason: str) -> None:
        database = table.split(".", 1)[0]
        super().__init__(
            f"data file {path} of table {table} cannot be read ({reason}): its rows are "
            f"unavailable. Restore the file, or run `flight-iox repair --db {database}` "
            "to remove lost files from the table (their rows are lost; the rest stays)"
        )
        self.path = path
        self.table = table
        self.reason = reason

    def as_json(self) -> dict[str, object]:
        """The message plus the file, the table and the repair command, for scripts."""
        database = self.table.split(".", 1)[0]
        return {
            "error": self.message,
            "file": self.path,
            "table": self.table,
            "repair": f"flight-iox repair --db {database}",
        }

    def carried(self) -> str:
        """This error as text that survives DataFusion's error formatting (no quotes)."""
        payload = json.dumps([self.path, self.table, self.reason]).encode()
        return f"[[flight-iox-error:{base64.urlsafe_b64encode(payload).decode()}]]"


_CARRIED = re.compile(r"\[\[flight-iox-error:([A-Za-z0-9_=-]+)\]\]")


def carried_error(text: str) -> DataFileUnavailableError | None:
    """The ``DataFileUnavailableError`` that ``text`` carries (an engine message, a plan)."""
    found = _CARRIED.search(text)
    if found is None:
        return None
    path, table, reason = json.loads(base64.urlsafe_b64decode(found.group(1)))
    return DataFileUnavailableError(path, table, reason)


class DataFileReadError(FlightIoxError):
    """Reading a local data file through the server's loopback endpoint failed (any answer
    but 404, a refused connection, retries exhausted): the server's fault, maybe passing.
    The message names the file, not the endpoint's internal address; the log has the rest."""

    def __init__(self, path: str) -> None:
        super().__init__(
            f"reading data file {path} failed inside the server: retry the query; if it "
            "keeps failing, the server log has the details"
        )
        self.path = path


# A URL of ``flight_iox/query/loopback_files.py``'s endpoint, in an object_store message.
_LOOPBACK_URL = re.compile(r"https?://127\.0\.0\.1:\d+/flight-iox-local-files(/\S*)")


def query_error(text: str) -> FlightIoxError:
    """The error for a query that failed in the engine with ``text``.

    A ``DataFileUnavailableError`` raised during execution comes back as it was; a read
    through the loopback endpoint that failed otherwise is a ``DataFileReadError`` (logged
    in full); anything else is the query's fault (``QueryError`` with the engine's message).
    """
    carried = carried_error(text)
    if carried is not None:
        return carried
    loopback = _LOOPBACK_URL.search(text)
    if loopback is not None:
        logging.getLogger(__name__).warning("a query's local file read failed: %s", text)
        return DataFileReadError(unquote(loopback.group(1).rstrip(".,;:)'\"")))
    return QueryError(text)


class PluginError(FlightIoxError):
    """A processing-engine plugin did not answer a request (it raised, timed out or died)."""


class StoragePathError(FlightIoxError):
    """A file path that would leave the warehouse, or its table's own folder: refused."""


class DataDirLockedError(FlightIoxError):
    """Another running server holds the data folder."""


class WalCorruptionError(FlightIoxError):
    """An entry in the middle of the WAL fails its checksum: startup must stop."""

    def __init__(self, path: str, offset: int, reason: str) -> None:
        super().__init__(f"WAL corrupt in {path} at offset {offset}: {reason}")
        self.path = path
        self.offset = offset


# Error class -> (HTTP status, gRPC status name). Looked up along the MRO, so a
# subclass without its own row inherits its parent's.
STATUS_TABLE: dict[type[FlightIoxError], tuple[int, str]] = {
    FlightIoxError: (500, "INTERNAL"),
    BadRequestError: (400, "INVALID_ARGUMENT"),
    UnauthorizedError: (401, "UNAUTHENTICATED"),
    ForbiddenError: (403, "PERMISSION_DENIED"),
    NotFoundError: (404, "NOT_FOUND"),
    AlreadyExistsError: (409, "ALREADY_EXISTS"),
    PayloadTooLargeError: (413, "RESOURCE_EXHAUSTED"),
    LimitExceededError: (422, "FAILED_PRECONDITION"),
    NotSupportedError: (501, "UNIMPLEMENTED"),
    WrongNodeError: (421, "FAILED_PRECONDITION"),
    ReplicationTimeoutError: (504, "DEADLINE_EXCEEDED"),
    QueryCancelledError: (499, "CANCELLED"),
    QueryTimeoutError: (504, "DEADLINE_EXCEEDED"),
    QueryMemoryError: (507, "RESOURCE_EXHAUSTED"),
    RetryLaterError: (503, "UNAVAILABLE"),
    InsufficientStorageError: (507, "RESOURCE_EXHAUSTED"),
    DataFileUnavailableError: (500, "INTERNAL"),
    DataFileReadError: (500, "INTERNAL"),
}


def status_of(error: FlightIoxError) -> tuple[int, str]:
    """The (HTTP status, gRPC status name) pair for an error."""
    for cls in type(error).__mro__:
        if cls in STATUS_TABLE:
            return STATUS_TABLE[cls]
    return STATUS_TABLE[FlightIoxError]
