"""A compaction planned before another node's commit must not outrank that commit.

Files are read in commit order and the last write wins, so a compacted file, committed
after a newer overlapping file it never saw, would bring back the rows that file
overwrote. ``IoxCatalog.replace_files`` refuses such a swap; the compactor retries later
with the newer file in its plan (the cluster conformance test met this race).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pyiceberg.exceptions import ValidationException

from flight_iox.app import App, build_app
from flight_iox.auth.policy import ANONYMOUS
from flight_iox.config import Settings
from flight_iox.persist.compactor import compact_table


@pytest.fixture
def app(tmp_path: Path) -> App:
    app = build_app(Settings(data_dir=tmp_path, wal_fsync=False, persist_max_age_seconds=3600))
    yield app
    app.close()


def _write_and_persist(app: App, line: bytes) -> None:
    app.engine.write_line_protocol("db", line, principal=ANONYMOUS)
    app.persister.persist()


def _temps(app: App) -> list[dict]:
    sql = "SELECT temp, time FROM h2o ORDER BY time"
    return app.query.execute("db", sql).read_all().to_pylist()


def test_a_compaction_that_missed_a_newer_overlapping_file_is_refused(app: App) -> None:
    _write_and_persist(app, b"h2o,city=b temp=70.4 250")
    _write_and_persist(app, b"h2o,city=b temp=1 300")
    state = app.buffers.table("db", "h2o")
    seen = list(state.files)  # the compactor's view: two files
    _write_and_persist(app, b"h2o,city=b temp=80 250")  # another node's overwrite
    newest = list(state.files)
    state.replace_files(seen)  # the compactor has not followed that commit yet
    schema = app.catalog.database("db").tables["h2o"].arrow_schema()
    with pytest.raises(ValidationException, match="newer"):
        compact_table(app.tables, "db", "h2o", schema, min_files=2)
    state.replace_files(newest)  # followed: the next pass compacts all three
    report = compact_table(app.tables, "db", "h2o", schema, min_files=2)
    assert (report.files_before, report.files_after) == (3, 1)
    times = [250, 300]
    assert [r["temp"] for r in _temps(app)] == [80.0, 1.0]
    assert [r["time"].value for r in _temps(app)] == times
