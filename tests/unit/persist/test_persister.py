"""The persister's triggers, and WAL segments trimmed once everything in them is persisted."""

from __future__ import annotations

import time
from pathlib import Path

from flight_iox.app import App, build_app
from flight_iox.auth.policy import ANONYMOUS
from flight_iox.config import Settings


def lines(start: int, count: int) -> bytes:
    return "\n".join(f"m,k=a v={i} {1_000 + i}" for i in range(start, start + count)).encode()


def app_with(tmp_path: Path, **overrides: object) -> App:
    settings = {"data_dir": tmp_path, "wal_fsync": False, "persist_max_age_seconds": 3600.0}
    return build_app(Settings(**{**settings, **overrides}))


def test_row_count_trigger_and_wal_trimming(tmp_path: Path) -> None:
    app = app_with(tmp_path, persist_max_rows=50, wal_segment_bytes=2_048)
    try:
        persister = app.persister
        app.engine.write_line_protocol("db", lines(0, 40), principal=ANONYMOUS)
        assert not persister.due()
        for start in range(40, 100, 10):  # many small writes: several WAL segments
            app.engine.write_line_protocol("db", lines(start, 10), principal=ANONYMOUS)
        assert persister.due()
        segments_before = len(app.wal.segment_paths())
        assert segments_before > 2
        report = persister.persist()
        assert report.rows == 100 and not report.failures
        assert not persister.due()
        assert len(app.wal.segment_paths()) < segments_before  # persisted segments are gone
        assert app.buffers.table("db", "m").buffered_rows() == 0
        rows = app.query.execute("db", "SELECT count(*) AS n FROM m").read_all()
        assert rows.column("n")[0].as_py() == 100
    finally:
        app.close()


def test_age_trigger(tmp_path: Path) -> None:
    app = app_with(tmp_path, persist_max_age_seconds=0.05)
    try:
        persister = app.persister
        app.engine.write_line_protocol("db", lines(0, 1), principal=ANONYMOUS)
        time.sleep(0.1)
        assert persister.due()
        persister.persist()
        assert not persister.due()
    finally:
        app.close()


def test_memory_trigger(tmp_path: Path) -> None:
    app = app_with(tmp_path, buffer_memory_limit=4_096)
    try:
        persister = app.persister
        app.engine.write_line_protocol("db", lines(0, 200), principal=ANONYMOUS)
        assert app.buffers.total_bytes > 2_048
        assert persister.due()
        persister.persist()
        assert app.buffers.total_bytes < 2_048
    finally:
        app.close()


def _sample(app: App, name: str) -> float:
    value = app.metrics.registry.get_sample_value(f"flight_iox_parquet_cache_{name}")
    assert value is not None
    return value


def test_persisted_and_compacted_files_are_decoded_before_any_query(tmp_path: Path) -> None:
    """The persister fills the Parquet cache, so the next query decodes nothing (issue 20)."""
    app = app_with(tmp_path)
    try:
        for start in (0, 50):
            app.engine.write_line_protocol("db", lines(start, 50), principal=ANONYMOUS)
            app.persister.persist()
        assert _sample(app, "bytes") > 0  # no query has run yet
        app.persister.compact(min_files=2)
        assert len(app.buffers.table("db", "m").files) == 1
        misses = _sample(app, "misses_total")
        rows = app.query.execute("db", "SELECT count(*) AS n FROM m").read_all()
        assert rows.column("n")[0].as_py() == 100
        assert _sample(app, "misses_total") == misses  # the compacted file was already in memory
        assert _sample(app, "hits_total") >= 1
    finally:
        app.close()
