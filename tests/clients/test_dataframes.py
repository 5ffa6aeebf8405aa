"""pandas and Polars with their default arguments, and tables with reserved column names."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import polars as pl
import pytest
import sqlalchemy as sa


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
