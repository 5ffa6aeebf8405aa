"""InfluxDB 2's ``POST /api/v2/delete``: a time range and a tag predicate become a row delete.

    POST /api/v2/delete?bucket=db[/rp]&org=…
    {"start": "2024-01-01T00:00:00Z", "stop": "2024-01-02T00:00:00Z",
     "predicate": "_measurement=\\"cpu\\" AND host=\\"a\\""}

InfluxDB 2's predicate language is small: comparisons ``key = "value"`` or ``key != "value"``
joined by ``AND``; ``_measurement`` names the table, any other key a tag. A row's missing tag
is the empty string, as in InfluxDB (``host=""`` matches rows without ``host``; ``host!="a"``
matches them). ``start`` and ``stop`` are RFC 3339 and both included.

Each table the predicate can match gets one SQL ``DELETE FROM db.iox.t WHERE …`` through the
engine's update path (``persist/deletes.py``): every name is quoted, every value is a bound
parameter, and the update path checks the caller's ``delete`` permission on the database,
as it does for SQL and InfluxQL deletes. The permission is also checked here, before the
database is looked up, so a refused token learns nothing of it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pyarrow as pa
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from flight_iox.auth.policy import Authorizer, Principal
from flight_iox.auth.tokens import Action
from flight_iox.client_json import loads_object
from flight_iox.columns import ColumnRole, role_of
from flight_iox.engine.engine import Engine
from flight_iox.errors import BadRequestError, QueryError
from flight_iox.http.body import read_body
from flight_iox.http.params import one_of, principal_of, query_params
from flight_iox.http.services import services_of
from flight_iox.http.v2_buckets import bucket_by_id, bucket_id
from flight_iox.influxql.timerange import parse_time_string
from flight_iox.names import database_of_bucket
from flight_iox.sql_quote import quote_identifier

MEASUREMENT = "_measurement"
_TOKEN = re.compile(
    r'\s*(?:(?P<op>!=|=)|(?P<dq>"(?:[^"\\]|\\.)*")|(?P<sq>\'(?:[^\'\\]|\\.)*\')'
    r"|(?P<word>[A-Za-z0-9_][A-Za-z0-9_.\-]*)|(?P<bad>\S))"
)


@dataclass(frozen=True)
class Comparison:
    """``key = value`` or ``key != value``."""

    key: str
    equal: bool
    value: str


def _unquote(token: str) -> str:
    return re.sub(r"\\(.)", r"\1", token[1:-1])


def parse_predicate(text: str) -> list[Comparison]:
    """The comparisons of an InfluxDB 2 delete predicate (empty: every row in the range)."""
    tokens: list[tuple[str, str]] = []
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup
        assert kind is not None
        if kind == "bad":
            raise BadRequestError(
                f"delete predicate: unexpected {match.group(kind)!r} at character "
                f'{match.start(kind) + 1}; expected key="value" comparisons joined by AND'
            )
        tokens.append((kind, match.group(kind)))
    comparisons: list[Comparison] = []
    position = 0
    while position < len(tokens):
        if comparisons:
            kind, word = tokens[position]
            if kind != "word" or word.upper() != "AND":
                hint = " (OR is not supported by InfluxDB's delete)" if word.upper() == "OR" else ""
                raise BadRequestError(f"delete predicate: expected AND, got {word!r}{hint}")
            position += 1
        part = tokens[position : position + 3]
        if len(part) < 3 or part[0][0] not in ("word", "dq") or part[1][0] != "op":
            raise BadRequestError('delete predicate: expected key="value" after AND or at start')
        if part[2][0] not in ("dq", "sq"):
            raise BadRequestError(f"delete predicate: the value of {part[0][1]!r} must be quoted")
        key = part[0][1] if part[0][0] == "word" else _unquote(part[0][1])
        comparisons.append(Comparison(key, part[1][1] == "=", _unquote(part[2][1])))
        position += 3
    return comparisons


def _tables(all_tables: list[str], comparisons: list[Comparison]) -> list[str]:
    tables = all_tables
    for c in comparisons:
        if c.key == MEASUREMENT:
            tables = [t for t in tables if (t == c.value) == c.equal]
    return tables


def _where(schema: pa.Schema, table: str, tags: list[Comparison]) -> tuple[str, list[object]]:
    """``time`` bounds as $1 and $2, then each tag comparison; empty SQL: matches no row."""
    clauses = ['"time" >= $1', '"time" <= $2']
    values: list[object] = []
    for c in tags:
        if c.key not in schema.names:
            # A tag the table never had is "" on every row.
            if (c.value == "") != c.equal:
                return "", []
            continue
        if role_of(schema.field(c.key)) is not ColumnRole.TAG:
            raise BadRequestError(
                f"delete predicate: {c.key!r} is a field of table {table!r}; "
                "predicates compare tags (and _measurement) only"
            )
        values.append(c.value)
        op = "=" if c.equal else "<>"
        clauses.append(f"COALESCE({quote_identifier(c.key)}, '') {op} ${len(values) + 2}")
    return " AND ".join(clauses), values


def _time(body: dict[str, object], name: str) -> int:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise BadRequestError(f"missing {name!r}: an RFC 3339 time such as 2024-01-01T00:00:00Z")
    try:
        return parse_time_string(value)
    except QueryError as error:
        raise BadRequestError(f"{name!r}: {error.message}") from None


async def delete_v2(request: Request) -> Response:
    """``POST /api/v2/delete?bucket=&org=`` (or ``bucketID``); 204 once the rows are gone."""
    services = services_of(request)
    principal = principal_of(request)
    params = query_params(request)
    body_bytes = await read_body(request, request.app.state.settings.max_request_bytes)
    body = loads_object(body_bytes, "request body")
    start, stop = _time(body, "start"), _time(body, "stop")
    if start > stop:
        raise BadRequestError("'start' is after 'stop'")
    predicate = body.get("predicate") or ""
    if not isinstance(predicate, str):
        raise BadRequestError("'predicate' must be a string")
    comparisons = parse_predicate(predicate)
    database = _database(services.engine, params, principal)
    Authorizer.require(principal, Action.DELETE, database)
    tags = [c for c in comparisons if c.key != MEASUREMENT]
    backend = services.sql.scoped(principal)
    times = [pa.scalar(t, pa.timestamp("ns")) for t in (start, stop)]
    for table in _tables(services.engine.table_names(database), comparisons):
        schema = services.engine.table_schema(database, table)
        if schema is None:
            continue  # dropped meanwhile
        where, values = _where(schema, table, tags)
        if not where:
            continue
        target = f"{quote_identifier(database)}.iox.{quote_identifier(table)}"
        sql = f"DELETE FROM {target} WHERE {where}"
        await run_in_threadpool(backend.execute_update, database, sql, [*times, *values])
    return Response(status_code=204)


def _database(engine: Engine, params: dict[str, str], principal: Principal) -> str:
    """The bucket by name (``bucket``/``db``) or by ID (``bucketID``)."""
    by_name = one_of(dict(params), ("bucket", "db"))
    identifier = params.get("bucketID")
    if by_name is None and not identifier:
        raise BadRequestError("missing query parameter 'bucket' (or 'bucketID')")
    if by_name is None:
        return bucket_by_id(engine, principal, str(identifier))
    assert isinstance(by_name, str)
    database = database_of_bucket(by_name)
    if identifier and bucket_id(database) != identifier:
        raise BadRequestError(f"'bucket' {by_name!r} and 'bucketID' {identifier!r} differ")
    return database
