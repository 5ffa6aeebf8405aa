"""A data file goes missing or corrupt: only queries over its table fail, and repair recovers.

Found on main: after ``rm`` of one Parquet file, ``SELECT 1`` on another database answered
500 ``FileNotFoundError``, also after a restart, and only ``DROP TABLE`` got out of it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.flight as flight
import pytest
import requests

from flight_iox.launcher import RunningServer, run_cli, start_server
from tests.e2e.moto_s3 import MotoS3, moto_s3, s3_filesystem, set_aws_env
from tests.e2e.test_persistence import READ_PATHS, T0, persist, query, write

__all__ = ["moto_s3"]  # the fixture, imported for pytest

DAY_NS = 86_400 * 10**9


def answer(server: RunningServer, db: str, sql: str) -> requests.Response:
    return requests.get(
        f"{server.http_url}/api/v3/query_sql", params={"db": db, "q": sql}, timeout=60
    )


def files_of(server: RunningServer, db: str, table: str) -> list[dict]:
    sql = f"SELECT path, row_count FROM system.parquet_files WHERE table_name = '{table}'"
    return sorted(query(server, db, sql), key=lambda f: f["path"])


def local_path(uri: str) -> Path:
    return Path(uri.removeprefix("file://"))


def fill(server: RunningServer) -> None:
    """``mine.cpu`` in two files (two days, 10 + 5 rows), ``mine.mem`` and ``other.cpu``."""
    write(server, "mine", "\n".join(f"cpu,host=h{i % 2} v={i} {T0 + i}" for i in range(10)))
    write(server, "mine", f"mem,host=a used=1i {T0}")
    write(server, "other", f"cpu,host=a v=1 {T0}")
    persist(server)
    write(server, "mine", "\n".join(f"cpu,host=h{i % 2} v={i} {T0 + DAY_NS + i}" for i in range(5)))
    persist(server)


def assert_others_answer(server: RunningServer) -> None:
    assert query(server, "other", "SELECT 1 AS one") == [{"one": 1}]
    assert query(server, "mine", "SELECT 1 AS one") == [{"one": 1}]
    assert query(server, "other", "SELECT count(*) AS n FROM cpu") == [{"n": 1}]
    assert query(server, "mine", "SELECT count(*) AS n FROM mem") == [{"n": 1}]
    assert query(server, "other", "SELECT count(*) AS n FROM other.iox.cpu") == [{"n": 1}]
    influxql = {"db": "mine", "q": "SELECT count(used) FROM mem"}
    reply = requests.get(f"{server.http_url}/query", params=influxql, timeout=60)
    assert reply.status_code == 200 and "error" not in reply.text, reply.text


def assert_lost(server: RunningServer, path: str) -> None:
    for sql in ("SELECT count(*) FROM cpu", "SELECT * FROM cpu WHERE host = 'h0'"):
        reply = answer(server, "mine", sql)
        assert reply.status_code == 500, reply.text
        body = reply.json()
        assert body["file"] == path and body["table"] == "mine.cpu", body
        assert "flight-iox repair --db mine" in body["error"]
        assert "Traceback" not in reply.text
    for route in ("/query", "/api/v3/query_influxql"):  # InfluxQL too, v1 and v3
        params = {"db": "mine", "q": "SELECT count(v) FROM cpu"}
        reply = requests.get(f"{server.http_url}{route}", params=params, timeout=60)
        assert reply.status_code == 500 and reply.json()["file"] == path, reply.text
    ticket = json.dumps({"database": "mine", "sql_query": "SELECT * FROM cpu", "query_type": "sql"})
    with flight.connect(server.flight_uri) as client:
        with pytest.raises(flight.FlightInternalError, match="flight-iox repair --db mine") as got:
            client.do_get(flight.Ticket(ticket.encode())).read_all()
        assert path in str(got.value)
        other = {"database": "other", "sql_query": "SELECT * FROM cpu", "query_type": "sql"}
        assert client.do_get(flight.Ticket(json.dumps(other).encode())).read_all().num_rows == 1


def repair(server: RunningServer, **body: object) -> dict:
    reply = requests.post(
        f"{server.http_url}/api/v3/configure/repair", json={"db": "mine", **body}, timeout=120
    )
    assert reply.status_code == 200, reply.text
    return reply.json()


@READ_PATHS
def test_a_missing_file_fails_only_its_table_survives_restart_and_repair_keeps_the_rest(
    tmp_path: Path, reads: tuple[str, ...]
) -> None:
    data_dir = tmp_path / "data"
    server = start_server(data_dir, *reads)
    try:
        fill(server)
        first, second = files_of(server, "mine", "cpu")
        assert {first["row_count"], second["row_count"]} == {10, 5}
        lost = first if first["row_count"] == 10 else second
    finally:
        server.stop()
    local_path(lost["path"]).unlink()
    server = start_server(data_dir, *reads)  # the start itself survives the missing file
    try:
        assert_others_answer(server)
        assert_lost(server, lost["path"])
        write(server, "mine", f"cpu,host=h9 v=9 {T0 + 2 * DAY_NS}")  # writes still go in
        assert_lost(server, lost["path"])
        persist(server)
        compacted = requests.post(f"{server.http_url}/api/v3/compact", timeout=120)
        assert compacted.status_code == 200, compacted.text  # skips the partition, no loop
        assert_others_answer(server)

        found = repair(server)  # a dry run by default
        assert found["dry_run"] and found["removed"] == []
        assert [(f["table"], f["file"], f["rows"]) for f in found["lost"]] == [
            ("cpu", lost["path"], 10)
        ]
        assert found["lost"][0]["reason"] == "not found"
        assert_lost(server, lost["path"])  # nothing changed

        done = repair(server, dry_run=False, files=[lost["path"]])
        assert [f["file"] for f in done["removed"]] == [lost["path"]]
        assert done["tables_committed"] == 1
        # Picked up at once, no restart: the 5 rows of the other day plus the new row.
        assert query(server, "mine", "SELECT count(*) AS n FROM cpu") == [{"n": 6}]
        assert_others_answer(server)
        assert repair(server)["lost"] == []
    finally:
        server.stop()
    server = start_server(data_dir, *reads)
    try:
        assert query(server, "mine", "SELECT count(*) AS n FROM cpu") == [{"n": 6}]
        assert_others_answer(server)
    finally:
        server.stop()


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty"])
def test_a_corrupt_file_fails_only_its_table_and_repair_removes_exactly_it(
    tmp_path: Path, damage: str
) -> None:
    data_dir = tmp_path / "data"
    server = start_server(data_dir, "--parquet-cache-size", "0")
    try:
        fill(server)
        files = files_of(server, "mine", "cpu")
        bad = next(f for f in files if f["row_count"] == 10)
    finally:
        server.stop()
    path = local_path(bad["path"])
    content = path.read_bytes()
    path.write_bytes(
        {
            "truncated": content[: len(content) // 2],
            "garbage": b"PAR1" + b"\xff" * 64 + b"PAR1",
            "empty": b"",
        }[damage]
    )
    server = start_server(data_dir)  # with the Parquet cache, which cannot load it either
    try:
        assert_others_answer(server)
        assert_lost(server, bad["path"])
        delete = {"db": "mine", "q": "DELETE FROM cpu WHERE host = 'h0'"}
        refused = requests.post(f"{server.http_url}/api/v3/query_sql", json=delete, timeout=60)
        assert refused.status_code == 500 and refused.json()["file"] == bad["path"], refused.text
        found = repair(server)
        assert [f["file"] for f in found["lost"]] == [bad["path"]]
        done = repair(server, dry_run=False)
        assert [f["file"] for f in done["removed"]] == [bad["path"]]
        assert query(server, "mine", "SELECT count(*) AS n FROM cpu") == [{"n": 5}]
        assert_others_answer(server)
        # The refused DELETE changed nothing; now it runs.
        assert requests.post(f"{server.http_url}/api/v3/query_sql", json=delete, timeout=60).ok
        assert query(server, "mine", "SELECT count(*) AS n FROM cpu") == [{"n": 2}]
    finally:
        server.stop()


def test_a_file_deleted_while_registered_is_found_by_a_dry_run(tmp_path: Path) -> None:
    """DataFusion reads a file deleted after it was registered as empty; a repair dry run
    re-checks the files, after which queries over the table say what is lost."""
    server = start_server(tmp_path / "data", "--parquet-cache-size", "0")
    try:
        fill(server)
        assert query(server, "mine", "SELECT count(*) AS n FROM cpu") == [{"n": 15}]
        lost = next(f for f in files_of(server, "mine", "cpu") if f["row_count"] == 5)
        local_path(lost["path"]).unlink()
        assert [f["file"] for f in repair(server)["lost"]] == [lost["path"]]
        assert_lost(server, lost["path"])
        assert_others_answer(server)
    finally:
        server.stop()


def test_repair_cli_lists_then_removes_after_confirmation(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data")
    try:
        fill(server)
        lost = next(f for f in files_of(server, "mine", "cpu") if f["row_count"] == 10)
        local_path(lost["path"]).unlink()
        command = ["repair", "--host", server.http_url]  # forked by the zygote (run_cli)
        listed = run_cli([*command, "--db", "mine", "--dry-run"], timeout=120)
        assert listed.returncode == 0, listed.stderr
        assert "1 of 3 data files cannot be read" in listed.stdout
        assert lost["path"] in listed.stdout
        refused = run_cli(command, input="n\n", timeout=120)
        assert refused.returncode == 1 and "Aborted" in refused.stderr
        assert len(files_of(server, "mine", "cpu")) == 2
        done = run_cli(command, input="y\n", timeout=120)
        assert done.returncode == 0, done.stderr
        assert "removed 1 files from 1 tables" in done.stdout
        assert query(server, "mine", "SELECT count(*) AS n FROM cpu") == [{"n": 5}]
    finally:
        server.stop()


def test_repair_is_admin_only_when_auth_is_on(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data", "--auth", "required")
    try:
        url = f"{server.http_url}/api/v3/configure/repair"
        assert requests.post(url, json={}, timeout=30).status_code == 401
        admin = requests.post(f"{server.http_url}/api/v3/configure/token/admin", timeout=30)
        token = admin.json()["token"]
        auth = {"Authorization": f"Bearer {token}"}
        created = requests.post(
            f"{server.http_url}/api/v3/configure/token",
            json={
                "name": "rw",
                "permissions": [{"database": "mine", "actions": ["read", "write"]}],
            },
            headers=auth,
            timeout=30,
        )
        assert created.status_code in (200, 201), created.text
        reader = {"Authorization": f"Bearer {created.json()['token']}"}
        assert (
            requests.post(url, json={"db": "mine"}, headers=reader, timeout=30).status_code == 403
        )
        reply = requests.post(url, json={}, headers=auth, timeout=30)
        assert reply.status_code == 200 and reply.json()["lost"] == []
    finally:
        server.stop()


def test_on_s3_a_lost_object_fails_only_its_table_and_repair_removes_it(
    tmp_path: Path, moto_s3: MotoS3, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_aws_env(monkeypatch)
    flags = moto_s3.flags(prefix="lost")
    server = start_server(tmp_path / "data", *flags, timeout=120)
    try:
        fill(server)
        lost = next(f for f in files_of(server, "mine", "cpu") if f["row_count"] == 10)
        assert lost["path"].startswith("s3://")
    finally:
        server.stop()
    s3_filesystem(moto_s3.endpoint).delete_file(lost["path"].removeprefix("s3://"))
    server = start_server(tmp_path / "data", *flags, timeout=120)
    try:
        assert_others_answer(server)
        assert_lost(server, lost["path"])
        found = repair(server)
        assert [(f["file"], f["reason"]) for f in found["lost"]] == [(lost["path"], "not found")]
        done = repair(server, dry_run=False)
        assert [f["file"] for f in done["removed"]] == [lost["path"]]
        assert query(server, "mine", "SELECT count(*) AS n FROM cpu") == [{"n": 5}]
        assert_others_answer(server)
    finally:
        server.stop()
