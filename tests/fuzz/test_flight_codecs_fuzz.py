"""Fuzz what a Flight client hands the server as opaque bytes: tickets, handles, commands.

Property: decoding arbitrary or mutated bytes gives a value or raises a flight-iox
error (a gRPC status a client can act on), never a stray exception (INTERNAL).
"""

from __future__ import annotations

import base64
import contextlib
import gc
import json
from collections.abc import Callable

import pyarrow as pa
from google.protobuf import any_pb2
from hypothesis import given
from hypothesis import strategies as st

from flight_iox.errors import FlightIoxError
from flight_iox.flightsql.commands import unpack, unpack_any
from flight_iox.flightsql.handles import StatementHandle
from flight_iox.flightsql.server import COMMAND_HANDLERS
from flight_iox.flightsql.tickets import is_json_ticket, parse_json_ticket
from tests.fuzz.strategies import (
    EDITS,
    JSON_VALUES,
    PARAMS_BATCH,
    VALID_HANDLES,
    VALID_JSON_TICKETS,
    mutated,
    valid_commands,
)

_TICKET_KEYS = st.sampled_from(
    ["database", "namespace_name", "sql_query", "query_type", "params", "v", "sql", "schema"]
)


def _decodes_or_client_error(decode: Callable[[bytes], object], data: bytes) -> None:
    with contextlib.suppress(FlightIoxError):
        decode(data)


def _nested(depth: int) -> bytes:
    return b'{"v": 1, "sql": "x", "database": ' + b"[" * depth + b"]" * depth + b"}"


@given(st.binary(max_size=200) | st.builds(mutated, st.sampled_from(VALID_HANDLES), EDITS))
def test_statement_handles(data: bytes) -> None:
    _decodes_or_client_error(StatementHandle.decode, data)


@given(st.dictionaries(_TICKET_KEYS, JSON_VALUES, max_size=6))
def test_statement_handles_from_json_objects(body: dict) -> None:
    body.setdefault("v", 1)
    _decodes_or_client_error(StatementHandle.decode, json.dumps(body).encode())


@given(st.binary(max_size=200) | st.builds(mutated, st.sampled_from(VALID_JSON_TICKETS), EDITS))
def test_json_tickets(data: bytes) -> None:
    if is_json_ticket(data):
        _decodes_or_client_error(parse_json_ticket, data)


@given(st.dictionaries(_TICKET_KEYS, JSON_VALUES, max_size=6))
def test_json_tickets_from_json_objects(body: dict) -> None:
    _decodes_or_client_error(parse_json_ticket, json.dumps(body).encode())


@given(st.integers(1, 100_000))
def test_deeply_nested_json_is_a_bad_request(depth: int) -> None:
    # No garbage collection near the recursion limit: it would run finalisers of earlier
    # tests' objects there (an unclosed socket's ResourceWarning), and pytest, reporting
    # them that deep, fails this test with a RecursionError of its own.
    collecting = gc.isenabled()
    gc.disable()
    try:
        _decodes_or_client_error(StatementHandle.decode, _nested(depth))
        body = b'{"params": ' + b"[" * depth + b"]" * depth + b"}"
        _decodes_or_client_error(parse_json_ticket, body)
    finally:
        if collecting:
            gc.enable()


@given(st.binary(max_size=200) | st.builds(mutated, st.sampled_from(valid_commands()), EDITS))
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
        | st.builds(mutated, st.sampled_from([b"\x0a\x08SELECT 1", b"\x0a\x02\xc3\xa9"]), EDITS),
    )
)
def test_known_commands_over_bad_bytes(data: bytes) -> None:
    test_commands_unpack_to_their_message_or_a_bad_request.hypothesis.inner_test(data)


def _ipc_stream(batches: int) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, PARAMS_BATCH.schema) as writer:
        for _ in range(batches):
            writer.write_batch(PARAMS_BATCH)
    return sink.getvalue().to_pybytes()


def _handle_with_params(stream: bytes, edits: list[tuple[int, int, int]], key: str) -> bytes:
    encoded = base64.b64encode(mutated(stream, edits)).decode()
    return json.dumps({"v": 1, "sql": "SELECT $1", key: encoded}).encode()


@given(
    st.builds(
        _handle_with_params,
        st.sampled_from(
            [
                _ipc_stream(0),
                _ipc_stream(1),
                _ipc_stream(2),
                PARAMS_BATCH.schema.serialize().to_pybytes(),
            ]
        ),
        EDITS,
        st.sampled_from(["params", "schema"]),
    )
)
def test_handles_withmutated_arrow_ipc(data: bytes) -> None:
    _decodes_or_client_error(StatementHandle.decode, data)
