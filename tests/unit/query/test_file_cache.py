"""The Parquet cache: what it keeps, and queries answering the same with it, without it, and
with only part of a table's files in it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from flight_iox.app import App, build_app
from flight_iox.auth.policy import ANONYMOUS
from flight_iox.config import Settings
from flight_iox.query.file_cache import FileCache
from iox_catalog.files import DataFile

SCHEMA = pa.schema([pa.field("v", pa.int64())])


def data_file(path: str, max_time_us: int, rows: int = 10) -> DataFile:
    return DataFile(path, rows, 100, 0, max_time_us, 1)


class Loads:
    """A loader that counts its calls and returns ``rows`` rows (8 bytes each)."""

    def __init__(self) -> None:
        self.paths: list[str] = []

    def __call__(self, file: DataFile, schema: pa.Schema) -> pa.Table:
        self.paths.append(file.path)
        return pa.table({"v": pa.array(range(file.record_count), pa.int64())})


def test_files_load_once_newest_first_within_the_budget() -> None:
    loads = Loads()
    cache = FileCache(capacity=120, load=loads)  # room for one 10-row file of 80 bytes
    files = [data_file("old", 1), data_file("new", 2)]
    assert list(cache.tables(files, SCHEMA)) == ["new"]
    assert list(cache.tables(files, SCHEMA)) == ["new"]
    assert loads.paths == ["new"]  # loaded once; "old" did not fit beside it
    assert 0 < cache.used_bytes <= 120


def test_newer_data_evicts_older_never_the_reverse() -> None:
    loads = Loads()
    cache = FileCache(capacity=120, load=loads)
    cache.tables([data_file("a", 2)], SCHEMA)  # another table's file
    assert cache.tables([data_file("b", 1)], SCHEMA) == {}  # older than "a": not loaded
    assert list(cache.tables([data_file("c", 3)], SCHEMA)) == ["c"]  # "a" made room
    assert cache.paths == {"c"}
    assert list(cache.tables([data_file("a", 2)], SCHEMA)) == []  # no back and forth
    assert loads.paths == ["a", "c"]


def test_dropped_files_are_forgotten() -> None:
    cache = FileCache(capacity=1_000, load=Loads())
    cache.tables([data_file("a", 1), data_file("b", 2)], SCHEMA)
    cache.keep_only({"b"})
    assert cache.paths == {"b"} and cache.used_bytes == 80


def test_a_file_larger_than_the_budget_is_not_kept() -> None:
    cache = FileCache(capacity=100, load=Loads())
    assert cache.tables([data_file("big", 1, rows=1_000)], SCHEMA) == {}
    assert cache.used_bytes == 0


def test_capacity_zero_is_off() -> None:
    loads = Loads()
    assert FileCache(0, loads).tables([data_file("a", 1)], SCHEMA) == {}
    assert loads.paths == []


# --- answers with and without the cache --------------------------------------------------

QUERIES = [
    "SELECT host, v, w, time FROM cpu ORDER BY host, time",
    "SELECT host, count(*) AS n, max(v) AS v FROM cpu GROUP BY host ORDER BY host",
    "SELECT * FROM cpu WHERE time >= arrow_cast(3, 'Timestamp(Nanosecond, None)')"
    " AND time < TIMESTAMP '1970-01-01T00:50:00' ORDER BY time, host",
    "SELECT host, v FROM cpu WHERE w IS NOT NULL ORDER BY host, time",
]


def build(path: Path, cache_bytes: int) -> App:
    """Three persists (two overlapping in time) plus buffered rows; the same for every run."""
    app = build_app(Settings(data_dir=path, wal_fsync=False, parquet_cache_size=cache_bytes))
    persister = app.persister
    app.engine.write_line_protocol(
        "db", b"cpu,host=a v=1,w=10 1\ncpu,host=b v=2 2", principal=ANONYMOUS
    )
    persister.persist()
    app.engine.write_line_protocol(
        "db", b"cpu,host=a v=5 1\ncpu,host=c v=3,w=30 3", principal=ANONYMOUS
    )  # overlaps
    persister.persist()
    app.engine.write_line_protocol("db", b"cpu,host=a v=7 2000000000000", principal=ANONYMOUS)
    persister.persist()
    app.engine.write_line_protocol(
        "db", b"cpu,host=b v=9 2000000000001\ncpu,host=a w=11 1", principal=ANONYMOUS
    )
    return app


@pytest.fixture
def engines(tmp_path: Path) -> Iterator[dict[str, App]]:
    built = {
        "no cache": build(tmp_path / "off", 0),
        "cache": build(tmp_path / "on", 1 << 30),
        "part cached": build(tmp_path / "part", 1),  # the budget is redone below
    }
    yield built
    for app in built.values():
        app.close()


def answers(app: App) -> list[list[dict]]:
    return [app.query.execute("db", sql).read_all().to_pylist() for sql in QUERIES]


def test_same_answers_with_without_and_with_part_of_the_files_cached(
    engines: dict[str, App],
) -> None:
    expected = answers(engines["no cache"])
    assert expected[0][0] == {"host": "a", "v": 5.0, "w": 11.0, "time": expected[0][0]["time"]}
    assert answers(engines["cache"]) == expected
    cache = engines["cache"].query._tables._file_cache
    assert cache is not None and cache.used_bytes > 0
    part = engines["part cached"]
    part_cache = part.query._tables._file_cache
    assert part_cache is not None
    part_cache.capacity = 110  # room for the two newest files (35 and 68 bytes), not all three
    part.engine.write_line_protocol(
        "db", b"cpu,host=d v=1 5000000000000", principal=ANONYMOUS
    )  # rebuild the view
    got = answers(part)
    assert len(part_cache.paths) == 2 and part_cache.used_bytes <= 110
    assert [[r for r in rows if r.get("host") != "d"] for rows in got] == [
        [r for r in rows if r.get("host") != "d"] for rows in expected
    ]


def test_compaction_drops_replaced_files_from_the_cache(engines: dict[str, App]) -> None:
    app = engines["cache"]
    expected = answers(app)
    cache = app.query._tables._file_cache
    before = cache.used_bytes
    app.persister.compact(min_files=2)
    assert answers(app) == expected
    assert 0 < cache.used_bytes < before + 1  # the three files became one
    files = {f.path for f in app.buffers.table("db", "cpu").files}
    assert len(files) == 1 and cache.paths == files
