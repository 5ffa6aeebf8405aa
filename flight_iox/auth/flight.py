"""Token checks for the Flight server, as a ``pyarrow.flight`` server middleware.

Every call is authenticated in ``start_call``, before any handler runs;
raising ``FlightUnauthenticatedError`` there rejects the call with
UNAUTHENTICATED. The principal stays on the middleware for the handlers,
which check permissions per database (``context.get_middleware(AUTH_MIDDLEWARE)``).

Handshake follows the Flight SQL / JDBC convention: the client sends
``Authorization: Basic base64(user:token)`` and the server answers with
``Authorization: Bearer <token>``, which the client then sends on every call.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pyarrow.flight as flight

from flight_iox.auth.credentials import token_from_authorization
from flight_iox.auth.policy import ANONYMOUS, Authorizer, Principal
from flight_iox.errors import UnauthorizedError

AUTH_MIDDLEWARE = "flight_iox_auth"


def _first(headers: Mapping[str, Sequence[str | bytes]], name: str) -> str | None:
    for value in headers.get(name, ()):
        return value.decode() if isinstance(value, bytes) else value
    return None


class AuthMiddleware(flight.ServerMiddleware):
    """One call's principal, and the Bearer header a handshake answers with."""

    def __init__(self, principal: Principal, bearer: str | None = None) -> None:
        self.principal = principal
        self._bearer = bearer

    def sending_headers(self) -> dict[str, str]:
        """On a handshake, hand the client its Bearer token."""
        return {"authorization": f"Bearer {self._bearer}"} if self._bearer else {}


class AuthMiddlewareFactory(flight.ServerMiddlewareFactory):
    """Authenticates every Flight call with ``authorizer``."""

    def __init__(self, authorizer: Authorizer) -> None:
        self.authorizer = authorizer

    def start_call(
        self, info: flight.CallInfo, headers: Mapping[str, Sequence[str | bytes]]
    ) -> AuthMiddleware:
        """Reject the call (UNAUTHENTICATED) unless it carries a valid token."""
        try:
            secret = token_from_authorization(_first(headers, "authorization"))
            principal = self.authorizer.authenticate(secret)
        except UnauthorizedError as error:
            raise flight.FlightUnauthenticatedError(error.message) from None
        handshake = info.method == flight.FlightMethod.HANDSHAKE
        return AuthMiddleware(principal, secret if handshake and secret else None)


class HandshakeAuthHandler(flight.ServerAuthHandler):
    """Lets Handshake through; the middleware has already checked its Basic credentials.

    pyarrow answers Handshake with UNIMPLEMENTED unless the server has an auth
    handler. Tokens are checked by ``AuthMiddlewareFactory`` on every call,
    so this handler neither reads the handshake payload nor validates anything.
    """

    def authenticate(
        self, outgoing: flight.ServerAuthSender, incoming: flight.ServerAuthReader
    ) -> None:
        """Nothing to exchange: the Bearer token goes back as a header."""

    def is_valid(self, token: bytes) -> bytes:
        """Every call passes here; the middleware decides."""
        return b""


def call_principal(context: flight.ServerCallContext) -> Principal:
    """The principal of a call (``ANONYMOUS`` when the server has no auth middleware)."""
    middleware = context.get_middleware(AUTH_MIDDLEWARE)
    return ANONYMOUS if middleware is None else middleware.principal
