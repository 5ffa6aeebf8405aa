"""A full data disk, for real (a small tmpfs): writes and persists answer 507 naming the
path, acknowledged rows stay, and everything works again once space frees.

On main a full disk answered 500 ``OSError`` (the data was kept, which stays true).
"""

from __future__ import annotations

import signal
from pathlib import Path

import adbc_driver_flightsql.dbapi as flightsql
import pyarrow as pa
import pyarrow.flight as flight
import pytest
import requests

from flight_iox.launcher import RunningServer, start_server
from tests.e2e.test_persistence import T0, persist, query, write
from tests.small_disk import fill_disk, small_tmpfs


def post_write(server: RunningServer, db: str, body: str) -> requests.Response:
    return requests.post(
        f"{server.http_url}/api/v3/write_lp", params={"db": db}, data=body, timeout=30
    )


def lines(first: int, count: int) -> str:
    return "\n".join(f"cpu,host=h{i % 3} v={i}i {T0 + i}" for i in range(first, first + count))


def assert_insufficient(reply: requests.Response, path: Path) -> None:
    assert reply.status_code == 507, reply.text
    body = reply.json()
    assert "insufficient storage" in body["error"] and str(path) in body["error"], body
    assert body["message"] == body["error"]  # InfluxDB v2 clients read "message"
    assert "Traceback" not in reply.text and "OSError" not in reply.text


def test_full_disk_gives_507_keeps_acknowledged_rows_and_recovers(tmp_path: Path) -> None:
    with small_tmpfs(tmp_path / "data", "24m") as data_dir:
        server = start_server(data_dir, "--parquet-cache-size", "0")
        try:
            write(server, "mine", lines(0, 100))
            persist(server)
            write(server, "mine", lines(100, 50))  # acknowledged, buffered, in the WAL
            filler = fill_disk(data_dir / "filler")

            refused = post_write(server, "mine", lines(150, 2000))
            assert_insufficient(refused, data_dir / "wal")
            assert_insufficient(post_write(server, "newdb", lines(0, 1)), data_dir)
            reply = requests.post(f"{server.http_url}/api/v3/persist", timeout=60)
            assert_insufficient(reply, data_dir / "warehouse")
            on_disk = list((data_dir / "warehouse").glob("**/*.parquet"))
            listed = query(server, "mine", "SELECT count(*) AS n FROM system.parquet_files")
            assert [{"n": len(on_disk)}] == listed  # the partial file was removed
            with flight.connect(server.flight_uri) as client:  # Flight says the same
                ticket = b'{"database":"mine","sql_query":"SELECT 1","query_type":"sql"}'
                assert client.do_get(flight.Ticket(ticket)).read_all().num_rows == 1
            assert query(server, "mine", "SELECT count(*) AS n FROM cpu") == [{"n": 150}]
            assert requests.get(f"{server.http_url}/health", timeout=10).status_code == 200

            filler.unlink()
            write(server, "mine", lines(150, 2000))
            assert persist(server)["rows"] == 2050
            assert query(server, "mine", "SELECT count(*) AS n FROM cpu") == [{"n": 2150}]
            write(server, "mine", lines(2150, 10))  # in the WAL only
        finally:
            server.stop(signal.SIGKILL)
        server = start_server(data_dir)
        try:
            rows = query(server, "mine", "SELECT count(*) AS n, sum(v) AS s FROM cpu")
            assert rows == [{"n": 2160, "s": sum(range(2160))}]
            listed = requests.get(f"{server.http_url}/api/v3/configure/database", timeout=10)
            assert [d["iox::database"] for d in listed.json()] == ["mine"]  # newdb was refused
        finally:
            server.stop()


def test_full_disk_on_flight_ingest_says_insufficient_storage(tmp_path: Path) -> None:
    """gRPC: RESOURCE_EXHAUSTED is the status, but pyarrow cannot send it from Python, so
    the client gets UNKNOWN with the message (``flightsql/status.py``)."""
    with small_tmpfs(tmp_path / "data", "24m") as data_dir:
        server = start_server(data_dir)
        try:
            write(server, "mine", lines(0, 10))
            fill_disk(data_dir / "filler")
            # More than the slack in the WAL segment's last page (a tmpfs page is 4 KiB).
            time = pa.array(range(T0, T0 + 5000), pa.timestamp("ns"))
            table = pa.table({"v": pa.array([1.0] * 5000), "time": time})
            with (
                flightsql.connect(
                    server.flight_uri,
                    db_kwargs={"adbc.flight.sql.rpc.call_header.database": "mine"},
                    autocommit=True,  # the server has no transactions (else a DB-API warning)
                ) as conn,
                conn.cursor() as cursor,
                pytest.raises(Exception, match=r"insufficient storage at .*wal"),
            ):
                cursor.adbc_ingest("ingested", table, mode="create_append")
            assert query(server, "mine", "SELECT count(*) AS n FROM cpu") == [{"n": 10}]
        finally:
            server.stop()
