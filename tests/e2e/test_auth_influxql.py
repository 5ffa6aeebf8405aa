"""InfluxQL rows of the authorization matrix: every way InfluxQL names a database.

Built on ``auth_matrix.py`` (its server, actors and checks: status, no leak of ``other``'s
secret, ``other`` unchanged after every non-admin cell). Each ``Row`` is one InfluxQL text
and becomes one ``Case`` per route: ``GET /query``, ``POST /query`` (form body),
``POST /api/v3/query_influxql`` (JSON body), ``GET /api/v3/query_influxql`` and a Flight
JSON ticket with ``query_type: influxql``. A data-changing text is refused on GET and
Flight (400) before anything runs. Admin texts that would change ``other`` run as their
own case on a measurement made for them in ``mine`` (``admin_q``).
"""

from __future__ import annotations

import json
import zlib

import pytest
import requests
from influxdb import InfluxDBClient
from influxdb.exceptions import InfluxDBClientError

from tests.e2e.auth_influxql_rows import (
    AMBIGUOUS,
    READ_ONLY_ROUTES,
    ROUTES,
    ROWS,
    V1_STATEMENT_ERROR,
    Row,
)
from tests.e2e.auth_matrix import (
    Answer,
    Case,
    Env,
    Request,
    auth_env,  # noqa: F401 (the module's server)
    bearer,
    cells,
    check_cell,
    http,
)
from tests.e2e.auth_matrix_flight import (
    json_ticket,
)


def influxql(route: str, db: str | None, q: str, extra: dict[str, str]) -> Request:
    """The text ``q`` over ``route``, the request's database ``db``."""
    if route == "flight":
        return json_ticket(database=db, sql_query=q, query_type="influxql")  # type: ignore[arg-type]
    query = [("db", db)] if db is not None else []
    body: dict[str, str] = {"q": q}
    for key, value in extra.items():
        place, name = key.split(":")
        if place == "body":
            body[name] = value
        else:
            query.append((name, value))
    path = "/query" if route.startswith("v1") else "/api/v3/query_influxql"
    if route.endswith("get"):
        request = http("GET", path, [*query, *body.items()])
    elif route == "v1-post":
        request = http("POST", path, query, form=body)
    else:
        request = http("POST", path, query, body=body)
    return _v1_errors(request) if route.startswith("v1") else request


def _v1_errors(request: Request) -> Request:
    """A v1 answer whose ``results`` hold an error gets ``V1_STATEMENT_ERROR``."""

    def run(env: Env, token: str | None) -> Answer:
        answer = request(env, token)
        if answer.status == 200 and any("error" in r for r in json.loads(answer.text)["results"]):
            return Answer(V1_STATEMENT_ERROR, answer.text)
        return answer

    return run


def _with_measurement(name: str, request: Request) -> Request:
    """``request`` after the admin writes measurement ``name`` into ``mine`` for it."""

    def run(env: Env, token: str | None) -> Answer:
        response = requests.post(
            f"{env.server.http_url}/api/v3/write_lp",
            params={"db": "mine"},
            data=f"{name},host=x usage=1 1000000000",
            headers=bearer(env.tokens["admin"]),
            timeout=30,
        )
        assert response.status_code == 204, response.text
        return request(env, token)

    return run


def status(row: Row, route: str, actor: str) -> str:
    """The status of one token on one route (GET and Flight refuse changes with 400)."""
    if row.changes and route in READ_ONLY_ROUTES:
        return "400"
    wanted = row.expect.split()[("read", "write", "admin").index(actor)]
    if wanted in ("400", "404", "501") and route.startswith("v1") and row.expect != AMBIGUOUS:
        return str(V1_STATEMENT_ERROR)
    return wanted


def cases(row: Row, route: str) -> list[Case]:
    """One case for every token, and one more for an admin text of its own."""
    n = f"{route.replace('-', '_')}_{zlib.crc32(row.way.encode())}"
    admin = "-" if row.admin_q else status(row, route, "admin")
    expect = f"401 401 {status(row, route, 'read')} {status(row, route, 'write')} {admin}"
    name = f"{row.way} {route}"
    out = [Case(name, influxql(route, row.db, row.q.replace("{n}", n), row.extra), expect)]
    if row.admin_q:
        request = influxql(route, row.db, row.admin_q.replace("{n}", n), row.extra)
        if "m_{n}" in row.admin_q:
            request = _with_measurement(f"m_{n}", request)
        out.append(Case(f"{name} (admin's own)", request, f"- - - - {status(row, route, 'admin')}"))
    return out


CASES = [case for row in ROWS for route in row.routes for case in cases(row, route)]


@pytest.mark.parametrize(("case", "actor"), cells(CASES))
def test_influxql_matrix(auth_env: Env, case: Case, actor: str) -> None:  # noqa: F811
    check_cell(auth_env, case, actor)


def test_forbidden_answers_name_the_token_and_the_database(auth_env: Env) -> None:  # noqa: F811
    for route in ROUTES:
        answer = influxql(route, "mine", "SELECT * FROM other..cpu", {})(
            auth_env, auth_env.tokens["read"]
        )
        assert answer.status == 403
        assert "token 'reader' may not read database 'other'" in answer.text


@pytest.mark.parametrize("route", ROUTES)
def test_show_databases_lists_only_readable(auth_env: Env, route: str) -> None:  # noqa: F811
    for actor, wanted in (("read", {"mine"}), ("write", set()), ("admin", {"mine", "other"})):
        answer = influxql(route, "mine", "SHOW DATABASES", {})(auth_env, auth_env.tokens[actor])
        assert answer.status == 200, answer
        names = {
            db for db in ("mine", "other") if f"'{db}'" in answer.text or f'"{db}"' in answer.text
        }
        assert names == wanted, (actor, answer.text)


def test_deletes_remove_rows(auth_env: Env) -> None:  # noqa: F811
    """DELETE, DROP SERIES and DROP MEASUREMENT really run for a token allowed to."""
    admin = auth_env.tokens["admin"]
    lines = "\n".join(f"del_{m},host={h} v=1 {t}" for m in "abc" for h in "xy" for t in (1, 2))
    write = requests.post(
        f"{auth_env.server.http_url}/api/v3/write_lp",
        params={"db": "mine"},
        data=lines,
        headers=bearer(admin),
        timeout=30,
    )
    assert write.status_code == 204
    text = "DELETE FROM del_a WHERE host = 'x'; DROP SERIES FROM /del_b/ WHERE host = 'y'; "
    text += "DROP MEASUREMENT del_c"
    answer = influxql("v1-post", "mine", text, {})(auth_env, admin)
    assert answer.status == 200, answer.text
    assert auth_env.admin_sql("SELECT host FROM mine.iox.del_a") == [{"host": "y"}] * 2
    assert auth_env.admin_sql("SELECT host FROM mine.iox.del_b") == [{"host": "x"}] * 2
    tables = auth_env.admin_sql(
        "SELECT table_name FROM information_schema.tables WHERE table_catalog = 'mine'"
    )
    assert {"table_name": "del_c"} not in tables


def test_statements_after_a_refused_one_do_not_run(auth_env: Env) -> None:  # noqa: F811
    """1.x semantics: the first error stops the text; a refusal answers the whole request."""
    read, admin = auth_env.tokens["read"], auth_env.tokens["admin"]
    refused = influxql(
        "v1-post", "mine", "SHOW DATABASES; SELECT * FROM other..cpu; CREATE DATABASE never", {}
    )(auth_env, read)
    assert refused.status == 403
    failed = influxql("v1-post", "mine", "SELECT * FROM nosuchdb..cpu; CREATE DATABASE never", {})(
        auth_env, admin
    )
    results = json.loads(failed.text)["results"]
    assert "database not found" in results[0]["error"]
    assert results[1]["error"] == "not executed"
    listed = influxql("v1-get", None, "SHOW DATABASES", {})(auth_env, admin)
    assert '"never"' not in listed.text


def test_influxdb_v1_client(auth_env: Env) -> None:  # noqa: F811
    """The real InfluxDB 1.x Python client (the token as password) gets the same answers."""
    host, port = auth_env.server.http_url.removeprefix("http://").rsplit(":", 1)
    before = auth_env.fingerprint()
    reader = InfluxDBClient(host, int(port), "reader", auth_env.tokens["read"], "mine")
    assert sorted(p["usage"] for p in reader.query("SELECT usage FROM cpu").get_points()) == [1, 2]
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
    admin = InfluxDBClient(host, int(port), "admin", auth_env.tokens["admin"], "mine")
    admin.create_database("made_by_client")
    assert {"name": "made_by_client"} in admin.get_list_database()
    admin.drop_database("made_by_client")
    assert auth_env.fingerprint() == before
