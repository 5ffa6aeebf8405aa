"""``POST /api/v2/query``: Flux (docs/flux.md), answered as InfluxDB 2's annotated CSV.

The body is the Flux text (``Content-Type: application/vnd.flux``) or a JSON object with
``query``, ``type``, ``dialect``, ``extern`` and ``now`` (``application/json``, what
influxdb-client sends). ``org``/``orgID`` are accepted and ignored: there is one
organization. The program is planned as the caller, and the first CSV chunk is computed
before the status goes out, so planning and execution errors answer a JSON error (400,
403, 404, ...) as InfluxDB 2 does; an error after that ends the stream with Flux's
``error,reference`` table.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from starlette.requests import Request
from starlette.responses import Response

from flight_iox.client_json import loads_object
from flight_iox.errors import BadRequestError, FlightIoxError
from flight_iox.flux.annotated_csv import Dialect, Writer
from flight_iox.flux.values import Time
from flight_iox.http.body import read_body
from flight_iox.http.disconnect import ClientWatch
from flight_iox.http.params import principal_of, query_params
from flight_iox.http.queries import query_log
from flight_iox.http.services import services_of
from flight_iox.http.streaming import CutShortOnError
from flight_iox.query.execution import cancellation

CSV_MEDIA_TYPE = "text/csv; charset=utf-8"


async def query_flux(request: Request) -> Response:
    """``POST /api/v2/query?org=``: run a Flux program and stream its tables as CSV."""
    query_params(request)  # a repeated, conflicting parameter is a 400 here too
    body = await read_body(request, request.app.state.settings.max_request_bytes)
    text, dialect, extern, now = _read(request.headers.get("content-type", ""), body)
    principal = principal_of(request)
    flux = services_of(request).flux
    watch = ClientWatch(request)
    log = query_log(request)
    record = log.begin("flux", text, None, principal, watch.gone)
    try:
        prepared = await watch.run(flux.prepare, principal, text, now, extern)
        chunks = _guarded(prepared.chunks, Writer(dialect), watch.gone.is_set)
        first = await watch.run(_first_chunk, chunks)
    except BaseException as error:
        log.end(record, error)
        watch.close()
        raise
    return CutShortOnError(
        watch.stream(_ended(first, chunks, lambda: log.end(record))),
        media_type=CSV_MEDIA_TYPE,
    )


def _read(content_type: str, body: bytes) -> tuple[str, Dialect, object, int | None]:
    media = content_type.split(";", 1)[0].strip().lower()
    if media == "application/vnd.flux":
        return body.decode("utf-8", "replace"), Dialect(), None, None
    if media not in ("application/json", ""):
        raise BadRequestError(
            f"unsupported Content-Type {content_type!r}: send application/vnd.flux (the Flux "
            'text) or application/json ({"query": ...})'
        )
    request = loads_object(body, "request body")
    query = request.get("query")
    if not isinstance(query, str) or not query.strip():
        raise BadRequestError("missing 'query' (the Flux text) in the request body")
    kind = request.get("type", "flux")
    if kind != "flux":
        raise BadRequestError(
            f"query type {kind!r} is not supported here: send InfluxQL to /query or "
            "/api/v3/query_influxql"
        )
    now = request.get("now")
    if now is not None and not isinstance(now, str):
        raise BadRequestError("'now' must be an RFC 3339 time")
    nanos = Time.parse(now).nanos if now else None
    return query, Dialect.of(request.get("dialect")), request.get("extern"), nanos


def _guarded(
    make: Callable[[Writer], Iterator[bytes]], writer: Writer, gone: Callable[[], bool]
) -> Iterator[bytes]:
    """The chunks; an error after the first chunk becomes Flux's ``error,reference`` table.

    Each chunk's SQL runs (in whichever worker thread pulls it) under the request's
    cancellation, so a gone client or ``DELETE /api/v3/query/{id}`` stops later results too.
    """
    started = False
    chunks = make(writer)
    try:
        while True:
            with cancellation(gone):  # entered and left within one pull
                chunk = next(chunks, None)
            if chunk is None:
                return
            started = True
            yield chunk
    except FlightIoxError as error:  # the engine's errors are ours by now (run_sql)
        if not started:
            raise
        yield writer.error(error.message)


def _first_chunk(chunks: Iterator[bytes]) -> bytes:
    return next(chunks, b"")


def _ended(first: bytes, rest: Iterator[bytes], done: Callable[[], None]) -> Iterator[bytes]:
    yield first
    yield from rest
    done()
