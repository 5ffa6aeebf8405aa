"""pandas and Polars with their default arguments, and tables with reserved column names.

pandas: ``to_sql`` with its defaults and each ``if_exists`` (through an engine and through an
ADBC connection), ``read_sql`` with a query or a table name, ``read_sql_table``. Polars:
``read_database`` with an engine, a connection or the ADBC driver (test_adbc_driver.py), and
``read_database_uri(engine="adbc")`` with the database in the URI.
"""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import polars as pl
import pytest
import sqlalchemy as sa

from adbc_driver_flight_iox import dbapi


@pytest.fixture
def engine(sa_url: str) -> Iterator[sa.Engine]:
    engine = sa.create_engine(sa_url)
    yield engine
    engine.dispose()


def _frame(start: int, values: list[float]) -> pd.DataFrame:
    times = pd.to_datetime([start + i for i in range(len(values))], unit="s")
    return pd.DataFrame({"time": times, "value": values})


def _read(engine: sa.Engine, table: str) -> pd.DataFrame:
    return pd.read_sql(f'SELECT "index", time, value FROM {table} ORDER BY time', engine)


def test_to_sql_with_its_defaults_writes_the_index_column(engine: sa.Engine) -> None:
    """``index=True`` and ``if_exists="fail"``: the ``index`` column must be quoted."""
    frame = _frame(0, [1.5, 2.5])
    frame.to_sql("pandas_defaults", engine)
    back = _read(engine, "pandas_defaults")
    assert back["index"].tolist() == [0, 1]
    assert back["value"].tolist() == [1.5, 2.5]
    with pytest.raises(ValueError, match="already exists"):
        frame.to_sql("pandas_defaults", engine)


def test_to_sql_append_and_replace(engine: sa.Engine) -> None:
    _frame(0, [1.0]).to_sql("pandas_modes", engine)
    _frame(10, [2.0, 3.0]).to_sql("pandas_modes", engine, if_exists="append")
    assert _read(engine, "pandas_modes")["value"].tolist() == [1.0, 2.0, 3.0]
    _frame(20, [9.0]).to_sql("pandas_modes", engine, if_exists="replace")
    assert _read(engine, "pandas_modes")["value"].tolist() == [9.0]


def test_read_sql_table(engine: sa.Engine) -> None:
    _frame(0, [4.0, 5.0]).to_sql("pandas_read_table", engine, index=False)
    frame = pd.read_sql_table("pandas_read_table", engine)
    assert sorted(frame.columns) == ["time", "value"]
    assert sorted(frame["value"].tolist()) == [4.0, 5.0]


def test_create_all_with_reserved_column_names(engine: sa.Engine) -> None:
    metadata = sa.MetaData()
    table = sa.Table(
        "reserved_names",
        metadata,
        sa.Column("time", sa.DateTime, nullable=False),
        sa.Column("key", sa.String),
        sa.Column("index", sa.BigInteger),
        sa.Column("order", sa.Float),
    )
    metadata.create_all(engine)
    try:
        with engine.connect() as conn:
            conn.execute(
                table.insert(),
                [{"time": pd.Timestamp(0), "key": "k", "index": 7, "order": 0.5}],
            )
            row = conn.execute(
                sa.select(table.c.key, table.c.index, table.c.order).where(table.c.key == "k")
            ).one()
        assert tuple(row) == ("k", 7, 0.5)
    finally:
        metadata.drop_all(engine)


def test_polars_read_database_uri_takes_the_database_from_the_uri(
    flight_uri: str, database: str
) -> None:
    host_port = flight_uri.split("://", 1)[1]
    frame = pl.read_database_uri(
        "SELECT host, usage FROM cpu ORDER BY time",
        uri=f"flight_iox://{host_port}/{database}",
        engine="adbc",
    )
    assert frame["usage"].to_list() == [1.5, 10.0, 2.5, 20.0]
    assert frame["host"].cast(pl.String).to_list() == ["a", "b", "a", "b"]


def test_to_sql_if_exists_fail_creates_then_refuses(engine: sa.Engine) -> None:
    _frame(0, [1.0, 2.0]).to_sql("pandas_fail", engine, if_exists="fail", index=False)
    with pytest.raises(ValueError, match="already exists"):
        _frame(5, [3.0]).to_sql("pandas_fail", engine, if_exists="fail", index=False)
    values = pd.read_sql("SELECT value FROM pandas_fail ORDER BY time", engine)["value"]
    assert values.tolist() == [1.0, 2.0]


def test_read_sql_with_a_table_name_or_a_query(engine: sa.Engine) -> None:
    """``read_sql`` with a bare table name is ``read_sql_table``; with SQL it runs it."""
    _frame(0, [6.0, 7.0]).to_sql("pandas_read_sql", engine, index=False)
    by_name = pd.read_sql("pandas_read_sql", engine)
    assert sorted(by_name.columns) == ["time", "value"]
    assert sorted(by_name["value"].tolist()) == [6.0, 7.0]
    by_query = pd.read_sql("SELECT value FROM pandas_read_sql ORDER BY time DESC", engine)
    assert by_query["value"].tolist() == [7.0, 6.0]


def test_polars_read_database_with_sqlalchemy(engine: sa.Engine) -> None:
    """Polars takes an engine or a connection, and binds named parameters through them."""
    query = "SELECT host, usage FROM cpu WHERE time < '1970-01-01T00:03:00Z' ORDER BY time"
    from_engine = pl.read_database(query, connection=engine)
    assert from_engine["usage"].to_list() == [1.5, 10.0, 2.5, 20.0]
    with engine.connect() as conn:
        from_connection = pl.read_database(query, connection=conn)
    assert from_connection.equals(from_engine)
    bound = pl.read_database(
        "SELECT usage FROM cpu WHERE host = :h AND time < '1970-01-01T00:03:00Z' ORDER BY time",
        connection=engine,
        execute_options={"parameters": {"h": "b"}},
    )
    assert bound["usage"].to_list() == [10.0, 20.0]


def test_pandas_to_sql_and_read_sql_on_an_adbc_connection(flight_uri: str, database: str) -> None:
    """pandas' own ADBC path: ``adbc_ingest`` for ``to_sql`` in each mode, Arrow for reads."""
    with dbapi.connect(flight_uri, database=database) as conn:
        assert _frame(0, [1.0, 2.0]).to_sql("adbc_modes", conn, index=False) == 2
        with pytest.raises(ValueError, match="already exists"):
            _frame(0, [1.0]).to_sql("adbc_modes", conn, if_exists="fail", index=False)
        _frame(10, [3.0]).to_sql("adbc_modes", conn, if_exists="append", index=False)
        query = "SELECT value FROM adbc_modes ORDER BY time"
        assert pd.read_sql(query, conn)["value"].tolist() == [1.0, 2.0, 3.0]
        _frame(20, [9.0]).to_sql("adbc_modes", conn, if_exists="replace", index=False)
        assert pd.read_sql(query, conn)["value"].tolist() == [9.0]
        assert pd.read_sql_table("adbc_modes", conn)["value"].tolist() == [9.0]
