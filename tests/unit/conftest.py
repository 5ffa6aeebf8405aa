"""Fixtures shared by unit tests of several packages."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from flight_iox.auth.policy import ANONYMOUS
from flight_iox.config import Settings
from flight_iox.engine.engine import Engine


@pytest.fixture
def cpu_engine(tmp_path: Path) -> Iterator[Engine]:
    """An in-process engine (no fsync) holding one point, ``cpu,host=a v=1 1``, in ``db``."""
    engine = Engine(Settings(data_dir=tmp_path / "data", wal_fsync=False))
    engine.write_line_protocol("db", b"cpu,host=a v=1 1", principal=ANONYMOUS)
    yield engine
    engine.close()
