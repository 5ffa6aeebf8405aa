"""Shared fixtures: an in-process app holding the test module's ``DATA`` in database ``db``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from flight_iox.app import App, build_app
from flight_iox.auth.policy import ANONYMOUS
from flight_iox.config import Settings


@pytest.fixture(scope="module")
def app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    """An app (no fsync) with the line protocol of the module's ``DATA`` written to ``db``."""
    folder = tmp_path_factory.mktemp("influxql")
    app = build_app(Settings(data_dir=folder / "data", wal_fsync=False))
    app.engine.write_line_protocol("db", request.module.DATA.encode(), principal=ANONYMOUS)
    yield app
    app.close()
