"""Keys, XDBC types, SqlInfo coverage, session options and cancellation over raw pyarrow.flight."""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa
import pyarrow.flight as flight
import pytest
from google.protobuf.message import Message

from flight_iox.flightsql.commands import pack, unpack, unpack_any
from flight_iox.flightsql.generated import FlightSql_pb2 as pb
from flight_iox.flightsql.sessions import COOKIE_NAME

HEADERS = [(b"database", b"mydb")]


@pytest.fixture
def client(uri: str) -> Iterator[flight.FlightClient]:
    with flight.FlightClient(uri) as flight_client:
        yield flight_client


def fetch(client: flight.FlightClient, command: Message, headers=HEADERS) -> pa.Table:
    options = flight.FlightCallOptions(headers=headers)
    info = client.get_flight_info(flight.FlightDescriptor.for_command(pack(command)), options)
    return pa.concat_tables(client.do_get(e.ticket, options).read_all() for e in info.endpoints)


def test_primary_keys_are_tags_then_time(client: flight.FlightClient) -> None:
    table = fetch(client, pb.CommandGetPrimaryKeys(table="cpu", catalog="mydb"))
    assert [(r["column_name"], r["key_sequence"]) for r in table.to_pylist()] == [
        ("host", 1),
        ("time", 2),
    ]
    assert set(table.column("db_schema_name").to_pylist()) == {"iox"}
    assert fetch(client, pb.CommandGetPrimaryKeys(table="cpu", db_schema="system")).num_rows == 0


@pytest.mark.parametrize(
    "command",
    [
        pb.CommandGetExportedKeys(table="cpu"),
        pb.CommandGetImportedKeys(table="cpu"),
        pb.CommandGetCrossReference(pk_table="cpu", fk_table="mem"),
    ],
    ids=lambda c: type(c).__name__,
)
def test_foreign_keys_are_empty(client: flight.FlightClient, command: Message) -> None:
    assert fetch(client, command).num_rows == 0


def test_xdbc_type_info_filters_by_data_type(client: flight.FlightClient) -> None:
    every = fetch(client, pb.CommandGetXdbcTypeInfo())
    assert {"BIGINT", "DOUBLE", "VARCHAR", "BOOLEAN", "TIMESTAMP"} <= set(
        every.column("type_name").to_pylist()
    )
    codes = every.column("data_type").to_pylist()
    assert codes == sorted(codes)
    timestamps = fetch(client, pb.CommandGetXdbcTypeInfo(data_type=93))
    assert timestamps.column("type_name").to_pylist() == ["TIMESTAMP"]


def test_sql_info_answers_the_full_set_and_says_no_transactions(
    client: flight.FlightClient,
) -> None:
    everything = fetch(client, pb.CommandGetSqlInfo())
    ids = set(everything.column("info_name").to_pylist())
    assert len(ids) >= 70
    expected = {i for _, i in pb.SqlInfo.items()} - {
        pb.FLIGHT_SQL_SERVER_SUBSTRAIT_MIN_VERSION,
        pb.FLIGHT_SQL_SERVER_SUBSTRAIT_MAX_VERSION,
    }
    assert ids == expected
    answers = dict(zip(ids, [None] * len(ids), strict=True))
    for row in everything.to_pylist():
        answers[row["info_name"]] = row["value"]
    assert answers[pb.SQL_TRANSACTIONS_SUPPORTED] is False
    assert answers[pb.FLIGHT_SQL_SERVER_TRANSACTION] == pb.SQL_SUPPORTED_TRANSACTION_NONE
    assert answers[pb.FLIGHT_SQL_SERVER_BULK_INGESTION] is True


def _action(client: flight.FlightClient, name: str, body: bytes, headers=()) -> list[bytes]:
    options = flight.FlightCallOptions(headers=list(headers))
    return [r.body.to_pybytes() for r in client.do_action(flight.Action(name, body), options)]


class CookieJar(flight.ClientMiddlewareFactory):
    """Keeps the session cookie, as ADBC's cookie middleware and JDBC do."""

    def __init__(self) -> None:
        self.cookie: str | None = None

    def start_call(self, info: flight.CallInfo) -> flight.ClientMiddleware:
        jar = self

        class Middleware(flight.ClientMiddleware):
            def sending_headers(self) -> dict[str, str]:
                return {"cookie": jar.cookie} if jar.cookie else {}

            def received_headers(self, headers: dict[str, list[str]]) -> None:
                for value in headers.get("set-cookie", []):
                    jar.cookie = value.split(";", 1)[0]

        return Middleware()


def test_session_catalog_sets_the_default_database(uri: str) -> None:
    jar = CookieJar()
    with flight.FlightClient(uri, middleware=[jar]) as client:
        request = pb.SetSessionOptionsRequest()
        request.session_options["catalog"].string_value = "mydb"
        request.session_options["schema"].string_value = "iox"
        request.session_options["colour"].string_value = "blue"
        (raw,) = _action(client, "SetSessionOptions", request.SerializeToString())
        result = pb.SetSessionOptionsResult.FromString(raw)
        invalid_name = pb.SetSessionOptionsResult.INVALID_NAME
        assert {k: v.value for k, v in result.errors.items()} == {"colour": invalid_name}
        assert jar.cookie is not None and jar.cookie.startswith(COOKIE_NAME)
        table = fetch(client, pb.CommandStatementQuery(query="SELECT count(*) AS n FROM cpu"), [])
        assert table.column("n").to_pylist() == [4]
        (raw,) = _action(client, "GetSessionOptions", b"")
        options = pb.GetSessionOptionsResult.FromString(raw).session_options
        assert options["catalog"].string_value == "mydb"
        assert options["schema"].string_value == "iox"
        (raw,) = _action(client, "CloseSession", b"")
        assert pb.CloseSessionResult.FromString(raw).status == pb.CloseSessionResult.CLOSED
        with pytest.raises(pa.ArrowInvalid):
            fetch(client, pb.CommandStatementQuery(query="SELECT count(*) FROM cpu"), [])


def test_only_an_action_starts_a_session(uri: str) -> None:
    """A query's calls without a cookie get no session id; an action's do (it may set one)."""
    jar = CookieJar()
    with flight.FlightClient(uri, middleware=[jar]) as client:
        assert fetch(client, pb.CommandStatementQuery(query="SELECT 1 AS one")).num_rows == 1
        assert jar.cookie is None
        _action(client, "GetSessionOptions", b"")
        assert jar.cookie is not None and jar.cookie.startswith(COOKIE_NAME)


def test_session_catalog_must_exist(client: flight.FlightClient) -> None:
    request = pb.SetSessionOptionsRequest()
    request.session_options["catalog"].string_value = "nope"
    (raw,) = _action(client, "SetSessionOptions", request.SerializeToString())
    errors = pb.SetSessionOptionsResult.FromString(raw).errors
    assert errors["catalog"].value == pb.SetSessionOptionsResult.INVALID_VALUE


def test_cancel_answers_not_cancellable(client: flight.FlightClient) -> None:
    (raw,) = _action(client, "CancelFlightInfo", pb.CancelFlightInfoRequest().SerializeToString())
    assert pb.CancelFlightInfoResult.FromString(raw).status == pb.CANCEL_STATUS_NOT_CANCELLABLE
    (raw,) = _action(client, "CancelQuery", pack(pb.ActionCancelQueryRequest()))
    result = unpack(unpack_any(raw), pb.ActionCancelQueryResult)
    assert result.result == pb.ActionCancelQueryResult.CANCEL_RESULT_NOT_CANCELLABLE


def test_list_actions_names_every_action(client: flight.FlightClient) -> None:
    names = {action.type for action in client.list_actions()}
    assert {"CreatePreparedStatement", "SetSessionOptions", "CloseSession"} <= names
    assert "CancelFlightInfo" in names


def test_updates_without_a_writer_are_unimplemented(client: flight.FlightClient) -> None:
    descriptor = flight.FlightDescriptor.for_command(
        pack(pb.CommandStatementUpdate(query="INSERT INTO cpu (host, usage) VALUES ('x', 1.0)"))
    )
    options = flight.FlightCallOptions(headers=HEADERS)
    writer, reader = client.do_put(descriptor, pa.schema([]), options)
    with pytest.raises(pa.ArrowNotImplementedError, match="does not accept writes"):
        writer.done_writing()
        reader.read()
        writer.close()


def test_delete_without_engine_support_is_unimplemented(client: flight.FlightClient) -> None:
    descriptor = flight.FlightDescriptor.for_command(
        pack(pb.CommandStatementUpdate(query="DELETE FROM cpu WHERE host = 'a'"))
    )
    options = flight.FlightCallOptions(headers=HEADERS)
    writer, reader = client.do_put(descriptor, pa.schema([]), options)
    with pytest.raises(pa.ArrowNotImplementedError, match="DELETE statements are not supported"):
        writer.done_writing()
        reader.read()
        writer.close()
