"""A read-only Iceberg REST catalog under ``/iceberg`` (the Iceberg REST OpenAPI spec, v1).

Outside engines (PyIceberg, Spark, Trino) attach with their stock REST catalog settings
and the server's bearer tokens, and read the persisted Parquet files themselves. Each
database is one single-level namespace of the same name (``mydb``), each table one table
(``mydb.cpu``): the catalog's own layout, with nothing to translate.

Authorization happens where the namespace name is resolved: a token lists only the
databases it may ``read``, and a database it may not read answers exactly as an unknown
one (404 ``NoSuchNamespaceException``), so names of other databases never leak. Every
write verb answers 405 in the Iceberg error shape (``{"error": {"message", "type",
"code"}}``): tables change only through flight-iox, which owns the WAL and the commits.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from pyiceberg.exceptions import NoSuchNamespaceError, NoSuchTableError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from flight_iox.auth.tokens import Action
from flight_iox.errors import FlightIoxError, status_of
from flight_iox.http.params import principal_of
from flight_iox.http.services import services_of
from iox_catalog import CatalogConfig, IoxCatalog

log = logging.getLogger(__name__)

PREFIX = "/iceberg"
READS = ("GET", "HEAD")
ALL_VERBS = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"]
# What /v1/config announces (the spec's ``endpoints``): clients skip the rest.
ENDPOINTS = [
    "GET /v1/{prefix}/namespaces",
    "GET /v1/{prefix}/namespaces/{namespace}",
    "HEAD /v1/{prefix}/namespaces/{namespace}",
    "GET /v1/{prefix}/namespaces/{namespace}/tables",
    "GET /v1/{prefix}/namespaces/{namespace}/tables/{table}",
    "HEAD /v1/{prefix}/namespaces/{namespace}/tables/{table}",
]
READ_ONLY = (
    "the flight-iox Iceberg catalog is read-only: write through flight-iox "
    "(line protocol, SQL, /api/v3/configure/*)"
)


class IcebergError(Exception):
    """An answer in the Iceberg REST error shape."""

    def __init__(self, code: int, kind: str, message: str) -> None:
        super().__init__(message)
        self.code, self.kind, self.message = code, kind, message


def error_body(code: int, kind: str, message: str) -> dict[str, object]:
    """The spec's ``ErrorModel`` wrapped in ``{"error": …}`` (``IcebergErrorResponse``)."""
    return {"error": {"message": message, "type": kind, "code": code}}


def _error(error: IcebergError, head: bool) -> Response:
    if head:  # HEAD answers carry no body
        return Response(status_code=error.code)
    headers = {"Allow": "GET, HEAD"} if error.code == 405 else None
    body = error_body(error.code, error.kind, error.message)
    return JSONResponse(body, status_code=error.code, headers=headers)


Handler = Callable[[Request], Awaitable[Response]]


def _iceberg_route(handler: Handler) -> Handler:
    """Refuse writes with 405, and answer every failure in the Iceberg error shape."""

    async def run(request: Request) -> Response:
        head = request.method == "HEAD"
        try:
            if request.method not in READS:
                raise IcebergError(405, "MethodNotAllowedException", READ_ONLY)
            return await handler(request)
        except IcebergError as error:
            return _error(error, head)
        except FlightIoxError as error:
            status, _ = status_of(error)
            return _error(IcebergError(status, type(error).__name__, error.message), head)

    run.__doc__ = handler.__doc__
    return run


def _catalog(request: Request) -> IoxCatalog:
    return services_of(request).persister.tables.iceberg


def _not_found_namespace(name: str) -> IcebergError:
    return IcebergError(404, "NoSuchNamespaceException", f"Namespace does not exist: {name}")


def _namespace(request: Request) -> str:
    """The database the path names, if it exists and the token may read it (else 404).

    A forbidden database answers as an unknown one: a token learns no names it may not read.
    """
    name = request.path_params["namespace"]
    if "\x1f" in name or not principal_of(request).may(Action.READ, name):
        raise _not_found_namespace(name)
    return str(name)


async def _existing(request: Request) -> tuple[IoxCatalog, str]:
    catalog, name = _catalog(request), _namespace(request)
    if name not in await run_in_threadpool(catalog.database_names):
        raise _not_found_namespace(name)
    return catalog, name


async def config(request: Request) -> Response:
    """``GET /iceberg/v1/config``: no overrides, no prefix, and the endpoints served."""
    return JSONResponse({"defaults": {}, "overrides": {}, "endpoints": ENDPOINTS})


async def namespaces(request: Request) -> Response:
    """``GET /iceberg/v1/namespaces``: the databases the token may read (one level)."""
    if request.query_params.get("parent"):
        return JSONResponse({"namespaces": []})  # databases have no child namespaces
    names = await run_in_threadpool(_catalog(request).database_names)
    readable = principal_of(request).readable(names)
    return JSONResponse({"namespaces": [[name] for name in readable]})


async def namespace(request: Request) -> Response:
    """``GET|HEAD /iceberg/v1/namespaces/{ns}``: the namespace and its retention."""
    catalog, name = await _existing(request)
    if request.method == "HEAD":
        return Response(status_code=204)
    retention = await run_in_threadpool(catalog.retention_ns, name)
    properties = {"iox.retention-ns": str(retention)} if retention else {}
    return JSONResponse({"namespace": [name], "properties": properties})


async def tables(request: Request) -> Response:
    """``GET /iceberg/v1/namespaces/{ns}/tables``: the database's persisted tables."""
    catalog, name = await _existing(request)
    try:
        names = await run_in_threadpool(catalog.table_names, name)
    except NoSuchNamespaceError:
        raise _not_found_namespace(name) from None
    identifiers = [{"namespace": [name], "name": table} for table in names]
    return JSONResponse({"identifiers": identifiers})


def table_config(config: CatalogConfig, vend_credentials: bool) -> dict[str, str]:
    """FileIO properties a reader needs for the warehouse: none for local files; for S3 the
    endpoint, region and path-style access, and the keys only when the server vends them."""
    store = config.store
    if not store.is_s3:
        return {}
    props = store.pyiceberg_properties(include_secrets=vend_credentials)
    props["client.region"] = store.region
    if store.endpoint_url:  # S3-compatible stores (MinIO, moto) want path-style URLs
        props["s3.path-style-access"] = "true"
    return props


async def load_table(request: Request) -> Response:
    """``GET|HEAD /iceberg/v1/namespaces/{ns}/tables/{table}``: a ``LoadTableResult``."""
    catalog, name = await _existing(request)
    table = request.path_params["table"]
    try:
        location, metadata = await run_in_threadpool(catalog.current_metadata, name, table)
    except (NoSuchTableError, NoSuchNamespaceError):
        raise IcebergError(
            404, "NoSuchTableException", f"Table does not exist: {name}.{table}"
        ) from None
    if request.method == "HEAD":
        return Response(status_code=204)
    services, settings = services_of(request), request.app.state.settings
    props = table_config(services.catalog_config, settings.iceberg_vend_credentials)
    body = {"metadata-location": location, "metadata": metadata, "config": props}
    return JSONResponse(body)


async def refused(request: Request) -> Response:
    """Paths that only write (create, rename, commit, register): always 405."""
    raise IcebergError(405, "MethodNotAllowedException", READ_ONLY)


async def metrics_report(request: Request) -> Response:
    """``POST …/tables/{table}/metrics``: scan reports Spark and Trino send after reading.

    Accepted and not kept (the server's own /metrics and system tables measure its work);
    refusing them would make every outside scan log a warning.
    """
    log.debug("discarded an Iceberg metrics report for %s", request.url.path)
    return Response(status_code=204)


def _v1(path: str) -> str:
    return f"{PREFIX}/v1{path}"


ROUTES = [
    Route(_v1("/config"), _iceberg_route(config), methods=ALL_VERBS),
    Route(_v1("/namespaces"), _iceberg_route(namespaces), methods=ALL_VERBS),
    Route(_v1("/namespaces/{namespace}"), _iceberg_route(namespace), methods=ALL_VERBS),
    Route(_v1("/namespaces/{namespace}/tables"), _iceberg_route(tables), methods=ALL_VERBS),
    Route(
        _v1("/namespaces/{namespace}/tables/{table}"),
        _iceberg_route(load_table),
        methods=ALL_VERBS,
    ),
    Route(_v1("/namespaces/{namespace}/tables/{table}/metrics"), metrics_report, methods=["POST"]),
    Route(_v1("/{rest:path}"), _iceberg_route(refused), methods=["POST", "PUT", "DELETE", "PATCH"]),
]
