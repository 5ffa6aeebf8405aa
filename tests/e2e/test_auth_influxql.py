"""InfluxQL authorization, end to end: every way InfluxQL names a database, by token and route.

One server with ``--auth required``; databases ``mine`` and ``other`` (``other`` holds a
secret); tokens ``reader`` (read ``mine``), ``writer`` (write ``mine``) and ``admin``.
Each cell sends one InfluxQL text over one route with one token, checks the status, that
no refused answer carries the secret, and that ``other`` is unchanged afterwards (read
back over SQL by the admin, not through the code under test).

Routes: ``GET /query``, ``POST /query`` (form body), ``POST /api/v3/query_influxql``
(JSON body), ``GET /api/v3/query_influxql`` and a Flight JSON ticket with
``query_type: influxql``.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field

import pyarrow.flight as flight
import pytest
import requests
from influxdb import InfluxDBClient
from influxdb.exceptions import InfluxDBClientError

from flight_iox.launcher import RunningServer, start_server

SECRET = "s3cr3t-of-other"
TOKENS = ("reader", "writer", "admin")
ROUTES = ("v1-get", "v1-post", "v3", "v3-get", "flight")
READ_ONLY_ROUTES = (
    "v1-get",
    "v3-get",
    "flight",
)  # a data-changing statement is refused there (400)

# Outcomes: what a cell answers.
OK = "ok"  # 200 / Flight OK, no statement error
FORBIDDEN = "forbidden"  # 403 / PERMISSION_DENIED
UNSUPPORTED = "unsupported"  # authorized, not served: v1 200 with the error, v3 501
BAD = "bad"  # 400 / INVALID_ARGUMENT


@dataclass(frozen=True)
class Row:
    """One way of naming a database; ``outcome`` per token; ``{n}`` makes a fresh name."""

    way: str
    q: str
    outcome: dict[str, str]
    db: str | None = "mine"
    changes: bool = False  # changes data: refused on GET and Flight
    admin_q: str | None = None  # the admin's text when ``q`` would change ``other``
    routes: tuple[str, ...] = ROUTES
    extra: dict[str, str] = field(default_factory=dict)  # more parameters (HTTP only)


ONLY_ADMIN = {"reader": FORBIDDEN, "writer": FORBIDDEN, "admin": OK}
ADMIN_UNSUPPORTED = {"reader": FORBIDDEN, "writer": FORBIDDEN, "admin": UNSUPPORTED}
READABLE = {"reader": OK, "writer": FORBIDDEN, "admin": OK}

ROWS = [
    Row("own database", "SELECT * FROM cpu", READABLE),
    Row("query param db", "SELECT * FROM cpu", ONLY_ADMIN, db="other"),
    Row("FROM db..m", "SELECT * FROM other..cpu", ONLY_ADMIN),
    Row("FROM quoted db.rp.m", 'SELECT * FROM "other"."autogen"."cpu"', ONLY_ADMIN),
    Row("regex source", "SELECT * FROM other../c.u/", ONLY_ADMIN),
    Row("regex source, default db", "SELECT * FROM /c.u/", ONLY_ADMIN, db="other"),
    Row("subquery", "SELECT secret FROM (SELECT * FROM other..cpu)", ONLY_ADMIN),
    Row("second source", "SELECT * FROM mine..cpu, other..cpu", ONLY_ADMIN),
    Row("no db, qualified", "SELECT * FROM other..cpu", ONLY_ADMIN, db=None),
    Row(
        "INTO other",
        'SELECT * INTO "other".."stolen" FROM mine..cpu',
        ONLY_ADMIN,
        changes=True,
        admin_q='SELECT * INTO "spare".."copied" FROM mine..cpu',
    ),
    Row(
        "INTO own database",
        "SELECT * INTO mine..copied FROM mine..cpu",
        ONLY_ADMIN,  # the reader may not write, the writer may not read
        changes=True,
    ),
    Row(
        "INTO other, reading other",
        "SELECT * INTO mine..stolen FROM other..cpu",
        ONLY_ADMIN,
        changes=True,
    ),
    Row("ON other (measurements)", "SHOW MEASUREMENTS ON other", ONLY_ADMIN),
    Row("ON other (series)", "SHOW SERIES ON other", ONLY_ADMIN),
    Row("ON other (tag values)", 'SHOW TAG VALUES ON other WITH KEY = "host"', ONLY_ADMIN),
    Row("ON other (field keys)", "SHOW FIELD KEYS ON other", ONLY_ADMIN),
    Row("ON other (retention)", "SHOW RETENTION POLICIES ON other", ONLY_ADMIN),
    Row("SHOW default db", "SHOW MEASUREMENTS", ONLY_ADMIN, db="other"),
    Row("SHOW ... FROM db..m", "SHOW TAG KEYS FROM other..cpu", ONLY_ADMIN),
    Row("SHOW DATABASES", "SHOW DATABASES", {"reader": OK, "writer": OK, "admin": OK}),
    Row("CREATE DATABASE", "CREATE DATABASE made_{n}", ONLY_ADMIN, changes=True),
    Row(
        "DROP DATABASE",
        "DROP DATABASE other",
        ONLY_ADMIN,
        changes=True,
        admin_q="DROP DATABASE gone_{n}",
    ),
    Row(
        "DROP MEASUREMENT",
        "DROP MEASUREMENT cpu",
        ONLY_ADMIN,
        db="other",
        changes=True,
        admin_q="DROP MEASUREMENT spare..m_{n}",
    ),
    Row(
        "DELETE",
        "DELETE FROM cpu WHERE time > 0",
        ONLY_ADMIN,
        db="other",
        changes=True,
        admin_q="DELETE FROM spare..m_{n} WHERE time > 0",
    ),
    Row(
        "DELETE other..m",
        "DELETE FROM other..cpu",
        ONLY_ADMIN,
        changes=True,
        admin_q="DELETE FROM spare../m_{n}/",
    ),
    Row(
        "DROP SERIES",
        "DROP SERIES FROM cpu WHERE host = 's'",
        ONLY_ADMIN,
        db="other",
        changes=True,
        admin_q="DROP SERIES FROM spare..m_{n} WHERE host = 'x'",
    ),
    Row(
        "CREATE RETENTION POLICY",
        "CREATE RETENTION POLICY rp ON other DURATION 1d REPLICATION 1",
        ADMIN_UNSUPPORTED,
        changes=True,
    ),
    Row("SHOW USERS", "SHOW USERS", ADMIN_UNSUPPORTED),
    Row("CREATE USER", "CREATE USER u WITH PASSWORD 'p'", ADMIN_UNSUPPORTED, changes=True),
    Row(
        "second statement",
        "SELECT * FROM mine..cpu; DROP DATABASE other",
        {"reader": FORBIDDEN, "writer": FORBIDDEN, "admin": OK},
        changes=True,
        admin_q="SELECT * FROM mine..cpu; DROP DATABASE gone_{n}",
    ),
    # The same parameter in two places with different values: 400, whoever asks.
    Row(
        "form body db differs",
        "SELECT * FROM cpu",
        {"reader": BAD, "writer": BAD, "admin": BAD},
        routes=("v1-post",),
        extra={"body:db": "other"},
    ),
    Row(
        "JSON body db differs",
        "SELECT * FROM cpu",
        {"reader": BAD, "writer": BAD, "admin": BAD},
        routes=("v3",),
        extra={"body:db": "other"},
    ),
    Row(
        "query string db twice",
        "SELECT * FROM cpu",
        {"reader": BAD, "writer": BAD, "admin": BAD},
        routes=("v1-get", "v1-post", "v3", "v3-get"),
        extra={"query:db": "other"},
    ),
    # The database only in the body.
    Row(
        "form body db",
        "SELECT * FROM cpu",
        ONLY_ADMIN,
        db=None,
        routes=("v1-post",),
        extra={"body:db": "other"},
    ),
    Row(
        "JSON body db",
        "SELECT * FROM cpu",
        ONLY_ADMIN,
        db=None,
        routes=("v3",),
        extra={"body:db": "other"},
    ),
]


@dataclass
class Setup:
    server: RunningServer
    tokens: dict[str, str]
    other_before: str


def _admin_sql(server: RunningServer, admin: str, db: str, sql: str) -> requests.Response:
    return requests.get(
        f"{server.http_url}/api/v3/query_sql",
        params={"db": db, "q": sql, "format": "json"},
        headers={"Authorization": f"Bearer {admin}"},
        timeout=30,
    )


def other_state(setup: Setup | tuple[RunningServer, str]) -> str:
    """``other``'s tables and rows, as the admin reads them over SQL (not InfluxQL)."""
    server, admin = (setup.server, setup.tokens["admin"]) if isinstance(setup, Setup) else setup
    tables = _admin_sql(
        server,
        admin,
        "other",
        "SELECT table_name FROM information_schema.tables "
        "WHERE table_catalog = 'other' AND table_schema = 'iox' ORDER BY table_name",
    )
    rows = _admin_sql(server, admin, "other", "SELECT * FROM cpu ORDER BY time")
    assert tables.status_code == 200 and rows.status_code == 200, (tables.text, rows.text)
    return tables.text + rows.text


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    server = start_server(tmp_path_factory.mktemp("authql") / "data", "--auth", "required")
    try:
        url = f"{server.http_url}/api/v3/configure/token"
        admin = requests.post(f"{url}/admin", timeout=30).json()["token"]
        headers = {"Authorization": f"Bearer {admin}"}
        for db, lines in (
            ("mine", "cpu,host=a usage=1 1000000000\ncpu,host=b usage=2 2000000000"),
            ("other", f'cpu,host=s usage=9,secret="{SECRET}" 1000000000'),
            ("spare", "cpu,host=x usage=3 1000000000"),
        ):
            response = requests.post(
                f"{server.http_url}/api/v3/write_lp",
                params={"db": db},
                data=lines,
                headers=headers,
                timeout=30,
            )
            assert response.status_code == 204, response.text

        def make(name: str, actions: list[str]) -> str:
            body = {"name": name, "permissions": [{"database": "mine", "actions": actions}]}
            response = requests.post(url, json=body, headers=headers, timeout=30)
            assert response.status_code == 201, response.text
            return str(response.json()["token"])

        tokens = {
            "admin": admin,
            "reader": make("reader", ["read"]),
            "writer": make("writer", ["write"]),
        }
        before = other_state((server, admin))
        assert SECRET in before
        yield Setup(server, tokens, before)
    finally:
        server.stop()


def write(setup: Setup, db: str, lines: str) -> None:
    response = requests.post(
        f"{setup.server.http_url}/api/v3/write_lp",
        params={"db": db},
        data=lines,
        headers={"Authorization": f"Bearer {setup.tokens['admin']}"},
        timeout=30,
    )
    assert response.status_code == 204, response.text


@dataclass
class Answer:
    status: int | str  # HTTP status, or the Flight outcome name
    text: str


def send(
    setup: Setup, route: str, token: str, db: str | None, q: str, extra: dict[str, str]
) -> Answer:
    """Send ``q`` over ``route``; the answer's status and text."""
    if route == "flight":
        return _flight(setup.server, token, db, q)
    query: dict[str, str] = {} if db is None else {"db": db}
    body: dict[str, str] = {"q": q}
    query_pairs = list(query.items())
    for key, value in extra.items():
        place, name = key.split(":")
        if place == "body":
            body[name] = value
        else:
            query_pairs.append((name, value))
    headers = {"Authorization": f"Bearer {token}"}
    server = setup.server
    if route == "v1-get":
        response = requests.get(
            f"{server.http_url}/query",
            params=[*query_pairs, ("q", q)],
            headers=headers,
            timeout=60,
        )
    elif route == "v1-post":
        response = requests.post(
            f"{server.http_url}/query", params=query_pairs, data=body, headers=headers, timeout=60
        )
    elif route == "v3-get":
        response = requests.get(
            f"{server.http_url}/api/v3/query_influxql",
            params=[*query_pairs, ("q", q)],
            headers=headers,
            timeout=60,
        )
    else:
        response = requests.post(
            f"{server.http_url}/api/v3/query_influxql",
            params=query_pairs,
            json=body,
            headers=headers,
            timeout=60,
        )
    return Answer(response.status_code, response.text)


def _flight(server: RunningServer, token: str, db: str | None, q: str) -> Answer:
    ticket = json.dumps({"database": db, "sql_query": q, "query_type": "influxql"}).encode()
    options = flight.FlightCallOptions(headers=[(b"authorization", f"Bearer {token}".encode())])
    with flight.FlightClient(server.flight_uri) as client:
        try:
            table = client.do_get(flight.Ticket(ticket), options).read_all()
        except flight.FlightUnauthorizedError as error:
            return Answer("PERMISSION_DENIED", str(error))
        except flight.FlightUnauthenticatedError as error:
            return Answer("UNAUTHENTICATED", str(error))
        except flight.FlightServerError as error:
            return Answer("SERVER_ERROR", str(error))
        except flight.FlightError as error:
            return Answer(type(error).__name__, str(error))
        except Exception as error:  # INVALID_ARGUMENT / UNIMPLEMENTED arrive as ArrowException
            return Answer(_grpc_name(str(error)), str(error))
    return Answer("OK", json.dumps(table.to_pylist(), default=str))


def _grpc_name(message: str) -> str:
    for name in ("INVALID_ARGUMENT", "UNIMPLEMENTED", "NOT_FOUND", "PERMISSION_DENIED"):
        if name in message or name.lower().replace("_", " ") in message.lower():
            return name
    if "Invalid argument" in message or "Invalid:" in message:
        return "INVALID_ARGUMENT"
    if "NotImplemented" in message or "not supported" in message:
        return "UNIMPLEMENTED"
    return message


HTTP_STATUS = {OK: 200, FORBIDDEN: 403, BAD: 400}
FLIGHT_STATUS = {
    OK: "OK",
    FORBIDDEN: "PERMISSION_DENIED",
    BAD: "INVALID_ARGUMENT",
    UNSUPPORTED: "UNIMPLEMENTED",
}


def may_read(who: str, database: str) -> bool:
    """The tokens' read permissions, as the fixture makes them."""
    return who == "admin" or (who == "reader" and database == "mine")


def expected(row: Row, who: str, route: str) -> str:
    """What the cell answers: the row's outcome, unless the route refuses first.

    A Flight ticket's database must be readable (the writer reads nothing), and a
    data-changing text on GET or Flight is refused before any statement runs (400).
    """
    if route == "flight" and row.db is not None and not may_read(who, row.db):
        return FORBIDDEN
    if row.changes and route in READ_ONLY_ROUTES:
        return BAD
    return row.outcome[who]


CELLS = [
    pytest.param(row, who, route, id=f"{row.way}-{who}-{route}")
    for row in ROWS
    for who in TOKENS
    for route in row.routes
]


@pytest.mark.parametrize(("row", "who", "route"), CELLS)
def test_cell(setup: Setup, row: Row, who: str, route: str) -> None:
    n = f"{who}_{route.replace('-', '_')}_{zlib.crc32(row.way.encode())}"
    q = row.admin_q if who == "admin" and row.admin_q else row.q
    if "m_{n}" in q:  # the admin's delete gets a measurement of its own in "spare"
        write(setup, "spare", f"m_{n},host=x usage=1 1000000000")
    q = q.replace("{n}", n)
    answer = send(setup, route, setup.tokens[who], row.db, q, row.extra)
    outcome = expected(row, who, route)
    if route == "flight":
        assert answer.status == FLIGHT_STATUS[outcome], (outcome, answer)
    elif outcome == UNSUPPORTED:
        if route.startswith("v3"):
            assert answer.status == 501, answer
        else:  # v1: a statement error, as InfluxDB 1.x reports one
            assert answer.status == 200, answer
            assert "not supported" in json.loads(answer.text)["results"][0]["error"]
    else:
        assert answer.status == HTTP_STATUS[outcome], (outcome, answer)
        if outcome == OK and route.startswith("v1"):
            results = json.loads(answer.text)["results"]
            assert all("error" not in r for r in results), answer
    if outcome == FORBIDDEN:  # the message names the token, and the database or "admin"
        assert f"token '{who}'" in answer.text, answer.text
        assert "database '" in answer.text or "admin" in answer.text, answer.text
    if who != "admin":
        assert SECRET not in answer.text
    if "m_{n}" in (row.admin_q or "") and who == "admin" and outcome == OK:  # it ran
        left = _admin_sql(setup.server, setup.tokens["admin"], "spare", f"SELECT * FROM m_{n}")
        assert left.status_code != 200 or left.json() == [], left.text
    assert other_state(setup) == setup.other_before


@pytest.mark.parametrize("route", ROUTES)
def test_show_databases_lists_only_readable(setup: Setup, route: str) -> None:
    for who, wanted in (
        ("reader", ["mine"]),
        ("writer", []),
        ("admin", ["mine", "other", "spare"]),
    ):
        answer = send(setup, route, setup.tokens[who], "mine", "SHOW DATABASES", {})
        if route == "flight" and who == "writer":
            assert answer.status == "PERMISSION_DENIED"  # the ticket's database: not readable
            continue
        assert answer.status in (200, "OK"), answer
        names = set()
        for candidate in ("mine", "other", "spare"):
            if f'"{candidate}"' in answer.text:
                names.add(candidate)
        assert names >= set(wanted) and not (names - set(wanted)), (who, answer.text)


def test_statements_after_a_refused_one_do_not_run(setup: Setup) -> None:
    """1.x semantics: a refused statement stops the text; an authorized one before it ran."""
    reader = setup.tokens["reader"]
    answer = send(
        setup, "v1-post", reader, "mine", "SHOW DATABASES; SELECT * FROM other..cpu; "
        "SELECT * INTO mine..x FROM mine..cpu", {}
    )  # fmt: skip
    assert answer.status == 403
    assert "may not read database 'other'" in answer.text
    admin = setup.tokens["admin"]
    made = send(setup, "v1-post", admin, "mine", "SELECT nope FROM; CREATE DATABASE never", {})
    assert made.status == 400  # the text does not parse: nothing runs
    failed = send(
        setup, "v1-post", admin, "mine", "SELECT * FROM nosuchdb..cpu; CREATE DATABASE never", {}
    )
    results = json.loads(failed.text)["results"]
    assert "database not found" in results[0]["error"]
    assert results[1]["error"] == "not executed"
    names = send(setup, "v1-get", admin, None, "SHOW DATABASES", {}).text
    assert '"never"' not in names


def test_influxdb_v1_client(setup: Setup) -> None:
    """The real InfluxDB 1.x Python client (token as password) gets the same answers."""
    host, port = setup.server.http_url.removeprefix("http://").rsplit(":", 1)
    reader = InfluxDBClient(host, int(port), "reader", setup.tokens["reader"], "mine")
    assert [p["usage"] for p in reader.query("SELECT usage FROM cpu").get_points()] == [1, 2]
    assert reader.get_list_database() == [{"name": "mine"}]
    for attempt in (
        lambda: reader.query("SELECT * FROM other..cpu"),
        lambda: reader.query("SELECT * FROM cpu", database="other"),
        lambda: reader.query('SELECT * INTO "other"..x FROM cpu', method="POST"),
        lambda: reader.drop_database("other"),
        lambda: reader.create_database("mine2"),
        lambda: reader.query("SHOW MEASUREMENTS ON other"),
    ):
        with pytest.raises(InfluxDBClientError) as refused:
            attempt()
        assert refused.value.code == 403
    with pytest.raises(InfluxDBClientError) as on_get:
        reader.query("DROP DATABASE mine")  # GET: read-only
    assert on_get.value.code == 400
    admin = InfluxDBClient(host, int(port), "admin", setup.tokens["admin"], "mine")
    admin.create_database("made_by_client")
    assert {"name": "made_by_client"} in admin.get_list_database()
    admin.drop_database("made_by_client")
    assert other_state(setup) == setup.other_before
