"""Listings show the session's database; others only when asked for, and only if readable.

A real server with ``--auth required``, two databases (``mine`` and ``other``), an admin
token and a token that may read only ``mine``; listings through ADBC's Flight SQL driver,
pyarrow.flight and the HTTP SQL endpoint (see docs/flight-sql.md, "Listings").
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import adbc_driver_flightsql.dbapi as dbapi
import pyarrow.flight as flight
import pytest
import requests

from flight_iox.flightsql.commands import pack
from flight_iox.flightsql.generated import FlightSql_pb2 as pb
from flight_iox.launcher import RunningServer, start_server

TIMEOUT = 30


def _post(server: RunningServer, path: str, token: str | None, **kwargs: Any) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = requests.post(f"{server.http_url}{path}", headers=headers, timeout=TIMEOUT, **kwargs)
    assert response.status_code < 300, response.text
    return response.json() if response.content else None


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningServer, str, str]]:
    """The server, its admin token and a token that reads ``mine`` only."""
    server = start_server(
        tmp_path_factory.mktemp("scope") / "data", "--no-persist-on-shutdown", "--auth", "required"
    )
    admin = _post(server, "/api/v3/configure/token/admin", None)["token"]
    body = {"name": "mine-reader", "permissions": [{"database": "mine", "actions": ["read"]}]}
    reader = _post(server, "/api/v3/configure/token", admin, json=body)["token"]
    _post(server, "/api/v3/write_lp", admin, params={"db": "mine"}, data="cpu,host=a v=1 1")
    _post(server, "/api/v3/write_lp", admin, params={"db": "other"}, data="disk,host=b v=2 1")
    yield server, admin, reader
    server.stop()


def _adbc(server: RunningServer, token: str, database: str) -> dbapi.Connection:
    return dbapi.connect(
        server.flight_uri,
        db_kwargs={
            "adbc.flight.sql.authorization_header": f"Bearer {token}",
            "adbc.flight.sql.rpc.call_header.database": database,
        },
        autocommit=True,  # the server has no transactions (else a DB-API warning)
    )


def _sql(conn: dbapi.Connection, sql: str) -> list[tuple[Any, ...]]:
    with conn.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchall()


def _user_tables(objects: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {
        (catalog["catalog_name"], table["table_name"])
        for catalog in objects
        for schema in catalog["catalog_db_schemas"] or []
        if schema["db_schema_name"] == "iox"
        for table in schema["db_schema_tables"] or []
    }


def _get_tables(server: RunningServer, token: str, database: str, **filters: Any) -> set[str]:
    """GetTables over plain pyarrow.flight: the (catalog, table) pairs of schema ``iox``."""
    headers = [(b"authorization", f"Bearer {token}".encode()), (b"database", database.encode())]
    options = flight.FlightCallOptions(headers=headers, timeout=TIMEOUT)
    command = pb.CommandGetTables(db_schema_filter_pattern="iox", **filters)
    with flight.FlightClient(server.flight_uri) as client:
        info = client.get_flight_info(flight.FlightDescriptor.for_command(pack(command)), options)
        rows = [
            r
            for e in info.endpoints
            for r in client.do_get(e.ticket, options).read_all().to_pylist()
        ]
    return {f"{row['catalog_name']}.{row['table_name']}" for row in rows}


def test_sql_listings_show_the_session_database(env: tuple[RunningServer, str, str]) -> None:
    server, admin, reader = env
    for token in (admin, reader):
        with _adbc(server, token, "mine") as conn:
            assert {row[0] for row in _sql(conn, "SHOW TABLES")} == {"mine"}
            catalogs = _sql(conn, "SELECT DISTINCT table_catalog FROM information_schema.tables")
            assert catalogs == [("mine",)]
            named = _sql(
                conn,
                "SELECT DISTINCT table_catalog FROM information_schema.tables"
                " WHERE table_catalog IN ('mine', 'other') ORDER BY 1",
            )
            # Naming another database asks for it: shown only where the token may read it.
            assert named == ([("mine",), ("other",)] if token == admin else [("mine",)])


def test_flight_sql_listings_show_the_session_database(env: tuple[RunningServer, str, str]) -> None:
    server, admin, reader = env
    assert _get_tables(server, admin, "mine") == {"mine.cpu"}
    assert _get_tables(server, admin, "mine", catalog="other") == {"other.disk"}
    assert _get_tables(server, reader, "mine") == {"mine.cpu"}
    assert _get_tables(server, reader, "mine", catalog="other") == set()
    for token, readable in ((admin, {"mine", "other"}), (reader, {"mine"})):
        with _adbc(server, token, "mine") as conn:
            objects = conn.adbc_get_objects(depth="all").read_all().to_pylist()
            assert {c["catalog_name"] for c in objects} == readable  # GetCatalogs
            assert _user_tables(objects) == {("mine", "cpu")}
            # ADBC sends GetTables without the catalog filter (it filters the answer itself),
            # so over ADBC another database is listed by connecting to it.
            objects = conn.adbc_get_objects(depth="all", catalog_filter="other").read_all()
            assert _user_tables(objects.to_pylist()) == set()
        with _adbc(server, token, "other") as conn:
            objects = conn.adbc_get_objects(depth="all").read_all().to_pylist()
            assert _user_tables(objects) == ({("other", "disk")} if token == admin else set())


def test_http_show_tables_shows_the_db_parameter(env: tuple[RunningServer, str, str]) -> None:
    server, admin, _ = env
    response = requests.get(
        f"{server.http_url}/api/v3/query_sql",
        params={"db": "other", "q": "SHOW TABLES", "format": "json"},
        headers={"Authorization": f"Bearer {admin}"},
        timeout=TIMEOUT,
    )
    assert response.status_code == 200, response.text
    assert {row["table_catalog"] for row in response.json()} == {"other"}
