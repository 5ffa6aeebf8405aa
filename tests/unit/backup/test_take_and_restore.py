"""The backup's plan is taken under the lock; a persist before the copy must not change it.

A persist between the two deletes the WAL segments it covered and writes files this
backup does not copy: the backup still holds those entries through its hard links.
The steps run in order here (``_snapshot``, then a persist, then ``_copy``), each the
real function ``take_backup`` runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from flight_iox.app import App, build_app
from flight_iox.auth.policy import ANONYMOUS
from flight_iox.backup.location import open_location
from flight_iox.backup.restore import restore
from flight_iox.backup.take import _copy, _snapshot
from flight_iox.config import Settings

T0 = 1_700_000_000_000_000_000


def _settings(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir, wal_fsync=False, wal_segment_bytes=4096)


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    app = build_app(_settings(tmp_path / "src"))
    yield app
    app.close()


def _write(app: App, start: int, count: int) -> None:
    for i in range(start, start + count):
        body = f"cpu,host=h{i % 3} n={i}i {T0 + i}".encode()
        app.engine.write_line_protocol("db", body, principal=ANONYMOUS)


def _ns(app: App) -> list[int]:
    table = app.query.execute("db", "SELECT n FROM cpu ORDER BY n").read_all()
    return [int(v) for v in table.column("n").to_pylist()]


def test_a_persist_between_plan_and_copy_loses_nothing(app: App, tmp_path: Path) -> None:
    persister = app.persister
    _write(app, 0, 100)
    persister.persist()
    _write(app, 100, 100)  # only in the WAL, over several segments
    staging = tmp_path / "staging"
    staging.mkdir()
    with persister.cycle_lock:
        plan = _snapshot(app.backup, staging)
    _write(app, 200, 50)  # after the backup's sequence: not in it
    persister.persist()  # deletes the segments holding 100..199
    assert not any(p.name == plan.segments[0][0].name for p in app.wal.segment_paths())
    manifest = _copy(app.storage, plan, open_location(str(tmp_path / "backup")))
    assert manifest.wal_sequence == 200
    restore(open_location(str(tmp_path / "backup")), _settings(tmp_path / "new"))
    restored = build_app(_settings(tmp_path / "new"))
    try:
        assert _ns(restored) == list(range(200))
    finally:
        restored.close()
