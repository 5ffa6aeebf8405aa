"""Persistence end to end: Parquet under Iceberg, recovery from an empty WAL, outside readers."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import duckdb
import pyiceberg.catalog as pyiceberg_catalog
import pytest
import requests

from flight_iox.launcher import RunningServer, start_server

T0 = 1_700_000_000_000_000_000
# Queries over files read the Parquet cache by default; "--parquet-cache-size 0" reads Parquet.
READ_PATHS = pytest.mark.parametrize(
    "reads", [(), ("--parquet-cache-size", "0")], ids=["parquet-cache", "parquet"]
)


def write(server: RunningServer, db: str, body: str) -> None:
    reply = requests.post(
        f"{server.http_url}/api/v3/write_lp", params={"db": db}, data=body, timeout=30
    )
    assert reply.status_code == 204, reply.text


def query(server: RunningServer, db: str, sql: str) -> list[dict]:
    reply = requests.get(
        f"{server.http_url}/api/v3/query_sql", params={"db": db, "q": sql}, timeout=60
    )
    assert reply.status_code == 200, reply.text
    return reply.json()


def persist(server: RunningServer, db: str | None = None) -> dict:
    reply = requests.post(
        f"{server.http_url}/api/v3/persist", params={"db": db} if db else {}, timeout=120
    )
    assert reply.status_code == 200, reply.text
    return reply.json()


@READ_PATHS
def test_persist_restart_with_empty_wal_keeps_everything_exact(
    tmp_path: Path, reads: tuple[str, ...]
) -> None:
    data_dir = tmp_path / "data"
    server = start_server(data_dir, *reads)
    try:
        lines = [
            f"cpu,host=h{i % 4} usage={i}.25,n={i}i {T0 + i * 1_000_000_007}" for i in range(200)
        ]
        write(server, "p", "\n".join(lines))
        report = persist(server)
        assert report["rows"] == 200 and report["files"] >= 1
        assert query(server, "p", "SELECT count(*) AS n FROM cpu") == [{"n": 200}]
    finally:
        server.stop()
    shutil.rmtree(data_dir / "wal")  # recovery must come from the catalog alone
    server = start_server(data_dir, *reads)
    try:
        rows = query(server, "p", "SELECT host, n, CAST(time AS BIGINT) AS t FROM cpu ORDER BY t")
        assert len(rows) == 200
        assert rows[7] == {"host": "h3", "n": 7, "t": T0 + 7 * 1_000_000_007}  # exact ns
        schema = query(
            server, "p", "SELECT arrow_typeof(host) AS h, arrow_typeof(time) AS t FROM cpu LIMIT 1"
        )
        assert schema == [{"h": "Dictionary(Int32, Utf8)", "t": "Timestamp(ns)"}]
    finally:
        server.stop()


@READ_PATHS
def test_overwrite_of_persisted_keys_wins_field_by_field(
    tmp_path: Path, reads: tuple[str, ...]
) -> None:
    server = start_server(tmp_path / "data", *reads)
    try:
        write(server, "o", f"m,k=a x=1,y=1 {T0}\nm,k=b x=5 {T0 + 1}")
        persist(server)
        write(server, "o", f"m,k=a x=2 {T0}")  # buffer overwrites a persisted key
        assert query(server, "o", "SELECT k, x, y FROM m ORDER BY k") == [
            {"k": "a", "x": 2.0, "y": 1.0},
            {"k": "b", "x": 5.0, "y": None},
        ]
        persist(server)  # now two overlapping files: dedupe across files
        assert query(server, "o", "SELECT k, x, y FROM m ORDER BY k") == [
            {"k": "a", "x": 2.0, "y": 1.0},
            {"k": "b", "x": 5.0, "y": None},
        ]
        write(server, "o", f'm,k=c x=9,z="new" {T0 + 2}')  # a new column after persist
        rows = query(server, "o", "SELECT k, z FROM m ORDER BY k")
        assert rows == [{"k": "a", "z": None}, {"k": "b", "z": None}, {"k": "c", "z": "new"}]
    finally:
        server.stop()


def test_queries_see_each_point_once_while_persisting(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data")
    try:
        total = 0
        stop = threading.Event()
        seen: list[int] = []

        def reader() -> None:
            while not stop.is_set():
                seen.append(query(server, "c", "SELECT count(*) AS n FROM t")[0]["n"])

        write(server, "c", "\n".join(f"t,s=x v={i} {T0 + i}" for i in range(1000)))
        total = 1000
        thread = threading.Thread(target=reader)
        thread.start()
        for round_ in range(5):
            body = "\n".join(f"t,s=x v={i} {T0 + i}" for i in range(total, total + 500))
            write(server, "c", body)
            total += 500
            persist(server)
            del round_
        stop.set()
        thread.join()
        assert seen and all(1000 <= n <= total for n in seen)
        assert query(server, "c", "SELECT count(*) AS n FROM t") == [{"n": total}]
    finally:
        server.stop()


def test_pyiceberg_and_duckdb_read_the_same_rows(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data")
    try:
        write(server, "ext", "\n".join(f"w,city=c{i % 3} temp={i}.5 {T0 + i}" for i in range(30)))
        persist(server)
        printed = subprocess.run(
            [sys.executable, "-m", "flight_iox", "catalog", "--host", server.http_url],
            capture_output=True, check=True, timeout=60,
        )  # fmt: skip
        props = json.loads(printed.stdout)
        name = props.pop("name")
        catalog = pyiceberg_catalog.load_catalog(name, **props)
        table = catalog.load_table(("ext", "w"))
        arrow = table.scan().to_arrow()
        assert arrow.num_rows == 30
        assert sorted(arrow.column("temp").to_pylist())[:2] == [0.5, 1.5]
        files = [task.file.file_path.removeprefix("file://") for task in table.scan().plan_files()]
        counted = duckdb.sql(f"SELECT count(*), sum(temp) FROM read_parquet({files!r})").fetchall()[
            0
        ]
        assert counted == (30, sum(i + 0.5 for i in range(30)))
    finally:
        server.stop()


def test_persist_cli_and_unknown_database(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data")
    try:
        write(server, "cli", f"m v=1 {T0}")
        command = ["persist", "--host", server.http_url, "--db", "cli"]
        done = subprocess.run(
            [sys.executable, "-m", "flight_iox", *command], capture_output=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        assert b"persisted 1 rows of 1 tables" in done.stdout
        missing = requests.post(
            f"{server.http_url}/api/v3/persist", params={"db": "nope"}, timeout=10
        )
        assert missing.status_code == 404
    finally:
        server.stop()


def test_compaction_merges_overlapping_files_and_keeps_last_writes(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data")
    try:
        for round_ in range(4):  # four persists of overlapping data in one day partition
            body = "\n".join(f"m,k=k{i} v={round_}i,r{round_}=1i {T0 + i}" for i in range(50))
            write(server, "cmp", body)
            persist(server)
        before = query(server, "cmp", "SELECT k, v, r0, r3 FROM m ORDER BY k")
        reply = requests.post(
            f"{server.http_url}/api/v3/compact", params={"db": "cmp"}, timeout=120
        )
        assert reply.status_code == 200, reply.text
        report = reply.json()
        assert report["partitions"] == 1 and report["files_before"] == 4
        assert report["files_after"] == 1
        after = query(server, "cmp", "SELECT k, v, r0, r3 FROM m ORDER BY k")
        assert after == before
        assert after[0] == {"k": "k0", "v": 3, "r0": 1, "r3": 1}
    finally:
        server.stop()
    server = start_server(tmp_path / "data")
    try:
        assert query(server, "cmp", "SELECT count(*) AS n, max(v) AS v FROM m") == [
            {"n": 50, "v": 3}
        ]
    finally:
        server.stop()


def test_retention_hides_expired_rows_and_drops_expired_files(tmp_path: Path) -> None:
    import time

    server = start_server(tmp_path / "data")
    try:
        url = f"{server.http_url}/api/v3/configure/database"
        created = requests.post(url, json={"db": "ret", "retention_period": "1h"}, timeout=10)
        assert created.status_code == 201
        now = time.time_ns()
        old, fresh = now - 3 * 86_400_000_000_000, now - 60_000_000_000  # different days
        write(server, "ret", f"m v=1 {old}\nm v=2 {fresh}")
        assert query(server, "ret", "SELECT v FROM m") == [{"v": 2.0}]  # buffer: hidden
        persist(server)
        assert query(server, "ret", "SELECT v FROM m") == [{"v": 2.0}]  # files: hidden
        listed = requests.get(url, timeout=10).json()
        assert {"iox::database": "ret", "retention_period": "3600s"} in listed
        compacted = requests.post(f"{server.http_url}/api/v3/compact", timeout=60).json()
        assert compacted["expired_files"] == 1  # the old day's file is gone
        changed = requests.put(url, json={"db": "ret", "retention_period": "none"}, timeout=10)
        assert changed.status_code == 200
        assert query(server, "ret", "SELECT v FROM m") == [{"v": 2.0}]
        bad = requests.put(url, json={"db": "ret", "retention_period": "soon"}, timeout=10)
        assert bad.status_code == 400 and "retention_period" in bad.json()["error"]
    finally:
        server.stop()


def test_delete_rows_from_buffer_and_files_survives_restart(tmp_path: Path) -> None:
    import adbc_driver_flightsql.dbapi as flightsql

    server = start_server(tmp_path / "data")
    try:
        write(server, "del", "\n".join(f"m,host=h{i % 2} v={i} {T0 + i}" for i in range(10)))
        persist(server)
        write(server, "del", "\n".join(f"m,host=h{i % 2} v={i} {T0 + i}" for i in range(10, 14)))
        reply = requests.post(
            f"{server.http_url}/api/v3/query_sql",
            json={"db": "del", "q": "DELETE FROM m WHERE host = 'h0' AND v >= $1", "params": [4]},
            timeout=60,
        )
        assert reply.status_code == 200, reply.text
        assert reply.json() == [{"count": 5}]  # 4, 6, 8 in files; 10, 12 in the buffer
        with (
            flightsql.connect(
                server.flight_uri,
                db_kwargs={"adbc.flight.sql.rpc.call_header.database": "del"},
                autocommit=True,
            ) as conn,
            conn.cursor() as cur,
        ):
            cur.execute("DELETE FROM m WHERE v = 13")
            assert cur.rowcount in (1, -1)
        expected = [0, 1, 2, 3, 5, 7, 9, 11]
        assert [r["v"] for r in query(server, "del", "SELECT v FROM m ORDER BY v")] == expected
    finally:
        server.kill()  # no clean shutdown: the WAL still holds the deleted rows
    server = start_server(tmp_path / "data")
    try:
        assert [r["v"] for r in query(server, "del", "SELECT v FROM m ORDER BY v")] == expected
        bad = requests.post(
            f"{server.http_url}/api/v3/query_sql",
            json={"db": "del", "q": "DELETE FROM m WHERE nosuchcolumn = 1"}, timeout=60,
        )  # fmt: skip
        assert bad.status_code == 400
        dropped = requests.post(
            f"{server.http_url}/api/v3/query_sql", json={"db": "del", "q": "DROP TABLE m"},
            timeout=60,
        )  # fmt: skip
        assert dropped.status_code == 200, dropped.text
        gone = requests.get(
            f"{server.http_url}/api/v3/query_sql", params={"db": "del", "q": "SELECT * FROM m"},
            timeout=60,
        )  # fmt: skip
        assert gone.status_code == 400
    finally:
        server.kill()
    server = start_server(tmp_path / "data")
    try:
        tables = query(server, "del", "SELECT table_name FROM information_schema.tables "
                                      "WHERE table_schema = 'iox'")  # fmt: skip
        assert tables == []
    finally:
        server.stop()


def test_system_tables_show_tables_and_files(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data")
    try:
        write(server, "sys", f"a,t=x v=1 {T0}\nb f=2i {T0}")
        persist(server)
        write(server, "sys", f"a,t=y v=3 {T0 + 1}")
        tables = query(server, "sys", "SELECT * FROM system.tables ORDER BY table_name")
        assert [(t["table_name"], t["tag_count"], t["file_count"], t["buffered_rows"])
                for t in tables] == [("a", 1, 1, 1), ("b", 0, 1, 0)]  # fmt: skip
        files = query(server, "sys", "SELECT table_name, row_count FROM system.parquet_files "
                                     "ORDER BY table_name")  # fmt: skip
        assert files == [{"table_name": "a", "row_count": 1}, {"table_name": "b", "row_count": 1}]
    finally:
        server.stop()
