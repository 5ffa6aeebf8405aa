"""The three InfluxDB write endpoints: v3 ``write_lp``, v2 ``write`` and v1 ``write``.

All parse the same line protocol through the engine. v3 keeps valid lines by
default (``accept_partial=true``); v1 and v2 are all-or-nothing.

Each names its database with ``db`` or ``bucket`` (either on every route); both
given with different values is a 400. A bucket ``db/rp`` is database ``db``. The
engine checks the caller's ``write`` permission on exactly the database it writes.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from flight_iox.engine.engine import PARTIAL_WRITE_MESSAGE
from flight_iox.errors import BadRequestError, LineProtocolError
from flight_iox.http.body import read_body
from flight_iox.http.params import one_of, principal_of, query_params
from flight_iox.http.services import services_of
from flight_iox.ingest import parse_precision
from flight_iox.names import database_of_bucket

_TRUE = {"true", "1", "yes", "t"}
_FALSE = {"false", "0", "no", "f"}


def query_flag(request: Request, name: str, default: bool) -> bool:
    """A boolean query parameter, with a 400 for values that are not booleans."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in _TRUE:
        return True
    if raw.lower() in _FALSE:
        return False
    raise BadRequestError(f"query parameter {name!r} must be true or false, got {raw!r}")


def _database(request: Request, names: tuple[str, str]) -> str:
    params = query_params(request)
    if params.get("bucket"):
        params["bucket"] = database_of_bucket(params["bucket"])
    database = one_of(dict(params), names)
    if not isinstance(database, str):
        raise BadRequestError(f"missing query parameter {names[0]!r} (the database name)")
    return database


async def _write(
    request: Request, names: tuple[str, str], *, accept_partial: bool, no_sync: bool
) -> Response:
    engine = services_of(request).engine
    database = _database(request, names)
    precision = parse_precision(request.query_params.get("precision"))
    body = await read_body(request, request.app.state.settings.max_request_bytes)
    outcome = await run_in_threadpool(
        engine.write_line_protocol,
        database,
        body,
        principal=principal_of(request),
        precision=precision,
        accept_partial=accept_partial,
        no_sync=no_sync,
    )
    if outcome.errors:
        raise LineProtocolError(PARTIAL_WRITE_MESSAGE, outcome.errors)
    return Response(status_code=204)


async def write_v3(request: Request) -> Response:
    """``POST /api/v3/write_lp?db=&precision=&accept_partial=&no_sync=``."""
    return await _write(
        request,
        ("db", "bucket"),
        accept_partial=query_flag(request, "accept_partial", True),
        no_sync=query_flag(request, "no_sync", False),
    )


async def write_v2(request: Request) -> Response:
    """``POST /api/v2/write?bucket=&org=&precision=`` (all or nothing)."""
    return await _write(request, ("bucket", "db"), accept_partial=False, no_sync=False)


async def write_v1(request: Request) -> Response:
    """``POST /write?db=&precision=`` (all or nothing); the retention policy is ignored."""
    return await _write(request, ("db", "bucket"), accept_partial=False, no_sync=False)
