"""Flight SQL (gRPC) and HTTP on one port, as InfluxDB 3 serves them on 8181.

Real clients on the HTTP address only: influxdb3-python configured with one host (write,
query, named ``query_parameters``, InfluxQL), ADBC's Flight SQL driver and pyarrow.flight;
the same over TLS (ALPN picks the side); tokens checked as on the Flight port; and
``--no-http-grpc`` turning it off.
"""

from __future__ import annotations

import json
import socket
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import adbc_driver_flightsql.dbapi as flightsql
import pyarrow as pa
import pyarrow.flight as flight
import pytest
import requests
from influxdb_client_3 import InfluxDBClient3

from flight_iox.launcher import RunningServer, start_server
from tests.certificates import self_signed
from tests.e2e.tokens import bearer

T0 = 1_700_000_000_000_000_000
ROWS = f"cpu,host=a usage=1 {T0}\ncpu,host=b usage=2 {T0 + 1}\ncpu,host=c usage=3 {T0 + 2}"


def grpc_uri(http_url: str) -> str:
    """The HTTP address as a Flight URI (``grpc+tls`` for ``https``)."""
    scheme, rest = http_url.split("://", 1)
    return f"{'grpc+tls' if scheme == 'https' else 'grpc'}://{rest}"


def ticket(sql: str, db: str, **extra: object) -> flight.Ticket:
    return flight.Ticket(json.dumps({"database": db, "sql_query": sql, **extra}).encode())


def test_influxdb3_python_with_one_host(server: RunningServer) -> None:
    with InfluxDBClient3(host=server.http_url, token="unused", database="oneport") as client:
        client.write(record=ROWS.splitlines())
        table = client.query("SELECT host, usage FROM cpu ORDER BY host")
        assert table.column("usage").to_pylist() == [1.0, 2.0, 3.0]
        named = client.query(
            "SELECT host FROM cpu WHERE host = $host OR usage > $min ORDER BY host",
            query_parameters={"host": "a", "min": 2.5},
        )
        assert named.column("host").to_pylist() == ["a", "c"]
        influxql = client.query("SELECT usage FROM cpu WHERE host = 'b'", language="influxql")
        assert influxql.column("usage").to_pylist() == [2.0]
    # HTTP on the same port is unchanged, before and after gRPC connections.
    assert requests.get(f"{server.http_url}/health", timeout=10).json()["status"] == "pass"


def test_adbc_and_pyarrow_flight_on_the_http_port(server: RunningServer) -> None:
    requests.post(
        f"{server.http_url}/api/v3/write_lp", params={"db": "oneport2"}, data=ROWS, timeout=30
    ).raise_for_status()
    header = {"adbc.flight.sql.rpc.call_header.database": "oneport2"}
    with (
        flightsql.connect(grpc_uri(server.http_url), db_kwargs=header, autocommit=True) as conn,
        conn.cursor() as cur,
    ):
        cur.execute("SELECT count(*) AS n FROM cpu WHERE usage > ?", parameters=(1.5,))
        assert cur.fetchone() == (2,)
        times = pa.array([T0, T0 + 1, T0 + 2], pa.timestamp("ns"))
        cur.adbc_ingest("ingested", pa.table({"v": [1, 2, 3], "time": times}), mode="create")
        cur.execute("SELECT sum(v) FROM ingested")
        assert cur.fetchone() == (6,)
    with flight.FlightClient(grpc_uri(server.http_url)) as client:
        big = client.do_get(ticket("SELECT * FROM generate_series(1, 300000)", "oneport2"))
        assert big.read_all().num_rows == 300_000  # many frames through the pipe
        with pytest.raises(pa.ArrowKeyError, match="not found"):
            client.do_get(ticket("SELECT 1", "no_such_db")).read_all()


def test_cli_query_at_the_http_port(server: RunningServer) -> None:
    requests.post(
        f"{server.http_url}/api/v3/write_lp", params={"db": "oneport4"}, data=ROWS, timeout=30
    ).raise_for_status()
    command = [sys.executable, "-m", "flight_iox", "query", "--host", grpc_uri(server.http_url)]
    done = subprocess.run(
        [*command, "--db", "oneport4", "SELECT count(*) AS n FROM cpu"],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr
    assert "3" in done.stdout


def test_named_params_in_a_json_ticket(server: RunningServer) -> None:
    requests.post(
        f"{server.http_url}/api/v3/write_lp", params={"db": "oneport3"}, data=ROWS, timeout=30
    ).raise_for_status()
    with flight.FlightClient(server.flight_uri) as client:
        sql = "SELECT host FROM cpu WHERE host = $h"
        rows = client.do_get(ticket(sql, "oneport3", params={"h": "b"})).read_all()
        assert rows.column("host").to_pylist() == ["b"]
        with pytest.raises(pa.ArrowNotImplementedError, match="SQL queries only"):
            bad = ticket(
                "SELECT usage FROM cpu", "oneport3", params={"h": "b"}, query_type="influxql"
            )
            client.do_get(bad).read_all()


def test_a_silent_connection_is_closed(tmp_path: Path) -> None:
    running = start_server(tmp_path / "data", "--http-idle-timeout", "1")
    try:
        host, port = running.http_url.split("://", 1)[1].split(":")
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(b"PRI * HTTP")  # the start of the HTTP/2 preface, then nothing
            assert sock.recv(1024) == b""
    finally:
        running.stop()


@pytest.fixture(scope="module")
def tls_auth_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[RunningServer, Path]]:
    folder = tmp_path_factory.mktemp("oneport-tls")
    cert, key = self_signed().write(folder)
    running = start_server(
        folder / "data",
        *("--tls-cert", str(cert), "--tls-key", str(key), "--auth", "required"),
        verify=str(cert),
    )
    yield running, cert
    running.stop()


def test_tls_and_tokens_on_one_port(tls_auth_server: tuple[RunningServer, Path]) -> None:
    server, cert = tls_auth_server
    admin = bootstrap_admin_tls(server.http_url, cert)
    written = requests.post(
        f"{server.http_url}/api/v3/write_lp",
        params={"db": "secure"},
        data=ROWS,
        headers=bearer(admin),
        verify=str(cert),
        timeout=30,
    )
    assert written.status_code == 204, written.text
    reader = grant_tls(server.http_url, cert, admin)
    uri = grpc_uri(server.http_url)
    assert uri.startswith("grpc+tls://")
    with flight.FlightClient(uri, tls_root_certs=cert.read_bytes()) as client:
        with pytest.raises(flight.FlightUnauthenticatedError):
            client.do_get(ticket("SELECT 1", "secure")).read_all()
        options = flight.FlightCallOptions(
            headers=[(b"authorization", f"Bearer {reader}".encode())]
        )
        rows = client.do_get(ticket("SELECT count(*) AS n FROM cpu", "secure"), options)
        assert rows.read_all().column("n").to_pylist() == [3]
        with pytest.raises(flight.FlightUnauthorizedError):
            client.do_get(ticket("SELECT 1", "other"), options).read_all()
    with InfluxDBClient3(
        host=server.http_url, token=reader, database="secure", ssl_ca_cert=str(cert)
    ) as client3:
        assert client3.query("SELECT max(usage) AS m FROM cpu").column("m").to_pylist() == [3.0]
    # An HTTP client offering both protocols gets HTTP/1.1 from uvicorn, not gRPC.
    context = ssl.create_default_context(cafile=str(cert))
    context.set_alpn_protocols(["h2", "http/1.1"])
    host, port = server.http_url.split("://", 1)[1].split(":")
    with (
        socket.create_connection((host, int(port)), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as sock,
    ):
        assert sock.selected_alpn_protocol() == "http/1.1"
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")


def bootstrap_admin_tls(http_url: str, cert: Path) -> str:
    url = f"{http_url}/api/v3/configure/token/admin"
    answer = requests.post(url, verify=str(cert), timeout=30)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["token"])


def grant_tls(http_url: str, cert: Path, admin: str) -> str:
    body = {"name": "reader", "permissions": [{"database": "secure", "actions": ["read"]}]}
    answer = requests.post(
        f"{http_url}/api/v3/configure/token",
        json=body,
        headers=bearer(admin),
        verify=str(cert),
        timeout=30,
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["token"])


def test_no_http_grpc_turns_it_off(tmp_path: Path) -> None:
    running = start_server(tmp_path / "data", "--no-http-grpc")
    try:
        with (
            flight.FlightClient(grpc_uri(running.http_url)) as client,
            pytest.raises(flight.FlightError),
        ):
            client.do_get(ticket("SELECT 1", "x"), flight.FlightCallOptions(timeout=10)).read_all()
        assert requests.get(f"{running.http_url}/health", timeout=10).status_code == 200
    finally:
        running.stop()
