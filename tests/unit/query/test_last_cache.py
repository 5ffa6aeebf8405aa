"""``last_cache('t')``: the latest row of each series, equal to the window query, kept current."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from flight_iox.auth.policy import ANONYMOUS
from flight_iox.config import Settings
from flight_iox.engine.engine import Engine
from flight_iox.errors import QueryError
from flight_iox.persist.deletes import Deleter
from flight_iox.persist.persister import Persister
from flight_iox.query.configured_caches import cache_calls

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
    engine.write_line_protocol("db", DATA.encode(), principal=ANONYMOUS)
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
    engine.write_line_protocol(
        "db", b"cpu,host=b,region=east v=7 9\ncpu,host=c v=8 4", principal=ANONYMOUS
    )
    cached = rows(engine, "SELECT host, region, v, w, time FROM last_cache('cpu')")
    assert cached == rows(engine, WINDOW)
    assert {r["host"]: r["v"] for r in cached} == {"a": 5.0, "b": 7.0, "c": 8.0, None: 9.0}


def test_a_tag_named_like_a_field_path(engine: Engine) -> None:
    """pyarrow's group_by reads ".." as a nested field path; the cache groups by position."""
    engine.write_line_protocol(
        "db", b"dots,..=a v=1 1\ndots,..=a v=2 5\ndots,..=b v=3 2", principal=ANONYMOUS
    )
    cached = rows(engine, "SELECT \"..\", v FROM last_cache('dots')")
    assert cached == [{"..": "a", "v": 2.0}, {"..": "b", "v": 3.0}]


def test_unknown_table_is_an_error(engine: Engine) -> None:
    with pytest.raises(QueryError, match="last_cache"):
        rows(engine, "SELECT * FROM last_cache('nope')")


def test_cache_calls() -> None:
    assert cache_calls("SELECT * FROM cpu") == []
    sql = "select * from LAST_CACHE( 'it''s' ) join last_cache('b', 'n') join distinct_cache('c')"
    assert cache_calls(sql) == [
        ("last_cache", "it's", None),
        ("last_cache", "b", "n"),
        ("distinct_cache", "c", None),
    ]


@pytest.fixture
def file_scans(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many window queries over the files the cache ran (one entry per scan)."""
    scans: list[int] = []
    scan = engine.query._file_last_rows

    def counting(schema, files, *label):  # type: ignore[no-untyped-def]
        scans.append(len(files))
        return scan(schema, files, *label)

    monkeypatch.setattr(engine.query, "_file_last_rows", counting)
    return scans


def test_writes_after_a_persist_do_not_rescan_the_files(
    engine: Engine, file_scans: list[int]
) -> None:
    Persister(engine).persist()
    assert rows(engine, "SELECT host, v FROM last_cache('cpu')") == [
        {"host": "a", "v": 5.0},
        {"host": "b", "v": 4.0},
        {"host": None, "v": 9.0},
    ]
    assert file_scans == [1]
    # Newer, older and same-time rows in the buffer, against the file's latest rows.
    engine.write_line_protocol(
        "db", b"cpu,host=a,region=west v=6 4\ncpu,host=b,region=east v=0 1", principal=ANONYMOUS
    )
    engine.write_line_protocol(
        "db", b"cpu,region=east w=99 1\ncpu,host=d v=1 1", principal=ANONYMOUS
    )
    cached = rows(engine, "SELECT host, region, v, w, time FROM last_cache('cpu')")
    assert cached == rows(engine, WINDOW)
    assert {r["host"]: (r["v"], r["w"]) for r in cached} == {
        "a": (6.0, None),
        "b": (4.0, 13.0),  # the buffered row is older than the file's
        "d": (1.0, None),
        None: (9.0, 99.0),  # same time: fields merge, the later write's w added
    }
    assert file_scans == [1]


def test_a_delete_in_the_files_rescans_them(engine: Engine, file_scans: list[int]) -> None:
    persister = Persister(engine)
    engine.query.set_update_handler(Deleter(persister).execute_update)
    persister.persist()
    rows(engine, "SELECT * FROM last_cache('cpu')")
    engine.query.execute_update(
        "db", "DELETE FROM cpu WHERE host = 'a' AND v = 5", principal=ANONYMOUS
    )
    cached = rows(engine, "SELECT host, region, v, w, time FROM last_cache('cpu')")
    assert cached == rows(engine, WINDOW)
    assert {r["host"]: r["v"] for r in cached}["a"] == 1.0
    assert len(file_scans) == 2
