"""Sources whose bounds meet but whose series do not meet in time are not deduplicated.

Issue 20's soak: two writers, each with its own series and its own clock, so every new
file's tag bounds and time range met the file before at its edge, and each persist cost a
compaction rewriting both. Each shape here is built through the real write path and
persister, and checked three ways: which sources the planner groups, what compaction
rewrites, and that answers equal deduplicating every source at once (cache on and off).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from flight_iox.app import App, build_app
from flight_iox.auth.policy import ANONYMOUS
from flight_iox.columns import TAG_TYPE, TIME_TYPE, ColumnRole, role_field
from flight_iox.config import Settings
from flight_iox.engine import series_ranges as sr
from flight_iox.engine.dedupe import deduplicate
from flight_iox.persist.parquet_files import read_model_rows
from flight_iox.query import series_index
from flight_iox.query.overlap import overlap_groups, table_sources
from flight_iox.query.series_index import ENTRY_BYTES, SeriesIndex

S = 1_000_000_000
SQL_OVERLAPPING = "SELECT overlapping_files FROM system.tables WHERE table_name = 'cpu'"


def settings(path: Path, cache: int) -> Settings:
    return Settings(data_dir=path, wal_fsync=False, parquet_cache_size=cache)


@pytest.fixture(params=[0, 1 << 30], ids=["no cache", "cache"])
def app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[App]:
    built = build_app(settings(tmp_path, request.param))
    yield built
    built.close()


def write(app: App, text: str) -> None:
    app.engine.write_line_protocol("db", text.encode(), principal=ANONYMOUS)


def lines(w: str, seconds: range, value: float) -> str:
    return "\n".join(
        f"cpu,w={w},host=h{h} f={value + s} {s * S}" for h in range(3) for s in seconds
    )


def members(app: App, index: SeriesIndex | None = None) -> list[tuple[int, ...]]:
    """The overlap groups as queries decide them (``index``: another series index)."""
    schema = app.catalog.table_schema("db", "cpu")
    snapshot = app.buffers.snapshot("db", "cpu", schema)
    series = index or app.persister.tables.series
    sources = table_sources(snapshot.files, snapshot.buffered)
    return [g.members for g in overlap_groups(sources, series.check(snapshot.buffered))]


def rows(app: App) -> list[dict]:
    found = app.query.execute("db", "SELECT * FROM cpu").read_all().to_pylist()
    return sorted(found, key=lambda r: (r["w"], r["host"], r["time"]))


def reference(app: App) -> list[dict]:
    """Every source read in commit order (buffer last) and deduplicated at once."""
    schema = app.catalog.table_schema("db", "cpu")
    snapshot = app.buffers.snapshot("db", "cpu", schema)
    parts = [read_model_rows(f.path, schema, app.storage) for f in snapshot.files]
    table = deduplicate(pa.concat_tables([*parts, snapshot.buffered]))
    return sorted(table.to_pylist(), key=lambda r: (r["w"], r["host"], r["time"]))


def two_writers(app: App, rounds: int = 2) -> None:
    """Each round: w0 writes seconds 10r..10r+9, w1 (a second behind) 10r-1..10r+8, and
    a persist; then one more round stays buffered. Each file's tags and time meet the one
    before (w1's first second is before w0's last), but no series meets itself."""
    for r in range(rounds + 1):
        write(app, lines("w0", range(10 * r, 10 * r + 10), 1.0))
        write(app, lines("w1", range(max(0, 10 * r - 1), 10 * r + 9), 2.0))
        if r < rounds:
            app.persister.persist()


def test_writers_with_their_own_clocks_are_not_deduplicated(app: App) -> None:
    two_writers(app)
    assert members(app, SeriesIndex(None)) == [(0, 1, 2)]  # bounds alone: all three
    assert members(app) == []
    assert app.persister.compact(min_files=10).files_before == 0  # nothing to rewrite
    assert app.query.execute("db", SQL_OVERLAPPING).read_all().to_pylist() == [
        {"overlapping_files": 0}
    ]
    got = rows(app)
    assert got == reference(app) and len(got) == 3 * (30 + 29)


def test_a_series_met_again_in_the_window_is_deduplicated(app: App) -> None:
    two_writers(app, rounds=1)
    write(app, "cpu,w=w1,host=h2 f=-1 8000000000")  # w1's own persisted row, rewritten
    app.persister.persist()
    assert members(app) == [(0, 1)]
    got = rows(app)
    assert got == reference(app)
    h2 = [r["f"] for r in got if (r["w"], r["host"], r["time"].timestamp()) == ("w1", "h2", 8)]
    assert h2 == [-1.0]
    app.persister.compact(min_files=10)
    assert members(app) == [] and rows(app) == got


def test_the_buffer_meets_a_file_only_where_a_series_does(app: App) -> None:
    two_writers(app, rounds=1)  # the buffer: w0 10..19, w1 9..18, against the file's 0..9
    assert members(app) == []
    write(app, "cpu,w=w0,host=h1 f=-5 9000000000")  # a late rewrite of a persisted row
    assert members(app) == [(0, 1)]
    got = rows(app)
    assert got == reference(app)
    assert [r["f"] for r in got if r["f"] == -5.0] == [-5.0]


def test_ranges_are_read_from_the_footer_after_a_restart(tmp_path: Path) -> None:
    first = build_app(settings(tmp_path, 0))
    two_writers(first)
    first.persister.persist()
    expected = rows(first)
    first.close()
    again = build_app(settings(tmp_path, 0))
    try:
        files = again.buffers.table("db", "cpu").files
        footer = pq.read_metadata(again.storage.path(files[0].path)).metadata
        stored = sr.decode(footer[sr.FOOTER_KEY])
        assert sorted(stored.series.to_pylist()) == [
            f"4:host2:h{h}1:w2:{w}" for h in range(3) for w in ("w0", "w1")
        ]
        assert members(again) == []
        assert rows(again) == expected
    finally:
        again.close()


def test_series_names_ignore_a_tag_a_source_lacks() -> None:
    with_region = pa.table(
        {
            "host": pa.array(["a", "b"]).dictionary_encode(),
            "region": pa.array([None, "r"]),
            "time": pa.array([5, 6], pa.timestamp("ns")),
        }
    )
    without = pa.table({"host": ["a"], "time": pa.array([5], pa.timestamp("ns"))})
    mine = sr.series_ranges(with_region, ["host", "region"])
    theirs = sr.series_ranges(without, ["host"])
    assert mine is not None and theirs is not None
    assert mine.meets(theirs) and theirs.meets(mine)  # host=a, no region: one series
    later = sr.series_ranges(
        without.set_column(1, "time", pa.array([7], pa.timestamp("ns"))), ["host"]
    )
    assert later is not None and not mine.meets(later)
    decoded = sr.decode(sr.encode(mine))
    assert decoded.series.equals(mine.series) and list(decoded.last) == list(mine.last)


def test_series_whose_plain_names_would_collide_stay_apart() -> None:
    # With "name=value" pieces joined by a separator both rows below were one name, and the
    # second's time was never compared: a shared key went undeduplicated.
    file = pa.table(
        {
            "a": ["x", "x\x1fb=y"],
            "b": pa.array(["y", None]),
            "time": pa.array([105, 5], pa.timestamp("ns")),
        }
    )
    buffer = pa.table(
        {
            "a": ["x\x1fb=y"],
            "b": pa.array([None], pa.string()),
            "time": pa.array([5], pa.timestamp("ns")),
        }
    )
    mine, theirs = sr.series_ranges(file, ["a", "b"]), sr.series_ranges(buffer, ["a", "b"])
    assert mine is not None and theirs is not None
    assert len(set(mine.series.to_pylist())) == 2
    assert mine.meets(theirs) and theirs.meets(mine)


def test_tags_named_like_internal_columns(app: App) -> None:
    write(app, "cpu,t=a,__time=b,c0=c f=1 5000000000")
    app.persister.persist()
    write(app, "cpu,t=a,__time=b,c0=c f=2 5000000000\ncpu,t=a,__time=b,c0=c f=3 6000000000")
    assert members(app) == [(0, 1)]
    found = app.query.execute("db", "SELECT f FROM cpu ORDER BY time").read_all()
    assert found.column("f").to_pylist() == [2.0, 3.0]


def test_too_many_series_keep_no_ranges(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sr, "MAX_SERIES", 2)
    table = pa.table({"host": ["a", "b", "c"], "time": pa.array([1, 2, 3], pa.timestamp("ns"))})
    assert sr.series_ranges(table, ["host"]) is None


def test_a_table_without_tags_is_one_series() -> None:
    table = pa.table({"f": [1.0, 2.0], "time": pa.array([3, 9], pa.timestamp("ns"))})
    ranges = sr.series_ranges(table, [])
    assert ranges is not None
    assert (ranges.series.to_pylist(), list(ranges.first), list(ranges.last)) == ([""], [3], [9])


def ranges_of_one(series: str, first: int, last: int) -> sr.SeriesRanges:
    return sr.SeriesRanges(pa.array([series]), np.array([first]), np.array([last]))


def test_the_index_keeps_its_bound_and_never_remembers_an_unknown_pair() -> None:
    one = ranges_of_one("4:host1:a", 0, 10)
    index = SeriesIndex(None, capacity_bytes=2 * (ENTRY_BYTES + 10 + one.nbytes))
    index.put("file-a", one)
    index.put("file-b", ranges_of_one("4:host1:a", 20, 30))
    assert not index.files_meet("file-a", "file-b")
    index.put("file-c", ranges_of_one("4:host1:a", 5, 25))  # the oldest entry leaves
    assert index.ranges("file-a") is None  # not kept any more (no storage to read it from)
    assert index.files_meet("file-c", "file-b") and index.files_meet("file-a", "file-b") is False
    fresh = SeriesIndex(None)
    fresh.put("file-c", ranges_of_one("4:host1:a", 5, 25))
    assert fresh.files_meet("file-x", "file-c")  # unknown: may meet, and not remembered
    fresh.put("file-x", ranges_of_one("4:host1:b", 0, 99))
    assert not fresh.files_meet("file-x", "file-c")  # once known, answered on its ranges


def test_a_buffer_wholly_inside_a_window_is_left_to_bounds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    schema = pa.schema([role_field("host", TAG_TYPE, ColumnRole.TAG), pa.field("time", TIME_TYPE)])
    hosts = pa.array(["a", "b", "c"]).dictionary_encode().cast(TAG_TYPE)
    rows = pa.Table.from_arrays([hosts, pa.array([1, 2, 3]).cast(TIME_TYPE)], schema=schema)
    edge = series_index.buffer_ranges(rows, (2, 3))
    assert edge is not None and sorted(edge.series.to_pylist()) == ["4:host1:b", "4:host1:c"]
    monkeypatch.setattr(series_index, "EDGE_ROWS", 1)
    assert series_index.buffer_ranges(rows, (2, 3)) is None  # past the bound: bounds decide
