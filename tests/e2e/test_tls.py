"""TLS on both servers from --tls-cert/--tls-key, with a self-signed certificate made here."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import adbc_driver_flightsql.dbapi as flightsql
import pyarrow.flight as flight
import pytest
import requests

from flight_iox.launcher import RunningServer, start_server
from tests.certificates import self_signed


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningServer, Path]]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = self_signed().write(folder)
    running = start_server(
        folder / "data", "--tls-cert", str(cert), "--tls-key", str(key), verify=str(cert)
    )
    # The database every test queries, so that each passes alone and in any order (the
    # HTTPS test writes the same point again: it stays one row).
    created = requests.post(
        f"{running.http_url}/api/v3/write_lp",
        params={"db": "secure"},
        data="cpu,host=a usage=1 1",
        verify=str(cert),
        timeout=30,
    )
    assert created.status_code == 204, created.text
    # A pooled keep-alive connection, idle when the server stops: the stop closes it at once
    # instead of waiting out the graceful timeout for the client's TLS close_notify.
    with requests.Session() as idle:
        assert idle.get(f"{running.http_url}/health", verify=str(cert), timeout=30).ok
        yield running, cert
        assert running.stop() == 0
    assert "timeout graceful shutdown exceeded" not in running.log()


def test_https_and_grpc_tls(tls_server: tuple[RunningServer, Path]) -> None:
    server, cert = tls_server
    assert server.http_url.startswith("https://")
    assert server.flight_uri.startswith("grpc+tls://")
    written = requests.post(
        f"{server.http_url}/api/v3/write_lp",
        params={"db": "secure"},
        data="cpu,host=a usage=1 1",
        verify=str(cert),
        timeout=30,
    )
    assert written.status_code == 204
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"{server.http_url}/health", timeout=30)  # not trusted without the cert
    ticket = flight.Ticket(b'{"database": "secure", "sql_query": "SELECT count(*) AS n FROM cpu"}')
    with flight.FlightClient(server.flight_uri, tls_root_certs=cert.read_bytes()) as client:
        assert client.do_get(ticket).read_all().column("n").to_pylist() == [1]


def test_adbc_over_tls(tls_server: tuple[RunningServer, Path]) -> None:
    server, cert = tls_server
    options = {
        "adbc.flight.sql.rpc.call_header.database": "secure",
        "adbc.flight.sql.client_option.tls_root_certs": cert.read_text(),
    }
    with (
        flightsql.connect(server.flight_uri, db_kwargs=options, autocommit=True) as conn,
        conn.cursor() as cur,
    ):
        cur.execute("SELECT 41 + 1 AS answer")
        assert cur.fetchone() == (42,)


def test_tls_needs_both_files(tmp_path: Path) -> None:
    cert, _ = self_signed().write(tmp_path)
    with pytest.raises(RuntimeError, match="both --tls-cert and --tls-key"):
        start_server(tmp_path / "data", "--tls-cert", str(cert))
