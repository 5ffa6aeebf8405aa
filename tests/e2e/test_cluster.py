"""Node roles on one PostgreSQL catalog and one S3 warehouse (moto): real processes.

2 ingest + 1 query + 1 compact nodes: registration and ``system.nodes``, a query node
refusing writes with the ingest nodes named, table ownership by lease with writes
forwarded to the owner, and the query node answering with every node's unpersisted rows
plus the persisted and compacted files, each acknowledged point exactly once. The two
cluster tests share one cluster (``module_cluster``), each in a database of its own.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import requests

from flight_iox.http.services import MISSING_HEADER
from flight_iox.launcher import RunningServer, start_server
from tests.e2e.cluster import Cluster, module_cluster, sql, write_lp
from tests.e2e.moto_s3 import moto_s3, set_aws_env
from tests.e2e.polling import DEADLINE_SECONDS, eventually
from tests.e2e.test_persistence import T0

__all__ = ["module_cluster", "moto_s3"]  # fixtures, imported for pytest


@pytest.fixture(autouse=True)
def _aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    set_aws_env(monkeypatch)


FOUR = {
    "in1": ("ingest", ["--persist-max-rows", "200", "--persist-interval", "0.2"]),
    "in2": ("ingest", ["--persist-max-rows", "200", "--persist-interval", "0.2"]),
    "q1": ("query", []),
    "c1": ("compact", ["--compact-min-files", "2", "--persist-interval", "0.2"]),
}


def _nodes(server: object, db: str = "_internal") -> dict[str, dict]:
    rows = sql(server, db, "SELECT * FROM system.nodes")  # type: ignore[arg-type]
    return {row["node_id"]: row for row in rows}


def test_nodes_register_and_a_single_node_lists_itself(tmp_path: Path) -> None:
    server = start_server(tmp_path / "solo", "--node-id", "solo")  # SQLite catalog
    try:
        write_lp(server, "db", f"m v=1 {T0}").raise_for_status()
        listed = sql(server, "db", "SELECT node_id FROM system.nodes")
        assert [r["node_id"] for r in listed] == ["solo"]
        (row,) = sql(server, "db", "SELECT mode, state, http_addr FROM system.nodes")
        assert row["mode"] == "all" and row["state"] == "alive"
        assert row["http_addr"] == server.http_url
    finally:
        server.stop()


def test_cluster_roles_ownership_and_query_node(module_cluster: Cluster, db_name: str) -> None:
    db = db_name
    module_cluster.start_once(FOUR)
    in1, in2, q1 = (module_cluster[n] for n in ("in1", "in2", "q1"))
    write_lp(in1, db, f"cpu,host=a v=1 {T0}").raise_for_status()  # in1 takes cpu
    nodes = eventually(lambda: sorted(_nodes(q1, db)), ["c1", "in1", "in2", "q1"])
    assert nodes
    listed = _nodes(q1, db)
    assert {k: v["mode"] for k, v in listed.items()} == {
        "in1": "ingest", "in2": "ingest", "q1": "query", "c1": "compact",
    }  # fmt: skip
    assert all(v["state"] == "alive" for v in listed.values())
    assert listed["in1"]["flight_addr"] == in1.flight_uri

    refused = write_lp(q1, db, f"m v=1 {T0}")
    assert refused.status_code == 421
    message = refused.json()["error"]
    assert "takes no writes" in message and "in1" in message and "in2" in message

    # in2 takes mem; then each writes the other's table: forwarded.
    write_lp(in2, db, f"mem,host=a free=1i {T0}").raise_for_status()
    reply = write_lp(in2, db, f'cpu,host=b v=2 {T0}\nmem,host=b free=2i {T0}\ncpu v="x" {T0}')
    assert reply.status_code == 400, reply.text  # the type conflict is found by the owner
    errors = reply.json()["data"]
    assert [e["line_number"] for e in errors] == [3]
    assert 'cpu v="x"' in errors[0]["original_line"]
    # Only the owner holds a table's rows in its buffer; the query node sees both.
    assert sql(in1, db, "SELECT host, v FROM cpu ORDER BY host") == [
        {"host": "a", "v": 1.0}, {"host": "b", "v": 2.0},
    ]  # fmt: skip
    assert sql(in1, db, "SELECT count(*) AS n FROM system.tables WHERE table_name = 'mem'") == [
        {"n": 0}
    ]
    assert sql(q1, db, "SELECT host, v FROM cpu ORDER BY host") == [
        {"host": "a", "v": 1.0}, {"host": "b", "v": 2.0},
    ]  # fmt: skip
    assert sql(q1, db, "SELECT host, free FROM mem ORDER BY host") == [
        {"host": "a", "free": 1}, {"host": "b", "free": 2},
    ]  # fmt: skip
    # An overwrite through the other node wins, on the query node too.
    write_lp(in2, db, f"cpu,host=a v=10 {T0}").raise_for_status()
    assert sql(q1, db, "SELECT v FROM cpu WHERE host = 'a'") == [{"v": 10.0}]
    # A table and a column only an ingest node holds resolve in InfluxQL on the query
    # node at once (its names are resolved before any SQL asks the ingest nodes for rows).
    write_lp(in1, db, f"disk,host=a used=5i {T0}\ncpu,host=c v=3,extra=7i {T0}").raise_for_status()
    at = "2023-11-14T22:13:20"  # T0
    for statement, row in (
        ("SELECT used FROM disk", {"iox::measurement": "disk", "time": at, "used": 5}),
        ("SELECT extra FROM cpu", {"iox::measurement": "cpu", "time": at, "extra": 7}),
    ):
        reply = requests.get(
            f"{q1.http_url}/api/v3/query_influxql", params={"db": db, "q": statement}, timeout=60
        )
        assert reply.status_code == 200, reply.text
        assert reply.json() == [row], statement
    assert MISSING_HEADER not in reply.headers  # every ingest node answered


def persisted_files(query_node: RunningServer, db: str) -> int:
    """How many Parquet files of ``db`` the cluster has committed, as the query node lists."""
    rows = sql(query_node, db, "SELECT count(*) AS n FROM system.parquet_files")
    return int(rows[0]["n"])


def test_writers_on_both_ingest_nodes_seen_exactly_once(
    module_cluster: Cluster, db_name: str
) -> None:
    """Writers hit both ingest nodes while persistence and compaction run; every
    acknowledged point is on the query node exactly once, within the staleness bound."""
    module_cluster.start_once(FOUR)
    in1, in2, q1 = module_cluster["in1"], module_cluster["in2"], module_cluster["q1"]
    db = db_name
    acked: dict[str, set[int]] = {"w1": set(), "w2": set()}
    stop = threading.Event()

    def writer(name: str, server: object) -> None:
        i = 0
        while not stop.is_set():
            lines = [
                f"load,writer={name},t={table} seq={i + k}i {T0 + (i + k) * 1000}"
                for k in range(25)
                for table in ("x",)
            ]
            reply = write_lp(server, db, "\n".join(lines))  # type: ignore[arg-type]
            if reply.status_code == 204:
                acked[name].update(range(i, i + 25))
            i += 25

    threads = [
        threading.Thread(target=writer, args=("w1", in1)),
        threading.Thread(target=writer, args=("w2", in2)),
    ]
    for thread in threads:
        thread.start()
    seen_during = []
    try:
        eventually(lambda: all(acked.values()), True)
        # Query for 3 s at least (the writers never pause, so each second costs both cores),
        # and on until a file is persisted: on a loaded machine the writers may not have
        # reached --persist-max-rows on either node within 3 s.
        deadline = time.monotonic() + 3
        give_up = time.monotonic() + 3 + DEADLINE_SECONDS
        while time.monotonic() < deadline or (
            not persisted_files(q1, db) and time.monotonic() < give_up
        ):
            rows = sql(q1, db, "SELECT writer, count(*) AS n, count(DISTINCT seq) AS d FROM load"
                       " GROUP BY writer")  # fmt: skip
            for row in rows:
                assert row["n"] == row["d"]  # never a point twice
            seen_during.append(rows)
            time.sleep(0.2)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    # Every acknowledged point, once: the query node answers at once (no poll to wait for).
    for name, seqs in acked.items():
        assert seqs, name
        rows = sql(q1, db, f"SELECT seq FROM load WHERE writer = '{name}'")
        got = [r["seq"] for r in rows]
        assert len(got) == len(set(got))
        assert set(got) >= seqs
    assert persisted_files(q1, db) >= 1  # persistence ran under the load
    assert any(rows for rows in seen_during)
