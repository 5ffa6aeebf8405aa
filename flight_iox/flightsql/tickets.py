"""The InfluxDB 3 JSON ticket, as the influxdb3 client libraries send it to DoGet.

    {"database": "mydb", "sql_query": "SELECT ...", "query_type": "sql", "params": [...]}

``query_type`` is ``sql`` (the default) or ``influxql``. IOx's
older ``namespace_name`` is accepted for ``database``; without either, the
``database`` header applies (a ticket and a header naming different databases
are a bad request). The query runs in the caller's scoped backend. ``params``
may be a list, bound positionally to ``$1..$n``, or an object bound by name to
``$name`` (what ``query_parameters`` of influxdb3-python sends).

A ticket ``{"subscribe": {...}}`` is a streaming subscription instead
(``subscriptions/stream.py``): the server hands it to its stream backend.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pyarrow as pa

from flight_iox.client_json import loads_object
from flight_iox.errors import BadRequestError, FlightIoxError, NotSupportedError
from flight_iox.flightsql.commands import Call
from flight_iox.flightsql.generated import FlightSql_pb2 as pb
from flight_iox.flightsql.handles import StatementHandle


@dataclass(frozen=True)
class JsonTicket:
    """A decoded InfluxDB 3 JSON ticket."""

    database: str | None
    sql: str
    params: Sequence[object] | Mapping[str, object] = field(default_factory=tuple)
    query_type: str = "sql"


def is_json_ticket(ticket: bytes) -> bool:
    """JSON tickets are objects; Flight SQL tickets are protobuf (never start with ``{``)."""
    return ticket.lstrip()[:1] == b"{"


def subscribe_ticket(ticket: bytes) -> dict[str, object] | None:
    """The JSON of a streaming-subscription ticket (``{"subscribe": {...}}``), else None."""
    if not is_json_ticket(ticket):
        return None
    body = loads_object(ticket, "JSON ticket")
    return body if "subscribe" in body else None


def parse_json_ticket(ticket: bytes) -> JsonTicket:
    """Decode and check a JSON ticket."""
    body = loads_object(ticket, "JSON ticket")
    query_type = str(body.get("query_type") or "sql").lower()
    if query_type not in ("sql", "influxql"):
        raise BadRequestError(f"unknown query_type {query_type!r}; expected 'sql' or 'influxql'")
    sql = body.get("sql_query")
    if not isinstance(sql, str) or not sql.strip():
        raise BadRequestError("JSON ticket has no 'sql_query'")
    given = [body.get(key) for key in ("database", "namespace_name")]
    if any(name is not None and not isinstance(name, str) for name in given):
        raise BadRequestError("'database' in the JSON ticket must be a string")
    names = sorted({name for name in given if isinstance(name, str) and name})
    if len(names) > 1:
        raise BadRequestError(f"the JSON ticket names two databases: {names!r}")
    database = names[0] if names else None
    params = body.get("params") or []
    if not isinstance(params, list | dict):
        raise BadRequestError(
            "'params' in the JSON ticket must be a list ($1..$n) or an object ($name)"
        )
    if params and query_type == "influxql":
        raise NotSupportedError("'params' are bound in SQL queries only, not in InfluxQL")
    bound = dict(params) if isinstance(params, dict) else tuple(params)
    return JsonTicket(database, sql, bound, query_type)


def execute_json_ticket(call: Call, ticket: bytes) -> pa.RecordBatchReader:
    """Run the query of a JSON ticket; the header's database fills in a missing one."""
    parsed = parse_json_ticket(ticket)
    if parsed.database and call.database and parsed.database != call.database:
        raise BadRequestError(
            f"the JSON ticket names database {parsed.database!r} but the call's database "
            f"is {call.database!r}; name one"
        )
    database = parsed.database or call.database
    if parsed.query_type == "influxql":
        from flight_iox.influxql.service import influxql_reader

        return influxql_reader(call.backend, call.principal, database, parsed.sql)
    return call.backend.execute(database, parsed.sql, parsed.params)


def ticket_query(ticket: bytes, database: str | None) -> tuple[str, str, str | None] | None:
    """What ``system.queries`` shows of a JSON ticket's DoGet: (query type, text, database).

    None for a bad ticket, which the DoGet itself then reports. ``database``: the call's
    header.
    """
    try:
        parsed = parse_json_ticket(ticket)
    except FlightIoxError:
        return None
    kind = "influxql" if parsed.query_type == "influxql" else "flightsql"
    return kind, parsed.sql, parsed.database or database


def command_query(command: object) -> tuple[str, str, str | None] | None:
    """What ``system.queries`` shows of a Flight SQL ticket's DoGet (its command already
    unpacked): None for a ticket that runs no query (a metadata listing, an update's count)
    and for a bad handle, which the DoGet itself then reports."""
    if not isinstance(command, pb.TicketStatementQuery):
        return None
    try:
        handle = StatementHandle.decode(command.statement_handle)
    except FlightIoxError:
        return None
    return "flightsql", handle.sql, handle.database
