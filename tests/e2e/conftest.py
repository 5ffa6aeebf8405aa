"""A real server per test module, on free loopback ports with its own data folder."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from flight_iox.launcher import RunningServer, start_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(
        tmp_path_factory.mktemp("server") / "data", "--max-request-bytes", "1MiB"
    )
    yield running
    running.stop()
