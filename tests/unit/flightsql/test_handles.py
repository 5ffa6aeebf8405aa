"""Statement handles and LIKE patterns, without a server."""

from __future__ import annotations

import pyarrow as pa
import pytest

from flight_iox.columns import FieldType
from flight_iox.errors import BadRequestError
from flight_iox.flightsql.handles import (
    CACHED_HANDLE_BYTES,
    KEPT_STATEMENTS,
    PerSchema,
    StatementHandle,
)
from flight_iox.flightsql.headers import database_from_headers
from flight_iox.flightsql.metadata import matches
from flight_iox.flightsql.statements import conformed
from flight_iox.flightsql.xdbc import XDBC_TYPES
from flight_iox.sql_quote import quote_identifier


def test_handle_round_trip_keeps_arrow_types() -> None:
    params = pa.record_batch({"0": pa.array([1.5]), "1": pa.array(["x\u00e9\"'"])})
    handle = StatementHandle("my db", "SELECT $1, $2", params)
    decoded = StatementHandle.decode(handle.encode())
    assert decoded.database == "my db"
    assert decoded.sql == "SELECT $1, $2"
    assert [v.as_py() for v in decoded.param_values()] == [1.5, "x\u00e9\"'"]
    assert StatementHandle.decode(StatementHandle(None, "SELECT 1").encode()).params is None


@pytest.mark.parametrize("data", [b"", b"\x00\xff", b'{"v": 2, "sql": "x"}', b'{"v": 1}'])
def test_bad_handles_are_bad_requests(data: bytes) -> None:
    with pytest.raises(BadRequestError, match="statement handle"):
        StatementHandle.decode(data)


def test_like_patterns() -> None:
    assert matches(None, "anything")
    assert matches("i_x", "iox") and not matches("i_x", "ioxx")
    assert matches("%schema", "information_schema")
    assert matches("a.b", "a.b") and not matches("a.b", "axb")
    assert quote_identifier('we"ird') == '"we""ird"'


def test_database_headers() -> None:
    assert database_from_headers({}) is None
    assert database_from_headers({"database": ["db", "db"]}) == "db"
    assert database_from_headers({"iox-namespace-name": ["ns"]}) == "ns"
    with pytest.raises(BadRequestError, match="conflicting"):
        database_from_headers({"database": ["a"], "bucket": ["b"]})


def test_ticket_handle_carries_the_announced_schema() -> None:
    schema = pa.schema([pa.field("x", pa.int64(), nullable=False)], metadata={b"k": b"v"})
    handle = StatementHandle("db", "SELECT 1 AS x").with_schema(schema)
    decoded = StatementHandle.decode(handle.encode())
    assert decoded.schema is not None and decoded.schema.equals(schema, check_metadata=True)
    assert StatementHandle.decode(StatementHandle("db", "SELECT 1").encode()).schema is None


def test_stream_is_conformed_to_the_announced_schema() -> None:
    batch = pa.record_batch({"x": pa.array([1, 2]), "s": pa.array(["a", None], pa.string_view())})
    announced = pa.schema(
        [pa.field("x", pa.int64(), nullable=False), pa.field("s", pa.string(), nullable=True)]
    )
    reader = conformed(pa.RecordBatchReader.from_batches(batch.schema, [batch]), announced)
    table = reader.read_all()
    assert table.schema.equals(announced, check_metadata=True)
    assert table.to_pylist() == [{"x": 1, "s": "a"}, {"x": 2, "s": None}]
    same = pa.RecordBatchReader.from_batches(batch.schema, [batch])
    assert conformed(same, batch.schema) is same
    renamed = pa.schema([pa.field("y", pa.int64()), pa.field("s", pa.string())])
    other = pa.RecordBatchReader.from_batches(batch.schema, [batch])
    assert conformed(other, renamed) is other  # the table changed: nothing to conform to


def _handle_with(**fields: object) -> bytes:
    import json

    return json.dumps({"v": 1, "sql": "SELECT $1", **fields}).encode()


def _empty_param_stream() -> str:
    import base64

    sink = pa.BufferOutputStream()
    pa.ipc.new_stream(sink, pa.schema({"0": pa.int64()})).close()
    return base64.b64encode(sink.getvalue().to_pybytes()).decode()


@pytest.mark.parametrize(
    "data",
    [
        _handle_with(params=_empty_param_stream()),  # was StopIteration
        _handle_with(params="/////w=="),  # was OSError: negative continuation token
        _handle_with(database=["db"]),  # was accepted, and failed later
        _handle_with(sql={"q": 1}),
        b'{"v": 1, "sql": "x", "database": ' + b"[" * 5000 + b"]" * 5000 + b"}",  # RecursionError
        b'{"v": 1, "sql": "SELECT \'\\ud800\'"}',  # a lone surrogate: UnicodeEncodeError later
    ],
)
def test_handles_found_by_fuzzing_are_bad_requests(data: bytes) -> None:
    with pytest.raises(BadRequestError, match="statement handle"):
        StatementHandle.decode(data)


def test_deeply_nested_json_ticket_is_a_bad_request() -> None:
    from flight_iox.flightsql.tickets import parse_json_ticket

    with pytest.raises(BadRequestError, match="nested too deeply"):
        parse_json_ticket(b'{"params": ' + b"[" * 5000 + b"]" * 5000 + b"}")


@pytest.mark.parametrize("value", [b"\x00", b"\x0a\xff\xff", b"\x0a\x02\xff\xfe"])
def test_command_of_the_right_type_over_corrupt_bytes_is_a_bad_request(value: bytes) -> None:
    """Found by fuzzing: protobuf's DecodeError left Unpack as an INTERNAL error."""
    from google.protobuf import any_pb2

    from flight_iox.flightsql.commands import type_url, unpack
    from flight_iox.flightsql.generated import FlightSql_pb2 as pb

    wrapper = any_pb2.Any(type_url=type_url(pb.CommandStatementQuery), value=value)
    with pytest.raises(BadRequestError, match="invalid CommandStatementQuery"):
        unpack(wrapper, pb.CommandStatementQuery)


@pytest.mark.parametrize("field", ["database", "namespace_name"])
@pytest.mark.parametrize("value", [[], ["db"], {"a": 1}, 1])
def test_json_ticket_database_that_is_not_a_string_is_a_bad_request(
    field: str, value: object
) -> None:
    """Found by fuzzing: a list or object raised TypeError (unhashable) and so INTERNAL."""
    import json

    from flight_iox.flightsql.tickets import parse_json_ticket

    with pytest.raises(BadRequestError, match="must be a string"):
        parse_json_ticket(json.dumps({"sql_query": "SELECT 1", field: value}).encode())


def test_xdbc_type_info_lists_every_field_type() -> None:
    """A JDBC/ODBC client can map every column type a table can have."""
    listed = {row.type_name for row in XDBC_TYPES}
    assert {kind.sql_type for kind in FieldType} <= listed


def test_announced_tickets_are_kept_only_for_the_very_schema(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from flight_iox.flightsql import statements

    monkeypatch.setattr(statements, "_ANNOUNCED", PerSchema())
    from flight_iox.flightsql.commands import unpack, unpack_any
    from flight_iox.flightsql.generated import FlightSql_pb2 as pb

    def carried(ticket: bytes) -> pa.Schema | None:
        message = unpack(unpack_any(ticket), pb.TicketStatementQuery)
        return StatementHandle.decode(message.statement_handle).schema

    handle = StatementHandle("db", "SELECT x FROM t")
    first = pa.schema([pa.field("x", pa.int64())])
    encoded, ticket = statements._announced(handle, first)
    assert statements._announced(handle, first) == (encoded, ticket)
    assert statements._announced(handle, first)[1] is ticket  # kept, not made again
    changed = pa.schema([pa.field("x", pa.float64())])  # the table changed: a new schema
    _, new_ticket = statements._announced(handle, changed)
    assert carried(new_ticket) == changed and carried(ticket) == first
    equal = pa.schema([pa.field("x", pa.float64())])  # equal, yet not the one kept
    assert statements._announced(handle, equal)[1] is not new_ticket
    bound = StatementHandle("db", "SELECT $1", pa.record_batch({"0": pa.array([7])}))
    _, bound_ticket = statements._announced(bound, first)
    assert statements._announced(bound, first)[1] is not bound_ticket  # never kept
    for n in range(KEPT_STATEMENTS + 5):
        statements._announced(StatementHandle("db", f"SELECT {n}"), first)
    assert len(statements._ANNOUNCED) == KEPT_STATEMENTS
    long_sql = StatementHandle("db", "SELECT 1 -- " + "x" * CACHED_HANDLE_BYTES)
    assert (
        statements._announced(long_sql, first)[1] is not statements._announced(long_sql, first)[1]
    )
