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

from flight_iox.auth.policy import ANONYMOUS
from flight_iox.backup.location import open_location
from flight_iox.backup.restore import restore
from flight_iox.backup.take import _copy, _snapshot
from flight_iox.config import Settings
from flight_iox.engine.engine import Engine
from flight_iox.persist.persister import Persister

T0 = 1_700_000_000_000_000_000


def _settings(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir, wal_fsync=False, wal_segment_bytes=4096)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = Engine(_settings(tmp_path / "src"))
    yield engine
    engine.close()


def _write(engine: Engine, start: int, count: int) -> None:
    for i in range(start, start + count):
        body = f"cpu,host=h{i % 3} n={i}i {T0 + i}".encode()
        engine.write_line_protocol("db", body, principal=ANONYMOUS)


def _ns(engine: Engine) -> list[int]:
    table = engine.query.execute("db", "SELECT n FROM cpu ORDER BY n").read_all()
    return [int(v) for v in table.column("n").to_pylist()]


def test_a_persist_between_plan_and_copy_loses_nothing(engine: Engine, tmp_path: Path) -> None:
    persister = Persister(engine)
    _write(engine, 0, 100)
    persister.persist()
    _write(engine, 100, 100)  # only in the WAL, over several segments
    staging = tmp_path / "staging"
    staging.mkdir()
    with persister.cycle_lock:
        plan = _snapshot(engine, staging)
    _write(engine, 200, 50)  # after the backup's sequence: not in it
    persister.persist()  # deletes the segments holding 100..199
    assert not any(p.name == plan.segments[0][0].name for p in engine.wal.segment_paths())
    manifest = _copy(engine, plan, open_location(str(tmp_path / "backup")))
    assert manifest.wal_sequence == 200
    restore(open_location(str(tmp_path / "backup")), _settings(tmp_path / "new"))
    restored = Engine(_settings(tmp_path / "new"))
    try:
        assert _ns(restored) == list(range(200))
    finally:
        restored.close()
