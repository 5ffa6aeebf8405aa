"""Flight SQL messages sent with a plain pyarrow FlightClient, and the JSON ticket."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import adbc_driver_flightsql.dbapi as dbapi
import pyarrow as pa
import pyarrow.flight as flight
import pytest
from google.protobuf.message import Message

from flight_iox.flightsql import schemas
from flight_iox.flightsql.commands import pack, unpack, unpack_any
from flight_iox.flightsql.generated import FlightSql_pb2 as pb

HEADERS = [(b"database", b"mydb")]


@pytest.fixture
def client(uri: str) -> Iterator[flight.FlightClient]:
    with flight.FlightClient(uri) as flight_client:
        yield flight_client


def options(headers: list[tuple[bytes, bytes]] = HEADERS) -> flight.FlightCallOptions:
    return flight.FlightCallOptions(headers=headers)


def fetch(
    client: flight.FlightClient, command: Message, headers: list[tuple[bytes, bytes]] = HEADERS
) -> tuple[flight.FlightInfo, pa.Table]:
    """GetFlightInfo then DoGet on every endpoint, as a Flight SQL client does."""
    descriptor = flight.FlightDescriptor.for_command(pack(command))
    info = client.get_flight_info(descriptor, options(headers))
    tables = [client.do_get(e.ticket, options(headers)).read_all() for e in info.endpoints]
    return info, pa.concat_tables(tables)


def test_get_catalogs(client: flight.FlightClient) -> None:
    info, table = fetch(client, pb.CommandGetCatalogs())
    assert info.schema == schemas.CATALOGS
    assert table.column("catalog_name").to_pylist() == ["mydb", "other"]


def test_get_db_schemas_with_pattern(client: flight.FlightClient) -> None:
    _, table = fetch(client, pb.CommandGetDbSchemas())  # the call's database only
    assert table.to_pylist() == [
        {"catalog_name": "mydb", "db_schema_name": "information_schema"},
        {"catalog_name": "mydb", "db_schema_name": "iox"},
    ]
    _, table = fetch(client, pb.CommandGetDbSchemas(), headers=[])  # no database: every one
    assert sorted(set(table.column("catalog_name").to_pylist())) == ["mydb", "other"]
    _, table = fetch(client, pb.CommandGetDbSchemas(catalog="other"))  # asked explicitly
    assert set(table.column("catalog_name").to_pylist()) == {"other"}
    _, table = fetch(client, pb.CommandGetDbSchemas(catalog="mydb", db_schema_filter_pattern="i_x"))
    assert table.to_pylist() == [{"catalog_name": "mydb", "db_schema_name": "iox"}]
    _, table = fetch(client, pb.CommandGetDbSchemas(db_schema_filter_pattern="%_schema"))
    assert set(table.column("db_schema_name").to_pylist()) == {"information_schema"}


def test_get_tables_with_schema_and_type_filter(client: flight.FlightClient) -> None:
    command = pb.CommandGetTables(catalog="mydb", table_types=["TABLE"], include_schema=True)
    info, table = fetch(client, command)
    assert info.schema == schemas.TABLES_WITH_SCHEMA
    assert table.column("table_name").to_pylist() == ["cpu", "mem"]
    assert set(table.column("table_type").to_pylist()) == {"TABLE"}
    cpu_schema = pa.ipc.read_schema(pa.py_buffer(table.column("table_schema")[0].as_py()))
    assert cpu_schema.names == ["host", "usage", "count", "time"]

    _, views = fetch(client, pb.CommandGetTables(catalog="mydb", table_name_filter_pattern="tab%"))
    assert views.to_pylist() == [
        {
            "catalog_name": "mydb",
            "db_schema_name": "information_schema",
            "table_name": "tables",
            "table_type": "VIEW",
        }
    ]


def test_get_table_types(client: flight.FlightClient) -> None:
    _, table = fetch(client, pb.CommandGetTableTypes())
    assert table.column("table_type").to_pylist() == ["SYSTEM TABLE", "TABLE", "VIEW"]


def test_get_sql_info(client: flight.FlightClient) -> None:
    ids = [pb.FLIGHT_SQL_SERVER_NAME, pb.FLIGHT_SQL_SERVER_READ_ONLY, pb.SQL_IDENTIFIER_QUOTE_CHAR]
    info, table = fetch(client, pb.CommandGetSqlInfo(info=[*ids, 9999]))
    assert info.schema == schemas.SQL_INFO
    assert table.to_pylist() == [
        {"info_name": pb.FLIGHT_SQL_SERVER_NAME, "value": "flight-iox"},
        {"info_name": pb.FLIGHT_SQL_SERVER_READ_ONLY, "value": False},
        {"info_name": pb.SQL_IDENTIFIER_QUOTE_CHAR, "value": '"'},
    ]
    _, everything = fetch(client, pb.CommandGetSqlInfo())
    assert everything.num_rows >= 70


def test_statement_query_ticket_is_self_contained(client: flight.FlightClient) -> None:
    info, table = fetch(client, pb.CommandStatementQuery(query="SELECT sum(count) AS s FROM cpu"))
    assert table.column("s").to_pylist() == [10]
    ticket = unpack(unpack_any(info.endpoints[0].ticket.ticket), pb.TicketStatementQuery)
    assert b"SELECT sum(count)" in ticket.statement_handle
    # Any node can serve the ticket: it needs no header and no server state.
    reader = client.do_get(info.endpoints[0].ticket)
    assert reader.read_all().column("s").to_pylist() == [10]


def test_get_schema(client: flight.FlightClient) -> None:
    descriptor = flight.FlightDescriptor.for_command(pack(pb.CommandGetTableTypes()))
    assert client.get_schema(descriptor).schema == schemas.TABLE_TYPES


def test_unsupported_command_is_unimplemented(client: flight.FlightClient) -> None:
    descriptor = flight.FlightDescriptor.for_command(pack(pb.CommandStatementSubstraitPlan()))
    # pyarrow's client raises ArrowNotImplementedError for gRPC UNIMPLEMENTED.
    with pytest.raises(
        pa.ArrowNotImplementedError, match="CommandStatementSubstraitPlan is not supported"
    ):
        client.get_flight_info(descriptor)


def test_conflicting_database_headers_are_invalid(client: flight.FlightClient) -> None:
    headers = [(b"database", b"mydb"), (b"database", b"other")]
    with pytest.raises(pa.ArrowInvalid, match="conflicting database headers"):
        fetch(client, pb.CommandStatementQuery(query="SELECT 1"), headers)
    repeated = [(b"database", b"mydb"), (b"bucket", b"mydb")]
    _, table = fetch(
        client, pb.CommandStatementQuery(query="SELECT count(*) AS n FROM cpu"), repeated
    )
    assert table.column("n").to_pylist() == [4]


def test_adbc_duplicate_header_levels_are_accepted(uri: str) -> None:
    option = "adbc.flight.sql.rpc.call_header.database"
    with pytest.warns(Warning, match="autocommit"):
        conn = dbapi.connect(uri, db_kwargs={option: "mydb"}, conn_kwargs={option: "mydb"})
    with conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) AS n FROM cpu")
        assert cur.fetch_arrow_table().column("n").to_pylist() == [4]


def json_ticket(**body: Any) -> flight.Ticket:
    return flight.Ticket(json.dumps(body).encode())


def test_json_ticket(client: flight.FlightClient) -> None:
    ticket = json_ticket(
        database="mydb", sql_query="SELECT host FROM cpu ORDER BY time", query_type="sql"
    )
    table = client.do_get(ticket, options([(b"authorization", b"Bearer x")])).read_all()
    assert table.column("host").to_pylist() == ["a", "b", "a", "c"]


def test_json_ticket_params_and_header_database(client: flight.FlightClient) -> None:
    ticket = json_ticket(sql_query="SELECT count FROM cpu WHERE usage > $1", params=[2.0])
    table = client.do_get(ticket, options()).read_all()
    assert table.column("count").to_pylist() == [3, 4]


def test_json_ticket_influxql_runs(client: flight.FlightClient) -> None:
    ticket = json_ticket(database="mydb", sql_query="SELECT usage FROM cpu", query_type="influxql")
    assert client.do_get(ticket).read_all().column("usage").to_pylist() == [0.5, 1.5, 2.5, 3.5]


def test_json_ticket_errors(client: flight.FlightClient) -> None:
    with pytest.raises(pa.ArrowKeyError, match="database not found: 'nope'"):
        client.do_get(json_ticket(database="nope", sql_query="SELECT 1")).read_all()
    with pytest.raises(pa.ArrowInvalid, match="Expected: an SQL statement"):
        client.do_get(json_ticket(database="mydb", sql_query="SELEC 1")).read_all()
