"""``system.queries`` after Flight SQL, HTTP SQL and InfluxQL queries; cancelling one by id."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.flight as flight
import pytest
import requests

from flight_iox.flightsql.commands import pack
from flight_iox.flightsql.generated import FlightSql_pb2 as pb
from flight_iox.launcher import RunningServer, start_server

DB = "sysq"
OTHER = "sysq_other"
RUNAWAY = "SELECT sum(value % 7) AS s FROM generate_series(1, 100000000000)"


@dataclass(frozen=True)
class Served:
    server: RunningServer
    admin: str
    reader: str  # read DB
    reader2: str  # read DB, another token
    outsider: str  # read OTHER only


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    server = start_server(
        tmp_path_factory.mktemp("sysq") / "data",
        "--no-persist-on-shutdown",
        "--auth",
        "required",
        "--query-timeout",
        "300",
    )
    url = f"{server.http_url}/api/v3/configure/token"
    admin = requests.post(f"{url}/admin", timeout=30).json()["token"]
    headers = {"Authorization": f"Bearer {admin}"}

    def make(name: str, database: str) -> str:
        body = {"name": name, "permissions": [{"database": database, "actions": ["read"]}]}
        return requests.post(url, json=body, headers=headers, timeout=30).json()["token"]

    for database in (DB, OTHER):
        reply = requests.post(
            f"{server.http_url}/api/v3/write_lp",
            params={"db": database},
            data="m,host=a v=1 1\nm,host=b v=2 2\nm,host=c v=3 3",
            headers=headers,
            timeout=30,
        )
        assert reply.status_code == 204
    yield Served(server, admin, make("reader", DB), make("reader2", DB), make("outsider", OTHER))
    server.stop()


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def sql(served: Served, token: str, q: str, db: str = DB, timeout: float = 60) -> requests.Response:
    return requests.get(
        f"{served.server.http_url}/api/v3/query_sql",
        params={"db": db, "q": q},
        headers=auth(token),
        timeout=timeout,
    )


def system_queries(served: Served, token: str, db: str = DB) -> list[dict[str, object]]:
    reply = sql(
        served,
        token,
        "SELECT id, query_type, query_text, database, token_name, rows, success, running, "
        "cancelled, duration_seconds FROM system.queries",
        db,
    )
    assert reply.status_code == 200, reply.text
    rows: list[dict[str, object]] = reply.json()
    return rows


def flight_client(
    served: Served, token: str
) -> tuple[flight.FlightClient, flight.FlightCallOptions]:
    options = flight.FlightCallOptions(
        headers=[(b"authorization", f"Bearer {token}".encode()), (b"database", DB.encode())]
    )
    return flight.connect(served.server.flight_uri), options


def flight_sql(served: Served, token: str, q: str) -> int:
    client, options = flight_client(served, token)
    descriptor = flight.FlightDescriptor.for_command(pack(pb.CommandStatementQuery(query=q)))
    info = client.get_flight_info(descriptor, options)
    return client.do_get(info.endpoints[0].ticket, options).read_all().num_rows


def wait_for(find: Callable[[], dict[str, object] | None], what: str) -> dict[str, object]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = find()
        if found is not None:
            return found
        time.sleep(0.2)
    raise AssertionError(f"never saw {what}")


def test_each_protocol_is_logged_with_its_text_and_rows(served: Served) -> None:
    assert sql(served, served.reader, "SELECT host FROM m WHERE v > 1").status_code == 200
    assert flight_sql(served, served.reader, "SELECT host, v FROM m") == 3
    influxql = requests.get(
        f"{served.server.http_url}/query",
        params={"db": DB, "q": "SELECT v FROM m WHERE v < 3"},
        headers=auth(served.reader),
        timeout=30,
    )
    assert influxql.status_code == 200, influxql.text
    rows = {r["query_text"]: r for r in system_queries(served, served.admin)}
    expected = {
        "SELECT host FROM m WHERE v > 1": ("http_sql", 2),
        "SELECT host, v FROM m": ("flightsql", 3),
        "SELECT v FROM m WHERE v < 3": ("influxql", 2),
    }
    for text, (kind, count) in expected.items():
        row = rows[text]
        assert (row["query_type"], row["rows"], row["database"]) == (kind, count, DB)
        assert row["success"] is True and row["running"] is False and row["cancelled"] is False
        assert row["token_name"] == "reader"
    assert any(r["running"] for r in rows.values())  # the query reading system.queries


def test_a_listing_between_does_not_hide_the_queries_before_it(served: Served) -> None:
    """Listings no longer refresh the live system tables (they read no system rows); the
    next statement naming ``system`` still does."""
    text = "SELECT count(*) AS before_the_listing FROM m"
    assert sql(served, served.reader, text).status_code == 200
    listing = "SELECT table_name FROM information_schema.tables"
    assert sql(served, served.admin, listing).status_code == 200
    assert text in {r["query_text"] for r in system_queries(served, served.admin)}


def test_a_failed_query_is_logged_as_failed(served: Served) -> None:
    assert sql(served, served.reader, "SELECT logged_nope FROM m").status_code == 400
    [row] = [
        r
        for r in system_queries(served, served.admin)
        if r["query_text"] == "SELECT logged_nope FROM m"
    ]
    assert row["success"] is False and row["running"] is False


def test_a_token_sees_only_the_queries_of_databases_it_may_read(served: Served) -> None:
    assert sql(served, served.outsider, "SELECT 41 AS other_query", OTHER).status_code == 200
    assert sql(served, served.reader, "SELECT 42 AS sysq_query").status_code == 200
    outsider = {r["query_text"] for r in system_queries(served, served.outsider, OTHER)}
    assert "SELECT 41 AS other_query" in outsider
    assert not any("sysq_query" in str(t) for t in outsider)
    reader = {r["query_text"] for r in system_queries(served, served.reader)}
    assert "SELECT 42 AS sysq_query" in reader and "SELECT 41 AS other_query" not in reader
    assert sql(served, served.outsider, "SELECT * FROM system.queries").status_code == 403


def running_id(served: Served, kind: str) -> str:
    def find() -> dict[str, object] | None:
        for row in system_queries(served, served.admin):
            if row["query_text"] == RUNAWAY and row["running"] and row["query_type"] == kind:
                return row
        return None

    return str(wait_for(find, f"the running {kind} query")["id"])


def ended(served: Served, query_id: str) -> dict[str, object]:
    def find() -> dict[str, object] | None:
        rows = [r for r in system_queries(served, served.admin) if r["id"] == query_id]
        return rows[0] if rows and not rows[0]["running"] else None

    return wait_for(find, f"query {query_id} end")


def cancel(served: Served, token: str, query_id: str) -> requests.Response:
    return requests.delete(
        f"{served.server.http_url}/api/v3/query/{query_id}", headers=auth(token), timeout=30
    )


def test_cancel_an_http_query_by_id(served: Served) -> None:
    replies: list[requests.Response] = []
    thread = threading.Thread(
        target=lambda: replies.append(sql(served, served.reader, RUNAWAY, timeout=300))
    )
    thread.start()
    query_id = running_id(served, "http_sql")
    assert cancel(served, served.reader2, query_id).status_code == 404  # not its query
    assert cancel(served, served.outsider, query_id).status_code == 404
    reply = cancel(served, served.reader, query_id)  # the token that started it
    assert reply.status_code == 200 and reply.json() == {"id": query_id, "cancelled": True}
    thread.join(timeout=120)
    assert replies[0].status_code == 499, replies[0].text
    row = ended(served, query_id)
    assert row["cancelled"] is True and row["success"] is False
    assert cancel(served, served.admin, query_id).status_code == 404  # it ended


def test_cancel_a_flight_query_by_id_and_by_cancel_flight_info(served: Served) -> None:
    client, options = flight_client(served, served.reader)
    for how in ("delete", "CancelFlightInfo"):
        ticket = {"database": DB, "sql_query": RUNAWAY, "query_type": "sql"}
        errors: list[BaseException] = []

        def read(ticket: dict[str, str] = ticket, errors: list[BaseException] = errors) -> None:
            try:
                client.do_get(flight.Ticket(json.dumps(ticket).encode()), options).read_all()
            except flight.FlightError as error:
                errors.append(error)

        thread = threading.Thread(target=read)
        thread.start()
        query_id = running_id(served, "flightsql")
        if how == "delete":
            assert cancel(served, served.admin, query_id).status_code == 200
        else:
            info = flight.FlightInfo(
                pa.schema([]),
                flight.FlightDescriptor.for_command(b""),
                [flight.FlightEndpoint(json.dumps(ticket).encode(), [])],
                -1,
                -1,
            )
            request = pb.CancelFlightInfoRequest(info=info.serialize())
            action = flight.Action("CancelFlightInfo", request.SerializeToString())
            [result] = client.do_action(action, options)
            status = pb.CancelFlightInfoResult.FromString(result.body.to_pybytes()).status
            assert status == pb.CANCEL_STATUS_CANCELLED
        thread.join(timeout=120)
        assert len(errors) == 1 and isinstance(errors[0], flight.FlightCancelledError)
        row = ended(served, query_id)
        assert row["cancelled"] is True and row["success"] is False, how


def test_query_metrics_count_by_protocol(served: Served) -> None:
    assert sql(served, served.reader, "SELECT 1 AS one").status_code == 200
    assert sql(served, served.reader, "SELECT nope FROM m").status_code == 400
    assert flight_sql(served, served.reader, "SELECT 2 AS two") == 1
    influxql = requests.get(
        f"{served.server.http_url}/query",
        params={"db": DB, "q": "SELECT v FROM m"},
        headers=auth(served.reader),
        timeout=30,
    )
    assert influxql.status_code == 200
    reply = requests.get(f"{served.server.http_url}/metrics", headers=auth(served.admin))
    lines = dict(
        line.rsplit(" ", 1) for line in reply.text.splitlines() if not line.startswith("#")
    )
    for protocol in ("http_sql", "flightsql", "influxql"):
        assert float(lines[f'flight_iox_query_seconds_count{{protocol="{protocol}"}}']) >= 1
    assert float(lines['flight_iox_query_errors_total{protocol="http_sql"}']) >= 1
    assert float(lines['flight_iox_queries_active{protocol="flightsql"}']) == 0
