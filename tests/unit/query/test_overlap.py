"""Deduplication only where sources may share a row key: on time, partition and tag bounds.

Each overlap shape (time only, key only, both, neither, buffer against files) is built
through the real write path and persister, and checked twice: which sources the planner
groups for deduplication, and that the answers are those of deduplicating everything
(last write wins, field by field), with the Parquet cache on and off.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from flight_iox.app import App, build_app
from flight_iox.auth.policy import ANONYMOUS
from flight_iox.config import Settings
from flight_iox.engine.dedupe import deduplicate
from flight_iox.persist.parquet_files import read_model_rows
from flight_iox.query.dedupe_plan import window_condition
from flight_iox.query.overlap import (
    OverlapGroup,
    SourceRange,
    column_bounds,
    merged_windows,
    overlap_groups,
    overlapping_file_indices,
    table_sources,
    tags_may_meet,
)
from iox_catalog.files import TagBounds
from iox_catalog.partitioning import PartitionKey

S = 1_000_000_000  # one second in ns


@pytest.fixture(params=[0, 1 << 30], ids=["no cache", "cache"])
def app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[App]:
    built = build_app(
        Settings(data_dir=tmp_path, wal_fsync=False, parquet_cache_size=request.param)
    )
    yield built
    built.close()


def write(app: App, text: str) -> None:
    result = app.engine.write_line_protocol("db", text.encode(), principal=ANONYMOUS)
    assert not getattr(result, "errors", None)


def groups(app: App) -> list[OverlapGroup]:
    schema = app.catalog.table_schema("db", "cpu")
    snapshot = app.buffers.snapshot("db", "cpu", schema)
    return overlap_groups(table_sources(snapshot.files, snapshot.buffered))


def rows(app: App) -> list[dict]:
    found = app.query.execute("db", "SELECT * FROM cpu").read_all().to_pylist()
    return sorted(found, key=_key)


def _key(row: dict) -> tuple:
    return (row["w"] or "", row["host"] or "", row["time"])


def reference(app: App) -> list[dict]:
    """Every source read in commit order (buffer last) and deduplicated at once."""
    schema = app.catalog.table_schema("db", "cpu")
    snapshot = app.buffers.snapshot("db", "cpu", schema)
    parts = [read_model_rows(f.path, schema, app.storage) for f in snapshot.files]
    table = deduplicate(pa.concat_tables([*parts, snapshot.buffered]))
    return sorted(table.to_pylist(), key=_key)


def lines(w: str, hosts: range, seconds: range, value: float, field: str = "f") -> str:
    return "\n".join(
        f"cpu,w={w},host=h{h} {field}={value + s} {s * S}" for h in hosts for s in seconds
    )


def test_time_only_two_writers_series_are_not_deduplicated(app: App) -> None:
    write(app, lines("w0", range(3), range(0, 10), 1.0))
    app.persister.persist()
    write(app, lines("w1", range(3), range(0, 10), 2.0))  # same time, other series
    app.persister.persist()
    assert len(app.buffers.table("db", "cpu").files) == 2
    assert groups(app) == []
    assert rows(app) == reference(app) and len(rows(app)) == 60


def test_key_only_same_series_later_time_is_not_deduplicated(app: App) -> None:
    write(app, lines("w0", range(3), range(0, 10), 1.0))
    app.persister.persist()
    write(app, lines("w0", range(3), range(10, 20), 2.0))
    app.persister.persist()
    write(app, lines("w0", range(3), range(20, 30), 3.0))  # the buffer, later still
    assert groups(app) == []
    assert rows(app) == reference(app) and len(rows(app)) == 90


def test_neither_is_not_deduplicated(app: App) -> None:
    write(app, lines("w0", range(3), range(0, 10), 1.0))
    app.persister.persist()
    write(app, lines("w1", range(3), range(50, 60), 2.0))
    assert groups(app) == []
    assert len(rows(app)) == 60 and rows(app) == reference(app)


def test_both_overlap_deduplicates_last_write_field_by_field(app: App) -> None:
    write(app, lines("w0", range(3), range(0, 10), 1.0))
    write(app, "cpu,w=w0,host=h0 g=7i 5000000000")
    app.persister.persist()
    # Rewrites of h0 at 4..6 s (f only: g keeps 7 at 5 s), new rows at 20..30 s.
    write(app, lines("w0", range(1), range(4, 7), 100.0))
    write(app, lines("w0", range(3), range(20, 30), 3.0))
    app.persister.persist()
    found = groups(app)
    assert [g.members for g in found] == [(0, 1)]
    # Only the shared seconds are deduplicated, not either file's whole range.
    (window,) = found[0].windows[0]
    assert window == (4 * S, 9 * S + 999)
    got = rows(app)
    assert got == reference(app) and len(got) == 60
    at5 = next(r for r in got if r["host"] == "h0" and r["time"].timestamp() == 5)
    assert (at5["f"], at5["g"]) == (105.0, 7)


def test_buffer_against_files(app: App) -> None:
    write(app, lines("w0", range(3), range(0, 10), 1.0))
    app.persister.persist()
    write(app, lines("w1", range(3), range(5, 15), 2.0))  # other series, same time
    assert groups(app) == []
    write(app, "cpu,w=w0,host=h1 f=-1 3000000000")  # a late rewrite of a persisted row
    found = groups(app)
    assert [g.members for g in found] == [(0, 1)]
    got = rows(app)
    assert got == reference(app) and len(got) == 60
    assert next(r for r in got if r["host"] == "h1" and r["time"].timestamp() == 3)["f"] == -1


def test_a_tag_missing_in_both_sources_still_meets(app: App) -> None:
    write(app, "cpu,w=w0 f=1 1000000000\ncpu,w=w0,host=h0 f=1 1000000000")
    app.persister.persist()
    write(app, "cpu,w=w0 f=2 1000000000")  # host null in both: the same key
    assert [g.members for g in groups(app)] == [(0, 1)]
    got = rows(app)
    assert got == reference(app) and [r["f"] for r in got] == [2.0, 1.0]


def test_compaction_leaves_no_overlapping_files(app: App) -> None:
    for round_ in range(3):
        write(app, lines("w0", range(2), range(0, 10), float(round_)))
        app.persister.persist()
    files = app.buffers.table("db", "cpu").files
    assert overlapping_file_indices(files) == {0, 1, 2}
    sql = "SELECT overlapping_files FROM system.tables WHERE table_name = 'cpu'"
    assert app.query.execute("db", sql).read_all().to_pylist() == [{"overlapping_files": 3}]
    expected = reference(app)
    app.persister.compact(min_files=100)  # overlap alone makes a partition compacted
    assert overlapping_file_indices(app.buffers.table("db", "cpu").files) == set()
    assert app.query.execute("db", sql).read_all().to_pylist() == [{"overlapping_files": 0}]
    found = "SELECT overlapping FROM system.parquet_files"
    assert {r["overlapping"] for r in app.query.execute("db", found).read_all().to_pylist()} == {
        False
    }
    assert rows(app) == expected


# --- the decisions on their own ------------------------------------------------------------


def bounds(lower: str | None, upper: str | None, nulls: bool = False) -> TagBounds:
    return TagBounds(lower, upper, values=lower is not None or upper is not None, nulls=nulls)


def test_tag_bounds_meet() -> None:
    assert tags_may_meet(bounds("a", "c"), bounds("c", "d"))
    assert not tags_may_meet(bounds("a", "b"), bounds("c", "d"))
    assert not tags_may_meet(bounds("c", "d"), bounds("a", "b"))
    assert tags_may_meet(bounds("a", None), bounds("z", "z"))  # unbounded above
    assert tags_may_meet(TagBounds(values=False, nulls=True), bounds("a", "b", nulls=True))
    assert not tags_may_meet(TagBounds(values=False, nulls=True), bounds("a", "b"))
    assert tags_may_meet(TagBounds(), bounds("a", "b"))  # unknown


def test_column_bounds_read_dictionaries_and_nulls() -> None:
    column = pa.chunked_array(
        [pa.array(["b", None, "d"]).dictionary_encode(), pa.array(["a"]).dictionary_encode()]
    )
    assert column_bounds(column) == TagBounds("a", "d", values=True, nulls=True)
    empty = pa.chunked_array([pa.array([None, None], pa.string()).dictionary_encode()])
    assert column_bounds(empty) == TagBounds(None, None, values=False, nulls=True)


def test_groups_join_through_chains_and_keep_windows_per_source() -> None:
    tags = {"host": bounds("a", "a")}
    sources = [
        SourceRange(0, 0, 10, tags=tags),
        SourceRange(1, 8, 20, tags=tags),
        SourceRange(2, 18, 30, tags=tags),
        SourceRange(3, 0, 30, tags={"host": bounds("b", "b")}),  # other series
    ]
    (group,) = overlap_groups(sources)
    assert group.members == (0, 1, 2)
    assert group.windows == {0: ((8, 10),), 1: ((8, 10), (18, 20)), 2: ((18, 20),)}


def test_windows_are_merged_down_to_the_limit() -> None:
    windows = [(0, 1), (10, 11), (12, 13), (100, 101)]
    assert merged_windows(windows, limit=2) == ((0, 13), (100, 101))
    assert merged_windows([(0, 5), (6, 9)]) == ((0, 9),)  # adjacent nanoseconds join
    assert "OR" in window_condition([(0, 1), (5, 6)])


def key(spec: int, *values: object, keyed: bool = True) -> PartitionKey:
    return PartitionKey(spec, values, keyed)


def sources_overlap(sources: list[tuple[PartitionKey | None, int, int]]) -> bool:
    ranges = [SourceRange(i, first, last, part) for i, (part, first, last) in enumerate(sources)]
    return bool(overlap_groups(ranges))


def test_files_of_different_partitions_never_share_keys() -> None:
    # Same hours, different host buckets: no deduplication needed.
    assert not sources_overlap([(key(1, 5, 0), 0, 100), (key(1, 5, 1), 0, 100)])
    # Same partition, overlapping times: may share keys.
    assert sources_overlap([(key(1, 5, 0), 0, 100), (key(1, 5, 0), 50, 60)])
    # Different specs: compared by time only.
    assert sources_overlap([(key(0, 0), 0, 100), (key(1, 5, 1), 50, 60)])
    assert not sources_overlap([(key(0, 0), 0, 100), (key(1, 5, 1), 101, 160)])
    # A spec on a field column cannot tell: time only.
    assert sources_overlap([(key(2, 1, keyed=False), 0, 100), (key(2, 2, keyed=False), 0, 9)])
    # The buffer (no partition) overlaps whatever it meets in time.
    assert sources_overlap([(key(1, 5, 0), 0, 100), (key(1, 5, 1), 0, 100), (None, 99, 200)])
    assert not sources_overlap([(key(1, 5, 0), 0, 100), (key(1, 5, 1), 0, 100), (None, 101, 9)])
    # Two partitions of spec 1 together span a spec-0 file's time: it overlaps.
    assert sources_overlap([(key(1, 5, 0), 0, 10), (key(1, 5, 1), 5, 20), (key(0, 0), 15, 16)])
    assert not sources_overlap([])
