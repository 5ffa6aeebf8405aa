"""Shared fixtures: an in-process engine holding the test module's ``DATA`` in database ``db``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from flight_iox.auth.policy import ANONYMOUS
from flight_iox.config import Settings
from flight_iox.engine.engine import Engine


@pytest.fixture(scope="module")
def engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    """An engine (no fsync) with the line protocol of the module's ``DATA`` written to ``db``."""
    folder = tmp_path_factory.mktemp("influxql")
    engine = Engine(Settings(data_dir=folder / "data", wal_fsync=False))
    engine.write_line_protocol("db", request.module.DATA.encode(), principal=ANONYMOUS)
    yield engine
    engine.close()
