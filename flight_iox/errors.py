"""The one error hierarchy of flight-iox.

Every error a client can cause or see is one of these classes. Each class maps
to exactly one HTTP status and one gRPC status, in ``STATUS_TABLE`` below, so
the HTTP app and the Flight service translate errors the same way::

    FlightIoxError                      500  INTERNAL
    ├── BadRequestError                 400  INVALID_ARGUMENT
    │   ├── InvalidNameError            400  INVALID_ARGUMENT
    │   ├── InvalidPrecisionError       400  INVALID_ARGUMENT
    │   ├── InvalidBodyError            400  INVALID_ARGUMENT   (bad gzip, not UTF-8)
    │   ├── LineProtocolError           400  INVALID_ARGUMENT   (carries per-line errors)
    │   └── QueryError                  400  INVALID_ARGUMENT   (SQL that does not parse or plan)
    ├── UnauthorizedError               401  UNAUTHENTICATED
    ├── ForbiddenError                  403  PERMISSION_DENIED
    ├── NotFoundError                   404  NOT_FOUND
    │   ├── DatabaseNotFoundError       404  NOT_FOUND
    │   └── TableNotFoundError          404  NOT_FOUND
    ├── AlreadyExistsError              409  ALREADY_EXISTS
    ├── PayloadTooLargeError            413  RESOURCE_EXHAUSTED
    ├── LimitExceededError              422  FAILED_PRECONDITION (too many databases/tables/columns)
    ├── NotSupportedError               501  UNIMPLEMENTED
    ├── BufferFullError                 503  UNAVAILABLE        (write buffer over its memory limit)
    ├── StoragePathError                500  INTERNAL           (a path outside the warehouse)
    ├── DataDirLockedError              startup only
    └── WalCorruptionError              startup only (names the file and the offset)
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LineError:
    """One rejected line of a line-protocol body (line numbers start at 1)."""

    line_number: int
    message: str
    original_line: str

    def as_json(self) -> dict[str, object]:
        """The InfluxDB 3 JSON shape of a per-line error."""
        return {
            "error_message": self.message,
            "line_number": self.line_number,
            "original_line": self.original_line,
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
        """InfluxDB 3's body: a summary plus one entry per rejected line."""
        return {"error": self.message, "data": [e.as_json() for e in self.line_errors]}


class QueryError(BadRequestError):
    """A query that does not parse, plan or bind; the message is the engine's."""


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


class BufferFullError(FlightIoxError):
    """The write buffer is over its memory limit; retry after ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after


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
    BufferFullError: (503, "UNAVAILABLE"),
}


def status_of(error: FlightIoxError) -> tuple[int, str]:
    """The (HTTP status, gRPC status name) pair for an error."""
    for cls in type(error).__mro__:
        if cls in STATUS_TABLE:
            return STATUS_TABLE[cls]
    return STATUS_TABLE[FlightIoxError]
