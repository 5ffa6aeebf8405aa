"""Token checks for the HTTP app, as one ASGI middleware with a route table.

Each path has a ``RouteRule``: which action it needs and where the database
name is. Paths not in the table need an admin token (deny by default), so a
route added later is never open by accident. The principal is left in the
ASGI scope under ``PRINCIPAL_KEY`` for endpoints that check more themselves
(the token endpoints).

A JSON body may name the database (``POST /api/v3/query_sql``); such a body is
read here, within ``max_request_bytes``, and replayed to the endpoint.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from starlette.responses import JSONResponse

from flight_iox.auth.credentials import token_from_authorization
from flight_iox.auth.policy import Authorizer, Principal
from flight_iox.auth.tokens import Action
from flight_iox.errors import FlightIoxError, ForbiddenError, UnauthorizedError, status_of

PRINCIPAL_KEY = "flight_iox.principal"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass(frozen=True)
class RouteRule:
    """What a route needs: nothing (public), an action on a database, or (None) admin."""

    action: Action | None
    database_params: tuple[str, ...] = ()
    public: bool = False
    json_body: bool = False


PUBLIC = RouteRule(None, public=True)
ADMIN = RouteRule(None)
_WRITE = RouteRule(Action.WRITE, ("db", "bucket"))
_READ = RouteRule(Action.READ, ("db",), json_body=True)

ROUTE_RULES: dict[str, RouteRule] = {
    "/health": PUBLIC,
    "/ping": PUBLIC,
    # Bootstrap: the endpoint itself decides (open while no admin token exists).
    "/api/v3/configure/token/admin": PUBLIC,
    "/api/v3/write_lp": _WRITE,
    "/api/v2/write": _WRITE,
    "/write": _WRITE,
    "/api/v3/query_sql": _READ,
    "/api/v3/query_influxql": _READ,
    "/query": _READ,
    "/api/v3/configure/repair": ADMIN,  # removes lost files from tables
}


def _query_params(scope: Scope) -> dict[str, str]:
    from urllib.parse import parse_qsl

    return dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


class AuthMiddleware:
    """Authenticate every HTTP request and check its route's permission."""

    def __init__(self, app: ASGIApp, authorizer: Authorizer, max_body_bytes: int) -> None:
        self.app = app
        self.authorizer = authorizer
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI entry point."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rule = ROUTE_RULES.get(scope["path"].rstrip("/") or "/", ADMIN)
        params = _query_params(scope)
        try:
            principal = self._principal(scope, params, rule)
            if principal is not None and not rule.public:
                if rule.action is None:
                    Authorizer.require_admin(principal)
                else:
                    body, receive = await self._buffered(scope, receive, rule)
                    database = _database(params, body, rule)
                    Authorizer.require(principal, rule.action, database)
        except (UnauthorizedError, ForbiddenError) as error:
            await _error_response(error)(scope, receive, send)
            return
        scope[PRINCIPAL_KEY] = principal
        await self.app(scope, receive, send)

    def _principal(self, scope: Scope, params: dict[str, str], rule: RouteRule) -> Principal | None:
        header = _header(scope, b"authorization")
        secret = token_from_authorization(header) if header else params.get("p")
        if rule.public and not secret:
            return None
        return self.authorizer.authenticate(secret)

    async def _buffered(
        self, scope: Scope, receive: Receive, rule: RouteRule
    ) -> tuple[bytes, Receive]:
        """Read a JSON body (so it can name the database) and a ``receive`` that replays it."""
        content_type = _header(scope, b"content-type") or ""
        if not (rule.json_body and scope["method"] == "POST" and "json" in content_type):
            return b"", receive
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            chunk = message.get("body", b"")
            size += len(chunk)
            chunks.append(chunk)
            more = message.get("more_body", False) and size <= self.max_body_bytes
        body = b"".join(chunks)
        # Past the limit, the endpoint reads the rest and answers 413 itself.
        rest = size > self.max_body_bytes and message.get("more_body", False)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": rest}

        return body, replay


def _database(params: dict[str, str], body: bytes, rule: RouteRule) -> str | None:
    for name in rule.database_params:
        if params.get(name):
            return params[name]
    if body:
        try:
            payload = json.loads(body)
        except ValueError:
            return None
        if isinstance(payload, dict) and isinstance(payload.get("db"), str):
            return payload["db"]
    return None


def _error_response(error: FlightIoxError) -> JSONResponse:
    status, _ = status_of(error)
    code = "unauthorized" if status == 401 else "forbidden"
    headers = {"WWW-Authenticate": 'Bearer realm="flight-iox"'} if status == 401 else None
    return JSONResponse(
        {"error": error.message, "code": code, "message": error.message},
        status_code=status,
        headers=headers,
    )
