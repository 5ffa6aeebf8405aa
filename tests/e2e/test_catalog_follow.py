"""Two running servers on one PostgreSQL catalog and one warehouse folder follow each other.

Each server's WAL and buffer are its own; what one persists the other shows without a
restart, within the catalog poll interval (polled here with a deadline, never timed).
The warehouse is one folder both data folders link to. Skips without PostgreSQL.
"""

from __future__ import annotations

from pathlib import Path

import requests

from flight_iox.launcher import RunningServer, start_server
from tests.e2e.polling import eventually
from tests.e2e.test_persistence import T0, persist, query, write
from tests.e2e.test_persistence_postgres import _start_both, catalog_uri

__all__ = ["catalog_uri"]  # the fixture, imported for pytest


def _sql(server: RunningServer, db: str, sql: str) -> tuple[int, object]:
    reply = requests.get(
        f"{server.http_url}/api/v3/query_sql", params={"db": db, "q": sql}, timeout=60
    )
    return reply.status_code, reply.json() if reply.content else None


def _databases(server: RunningServer) -> dict[str, str | None]:
    reply = requests.get(f"{server.http_url}/api/v3/configure/database", timeout=30)
    assert reply.status_code == 200, reply.text
    return {row["iox::database"]: row["retention_period"] for row in reply.json()}


def _shared_warehouse(root: Path) -> None:
    """``a`` and ``b`` with their ``warehouse`` folders linked to one folder."""
    (root / "warehouse").mkdir()
    for name in ("a", "b"):
        (root / name).mkdir()
        (root / name / "warehouse").symlink_to(root / "warehouse", target_is_directory=True)


def test_a_running_server_follows_another_servers_commits(tmp_path: Path, catalog_uri: str) -> None:
    _shared_warehouse(tmp_path)
    flags = ["--catalog-uri", catalog_uri, "--catalog-poll-interval", "0.2"]
    a, b = _start_both(tmp_path, flags)
    try:
        count = "SELECT count(*) AS n, sum(v) AS s FROM cpu"
        assert _sql(b, "alpha", count)[0] == 404  # nothing of alpha yet
        write(a, "alpha", "\n".join(f"cpu,host=h{i % 3} v={i} {T0 + i * 1001}" for i in range(90)))
        assert persist(a)["rows"] == 90
        eventually(lambda: _sql(b, "alpha", count), (200, [{"n": 90, "s": float(sum(range(90)))}]))

        # b's own buffered rows and a's next commit (with a new column) merge in b's answers
        write(b, "alpha", "\n".join(f"cpu,host=b{i} v=1 {T0 + i}" for i in range(10)))
        write(a, "alpha", f"cpu,host=h0 v=500,extra=7i {T0 + 500_000}")
        persist(a)
        eventually(
            lambda: _sql(b, "alpha", "SELECT count(*) AS n, max(extra) AS e FROM cpu"),
            (200, [{"n": 101, "e": 7}]),
        )
        assert query(a, "alpha", "SELECT count(*) AS n FROM cpu") == [{"n": 91}]  # b's rows: b's

        # a database created on a appears on b, retention included, and its retention changes
        reply = requests.post(
            f"{a.http_url}/api/v3/configure/database",
            json={"db": "gamma", "retention_period": "30d"}, timeout=30,
        )  # fmt: skip
        assert reply.status_code in (200, 201, 204), reply.text
        retention = _databases(a)["gamma"]
        assert retention is not None
        eventually(lambda: _databases(b).get("gamma", "absent"), retention)
        reply = requests.put(
            f"{a.http_url}/api/v3/configure/database",
            json={"db": "gamma", "retention_period": "none"}, timeout=30,
        )  # fmt: skip
        assert reply.status_code == 200, reply.text
        eventually(lambda: _databases(b).get("gamma", "absent"), None)

        # a drops the table: b stops showing it, its own buffered rows of it included
        status, body = _sql(a, "alpha", "DROP TABLE cpu")
        assert status == 200, body
        tables = "SELECT table_name FROM information_schema.tables WHERE table_schema = 'iox'"
        eventually(lambda: query(b, "alpha", tables), [])
        status, body = _sql(b, "alpha", count)
        assert status == 400 and "cpu" in str(body), body

        # a deletes the database: b forgets it too
        reply = requests.delete(
            f"{a.http_url}/api/v3/configure/database", params={"db": "gamma"}, timeout=30
        )
        assert reply.status_code in (200, 204), reply.text
        eventually(lambda: "gamma" in _databases(b), False)
    finally:
        a.stop()
        b.stop()

    b = start_server(b.data_dir, *flags, timeout=120)
    try:  # the WAL b replays does not bring back its rows of the table a dropped
        assert query(b, "alpha", tables) == []
    finally:
        b.stop()
