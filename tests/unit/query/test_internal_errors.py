"""A bug of ours inside the engine is a 500 / INTERNAL with a logged traceback, not a 400.

The engine catches only DataFusion's and Arrow's errors (``query/engine_errors.py``);
here a ``KeyError`` is planted in the engine's own code (the last-value cache step that
runs while every query is planned) and each transport must report it as internal,
while bad SQL stays the user's error.
"""

from __future__ import annotations

import logging
import threading
import warnings

import adbc_driver_flightsql.dbapi as dbapi
import adbc_driver_manager
import pytest
from starlette.testclient import TestClient

from flight_iox.app import App
from flight_iox.errors import QueryError
from flight_iox.flightsql import FlightSqlServer
from flight_iox.http.app import create_app
from flight_iox.query.cache_fills import CacheFills
from flight_iox.query.engine_errors import is_engine_error
from flight_iox.server import http_services

DATABASE_OPTION = "adbc.flight.sql.rpc.call_header.database"


@pytest.fixture
def app(cpu_app: App) -> App:
    return cpu_app


@pytest.fixture
def bug(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object) -> None:
        raise KeyError("planted")

    monkeypatch.setattr(CacheFills, "prepare", broken)


def test_datafusion_errors_are_the_users_and_ours_are_not() -> None:
    assert is_engine_error(Exception("DataFusion error: Arrow error: Divide by zero error"))
    assert is_engine_error(ValueError("SQL error: ParserError"))
    assert not is_engine_error(KeyError("x"))
    assert not is_engine_error(TypeError("x"))
    assert not is_engine_error(QueryError("x"))  # ours, already typed: not re-translated


def test_bad_sql_is_still_a_query_error(app: App) -> None:
    with pytest.raises(QueryError):
        app.query.execute("db", "SELEC 1")


@pytest.mark.usefixtures("bug")
def test_engine_lets_a_bug_through(app: App) -> None:
    with pytest.raises(KeyError, match="planted"):
        app.query.execute("db", "SELECT * FROM cpu")


@pytest.mark.usefixtures("bug")
@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("/api/v3/query_sql", "db=db&q=SELECT+*+FROM+cpu"),
        ("/api/v3/query_influxql", "db=db&q=SELECT+*+FROM+cpu"),
        ("/query", "db=db&q=SELECT+*+FROM+cpu"),
    ],
)
def test_http_answers_500_and_logs_the_traceback(
    app: App, caplog: pytest.LogCaptureFixture, path: str, query: str
) -> None:
    client = TestClient(create_app(http_services(app), app.settings), raise_server_exceptions=False)
    with caplog.at_level(logging.ERROR):
        response = client.get(f"{path}?{query}")
    assert response.status_code == 500
    assert response.json() == {"error": "internal error: KeyError"}
    assert any(r.exc_info and r.exc_info[0] is KeyError for r in caplog.records)


@pytest.mark.usefixtures("bug")
def test_flight_sql_answers_internal(app: App, caplog: pytest.LogCaptureFixture) -> None:
    server = FlightSqlServer("grpc://127.0.0.1:0", app.sql)
    threading.Thread(target=server.serve, daemon=True).start()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the driver warns that autocommit is on
            connection = dbapi.connect(
                f"grpc://127.0.0.1:{server.port}", db_kwargs={DATABASE_OPTION: "db"}
            )
        with (
            caplog.at_level(logging.ERROR),
            connection,
            connection.cursor() as cursor,
            pytest.raises(adbc_driver_manager.Error) as raised,
        ):
            cursor.execute("SELECT * FROM cpu")
    finally:
        server.shutdown()
    assert "INTERNAL" in str(raised.value)
    assert "internal error: KeyError" in str(raised.value)
    assert any(r.exc_info and r.exc_info[0] is KeyError for r in caplog.records)
