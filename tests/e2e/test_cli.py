"""The CLI end to end: serve (and its lock), write, query, db; the issue's 'done when'."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import adbc_driver_flightsql.dbapi as flightsql

from flight_iox import launcher
from flight_iox.launcher import RunningServer, start_server
from tests.conftest import generate_tsbs


def run_cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """``flight-iox ARGS`` as a process of its own, forked from the zygote when one runs."""
    return launcher.run_cli(list(args), input=stdin)


def run_fresh_cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m flight_iox ARGS`` in a new interpreter, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "flight_iox", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
    )


def adbc_count(server: RunningServer, db: str, table: str) -> int:
    with (
        flightsql.connect(
            server.flight_uri,
            db_kwargs={"adbc.flight.sql.rpc.call_header.database": db},
            autocommit=True,
        ) as conn,
        conn.cursor() as cur,
    ):
        cur.execute(f"SELECT count(*) FROM {table}")
        return cur.fetchone()[0]


def test_tsbs_load_count_and_survive_kill_minus_nine(tmp_path: Path) -> None:
    data = generate_tsbs(tmp_path / "cpu.lp", hosts=10, hours=1)
    data_dir = tmp_path / "data"
    server = start_server(data_dir)
    try:
        done = run_cli("write", "--host", server.http_url, "--db", "tsbs", str(data))
        assert done.returncode == 0, done.stderr
        summary = done.stdout
        assert "lines: 3600" in summary and "errors: 0" in summary and "lines/s" in summary
        assert adbc_count(server, "tsbs", "cpu") == 3600
    finally:
        server.kill()
    server = start_server(data_dir)
    try:
        assert adbc_count(server, "tsbs", "cpu") == 3600
        out = run_cli(
            "query",
            "--host",
            server.flight_uri,
            "--db",
            "tsbs",
            "--format",
            "json",
            "SELECT count(DISTINCT hostname) AS hosts FROM cpu",
        )
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout) == [{"hosts": 10}]
        table = run_cli(
            "query",
            "--host",
            server.flight_uri,
            "--db",
            "tsbs",
            "SELECT hostname FROM cpu ORDER BY hostname LIMIT 1",
        )
        assert "| host_0" in table.stdout
    finally:
        assert server.stop() == 0


def test_write_from_stdin_reports_errors(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data")
    try:
        body = "m v=1 1\nm v=bad 2\nm v=3 3\n"
        done = run_cli("write", "--host", server.http_url, "--db", "stdin", "-", stdin=body)
        assert done.returncode == 1
        assert "lines: 3  errors: 1" in done.stdout
        assert "line 2:" in done.stderr
        assert adbc_count(server, "stdin", "m") == 2
    finally:
        server.stop()


def test_db_commands(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data")
    try:
        assert run_cli("db", "create", "--host", server.http_url, "made").returncode == 0
        listed = run_cli("db", "list", "--host", server.http_url)
        assert listed.stdout.split() == ["made"]
        again = run_cli("db", "create", "--host", server.http_url, "made")
        assert again.returncode != 0 and "409" in again.stderr
        assert run_cli("db", "delete", "--host", server.http_url, "made").returncode == 0
        assert run_cli("db", "list", "--host", server.http_url).stdout.split() == []
    finally:
        server.stop()


def test_second_server_on_same_data_dir_is_refused(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data")
    try:
        second = run_cli(
            "serve",
            "--data-dir",
            str(tmp_path / "data"),
            "--http-addr",
            "127.0.0.1:0",
            "--flight-addr",
            "127.0.0.1:0",
        )
        assert second.returncode == 1
        assert "in use by another running flight-iox server" in second.stderr
    finally:
        server.stop()


def test_sigterm_shuts_down_cleanly_and_keeps_data(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data", fresh=True)  # `python -m flight_iox serve` itself
    run_fresh_cli("write", "--host", server.http_url, "--db", "term", "-", stdin="m v=1 1\n")
    assert server.stop() == 0
    assert "stopped" in server.log()
    server = start_server(tmp_path / "data")
    try:
        assert adbc_count(server, "term", "m") == 1
    finally:
        server.stop()
