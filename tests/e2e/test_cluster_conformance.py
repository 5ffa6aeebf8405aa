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
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests

from flight_iox.launcher import RunningServer, start_server
from tests.conformance.iox_runner import ROOT, clean_line_protocol
from tests.e2e.cluster import Cluster, cluster, fresh_catalog_uri
from tests.e2e.moto_s3 import moto_s3, set_aws_env

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
        elif "persist" in step or step.get("kind") == "persist":
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
    cluster.start(NODES)
    solo = start_server(tmp_path / "solo")
    try:
        writers, q1 = [cluster["in1"], cluster["in2"]], cluster["q1"]
        cases = sorted((ROOT / "cases").glob("*.json"))[::every]
        compared, differ = 0, []
        for number, path in enumerate(cases):
            case = json.loads(path.read_text())
            setup = json.loads((ROOT / "setups" / f"{case['setup']}.json").read_text())
            db = f"case{number}"
            _setup(db, setup["steps"], writers, solo)
            for query in case["queries"]:
                if query["kind"] not in ("result", "error"):
                    continue
                want, got = _answer(solo, db, query), _answer(q1, db, query)
                compared += 1
                if got != want:
                    differ.append(f"[{case['name']}] {query['query']}\n  query node: {got}"
                                  f"\n  all-in-one: {want}")  # fmt: skip
        assert compared > 100 // every
        assert not differ, "\n".join(differ[:10])
    finally:
        solo.stop()
