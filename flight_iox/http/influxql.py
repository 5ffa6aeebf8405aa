"""InfluxQL over HTTP: the v1 ``/query`` API and InfluxDB 3's ``/api/v3/query_influxql``.

The handlers read each request's parameters once (``http.params``: a ``db`` or ``q`` given
twice with different values is 400) and hand the caller's ``Principal`` with them to the
InfluxQL engine, which checks every database a statement resolves. A statement the caller
may not run answers the whole request with 403; GET requests may only read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from functools import partial
from itertools import chain

import pyarrow as pa
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from flight_iox.auth.policy import Principal
from flight_iox.errors import BadRequestError, NoDatabaseError, QueryError
from flight_iox.http.disconnect import ClientWatch
from flight_iox.http.params import form_params, principal_of, request_params, text_param
from flight_iox.http.queries import query_log
from flight_iox.http.services import missing_headers, services_of
from flight_iox.influxql.formats import EPOCH_DIVISORS, arrow_table, v1_chunks, v1_csv, v1_json
from flight_iox.influxql.result import StatementResult, first_failure, refusal
from flight_iox.influxql.service import InfluxQL
from flight_iox.query.formats import Format, choose_format
from flight_iox.query.query_log import QueryRecord

VERSION_HEADERS = {"X-Influxdb-Version": "1.8.10-flight-iox", "X-Influxdb-Build": "OSS"}
CSV_TYPES = ("application/csv", "text/csv")
# Answers up to this size are encoded whole in the query's own worker-thread call; larger
# ones stream the rest (each streamed chunk costs another thread hand-off).
WHOLE_ANSWER_BYTES = 4 * 1024 * 1024
DEFAULT_CHUNK_SIZE = 10_000
DATABASE_HINT = "set the query parameter 'db', or name the database in the statement (ON db)"


def _run(
    influxql: InfluxQL,
    principal: Principal,
    database: str | None,
    text: str,
    read_only: bool,
    record: QueryRecord,
) -> list[StatementResult]:
    """Run the text; a statement the caller may not run answers the whole request (403).

    ``record`` (the text's entry in ``system.queries``) gets the rows of every series.
    """
    results = influxql.run(principal, database, text, read_only=read_only)
    record.rows = sum(series.num_rows for result in results for series in result.series)
    refused = refusal(results)
    if refused is not None:
        raise refused
    return [_with_database_hint(result) for result in results]


def _with_database_hint(result: StatementResult) -> StatementResult:
    """A statement that needed a database says how an HTTP request names one."""
    if not isinstance(result.cause, NoDatabaseError):
        return result
    cause = result.cause.with_hint(DATABASE_HINT)
    return replace(result, error=cause.message, cause=cause)


async def query_v1(request: Request) -> Response:
    """``GET|POST /query?db=&q=&epoch=&chunked=&chunk_size=&pretty=`` (InfluxDB 1.x).

    GET only reads (SELECT without INTO, SHOW), as InfluxDB 1.x asks; POST may change data.
    """
    principal = principal_of(request)
    params = await form_params(request)
    text = text_param(params, "q") or ""
    if not text.strip():
        return JSONResponse({"error": 'missing required parameter "q"'}, 400, VERSION_HEADERS)
    epoch = text_param(params, "epoch") or None
    if epoch is not None and epoch not in EPOCH_DIVISORS:
        return JSONResponse({"error": f"invalid epoch {epoch!r}"}, 400, VERSION_HEADERS)
    influxql = services_of(request).influxql
    read_only = request.method == "GET"
    database = text_param(params, "db")
    watch = ClientWatch(request)
    log = query_log(request)
    record = log.begin("influxql", text, database, principal, watch.gone)
    try:
        results = await watch.run(_run, influxql, principal, database, text, read_only, record)
    except QueryError as error:  # the text does not parse: InfluxDB answers 400
        log.end(record, error)
        return JSONResponse({"error": error.message}, 400, VERSION_HEADERS)
    except BaseException as error:
        log.end(record, error)
        raise
    finally:
        watch.close()  # the statements have run: nothing is left to cancel
    log.end(record, first_failure(results))
    accept = request.headers.get("accept", "")
    if any(kind in accept for kind in CSV_TYPES):
        body = await run_in_threadpool(v1_csv, results, epoch)
        return Response(body, media_type="application/csv", headers=VERSION_HEADERS)
    if (text_param(params, "chunked") or "").lower() == "true":
        size = _chunk_size(text_param(params, "chunk_size"))
        return StreamingResponse(
            v1_chunks(results, epoch, size), media_type="application/json", headers=VERSION_HEADERS
        )
    pretty = (text_param(params, "pretty") or "").lower() == "true"
    body = await run_in_threadpool(v1_json, results, epoch, pretty)  # keep the event loop free
    return Response(body, media_type="application/json", headers=VERSION_HEADERS)


def _chunk_size(text: str | None) -> int:
    try:
        size = int(text or DEFAULT_CHUNK_SIZE)
    except ValueError:
        raise BadRequestError(f"invalid chunk_size {text!r}: expected an integer") from None
    return size if size > 0 else DEFAULT_CHUNK_SIZE


async def query_influxql(request: Request) -> Response:
    """``GET|POST /api/v3/query_influxql?db=&q=&format=``: as ``query_sql``; GET only reads."""
    principal = principal_of(request)
    params = await request_params(request)
    database, text = text_param(params, "db"), text_param(params, "q")
    if text is None or not text.strip():
        raise BadRequestError("missing query parameter 'q' (the InfluxQL text)")
    fmt = choose_format(text_param(params, "format"), request.headers.get("accept"))
    influxql = services_of(request).influxql
    watch = ClientWatch(request)
    log = query_log(request)
    record = log.begin("influxql", text, database, principal, watch.gone)
    run = partial(_run, influxql, principal, database, text, request.method == "GET", record)
    try:
        head, rest = await watch.run(_answer, run, fmt)
    except BaseException as error:
        log.end(record, error)
        raise
    finally:
        watch.close()  # the statements have run: nothing is left to cancel
    log.end(record)
    headers = missing_headers(request)
    if rest is None:
        return Response(b"".join(head), media_type=fmt.media_type, headers=headers)
    return StreamingResponse(chain(head, rest), media_type=fmt.media_type, headers=headers)


def _answer(
    run: Callable[[], list[StatementResult]], fmt: Format
) -> tuple[list[bytes], Iterator[bytes] | None]:
    """Run the statements and encode the answer, whole when small (``rest`` is None then).

    The series are already in memory, so a small answer gains nothing from streaming.
    """
    results = run()
    failure = first_failure(results)
    if failure is not None:
        raise failure
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
