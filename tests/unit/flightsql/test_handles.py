"""Statement handles and LIKE patterns, without a server."""

from __future__ import annotations

import pyarrow as pa
import pytest

from flight_iox.errors import BadRequestError
from flight_iox.flightsql.handles import StatementHandle
from flight_iox.flightsql.headers import database_from_headers
from flight_iox.flightsql.metadata import matches
from flight_iox.flightsql.statements import conformed
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
    with pytest.raises(BadRequestError, match="invalid statement handle"):
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
