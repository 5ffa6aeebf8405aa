"""A bug of ours behind an HTTP route is a 500 with a short JSON body and a logged traceback.

Bugs are planted by monkeypatching our own code to raise ``RuntimeError`` inside the
in-process app (starlette's ``TestClient``); user errors on the same routes stay 4xx.
For InfluxQL, a bug in the second of two statements must fail the request (500), not
become that statement's error in a 200 answer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from starlette.testclient import TestClient

from flight_iox.app import App
from flight_iox.auth.policy import Authorizer
from flight_iox.engine.engine import Engine
from flight_iox.errors import InsufficientStorageError
from flight_iox.http.app import create_app
from flight_iox.influxql import ast, executor
from flight_iox.influxql.context import Context
from flight_iox.influxql.result import Series
from flight_iox.server import http_services

TWO_SELECTS = "SELECT v FROM cpu; SELECT v FROM cpu"


@pytest.fixture
def client(cpu_app: App) -> TestClient:
    """The app in process; a route's exception is answered, not re-raised into the test."""
    return TestClient(
        create_app(http_services(cpu_app), cpu_app.settings), raise_server_exceptions=False
    )


def _assert_internal(response: object, caplog: pytest.LogCaptureFixture) -> None:
    """500, a body naming only the exception's class, and its traceback in the server log."""
    assert response.status_code == 500  # type: ignore[attr-defined]
    assert response.json() == {"error": "internal error: RuntimeError"}  # type: ignore[attr-defined]
    assert "Traceback" not in response.text  # type: ignore[attr-defined]
    logged = [r for r in caplog.records if r.exc_info and r.exc_info[0] is RuntimeError]
    assert logged and all(r.levelno >= logging.ERROR for r in logged)


def _second_call_raises(error: Exception) -> Callable[[ast.Statement, Context], list[Series]]:
    """A SELECT handler that runs the first statement and raises ``error`` on the second."""
    run_select = executor.HANDLERS[ast.SelectStatement]
    calls: list[int] = []

    def handler(stmt: ast.Statement, ctx: Context) -> list[Series]:
        calls.append(1)
        if len(calls) == 2:
            raise error
        return run_select(stmt, ctx)

    return handler


def test_a_bug_in_a_write_is_500_with_its_traceback_logged(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("planted")

    monkeypatch.setattr(Engine, "write_line_protocol", broken)
    with caplog.at_level(logging.ERROR):
        response = client.post("/api/v3/write_lp?db=db", content=b"cpu v=2 2")
    _assert_internal(response, caplog)


def test_a_bug_in_the_auth_middleware_is_500(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("planted")

    monkeypatch.setattr(Authorizer, "authenticate", broken)
    with caplog.at_level(logging.ERROR):
        response = client.get("/api/v3/query_sql", params={"db": "db", "q": "SELECT 1"})
    _assert_internal(response, caplog)


def test_bad_line_protocol_is_still_400(client: TestClient) -> None:
    response = client.post("/api/v2/write?bucket=db", content=b"cpu v=")
    assert response.status_code == 400
    assert "line 1" in response.json()["error"]


def test_a_bug_in_the_second_influxql_statement_fails_the_request(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(
        executor.HANDLERS, ast.SelectStatement, _second_call_raises(RuntimeError("planted"))
    )
    with caplog.at_level(logging.DEBUG):
        response = client.post("/query", data={"db": "db", "q": TWO_SELECTS})
    _assert_internal(response, caplog)
    assert not [r for r in caplog.records if r.msg == "InfluxQL statement failed"]


def test_a_server_failure_in_a_statement_is_the_requests_status(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    full = InsufficientStorageError("/data", "no space left on device")
    monkeypatch.setitem(executor.HANDLERS, ast.SelectStatement, _second_call_raises(full))
    response = client.post("/query", data={"db": "db", "q": TWO_SELECTS})
    assert response.status_code == 507
    assert "no space left on device" in response.json()["error"]


def test_a_user_error_in_the_second_statement_stays_that_statements(client: TestClient) -> None:
    text = "SELECT v FROM cpu; SELECT v FROM cpu WHERE time > 'not a time'"
    response = client.post("/query", data={"db": "db", "q": text})
    assert response.status_code == 200
    first, second = response.json()["results"]
    assert first["series"][0]["values"] == [["1970-01-01T00:00:00.000000001Z", 1.0]]
    assert second["error"]


def test_bad_sql_is_still_400(client: TestClient) -> None:
    response = client.get("/api/v3/query_sql", params={"db": "db", "q": "SELEC 1"})
    assert response.status_code == 400
    assert "SELEC" in response.json()["error"]
