"""What a Flight call's headers say: its caller, default database and session, via a middleware.

pyarrow hands headers only to middleware, so ``CallMiddlewareFactory`` authenticates
the call (``auth/flight.py``) and keeps the principal and the headers for the handlers,
which fetch them with ``call_parts``. The same middleware sends the session cookie back
for a new session (``sessions.py``) and the Bearer token after a handshake. Its
``start_call`` also keeps the gRPC thread's Python state (``thread_states.py``).

One middleware, not one per concern: pyarrow calls into Python three times per
middleware per RPC (``start_call``, ``sending_headers``, ``call_completed``), each from a
gRPC thread taking the GIL, and a plain-ADBC query is four RPCs: twelve such calls per
query with one middleware, twenty-four with two.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pyarrow.flight as flight

from flight_iox.auth.flight import authenticate_call
from flight_iox.auth.policy import ANONYMOUS, Authorizer, Principal
from flight_iox.errors import BadRequestError
from flight_iox.flightsql.sessions import Session, SessionStore
from flight_iox.flightsql.thread_states import keep_thread_state

CALL_MIDDLEWARE = "flight_iox_call"

# Header names that pick the default database, in order of preference:
# flight-iox/InfluxDB 3 (`database`), InfluxDB 2 style (`bucket`,
# `bucket-name`) and IOx (`iox-namespace-name`).
DATABASE_HEADERS = ("database", "bucket", "bucket-name", "iox-namespace-name")


class CallMiddleware(flight.ServerMiddleware):
    """One call's principal, request headers (names lower-cased, values as lists) and session."""

    def __init__(
        self,
        principal: Principal,
        bearer: str | None,
        headers: Mapping[str, Sequence[str | bytes]],
        session: Session,
    ) -> None:
        self.principal = principal
        self._bearer = bearer
        self.headers = headers  # gRPC sends header names lower-cased (HTTP/2)
        self.session = session

    def sending_headers(self) -> dict[str, str]:
        """The session cookie for a new session; the Bearer token after a handshake."""
        sent = {}
        if self.session.outgoing_cookie:
            sent["set-cookie"] = self.session.outgoing_cookie
        if self._bearer:
            sent["authorization"] = f"Bearer {self._bearer}"
        return sent


class CallMiddlewareFactory(flight.ServerMiddlewareFactory):
    """Authenticates every call and keeps its headers; holds the server's sessions.

    Without an ``authorizer`` every call is ``ANONYMOUS`` (may do anything).
    """

    def __init__(self, authorizer: Authorizer | None = None) -> None:
        self.authorizer = authorizer
        self.sessions = SessionStore()

    def start_call(
        self, info: flight.CallInfo, headers: Mapping[str, Sequence[str | bytes]]
    ) -> CallMiddleware:
        """Reject the call (UNAUTHENTICATED) unless it carries a valid token; keep the rest."""
        keep_thread_state()  # the first call on each gRPC thread; see thread_states.py
        principal, bearer = ANONYMOUS, None
        if self.authorizer is not None:
            principal, bearer = authenticate_call(self.authorizer, info, headers)
        starts = info.method == flight.FlightMethod.DO_ACTION  # only actions set options
        session = Session.from_headers(self.sessions, headers, starts)
        return CallMiddleware(principal, bearer, headers, session)


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


def call_parts(context: flight.ServerCallContext) -> tuple[Principal, str | None, Session]:
    """A call's principal, default database (the session's catalog, else the headers') and
    session; ``ANONYMOUS``, none and a throwaway session on a server without the middleware.

    One lookup of the middleware for all three: each is a call into pyarrow.
    """
    middleware = context.get_middleware(CALL_MIDDLEWARE)
    if middleware is None:
        return ANONYMOUS, None, Session()
    session = middleware.session
    database = session.catalog or database_from_headers(middleware.headers)
    return middleware.principal, database, session
