"""The one error hierarchy of flight-iox.

It lives in this leaf package so the catalog raises the same classes as the
server without importing it; ``flight_iox.errors`` re-exports it unchanged.

Every error a client can cause or see is one of these classes. Each class maps
to exactly one HTTP status and one gRPC status, in ``error_status.STATUS_TABLE``, so
the HTTP app and the Flight service translate errors the same way (the errors of data
files and storage, and ``query_error``, are in ``file_errors.py``)::

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

from dataclasses import dataclass

__all__ = [
    "MAX_LISTED_LINE_ERRORS",
    "MAX_QUOTED_LINE_CHARS",
    "AlreadyExistsError",
    "BadRequestError",
    "BufferFullError",
    "DataDirLockedError",
    "DatabaseNotFoundError",
    "ExpressionTooDeepError",
    "FlightIoxError",
    "ForbiddenError",
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
