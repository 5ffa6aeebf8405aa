"""The HTTP application (Starlette): InfluxDB-compatible routes and error mapping."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from flight_iox.auth.http import AuthMiddleware
from flight_iox.auth.policy import AuthMode, Authorizer
from flight_iox.auth.setup import TOKEN_FILE
from flight_iox.auth.tokens import FileTokenStore
from flight_iox.config import Settings
from flight_iox.errors import FlightIoxError, RetryLaterError, status_of
from flight_iox.http import explorer, iceberg_rest, v2_buckets
from flight_iox.http.admin import configure_database, health, ping, ready
from flight_iox.http.backup import backup
from flight_iox.http.caches import configure_distinct_cache, configure_last_cache
from flight_iox.http.flux import query_flux
from flight_iox.http.influxql import query_influxql, query_v1
from flight_iox.http.metrics import serve_metrics
from flight_iox.http.processing import (
    configure_trigger,
    disable_trigger,
    enable_trigger,
    engine_request,
    plugin_files,
)
from flight_iox.http.queries import cancel_query
from flight_iox.http.query import query_sql
from flight_iox.http.repair import repair_files
from flight_iox.http.replication import promote_node
from flight_iox.http.services import HttpServices
from flight_iox.http.storage import catalog_properties, compact, persist
from flight_iox.http.tables import configure_table
from flight_iox.http.tokens import create_admin_token, tokens
from flight_iox.http.v2_delete import delete_v2
from flight_iox.http.write import write_v1, write_v2, write_v3

log = logging.getLogger(__name__)


async def _flight_iox_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, FlightIoxError)
    status, _ = status_of(error)
    body = error.as_json()
    if status < 500 or status in (503, 507):
        # InfluxDB v2 clients read "code" and "message"; v1 and v3 clients read "error".
        body = {**body, "code": "invalid" if status == 400 else "error", "message": error.message}
    headers = (
        {"Retry-After": str(error.retry_after)} if isinstance(error, RetryLaterError) else None
    )
    return JSONResponse(body, status_code=status, headers=headers)


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    return JSONResponse({"error": error.detail}, status_code=error.status_code)


DOCS = "docs/http-api.md"


async def _not_found(request: Request, error: Exception) -> Response:
    """No route has this path: say which path, and where the routes are listed."""
    assert isinstance(error, HTTPException)
    path = request.url.path
    message = f"no route {request.method} {path}: see {DOCS} for the HTTP API"
    if error.detail and error.detail != "Not Found":
        message = str(error.detail)
    body = {"error": message, "code": "not found", "message": message, "path": path}
    return JSONResponse({**body, "docs": DOCS}, status_code=404)


async def _unexpected_error(request: Request, error: Exception) -> Response:
    log.exception("unexpected error serving %s %s", request.method, request.url.path)
    return JSONResponse({"error": f"internal error: {type(error).__name__}"}, status_code=500)


def create_app(
    services: HttpServices,
    settings: Settings,
    on_shutdown: Callable[[], None] | None = None,
    authorizer: Authorizer | None = None,
) -> Starlette:
    """The Starlette app serving ``services``; ``on_shutdown`` runs when the server stops.

    ``authorizer`` checks tokens (default: auth off, tokens in the data folder).
    """
    if authorizer is None:
        authorizer = Authorizer(AuthMode.OFF, FileTokenStore(settings.data_dir / TOKEN_FILE))

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        if on_shutdown is not None:
            # In a thread: the event loop must keep running while the Flight servers stop,
            # since gRPC on the HTTP port is piped through it (shared_port.py).
            await asyncio.to_thread(on_shutdown)

    routes = [
        Route("/api/v3/write_lp", write_v3, methods=["POST"]),
        Route("/api/v2/write", write_v2, methods=["POST"]),
        Route("/write", write_v1, methods=["POST"]),
        Route("/api/v3/query_sql", query_sql, methods=["GET", "POST"]),
        Route("/api/v3/query_influxql", query_influxql, methods=["GET", "POST"]),
        Route("/query", query_v1, methods=["GET", "POST"]),
        Route("/api/v2/query", query_flux, methods=["POST"]),
        Route(
            "/api/v3/configure/database",
            configure_database,
            methods=["GET", "POST", "PUT", "DELETE"],
        ),
        Route(
            "/api/v3/configure/table",
            configure_table,
            methods=["GET", "POST", "PUT", "DELETE"],
        ),
        Route("/api/v3/configure/last_cache", configure_last_cache, methods=["POST", "DELETE"]),
        Route(
            "/api/v3/configure/distinct_cache",
            configure_distinct_cache,
            methods=["POST", "DELETE"],
        ),
        Route(
            "/api/v3/configure/processing_engine_trigger",
            configure_trigger,
            methods=["POST", "DELETE"],
        ),
        Route(
            "/api/v3/configure/processing_engine_trigger/enable", enable_trigger, methods=["POST"]
        ),
        Route(
            "/api/v3/configure/processing_engine_trigger/disable",
            disable_trigger,
            methods=["POST"],
        ),
        Route("/api/v3/plugins/files", plugin_files, methods=["GET", "PUT"]),
        Route(
            "/api/v3/engine/{path:path}",
            engine_request,
            methods=["GET", "POST", "PUT", "DELETE"],
        ),
        Route("/api/v3/persist", persist, methods=["POST"]),
        Route("/api/v3/compact", compact, methods=["POST"]),
        Route("/api/v3/backup", backup, methods=["POST"]),
        Route("/api/v3/configure/catalog", catalog_properties, methods=["GET"]),
        Route("/api/v3/configure/repair", repair_files, methods=["POST"]),
        Route("/api/v3/configure/node/promote", promote_node, methods=["POST"]),
        Route("/api/v3/configure/token/admin", create_admin_token, methods=["POST"]),
        Route("/api/v3/configure/token", tokens, methods=["GET", "POST", "DELETE"]),
        Route("/api/v2/buckets", v2_buckets.buckets, methods=["GET", "POST"]),
        Route(
            "/api/v2/buckets/{bucket_id}",
            v2_buckets.bucket,
            methods=["GET", "PATCH", "DELETE"],
        ),
        Route("/api/v2/orgs", v2_buckets.orgs, methods=["GET", "POST"]),
        Route("/api/v2/orgs/{org_id}", v2_buckets.org, methods=["GET"]),
        Route("/api/v2/delete", delete_v2, methods=["POST"]),
        Route("/health", health, methods=["GET", "HEAD"]),
        Route("/ready", ready, methods=["GET", "HEAD"]),
        Route("/ping", ping, methods=["GET", "HEAD"]),
        Route("/metrics", serve_metrics, methods=["GET"]),
        *explorer.ROUTES,
        *iceberg_rest.ROUTES,
        Route("/api/v3/query/{query_id}", cancel_query, methods=["DELETE"]),
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={
            FlightIoxError: _flight_iox_error,
            404: _not_found,
            HTTPException: _http_error,
            Exception: _unexpected_error,
        },
    )
    app.add_middleware(
        AuthMiddleware,
        authorizer=authorizer,
        public=settings.public_resources,
        routes=routes,
    )
    app.state.authorizer = authorizer
    app.state.services = services
    app.state.settings = settings
    return app
