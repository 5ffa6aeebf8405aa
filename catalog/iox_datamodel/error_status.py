"""Each error class's HTTP status and gRPC status (the tree in ``errors.py`` shows them)."""

from __future__ import annotations

from iox_datamodel.errors import (
    AlreadyExistsError,
    BadRequestError,
    FlightIoxError,
    ForbiddenError,
    LimitExceededError,
    NotFoundError,
    NotSupportedError,
    PayloadTooLargeError,
    QueryCancelledError,
    QueryMemoryError,
    QueryTimeoutError,
    ReplicationTimeoutError,
    RetryLaterError,
    UnauthorizedError,
    WrongNodeError,
)
from iox_datamodel.file_errors import (
    DataFileReadError,
    DataFileUnavailableError,
    InsufficientStorageError,
)

__all__ = ["STATUS_TABLE", "status_of"]

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
