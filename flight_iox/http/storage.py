"""Storage administration: persist and compact now, and catalog properties for outside engines."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from flight_iox.errors import DatabaseNotFoundError, FlightIoxError
from flight_iox.http.services import services_of
from flight_iox.persist.persister import Persister


def _target(request: Request) -> tuple[Persister, str | None]:
    """The persister, and the ``?db=`` to act on (None: all); 404 for an unknown database."""
    services = services_of(request)
    database = request.query_params.get("db") or None
    if database is not None and not services.engine.has_database(database):
        raise DatabaseNotFoundError(database)
    return services.persister, database


async def persist(request: Request) -> Response:
    """``POST /api/v3/persist?db=``: 200 with what was written once committed, 507 when a
    disk is full, 500 on another failure."""
    persister, database = _target(request)
    report = await run_in_threadpool(persister.persist, database)
    if report.full is not None:
        raise report.full
    if report.failures:
        raise FlightIoxError("persist failed: " + "; ".join(report.failures))
    return JSONResponse(report.as_json())


async def compact(request: Request) -> Response:
    """``POST /api/v3/compact?db=``: merge small or overlapping files now."""
    persister, database = _target(request)
    report = await run_in_threadpool(persister.compact, database)
    return JSONResponse(report.as_json())


async def catalog_properties(request: Request) -> Response:
    """``GET /api/v3/configure/catalog``: PyIceberg properties for outside engines (no secrets)."""
    config = services_of(request).catalog_config
    return JSONResponse({"name": config.name, **config.properties(include_secrets=False)})
