"""``last_cache('t')``: the latest row of each series, equal to the window query, kept current."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from flight_iox.config import Settings
from flight_iox.engine.engine import Engine
from flight_iox.errors import QueryError
from flight_iox.query.last_cache import referenced_tables

DATA = "\n".join(
    [
        "cpu,host=a,region=west v=1,w=10 1",
        "cpu,host=a,region=west v=5 3",
        "cpu,host=b,region=east v=4,w=13 2",
        "cpu,region=east v=9 1",
        "mem,host=a free=1i 5",
    ]
)
WINDOW = (
    "SELECT host, region, v, w, time FROM (SELECT *, row_number() OVER "
    "(PARTITION BY host, region ORDER BY time DESC) AS rn FROM cpu) WHERE rn = 1"
)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = Engine(Settings(data_dir=tmp_path / "data", wal_fsync=False))
    engine.write_line_protocol("db", DATA.encode())
    yield engine
    engine.close()


def rows(engine: Engine, sql: str) -> list[dict]:
    table = engine.query.execute("db", sql).read_all()
    return sorted(table.to_pylist(), key=repr)


def test_equals_the_window_query(engine: Engine) -> None:
    cached = rows(engine, "SELECT host, region, v, w, time FROM last_cache('cpu')")
    assert cached == rows(engine, WINDOW)
    assert [(r["host"], r["v"], r["w"]) for r in cached] == [
        ("a", 5.0, None),
        ("b", 4.0, 13.0),
        (None, 9.0, None),
    ]


def test_follows_writes(engine: Engine) -> None:
    rows(engine, "SELECT * FROM last_cache('cpu')")
    engine.write_line_protocol("db", b"cpu,host=b,region=east v=7 9\ncpu,host=c v=8 4")
    cached = rows(engine, "SELECT host, region, v, w, time FROM last_cache('cpu')")
    assert cached == rows(engine, WINDOW)
    assert {r["host"]: r["v"] for r in cached} == {"a": 5.0, "b": 7.0, "c": 8.0, None: 9.0}


def test_unknown_table_is_an_error(engine: Engine) -> None:
    with pytest.raises(QueryError, match="last_cache"):
        rows(engine, "SELECT * FROM last_cache('nope')")


def test_referenced_tables() -> None:
    assert referenced_tables("SELECT * FROM cpu") == []
    assert referenced_tables("select * from LAST_CACHE( 'it''s' ) join last_cache('b')") == [
        "it's",
        "b",
    ]
