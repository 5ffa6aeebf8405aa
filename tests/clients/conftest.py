"""One real flight-iox server for the client e2e tests; each test gets a database of its own.

The server is shared (starting one costs seconds); the ``database`` fixture writes the small
``cpu`` table into a database that only the requesting test uses, so tests that write or
create tables pass in any order and in any subset.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from flight_iox.launcher import RunningServer, start_server

# Two hosts over three minutes: float, int, bool, unsigned and string fields.
CPU_LINES = "\n".join(
    [
        'cpu,host=a,region=eu usage=1.5,cores=8i,ok=true,u=3u,s="x" 0',
        'cpu,host=a,region=eu usage=2.5,cores=8i,ok=false,u=4u,s="y" 60000000000',
        "cpu,host=b,region=us usage=10.0,cores=16i 30000000000",
        "cpu,host=b,region=us usage=20.0,cores=16i 150000000000",
    ]
)


def write_lp(server: RunningServer, database: str, body: str) -> None:
    """Write line protocol over HTTP and insist on a 204."""
    response = requests.post(
        f"{server.http_url}/api/v3/write_lp", params={"db": database}, data=body, timeout=30
    )
    assert response.status_code == 204, response.text


@pytest.fixture(scope="package")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(tmp_path_factory.mktemp("clients") / "data", "--no-persist-on-shutdown")
    yield running
    running.stop()


@pytest.fixture(scope="package")
def flight_uri(server: RunningServer) -> str:
    return server.flight_uri


@pytest.fixture
def database(server: RunningServer, db_name: str) -> str:
    """This test's own database, holding the ``cpu`` rows of ``CPU_LINES``."""
    write_lp(server, db_name, CPU_LINES)
    return db_name


@pytest.fixture
def sa_url(server: RunningServer, database: str) -> str:
    """A SQLAlchemy URL for this test's database."""
    host_port = server.flight_uri.split("://", 1)[1]
    return f"flight_iox://{host_port}/{database}"


def pem(path: Path) -> str:
    """The text of a PEM file."""
    return path.read_text()
