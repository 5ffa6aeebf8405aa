"""The writer, the compactor and query planning all follow the table's partition spec."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pyarrow as pa
import pytest

from flight_iox.app import App, build_app
from flight_iox.auth.policy import ANONYMOUS
from flight_iox.config import Settings
from flight_iox.errors import BadRequestError
from flight_iox.persist.parquet_files import write_partitioned
from flight_iox.persist.partition_by import partition_by, set_partition_by
from flight_iox.query.overlap import overlap_groups, table_sources
from iox_catalog.files import StaleSpecError
from iox_catalog.schema import column_kinds

T0 = 1_700_000_000_000_000_000  # 2023-11-14T22:13:20Z
MINUTE = 60_000_000_000


def lines(count: int, usage: float, start: int = T0) -> bytes:
    """``count`` rows a minute apart over 8 hosts (so over several hours and buckets)."""
    return "\n".join(
        f"cpu,host=h{i % 8} usage={usage + i} {start + i * MINUTE}" for i in range(count)
    ).encode()


@pytest.fixture
def app(tmp_path: Path) -> App:
    app = build_app(Settings(data_dir=tmp_path, wal_fsync=False, persist_max_age_seconds=3600))
    yield app
    app.close()


def schema_of(app: App) -> pa.Schema:
    return app.catalog.database("db").tables["cpu"].arrow_schema()


def rows(app: App) -> list[dict]:
    sql = "SELECT host, usage, time FROM cpu ORDER BY host, time"
    return app.query.execute("db", sql).read_all().to_pylist()


def test_default_is_day_and_paths_are_unchanged(app: App, tmp_path: Path) -> None:
    app.engine.write_line_protocol("db", lines(3, 0.0), principal=ANONYMOUS)
    assert partition_by(app.persister, "db", "cpu") == ["day(time)"]
    app.persister.persist()
    assert partition_by(app.persister, "db", "cpu") == ["day(time)"]
    (file,) = app.buffers.table("db", "cpu").files
    assert file.partition is not None and file.partition.values == (19675,)  # 2023-11-14
    assert "/data/time_day=2023-11-14/" in file.path


def test_partitions_split_compact_and_prune(app: App) -> None:
    persister = app.persister
    app.engine.write_line_protocol("db", lines(240, 0.0), principal=ANONYMOUS)
    expected = rows(app)
    fields = set_partition_by(persister, "db", "cpu", ["hour(time)", "bucket(4, host)"])
    assert fields == ["hour(time)", "bucket(4, host)"]
    persister.persist()
    state = app.buffers.table("db", "cpu")
    keys = Counter(f.partition for f in state.files)
    assert len(keys) == len(state.files) > 4 and set(keys.values()) == {1}
    # Files of different buckets overlap in time, yet cannot share a key: no dedupe.
    snapshot = app.buffers.snapshot("db", "cpu", schema_of(app))
    assert not overlap_groups(table_sources(snapshot.files, snapshot.buffered))
    assert rows(app) == expected

    app.engine.write_line_protocol("db", lines(240, 1000.0), principal=ANONYMOUS)
    persister.persist()
    snapshot = app.buffers.snapshot("db", "cpu", schema_of(app))
    assert overlap_groups(table_sources(snapshot.files, snapshot.buffered))
    report = persister.compact()
    assert report.partitions == len(keys) and report.files_after == len(keys)
    assert Counter(f.partition for f in state.files) == keys  # merged within partitions only
    assert [r["usage"] for r in rows(app)] == [r["usage"] + 1000 for r in expected]


def test_a_file_split_by_an_old_spec_is_not_committed(app: App) -> None:
    app.engine.write_line_protocol("db", lines(10, 0.0), principal=ANONYMOUS)
    persister = app.persister
    persister.persist()
    schema = schema_of(app)
    target = app.iceberg.write_target("db", "cpu", schema)
    data = app.query.execute("db", "SELECT * FROM cpu").read_all()
    written = write_partitioned(data, column_kinds(schema), target, app.storage)
    set_partition_by(persister, "db", "cpu", ["host"])
    with pytest.raises(
        StaleSpecError, match=r"partitioned by spec 1, but the table.s spec is now 2"
    ):
        app.iceberg.commit_files("db", "cpu", schema, written, 1)


def test_only_time_and_tags_partition(app: App) -> None:
    app.engine.write_line_protocol("db", lines(2, 0.0), principal=ANONYMOUS)
    with pytest.raises(BadRequestError, match="'usage' is a field"):
        set_partition_by(app.persister, "db", "cpu", ["usage"])
    assert partition_by(app.persister, "db", "cpu") == ["day(time)"]


@pytest.mark.parametrize("cache", [0, 64 << 20], ids=["parquet", "parquet-cache"])
def test_tag_values_that_are_not_path_safe(tmp_path: Path, cache: int) -> None:
    """Partition folders of odd tag values read back, also straight from Parquet by URI."""
    settings = Settings(data_dir=tmp_path, wal_fsync=False, parquet_cache_size=cache)
    app = build_app(settings)
    try:
        body = "cpu,host=a/b v=1 1\ncpu,host=a\\ b v=2 2\ncpu,host=é%2F v=3 3\n"
        body += "cpu,host=.. v=4 4\ncpu,host=a+b v=5 5\ncpu v=6 6"
        app.engine.write_line_protocol("db", body.encode(), principal=ANONYMOUS)
        persister = app.persister
        set_partition_by(persister, "db", "cpu", ["host"])
        persister.persist()
        paths = sorted(f.path.rsplit("/", 2)[1] for f in app.buffers.table("db", "cpu").files)
        assert paths == [
            "host=a~20b", "host=a~2Bb", "host=a~2Fb", "host=null", "host=~2E~2E",
            "host=~C3~A9~252F",
        ]  # fmt: skip
        found = app.query.execute("db", "SELECT host, v FROM cpu ORDER BY v").read_all()
        assert found.column("host").to_pylist() == ["a/b", "a b", "é%2F", "..", "a+b", None]
    finally:
        app.close()
