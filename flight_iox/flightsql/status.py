"""Translation of errors into the exceptions pyarrow.flight turns into gRPC statuses.

``flight_iox.errors.status_of`` names the gRPC status of every flight-iox
error; ``GRPC_EXCEPTIONS`` below is the one table from that name to the
pyarrow exception that produces it (measured with pyarrow 26), each subclassed here as a
``ClientMessage`` (see the trap below):

    UNAUTHENTICATED     Unauthenticated(flight.FlightUnauthenticatedError)
    PERMISSION_DENIED   PermissionDenied(flight.FlightUnauthorizedError)
    UNAVAILABLE         Unavailable(flight.FlightUnavailableError)
    DEADLINE_EXCEEDED   DeadlineExceeded(flight.FlightTimedOutError)
    CANCELLED           Cancelled(flight.FlightCancelledError)
    INTERNAL            Internal(flight.FlightInternalError)
    INVALID_ARGUMENT    InvalidArgument(pa.ArrowInvalid)
    NOT_FOUND           NotFound(pa.ArrowKeyError)
    UNIMPLEMENTED       Unimplemented(pa.ArrowNotImplementedError)
    anything else       Unknown(flight.FlightServerError)

pyarrow cannot produce ALREADY_EXISTS, FAILED_PRECONDITION or
RESOURCE_EXHAUSTED from Python; those fall back to UNKNOWN with the message.

A trap: pyarrow sends a ``FlightError`` subclass as a status with its message only, but
turns any other exception (and so every INVALID_ARGUMENT, NOT_FOUND and UNIMPLEMENTED,
which only ``ArrowInvalid``, ``ArrowKeyError`` and ``ArrowNotImplementedError`` produce, and
any error raised while a DoGet stream is read) into "<message>. Detail: Python exception:
<traceback.format_exception(...)>": the server's file paths and source lines, on the wire.
pyarrow has no switch for it (apache/arrow#34251), but it formats that detail by calling
``traceback.format_exception`` at send time. So every exception made here is a
``ClientMessage``, and ``format_exception`` gives such an exception its class name only: the
client reads "<message>. Detail: Python exception: InvalidArgument". Every other exception
(logged bugs included) is formatted as before.

A second trap: an error raised while a DoGet stream is being sent keeps its status only
for ``ArrowInvalid``, ``ArrowKeyError`` and ``ArrowNotImplementedError``; every other one,
``Internal`` included, reaches the client as UNKNOWN with its message. So the engine
computes a query's first batch before the stream starts (``query/execution.py``): what
fails while planning or early keeps its status, and only later failures are UNKNOWN.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Iterator
from typing import Any, NoReturn

import pyarrow as pa
import pyarrow.flight as flight

from flight_iox.errors import FlightIoxError, NoDatabaseError, query_error, status_of

log = logging.getLogger(__name__)
# How a Flight call names its database (see headers.py and tickets.py).
DATABASE_HINT = (
    "send the 'database' header (or a JSON ticket's \"database\"), or qualify the name "
    "(mydb.iox.cpu; in InfluxQL, ON db)"
)


class ClientMessage(Exception):
    """An exception made for a client: its message is all pyarrow may send of it."""


class Unauthenticated(flight.FlightUnauthenticatedError, ClientMessage):
    """UNAUTHENTICATED."""


class PermissionDenied(flight.FlightUnauthorizedError, ClientMessage):
    """PERMISSION_DENIED."""


class Unavailable(flight.FlightUnavailableError, ClientMessage):
    """UNAVAILABLE."""


class DeadlineExceeded(flight.FlightTimedOutError, ClientMessage):
    """DEADLINE_EXCEEDED."""


class Cancelled(flight.FlightCancelledError, ClientMessage):
    """CANCELLED."""


class Internal(flight.FlightInternalError, ClientMessage):
    """INTERNAL."""


class InvalidArgument(pa.ArrowInvalid, ClientMessage):
    """INVALID_ARGUMENT."""


class NotFound(pa.ArrowKeyError, ClientMessage):
    """NOT_FOUND."""


class Unimplemented(pa.ArrowNotImplementedError, ClientMessage):
    """UNIMPLEMENTED."""


class Unknown(flight.FlightServerError, ClientMessage):
    """UNKNOWN: the statuses pyarrow cannot produce from Python."""


GRPC_EXCEPTIONS: dict[str, Callable[[str], Exception]] = {
    "UNAUTHENTICATED": Unauthenticated,
    "PERMISSION_DENIED": PermissionDenied,
    "UNAVAILABLE": Unavailable,
    "DEADLINE_EXCEEDED": DeadlineExceeded,
    "CANCELLED": Cancelled,
    "INTERNAL": Internal,
    "INVALID_ARGUMENT": InvalidArgument,
    "NOT_FOUND": NotFound,
    "UNIMPLEMENTED": Unimplemented,
}


def _format_exception(exc: Any, /, *args: Any, **kwargs: Any) -> list[str]:
    """``traceback.format_exception``, giving a ``ClientMessage`` its class name only."""
    value = exc if isinstance(exc, BaseException) else (args or [kwargs.get("value")])[0]
    if isinstance(value, ClientMessage):
        return [type(value).__name__]
    return _stdlib_format_exception(exc, *args, **kwargs)


_stdlib_format_exception = getattr(
    traceback.format_exception, "__wrapped__", traceback.format_exception
)
_format_exception.__wrapped__ = _stdlib_format_exception  # type: ignore[attr-defined]
traceback.format_exception = _format_exception


def client_exception(error: BaseException) -> BaseException:
    """The pyarrow exception a client should receive for ``error``.

    flight-iox errors keep their message and get their gRPC status from
    ``status_of``. Exceptions pyarrow already understands (Flight errors) pass
    through. Anything else is a bug: it is logged with its traceback and the
    client sees a short INTERNAL error.
    """
    if isinstance(error, NoDatabaseError):
        error = error.with_hint(DATABASE_HINT)
    if isinstance(error, FlightIoxError):
        _, grpc_status = status_of(error)
        return GRPC_EXCEPTIONS.get(grpc_status, Unknown)(error.message)
    if isinstance(error, flight.FlightError):
        return error
    log.error("unexpected error in the Flight SQL service", exc_info=error)
    return Internal(f"internal error: {type(error).__name__}")


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


def translated_messages(
    messages: Iterator[tuple[pa.RecordBatch, bytes]],
) -> Iterator[tuple[pa.RecordBatch, pa.Buffer]]:
    """A stream's batches with their ``app_metadata``, errors translated as the batches'."""
    failure: BaseException | None = None
    try:
        for batch, metadata in messages:
            yield batch, pa.py_buffer(metadata)
    except Exception as error:  # translated below, outside the except block
        failure = error
    if failure is not None:
        raise_for_client(failure)
