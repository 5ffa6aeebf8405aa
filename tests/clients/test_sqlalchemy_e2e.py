"""The flight_iox dialect against a real server: reflection, Core, pandas, Superset-style use."""

from __future__ import annotations

import datetime
import gc
import warnings
from collections.abc import Iterator

import pandas as pd
import pytest
import sqlalchemy as sa

from sqlalchemy_flight_iox import UInt64, date_bin, date_trunc


@pytest.fixture
def engine(sa_url: str) -> Iterator[sa.Engine]:
    engine = sa.create_engine(sa_url)
    yield engine
    engine.dispose()


@pytest.fixture
def cpu(engine: sa.Engine) -> sa.Table:
    return sa.Table("cpu", sa.MetaData(), autoload_with=engine)


def test_lists_schemas_tables_and_views(engine: sa.Engine) -> None:
    inspector = sa.inspect(engine)
    assert {"iox", "information_schema"} <= set(inspector.get_schema_names())
    assert inspector.get_table_names() == ["cpu"]
    assert "tables" not in inspector.get_table_names()
    assert "tables" in inspector.get_view_names(schema="information_schema")
    assert inspector.has_table("cpu")
    assert not inspector.has_table("cp_")
    assert inspector.has_schema("iox")


def test_reflected_columns_have_the_right_types(engine: sa.Engine) -> None:
    columns = {c["name"]: c for c in sa.inspect(engine).get_columns("cpu")}
    expected = {
        "cores": sa.BigInteger,
        "host": sa.String,
        "ok": sa.Boolean,
        "region": sa.String,
        "s": sa.String,
        "time": sa.DateTime,
        "u": UInt64,
        "usage": sa.Float,
    }
    assert set(columns) == set(expected)
    for name, kind in expected.items():
        assert isinstance(columns[name]["type"], kind), name
    assert columns["time"]["nullable"] is False


def test_keys_and_indexes(engine: sa.Engine) -> None:
    inspector = sa.inspect(engine)
    assert inspector.get_pk_constraint("cpu")["constrained_columns"] == ["host", "region", "time"]
    assert inspector.get_foreign_keys("cpu") == []
    assert inspector.get_indexes("cpu") == []


def test_missing_table(engine: sa.Engine) -> None:
    with pytest.raises(sa.exc.NoSuchTableError):
        sa.Table("nope", sa.MetaData(), autoload_with=engine)


def test_core_select_with_bound_parameters(engine: sa.Engine, cpu: sa.Table) -> None:
    statement = (
        sa.select(cpu.c.host, cpu.c.usage)
        .where(cpu.c.usage > sa.bindparam("low"), cpu.c.host == sa.bindparam("host"))
        .order_by(cpu.c.time)
        .limit(10)
    )
    with engine.connect() as conn:
        assert conn.execute(statement, {"low": 1.0, "host": "a"}).all() == [
            ("a", 1.5),
            ("a", 2.5),
        ]
        assert conn.execute(statement, {"low": 2.0, "host": "b"}).all() == [
            ("b", 10.0),
            ("b", 20.0),
        ]


def test_time_range_and_offset(engine: sa.Engine, cpu: sa.Table) -> None:
    start = datetime.datetime(1970, 1, 1, 0, 0, 30)
    statement = sa.select(cpu.c.usage).where(cpu.c.time >= start).order_by(cpu.c.time).offset(1)
    with engine.connect() as conn:
        assert conn.scalars(statement).all() == [2.5, 20.0]


def test_types_of_values(engine: sa.Engine, cpu: sa.Table) -> None:
    statement = sa.select(cpu.c.ok, cpu.c.u, cpu.c.cores, cpu.c.time).where(cpu.c.s == "x")
    with engine.connect() as conn:
        ok, u, cores, time = conn.execute(statement).one()
    assert (ok, u, cores) == (True, 3, 8)
    assert time == datetime.datetime(1970, 1, 1)


def test_group_by_time_superset_style(engine: sa.Engine, cpu: sa.Table) -> None:
    bucket = date_bin(datetime.timedelta(minutes=1), cpu.c.time).label("__timestamp")
    statement = (
        sa.select(bucket, cpu.c.host, sa.func.avg(cpu.c.usage).label("avg_usage"))
        .where(cpu.c.time < datetime.datetime(1970, 1, 1, 0, 2))
        .group_by(bucket, cpu.c.host)
        .order_by(bucket, cpu.c.host)
    )
    with engine.connect() as conn:
        rows = conn.execute(statement).all()
    minute = datetime.timedelta(minutes=1)
    epoch = datetime.datetime(1970, 1, 1)
    assert rows == [(epoch, "a", 1.5), (epoch, "b", 10.0), (epoch + minute, "a", 2.5)]


def test_group_by_a_time_axis_named_time(engine: sa.Engine, cpu: sa.Table) -> None:
    """Superset names its time axis after the column: ``date_trunc(...) AS time``."""
    axis = date_trunc("minute", cpu.c.time).label("time")
    statement = (
        sa.select(axis, sa.func.sum(cpu.c.usage))
        .where(cpu.c.time < datetime.datetime(1970, 1, 1, 0, 3))
        .group_by(axis)
        .order_by(axis)
    )
    with engine.connect() as conn:
        rows = conn.execute(statement).all()
    epoch = datetime.datetime(1970, 1, 1)
    minute = datetime.timedelta(minutes=1)
    assert rows == [(epoch, 11.5), (epoch + minute, 2.5), (epoch + 2 * minute, 20.0)]


def test_date_trunc(engine: sa.Engine, cpu: sa.Table) -> None:
    hour = date_trunc("hour", cpu.c.time).label("hour")
    statement = sa.select(hour, sa.func.count().label("n")).group_by(hour)
    with engine.connect() as conn:
        assert conn.execute(statement).all() == [(datetime.datetime(1970, 1, 1), 4)]


def test_text_with_qmark_parameters(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        result = conn.exec_driver_sql("SELECT count(*) FROM cpu WHERE host = ?", ("b",))
        assert result.scalar() == 2


def test_statement_cache_is_used(engine: sa.Engine, cpu: sa.Table) -> None:
    statement = sa.select(cpu.c.host).where(cpu.c.usage > sa.bindparam("x"))
    with engine.connect() as conn:
        conn.execute(statement, {"x": 1}).all()
        second = conn.execute(statement, {"x": 2})
        assert "cached since" in second.context._get_cache_stats()
        second.close()


def test_pandas_read_sql_with_parameters(engine: sa.Engine, cpu: sa.Table) -> None:
    frame = pd.read_sql(
        "SELECT host, usage FROM cpu WHERE usage > ? ORDER BY usage", engine, params=(5.0,)
    )
    assert frame.to_dict("list") == {"host": ["b", "b"], "usage": [10.0, 20.0]}
    core = pd.read_sql(
        sa.select(cpu.c.host, cpu.c.time).where(cpu.c.host == sa.bindparam("h")),
        engine,
        params={"h": "a"},
    )
    assert core["time"].dtype.kind == "M"
    assert len(core) == 2


def test_ping_and_isolation(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        assert conn.get_isolation_level() == "AUTOCOMMIT"
        assert engine.dialect.do_ping(conn.connection.dbapi_connection)
        conn.commit()
        conn.rollback()


def test_core_insert_goes_through_ingest(engine: sa.Engine) -> None:
    metadata = sa.MetaData()
    table = sa.Table(
        "core_rows",
        metadata,
        sa.Column("host", sa.String),
        sa.Column("value", sa.Float),
        sa.Column("time", sa.DateTime),
    )
    rows = [
        {"host": "h1", "value": 1.0, "time": datetime.datetime(2024, 1, 1)},
        {"host": "h2", "value": 2.0, "time": datetime.datetime(2024, 1, 2)},
    ]
    with engine.connect() as conn:
        conn.execute(table.insert(), rows)
        assert conn.execute(sa.select(table.c.value).order_by(table.c.time)).scalars().all() == [
            1.0,
            2.0,
        ]


def test_dataframe_to_sql_appends_through_ingest(engine: sa.Engine) -> None:
    frame = pd.DataFrame(
        {
            "host": ["a", "b"],
            "usage": [50.0, 60.0],
            "time": pd.to_datetime(["2024-01-01T00:00:00", "2024-01-01T00:00:01"]),
        }
    )
    frame.to_sql("cpu", engine, if_exists="append", index=False)
    with engine.connect() as conn:
        count = conn.exec_driver_sql("SELECT count(*) FROM cpu WHERE usage >= 50").scalar()
    assert count == 2


def test_create_all_insert_reflect_drop_all(engine: sa.Engine) -> None:
    metadata = sa.MetaData()
    readings = sa.Table(
        "sa_readings",
        metadata,
        sa.Column("time", sa.DateTime, nullable=False),
        sa.Column("sensor", sa.String(20), primary_key=True),  # primary key columns are tags
        sa.Column("value", sa.Float),
        sa.Column("count", sa.Integer),
    )
    metadata.create_all(engine)
    try:
        inspector = sa.inspect(engine)
        assert inspector.has_table("sa_readings")
        assert inspector.get_pk_constraint("sa_readings")["constrained_columns"] == [
            "sensor",
            "time",
        ]
        at = datetime.datetime(2024, 1, 1)
        with engine.connect() as conn:
            row = {"time": at, "sensor": "s1", "value": 1.5, "count": 2}
            conn.execute(readings.insert(), [row])
            rows = conn.execute(sa.select(readings.c.sensor, readings.c.value, readings.c.count))
            assert rows.all() == [("s1", 1.5, 2)]
    finally:
        metadata.drop_all(engine)
    assert not sa.inspect(engine).has_table("sa_readings")


def test_ddl_closes_its_cursors(engine: sa.Engine) -> None:
    """CREATE/DROP come back with a ``count`` row; the dialect still closes their cursors."""
    metadata = sa.MetaData()
    sa.Table(
        "sa_ddl_cursors",
        metadata,
        sa.Column("time", sa.DateTime, nullable=False),
        sa.Column("sensor", sa.String(20), primary_key=True),
        sa.Column("value", sa.Float),
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        metadata.create_all(engine)
        metadata.drop_all(engine)
        gc.collect()  # an unclosed cursor is reported when it is collected
    unclosed = [str(w.message) for w in caught if "Cursor" in str(w.message)]
    assert unclosed == []
