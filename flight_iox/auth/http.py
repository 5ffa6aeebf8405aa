"""Authentication for the HTTP app, as one ASGI middleware with a route table.

The middleware only says *who* is calling: it builds the ``Principal`` and
leaves it in the ASGI scope under ``PRINCIPAL_KEY`` (``ANONYMOUS`` when auth
is off). *What* the caller may touch is decided by the handlers and the
engine, where the database and table names are resolved from the one parse of
the request that is also executed (docs/auth.md). The middleware never reads
a body and never guesses a database.

Each path has a ``RouteRule``. Paths not in the table need an admin token
(deny by default), so a route added later is never open by accident. A path that no
route serves at all goes straight to the app's 404 (it names the path and the docs):
there is nothing behind it to protect, and a mistyped path is not an auth problem.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from enum import Enum
from typing import Any
from urllib.parse import parse_qsl

from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Match

from flight_iox.auth.credentials import token_from_authorization
from flight_iox.auth.policy import Authorizer, Principal
from flight_iox.errors import (
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


ROUTE_RULES: dict[str, RouteRule] = {
    "/health": RouteRule.PUBLIC,
    "/ping": RouteRule.PUBLIC,
    "/ready": RouteRule.PUBLIC,
    # Bootstrap: the endpoint itself decides (open until an admin token has ever existed).
    "/api/v3/configure/token/admin": RouteRule.PUBLIC,
    "/api/v3/write_lp": RouteRule.AUTHENTICATED,
    "/api/v2/write": RouteRule.AUTHENTICATED,
    "/write": RouteRule.AUTHENTICATED,
    "/api/v3/query_sql": RouteRule.AUTHENTICATED,
    # v2 buckets are databases: the handlers check read/create/delete per name, retention
    # changes need an admin, as /api/v3/configure/database (http/v2_buckets.py).
    "/api/v2/buckets": RouteRule.AUTHENTICATED,
    "/api/v2/orgs": RouteRule.AUTHENTICATED,  # the one org, no data
    # Row deletes: ``delete`` on the bucket's database (http/v2_delete.py, persist/deletes.py).
    "/api/v2/delete": RouteRule.AUTHENTICATED,
    "/api/v3/configure/database": RouteRule.AUTHENTICATED,
    # Tables: POST needs ``create``, DELETE ``delete``, GET/PUT (partitioning) admin
    # (http/tables.py).
    "/api/v3/configure/table": RouteRule.AUTHENTICATED,
    # Caches: the handler demands ``create`` on the database (http/caches.py).
    "/api/v3/configure/last_cache": RouteRule.AUTHENTICATED,
    "/api/v3/configure/distinct_cache": RouteRule.AUTHENTICATED,
    # InfluxQL checks each resolved source, INTO target, ON clause and DDL (influxql/context.py).
    "/api/v3/query_influxql": RouteRule.AUTHENTICATED,
    "/query": RouteRule.AUTHENTICATED,
    # Flux: ``from`` and the schema functions check ``read`` on each bucket they name, and
    # every SQL it plans runs in the caller's scoped engine (flux/interpreter.py).
    "/api/v2/query": RouteRule.AUTHENTICATED,
    # Triggers: the processing engine demands ``create`` on the trigger's database.
    "/api/v3/configure/processing_engine_trigger": RouteRule.AUTHENTICATED,
    "/api/v3/configure/processing_engine_trigger/enable": RouteRule.AUTHENTICATED,
    "/api/v3/configure/processing_engine_trigger/disable": RouteRule.AUTHENTICATED,
    "/api/v3/plugins/files": RouteRule.ADMIN,  # plugin files are code the server runs
    "/api/v3/configure/repair": RouteRule.ADMIN,  # removes lost files from tables
    "/api/v3/configure/node/promote": RouteRule.ADMIN,  # a replica becomes a writer
    "/api/v3/backup": RouteRule.ADMIN,  # copies every database out (http/backup.py)
    # Its labels name every database: admin, unless --disable-authz metrics opens it.
    "/metrics": RouteRule.ADMIN,
    # The query explorer's page and files (http/explorer.py): static, no data; the page sends
    # the user's token to the APIs above, which authorize each call.
    "/": RouteRule.PUBLIC,
    "/explorer/explorer.js": RouteRule.PUBLIC,
    "/explorer/chart.js": RouteRule.PUBLIC,
    "/explorer/explorer.css": RouteRule.PUBLIC,
    "/explorer/uPlot.iife.min.js": RouteRule.PUBLIC,
    "/explorer/uPlot.min.css": RouteRule.PUBLIC,
}
# Routes with a path parameter: the rule of every path under the prefix.
PREFIX_RULES: dict[str, RouteRule] = {
    # DELETE /api/v3/query/<id>: the query log lets a token cancel its own queries.
    "/api/v3/query/": RouteRule.AUTHENTICATED,
    "/api/v2/buckets/": RouteRule.AUTHENTICATED,  # by ID, among the buckets the token sees
    "/api/v2/orgs/": RouteRule.AUTHENTICATED,
}
# Routes whose parameter is itself a path: the rule of every path below the prefix.
TREE_RULES: dict[str, RouteRule] = {
    # /api/v3/engine/<path>: the processing engine demands ``write`` on the trigger's database.
    "/api/v3/engine/": RouteRule.AUTHENTICATED,
    # The read-only Iceberg REST catalog: it lists and loads only the databases the token
    # may read, and refuses every write (http/iceberg_rest.py).
    "/iceberg/": RouteRule.AUTHENTICATED,
}
# The paths ``--disable-authz`` can open, by resource name.
RESOURCE_PATHS = {"health": "/health", "ping": "/ping", "metrics": "/metrics"}


def route_rule(path: str, public: frozenset[str] = frozenset()) -> RouteRule:
    """The rule of ``path``; ``PUBLIC`` if in ``public``; ``ADMIN`` for paths not in the table."""
    path = path.rstrip("/") or "/"
    if path in public:
        return RouteRule.PUBLIC
    for prefix, rule in PREFIX_RULES.items():
        if path.startswith(prefix) and "/" not in path[len(prefix) :]:
            return rule
    for prefix, rule in TREE_RULES.items():
        if path.startswith(prefix):
            return rule
    return ROUTE_RULES.get(path, RouteRule.ADMIN)


def _query_params(scope: Scope) -> list[tuple[str, str]]:
    return parse_qsl(scope.get("query_string", b"").decode("latin-1"))


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


class AuthMiddleware:
    """Authenticate every HTTP request; admin-only routes are refused to other tokens."""

    def __init__(
        self,
        app: ASGIApp,
        authorizer: Authorizer,
        public: frozenset[str] = frozenset(),
        routes: Sequence[BaseRoute] = (),
    ) -> None:
        """``public``: resources served without a token (``--disable-authz``); ``routes``:
        the app's, so that a path none of them serves gets its 404 without a token."""
        self.app = app
        self.authorizer = authorizer
        self.public = frozenset(RESOURCE_PATHS[name] for name in public)
        self.routes = tuple(routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI entry point."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.routes and all(r.matches(scope)[0] is Match.NONE for r in self.routes):
            await self.app(scope, receive, send)  # the app's JSON 404; no principal needed
            return
        rule = route_rule(scope["path"], self.public)
        params = _query_params(scope)
        principal: Principal | None = None
        try:
            # With auth off a credential is never read, so a header meant for a proxy is no error.
            secret = _secret(scope, params) if self.authorizer.required else None
            if rule is not RouteRule.PUBLIC or secret:
                principal = self.authorizer.authenticate(secret)
            if rule is RouteRule.ADMIN and principal is not None:
                Authorizer.require_admin(principal)
        except (UnauthorizedError, ForbiddenError) as error:
            await _error_response(error, scope["path"])(scope, receive, send)
            return
        if principal is not None:
            scope[PRINCIPAL_KEY] = principal
        await self.app(scope, receive, send)


def _secret(scope: Scope, params: list[tuple[str, str]]) -> str | None:
    """The token: the Authorization header, else v1's ``?p=``."""
    header = _header(scope, b"authorization")
    if header:
        return token_from_authorization(header)
    passwords = [value for name, value in params if name == "p"]
    return passwords[-1] if passwords else None


def _error_response(error: FlightIoxError, path: str) -> JSONResponse:
    status, _ = status_of(error)
    code = {401: "unauthorized", 403: "forbidden"}.get(status, "invalid")
    headers = {"WWW-Authenticate": 'Bearer realm="flight-iox"'} if status == 401 else None
    body: dict[str, object] = {"error": error.message, "code": code, "message": error.message}
    if path.startswith("/iceberg/"):  # Iceberg REST clients read the spec's error shape
        kind = {401: "NotAuthorizedException", 403: "ForbiddenException"}.get(status, code)
        body = {"error": {"message": error.message, "type": kind, "code": status}}
    return JSONResponse(body, status_code=status, headers=headers)
