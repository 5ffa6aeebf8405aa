"""Authentication for the HTTP app, as one ASGI middleware with a route table.

The middleware only says *who* is calling: it builds the ``Principal`` and
leaves it in the ASGI scope under ``PRINCIPAL_KEY`` (``ANONYMOUS`` when auth
is off). *What* the caller may touch is decided by the handlers and the
engine, where the database and table names are resolved from the one parse of
the request that is also executed (docs/auth.md). The middleware never reads
a body and never guesses a database.

Each path has a ``RouteRule``. Paths not in the table need an admin token
(deny by default), so a route added later is never open by accident.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from enum import Enum
from typing import Any
from urllib.parse import parse_qsl

from starlette.responses import JSONResponse

from flight_iox.auth.credentials import token_from_authorization
from flight_iox.auth.policy import Authorizer, Principal
from flight_iox.auth.tokens import Action
from flight_iox.errors import (
    BadRequestError,
    FlightIoxError,
    ForbiddenError,
    UnauthorizedError,
    status_of,
)

PRINCIPAL_KEY = "flight_iox.principal"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class RouteRule(Enum):
    """Who may reach a route's handler."""

    PUBLIC = "public"  # anyone; the handler decides (health, ping, the admin bootstrap)
    AUTHENTICATED = "authenticated"  # any valid token; the handler and engine authorize
    ADMIN = "admin"  # admin tokens only
    # InfluxQL keeps the former query-string check until it authorizes each resolved
    # source, INTO target, ON clause and DDL itself (then these become AUTHENTICATED).
    INFLUXQL = "influxql"


ROUTE_RULES: dict[str, RouteRule] = {
    "/health": RouteRule.PUBLIC,
    "/ping": RouteRule.PUBLIC,
    # Bootstrap: the endpoint itself decides (open until an admin token has ever existed).
    "/api/v3/configure/token/admin": RouteRule.PUBLIC,
    "/api/v3/write_lp": RouteRule.AUTHENTICATED,
    "/api/v2/write": RouteRule.AUTHENTICATED,
    "/write": RouteRule.AUTHENTICATED,
    "/api/v3/query_sql": RouteRule.AUTHENTICATED,
    "/api/v3/configure/database": RouteRule.AUTHENTICATED,
    "/api/v3/query_influxql": RouteRule.INFLUXQL,
    "/query": RouteRule.INFLUXQL,
}


def route_rule(path: str) -> RouteRule:
    """The rule of ``path``; ``ADMIN`` for every path not in the table."""
    return ROUTE_RULES.get(path.rstrip("/") or "/", RouteRule.ADMIN)


def _query_params(scope: Scope) -> list[tuple[str, str]]:
    return parse_qsl(scope.get("query_string", b"").decode("latin-1"))


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


class AuthMiddleware:
    """Authenticate every HTTP request; admin-only routes are refused to other tokens."""

    def __init__(self, app: ASGIApp, authorizer: Authorizer, max_body_bytes: int) -> None:
        self.app = app
        self.authorizer = authorizer
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI entry point."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rule = route_rule(scope["path"])
        params = _query_params(scope)
        try:
            principal = self._principal(scope, params, rule)
            if rule is RouteRule.ADMIN:
                Authorizer.require_admin(principal)
            elif rule is RouteRule.INFLUXQL:
                receive = await self._influxql_check(scope, receive, params, principal)
        except (UnauthorizedError, ForbiddenError, BadRequestError) as error:
            await _error_response(error)(scope, receive, send)
            return
        if principal is not None:
            scope[PRINCIPAL_KEY] = principal
        await self.app(scope, receive, send)

    def _principal(
        self, scope: Scope, params: list[tuple[str, str]], rule: RouteRule
    ) -> Principal | None:
        header = _header(scope, b"authorization")
        passwords = [value for name, value in params if name == "p"]
        secret = token_from_authorization(header) if header else (passwords or [None])[-1]
        if rule is RouteRule.PUBLIC and not secret:
            return None
        return self.authorizer.authenticate(secret)

    async def _influxql_check(
        self, scope: Scope, receive: Receive, params: list[tuple[str, str]], principal: Principal
    ) -> Receive:
        """Until InfluxQL authorizes what it resolves: one ``db``, which the token may read.

        ``db`` may come from the query string, a JSON body or a form body; two different
        values are a 400 (the handler would pick one of them).
        """
        body, receive = await self._buffered(scope, receive)
        named = [value for name, value in params if name == "db" and value]
        named += _body_databases(body, _header(scope, b"content-type") or "")
        if len(set(named)) > 1:
            raise BadRequestError(
                f"ambiguous parameter 'db': {named[0]!r} and "
                f"{next(v for v in named if v != named[0])!r}; send one value"
            )
        if not principal.admin:
            Authorizer.require(principal, Action.READ, named[0] if named else None)
        return receive

    async def _buffered(self, scope: Scope, receive: Receive) -> tuple[bytes, Receive]:
        """Read a JSON or form body (it may name the database) and a ``receive`` replaying it."""
        content_type = _header(scope, b"content-type") or ""
        if not (scope["method"] == "POST" and ("json" in content_type or "form" in content_type)):
            return b"", receive
        chunks: list[bytes] = []
        size = 0
        more = True
        message: Message = {}
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


def _body_databases(body: bytes, content_type: str) -> list[str]:
    """The ``db`` values a JSON or form body names."""
    if not body:
        return []
    if "json" in content_type:
        try:
            payload = json.loads(body)
        except ValueError:
            return []
        db = payload.get("db") if isinstance(payload, dict) else None
        return [db] if isinstance(db, str) and db else []
    pairs = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
    return [value for name, value in pairs if name == "db" and value]


def _error_response(error: FlightIoxError) -> JSONResponse:
    status, _ = status_of(error)
    code = {401: "unauthorized", 403: "forbidden"}.get(status, "invalid")
    headers = {"WWW-Authenticate": 'Bearer realm="flight-iox"'} if status == 401 else None
    return JSONResponse(
        {"error": error.message, "code": code, "message": error.message},
        status_code=status,
        headers=headers,
    )
