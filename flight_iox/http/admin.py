"""Health, ping and database administration endpoints."""

from __future__ import annotations

import re

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from flight_iox import __version__
from flight_iox.auth.policy import Authorizer
from flight_iox.auth.tokens import Action
from flight_iox.errors import BadRequestError
from flight_iox.http.params import principal_of, request_params
from flight_iox.http.services import services_of
from flight_iox.influxql.lexer import duration_nanos

VERSION_HEADERS = {"X-Influxdb-Version": f"3.0-flight-iox-{__version__}", "X-Influxdb-Build": "IOx"}


async def health(request: Request) -> Response:
    """``/health``: 200 when the server can take requests."""
    return PlainTextResponse("OK", headers=VERSION_HEADERS)


async def ping(request: Request) -> Response:
    """``/ping``: 204 with the version headers InfluxDB clients look for."""
    return Response(status_code=204, headers=VERSION_HEADERS)


_RETENTION = re.compile(r"(?:\d+(?:ns|ms|us|µ|u|s|m|h|d|w))+")


def parse_retention(value: object) -> int | None:
    """``"30d"``, ``"1h30m"``, a number of nanoseconds, or ``"none"``/``"infinite"``/0 → ns."""
    if value is None or (isinstance(value, str) and value.lower() in ("", "none", "infinite")):
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value or None
    if isinstance(value, str) and _RETENTION.fullmatch(value):
        return duration_nanos(value) or None
    raise BadRequestError(
        f"invalid retention_period {value!r}: use a duration like 30d, 12h or 1h30m, or none"
    )


def _retention_text(ns: int | None) -> str | None:
    return None if ns is None else f"{ns // 1_000_000_000}s"


_ACTIONS = {
    "POST": lambda principal, name: Authorizer.require(principal, Action.CREATE, name),
    "DELETE": lambda principal, name: Authorizer.require(principal, Action.DELETE, name),
    "PUT": lambda principal, name: Authorizer.require_admin(principal),
}


async def configure_database(request: Request) -> Response:
    """``GET|POST|PUT|DELETE /api/v3/configure/database``: list, create, change, delete.

    GET lists the databases the token may read; POST needs ``create`` on the name,
    DELETE needs ``delete``, and PUT (retention, which decides what is deleted) an admin.
    """
    engine = services_of(request).engine
    principal = principal_of(request)
    if request.method == "GET":
        rows = [
            {
                "iox::database": name,
                "retention_period": _retention_text(engine.retention_ns(name)),
            }
            for name in principal.readable(engine.database_names())
        ]
        return JSONResponse(rows)
    params = await request_params(request)
    name = params.get("db")
    if not isinstance(name, str) or not name:
        raise BadRequestError("missing parameter 'db' (the database name)")
    _ACTIONS[request.method](principal, name)
    if request.method == "POST":
        retention = parse_retention(params.get("retention_period"))
        await run_in_threadpool(engine.create_database, name, retention)
        return JSONResponse({"db": name, "created": True}, status_code=201)
    if request.method == "PUT":
        retention = parse_retention(params.get("retention_period"))
        await run_in_threadpool(engine.set_retention, name, retention)
        return JSONResponse({"db": name, "retention_period": _retention_text(retention)})
    await run_in_threadpool(engine.delete_database, name)
    return JSONResponse({"db": name, "deleted": True})
