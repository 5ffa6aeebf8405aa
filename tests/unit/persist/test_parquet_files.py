"""Persisted files: plain Parquet strings to pyarrow (PyIceberg), dictionaries to our reads."""

from __future__ import annotations

import logging
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from datafusion import SessionContext

from flight_iox.app import build_app
from flight_iox.auth.policy import ANONYMOUS
from flight_iox.columns import ColumnRole
from flight_iox.config import Settings
from flight_iox.persist import parquet_files

TAG = pa.dictionary(pa.int32(), pa.string())


@pytest.mark.parametrize("stored", list(parquet_files.StoredSchema))  # older files: the others
@pytest.mark.parametrize("cache", [True, False], ids=["cache", "no-cache"])
def test_tags_are_dictionary_pages_read_back_as_dictionaries(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    stored: parquet_files.StoredSchema,
    cache: bool,
) -> None:
    monkeypatch.setattr(parquet_files, "STORED_SCHEMA", stored)
    size = Settings.parquet_cache_size if cache else 0
    app = build_app(Settings(data_dir=tmp_path, wal_fsync=False, parquet_cache_size=size))
    try:
        app.engine.write_line_protocol(
            "db", b"m,host=b,region=r v=1 1\nm,host=a v=2 2\nm,host=c v=3 3", principal=ANONYMOUS
        )
        app.persister.persist()
        (path,) = tmp_path.rglob("*.parquet")
        # What pyarrow (and so PyIceberg) sees: strings (no dictionary type to warn about)
        # with exact statistics, written as dictionary pages.
        dictionary = stored is parquet_files.StoredSchema.DICTIONARY
        assert pq.read_schema(path).field("host").type == (TAG if dictionary else pa.string())
        metadata = pq.ParquetFile(path).metadata
        index = metadata.schema.names.index("host")
        assert str(metadata.schema.column(index).logical_type) == "String"
        host = metadata.row_group(0).column(index)
        assert (host.statistics.min, host.statistics.max) == ("a", "c")
        assert "RLE_DICTIONARY" in host.encodings
        rows = app.query.execute("db", "SELECT host, region, v FROM m ORDER BY v").read_all()
        assert rows.to_pylist() == [
            {"host": "b", "region": "r", "v": 1.0},
            {"host": "a", "region": None, "v": 2.0},
            {"host": "c", "region": None, "v": 3.0},
        ]
        assert rows.schema.field("host").type == TAG
        assert rows.schema.field("region").type == TAG  # with a null
    finally:
        app.close()


def test_no_dictionary_notice_per_file(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    app = build_app(Settings(data_dir=tmp_path, wal_fsync=False))
    try:
        app.engine.write_line_protocol("db", b"m,host=a v=1 1", principal=ANONYMOUS)
        with caplog.at_level(logging.WARNING):
            app.persister.persist()
        assert not [r for r in caplog.records if "dictionary" in r.getMessage()]
    finally:
        app.close()


def test_split_schema_reads_as_strings_in_pyarrow_and_dictionaries_in_datafusion(
    tmp_path: Path,
) -> None:
    """Pins the two libraries' lookups of the repeated ``ARROW:schema`` key (the trap in
    ``parquet_files``): if this fails after an upgrade, PyIceberg warns again or scans of
    files outside the Parquet cache cast tags again; answers stay the same."""
    assert parquet_files.STORED_SCHEMA is parquet_files.StoredSchema.SPLIT
    app = build_app(Settings(data_dir=tmp_path, wal_fsync=False))
    try:
        app.engine.write_line_protocol("db", b"m,host=a v=1 1", principal=ANONYMOUS)
        app.persister.persist()
    finally:
        app.close()
    (path,) = tmp_path.rglob("*.parquet")
    written = pq.read_schema(path)
    assert written.field("host").type == pa.string()
    strings = tmp_path / "strings.parquet"
    pq.write_table(pq.read_table(path), strings, store_schema=False)
    assert written.equals(pq.read_schema(strings), check_metadata=True)  # nothing else differs
    context = SessionContext()
    context.register_parquet("written", str(path))
    assert context.table("written").schema().field("host").type == TAG


def test_dictionary_tags_sort_as_their_strings() -> None:
    """Tags are sorted by their values' ranks in the dictionary (integers, not strings);
    the order must be the strings' order exactly: chunks with different dictionaries, values
    a dictionary holds but no row uses, and null rows."""
    host = pa.chunked_array(
        [
            pa.DictionaryArray.from_arrays(
                pa.array([2, 0, None, 1, 3, 0], pa.int32()), pa.array(["c", "a", "b", "d"])
            ),
            pa.DictionaryArray.from_arrays(
                pa.array([1, 0, 2, None, 1], pa.int32()), pa.array(["b", "z", "a", "unused"])
            ),
        ]
    )
    region = pa.chunked_array(
        [pa.array(["x", "y", "x", None, "y", "x"]), pa.array(["y", "x", None, "x", "x"])]
    ).dictionary_encode()
    times = pa.array([5, 3, 9, 1, 2, 7, 4, 4, 8, 6, 0], pa.int64()).cast(pa.timestamp("ns"))
    rows = pa.table({"host": host, "region": region, "time": times})
    kinds = {"host": ColumnRole.TAG, "region": ColumnRole.TAG, "time": ColumnRole.TIME}
    for tags in (["host", "region"], ["region", "host"]):
        plain = rows.select([*tags, "time"]).cast(
            pa.schema([pa.field(t, pa.string()) for t in tags] + [pa.field("time", times.type)])
        )
        order = pc.sort_indices(
            plain, sort_keys=[(n, "ascending", "at_start") for n in plain.column_names]
        )
        assert parquet_files.sort_rows(rows, kinds, tags).equals(rows.take(order))
