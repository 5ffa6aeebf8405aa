"""Persisted files: tags decode straight into dictionaries, and the pages stay plain Parquet."""

from __future__ import annotations

import logging
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from datafusion import SessionContext

from flight_iox.auth.policy import ANONYMOUS
from flight_iox.config import Settings
from flight_iox.engine.engine import Engine
from flight_iox.persist.persister import Persister

TAG = pa.dictionary(pa.int32(), pa.string())


def test_tags_are_stored_as_dictionaries(tmp_path: Path) -> None:
    engine = Engine(Settings(data_dir=tmp_path, wal_fsync=False))
    try:
        engine.write_line_protocol(
            "db", b"m,host=b,region=r v=1 1\nm,host=a v=2 2\nm,host=c v=3 3", principal=ANONYMOUS
        )
        Persister(engine).persist()
        (path,) = tmp_path.rglob("*.parquet")
        assert pq.read_schema(path).field("host").type == TAG
        assert pq.read_schema(path).field("region").type == TAG  # with a null
        context = SessionContext()
        context.register_parquet("f", str(path))
        assert context.table("f").schema().field("host").type == TAG
        # What other engines see: string columns with exact statistics.
        metadata = pq.ParquetFile(path).metadata
        host = metadata.row_group(0).column(metadata.schema.names.index("host"))
        assert str(metadata.schema.column(metadata.schema.names.index("host")).logical_type) == (
            "String"
        )
        assert (host.statistics.min, host.statistics.max) == ("a", "c")
        rows = engine.query.execute("db", "SELECT host, region, v FROM m ORDER BY v").read_all()
        assert rows.to_pylist() == [
            {"host": "b", "region": "r", "v": 1.0},
            {"host": "a", "region": None, "v": 2.0},
            {"host": "c", "region": None, "v": 3.0},
        ]
        assert rows.schema.field("host").type == TAG
    finally:
        engine.close()


def test_no_dictionary_notice_per_file(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    engine = Engine(Settings(data_dir=tmp_path, wal_fsync=False))
    try:
        engine.write_line_protocol("db", b"m,host=a v=1 1", principal=ANONYMOUS)
        with caplog.at_level(logging.WARNING):
            Persister(engine).persist()
        assert not [r for r in caplog.records if "dictionary" in r.getMessage()]
    finally:
        engine.close()
