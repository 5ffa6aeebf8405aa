"""Fixtures shared by unit tests of several packages."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from flight_iox.app import App, build_app
from flight_iox.auth.policy import ANONYMOUS
from flight_iox.config import Settings


@pytest.fixture
def cpu_app(tmp_path: Path) -> Iterator[App]:
    """An in-process app (no fsync) holding one point, ``cpu,host=a v=1 1``, in ``db``."""
    app = build_app(Settings(data_dir=tmp_path / "data", wal_fsync=False))
    app.engine.write_line_protocol("db", b"cpu,host=a v=1 1", principal=ANONYMOUS)
    yield app
    app.close()
