"""Request headers of a Flight call: the default database, read by a server middleware.

pyarrow hands headers only to middleware, so ``HeadersMiddlewareFactory``
keeps them for the handlers, which fetch them with
``context.get_middleware(HEADERS_MIDDLEWARE)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pyarrow.flight as flight

from flight_iox.errors import BadRequestError

HEADERS_MIDDLEWARE = "flight_iox_headers"

# Header names that pick the default database, in order of preference:
# flight-iox/InfluxDB 3 (`database`), InfluxDB 2 style (`bucket`,
# `bucket-name`) and IOx (`iox-namespace-name`).
DATABASE_HEADERS = ("database", "bucket", "bucket-name", "iox-namespace-name")


class HeadersMiddleware(flight.ServerMiddleware):
    """Holds one call's request headers (names lower-cased, values as lists)."""

    def __init__(self, headers: Mapping[str, Sequence[str | bytes]]) -> None:
        self.headers = {name.lower(): list(values) for name, values in headers.items()}


class HeadersMiddlewareFactory(flight.ServerMiddlewareFactory):
    """Creates a ``HeadersMiddleware`` for every call."""

    def start_call(
        self, info: flight.CallInfo, headers: Mapping[str, Sequence[str | bytes]]
    ) -> HeadersMiddleware:
        """Keep the call's headers; authorization is accepted and ignored for now."""
        return HeadersMiddleware(headers)


def database_from_headers(headers: Mapping[str, Sequence[str | bytes]]) -> str | None:
    """The default database the headers name, or None.

    Clients may send a header several times (ADBC repeats an option set at
    database, connection and statement level), so repeated values are fine
    when they agree; different values are a bad request.
    """
    values: list[str] = []
    for name in DATABASE_HEADERS:
        for value in headers.get(name, ()):
            text = value.decode() if isinstance(value, bytes) else value
            if text:
                values.append(text)
    if not values:
        return None
    if any(value != values[0] for value in values):
        raise BadRequestError(
            f"conflicting database headers: {sorted(set(values))!r}; send one database"
        )
    return values[0]


def call_database(context: flight.ServerCallContext) -> str | None:
    """The default database of the call behind ``context``."""
    middleware = context.get_middleware(HEADERS_MIDDLEWARE)
    if middleware is None:
        return None
    return database_from_headers(middleware.headers)
