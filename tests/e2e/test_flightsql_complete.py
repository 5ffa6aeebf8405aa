"""Flight SQL against a real server: ADBC calls end to end, Arrow ingest through the WAL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import adbc_driver_flightsql.dbapi as flightsql
import adbc_driver_manager
import pyarrow as pa
import pyarrow.flight as flight
import pytest
import requests

from flight_iox.flightsql import schemas
from flight_iox.flightsql.commands import pack
from flight_iox.flightsql.generated import FlightSql_pb2 as pb
from flight_iox.launcher import RunningServer, start_server

DB = "complete"
DATABASE_OPTION = "adbc.flight.sql.rpc.call_header.database"
T0 = 1_700_000_000_000_000_000


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(tmp_path_factory.mktemp("fsql") / "data", "--no-persist-on-shutdown")
    body = "\n".join(
        f"cpu,host=h{i % 2},region=eu usage={i}.5,count={i}i {T0 + i}" for i in range(6)
    )
    response = requests.post(
        f"{running.http_url}/api/v3/write_lp", params={"db": DB}, data=body, timeout=30
    )
    assert response.status_code == 204
    yield running
    running.stop()


def connect(server: RunningServer, **db_kwargs: str) -> flightsql.Connection:
    return flightsql.connect(
        server.flight_uri, db_kwargs={DATABASE_OPTION: DB, **db_kwargs}, autocommit=True
    )


def test_execute_params_and_executemany(server: RunningServer) -> None:
    with connect(server) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) AS n FROM cpu WHERE usage > ? AND host = ?", (1.0, "h1"))
        assert cur.fetchall() == [(3,)]
        cur.executemany(
            "INSERT INTO many (host, value, time) VALUES (?, ?, ?)",
            [("a", 1.5, T0), ("b", 2.5, T0 + 1), ("a", 3.5, T0 + 2)],
        )
        cur.execute("SELECT host, value FROM many ORDER BY time")
        assert cur.fetchall() == [("a", 1.5), ("b", 2.5), ("a", 3.5)]
        cur.execute("INSERT INTO many (host, value) VALUES ('c', 4.5)")  # execute applies it
        cur.execute("SELECT count(*) FROM many WHERE host = 'c'")
        assert cur.fetchall() == [(1,)]


def test_primary_key_of_an_engine_table_is_tags_then_time(server: RunningServer) -> None:
    with flight.FlightClient(server.flight_uri) as client:
        command = pb.CommandGetPrimaryKeys(catalog=DB, table="cpu")
        info = client.get_flight_info(flight.FlightDescriptor.for_command(pack(command)))
        table = client.do_get(info.endpoints[0].ticket).read_all()
    assert table.schema == schemas.PRIMARY_KEYS
    assert table.column("column_name").to_pylist() == ["host", "region", "time"]


def test_get_objects_at_every_depth_with_filters(server: RunningServer) -> None:
    with connect(server) as conn:
        catalogs = conn.adbc_get_objects(depth="catalogs").read_all().to_pylist()
        assert DB in [c["catalog_name"] for c in catalogs]
        schemas_ = conn.adbc_get_objects(depth="db_schemas", catalog_filter=DB).read_all()
        names = [s["db_schema_name"] for s in schemas_.to_pylist()[0]["catalog_db_schemas"]]
        assert "iox" in names
        tables = conn.adbc_get_objects(
            depth="tables", catalog_filter=DB, db_schema_filter="iox", table_name_filter="cp%"
        ).read_all()
        (schema_row,) = tables.to_pylist()[0]["catalog_db_schemas"]
        assert [t["table_name"] for t in schema_row["db_schema_tables"]] == ["cpu"]
        columns = conn.adbc_get_objects(
            depth="all",
            catalog_filter=DB,
            db_schema_filter="iox",
            table_name_filter="cpu",
            column_name_filter="u%",
        ).read_all()
        (schema_row,) = columns.to_pylist()[0]["catalog_db_schemas"]
        (table_row,) = schema_row["db_schema_tables"]
        assert [c["column_name"] for c in table_row["table_columns"]] == ["usage"]


def test_table_schema_and_info(server: RunningServer) -> None:
    with connect(server) as conn:
        schema = conn.adbc_get_table_schema("cpu", catalog_filter=DB, db_schema_filter="iox")
        assert set(schema.names) == {"host", "region", "usage", "count", "time"}
        info = conn.adbc_get_info()
        assert info["vendor_name"] == "flight-iox"
        assert info["vendor_arrow_version"] == pa.__version__


def test_adbc_ingest_create_append_and_failing_create(server: RunningServer) -> None:
    data = pa.table(
        {
            "sensor": pa.array(["s1", "s2"]).dictionary_encode(),
            "temp": [20.5, 21.5],
            "time": pa.array([T0, T0 + 1], pa.timestamp("ns")),
        }
    )
    with connect(server) as conn, conn.cursor() as cur:
        assert cur.adbc_ingest("ingested", data, mode="create") == 2
        with pytest.raises(adbc_driver_manager.Error, match="already exists"):
            cur.adbc_ingest("ingested", data, mode="create")
        later = data.set_column(2, "time", pa.array([T0 + 2, T0 + 3], pa.timestamp("ns")))
        assert cur.adbc_ingest("ingested", later, mode="append") == 2
        with pytest.raises(adbc_driver_manager.NotSupportedError, match="replace"):
            cur.adbc_ingest("ingested", data, mode="replace")
        with pytest.raises(adbc_driver_manager.Error, match="does not exist"):
            cur.adbc_ingest("missing", data, mode="append")
        cur.execute("SELECT sensor, temp FROM ingested ORDER BY time")
        assert cur.fetchall() == [("s1", 20.5), ("s2", 21.5), ("s1", 20.5), ("s2", 21.5)]
    with flight.FlightClient(server.flight_uri) as client:
        command = pb.CommandGetPrimaryKeys(catalog=DB, table="ingested")
        info = client.get_flight_info(flight.FlightDescriptor.for_command(pack(command)))
        keys = client.do_get(info.endpoints[0].ticket).read_all()
    assert keys.column("column_name").to_pylist() == ["sensor", "time"]


def test_plain_doput_writes_and_ingest_survives_kill(tmp_path: Path) -> None:
    running = start_server(tmp_path / "data")
    data = pa.table(
        {"room": ["k", "l"], "t": [1.0, 2.0], "time": pa.array([1, 2], pa.timestamp("ns"))}
    )
    try:
        with flight.FlightClient(running.flight_uri) as client:
            writer, reader = client.do_put(
                flight.FlightDescriptor.for_path("home", "temps"), data.schema
            )
            writer.write_table(data)
            writer.done_writing()
            assert json.loads(reader.read().to_pybytes()) == {"record_count": 2}
            writer.close()
            command = json.dumps({"database": "home", "table": "temps", "tags": ["room"]})
            later = data.set_column(2, "time", pa.array([3, 4], pa.timestamp("ns")))
            writer, reader = client.do_put(
                flight.FlightDescriptor.for_command(command), data.schema
            )
            writer.write_table(later)
            writer.done_writing()
            reader.read()
            writer.close()
    finally:
        running.kill()  # no clean shutdown: only the WAL has the rows
    restarted = start_server(tmp_path / "data")
    try:
        with (
            flightsql.connect(
                restarted.flight_uri, db_kwargs={DATABASE_OPTION: "home"}, autocommit=True
            ) as conn,
            conn.cursor() as cur,
        ):
            cur.execute("SELECT room, t FROM temps ORDER BY time")
            assert cur.fetchall() == [("k", 1.0), ("l", 2.0), ("k", 1.0), ("l", 2.0)]
    finally:
        restarted.stop()


def test_statement_update_over_raw_flight(server: RunningServer) -> None:
    options = flight.FlightCallOptions(headers=[(b"database", DB.encode())])
    with flight.FlightClient(server.flight_uri) as client:
        command = pb.CommandStatementUpdate(
            query="INSERT INTO raw (k, v) VALUES ('a', 1), ('b', 2)"
        )
        writer, reader = client.do_put(
            flight.FlightDescriptor.for_command(pack(command)), pa.schema([]), options
        )
        writer.done_writing()
        assert pb.DoPutUpdateResult.FromString(reader.read().to_pybytes()).record_count == 2
        writer.close()
