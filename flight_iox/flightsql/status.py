"""Translation of errors into the exceptions pyarrow.flight turns into gRPC statuses.

``flight_iox.errors.status_of`` names the gRPC status of every flight-iox
error; ``GRPC_EXCEPTIONS`` below is the one table from that name to the
pyarrow exception that produces it (measured with pyarrow 26):

    UNAUTHENTICATED     flight.FlightUnauthenticatedError
    PERMISSION_DENIED   flight.FlightUnauthorizedError
    UNAVAILABLE         flight.FlightUnavailableError
    INTERNAL            flight.FlightInternalError
    INVALID_ARGUMENT    pa.ArrowInvalid
    NOT_FOUND           pa.ArrowKeyError
    UNIMPLEMENTED       pa.ArrowNotImplementedError
    anything else       flight.FlightServerError (UNKNOWN)

pyarrow cannot produce ALREADY_EXISTS, FAILED_PRECONDITION or
RESOURCE_EXHAUSTED from Python; those fall back to UNKNOWN with the message.

A trap: pyarrow sends the message of a ``FlightError`` subclass as is, but
appends a "Detail: Python exception: Traceback ..." to any other exception.
``raise_for_client`` therefore raises a fresh exception with no chained
context, so that detail shows only this module's one ``raise`` line and never
the engine's frames. It cannot be removed entirely without a pyarrow change.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import NoReturn

import pyarrow as pa
import pyarrow.flight as flight

from flight_iox.errors import FlightIoxError, query_error, status_of

log = logging.getLogger(__name__)

GRPC_EXCEPTIONS: dict[str, Callable[[str], Exception]] = {
    "UNAUTHENTICATED": flight.FlightUnauthenticatedError,
    "PERMISSION_DENIED": flight.FlightUnauthorizedError,
    "UNAVAILABLE": flight.FlightUnavailableError,
    "INTERNAL": flight.FlightInternalError,
    "INVALID_ARGUMENT": pa.ArrowInvalid,
    "NOT_FOUND": pa.ArrowKeyError,
    "UNIMPLEMENTED": pa.ArrowNotImplementedError,
}


def client_exception(error: BaseException) -> BaseException:
    """The pyarrow exception a client should receive for ``error``.

    flight-iox errors keep their message and get their gRPC status from
    ``status_of``. Exceptions pyarrow already understands (Flight errors) pass
    through. Anything else is a bug: it is logged with its traceback and the
    client sees a short INTERNAL error.
    """
    if isinstance(error, FlightIoxError):
        _, grpc_status = status_of(error)
        return GRPC_EXCEPTIONS.get(grpc_status, flight.FlightServerError)(error.message)
    if isinstance(error, flight.FlightError):
        return error
    log.error("unexpected error in the Flight SQL service", exc_info=error)
    return flight.FlightInternalError(f"internal error: {type(error).__name__}")


def raise_for_client(error: BaseException) -> NoReturn:
    """Raise ``client_exception(error)`` with no traceback context attached."""
    exception = client_exception(error)
    exception.__cause__ = None
    exception.__context__ = None
    exception.__suppress_context__ = True
    raise exception


def translated_batches(reader: pa.RecordBatchReader) -> Iterator[pa.RecordBatch]:
    """Yield ``reader``'s batches, translating errors raised while streaming.

    An Arrow error out of the engine's stream is the query's fault (divide by
    zero, overflow, a failed cast): INVALID_ARGUMENT with its message, not INTERNAL.
    """
    failure: BaseException | None = None
    try:
        yield from reader
    except (pa.ArrowInvalid, pa.ArrowTypeError) as error:
        failure = query_error(str(error).removeprefix("External error: ").strip())
    except Exception as error:  # translated below, outside the except block
        failure = error
    if failure is not None:
        raise_for_client(failure)
