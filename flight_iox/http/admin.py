"""Health, ping and database administration endpoints."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from flight_iox import __version__
from flight_iox.auth.policy import Authorizer
from flight_iox.auth.tokens import Action
from flight_iox.errors import BadRequestError
from flight_iox.http.params import principal_of, request_params
from flight_iox.http.partition_template import requested_partition_by
from flight_iox.http.services import services_of
from flight_iox.influxql.lexer import duration_nanos

VERSION = f"3.0-flight-iox-{__version__}"
VERSION_HEADERS = {"X-Influxdb-Version": VERSION, "X-Influxdb-Build": "IOx"}
_STARTED = datetime.now(UTC)

# InfluxDB 1.x clients demand /ping's 204 (influxdb-python checks the status; the Go client
# and the ``influx`` shell treat any other status as "failed to connect"). They say who they
# are: the Go ones by User-Agent, influxdb-python by accepting only msgpack.
_V1_AGENTS = ("InfluxDBShell/", "InfluxDBClient")


async def health(request: Request) -> Response:
    """``/health``: InfluxDB 2's check (influxdb-client's ``health()`` reads ``status``)."""
    body = {
        "name": "influxdb",
        "message": "ready for queries and writes",
        "status": "pass",
        "checks": [],
        "version": VERSION,
        "commit": __version__,
    }
    return JSONResponse(body, headers=VERSION_HEADERS)


async def ready(request: Request) -> Response:
    """``/ready``: InfluxDB 2's readiness, with when the server started and its uptime."""
    up = datetime.now(UTC) - _STARTED
    body = {
        "status": "ready",
        "started": _STARTED.isoformat().replace("+00:00", "Z"),
        "up": f"{up.total_seconds():.3f}s",
    }
    return JSONResponse(body, headers=VERSION_HEADERS)


def _wants_v1_ping(request: Request) -> bool:
    agent = request.headers.get("user-agent", "")
    accept = request.headers.get("accept")
    json_ok = accept is None or any(
        kind in accept for kind in ("application/json", "*/*", "application/*")
    )
    return agent.startswith(_V1_AGENTS) or not json_ok


async def ping(request: Request) -> Response:
    """``/ping``: InfluxDB 3's 200 with the version as JSON; 204 for InfluxDB 1.x clients."""
    if _wants_v1_ping(request) or request.query_params.get("verbose", "").lower() == "false":
        return Response(status_code=204, headers=VERSION_HEADERS)
    body = {"version": VERSION, "revision": __version__, "build": "IOx"}
    return JSONResponse(body, headers=VERSION_HEADERS)


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
        partition_by = requested_partition_by(params)
        await run_in_threadpool(engine.create_database, name, retention, partition_by)
        return JSONResponse({"db": name, "created": True}, status_code=201)
    if request.method == "PUT":
        retention = parse_retention(params.get("retention_period"))
        await run_in_threadpool(engine.set_retention, name, retention)
        return JSONResponse({"db": name, "retention_period": _retention_text(retention)})
    await run_in_threadpool(engine.delete_database, name)
    return JSONResponse({"db": name, "deleted": True})
