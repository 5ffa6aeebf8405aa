"""A cluster of real ``flight-iox serve`` processes on one PostgreSQL catalog and moto S3.

Each test gets a fresh PostgreSQL database (dropped afterwards) and its own prefix in
the moto bucket (``cluster``), or the tests of a module share one cluster whose nodes
they never stop (``module_cluster``, each test in databases of its own); nodes start in
parallel on ports the OS picks. Skips without PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from flight_iox.launcher import RunningServer, start_server
from tests.e2e.moto_s3 import MotoS3, set_aws_env
from tests.e2e.test_persistence_postgres import fresh_postgres_database

# Small intervals so the tests see heartbeats, expiries and follows quickly.
FAST = ["--heartbeat-interval", "0.2", "--node-timeout", "2", "--catalog-poll-interval", "0.2"]


@pytest.fixture
def fresh_catalog_uri() -> Iterator[str]:
    """A fresh PostgreSQL database for one test's catalog, dropped afterwards."""
    with fresh_postgres_database() as uri:
        yield uri


@dataclass
class Cluster:
    """Running nodes by id, and the flags they share."""

    root: Path
    shared: list[str]
    nodes: dict[str, RunningServer] = field(default_factory=dict)
    modes: dict[str, list[str]] = field(default_factory=dict)

    def start(self, specs: dict[str, tuple[str, list[str]]]) -> None:
        """Start nodes ``{id: (mode, extra flags)}`` at once."""
        with ThreadPoolExecutor(len(specs)) as pool:
            futures = {
                node_id: pool.submit(self._start, node_id, mode, extra)
                for node_id, (mode, extra) in specs.items()
            }
            for node_id, future in futures.items():
                self.nodes[node_id] = future.result()

    def start_once(self, specs: dict[str, tuple[str, list[str]]]) -> None:
        """Start the nodes of ``specs`` unless they run already (a shared cluster)."""
        if not self.nodes:
            self.start(specs)

    def _start(self, node_id: str, mode: str, extra: list[str]) -> RunningServer:
        flags = ["--mode", mode, "--node-id", node_id, *self.shared, *extra]
        self.modes[node_id] = flags
        return start_server(self.root / node_id, *flags, timeout=120)

    def restart(self, node_id: str) -> RunningServer:
        """Start a stopped or killed node again with its flags and data folder."""
        server = start_server(self.root / node_id, *self.modes[node_id], timeout=120)
        self.nodes[node_id] = server
        return server

    def stop(self) -> None:
        """Stop every node still running: all signalled first, so they shut down side by side."""
        running = [server for server in self.nodes.values() if server.process.poll() is None]
        for server in running:
            server.process.terminate()
        for server in running:
            server.process.wait(timeout=60)

    def __getitem__(self, node_id: str) -> RunningServer:
        return self.nodes[node_id]


@pytest.fixture(scope="module")
def module_cluster(tmp_path_factory: pytest.TempPathFactory, moto_s3: MotoS3) -> Iterator[Cluster]:
    """An empty cluster the tests of a module share (nodes stopped after the module).

    Its module starts the nodes it needs once (``Cluster.start_once``) and has each test
    use databases of its own. The nodes throw their buffers away when they stop, as the
    other shared servers do. The AWS variables are set while the nodes start (a test's
    ``monkeypatch`` is not there yet at module scope).
    """
    root = tmp_path_factory.mktemp("cluster")
    with fresh_postgres_database() as uri, pytest.MonkeyPatch.context() as patch:
        set_aws_env(patch)
        where = ["--catalog-uri", uri, *moto_s3.flags(prefix=root.name)]
        shared = [*where, *FAST, "--no-persist-on-shutdown"]
        running = Cluster(root, shared)
        try:
            yield running
        finally:
            running.stop()


@pytest.fixture
def cluster(tmp_path: Path, fresh_catalog_uri: str, moto_s3: MotoS3) -> Iterator[Cluster]:
    """An empty cluster on this test's catalog and bucket prefix (nodes stopped after)."""
    shared = ["--catalog-uri", fresh_catalog_uri, *moto_s3.flags(prefix=tmp_path.name), *FAST]
    running = Cluster(tmp_path, shared)
    try:
        yield running
    finally:
        running.stop()


def write_lp(server: RunningServer, db: str, body: str, timeout: float = 30) -> requests.Response:
    """POST line protocol to ``/api/v3/write_lp``."""
    return requests.post(
        f"{server.http_url}/api/v3/write_lp", params={"db": db}, data=body, timeout=timeout
    )


def sql(server: RunningServer, db: str, statement: str) -> list[dict]:
    """Rows of one SQL statement over HTTP (asserting a 200)."""
    reply = requests.get(
        f"{server.http_url}/api/v3/query_sql", params={"db": db, "q": statement}, timeout=60
    )
    assert reply.status_code == 200, reply.text
    return list(reply.json())
