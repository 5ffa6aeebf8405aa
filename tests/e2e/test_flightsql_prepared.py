"""Prepared statements through the real ADBC driver (Go): announced schema == streamed schema.

The Go driver compares the schema of GetFlightInfo with the schema of the
DoGet stream exactly, nullability and metadata included, and rejects the
result when they differ ("endpoint 0 returned inconsistent schema").
"""

from __future__ import annotations

from collections.abc import Iterator

import adbc_driver_flightsql.dbapi as flightsql
import pyarrow as pa
import pyarrow.flight as flight
import pytest
import requests

from flight_iox.flightsql.commands import pack, unpack, unpack_any
from flight_iox.flightsql.generated import FlightSql_pb2 as pb
from flight_iox.launcher import RunningServer, start_server

DB = "prepared"
DATABASE_OPTION = "adbc.flight.sql.rpc.call_header.database"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(tmp_path_factory.mktemp("prepared") / "data", "--no-persist-on-shutdown")
    body = "cpu,host=a usage=1.5,count=1i 1\ncpu,host=b usage=2.5 2"
    response = requests.post(
        f"{running.http_url}/api/v3/write_lp", params={"db": DB}, data=body, timeout=30
    )
    assert response.status_code == 204
    yield running
    running.stop()


@pytest.fixture
def cur(server: RunningServer) -> Iterator[flightsql.Cursor]:
    with (
        flightsql.connect(
            server.flight_uri, db_kwargs={DATABASE_OPTION: DB}, autocommit=True
        ) as conn,
        conn.cursor() as cursor,
    ):
        yield cursor


@pytest.mark.parametrize(
    ("sql", "params", "expected"),
    [
        ("SELECT ? = 1", (1,), True),
        ("SELECT ? = 1", (2,), False),
        ("SELECT CAST(? AS INTEGER)", (5,), 5),
        ("SELECT CAST(? AS VARCHAR)", ("x",), "x"),
        ("SELECT CAST(? AS DOUBLE) * 2", (1.25,), 2.5),
        ("SELECT ? AS x", (3,), 3),
        ("SELECT ? AS x", ("text",), "text"),
        ("SELECT ? + 1", (None,), None),
        ("SELECT max(usage) > ? FROM cpu", (2.0,), True),
        ("SELECT count FROM cpu WHERE host = ?", ("a",), 1),
    ],
)
def test_bound_statements_stream_the_announced_schema(
    cur: flightsql.Cursor, sql: str, params: tuple[object, ...], expected: object
) -> None:
    cur.execute(sql, params)
    assert cur.fetchall() == [(expected,)]


def test_executing_the_same_statement_with_other_types(cur: flightsql.Cursor) -> None:
    for value in (1, 1.5, "1"):
        cur.execute("SELECT ? AS v", (value,))
        assert cur.fetchall() == [(value,)]


def test_untyped_placeholders_get_the_bound_values_types(cur: flightsql.Cursor) -> None:
    cur.execute("SELECT ? || ? AS s", ("a", "b"))
    assert cur.fetchall() == [("ab",)]
    cur.execute("SELECT ? || ? || ? AS s", ("a", 1, "c"))
    assert cur.fetchall() == [("a1c",)]


def test_null_parameters(cur: flightsql.Cursor) -> None:
    cur.execute("SELECT ? || ? AS s", (None, None))  # untyped NULLs are taken as VARCHAR
    assert cur.fetchall() == [(None,)]
    cur.execute("SELECT ? || 'x' AS s", (None,))
    assert cur.fetchall() == [(None,)]
    cur.execute("SELECT count(*) FROM cpu WHERE host = ?", (None,))
    assert cur.fetchall() == [(0,)]
    cur.execute("SELECT coalesce(?, 'fallback') AS s", (None,))
    assert cur.fetchall() == [("fallback",)]


def test_typed_null_parameter_keeps_its_type(cur: flightsql.Cursor) -> None:
    cur.execute("SELECT ? AS v", pa.record_batch({"p": pa.array([None], pa.int32())}))
    table = cur.fetch_arrow_table()
    assert table.schema.field("v").type == pa.int32()
    assert table.column("v").to_pylist() == [None]


def test_prepare_without_inferable_parameter_types_still_has_a_dataset_schema(
    server: RunningServer,
) -> None:
    options = flight.FlightCallOptions(headers=[(b"database", DB.encode())])
    body = pack(pb.ActionCreatePreparedStatementRequest(query="SELECT ? || ? AS s"))
    with flight.FlightClient(server.flight_uri) as client:
        (result,) = client.do_action(flight.Action("CreatePreparedStatement", body), options)
    prepared = unpack(unpack_any(result.body.to_pybytes()), pb.ActionCreatePreparedStatementResult)
    schema = pa.ipc.read_schema(pa.py_buffer(prepared.dataset_schema))
    assert schema.names == ["s"]  # planned with the placeholders taken as VARCHAR
    assert schema.field("s").type in (pa.string(), pa.string_view())
    assert len(pa.ipc.read_schema(pa.py_buffer(prepared.parameter_schema))) == 2


def test_flight_info_schema_equals_stream_schema_over_raw_flight(server: RunningServer) -> None:
    options = flight.FlightCallOptions(headers=[(b"database", DB.encode())])
    with flight.FlightClient(server.flight_uri) as client:
        for sql in ("SELECT usage, host FROM cpu", "SELECT 1 = 1 AS t", "SELECT count(*) FROM cpu"):
            command = pack(pb.CommandStatementQuery(query=sql))
            info = client.get_flight_info(flight.FlightDescriptor.for_command(command), options)
            stream = client.do_get(info.endpoints[0].ticket, options).read_all()
            assert stream.schema.equals(info.schema, check_metadata=True), sql


def test_an_error_while_streaming_is_invalid_argument_not_internal(
    server: RunningServer,
) -> None:
    options = flight.FlightCallOptions(headers=[(b"database", DB.encode())])
    sql = "SELECT CAST(usage AS DECIMAL(10, 2)) / CAST(count - count AS DECIMAL(10, 2)) FROM cpu"
    with flight.FlightClient(server.flight_uri) as client:
        command = pack(pb.CommandStatementQuery(query=sql))
        info = client.get_flight_info(flight.FlightDescriptor.for_command(command), options)
        with pytest.raises(pa.ArrowInvalid, match="Divide by zero"):
            client.do_get(info.endpoints[0].ticket, options).read_all()


def test_a_repeated_statement_announces_the_new_schema_after_the_table_changes(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """CreatePreparedStatement's answer and GetFlightInfo's ticket are kept for a repeated
    statement (``handles.PerSchema``): a new column must show in both the next time."""
    running = start_server(tmp_path_factory.mktemp("changing") / "data", "--no-persist-on-shutdown")
    options = flight.FlightCallOptions(headers=[(b"database", b"changing")])

    def write(body: str) -> None:
        reply = requests.post(
            f"{running.http_url}/api/v3/write_lp", params={"db": "changing"}, data=body, timeout=30
        )
        assert reply.status_code == 204

    def announced(client: flight.FlightClient) -> tuple[list[str], list[str], list[str]]:
        body = pack(pb.ActionCreatePreparedStatementRequest(query="SELECT * FROM cpu"))
        (result,) = client.do_action(flight.Action("CreatePreparedStatement", body), options)
        prepared = unpack(
            unpack_any(result.body.to_pybytes()), pb.ActionCreatePreparedStatementResult
        )
        command = pack(pb.CommandStatementQuery(query="SELECT * FROM cpu"))
        info = client.get_flight_info(flight.FlightDescriptor.for_command(command), options)
        table = client.do_get(info.endpoints[0].ticket, options).read_all()
        dataset = pa.ipc.read_schema(pa.py_buffer(prepared.dataset_schema))
        return dataset.names, info.schema.names, table.schema.names

    try:
        write("cpu,host=a usage=1 1")
        with flight.FlightClient(running.flight_uri) as client:
            before = announced(client)
            assert announced(client) == before
            assert set(before[0]) == {"host", "usage", "time"}
            write("cpu,host=b usage=2,idle=3 2")
            after = announced(client)
        assert after[0] == after[1] == after[2]
        assert set(after[0]) == {"host", "usage", "idle", "time"}
    finally:
        running.stop()
