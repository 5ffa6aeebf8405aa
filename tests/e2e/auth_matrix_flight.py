"""The authorization matrix's Flight requests: each builds a ``Request`` for one RPC.

Split from ``auth_matrix.py`` (the cases, the cell check and the server), which the matrix
modules import beside this one.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.flight as flight

from flight_iox.flightsql.commands import pack, unpack_any
from flight_iox.flightsql.generated import FlightSql_pb2 as pb
from tests.e2e.auth_matrix import _TIMEOUT, Answer, Env, Request

_FLIGHT_STATUS: list[tuple[type[Exception], int]] = [
    (flight.FlightUnauthenticatedError, 401),
    (flight.FlightUnauthorizedError, 403),
    (pa.ArrowNotImplementedError, 501),
    (pa.ArrowKeyError, 404),
    (pa.ArrowInvalid, 400),
]


def _options(token: str | None, headers: Sequence[tuple[str, str]]) -> flight.FlightCallOptions:
    pairs = [(name.encode(), value.encode()) for name, value in headers]
    if token:
        pairs.append((b"authorization", f"Bearer {token}".encode()))
    return flight.FlightCallOptions(headers=pairs, timeout=_TIMEOUT)


def _flight(
    call: Callable[[flight.FlightClient, flight.FlightCallOptions], str],
) -> Callable[[Sequence[tuple[str, str]]], Request]:
    """A Flight request from ``call``, with the given headers; errors become statuses."""

    def with_headers(headers: Sequence[tuple[str, str]]) -> Request:
        def run(env: Env, token: str | None) -> Answer:
            try:
                return Answer(200, call(env.client, _options(token, headers)))
            except Exception as error:
                for kind, status in _FLIGHT_STATUS:
                    if isinstance(error, kind):
                        return Answer(status, str(error))
                raise

        return run

    return with_headers


def _rows(client: flight.FlightClient, info: flight.FlightInfo, options: Any) -> str:
    return str(client.do_get(info.endpoints[0].ticket, options).read_all().to_pylist())


def flight_info_and_get(command: Any, headers: Sequence[tuple[str, str]] = ()) -> Request:
    """GetFlightInfo of a Flight SQL command, then DoGet of its ticket."""

    def call(client: flight.FlightClient, options: Any) -> str:
        descriptor = flight.FlightDescriptor.for_command(pack(command))
        return _rows(client, client.get_flight_info(descriptor, options), options)

    return _flight(call)(headers)


def flight_sql(sql: str, database: str | None = "mine", headers: Sequence = ()) -> Request:
    """A statement query, the ``database`` header naming ``database``."""
    named = [("database", database)] if database else []
    return flight_info_and_get(pb.CommandStatementQuery(query=sql), [*named, *headers])


def flight_prepared(sql: str, database: str = "mine") -> Request:
    """CreatePreparedStatement, GetFlightInfo(prepared) and DoGet, as ADBC runs a query."""

    def call(client: flight.FlightClient, options: Any) -> str:
        request = pack(pb.ActionCreatePreparedStatementRequest(query=sql))
        results = list(client.do_action(flight.Action("CreatePreparedStatement", request), options))
        created = pb.ActionCreatePreparedStatementResult()
        unpack_any(results[0].body.to_pybytes()).Unpack(created)
        command = pb.CommandPreparedStatementQuery(
            prepared_statement_handle=created.prepared_statement_handle
        )
        descriptor = flight.FlightDescriptor.for_command(pack(command))
        return _rows(client, client.get_flight_info(descriptor, options), options)

    return _flight(call)([("database", database)])


def flight_ticket(ticket: bytes, headers: Sequence[tuple[str, str]] = ()) -> Request:
    """DoGet of a ticket the client made itself (forged handles, JSON tickets)."""

    def call(client: flight.FlightClient, options: Any) -> str:
        return str(client.do_get(flight.Ticket(ticket), options).read_all().to_pylist())

    return _flight(call)(headers)


def json_ticket(headers: Sequence[tuple[str, str]] = (), **body: str) -> Request:
    """The InfluxDB 3 JSON ticket."""
    return flight_ticket(json.dumps(body).encode(), headers)


def flight_subscribe(headers: Sequence[tuple[str, str]] = (), **spec: str) -> Request:
    """A streaming subscription's DoGet: its first message (the starting point), then cancel."""

    def call(client: flight.FlightClient, options: Any) -> str:
        ticket = flight.Ticket(json.dumps({"subscribe": spec}).encode())
        reader = client.do_get(ticket, options)
        try:
            chunk = reader.read_chunk()
        finally:
            reader.cancel()
        return str(chunk.data.to_pylist())

    return _flight(call)(headers)


def flight_put(
    descriptor: flight.FlightDescriptor, data: pa.Table, headers: Sequence[tuple[str, str]]
) -> Request:
    """DoPut of ``data`` (possibly no rows) under ``descriptor``; the answer is its metadata."""

    def call(client: flight.FlightClient, options: Any) -> str:
        writer, metadata = client.do_put(descriptor, data.schema, options)
        if data.num_rows:
            writer.write_table(data)
        writer.done_writing()
        answer = metadata.read()
        writer.close()
        return "" if answer is None else answer.to_pybytes().decode(errors="replace")

    return _flight(call)(headers)


def flight_update(sql: str, database: str = "mine") -> Request:
    """DoPut(CommandStatementUpdate): INSERT, DELETE, DROP or CREATE TABLE."""
    descriptor = flight.FlightDescriptor.for_command(pack(pb.CommandStatementUpdate(query=sql)))
    return flight_put(descriptor, pa.table({}), [("database", database)])


SCRATCH = pa.table(
    {
        "host": pa.array(["x"]).dictionary_encode(),
        "v": pa.array([1.0]),
        "time": pa.array([3_000_000_000], pa.timestamp("ns")),
    }
)


def flight_ingest(catalog: str | None, header: str | None = "mine") -> Request:
    """DoPut(CommandStatementIngest) of one ``scratch`` row into ``catalog``."""
    command = pb.CommandStatementIngest(table="scratch")
    if catalog is not None:
        command.catalog = catalog
    descriptor = flight.FlightDescriptor.for_command(pack(command))
    return flight_put(descriptor, SCRATCH, [("database", header)] if header else [])


def flight_plain_put(database: str) -> Request:
    """Plain DoPut with a path descriptor ``[database, table]``."""
    descriptor = flight.FlightDescriptor.for_path(database, "scratch")
    return flight_put(descriptor, SCRATCH, [])


# --- the server ------------------------------------------------------------------------------
