"""One real server per worker for the e2e modules that need nothing special of it.

Starting a server costs seconds of CPU, so the modules that use this fixture (errors, fuzz
regressions, InfluxQL, write/query) share one per session (per xdist worker). Their tests
write to databases no other module names, and assert nothing about databases they did not
make, so they pass in any order and on either worker. A module that needs flags of its own,
a restart or a clean slate starts its own server.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from flight_iox.launcher import RunningServer, start_server
from tests.e2e.auth_matrix import StartedTests


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Count the tests started (``check_cell`` reuses the fingerprint of the test just before)."""
    StartedTests.tick()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(
        tmp_path_factory.mktemp("server") / "data",
        "--no-persist-on-shutdown",
        "--max-request-bytes",
        "1MiB",
    )
    yield running
    running.stop()
