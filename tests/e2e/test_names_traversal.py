"""Traversal names on every write path of a real server, then persist and compaction.

Every way a table name reaches the server (HTTP v1, v2 and v3 writes, Flight SQL
ingest with the real ADBC driver, SQL ``INSERT INTO``, InfluxQL ``SELECT ... INTO``)
writes tables named like paths. The server persists and compacts them; then
nothing outside the data folder may have changed (a sibling ``victim`` folder of
old Parquet files is where ``../../../../victim`` used to lead), another
database's ``cpu`` keeps its files and rows, and each oddly named table answers
with its rows.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import adbc_driver_flightsql.dbapi as flightsql
import pyarrow as pa
import pyarrow.parquet as pq
import requests

from flight_iox.launcher import RunningServer, start_server
from flight_iox.sql_quote import quote_identifier
from tests.e2e.polling import eventually

T0 = 1_700_000_000_000_000_000
OLD = time.time() - 3 * 86_400
DATABASE_OPTION = "adbc.flight.sql.rpc.call_header.database"
LP_NAMES = [
    "../../../../victim", "../other/cpu", "..", ".", "a/b", "a\\b", "%2e%2e", "/abs/victim",
    "x" * 300, "ünï cødé", "a.b",
]  # fmt: skip
ARROW_NAMES = ["../../../../victim", "../other/cpu", "%2e%2e"]
LP_PATHS = [
    ("/write", {"db": "mine"}),
    ("/api/v2/write", {"bucket": "mine"}),
    ("/api/v3/write_lp", {"db": "mine"}),
]


def tree(folder: Path, skip: str | None = None) -> dict[str, tuple[int, float]]:
    return {
        str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime)
        for p in folder.rglob("*")
        if p.is_file() and not (skip and str(p.relative_to(folder)).startswith(skip))
    }


def old_parquet(folder: Path) -> None:
    folder.mkdir(parents=True)
    for i in range(3):
        path = folder / f"old-{i}.parquet"
        pq.write_table(pa.table({"x": [i]}), path)
        os.utime(path, (OLD, OLD))


def post(server: RunningServer, path: str, params: dict[str, str], body: str) -> None:
    reply = requests.post(f"{server.http_url}{path}", params=params, data=body.encode(), timeout=60)
    assert reply.status_code == 204, reply.text


def admin(server: RunningServer, route: str) -> dict:
    reply = requests.post(f"{server.http_url}/api/v3/{route}", timeout=300)
    assert reply.status_code == 200, reply.text
    return reply.json()


def count(server: RunningServer, db: str, table: str) -> int:
    sql = f"SELECT count(*) AS n FROM {quote_identifier(table)}"
    reply = requests.get(
        f"{server.http_url}/api/v3/query_sql", params={"db": db, "q": sql}, timeout=60
    )
    assert reply.status_code == 200, (table, reply.text)
    return reply.json()[0]["n"]


def buffered_rows_drop_to_zero(server: RunningServer) -> None:
    """Wait for the background persister (and its compaction) to take the whole buffer."""

    def buffered() -> float:
        text = requests.get(f"{server.http_url}/metrics", timeout=30).text
        rows = re.search(r"^flight_iox_buffer_rows (\S+)$", text, re.MULTILINE)
        assert rows is not None, text
        return float(rows.group(1))

    eventually(buffered, 0.0)


def lp(name: str, ts: int) -> str:
    escaped = name.replace(",", "\\,").replace(" ", "\\ ")
    return f"{escaped},k=a v=1i {ts}"


def write_everywhere(server: RunningServer, round_: int) -> None:
    base = T0 + round_ * 1_000
    for i, (path, params) in enumerate(LP_PATHS):
        post(server, path, params, "\n".join(lp(n, base + i) for n in LP_NAMES))
    with (
        flightsql.connect(
            server.flight_uri, db_kwargs={DATABASE_OPTION: "mine"}, autocommit=True
        ) as conn,
        conn.cursor() as cur,
    ):
        for name in ARROW_NAMES:
            data = pa.table(
                {
                    "k": pa.array(["a"]).dictionary_encode(),
                    "v": pa.array([1], pa.int64()),
                    "time": pa.array([base + 10], pa.timestamp("ns")),
                }
            )
            assert cur.adbc_ingest(name, data, mode="append") == 1
            cur.execute(
                f"INSERT INTO {quote_identifier(name)} (k, v, time) VALUES ('a', 1, ?)",
                (base + 11,),
            )
    q = f'SELECT v INTO "../../../../into" FROM "../../../../victim" WHERE time = {base} GROUP BY *'
    reply = requests.post(f"{server.http_url}/query", params={"db": "mine", "q": q}, timeout=60)
    assert reply.status_code == 200 and "error" not in reply.text, reply.text


def test_traversal_names_on_every_write_path(tmp_path: Path) -> None:
    old_parquet(tmp_path / "victim" / "data" / "time_day=2023-11-14")
    old_parquet(tmp_path / "abs" / "victim" / "data")
    data_dir = tmp_path / "x" / "data"
    flags = ("--persist-max-age", "0.5", "--persist-interval", "0.1")
    server = start_server(data_dir, *flags, timeout=120)
    try:
        post(server, "/api/v3/write_lp", {"db": "other"}, f"cpu,k=s secret=42i {T0}")
        admin(server, "persist")
        other_files = list((data_dir / "warehouse" / "other").rglob("*.parquet"))
        for path in other_files:  # as old as the files the orphan cleanup used to delete
            os.utime(path, (OLD, OLD))
        outside = tree(tmp_path, skip="x")

        for round_ in range(2):
            write_everywhere(server, round_)
            admin(server, "persist")
            admin(server, "compact")
        write_everywhere(server, 2)
        buffered_rows_drop_to_zero(server)  # the background persister gets its turn as well
        admin(server, "compact")

        assert tree(tmp_path, skip="x") == outside
        assert all(path.exists() for path in other_files)
        assert count(server, "other", "cpu") == 1
        for name in LP_NAMES:
            expected = 3 * (len(LP_PATHS) + (2 if name in ARROW_NAMES else 0))
            assert count(server, "mine", name) == expected, name
        assert count(server, "mine", "../../../../into") == 3
        warehouse = data_dir / "warehouse"
        assert sorted(p.name for p in warehouse.iterdir()) == ["mine", "other"]
        assert len(list((warehouse / "mine").iterdir())) == len(LP_NAMES) + 1
    finally:
        server.stop()
