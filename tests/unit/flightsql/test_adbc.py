"""Flight SQL through the real ADBC Flight SQL driver (Go), as DB-API users call it."""

from __future__ import annotations

from collections.abc import Iterator

import adbc_driver_flightsql.dbapi as dbapi
import adbc_driver_manager
import pyarrow as pa
import pytest

DATABASE_OPTION = "adbc.flight.sql.rpc.call_header.database"


@pytest.fixture
def conn(uri: str) -> Iterator[dbapi.Connection]:
    with pytest.warns(Warning, match="autocommit"):
        connection = dbapi.connect(uri, db_kwargs={DATABASE_OPTION: "mydb"})
    with connection:
        yield connection


def test_execute_query(conn: dbapi.Connection) -> None:
    with conn.cursor() as cur:
        cur.execute("SELECT host, usage FROM cpu ORDER BY time")
        table = cur.fetch_arrow_table()
    assert table.column("usage").to_pylist() == [0.5, 1.5, 2.5, 3.5]
    assert table.column("host").to_pylist() == ["a", "b", "a", "c"]


def test_parameterised_query_binds_through_doput_handle(conn: dbapi.Connection) -> None:
    with conn.cursor() as cur:
        cur.execute("SELECT host, usage FROM cpu WHERE usage > ? ORDER BY time", (1.5,))
        rows = cur.fetch_arrow_table().to_pylist()
        assert rows == [{"host": "a", "usage": 2.5}, {"host": "c", "usage": 3.5}]
        # Re-executing with other values must not reuse the earlier binding.
        cur.execute("SELECT count FROM cpu WHERE usage > ? AND host = ?", (0.0, "b"))
        assert cur.fetch_arrow_table().column("count").to_pylist() == [2]


def test_fully_qualified_names_resolve(conn: dbapi.Connection) -> None:
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) AS n FROM mydb.iox.mem")
        assert cur.fetch_arrow_table().column("n").to_pylist() == [2]


def test_get_objects_depth_all(conn: dbapi.Connection) -> None:
    objects = conn.adbc_get_objects().read_all().to_pylist()
    catalogs = {entry["catalog_name"]: entry for entry in objects}
    assert sorted(catalogs) == ["mydb", "other"]
    schemas = {s["db_schema_name"]: s for s in catalogs["mydb"]["catalog_db_schemas"]}
    assert sorted(schemas) == ["information_schema", "iox"]
    tables = {t["table_name"]: t for t in schemas["iox"]["db_schema_tables"]}
    assert sorted(tables) == ["cpu", "mem"]
    assert tables["cpu"]["table_type"] == "TABLE"
    columns = [c["column_name"] for c in tables["cpu"]["table_columns"]]
    assert columns == ["host", "usage", "count", "time"]
    views = {t["table_type"] for t in schemas["information_schema"]["db_schema_tables"]}
    assert views == {"VIEW"}


def test_get_table_schema_and_types(conn: dbapi.Connection) -> None:
    schema = conn.adbc_get_table_schema("cpu", catalog_filter="mydb", db_schema_filter="iox")
    assert schema.field("usage").type == pa.float64()
    assert schema.field("time").type == pa.timestamp("ns", tz="UTC")
    assert conn.adbc_get_table_types() == ["SYSTEM TABLE", "TABLE", "VIEW"]


def test_get_info(conn: dbapi.Connection) -> None:
    info = conn.adbc_get_info()
    assert info["vendor_name"] == "flight-iox"
    assert info["vendor_arrow_version"] == pa.__version__


def test_bad_sql_is_invalid_argument_with_datafusion_message(conn: dbapi.Connection) -> None:
    with conn.cursor() as cur, pytest.raises(adbc_driver_manager.ProgrammingError) as raised:
        cur.execute("SELEC 1")
    assert "INVALID_ARGUMENT" in str(raised.value)
    assert "Expected: an SQL statement" in str(raised.value)


def test_unknown_database_is_not_found(uri: str) -> None:
    with pytest.warns(Warning, match="autocommit"):
        connection = dbapi.connect(uri, db_kwargs={DATABASE_OPTION: "nope"})
    with connection, connection.cursor() as cur, pytest.raises(adbc_driver_manager.Error) as raised:
        cur.execute("SELECT 1")
    assert "NOT_FOUND" in str(raised.value)
    assert "database not found: 'nope'" in str(raised.value)
