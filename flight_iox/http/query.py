"""``/api/v3/query_sql``: SQL over HTTP, streamed in the format asked for.

The parameters are read once (``params.py``) and the statement runs in the
caller's scoped query engine: it sees only the databases the token may read,
and its DELETE/DROP/CREATE are checked on the target the engine resolves.
"""

from __future__ import annotations

from collections.abc import Iterator

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from flight_iox.errors import BadRequestError, FlightIoxError, query_error
from flight_iox.http.disconnect import ClientWatch
from flight_iox.http.params import principal_of, request_params
from flight_iox.http.queries import query_log
from flight_iox.http.services import missing_headers, services_of
from flight_iox.http.streaming import CutShortOnError
from flight_iox.query.engine_errors import is_engine_error
from flight_iox.query.formats import choose_format
from flight_iox.query.scoped import ScopedQuery
from flight_iox.query.sql_text import first_keyword

__all__ = ["query_sql", "request_params"]


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
    principal = principal_of(request)
    backend = services_of(request).sql.scoped(principal)
    if first_keyword(sql) in ("delete", "drop", "create"):
        return await _update(backend, database, sql, bound)
    watch = ClientWatch(request)
    log = query_log(request)
    record = log.begin("http_sql", sql, database, principal, watch.gone)  # cancel: client gone
    try:
        reader = await watch.run(backend.execute, database, sql, bound)
        # Pull the first chunk before answering, so planning and early execution errors
        # still get a proper 400 instead of a broken 200 stream.
        chunks = fmt.encode(log.watch(record, reader))
        first = await watch.run(_first_chunk, chunks)
    except BaseException as error:
        log.end(record, error)
        watch.close()
        raise
    return CutShortOnError(
        watch.stream(_prepend(first, chunks)),
        media_type=fmt.media_type,
        headers=missing_headers(request),
    )


async def _update(
    backend: ScopedQuery, database: str, sql: str, bound: list[object] | tuple[object, ...] | dict
) -> Response:
    """DELETE, DROP TABLE, CREATE TABLE: the engine checks delete/create on their target."""
    if isinstance(bound, dict):
        raise BadRequestError("DELETE takes positional parameters only")
    count = await run_in_threadpool(backend.execute_update, database, sql, list(bound))
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
    except Exception as error:
        if not is_engine_error(error):
            raise  # a bug of ours: the app answers 500 and logs it
        raise query_error(str(error)) from None


def _prepend(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    yield first
    yield from rest
