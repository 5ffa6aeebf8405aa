"""Token checks for the Flight server, run by its ``pyarrow.flight`` server middleware.

Every call is authenticated in its middleware's ``start_call`` (``flightsql/headers.py``:
one middleware per call holds the principal, the headers and the session), before any
handler runs; raising ``FlightUnauthenticatedError`` there rejects the call with
UNAUTHENTICATED. The principal stays on the middleware for the handlers, which check
permissions per database (``flightsql.headers.call_parts``).

Handshake follows the Flight SQL / JDBC convention: the client sends
``Authorization: Basic base64(user:token)`` and the server answers with
``Authorization: Bearer <token>``, which the client then sends on every call.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pyarrow.flight as flight

from flight_iox.auth.credentials import token_from_authorization
from flight_iox.auth.policy import Authorizer, Principal
from flight_iox.errors import UnauthorizedError


def _first(headers: Mapping[str, Sequence[str | bytes]], name: str) -> str | None:
    for value in headers.get(name, ()):
        return value.decode() if isinstance(value, bytes) else value
    return None


def authenticate_call(
    authorizer: Authorizer, info: flight.CallInfo, headers: Mapping[str, Sequence[str | bytes]]
) -> tuple[Principal, str | None]:
    """The caller of a Flight call, and the Bearer token to answer a handshake with.

    Raises ``FlightUnauthenticatedError`` (UNAUTHENTICATED) unless the call carries a
    valid token. Called from the call's middleware (``flightsql/headers.py``) before
    any handler runs.
    """
    try:
        secret = token_from_authorization(_first(headers, "authorization"))
        principal = authorizer.authenticate(secret)
    except UnauthorizedError as error:
        raise flight.FlightUnauthenticatedError(error.message) from None
    handshake = info.method == flight.FlightMethod.HANDSHAKE
    return principal, secret if handshake and secret else None


class HandshakeAuthHandler(flight.ServerAuthHandler):
    """Lets Handshake through; the middleware has already checked its Basic credentials.

    pyarrow answers Handshake with UNIMPLEMENTED unless the server has an auth
    handler. Tokens are checked by the call middleware (``authenticate_call``) on every call,
    so this handler neither reads the handshake payload nor validates anything.
    """

    def authenticate(
        self, outgoing: flight.ServerAuthSender, incoming: flight.ServerAuthReader
    ) -> None:
        """Nothing to exchange: the Bearer token goes back as a header."""

    def is_valid(self, token: bytes) -> bytes:
        """Every call passes here; the middleware decides."""
        return b""
