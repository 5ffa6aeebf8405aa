"""The plan ``query_schema`` makes is run by the next ``execute`` of the same statement, and
by its repeats when nothing in it depends on the time; only over the same data."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from flight_iox.app import App, build_app
from flight_iox.auth.policy import ANONYMOUS
from flight_iox.config import Settings
from flight_iox.query import statement_cache
from flight_iox.query.engine import QueryEngine
from flight_iox.query.system_tables import SystemTable

SQL = "SELECT host, v FROM cpu ORDER BY host"


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    app = build_app(Settings(data_dir=tmp_path / "data", wal_fsync=False))
    app.engine.write_line_protocol("db", b"cpu,host=a v=1 1\ncpu,host=b v=2 2", principal=ANONYMOUS)
    yield app
    app.close()


@pytest.fixture
def plannings(app: App, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The SQL of every planning the query engine does."""
    seen: list[str] = []
    plan = app.query._plan

    def counting(database, sql, *args, **kwargs):
        seen.append(sql)
        return plan(database, sql, *args, **kwargs)

    monkeypatch.setattr(app.query, "_plan", counting)
    return seen


def test_execute_runs_the_plan_of_query_schema(app: App, plannings: list[str]) -> None:
    schema = app.query.query_schema("db", SQL)
    first = app.query.execute("db", SQL).read_all()
    assert plannings == [SQL]
    assert first.schema.names == schema.names
    assert first.to_pylist() == [{"host": "a", "v": 1.0}, {"host": "b", "v": 2.0}]
    assert app.query.execute("db", SQL).read_all() == first  # the same plan again
    assert plannings == [SQL]


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT host, v FROM cpu WHERE time < now() ORDER BY host",
        "SELECT host, v, CURRENT_TIMESTAMP AS at FROM cpu ORDER BY host",
        "SELECT host, random() AS r FROM cpu ORDER BY host",
        "SELECT host, v, today() AS day FROM cpu ORDER BY host",  # kept a day old (review)
    ],
)
def test_time_dependent_sql_is_planned_each_run(app: App, plannings: list[str], sql: str) -> None:
    app.query.query_schema("db", sql)
    app.query.execute("db", sql).read_all()
    assert len(plannings) == 1  # handed over from query_schema, once
    app.query.execute("db", sql).read_all()
    app.query.execute("db", sql).read_all()
    assert len(plannings) == 3


def test_no_reuse_under_a_retention_period(app: App, plannings: list[str]) -> None:
    app.engine.set_retention("db", 10**18)
    app.query.execute("db", SQL).read_all()
    app.query.execute("db", SQL).read_all()
    assert len(plannings) == 2


def test_a_write_in_between_is_seen(app: App, plannings: list[str]) -> None:
    app.query.query_schema("db", SQL)
    app.engine.write_line_protocol("db", b"cpu,host=c v=3 3", principal=ANONYMOUS)
    table = app.query.execute("db", SQL).read_all()
    assert table.column("host").to_pylist() == ["a", "b", "c"]
    assert len(plannings) == 2


def test_parameters_are_part_of_the_key(app: App) -> None:
    sql = "SELECT host FROM cpu WHERE v > $1"
    app.query.query_schema("db", sql, [1.5])
    assert app.query.execute("db", sql, [0.5]).read_all().num_rows == 2
    assert app.query.execute("db", sql, [1.5]).read_all().num_rows == 1


def test_old_plans_are_not_run(
    app: App, plannings: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    app.query.query_schema("db", SQL)
    monkeypatch.setattr(statement_cache, "PLAN_TTL_SECONDS", -1.0)
    app.query.execute("db", SQL).read_all()
    assert len(plannings) == 2


def test_rebuilt_system_tables_are_read_again(app: App) -> None:
    names = ["a"]
    things = SystemTable(lambda: pa.table({"name": list(names)}))
    query = QueryEngine(app.catalog, app.buffers, system_tables={"things": things})
    sql = "SELECT name FROM system.things"
    assert query.execute("db", sql).read_all().column("name").to_pylist() == ["a"]
    names.append("b")
    query.invalidate_system_tables()
    assert query.execute("db", sql).read_all().column("name").to_pylist() == ["a", "b"]


def test_reads_no_data_is_known_once_planned(app: App) -> None:
    """Where Flight SQL runs a statement (GetFlightInfo's thread or a worker): a hint only."""
    scoped = app.sql.scoped(ANONYMOUS)
    assert not scoped.reads_no_data("SELECT 1 AS never_planned")  # unknown
    app.query.query_schema("db", "SELECT 1 AS never_planned")
    app.query.query_schema("db", SQL)
    assert scoped.reads_no_data("SELECT 1 AS never_planned")
    assert not scoped.reads_no_data(SQL)
