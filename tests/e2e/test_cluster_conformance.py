"""The IOx conformance cases through a query node answer what an all-in-one node answers.

One cluster (2 ingest, 1 query, 1 compact nodes on PostgreSQL and moto S3) and one
all-in-one server get every case's setup, each case in its own database: the setup's
writes alternate between the two ingest nodes (so tables are owned by either, and writes
are forwarded), its persist steps persist both ingest nodes, and the compactor compacts
as files arrive. Then every SQL and InfluxQL query of the case runs on the query node
and on the all-in-one server over HTTP; status and answer must be the same (rows
compared as a multiset when the query has no ORDER BY, as the golden files do). The
all-in-one server never persists: answers must not depend on where rows are.

Every third case by default (each costs PostgreSQL and S3 commits); ``-m slow`` runs all.
The cases are independent (a database each), so their setups run side by side, then
their queries: a case's persists wait on PostgreSQL and S3 commits and on the node's
persist lock, not on the test's CPU. The queries start once the query node knows every
database a case persisted (it learns of one from a catalog poll, and answered "database
not found" before it had; a database never persisted it reads from the ingest nodes).
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from flight_iox.launcher import RunningServer, start_server
from tests.conformance.iox_runner import ROOT, clean_line_protocol
from tests.e2e.cluster import Cluster, cluster, fresh_catalog_uri
from tests.e2e.moto_s3 import moto_s3, set_aws_env
from tests.e2e.polling import eventually

__all__ = ["cluster", "fresh_catalog_uri", "moto_s3"]  # fixtures, imported for pytest

# No node stops here, so heartbeats need not be fast (``FAST``'s 0.2 s beats of four nodes
# were about a sixth of their CPU). The compactor polls the catalog every 1 s (the default):
# it finds files a poll later. The ingest nodes and the query node keep FAST's 0.2 s: a node
# learns of a case's database that another created only from a poll (the query node once
# answered "database not found" for a case it had not yet polled, with 1 s), and the case's
# persist step asks both ingest nodes.
CALM = ["--heartbeat-interval", "2", "--node-timeout", "30"]
SLOW_POLL = [*CALM, "--catalog-poll-interval", "1"]
NODES = {
    "in1": ("ingest", CALM),
    "in2": ("ingest", CALM),
    "q1": ("query", CALM),
    "c1": ("compact", [*SLOW_POLL, "--compact-min-files", "2", "--persist-interval", "0.2"]),
}
# Cases (and then queries) in flight at once: two keep both ingest nodes' persist locks
# busy; more only queue behind them.
PARALLEL = 4


@pytest.fixture(autouse=True)
def _aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    set_aws_env(monkeypatch)


def _post(url: str, **params: str) -> None:
    reply = requests.post(url, params=params, timeout=120)
    assert reply.status_code in (200, 204), reply.text


def _setup(db: str, steps: list[dict], writers: list[RunningServer], solo: RunningServer) -> None:
    """The case's writes, alternating between the ingest nodes (and on ``solo``).

    A persist step persists on each ingest node that has taken a write of the case: a node
    that has none holds nothing of the database (persisting is node-local), and answers 404.
    """
    turn = 0
    written: list[RunningServer] = []
    for step in steps:
        if "write" in step:
            body = clean_line_protocol(step["write"]).encode()
            writer = writers[turn % len(writers)]
            for server in (writer, solo):
                reply = requests.post(
                    f"{server.http_url}/api/v3/write_lp", params={"db": db}, data=body, timeout=60
                )
                assert reply.status_code in (204, 400), reply.text  # 400: the case's bad lines
            if writer not in written:
                written.append(writer)
            turn += 1
        elif _persists(step):
            for server in written:
                _post(f"{server.http_url}/api/v3/persist", db=db)


def _answer(server: RunningServer, db: str, query: dict) -> tuple[int, object]:
    route = "query_influxql" if query["lang"] == "influxql" else "query_sql"
    reply = requests.get(
        f"{server.http_url}/api/v3/{route}",
        params={"db": db, "q": query["query"].rstrip(";")},
        timeout=60,
    )
    body = _rounded(reply.json()) if reply.content else None
    if reply.status_code != 200 or "ORDER BY" in query["query"].upper():
        return reply.status_code, body
    rows = body if isinstance(body, list) else [body]
    return 200, sorted(json.dumps(r, sort_keys=True) for r in rows)


def _rounded(value: object) -> object:
    """Floats to 12 significant digits: a sum's last bits depend on the order rows arrive
    in (files, buffers, nodes), as they do on one node between before and after a persist."""
    if isinstance(value, float):
        return float(f"{value:.12g}")
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    return value


@pytest.mark.timeout(1200)
def test_conformance_cases_agree_between_a_query_node_and_an_all_in_one_node(
    cluster: Cluster, tmp_path: Path
) -> None:
    _agree(cluster, tmp_path, every=3)


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_all_conformance_cases_agree_on_the_cluster(cluster: Cluster, tmp_path: Path) -> None:
    _agree(cluster, tmp_path, every=1)


def _agree(cluster: Cluster, tmp_path: Path, every: int) -> None:
    if not ROOT.is_dir():
        pytest.skip(f"conformance data not found at {ROOT}")
    # The all-in-one server starts beside the cluster; it throws its rows away on stop.
    starter = ThreadPoolExecutor(1)
    solo_started = starter.submit(start_server, tmp_path / "solo", "--no-persist-on-shutdown")
    starter.shutdown(wait=False)
    try:
        cluster.start(NODES)
    except BaseException:
        solo_started.result().stop()
        raise
    solo = solo_started.result()
    try:
        writers, q1 = [cluster["in1"], cluster["in2"]], cluster["q1"]
        paths = sorted((ROOT / "cases").glob("*.json"))[::every]
        cases = {f"case{n}": json.loads(path.read_text()) for n, path in enumerate(paths)}
        with ThreadPoolExecutor(PARALLEL) as pool:
            for done in [
                pool.submit(_setup, db, _steps(case), writers, solo) for db, case in cases.items()
            ]:
                done.result()
            persisted = {db for db, case in cases.items() if any(map(_persists, _steps(case)))}
            eventually(lambda: sorted(persisted - _databases(q1)), [])
            pairs = [
                (db, case["name"], query)
                for db, case in cases.items()
                for query in case["queries"]
                if query["kind"] in ("result", "error")
            ]
            answers = list(pool.map(lambda pair: _compare(solo, q1, *pair), pairs))
        differ = [answer for answer in answers if answer is not None]
        assert len(pairs) > 100 // every
        assert not differ, "\n".join(differ[:10])
    finally:
        solo.stop()


def _persists(step: dict) -> bool:
    return "persist" in step or step.get("kind") == "persist"


def _steps(case: dict) -> list[dict]:
    return json.loads((ROOT / "setups" / f"{case['setup']}.json").read_text())["steps"]


def _databases(server: RunningServer) -> set[str]:
    reply = requests.get(f"{server.http_url}/api/v3/configure/database", timeout=60)
    assert reply.status_code == 200, reply.text
    return {row["iox::database"] for row in reply.json()}


def _compare(solo: RunningServer, q1: RunningServer, db: str, name: str, query: dict) -> str | None:
    """What differs between the two answers to one query (None: they agree)."""
    want, got = _answer(solo, db, query), _answer(q1, db, query)
    if got == want:
        return None
    return f"[{name}] {query['query']}\n  query node: {got}\n  all-in-one: {want}"
