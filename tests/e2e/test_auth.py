"""Tokens work the same on HTTP and Flight: 401 without a valid token, 403 without permission."""

from __future__ import annotations

import base64
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import adbc_driver_flightsql.dbapi as flightsql
import adbc_driver_manager
import pyarrow as pa
import pyarrow.flight as flight
import pytest
import requests
from influxdb_client_3 import InfluxDBClient3

from flight_iox.flightsql.commands import pack
from flight_iox.flightsql.generated import FlightSql_pb2 as pb
from flight_iox.launcher import RunningServer, start_server

DATABASE_OPTION = "adbc.flight.sql.rpc.call_header.database"


@dataclass
class Tokens:
    admin: str
    reader: str  # read "alpha"
    writer: str  # write "alpha"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(
        tmp_path_factory.mktemp("auth") / "data", "--no-persist-on-shutdown", "--auth", "required"
    )
    yield running
    running.stop()


@pytest.fixture(scope="module")
def tokens(server: RunningServer) -> Tokens:
    url = f"{server.http_url}/api/v3/configure/token"
    first = requests.post(f"{url}/admin", timeout=30)
    assert first.status_code == 201
    admin = first.json()["token"]
    assert requests.post(f"{url}/admin", timeout=30).status_code == 409
    headers = {"Authorization": f"Bearer {admin}"}

    def make(name: str, actions: list[str]) -> str:
        body = {"name": name, "permissions": [{"database": "alpha", "actions": actions}]}
        response = requests.post(url, json=body, headers=headers, timeout=30)
        assert response.status_code == 201, response.text
        return response.json()["token"]

    for db in ("alpha", "beta"):
        response = requests.post(
            f"{server.http_url}/api/v3/write_lp",
            params={"db": db},
            data="cpu,host=a usage=1 1\ncpu,host=b usage=2 2",
            headers=headers,
            timeout=30,
        )
        assert response.status_code == 204
    return Tokens(admin, make("reader", ["read"]), make("writer", ["write"]))


def http_query(server: RunningServer, token: str | None, db: str = "alpha") -> int:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = requests.get(
        f"{server.http_url}/api/v3/query_sql",
        params={"db": db, "q": "SELECT count(*) FROM cpu"},
        headers=headers,
        timeout=30,
    )
    return response.status_code


def flight_query(
    server: RunningServer, token: str | None, sql: str = "SELECT count(*) FROM cpu"
) -> str:
    headers = [(b"database", b"alpha")]
    if token:
        headers.append((b"authorization", f"Bearer {token}".encode()))
    options = flight.FlightCallOptions(headers=headers)
    with flight.FlightClient(server.flight_uri) as client:
        try:
            command = pack(pb.CommandStatementQuery(query=sql))
            info = client.get_flight_info(flight.FlightDescriptor.for_command(command), options)
            client.do_get(info.endpoints[0].ticket, options).read_all()
        except flight.FlightUnauthenticatedError:
            return "UNAUTHENTICATED"
        except flight.FlightUnauthorizedError:
            return "PERMISSION_DENIED"
        except pa.ArrowInvalid as error:
            return "NOT_FOUND" if "not found" in str(error) else "INVALID_ARGUMENT"
    return "OK"


@pytest.mark.parametrize(
    ("who", "http_status", "grpc_status"),
    [
        ("none", 401, "UNAUTHENTICATED"),
        ("bogus", 401, "UNAUTHENTICATED"),
        ("writer", 403, "PERMISSION_DENIED"),
        ("reader", 200, "OK"),
        ("admin", 200, "OK"),
    ],
)
def test_same_answer_on_http_and_flight(
    server: RunningServer, tokens: Tokens, who: str, http_status: int, grpc_status: str
) -> None:
    token = {"none": None, "bogus": "apiv3_bogus", **vars(tokens)}[who]
    assert http_query(server, token) == http_status
    assert flight_query(server, token) == grpc_status


def test_every_credential_form(server: RunningServer, tokens: Tokens) -> None:
    url = f"{server.http_url}/api/v3/query_sql"
    params = {"db": "alpha", "q": "SELECT 1"}
    basic = base64.b64encode(f"me:{tokens.reader}".encode()).decode()
    for headers in (
        {"Authorization": f"Token {tokens.reader}"},
        {"Authorization": f"Basic {basic}"},
    ):
        assert requests.get(url, params=params, headers=headers, timeout=30).status_code == 200
    assert requests.get(url, params={**params, "p": tokens.reader}, timeout=30).status_code == 200
    posted = requests.post(
        url, json={"db": "beta", "q": "SELECT 1"}, params={"p": tokens.reader}, timeout=30
    )
    assert posted.status_code == 403
    write = requests.post(
        f"{server.http_url}/write",
        params={"db": "alpha", "p": tokens.writer},
        data="cpu,host=c usage=3 3",
        timeout=30,
    )
    assert write.status_code == 204
    assert requests.get(f"{server.http_url}/health", timeout=30).status_code == 200


def test_read_token_cannot_reach_another_database(server: RunningServer, tokens: Tokens) -> None:
    assert http_query(server, tokens.reader, db="beta") == 403
    # Databases the token may not read do not resolve (whether they exist or not).
    assert flight_query(server, tokens.reader, "SELECT * FROM beta.iox.cpu") == "NOT_FOUND"
    options = flight.FlightCallOptions(
        headers=[(b"authorization", f"Bearer {tokens.reader}".encode())]
    )
    with flight.FlightClient(server.flight_uri) as client:
        info = client.get_flight_info(
            flight.FlightDescriptor.for_command(pack(pb.CommandGetCatalogs())), options
        )
        catalogs = client.do_get(info.endpoints[0].ticket, options).read_all()
    assert catalogs.column("catalog_name").to_pylist() == ["alpha"]


def test_handshake_basic_answers_bearer(server: RunningServer, tokens: Tokens) -> None:
    with flight.FlightClient(server.flight_uri) as client:
        name, value = client.authenticate_basic_token("anyone", tokens.reader)
        assert name == b"authorization" and value == f"Bearer {tokens.reader}".encode()
        with pytest.raises(flight.FlightUnauthenticatedError):
            client.authenticate_basic_token("anyone", "apiv3_wrong")


def test_adbc_with_password_and_with_header(server: RunningServer, tokens: Tokens) -> None:
    for auth in (
        {"username": "token", "password": tokens.reader},
        {"adbc.flight.sql.authorization_header": f"Bearer {tokens.reader}"},
    ):
        with (
            flightsql.connect(
                server.flight_uri, db_kwargs={DATABASE_OPTION: "alpha", **auth}, autocommit=True
            ) as conn,
            conn.cursor() as cur,
        ):
            cur.execute("SELECT count(*) FROM cpu")
            assert cur.fetchone()[0] >= 2
            with pytest.raises(adbc_driver_manager.Error, match=r"PERMISSION_DENIED|may not write"):
                cur.adbc_ingest("cpu", pa.table({"host": ["z"], "usage": [1.0],
                                                 "time": pa.array([9], pa.timestamp("ns"))}),
                                mode="append")  # fmt: skip


def test_influxdb3_client_with_a_token(server: RunningServer, tokens: Tokens) -> None:
    port = server.flight_uri.rsplit(":", 1)[1]
    host = f"http://127.0.0.1:{port}"
    with InfluxDBClient3(host=host, database="alpha", token=tokens.reader) as client:
        table = client.query("SELECT host FROM cpu ORDER BY time", language="sql")
    assert table.column("host").to_pylist()[:2] == ["a", "b"]


def test_token_cli_list_create_revoke(server: RunningServer, tokens: Tokens) -> None:
    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "flight_iox", "token", *args, "--host", server.http_url]
        return subprocess.run(
            [*command, "--token", tokens.admin], capture_output=True, text=True, timeout=60
        )

    created = cli("create", "--name", "temp", "--db", "alpha", "--actions", "read")
    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip()
    assert http_query(server, secret) == 200
    listed = cli("list")
    assert "temp" in listed.stdout and secret not in listed.stdout
    assert "apiv3_" not in listed.stdout
    assert cli("revoke", "temp").returncode == 0
    assert http_query(server, secret) == 401
    assert flight_query(server, secret) == "UNAUTHENTICATED"
    refused = subprocess.run(
        [sys.executable, "-m", "flight_iox", "token", "list", "--host", server.http_url,
         "--token", tokens.reader],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert refused.returncode == 1 and "403" in refused.stderr


def test_system_tokens_lists_tokens_without_secrets_for_admins_only(
    server: RunningServer, tokens: Tokens
) -> None:
    sql = "SELECT name, admin, permissions FROM system.tokens ORDER BY created_at"

    def query(token: str, q: str = sql) -> requests.Response:
        return requests.get(
            f"{server.http_url}/api/v3/query_sql",
            params={"db": "alpha", "q": q},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )

    response = query(tokens.admin)
    assert response.status_code == 200, response.text
    rows = {row["name"]: row for row in response.json()}
    assert rows["_admin"]["admin"] is True
    assert rows["reader"] == {"name": "reader", "admin": False, "permissions": "alpha:read"}
    everything = query(tokens.admin, "SELECT * FROM system.tokens").text
    assert "apiv3_" not in everything and "hash" not in everything
    for secret in (tokens.admin, tokens.reader, tokens.writer):
        assert secret not in everything
    # A new token shows at once; a revoked one is gone.
    made = requests.post(
        f"{server.http_url}/api/v3/configure/token",
        json={"name": "fresh", "permissions": [{"database": "beta", "actions": ["read", "write"]}]},
        headers={"Authorization": f"Bearer {tokens.admin}"},
        timeout=30,
    )
    assert made.status_code == 201
    names = {row["name"]: row for row in query(tokens.admin).json()}
    assert names["fresh"]["permissions"] == "beta:read,write"
    revoked = requests.delete(
        f"{server.http_url}/api/v3/configure/token",
        params={"name": "fresh"},
        headers={"Authorization": f"Bearer {tokens.admin}"},
        timeout=30,
    )
    assert revoked.status_code == 200
    assert "fresh" not in {row["name"] for row in query(tokens.admin).json()}
    # For other tokens the table does not exist, however the name is written.
    for text in (sql, 'SELECT * FROM "system" . /* x */ "tokens"', "SELECT * FROM tokens"):
        response = query(tokens.reader, text)
        assert response.status_code == 400 and "not found" in response.text
    assert flight_query(server, tokens.reader, sql) == "NOT_FOUND"
    assert flight_query(server, tokens.reader, "SELECT * FROM alpha.system.tokens") == "NOT_FOUND"
    listed = query(tokens.reader, "SELECT table_name FROM information_schema.tables")
    assert "tokens" not in {row["table_name"] for row in listed.json()}
    assert flight_query(server, tokens.admin, sql) == "OK"


def test_write_token_cannot_change_another_database_by_a_qualified_name(
    server: RunningServer, tokens: Tokens
) -> None:
    made = requests.post(
        f"{server.http_url}/api/v3/configure/token",
        json={"name": "rw", "permissions": [{"database": "alpha", "actions": ["read", "write"]}]},
        headers={"Authorization": f"Bearer {tokens.admin}"},
        timeout=30,
    )
    assert made.status_code == 201
    read_write = made.json()["token"]
    for sql in ("DROP TABLE beta.iox.nosuch", "CREATE TABLE beta.iox.t (time TIMESTAMP)"):
        response = requests.post(
            f"{server.http_url}/api/v3/query_sql",
            json={"db": "alpha", "q": sql},
            headers={"Authorization": f"Bearer {read_write}"},
            timeout=30,
        )
        assert response.status_code == 403, response.text
        assert "beta" in response.text
        headers = [(b"database", b"alpha"), (b"authorization", f"Bearer {tokens.writer}".encode())]
        command = pack(pb.CommandStatementUpdate(query=sql))
        with flight.FlightClient(server.flight_uri) as client:
            writer = client.do_put(
                flight.FlightDescriptor.for_command(command),
                pa.schema([]),
                flight.FlightCallOptions(headers=headers),
            )[0]
            with pytest.raises(flight.FlightUnauthorizedError):
                writer.close()


def test_only_admins_change_partitioning(server: RunningServer, tokens: Tokens) -> None:
    """GET/PUT ``/api/v3/configure/table`` (the partitioning) demand an admin token."""
    url = f"{server.http_url}/api/v3/configure/table"
    body = {"db": "alpha", "table": "cpu", "partition_by": ["host"]}
    for token, status in ((None, 401), (tokens.writer, 403), (tokens.reader, 403)):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        assert requests.put(url, json=body, headers=headers, timeout=30).status_code == status
        params = {"db": "alpha", "table": "cpu"}
        assert requests.get(url, params=params, headers=headers, timeout=30).status_code == status
    admin = {"Authorization": f"Bearer {tokens.admin}"}
    reply = requests.put(url, json=body, headers=admin, timeout=30)
    assert reply.status_code == 200 and reply.json()["partition_by"] == ["host"]


def test_refuses_public_address_with_auth_off(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="--i-know-auth-is-off"):
        start_server(tmp_path / "data", "--http-addr", "0.0.0.0:0", "--auth", "off")
