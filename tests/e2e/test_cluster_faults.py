"""kill -9 each role of a cluster in turn under load; a compactor killed mid-commit.

Writers hit both ingest nodes without pause (a 503 or a refused connection is not an
acknowledgement; they move on). Each round kills one node with SIGKILL and starts it
again on its data folder. Afterwards every acknowledged point is on the query node
exactly once. One round by default; ``-m slow`` runs five.
"""

from __future__ import annotations

import random
import threading
import time
from functools import partial

import pytest
import requests

from flight_iox.http.services import MISSING_HEADER
from flight_iox.launcher import RunningServer
from tests.e2e.cluster import Cluster, cluster, fresh_catalog_uri, sql, write_lp
from tests.e2e.moto_s3 import moto_s3, set_aws_env
from tests.e2e.polling import eventually
from tests.e2e.test_persistence import T0

__all__ = ["cluster", "fresh_catalog_uri", "moto_s3"]  # fixtures, imported for pytest

INGEST = ["--persist-max-rows", "300", "--persist-interval", "0.2"]
NODES = {
    "in1": ("ingest", INGEST),
    "in2": ("ingest", INGEST),
    "q1": ("query", []),
    "c1": ("compact", ["--compact-min-files", "2", "--persist-interval", "0.2"]),
}


@pytest.fixture(autouse=True)
def _aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    set_aws_env(monkeypatch)


class Writers:
    """One writer thread per ingest node, each point with its own sequence number."""

    def __init__(self, cluster: Cluster, names: list[str]) -> None:
        self.acked: set[int] = set()
        self.sent = 0
        self._cluster = cluster
        self._names = names
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, args=(n,)) for n in names]

    def __enter__(self) -> Writers:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()

    def _next(self, count: int) -> int:
        with self._lock:
            first = self.sent
            self.sent += count
            return first

    def _run(self, name: str) -> None:
        while not self._stop.is_set():
            first = self._next(20)
            body = "\n".join(
                f"load,w={name},k={i % 7} seq={i}i {T0 + i * 1000}"
                for i in range(first, first + 20)
            )
            try:
                reply = write_lp(self._cluster[name], "db", body, timeout=20)
            except requests.RequestException:
                time.sleep(0.05)
                continue
            if reply.status_code == 204:
                with self._lock:
                    self.acked.update(range(first, first + 20))
            else:
                assert reply.status_code in (503,), reply.text
                time.sleep(0.05)


def _seqs(server: RunningServer) -> list[int]:
    return [r["seq"] for r in sql(server, "db", "SELECT seq FROM load")]


def _all_seen_once(cluster: Cluster, acked: set[int]) -> None:
    def missing() -> tuple[int, int]:
        try:
            seqs = _seqs(cluster["q1"])
        except (AssertionError, requests.RequestException):
            return (-1, -1)
        return len(acked - set(seqs)), len(seqs) - len(set(seqs))

    eventually(missing, (0, 0))


def _missing(server: RunningServer) -> str:
    """The ingest nodes a query node's answer says it lacks unpersisted rows of."""
    try:
        reply = requests.get(
            f"{server.http_url}/api/v3/query_sql",
            params={"db": "db", "q": "SELECT count(*) AS n FROM load"},
            timeout=30,
        )
    except requests.RequestException:
        return "?"
    return reply.headers.get(MISSING_HEADER, "")


def _lacks(server: RunningServer, node_id: str) -> bool:
    return node_id in _missing(server).split(", ")


def _kill_rounds(cluster: Cluster, rounds: int) -> None:
    cluster.start(NODES)
    with Writers(cluster, ["in1", "in2"]) as writers:
        eventually(lambda: len(writers.acked) > 100, True)
        for _ in range(rounds):
            for victim in ("in1", "q1", "c1", "in2"):
                time.sleep(random.uniform(0.2, 0.6))
                cluster[victim].kill()
                if victim.startswith("in"):  # answers say whose unpersisted rows they lack
                    eventually(partial(_lacks, cluster["q1"], victim), True)
                time.sleep(random.uniform(0.1, 0.4))
                cluster.restart(victim)
                if victim.startswith("in"):
                    eventually(partial(_lacks, cluster["q1"], victim), False)
        acked_before_stop = len(writers.acked)
    assert acked_before_stop > 100
    _all_seen_once(cluster, writers.acked)


@pytest.mark.timeout(900)
def test_kill_each_role_in_turn_under_load(cluster: Cluster) -> None:
    _kill_rounds(cluster, rounds=1)


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_kill_each_role_in_turn_under_load_many_rounds(cluster: Cluster) -> None:
    _kill_rounds(cluster, rounds=5)


@pytest.mark.timeout(900)
def test_a_compactor_killed_mid_commit_leaves_no_duplicates(cluster: Cluster) -> None:
    """Many small files; the compactor is killed at random moments while it works. The
    files then hold each point once (no overlapping leftovers of a half-done swap)."""
    cluster.start(NODES)
    in1, q1 = cluster["in1"], cluster["q1"]
    total = 0
    for batch in range(12):  # twelve persists: twelve files to compact
        body = "\n".join(
            f"load,k={i % 5} seq={i}i {T0 + i * 1000}" for i in range(total, total + 200)
        )
        write_lp(in1, "db", body).raise_for_status()
        total += 200
        requests.post(f"{in1.http_url}/api/v3/persist", timeout=60).raise_for_status()
        if batch % 3 == 2:
            time.sleep(random.uniform(0.0, 0.6))
            cluster["c1"].kill()
            cluster.restart("c1")

    def counts() -> tuple[int, int, int]:
        (row,) = sql(q1, "db", "SELECT count(*) AS n, count(DISTINCT seq) AS d FROM load")
        (files,) = sql(q1, "db", "SELECT sum(row_count) AS rows FROM system.parquet_files")
        return row["n"], row["d"], files["rows"]

    eventually(counts, (total, total, total))
