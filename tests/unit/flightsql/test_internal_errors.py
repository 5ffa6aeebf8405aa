"""A bug of ours in the Flight service is INTERNAL with a short message and a logged traceback.

An in-process ``FlightSqlServer`` over a real engine, called with ``pyarrow.flight``. Bugs
are planted by monkeypatching our own code to raise ``RuntimeError``: in the auth
middleware (which pyarrow would otherwise answer with the traceback in the message and
log nothing), in a DoGet stream after its first batch, and in an action. Bad SQL stays
INVALID_ARGUMENT.

pyarrow gives an error raised while a DoGet stream is being sent only the statuses of
``ArrowInvalid``, ``ArrowKeyError`` and ``ArrowNotImplementedError``; anything else,
INTERNAL included, reaches the client as UNKNOWN (measured with pyarrow 26). So a bug
after the first batch is UNKNOWN with the same short message.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.flight as flight
import pytest

from flight_iox.app import App
from flight_iox.auth.policy import AuthMode, Authorizer
from flight_iox.auth.tokens import FileTokenStore
from flight_iox.flightsql import FlightSqlServer
from flight_iox.query import execution

TICKET = flight.Ticket(json.dumps({"database": "db", "sql_query": "SELECT * FROM cpu"}).encode())


@pytest.fixture
def server(cpu_app: App, tmp_path: Path) -> Iterator[FlightSqlServer]:
    authorizer = Authorizer(AuthMode.OFF, FileTokenStore(tmp_path / "tokens.json"))
    server = FlightSqlServer("grpc://127.0.0.1:0", cpu_app.sql, authorizer=authorizer)
    threading.Thread(target=server.serve, daemon=True).start()
    yield server
    server.shutdown()


@pytest.fixture
def client(server: FlightSqlServer) -> Iterator[flight.FlightClient]:
    with flight.connect(f"grpc://127.0.0.1:{server.port}") as client:
        yield client


def _planted(*args: object, **kwargs: object) -> None:
    raise RuntimeError("planted")


INTERNAL = flight.FlightInternalError


def _assert_internal(
    error: BaseException, caplog: pytest.LogCaptureFixture, status: type = INTERNAL
) -> None:
    """INTERNAL naming only the exception's class; the traceback is in the server log."""
    assert type(error) is status
    assert str(error).startswith("internal error: RuntimeError")
    assert "Traceback" not in str(error) and "planted" not in str(error)
    logged = [r for r in caplog.records if r.exc_info and r.exc_info[0] is RuntimeError]
    assert logged and all(r.levelno >= logging.ERROR for r in logged)


def test_a_bug_in_the_auth_middleware_is_internal(
    client: flight.FlightClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(Authorizer, "authenticate", _planted)
    with caplog.at_level(logging.ERROR), pytest.raises(flight.FlightError) as raised:
        client.do_get(TICKET).read_all()
    _assert_internal(raised.value, caplog)


def test_a_bug_while_streaming_is_internal(
    client: flight.FlightClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def first_then_bug(first: pa.RecordBatch, rest: Iterator[pa.RecordBatch]) -> Iterator:
        yield first
        raise RuntimeError("planted")

    monkeypatch.setattr(execution, "_chain", first_then_bug)
    with caplog.at_level(logging.ERROR), pytest.raises(flight.FlightError) as raised:
        client.do_get(TICKET).read_all()
    _assert_internal(raised.value, caplog, status=flight.FlightServerError)  # UNKNOWN


def test_a_bug_in_an_action_is_internal(
    client: flight.FlightClient,
    server: FlightSqlServer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setitem(server.actions, "CreatePreparedStatement", _planted)
    with caplog.at_level(logging.ERROR), pytest.raises(flight.FlightError) as raised:
        list(client.do_action(flight.Action("CreatePreparedStatement", b"")))
    _assert_internal(raised.value, caplog)


def test_bad_sql_is_still_invalid_argument(client: flight.FlightClient) -> None:
    ticket = flight.Ticket(json.dumps({"database": "db", "sql_query": "SELEC 1"}).encode())
    with pytest.raises(pa.ArrowInvalid) as raised:  # what INVALID_ARGUMENT is in pyarrow
        client.do_get(ticket).read_all()
    assert "SELEC" in str(raised.value)
    assert "Traceback" not in str(raised.value)
