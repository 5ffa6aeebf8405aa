"""Compaction turns overlapping files into non-overlapping ones, reading a bounded amount.

Real persists and compactions of an in-process app: a stream of persists whose files
overlap their predecessor at the edge (late rows of the previous seconds, as two writers
produce) is compacted after each persist; the table keeps no overlapping file, no job reads
much more than the target, and every answer equals deduplicating all the files at once.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from flight_iox.app import App, build_app
from flight_iox.auth.policy import ANONYMOUS
from flight_iox.columns import TAG_TYPE, TIME_TYPE, ColumnRole, role_field
from flight_iox.config import Settings
from flight_iox.engine.dedupe import deduplicate
from flight_iox.persist.compaction_plan import (
    CompactionJob,
    merged_rows,
    plan_compaction,
    time_slices,
)
from flight_iox.query.overlap import overlapping_file_indices
from iox_catalog.files import DataFile, TagBounds
from iox_catalog.partitioning import PartitionKey

S = 1_000_000_000
TARGET = 40


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    built = build_app(Settings(data_dir=tmp_path, wal_fsync=False, parquet_cache_size=0))
    yield built
    built.close()


def write(app: App, lines: list[str]) -> None:
    app.engine.write_line_protocol("db", "\n".join(lines).encode(), principal=ANONYMOUS)


def all_rows(app: App) -> list[dict]:
    found = app.query.execute("db", "SELECT * FROM cpu").read_all().to_pylist()
    return sorted(found, key=lambda r: (r["w"], r["host"], r["time"]))


@pytest.mark.parametrize("late", [1, 2], ids=["edge of other series", "rewrites own rows"])
def test_edge_overlaps_are_compacted_into_non_overlapping_files(app: App, late: int) -> None:
    expected: dict[tuple, float] = {}
    shares = app.persister.tables.series.check()
    for step in range(8):
        lines = []
        # Two writers, each its own series; w1's first seconds are late (before w0's last):
        # one second late meets only w0's rows (other series), two rewrite w1's own last.
        for w, first in (("w0", step * 10), ("w1", step * 10 - late)):
            for second in range(first, first + 10):
                for host in range(2):
                    value = float(step * 1000 + second)
                    lines.append(f"cpu,w={w},host=h{host} f={value} {max(second, 0) * S}")
                    expected[(w, f"h{host}", max(second, 0))] = value
        write(app, lines)
        app.persister.persist()
        files = app.buffers.table("db", "cpu").files
        jobs = plan_compaction(files, min_files=4, target_rows=TARGET, shares=shares)
        assert all(sum(f.record_count for f in job.files) <= 3 * TARGET for job in jobs)
        app.persister.compact(min_files=4, target_rows=TARGET)
        files = app.buffers.table("db", "cpu").files
        assert overlapping_file_indices(files, shares) == set()
        assert all(f.record_count <= TARGET for f in files)
    got = {(r["w"], r["host"], int(r["time"].timestamp())): r["f"] for r in all_rows(app)}
    assert got == expected


def file(path: str, first: int, last: int, rows: int, host: str = "a", seq: int = 1) -> DataFile:
    tags = (("host", TagBounds(host, host, values=True, nulls=False)),)
    return DataFile(path, rows, 1, first, last, seq, True, PartitionKey(0, (0,)), tags)


def test_plan_merges_groups_and_small_neighbours_only() -> None:
    files = [
        file("a", 0, 10, 5, seq=1),
        file("b", 5, 20, 5, seq=2),  # overlaps a
        file("c", 30, 40, 100, seq=3),  # full size, apart
        file("d", 50, 60, 5, "x", seq=4),
        file("e", 50, 60, 5, "y", seq=5),  # same time as d, other series
    ]
    jobs = plan_compaction(files, min_files=10, target_rows=50)
    assert [[f.path for f in job.files] for job in jobs] == [["a", "b"]]
    assert jobs[0].windows == {"a": ((5000, 10999),), "b": ((5000, 10999),)}
    jobs = plan_compaction(files, min_files=5, target_rows=50)
    assert [[f.path for f in job.files] for job in jobs] == [["a", "b"], ["d", "e"]]
    assert plan_compaction(files[2:3], min_files=1) == []


def table(times: list[int], values: list[float]) -> pa.Table:
    host = pa.array(["a"] * len(times)).dictionary_encode()
    schema = pa.schema(
        [
            role_field("f", pa.float64(), ColumnRole.FIELD),
            role_field("host", TAG_TYPE, ColumnRole.TAG),
            role_field("time", TIME_TYPE, ColumnRole.TIME),
        ]
    )
    return pa.table([pa.array(values), host, pa.array(times, pa.timestamp("ns"))], schema=schema)


def test_merged_rows_deduplicate_only_in_windows_and_equal_full_dedupe() -> None:
    old = table([1, 2, 3, 4], [1.0, 2.0, 3.0, 4.0])
    new = table([3, 4, 5], [30.0, None, 50.0])
    job = CompactionJob(
        (file("old", 0, 0, 4, seq=1), file("new", 0, 0, 3, seq=2)),
        {"old": ((3, 4),), "new": ((3, 4),)},
    )
    merged = merged_rows(job, [old, new]).sort_by("time")
    assert (
        merged.to_pylist() == deduplicate(pa.concat_tables([old, new])).sort_by("time").to_pylist()
    )
    assert merged.column("f").to_pylist() == [1.0, 2.0, 30.0, 4.0, 50.0]


def test_time_slices_are_disjoint_and_complete() -> None:
    rows = table([5, 1, 3, 3, 3, 9, 7, 2, 8, 6], [float(i) for i in range(10)])
    slices = time_slices(rows, 3)
    assert sum(s.num_rows for s in slices) == 10
    assert all(s.num_rows <= 3 for s in slices)
    times = [s.column("time").to_pylist() for s in slices]
    assert all(max(a) < min(b) for a, b in itertools.pairwise(times))
    assert time_slices(rows, 100) == [rows]
