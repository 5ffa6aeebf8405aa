"""A persist or compaction puts the rows it wrote in the Parquet cache, decoding nothing,
and those rows are exactly what decoding the file gives (types, values, nanoseconds)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from flight_iox.app import App, build_app
from flight_iox.auth.policy import ANONYMOUS
from flight_iox.config import Settings
from flight_iox.persist.parquet_files import read_model_rows
from flight_iox.query.file_cache import FileCache
from iox_catalog.files import DataFile

DAY_NS = 86_400 * 10**9


def lines(days: int, offset: int = 0) -> bytes:
    """Rows of every kind of column over ``days`` days: null tags, strings, booleans,
    unsigned and signed integers, floats and times with a nanosecond remainder."""
    out = []
    for day in range(days):
        for i in range(40):
            tags = f",host=h{(i * 7) % 13}" + (f",rack=r{i % 3}" if i % 4 else "")
            fields = f"f={i / 3 + offset},i={i * 1000 - 7}i,u={i}u,b={'true' if i % 2 else 'f'}"
            fields += f',s="text {i % 5}"' if i % 3 else ""
            out.append(f"cpu{tags} {fields} {day * DAY_NS + i * 1_000_001 + offset}")
    return "\n".join(out).encode()


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    built = build_app(Settings(data_dir=tmp_path, wal_fsync=False, parquet_cache_size=1 << 30))
    yield built
    built.close()


def decoded_loads(app: App, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths the Parquet cache decodes from here on."""
    cache = app.query._tables._file_cache
    assert isinstance(cache, FileCache)
    loads: list[str] = []
    load = cache._load

    def counted(file: DataFile, schema: pa.Schema) -> pa.Table:
        loads.append(file.path)
        return load(file, schema)

    monkeypatch.setattr(cache, "_load", counted)
    return loads


def assert_cached_as_decoded(app: App) -> int:
    """Every file of ``cpu`` is cached, and equal to reading it back; how many files."""
    schema = app.catalog.database("db").tables["cpu"].arrow_schema()
    files = app.buffers.table("db", "cpu").files
    held = app.query.cached_files(files)
    assert set(held) == {f.path for f in files}
    for file in files:
        expected = read_model_rows(file.path, schema, app.storage)
        assert held[file.path].schema == expected.schema
        assert held[file.path].to_pylist() == expected.to_pylist()
    return len(files)


@pytest.mark.parametrize(("days", "decoded"), [(2, 0), (10, 10)], ids=["kept", "sliced"])
def test_a_persist_caches_its_rows_without_decoding(
    app: App, monkeypatch: pytest.MonkeyPatch, days: int, decoded: int
) -> None:
    """One file per day partition, cached from the rows written. Past eight partitions each
    one's rows are slices of one gathered table: kept, they would hold all of it behind the
    cache's count, so those files are decoded instead."""
    loads = decoded_loads(app, monkeypatch)
    app.engine.write_line_protocol("db", lines(days=days), principal=ANONYMOUS)
    app.persister.persist()
    assert assert_cached_as_decoded(app) == days
    assert len(loads) == decoded


def test_compaction_caches_its_rows_without_decoding(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    for offset in range(3):  # overlapping files: compaction merges them, last write wins
        app.engine.write_line_protocol("db", lines(days=1, offset=offset % 2), principal=ANONYMOUS)
        app.persister.persist()
    loads = decoded_loads(app, monkeypatch)
    app.persister.compact(min_files=2)
    assert assert_cached_as_decoded(app) == 1
    assert loads == []
    assert app.query.execute("db", "SELECT count(*) AS n FROM cpu").read_all()["n"][0].as_py() == 80
