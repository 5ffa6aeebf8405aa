"""Write with every InfluxDB client, read back with every query client."""

from __future__ import annotations

import io
import json

import adbc_driver_flightsql.dbapi as flightsql
import pyarrow as pa
import pyarrow.flight as flight
import pyarrow.parquet as pq
import pytest
import requests

from flight_iox.launcher import RunningServer

T0 = 1_700_000_000_000_000_000


def write(server: RunningServer, path: str, body: str | bytes, **params: str) -> requests.Response:
    return requests.post(f"{server.http_url}{path}", params=params, data=body, timeout=30)


def sql(server: RunningServer, db: str, query: str, fmt: str = "json") -> requests.Response:
    return requests.get(
        f"{server.http_url}/api/v3/query_sql",
        params={"db": db, "q": query, "format": fmt},
        timeout=30,
    )


def adbc(server: RunningServer, db: str) -> flightsql.Connection:
    return flightsql.connect(
        server.flight_uri,
        db_kwargs={"adbc.flight.sql.rpc.call_header.database": db},
        autocommit=True,
    )


def test_v3_write_then_sql_over_http_in_every_format(server: RunningServer) -> None:
    body = "\n".join(
        f'cpu,host=h{i % 3},region=eu usage={i}.5,count={i}i,ok=true,msg="m {i}" {T0 + i}'
        for i in range(9)
    )
    assert write(server, "/api/v3/write_lp", body, db="formats").status_code == 204
    rows = sql(
        server, "formats", "SELECT host, usage, count, ok, msg, time FROM cpu ORDER BY time"
    ).json()
    assert len(rows) == 9
    assert rows[0] == {
        "host": "h0",
        "usage": 0.5,
        "count": 0,
        "ok": True,
        "msg": "m 0",
        "time": "2023-11-14T22:13:20",
    }
    jsonl = sql(server, "formats", "SELECT count(*) AS n FROM cpu", "jsonl").text
    assert json.loads(jsonl.strip()) == {"n": 9}
    csv = sql(server, "formats", "SELECT host, count FROM cpu ORDER BY time LIMIT 2", "csv").text
    assert csv.splitlines() == ['"host","count"', '"h0",0', '"h1",1']
    pretty = sql(server, "formats", "SELECT host FROM cpu ORDER BY time LIMIT 1", "pretty").text
    assert "| host |" in pretty and "| h0   |" in pretty
    parquet = sql(server, "formats", "SELECT * FROM cpu", "parquet").content
    assert pq.read_table(io.BytesIO(parquet)).num_rows == 9
    by_accept = requests.get(
        f"{server.http_url}/api/v3/query_sql",
        params={"db": "formats", "q": "SELECT 1 AS one"},
        headers={"Accept": "text/csv"},
        timeout=30,
    )
    assert by_accept.text.splitlines() == ['"one"', "1"]
    posted = requests.post(
        f"{server.http_url}/api/v3/query_sql",
        json={
            "db": "formats",
            "q": "SELECT count(*) AS n FROM cpu WHERE usage > $1",
            "params": [4.0],
        },
        timeout=30,
    )
    assert posted.json() == [{"n": 5}]


def test_v1_and_v2_writes_with_precision(server: RunningServer) -> None:
    assert write(server, "/write", "m v=1 1700000000", db="prec", precision="s").status_code == 204
    assert (
        write(
            server, "/api/v2/write", "m v=2 1700000001000", bucket="prec", org="x", precision="ms"
        ).status_code
        == 204
    )
    assert (
        write(
            server, "/api/v3/write_lp", "m v=3 1700000002", db="prec", precision="second"
        ).status_code
        == 204
    )
    rows = sql(server, "prec", "SELECT v, CAST(time AS BIGINT) AS t FROM m ORDER BY t").json()
    assert rows == [
        {"v": 1.0, "t": 1_700_000_000_000_000_000},
        {"v": 2.0, "t": 1_700_000_001_000_000_000},
        {"v": 3.0, "t": 1_700_000_002_000_000_000},
    ]


def test_influxdb_client_v2_write_and_influxdb3_python(server: RunningServer) -> None:
    from influxdb_client import InfluxDBClient, Point
    from influxdb_client.client.write_api import SYNCHRONOUS
    from influxdb_client_3 import InfluxDBClient3

    with InfluxDBClient(url=server.http_url, token="ignored", org="any") as client:
        api = client.write_api(write_options=SYNCHRONOUS)
        api.write(
            bucket="clients",
            record=Point("weather").tag("city", "oslo").field("temp", 3.5).time(T0),
        )
    port = server.flight_uri.rsplit(":", 1)[1]
    # influxdb3-python writes over HTTP and queries over Flight: point it at each port.
    writer = InfluxDBClient3(host=server.http_url, database="clients", token="ignored")
    writer.write(record="weather,city=rome temp=21.0 1700000000000000001")
    writer.close()
    reader = InfluxDBClient3(host=f"http://127.0.0.1:{port}", database="clients", token="ignored")
    table = reader.query("SELECT city, temp FROM weather ORDER BY city", language="sql")
    reader.close()
    assert table.to_pylist() == [{"city": "oslo", "temp": 3.5}, {"city": "rome", "temp": 21.0}]


def test_adbc_plain_parameterised_and_unqualified_names(server: RunningServer) -> None:
    body = "\n".join(f"disk,dev=sd{i} free={i * 10}i {T0 + i}" for i in range(5))
    assert write(server, "/api/v3/write_lp", body, db="adbcdb").status_code == 204
    with adbc(server, "adbcdb") as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) AS n FROM disk")
        assert cur.fetchone() == (5,)
        cur.execute("SELECT dev FROM disk WHERE free >= ? ORDER BY dev", (30,))
        assert [r[0] for r in cur.fetchall()] == ["sd3", "sd4"]
        cur.execute("SELECT count(*) FROM adbcdb.iox.disk")
        assert cur.fetchone() == (5,)
        cur.execute("SHOW TABLES")
        tables = cur.fetch_arrow_table().to_pylist()
        assert {
            "table_catalog": "adbcdb",
            "table_schema": "iox",
            "table_name": "disk",
            "table_type": "BASE TABLE",
        } in tables
        cur.execute("SHOW COLUMNS FROM disk")
        assert {r["column_name"] for r in cur.fetch_arrow_table().to_pylist()} == {
            "dev",
            "free",
            "time",
        }
        objects = conn.adbc_get_objects(depth="all").read_all().to_pylist()
        catalogs = {o["catalog_name"] for o in objects}
        assert "adbcdb" in catalogs


def test_pyarrow_flight_json_ticket(server: RunningServer) -> None:
    assert (
        write(server, "/api/v3/write_lp", f"net,if=eth0 rx=7i {T0}", db="ticket").status_code == 204
    )
    client = flight.connect(server.flight_uri)
    ticket = flight.Ticket(
        json.dumps(
            {"database": "ticket", "sql_query": "SELECT rx FROM net", "query_type": "sql"}
        ).encode()
    )
    table = client.do_get(ticket).read_all()
    assert table.to_pylist() == [{"rx": 7}]
    options = flight.FlightCallOptions(headers=[(b"database", b"nope")])
    with pytest.raises(Exception, match="database not found"):
        client.do_get(
            flight.Ticket(
                json.dumps(
                    {"database": "nope", "sql_query": "SELECT 1", "query_type": "sql"}
                ).encode()
            ),
            options,
        ).read_all()


def test_last_write_wins_field_by_field(server: RunningServer) -> None:
    assert write(server, "/api/v3/write_lp", f"lww,h=a x=1,y=1 {T0}", db="lww").status_code == 204
    assert write(server, "/api/v3/write_lp", f"lww,h=a x=2 {T0}", db="lww").status_code == 204
    assert sql(server, "lww", "SELECT x, y FROM lww").json() == [{"x": 2.0, "y": 1.0}]


def test_new_columns_appear_and_old_rows_read_null(server: RunningServer) -> None:
    assert write(server, "/api/v3/write_lp", f"evo a=1 {T0}", db="evo").status_code == 204
    assert (
        write(server, "/api/v3/write_lp", f"evo,t=x a=2,b=3i {T0 + 1}", db="evo").status_code == 204
    )
    rows = sql(server, "evo", "SELECT t, a, b FROM evo ORDER BY time").json()
    assert rows == [{"t": None, "a": 1.0, "b": None}, {"t": "x", "a": 2.0, "b": 3}]


def test_health_ping_and_database_admin(server: RunningServer) -> None:
    assert requests.get(f"{server.http_url}/health", timeout=10).status_code == 200
    ping = requests.get(f"{server.http_url}/ping", timeout=10)
    assert ping.status_code == 200 and ping.json()["version"] == ping.headers["X-Influxdb-Version"]
    url = f"{server.http_url}/api/v3/configure/database"
    assert requests.post(url, json={"db": "admin1"}, timeout=10).status_code == 201
    assert requests.post(url, json={"db": "admin1"}, timeout=10).status_code == 409

    def names() -> set[str]:
        return {row["iox::database"] for row in requests.get(url, timeout=10).json()}

    assert "admin1" in names()
    assert requests.delete(url, params={"db": "admin1"}, timeout=10).status_code == 200
    assert requests.delete(url, params={"db": "admin1"}, timeout=10).status_code == 404
    assert "admin1" not in names()


def test_arrow_types_of_the_data_model(server: RunningServer) -> None:
    body = f'types,tag=a f=1.5,i=-2i,u=3u,b=t,s="x" {T0}'
    assert write(server, "/api/v3/write_lp", body, db="types").status_code == 204
    with adbc(server, "types") as conn, conn.cursor() as cur:
        cur.execute("SELECT * FROM types")
        schema = cur.fetch_arrow_table().schema
    assert schema.field("tag").type == pa.dictionary(pa.int32(), pa.string())
    assert schema.field("f").type == pa.float64()
    assert schema.field("i").type == pa.int64()
    assert schema.field("u").type == pa.uint64()
    assert schema.field("b").type == pa.bool_()
    assert schema.field("s").type == pa.string()
    assert schema.field("time").type == pa.timestamp("ns")
