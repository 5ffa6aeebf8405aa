"""Fuzz what a Flight client hands the server as opaque bytes: tickets, handles, commands.

Property: decoding arbitrary or mutated bytes gives a value or raises a flight-iox
error (a gRPC status a client can act on), never a stray exception (INTERNAL).
"""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import Callable

import pyarrow as pa
from google.protobuf import any_pb2
from hypothesis import given
from hypothesis import strategies as st

from flight_iox.errors import FlightIoxError
from flight_iox.flightsql.commands import pack, unpack, unpack_any
from flight_iox.flightsql.generated import FlightSql_pb2 as pb
from flight_iox.flightsql.handles import StatementHandle
from flight_iox.flightsql.server import COMMAND_HANDLERS
from flight_iox.flightsql.tickets import is_json_ticket, parse_json_ticket

_PARAMS = pa.record_batch({"0": pa.array([1.5]), "1": pa.array(["x"])})
_VALID_HANDLES = [
    StatementHandle("db", "SELECT 1").encode(),
    StatementHandle(None, "SELECT $1, $2", _PARAMS).encode(),
    StatementHandle("db", "SELECT 1 AS x").with_schema(pa.schema({"x": pa.int64()})).encode(),
]
_VALID_TICKETS = [
    b'{"database": "db", "sql_query": "SELECT 1", "query_type": "sql"}',
    b'{"namespace_name": "db", "sql_query": "SELECT $1", "params": [1, "a", null, 2.5]}',
    b'{"database": "db", "sql_query": "SHOW MEASUREMENTS", "query_type": "influxql"}',
]
_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
_TICKET_KEYS = st.sampled_from(
    ["database", "namespace_name", "sql_query", "query_type", "params", "v", "sql", "schema"]
)


def _mutated(data: bytes, edits: list[tuple[int, int, int]]) -> bytes:
    """``data`` with bytes replaced, inserted or cut, positions taken modulo its length."""
    out = bytearray(data)
    for position, what, byte in edits:
        at = position % (len(out) + 1)
        if what == 0 and out:
            out[at % len(out)] = byte
        elif what == 1:
            out.insert(at, byte)
        else:
            del out[at:]
    return bytes(out)


_EDITS = st.lists(
    st.tuples(st.integers(0, 4096), st.integers(0, 2), st.integers(0, 255)), max_size=5
)


def _decodes_or_client_error(decode: Callable[[bytes], object], data: bytes) -> None:
    with contextlib.suppress(FlightIoxError):
        decode(data)


def _nested(depth: int) -> bytes:
    return b'{"v": 1, "sql": "x", "database": ' + b"[" * depth + b"]" * depth + b"}"


@given(st.binary(max_size=200) | st.builds(_mutated, st.sampled_from(_VALID_HANDLES), _EDITS))
def test_statement_handles(data: bytes) -> None:
    _decodes_or_client_error(StatementHandle.decode, data)


@given(st.dictionaries(_TICKET_KEYS, _JSON_VALUES, max_size=6))
def test_statement_handles_from_json_objects(body: dict) -> None:
    body.setdefault("v", 1)
    _decodes_or_client_error(StatementHandle.decode, json.dumps(body).encode())


@given(st.binary(max_size=200) | st.builds(_mutated, st.sampled_from(_VALID_TICKETS), _EDITS))
def test_json_tickets(data: bytes) -> None:
    if is_json_ticket(data):
        _decodes_or_client_error(parse_json_ticket, data)


@given(st.dictionaries(_TICKET_KEYS, _JSON_VALUES, max_size=6))
def test_json_tickets_from_json_objects(body: dict) -> None:
    _decodes_or_client_error(parse_json_ticket, json.dumps(body).encode())


@given(st.integers(1, 100_000))
def test_deeply_nested_json_is_a_bad_request(depth: int) -> None:
    _decodes_or_client_error(StatementHandle.decode, _nested(depth))
    _decodes_or_client_error(parse_json_ticket, b'{"params": ' + b"[" * depth + b"]" * depth + b"}")


def _valid_commands() -> list[bytes]:
    return [pack(handler.message()) for handler in COMMAND_HANDLERS] + [
        pack(pb.CommandStatementQuery(query="SELECT 1")),
        pack(pb.CommandPreparedStatementQuery(prepared_statement_handle=_VALID_HANDLES[1])),
        pack(pb.TicketStatementQuery(statement_handle=_VALID_HANDLES[2])),
        pack(pb.CommandGetTables(catalog="db", table_types=["BASE TABLE"], include_schema=True)),
    ]


@given(st.binary(max_size=200) | st.builds(_mutated, st.sampled_from(_valid_commands()), _EDITS))
def test_commands_unpack_to_their_message_or_a_bad_request(data: bytes) -> None:
    """What ``FlightSqlServer._command`` does with a descriptor's command or a ticket."""
    try:
        wrapper = unpack_any(data)
    except FlightIoxError:
        return
    for handler in COMMAND_HANDLERS:
        if handler.type_url == wrapper.type_url:
            with contextlib.suppress(FlightIoxError):
                unpack(wrapper, handler.message)


def _command_with_value(type_url: str, value: bytes) -> bytes:
    return any_pb2.Any(type_url=type_url, value=value).SerializeToString()


@given(
    st.builds(
        _command_with_value,
        st.sampled_from([handler.type_url for handler in COMMAND_HANDLERS]),
        st.binary(max_size=60)
        | st.builds(_mutated, st.sampled_from([b"\x0a\x08SELECT 1", b"\x0a\x02\xc3\xa9"]), _EDITS),
    )
)
def test_known_commands_over_bad_bytes(data: bytes) -> None:
    test_commands_unpack_to_their_message_or_a_bad_request.hypothesis.inner_test(data)


def _ipc_stream(batches: int) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, _PARAMS.schema) as writer:
        for _ in range(batches):
            writer.write_batch(_PARAMS)
    return sink.getvalue().to_pybytes()


def _handle_with_params(stream: bytes, edits: list[tuple[int, int, int]], key: str) -> bytes:
    encoded = base64.b64encode(_mutated(stream, edits)).decode()
    return json.dumps({"v": 1, "sql": "SELECT $1", key: encoded}).encode()


@given(
    st.builds(
        _handle_with_params,
        st.sampled_from(
            [
                _ipc_stream(0),
                _ipc_stream(1),
                _ipc_stream(2),
                _PARAMS.schema.serialize().to_pybytes(),
            ]
        ),
        _EDITS,
        st.sampled_from(["params", "schema"]),
    )
)
def test_handles_with_mutated_arrow_ipc(data: bytes) -> None:
    _decodes_or_client_error(StatementHandle.decode, data)
