"""Persisted files: plain Parquet strings to other engines, dictionaries to our own reads."""

from __future__ import annotations

import logging
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from flight_iox.app import build_app
from flight_iox.auth.policy import ANONYMOUS
from flight_iox.config import Settings
from flight_iox.persist import parquet_files

TAG = pa.dictionary(pa.int32(), pa.string())


@pytest.mark.parametrize("hint", [False, True], ids=["strings-stored", "older-dictionary-hint"])
@pytest.mark.parametrize("cache", [True, False], ids=["cache", "no-cache"])
def test_tags_are_dictionary_pages_read_back_as_dictionaries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hint: bool, cache: bool
) -> None:
    monkeypatch.setattr(parquet_files, "DICTIONARY_HINT", hint)  # True: files written before
    size = Settings.parquet_cache_size if cache else 0
    app = build_app(Settings(data_dir=tmp_path, wal_fsync=False, parquet_cache_size=size))
    try:
        app.engine.write_line_protocol(
            "db", b"m,host=b,region=r v=1 1\nm,host=a v=2 2\nm,host=c v=3 3", principal=ANONYMOUS
        )
        app.persister.persist()
        (path,) = tmp_path.rglob("*.parquet")
        # What other engines see: strings (no dictionary type to warn about) with exact
        # statistics, written as dictionary pages.
        stored = pq.read_schema(path)
        assert stored.field("host").type == (TAG if hint else pa.string())
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
