"""Request headers of a Flight call: the default database and the session, via a middleware.

pyarrow hands headers only to middleware, so ``HeadersMiddlewareFactory``
keeps them for the handlers, which fetch them with
``context.get_middleware(HEADERS_MIDDLEWARE)``. The same middleware sends the
session cookie back when a handler changed the session (``sessions.py``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pyarrow.flight as flight

from flight_iox.errors import BadRequestError
from flight_iox.flightsql.sessions import Session, SessionStore

HEADERS_MIDDLEWARE = "flight_iox_headers"

# Header names that pick the default database, in order of preference:
# flight-iox/InfluxDB 3 (`database`), InfluxDB 2 style (`bucket`,
# `bucket-name`) and IOx (`iox-namespace-name`).
DATABASE_HEADERS = ("database", "bucket", "bucket-name", "iox-namespace-name")


class HeadersMiddleware(flight.ServerMiddleware):
    """Holds one call's request headers (names lower-cased, values as lists) and session."""

    def __init__(
        self, headers: Mapping[str, Sequence[str | bytes]], sessions: SessionStore
    ) -> None:
        self.headers = {name.lower(): list(values) for name, values in headers.items()}
        self.session = Session.from_headers(sessions, self.headers)

    def sending_headers(self) -> dict[str, str]:
        """The session cookie, when the call came without a known session."""
        cookie = self.session.outgoing_cookie
        return {"set-cookie": cookie} if cookie else {}


class HeadersMiddlewareFactory(flight.ServerMiddlewareFactory):
    """Creates a ``HeadersMiddleware`` for every call; holds the server's sessions."""

    def __init__(self) -> None:
        self.sessions = SessionStore()

    def start_call(
        self, info: flight.CallInfo, headers: Mapping[str, Sequence[str | bytes]]
    ) -> HeadersMiddleware:
        """Keep the call's headers (authorization is checked by ``flight_iox.auth.flight``)."""
        return HeadersMiddleware(headers, self.sessions)


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


def call_session(context: flight.ServerCallContext) -> Session:
    """The session of the call behind ``context`` (a throwaway one without the middleware)."""
    middleware = context.get_middleware(HEADERS_MIDDLEWARE)
    return Session() if middleware is None else middleware.session


def call_database(context: flight.ServerCallContext) -> str | None:
    """The default database of the call: the session's catalog, else the headers'."""
    middleware = context.get_middleware(HEADERS_MIDDLEWARE)
    if middleware is None:
        return None
    return middleware.session.catalog or database_from_headers(middleware.headers)
