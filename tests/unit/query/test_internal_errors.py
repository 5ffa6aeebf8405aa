"""A bug of ours inside the engine is a 500 / INTERNAL with a logged traceback, not a 400.

The engine catches only DataFusion's and Arrow's errors (``query/engine_errors.py``);
here a ``KeyError`` is planted in the engine's own code (the last-value cache step that
runs while every query is planned) and each transport must report it as internal,
while bad SQL stays the user's error.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path

import adbc_driver_flightsql.dbapi as dbapi
import adbc_driver_manager
import pytest
from starlette.applications import Starlette

from flight_iox.auth.policy import ANONYMOUS
from flight_iox.config import Settings
from flight_iox.engine.engine import Engine
from flight_iox.errors import QueryError
from flight_iox.flightsql import FlightSqlServer
from flight_iox.http.app import create_app
from flight_iox.query.engine import QueryEngine
from flight_iox.query.engine_errors import is_engine_error

DATABASE_OPTION = "adbc.flight.sql.rpc.call_header.database"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", wal_fsync=False)


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    engine = Engine(settings)
    engine.write_line_protocol("db", b"cpu,host=a v=1 1", principal=ANONYMOUS)
    yield engine
    engine.close()


@pytest.fixture
def bug(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object) -> None:
        raise KeyError("planted")

    monkeypatch.setattr(QueryEngine, "_prepare_last_cache", broken)


def _get(app: Starlette, path: str, query: str) -> tuple[int, dict]:
    """One GET through the ASGI app (Starlette re-raises the error it answered 500 for)."""
    messages: list[dict] = []

    requests = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive() -> dict:
        if requests:
            return requests.pop()
        await asyncio.Event().wait()  # the client stays connected
        raise AssertionError("unreachable")

    async def send(message: dict) -> None:
        messages.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query.encode(),
        "headers": [(b"host", b"test")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    with contextlib.suppress(KeyError):
        asyncio.run(app(scope, receive, send))
    start = next(m for m in messages if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    return start["status"], json.loads(body)


def test_datafusion_errors_are_the_users_and_ours_are_not() -> None:
    assert is_engine_error(Exception("DataFusion error: Arrow error: Divide by zero error"))
    assert is_engine_error(ValueError("SQL error: ParserError"))
    assert not is_engine_error(KeyError("x"))
    assert not is_engine_error(TypeError("x"))
    assert not is_engine_error(QueryError("x"))  # ours, already typed: not re-translated


def test_bad_sql_is_still_a_query_error(engine: Engine) -> None:
    with pytest.raises(QueryError):
        engine.query.execute("db", "SELEC 1")


@pytest.mark.usefixtures("bug")
def test_engine_lets_a_bug_through(engine: Engine) -> None:
    with pytest.raises(KeyError, match="planted"):
        engine.query.execute("db", "SELECT * FROM cpu")


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
    engine: Engine, settings: Settings, caplog: pytest.LogCaptureFixture, path: str, query: str
) -> None:
    app = create_app(engine, settings)
    with caplog.at_level(logging.ERROR):
        status, body = _get(app, path, query)
    assert status == 500
    assert body == {"error": "internal error: KeyError"}
    assert any(r.exc_info and r.exc_info[0] is KeyError for r in caplog.records)


@pytest.mark.usefixtures("bug")
def test_flight_sql_answers_internal(engine: Engine, caplog: pytest.LogCaptureFixture) -> None:
    server = FlightSqlServer("grpc://127.0.0.1:0", engine.query)
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
