"""Validation tests generated from ``capabilities.FLIGHT_IOX``, through the real ADBC driver."""

from __future__ import annotations

import datetime
import decimal
from collections.abc import Iterator

import adbc_driver_flightsql.dbapi as flightsql
import adbc_driver_manager
import pyarrow as pa
import pytest

from flight_iox.launcher import RunningServer, start_server
from tests.validation.capabilities import FLIGHT_IOX, TIME_COLUMN, IngestCase, QueryCase

DB = "validation"
CAPS = FLIGHT_IOX


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(
        tmp_path_factory.mktemp("validation") / "data", "--no-persist-on-shutdown"
    )
    yield running
    running.stop()


@pytest.fixture(scope="module")
def conn(server: RunningServer) -> Iterator[flightsql.Connection]:
    options = {"adbc.flight.sql.rpc.call_header.database": DB}
    with flightsql.connect(server.flight_uri, db_kwargs=options, autocommit=True) as connection:
        with connection.cursor() as cur:
            seed = pa.table(
                {"tag": pa.array(["t"]).dictionary_encode(), "v": [1.0], "time": TIME_COLUMN}
            )
            cur.adbc_ingest("seed", seed, mode="create_append")
        yield connection


def _python(value: object) -> object:
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    return value


@pytest.mark.parametrize("case", CAPS.query_cases, ids=lambda c: c.sql)
def test_query_type(conn: flightsql.Connection, case: QueryCase) -> None:
    with conn.cursor() as cur:
        cur.execute(f"SELECT {case.sql} AS v")
        table = cur.fetch_arrow_table()
    assert table.schema.field("v").type == case.arrow_type
    assert _python(table.column("v")[0].as_py()) == case.value


@pytest.mark.parametrize("case", CAPS.ingest_cases, ids=lambda c: c.name)
def test_ingest_type(conn: flightsql.Connection, case: IngestCase) -> None:
    table_name = f"ingest_{case.name}"
    data = pa.table({"col": case.array, "time": TIME_COLUMN})
    with conn.cursor() as cur:
        if case.stored_as is None:
            with pytest.raises(adbc_driver_manager.Error, match="col"):
                cur.adbc_ingest(table_name, data, mode="create")
            return
        assert cur.adbc_ingest(table_name, data, mode="create") == 1
        cur.execute(f"SELECT col FROM {table_name}")
        assert cur.fetch_arrow_table().schema.field("col").type == case.stored_as


@pytest.mark.parametrize("mode", sorted(CAPS.ingest_modes))
def test_ingest_mode(conn: flightsql.Connection, mode: str) -> None:
    data = pa.table({"k": pa.array(["a"]).dictionary_encode(), "x": [1.0], "time": TIME_COLUMN})
    with conn.cursor() as cur:
        cur.adbc_ingest(f"mode_{mode}", data, mode="create")
        if CAPS.ingest_modes[mode]:
            if mode == "create":
                with pytest.raises(adbc_driver_manager.Error, match="already exists"):
                    cur.adbc_ingest(f"mode_{mode}", data, mode=mode)
            else:
                assert cur.adbc_ingest(f"mode_{mode}", data, mode=mode) == 1
        else:
            with pytest.raises(adbc_driver_manager.NotSupportedError):
                cur.adbc_ingest(f"mode_{mode}", data, mode=mode)


@pytest.mark.parametrize("depth", CAPS.get_objects_depths)
def test_get_objects_depth(conn: flightsql.Connection, depth: str) -> None:
    rows = conn.adbc_get_objects(depth=depth, catalog_filter=DB).read_all().to_pylist()
    assert [row["catalog_name"] for row in rows] == [DB]
    if depth != "catalogs":
        schemas = {s["db_schema_name"]: s for s in rows[0]["catalog_db_schemas"]}
        assert "iox" in schemas
        if depth in ("tables", "columns", "all"):
            tables = {t["table_name"]: t for t in schemas["iox"]["db_schema_tables"]}
            assert "seed" in tables
            if depth in ("columns", "all"):
                columns = [c["column_name"] for c in tables["seed"]["table_columns"]]
                assert set(columns) == {"tag", "v", "time"}


@pytest.mark.parametrize("keyword", sorted(CAPS.statement_kinds))
def test_statement_kind(conn: flightsql.Connection, keyword: str) -> None:
    sql = {
        "INSERT": "INSERT INTO seed (tag, v) VALUES ('u', 2.0)",
        "DELETE": "DELETE FROM seed WHERE tag = 'u'",
        "CREATE": "CREATE TABLE made (time TIMESTAMP, a BIGINT)",
        "DROP": "DROP TABLE dropped",
    }[keyword]
    with conn.cursor() as cur:
        if keyword == "DROP":  # a table of its own, not one that another test happened to make
            data = pa.table({"k": pa.array(["a"]).dictionary_encode(), "time": TIME_COLUMN})
            cur.adbc_ingest("dropped", data, mode="create")
        if CAPS.statement_kinds[keyword]:
            cur.execute(sql)
            (count,) = cur.fetchone()
            assert isinstance(count, int)
        else:
            with pytest.raises(adbc_driver_manager.NotSupportedError, match="supported"):
                cur.execute(sql)


def test_info_and_transactions(conn: flightsql.Connection) -> None:
    info = conn.adbc_get_info()
    assert info["vendor_name"] == CAPS.vendor_name
    if not CAPS.transactions:
        with pytest.raises(adbc_driver_manager.Error):
            conn.adbc_connection.set_autocommit(False)


def test_substrait(conn: flightsql.Connection) -> None:
    if CAPS.substrait:
        pytest.skip("substrait supported: covered elsewhere")
    with conn.cursor() as cur, pytest.raises(adbc_driver_manager.Error):
        cur.execute(b"\x0a\x00")
