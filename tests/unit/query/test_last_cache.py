"""``last_cache('t')``: the latest row of each series, equal to the window query, kept current."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from flight_iox.app import App, build_app
from flight_iox.auth.policy import ANONYMOUS
from flight_iox.config import Settings
from flight_iox.errors import QueryError
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
def app(tmp_path: Path) -> Iterator[App]:
    app = build_app(Settings(data_dir=tmp_path / "data", wal_fsync=False))
    app.engine.write_line_protocol("db", DATA.encode(), principal=ANONYMOUS)
    yield app
    app.close()


def rows(app: App, sql: str) -> list[dict]:
    table = app.query.execute("db", sql).read_all()
    return sorted(table.to_pylist(), key=repr)


def test_equals_the_window_query(app: App) -> None:
    cached = rows(app, "SELECT host, region, v, w, time FROM last_cache('cpu')")
    assert cached == rows(app, WINDOW)
    assert [(r["host"], r["v"], r["w"]) for r in cached] == [
        ("a", 5.0, None),
        ("b", 4.0, 13.0),
        (None, 9.0, None),
    ]


def test_follows_writes(app: App) -> None:
    rows(app, "SELECT * FROM last_cache('cpu')")
    app.engine.write_line_protocol(
        "db", b"cpu,host=b,region=east v=7 9\ncpu,host=c v=8 4", principal=ANONYMOUS
    )
    cached = rows(app, "SELECT host, region, v, w, time FROM last_cache('cpu')")
    assert cached == rows(app, WINDOW)
    assert {r["host"]: r["v"] for r in cached} == {"a": 5.0, "b": 7.0, "c": 8.0, None: 9.0}


def test_a_tag_named_like_a_field_path(app: App) -> None:
    """pyarrow's group_by reads ".." as a nested field path; the cache groups by position."""
    app.engine.write_line_protocol(
        "db", b"dots,..=a v=1 1\ndots,..=a v=2 5\ndots,..=b v=3 2", principal=ANONYMOUS
    )
    cached = rows(app, "SELECT \"..\", v FROM last_cache('dots')")
    assert cached == [{"..": "a", "v": 2.0}, {"..": "b", "v": 3.0}]


def test_unknown_table_is_an_error(app: App) -> None:
    with pytest.raises(QueryError, match="last_cache"):
        rows(app, "SELECT * FROM last_cache('nope')")


def test_cache_calls() -> None:
    assert cache_calls("SELECT * FROM cpu") == []
    sql = "select * from LAST_CACHE( 'it''s' ) join last_cache('b', 'n') join distinct_cache('c')"
    assert cache_calls(sql) == [
        ("last_cache", "it's", None),
        ("last_cache", "b", "n"),
        ("distinct_cache", "c", None),
    ]


@pytest.fixture
def file_scans(app: App, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many window queries over the files the cache ran (one entry per scan)."""
    scans: list[int] = []
    scan = app.query._fills._file_last_rows

    def counting(schema, files, *label):  # type: ignore[no-untyped-def]
        scans.append(len(files))
        return scan(schema, files, *label)

    monkeypatch.setattr(app.query._fills, "_file_last_rows", counting)
    return scans


def test_writes_after_a_persist_do_not_rescan_the_files(app: App, file_scans: list[int]) -> None:
    app.persister.persist()
    assert rows(app, "SELECT host, v FROM last_cache('cpu')") == [
        {"host": "a", "v": 5.0},
        {"host": "b", "v": 4.0},
        {"host": None, "v": 9.0},
    ]
    assert file_scans == [1]
    # Newer, older and same-time rows in the buffer, against the file's latest rows.
    app.engine.write_line_protocol(
        "db", b"cpu,host=a,region=west v=6 4\ncpu,host=b,region=east v=0 1", principal=ANONYMOUS
    )
    app.engine.write_line_protocol(
        "db", b"cpu,region=east w=99 1\ncpu,host=d v=1 1", principal=ANONYMOUS
    )
    cached = rows(app, "SELECT host, region, v, w, time FROM last_cache('cpu')")
    assert cached == rows(app, WINDOW)
    assert {r["host"]: (r["v"], r["w"]) for r in cached} == {
        "a": (6.0, None),
        "b": (4.0, 13.0),  # the buffered row is older than the file's
        "d": (1.0, None),
        None: (9.0, 99.0),  # same time: fields merge, the later write's w added
    }
    assert file_scans == [1]


def test_a_delete_in_the_files_rescans_them(app: App, file_scans: list[int]) -> None:
    persister = app.persister
    persister.persist()
    rows(app, "SELECT * FROM last_cache('cpu')")
    app.sql.scoped(ANONYMOUS).execute_update("db", "DELETE FROM cpu WHERE host = 'a' AND v = 5")
    cached = rows(app, "SELECT host, region, v, w, time FROM last_cache('cpu')")
    assert cached == rows(app, WINDOW)
    assert {r["host"]: r["v"] for r in cached}["a"] == 1.0
    assert len(file_scans) == 2
