"""The plan ``query_schema`` makes is run by the next ``execute`` of the same statement, and
by its repeats when nothing in it depends on the time; only over the same data."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from flight_iox.auth.policy import ANONYMOUS
from flight_iox.config import Settings
from flight_iox.engine.engine import Engine
from flight_iox.query import statement_cache

SQL = "SELECT host, v FROM cpu ORDER BY host"


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = Engine(Settings(data_dir=tmp_path / "data", wal_fsync=False))
    engine.write_line_protocol("db", b"cpu,host=a v=1 1\ncpu,host=b v=2 2", principal=ANONYMOUS)
    yield engine
    engine.close()


@pytest.fixture
def plannings(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The SQL of every planning the engine does."""
    seen: list[str] = []
    plan = engine.query._plan

    def counting(database, sql, params, **kwargs):
        seen.append(sql)
        return plan(database, sql, params, **kwargs)

    monkeypatch.setattr(engine.query, "_plan", counting)
    return seen


def test_execute_runs_the_plan_of_query_schema(engine: Engine, plannings: list[str]) -> None:
    schema = engine.query.query_schema("db", SQL)
    first = engine.query.execute("db", SQL).read_all()
    assert plannings == [SQL]
    assert first.schema.names == schema.names
    assert first.to_pylist() == [{"host": "a", "v": 1.0}, {"host": "b", "v": 2.0}]
    assert engine.query.execute("db", SQL).read_all() == first  # the same plan again
    assert plannings == [SQL]


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT host, v FROM cpu WHERE time < now() ORDER BY host",
        "SELECT host, v, CURRENT_TIMESTAMP AS at FROM cpu ORDER BY host",
        "SELECT host, random() AS r FROM cpu ORDER BY host",
    ],
)
def test_time_dependent_sql_is_planned_each_run(
    engine: Engine, plannings: list[str], sql: str
) -> None:
    engine.query.query_schema("db", sql)
    engine.query.execute("db", sql).read_all()
    assert len(plannings) == 1  # handed over from query_schema, once
    engine.query.execute("db", sql).read_all()
    engine.query.execute("db", sql).read_all()
    assert len(plannings) == 3


def test_no_reuse_under_a_retention_period(engine: Engine, plannings: list[str]) -> None:
    engine.set_retention("db", 10**18)
    engine.query.execute("db", SQL).read_all()
    engine.query.execute("db", SQL).read_all()
    assert len(plannings) == 2


def test_a_write_in_between_is_seen(engine: Engine, plannings: list[str]) -> None:
    engine.query.query_schema("db", SQL)
    engine.write_line_protocol("db", b"cpu,host=c v=3 3", principal=ANONYMOUS)
    table = engine.query.execute("db", SQL).read_all()
    assert table.column("host").to_pylist() == ["a", "b", "c"]
    assert len(plannings) == 2


def test_parameters_are_part_of_the_key(engine: Engine) -> None:
    sql = "SELECT host FROM cpu WHERE v > $1"
    engine.query.query_schema("db", sql, [1.5])
    assert engine.query.execute("db", sql, [0.5]).read_all().num_rows == 2
    assert engine.query.execute("db", sql, [1.5]).read_all().num_rows == 1


def test_old_plans_are_not_run(
    engine: Engine, plannings: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    engine.query.query_schema("db", SQL)
    monkeypatch.setattr(statement_cache, "PLAN_TTL_SECONDS", -1.0)
    engine.query.execute("db", SQL).read_all()
    assert len(plannings) == 2


def test_rebuilt_system_tables_are_read_again(engine: Engine) -> None:
    names = ["a"]
    engine.query.set_system_table("things", lambda: pa.table({"name": list(names)}))
    sql = "SELECT name FROM system.things"
    assert engine.query.execute("db", sql).read_all().column("name").to_pylist() == ["a"]
    names.append("b")
    engine.query.invalidate_system_tables()
    assert engine.query.execute("db", sql).read_all().column("name").to_pylist() == ["a", "b"]
