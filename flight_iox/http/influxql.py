"""InfluxQL over HTTP: the v1 ``/query`` API and InfluxDB 3's ``/api/v3/query_influxql``."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import chain
from urllib.parse import parse_qsl

import pyarrow as pa
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from flight_iox.engine.engine import Engine
from flight_iox.errors import BadRequestError, QueryError
from flight_iox.http.body import read_body
from flight_iox.http.disconnect import ClientWatch
from flight_iox.http.query import request_params
from flight_iox.influxql.formats import EPOCH_DIVISORS, arrow_table, v1_chunks, v1_csv, v1_json
from flight_iox.influxql.service import run_influxql
from flight_iox.query.formats import Format, choose_format

VERSION_HEADERS = {"X-Influxdb-Version": "1.8.10-flight-iox", "X-Influxdb-Build": "OSS"}
CSV_TYPES = ("application/csv", "text/csv")
# Answers up to this size are encoded whole in the query's own worker-thread call; larger
# ones stream the rest (each streamed chunk costs another thread hand-off).
WHOLE_ANSWER_BYTES = 4 * 1024 * 1024


async def _v1_params(request: Request) -> dict[str, str]:
    params = dict(request.query_params)
    if request.method == "POST":
        content_type = request.headers.get("content-type", "")
        body = await read_body(request, request.app.state.settings.max_request_bytes)
        if "multipart/form-data" in content_type:
            raise BadRequestError(
                "multipart query bodies are not supported; send q as a form field"
            )
        if body.strip():
            params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    return params


async def query_v1(request: Request) -> Response:
    """``GET|POST /query?db=&q=&epoch=&chunked=&chunk_size=&pretty=`` (InfluxDB 1.x)."""
    params = await _v1_params(request)
    text = params.get("q", "")
    if not text.strip():
        return JSONResponse({"error": 'missing required parameter "q"'}, 400, VERSION_HEADERS)
    epoch = params.get("epoch") or None
    if epoch is not None and epoch not in EPOCH_DIVISORS:
        return JSONResponse({"error": f"invalid epoch {epoch!r}"}, 400, VERSION_HEADERS)
    engine: Engine = request.app.state.engine
    watch = ClientWatch(request)
    try:
        results = await watch.run(run_influxql, engine, params.get("db"), text)
    except QueryError as error:  # the text does not parse: InfluxDB answers 400
        return JSONResponse({"error": error.message}, 400, VERSION_HEADERS)
    finally:
        watch.close()  # the statements have run: nothing is left to cancel
    accept = request.headers.get("accept", "")
    if any(kind in accept for kind in CSV_TYPES):
        body = await run_in_threadpool(v1_csv, results, epoch)
        return Response(body, media_type="application/csv", headers=VERSION_HEADERS)
    if params.get("chunked", "").lower() == "true":
        size = int(params.get("chunk_size") or 10_000)
        if size <= 0:
            size = 10_000
        return StreamingResponse(
            v1_chunks(results, epoch, size), media_type="application/json", headers=VERSION_HEADERS
        )
    pretty = params.get("pretty", "").lower() == "true"
    body = await run_in_threadpool(v1_json, results, epoch, pretty)  # keep the event loop free
    return Response(body, media_type="application/json", headers=VERSION_HEADERS)


async def query_influxql(request: Request) -> Response:
    """``GET|POST /api/v3/query_influxql?db=&q=&format=``: one statement, as ``query_sql``."""
    params = await request_params(request)
    database, text = params.get("db"), params.get("q")
    if not isinstance(text, str) or not text.strip():
        raise BadRequestError("missing query parameter 'q' (the InfluxQL text)")
    if database is not None and not isinstance(database, str):
        raise BadRequestError("'db' must be a string")
    fmt_name = params.get("format")
    fmt = choose_format(
        fmt_name if isinstance(fmt_name, str) else None, request.headers.get("accept")
    )
    engine: Engine = request.app.state.engine
    watch = ClientWatch(request)
    try:
        head, rest = await watch.run(_answer, engine, database, text, fmt)
    finally:
        watch.close()  # the statements have run: nothing is left to cancel
    if rest is None:
        return Response(b"".join(head), media_type=fmt.media_type)
    return StreamingResponse(chain(head, rest), media_type=fmt.media_type)


def _answer(
    engine: Engine, database: str | None, text: str, fmt: Format
) -> tuple[list[bytes], Iterator[bytes] | None]:
    """Run the statement and encode its answer, whole when small (``rest`` is None then).

    The series are already in memory, so a small answer gains nothing from streaming.
    """
    results = run_influxql(engine, database, text)
    failed = [r.error for r in results if r.error is not None]
    if failed:
        raise QueryError(failed[0])
    table = arrow_table(results[-1]) if results else pa.table({})
    chunks = fmt.encode(pa.RecordBatchReader.from_batches(table.schema, table.to_batches()))
    head: list[bytes] = []
    size = 0
    for chunk in chunks:
        head.append(chunk)
        size += len(chunk)
        if size >= WHOLE_ANSWER_BYTES:
            return head, chunks
    return head, None
