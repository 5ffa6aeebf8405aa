"""What fuzzing (tests/fuzz) found through a real server, each pinned by a plain test."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.flight as flight
import pytest
import requests
from google.protobuf import any_pb2

from flight_iox.flightsql.commands import type_url
from flight_iox.flightsql.generated import FlightSql_pb2 as pb
from flight_iox.launcher import RunningServer

NESTED = b'{"q": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"


def _post(server: RunningServer, path: str, body: bytes, **params: str) -> requests.Response:
    return requests.post(f"{server.http_url}{path}", params=params, data=body, timeout=30)


@pytest.mark.parametrize(
    "path",
    [
        "/api/v3/query_sql",
        "/api/v3/query_influxql",
        "/api/v3/configure/database",
        "/api/v3/configure/token",
    ],
)
def test_deeply_nested_json_bodies_get_400(server: RunningServer, path: str) -> None:
    """Were 500 RecursionError."""
    answer = _post(server, path, NESTED)
    assert answer.status_code == 400, answer.text
    assert "nested too deeply" in answer.json()["error"]


def test_lone_surrogates_in_json_get_400_and_poison_nothing(server: RunningServer) -> None:
    """A token named "\\ud800" was stored, and then every SQL query answered 500."""
    token = {"name": "\ud800", "permissions": [{"database": "db", "actions": ["read"]}]}
    answer = _post(server, "/api/v3/configure/token", json.dumps(token).encode())
    assert answer.status_code == 400 and "lone surrogate" in answer.json()["error"]
    drop = {"db": "db", "q": 'DROP TABLE "\ud800"'}
    answer = _post(server, "/api/v3/query_sql", json.dumps(drop).encode())
    assert answer.status_code == 400 and "lone surrogate" in answer.json()["error"]
    assert _post(server, "/api/v3/write_lp", b"t v=1", db="surrogates").status_code == 204
    answer = requests.get(
        f"{server.http_url}/api/v3/query_sql",
        params={"db": "surrogates", "q": "SELECT v FROM t"},
        timeout=30,
    )
    assert answer.status_code == 200 and answer.json() == [{"v": 1.0}]


@pytest.mark.parametrize(
    ("size", "status"), [("abc", 400), ("9" * 5000, 400), ("²", 400), ("-1", 200), ("0", 200)]
)
def test_v1_chunk_size_that_is_not_a_positive_integer(
    server: RunningServer, size: str, status: int
) -> None:
    """Was 500 ValueError: now 400 when it is not an integer, the default when not positive."""
    assert _post(server, "/write", b"c v=1 1", db="chunks").status_code == 204
    answer = requests.get(
        f"{server.http_url}/query",
        params={"db": "chunks", "q": "SELECT v FROM c", "chunked": "true", "chunk_size": size},
        timeout=30,
    )
    assert answer.status_code == status, answer.text
    if status == 200:
        first = json.loads(answer.text.splitlines()[0])
        assert first["results"][0]["series"][0]["values"] == [
            ["1970-01-01T00:00:00.000000001Z", 1.0]
        ]


def test_deep_influxql_nesting_gets_400(server: RunningServer) -> None:
    """Was 500 RecursionError in the parser."""
    text = "SELECT " + "(" * 5000 + "v" + ")" * 5000 + " FROM m"
    answer = requests.get(
        f"{server.http_url}/api/v3/query_influxql", params={"db": "db", "q": text}, timeout=30
    )
    assert answer.status_code == 400, answer.text


def test_command_of_a_known_type_over_corrupt_bytes_is_invalid_argument(
    server: RunningServer,
) -> None:
    """Was INTERNAL (protobuf DecodeError)."""
    command = any_pb2.Any(type_url=type_url(pb.CommandStatementQuery), value=b"\x0a\xff\xff")
    descriptor = flight.FlightDescriptor.for_command(command.SerializeToString())
    with (
        flight.FlightClient(server.flight_uri) as client,
        pytest.raises(pa.ArrowInvalid, match="invalid CommandStatementQuery"),
    ):
        client.get_flight_info(descriptor)


def test_nested_json_put_descriptor_is_invalid_argument(server: RunningServer) -> None:
    """Was INTERNAL (RecursionError)."""
    batch = pa.record_batch({"v": pa.array([1.0])})
    descriptor = flight.FlightDescriptor.for_command(NESTED)
    with flight.FlightClient(server.flight_uri) as client:
        writer, reader = client.do_put(descriptor, batch.schema)
        with pytest.raises(pa.ArrowInvalid, match="nested too deeply"):
            writer.write_batch(batch)
            writer.done_writing()
            reader.read()
            writer.close()
