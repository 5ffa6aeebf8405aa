"""``/api/v3/query_sql``: SQL over HTTP, streamed in the format asked for."""

from __future__ import annotations

import json
from collections.abc import Iterator

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from flight_iox.auth.http import PRINCIPAL_KEY
from flight_iox.auth.policy import Authorizer
from flight_iox.auth.tokens import Action
from flight_iox.engine.engine import Engine
from flight_iox.errors import BadRequestError, FlightIoxError, query_error
from flight_iox.http.body import read_body
from flight_iox.query.formats import choose_format
from flight_iox.query.sql_text import first_keyword, qualified_catalogs


async def request_params(request: Request) -> dict[str, object]:
    """Parameters from the query string, overridden by a JSON body on POST."""
    params: dict[str, object] = dict(request.query_params)
    if request.method in ("POST", "PUT", "DELETE"):
        body = await read_body(request, request.app.state.settings.max_request_bytes)
        if body.strip():
            try:
                payload = json.loads(body)
            except ValueError as error:
                raise BadRequestError(f"request body is not valid JSON: {error}") from None
            if not isinstance(payload, dict):
                raise BadRequestError("request body must be a JSON object")
            params.update(payload)
    return params


async def query_sql(request: Request) -> Response:
    """``GET|POST /api/v3/query_sql?db=&q=&format=`` (``Accept`` also picks the format)."""
    params = await request_params(request)
    database, sql = params.get("db"), params.get("q")
    if not isinstance(database, str) or not database:
        raise BadRequestError("missing query parameter 'db'")
    if not isinstance(sql, str) or not sql.strip():
        raise BadRequestError("missing query parameter 'q' (the SQL text)")
    fmt = choose_format(_as_text(params.get("format")), request.headers.get("accept"))
    bound = params.get("params") or ()
    if not isinstance(bound, list | tuple | dict):
        raise BadRequestError("'params' must be a JSON list (positional) or object (named)")
    engine: Engine = request.app.state.engine
    if (principal := request.scope.get(PRINCIPAL_KEY)) is not None:
        Authorizer.require_tokens_access(principal, sql)  # system.tokens: admin tokens only
    if first_keyword(sql) in ("delete", "drop", "create"):
        return await _update(request, engine, database, sql, bound)
    reader = await run_in_threadpool(engine.query.execute, database, sql, bound)
    # Pull the first chunk before answering, so planning and early execution errors
    # still get a proper 400 instead of a broken 200 stream.
    chunks = fmt.encode(reader)
    first = await run_in_threadpool(_first_chunk, chunks)
    return StreamingResponse(_prepend(first, chunks), media_type=fmt.media_type)


async def _update(
    request: Request, engine: Engine, database: str, sql: str, bound: object
) -> Response:
    """DELETE, DROP TABLE, CREATE TABLE: they change data, so the token needs write permission."""
    principal = request.scope.get(PRINCIPAL_KEY)
    if principal is not None:
        Authorizer.require(principal, Action.WRITE, database)
        for catalog in sorted(qualified_catalogs(sql) & set(engine.query.database_names())):
            Authorizer.require(principal, Action.WRITE, catalog)  # DROP TABLE other.iox.t
    if isinstance(bound, dict):
        raise BadRequestError("DELETE takes positional parameters only")
    count = await run_in_threadpool(engine.query.execute_update, database, sql, list(bound))
    return JSONResponse([{"count": count}])


def _as_text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _first_chunk(chunks: Iterator[bytes]) -> bytes:
    try:
        return next(chunks)
    except StopIteration:
        return b""
    except FlightIoxError:
        raise
    except Exception as error:  # DataFusion and Arrow raise plain exceptions while executing
        raise query_error(str(error)) from None


def _prepend(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    yield first
    yield from rest
