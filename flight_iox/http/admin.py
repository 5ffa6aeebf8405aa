"""Health, ping and database administration endpoints."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from flight_iox import __version__
from flight_iox.engine.engine import Engine
from flight_iox.errors import BadRequestError
from flight_iox.http.query import request_params

VERSION_HEADERS = {"X-Influxdb-Version": f"3.0-flight-iox-{__version__}", "X-Influxdb-Build": "IOx"}


async def health(request: Request) -> Response:
    """``/health``: 200 when the server can take requests."""
    return PlainTextResponse("OK", headers=VERSION_HEADERS)


async def ping(request: Request) -> Response:
    """``/ping``: 204 with the version headers InfluxDB clients look for."""
    return Response(status_code=204, headers=VERSION_HEADERS)


async def configure_database(request: Request) -> Response:
    """``GET|POST|DELETE /api/v3/configure/database``: list, create, delete databases."""
    engine: Engine = request.app.state.engine
    if request.method == "GET":
        rows = [{"iox::database": name} for name in engine.catalog.database_names()]
        return JSONResponse(rows)
    params = await request_params(request)
    name = params.get("db")
    if not isinstance(name, str) or not name:
        raise BadRequestError("missing parameter 'db' (the database name)")
    if request.method == "POST":
        await run_in_threadpool(engine.create_database, name)
        return JSONResponse({"db": name, "created": True}, status_code=201)
    await run_in_threadpool(engine.delete_database, name)
    return JSONResponse({"db": name, "deleted": True})
