"""Unreadable data files: the check, the error carried through DataFusion, the cache and
the table builder (only the table with the bad file fails, and only when scanned)."""

from __future__ import annotations

import errno
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from datafusion import SessionContext

from flight_iox.columns import TIME_COLUMN, TIME_TYPE, ColumnRole, role_field
from flight_iox.engine.buffer import TableSnapshot
from flight_iox.errors import (
    DataFileUnavailableError,
    InsufficientStorageError,
    QueryError,
    carried_error,
    query_error,
    status_of,
    storage_full,
)
from flight_iox.query.file_cache import FileCache
from flight_iox.query.file_checks import UnreadableFileError, checked_schema, file_problem
from flight_iox.query.tables import TableBuilder
from iox_catalog.config import CatalogConfig
from iox_catalog.files import DataFile
from iox_catalog.storage import Storage, open_storage

SCHEMA = pa.schema(
    [
        role_field("v", pa.float64(), ColumnRole.FIELD),
        role_field(TIME_COLUMN, TIME_TYPE, ColumnRole.TIME),
    ]
)


def storage(tmp_path: Path) -> Storage:
    return open_storage(CatalogConfig.local(tmp_path).store)


def write_file(path: Path, rows: int = 3) -> DataFile:
    micros = pa.array(range(rows), pa.int64()).cast(pa.timestamp("us"))
    pq.write_table(pa.table({"v": [float(i) for i in range(rows)], TIME_COLUMN: micros}), path)
    return DataFile(f"file://{path}", rows, path.stat().st_size, 0, rows - 1, 1, False)


def test_the_error_survives_datafusion_formatting_and_maps_to_500() -> None:
    error = DataFileUnavailableError("s3://b/x 'y'.parquet", "db.t", "not found")
    text = f"Execution error: PyErr {{ value: RuntimeError({error.carried()!r}) }}"
    found = query_error(text)
    assert isinstance(found, DataFileUnavailableError)
    assert (found.path, found.table, found.reason) == (error.path, "db.t", "not found")
    assert found.as_json()["repair"] == "flight-iox repair --db db"
    assert status_of(found) == (500, "INTERNAL")
    assert isinstance(query_error("Schema error: no field x"), QueryError)
    assert carried_error("no marker") is None


def test_storage_full_recognises_no_space_along_the_cause_chain() -> None:
    cause = OSError(errno.ENOSPC, "No space left on device")
    try:
        raise RuntimeError("commit failed") from cause
    except RuntimeError as wrapped:
        full = storage_full(wrapped, "/data/wal")
    assert isinstance(full, InsufficientStorageError)
    assert status_of(full) == (507, "RESOURCE_EXHAUSTED")
    assert "/data/wal" in full.message and "No space left" in full.message
    assert storage_full(OSError(errno.EFBIG, "File too large"), "/x") is not None
    assert storage_full(Exception("(sqlite3.OperationalError) database or disk is full"), "/x")
    assert storage_full(OSError(errno.EACCES, "Permission denied"), "/x") is None


def test_checks_say_what_is_wrong(tmp_path: Path) -> None:
    store = storage(tmp_path)
    good = write_file(tmp_path / "good.parquet")
    assert checked_schema(good, store).names == ["v", TIME_COLUMN]
    assert file_problem(good, store) is None
    missing = write_file(tmp_path / "gone.parquet")
    (tmp_path / "gone.parquet").unlink()
    assert file_problem(missing, store) == "not found"
    cut = write_file(tmp_path / "cut.parquet")
    data = (tmp_path / "cut.parquet").read_bytes()
    (tmp_path / "cut.parquet").write_bytes(data[:-10])
    assert "the catalog recorded" in (file_problem(cut, store) or "")
    garbage = tmp_path / "garbage.parquet"
    garbage.write_bytes(b"PAR1" + b"\xff" * 32 + b"PAR1")
    bad = DataFile(f"file://{garbage}", 3, 0, 0, 2, 1)  # size unknown: the footer decides
    with pytest.raises(UnreadableFileError) as raised:
        checked_schema(bad, store)
    assert raised.value.reason and "\n" not in raised.value.reason


def test_the_cache_skips_a_file_it_cannot_load(tmp_path: Path) -> None:
    def load(file: DataFile, schema: pa.Schema) -> pa.Table:
        if "gone" in file.path:
            raise FileNotFoundError(file.path)
        return pa.table({"v": [1.0]})

    cache = FileCache(1_000_000, load)
    files = [DataFile("gone", 1, 1, 0, 5, 1), DataFile("here", 1, 1, 0, 1, 1)]
    assert list(cache.tables(files, pa.schema([("v", pa.float64())]))) == ["here"]


@pytest.mark.parametrize("cache_bytes", [0, 10_000_000], ids=["parquet", "cache"])
def test_only_the_table_with_a_lost_file_fails_and_only_when_scanned(
    tmp_path: Path, cache_bytes: int
) -> None:
    store = storage(tmp_path)
    lost = write_file(tmp_path / "lost.parquet")
    (tmp_path / "lost.parquet").unlink()
    kept = write_file(tmp_path / "kept.parquet")
    cache = FileCache(cache_bytes, lambda f, s: pq.read_table(store.path(f.path)))
    builder = TableBuilder(2, cache, lambda file: checked_schema(file, store))
    empty = SCHEMA.empty_table()
    context = SessionContext()
    context.register_table(
        "broken", builder.provider(SCHEMA, TableSnapshot((kept, lost), empty), None, "db.broken")
    )
    context.register_table(
        "fine", builder.provider(SCHEMA, TableSnapshot((kept,), empty), None, "db.fine")
    )
    assert context.sql("SELECT count(*) AS n FROM fine").to_pylist() == [{"n": 3}]
    assert context.sql("SELECT 1 AS one FROM broken WHERE false").to_pylist() == []
    for sql in ("SELECT count(*) FROM broken", "SELECT * FROM broken WHERE v > 1"):
        frame = context.sql(sql)
        with pytest.raises(DataFileUnavailableError) as raised:
            builder.raise_if_unavailable(frame)  # before anything streams
        assert raised.value.path == lost.path and raised.value.table == "db.broken"
        with pytest.raises(Exception) as executed:  # and if it ran anyway
            frame.to_arrow_table()
        assert isinstance(query_error(str(executed.value)), DataFileUnavailableError)
