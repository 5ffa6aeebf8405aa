"""Recovery rules at the process level: torn tail, corrupt middle, memory limit, no_sync."""

from __future__ import annotations

from pathlib import Path

import requests

from flight_iox.launcher import run_cli, start_server

T0 = 1_700_000_000_000_000_000


def write(url: str, db: str, body: str, **params: str) -> requests.Response:
    return requests.post(
        f"{url}/api/v3/write_lp", params={"db": db, **params}, data=body, timeout=30
    )


def count(url: str, db: str, table: str) -> int:
    reply = requests.get(
        f"{url}/api/v3/query_sql",
        params={"db": db, "q": f"SELECT count(*) AS n FROM {table}"},
        timeout=30,
    )
    reply.raise_for_status()
    return reply.json()[0]["n"]


def _three_writes(data_dir: Path) -> Path:
    server = start_server(data_dir)
    try:
        for i in range(3):
            assert write(server.http_url, "dur", f"m v={i} {T0 + i}").status_code == 204
    finally:
        server.kill()
    (segment,) = sorted((data_dir / "wal").glob("*.wal"), key=lambda p: p.stat().st_size)[-1:]
    return segment


def test_torn_tail_is_dropped_and_the_rest_recovered(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    segment = _three_writes(data_dir)
    with open(segment, "r+b") as f:  # cut the last entry in half, as a power loss might
        f.truncate(segment.stat().st_size - 20)
    server = start_server(data_dir)
    try:
        assert count(server.http_url, "dur", "m") == 2
        assert write(server.http_url, "dur", f"m v=9 {T0 + 9}").status_code == 204
        assert count(server.http_url, "dur", "m") == 3
    finally:
        server.stop()


def test_corrupt_entry_in_the_middle_stops_startup_naming_file_and_offset(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    segment = _three_writes(data_dir)
    raw = bytearray(segment.read_bytes())
    raw[24 + 16 + 10] ^= 0xFF  # a payload byte of the first entry, with two good ones after it
    segment.write_bytes(bytes(raw))
    started = run_cli(
        ["serve", "--data-dir", str(data_dir),
         "--http-addr", "127.0.0.1:0", "--flight-addr", "127.0.0.1:0"],
        timeout=60,
    )  # fmt: skip
    assert started.returncode == 1
    message = started.stderr
    assert "WAL corrupt" in message and segment.name in message and "offset 24" in message
    assert "Traceback" not in message


def test_buffer_over_its_memory_limit_answers_503_with_retry_after(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data", "--buffer-memory-limit", "64KiB")
    try:
        body = "\n".join(f'big,k=v{i} payload="{"x" * 200}" {T0 + i}' for i in range(500))
        replies = [write(server.http_url, "full", body).status_code for _ in range(5)]
        assert replies[0] == 204
        assert 503 in replies
        reply = write(server.http_url, "full", body)
        assert reply.status_code == 503 and reply.headers["Retry-After"].isdigit()
        assert "write buffer is full" in reply.json()["error"]
        assert count(server.http_url, "full", "big") >= 500  # accepted data is still there
    finally:
        server.stop()


def test_no_sync_writes_are_acknowledged_and_queryable(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data")
    try:
        assert write(server.http_url, "ns", f"m v=1 {T0}", no_sync="true").status_code == 204
        assert count(server.http_url, "ns", "m") == 1
    finally:
        server.stop()
    server = start_server(tmp_path / "data")  # a clean stop flushes no_sync writes too
    try:
        assert count(server.http_url, "ns", "m") == 1
    finally:
        server.stop()


def test_configured_limits_reject_with_clear_errors(tmp_path: Path) -> None:
    server = start_server(
        tmp_path / "data", "--max-databases", "1", "--max-tables", "1", "--max-columns", "3"
    )
    try:
        assert write(server.http_url, "one", f"t a=1 {T0}").status_code == 204
        too_many_columns = write(server.http_url, "one", f"t a=1,b=2,c=3 {T0}")
        assert too_many_columns.status_code == 400
        assert "limit of 3 columns" in too_many_columns.json()["data"][0]["error_message"]
        second_table = write(server.http_url, "one", f"u a=1 {T0}")
        assert "limit of 1 tables" in second_table.json()["data"][0]["error_message"]
        second_db = write(server.http_url, "two", f"t a=1 {T0}")
        assert second_db.status_code == 400 and "database limit" in second_db.text
        created = requests.post(
            f"{server.http_url}/api/v3/configure/database", json={"db": "three"}, timeout=10
        )
        assert created.status_code == 422
    finally:
        server.stop()
