"""CREATE TABLE over Flight SQL (the real ADBC driver) and HTTP query_sql; it survives restart."""

from __future__ import annotations

from pathlib import Path

import adbc_driver_flightsql.dbapi as flightsql
import adbc_driver_manager
import pyarrow as pa
import pytest
import requests

from flight_iox.launcher import RunningServer, start_server

DB = "ddl"
DATABASE_OPTION = "adbc.flight.sql.rpc.call_header.database"


def connect(server: RunningServer) -> flightsql.Connection:
    return flightsql.connect(server.flight_uri, db_kwargs={DATABASE_OPTION: DB}, autocommit=True)


def query(server: RunningServer, sql: str) -> requests.Response:
    return requests.post(
        f"{server.http_url}/api/v3/query_sql", json={"db": DB, "q": sql}, timeout=30
    )


def test_create_table_write_query_and_restart(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    server = start_server(data_dir)
    try:
        requests.post(
            f"{server.http_url}/api/v3/write_lp", params={"db": DB}, data="seed v=1 1", timeout=30
        ).raise_for_status()
        with connect(server) as conn, conn.cursor() as cur:
            cur.execute(
                "CREATE TABLE weather (time TIMESTAMP NOT NULL, city VARCHAR, note VARCHAR,"
                " temp DOUBLE, n INT, ok BOOLEAN, PRIMARY KEY (city, time))"
            )
            assert cur.fetchall() == [(0,)]
            cur.execute("SELECT * FROM weather")
            assert cur.fetch_arrow_table().num_rows == 0
            cur.execute("CREATE TABLE IF NOT EXISTS weather (time TIMESTAMP)")  # no-op
            with pytest.raises(adbc_driver_manager.Error, match="already exists"):
                cur.execute("CREATE TABLE weather (time TIMESTAMP)")
            with pytest.raises(adbc_driver_manager.ProgrammingError, match="'time' column"):
                cur.execute("CREATE TABLE no_time (id INTEGER, x VARCHAR)")
            cur.adbc_prepare("CREATE TABLE prepared (time TIMESTAMP, host VARCHAR, v DOUBLE)")
            cur.execute("CREATE TABLE prepared (time TIMESTAMP, host VARCHAR, v DOUBLE)")
            keys = conn.adbc_get_objects(depth="tables", catalog_filter=DB).read_all()
        tables = keys.to_pylist()[0]["catalog_db_schemas"]
        iox = next(s for s in tables if s["db_schema_name"] == "iox")
        assert {"weather", "prepared"} <= {t["table_name"] for t in iox["db_schema_tables"]}
        response = query(server, "CREATE TABLE viahttp (time TIMESTAMP, host TEXT, v DOUBLE)")
        assert response.status_code == 200, response.text
        assert response.json() == [{"count": 0}]
    finally:
        server.stop()

    server = start_server(data_dir)
    try:
        with connect(server) as conn:
            schema = conn.adbc_get_table_schema("weather")
        assert schema.names == ["city", "n", "note", "ok", "temp", "time"]
        assert schema.field("city").type == pa.dictionary(pa.int32(), pa.string())
        assert schema.field("note").type == pa.string()
        assert schema.field("n").type == pa.int64()
        assert schema.field("time").type == pa.timestamp("ns")
        tables = query(server, "SELECT table_name, tag_count FROM system.tables ORDER BY 1").json()
        assert {"table_name": "viahttp", "tag_count": 1} in tables
        assert {"table_name": "prepared", "tag_count": 1} in tables
        # The declared roles hold: city is a tag, note a string field.
        bad = requests.post(
            f"{server.http_url}/api/v3/write_lp",
            params={"db": DB},
            data="weather,note=x temp=1.5 5",
            timeout=30,
        )
        assert bad.status_code == 400
        good = requests.post(
            f"{server.http_url}/api/v3/write_lp",
            params={"db": DB},
            data='weather,city=oslo temp=1.5,n=3i,note="x" 5',
            timeout=30,
        )
        assert good.status_code == 204, good.text
        rows = query(server, "SELECT city, temp, n, note FROM weather").json()
        assert rows == [{"city": "oslo", "temp": 1.5, "n": 3, "note": "x"}]
        assert query(server, "DROP TABLE weather").status_code == 200
        assert query(server, "CREATE TABLE weather (time TIMESTAMP, x DOUBLE)").status_code == 200
        assert query(server, "SELECT * FROM weather").json() == []
    finally:
        server.stop()

    server = start_server(data_dir)  # dropped and created again: the new, empty table
    try:
        assert query(server, "SELECT * FROM weather").json() == []
        with connect(server) as conn:
            assert conn.adbc_get_table_schema("weather").names == ["time", "x"]
    finally:
        server.stop()
