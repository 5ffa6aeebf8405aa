"""Errors a user can act on: wrong port or scheme in the CLI, a busy address, no database.

The ``flight-iox`` CLI runs as a process of its own against a real server; a second server
is started on the first one's ports; queries without a database go through ADBC, a JSON
ticket over pyarrow.flight and the HTTP InfluxQL endpoints.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import adbc_driver_flightsql.dbapi as flightsql
import pyarrow as pa
import pyarrow.flight as flight
import pytest
import requests

from flight_iox.launcher import RunningServer, run_cli, start_server

TIMEOUT = 60


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    # Without gRPC on the HTTP port, so that port is a wrong address for ``query``.
    running = start_server(
        tmp_path_factory.mktemp("actionable") / "data", "--no-persist-on-shutdown", "--no-http-grpc"
    )
    requests.post(
        f"{running.http_url}/api/v3/write_lp", params={"db": "mine"}, data="cpu,host=a v=1 1"
    ).raise_for_status()
    yield running
    running.stop()


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    """``flight-iox ARGS`` in a process of its own (forked from the zygote when one runs)."""
    return run_cli(list(args), timeout=TIMEOUT)


def _address(url: str) -> str:
    return url.split("://", 1)[1]


def _one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_query_at_an_http_port_without_grpc_names_the_flight_port(server: RunningServer) -> None:
    http = _address(server.http_url)
    line = _one_line_error(_cli("query", "--host", f"grpc://{http}", "--db", "mine", "SELECT 1"))
    assert f"grpc://{http} answered in HTTP/1.1" in line
    assert "--flight-addr, port 8182 by default" in line
    assert "frame too large" not in line


def test_query_with_an_http_url_or_no_scheme_says_grpc(server: RunningServer) -> None:
    flight_address = _address(server.flight_uri)
    line = _one_line_error(
        _cli("query", "--host", f"http://{flight_address}", "--db", "mine", "SELECT 1")
    )
    assert "is an HTTP URL, but query speaks Flight SQL" in line
    assert "--flight-addr, port 8182 by default" in line
    line = _one_line_error(_cli("query", "--host", flight_address, "--db", "mine", "SELECT 1"))
    assert f"--host {flight_address} has no scheme: give grpc://{flight_address}" in line
    done = _cli(
        "query", "--host", server.flight_uri, "--db", "mine", "SELECT count(*) AS n FROM cpu"
    )
    assert done.returncode == 0, done.stderr
    assert "1" in done.stdout


def test_http_commands_at_the_flight_port_name_the_http_port(server: RunningServer) -> None:
    flight_address = _address(server.flight_uri)
    line = _one_line_error(_cli("db", "list", "--host", f"http://{flight_address}"))
    assert "looks like the server's Flight SQL port (--flight-addr)" in line
    assert "--http-addr, port 8181 by default" in line
    assert "BadStatusLine" not in line
    line = _one_line_error(_cli("db", "list", "--host", server.flight_uri))
    assert "is a Flight SQL address, but this command uses the HTTP API" in line
    http = _address(server.http_url)
    line = _one_line_error(_cli("write", "--host", http, "--db", "mine", "-"))
    assert f"--host {http} has no scheme: give http://{http}" in line
    assert "No connection adapters" not in line
    assert _cli("db", "list", "--host", server.http_url).stdout.split() == ["mine"]


@pytest.mark.parametrize("busy", ["--flight-addr", "--http-addr"])
def test_a_busy_address_is_one_line_naming_it(
    server: RunningServer, tmp_path: Path, busy: str
) -> None:
    taken = _address(server.flight_uri if busy == "--flight-addr" else server.http_url)
    free = "--http-addr" if busy == "--flight-addr" else "--flight-addr"
    result = _cli(
        "serve", "--data-dir", str(tmp_path / "data"), busy, taken, free, "127.0.0.1:0",
        "--log-level", "warning",
    )  # fmt: skip
    line = _one_line_error(result)
    assert line == (
        f"flight-iox: cannot start: cannot listen on {taken} ({busy}): the address is in use "
        "(by another flight-iox server or another program)"
    )


def test_no_database_names_the_header_or_parameter(server: RunningServer) -> None:
    with flightsql.connect(server.flight_uri, autocommit=True) as conn, conn.cursor() as cursor:
        with pytest.raises(flightsql.ProgrammingError) as raised:
            cursor.execute("SELECT * FROM cpu")
        message = str(raised.value)
        assert "table 'cpu' not found, and the request names no database" in message
        assert "send the 'database' header" in message
        assert "__no_database__" not in message
        cursor.execute("SELECT count(*) FROM mine.iox.cpu")  # qualified: no database needed
        assert cursor.fetchone() == (1,)
    with flight.FlightClient(server.flight_uri) as client:
        ticket = {"sql_query": "SELECT * FROM cpu", "query_type": "influxql"}
        with pytest.raises(
            pa.ArrowInvalid, match="database name required: send the 'database' header"
        ):
            client.do_get(flight.Ticket(json.dumps(ticket).encode())).read_all()
    influxql = requests.get(
        f"{server.http_url}/api/v3/query_influxql", params={"q": "SELECT * FROM cpu"}, timeout=30
    )
    assert influxql.status_code == 400
    assert "set the query parameter 'db'" in influxql.json()["error"]
    v1 = requests.get(f"{server.http_url}/query", params={"q": "SHOW MEASUREMENTS"}, timeout=30)
    assert "set the query parameter 'db'" in v1.json()["results"][0]["error"]
    sql = requests.get(f"{server.http_url}/api/v3/query_sql", params={"q": "SELECT 1"}, timeout=30)
    assert sql.status_code == 400
    assert "missing query parameter 'db'" in sql.json()["error"]
