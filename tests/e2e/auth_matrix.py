"""The authorization matrix: one table of expected outcomes, run against one real server.

A ``Case`` is one request (an HTTP route or a Flight RPC, with one way of naming a
database) and the status each actor must get, in ``ACTORS`` order::

    Case("sql three-part", sql_http("SELECT host FROM other.iox.cpu"), "401 401 400 403 200")

``-`` skips an actor (an admin request that would destroy the fixture). Flight statuses
are given as their HTTP equivalents (UNAUTHENTICATED 401, PERMISSION_DENIED 403,
INVALID_ARGUMENT 400, NOT_FOUND 404, UNIMPLEMENTED 501). Every cell also checks that a
non-admin answer never contains ``case.leak`` (the secret row of ``other`` by default)
and that database ``other`` is unchanged afterwards (its rows, its secret, its tables).

The server (``auth_env``, module-scoped, ``--auth required``) holds databases ``mine``
and ``other`` with a ``cpu`` table each; ``other.cpu`` has the secret row. Tokens:
``read`` may read ``mine``, ``write`` may write ``mine``, ``admin`` is the bootstrap
admin, ``wrong`` is not a token. Another module adds rows (e.g. InfluxQL) by importing
``auth_env``, ``Case``, ``check_cell`` and the request builders from here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow.flight as flight
import pytest
import requests

from flight_iox.launcher import RunningServer, start_server

ACTORS = ("none", "wrong", "read", "write", "admin")
SECRET = "vault-9f2c"
MINE_ROWS = "cpu,host=a usage=1 1000000000\ncpu,host=b usage=2 2000000000"
OTHER_ROWS = f"cpu,host=b usage=3 1000000000\ncpu,host={SECRET} usage=42 2000000000"
SCRATCH_ROW = "scratch,host=x v=1 3000000000"
_TIMEOUT = 30
ECHO_PLUGIN = """
def process_request(influxdb3_local, query_parameters, request_headers, request_body, args=None):
    return {"ok": True}
"""

# Statuses by actor: none, wrong, read-mine, write-mine, admin.
READS_MINE = "401 401 200 403 200"
READS_OTHER = "401 401 403 403 200"
NOT_IN_SCOPE = "401 401 400 403 200"  # other.iox.cpu does not resolve; write may not read mine
AMBIGUOUS = "401 401 400 400 400"
WRITES_MINE = "401 401 403 204 204"
WRITES_OTHER = "401 401 403 403 204"
CHANGES_OTHER = "401 401 403 403 200"
ADMIN_ONLY = "401 401 403 403 200"
LISTING = "401 401 200 200 200"

# Ways of naming ``other`` inside SQL whose default database is ``mine``
# (also the unit tests of the scoped engine).
OTHER_IN_SQL = {
    "plain": "SELECT host FROM other.iox.cpu",
    "quoted": 'SELECT host FROM "other"."iox"."cpu"',
    "block comment": "SELECT host FROM other/**/.iox.cpu",
    "line comment": "SELECT host FROM other--c\n.iox.cpu",
    "e-string": "SELECT E'\\'' AS q, host FROM other.iox.cpu -- '",
    "dollar quoting": "SELECT $$'$$ AS q, host FROM other.iox.cpu -- '",
    "subquery": "SELECT host FROM cpu WHERE host IN (SELECT host FROM other.iox.cpu)",
    "cte": "WITH o AS (SELECT host FROM other.iox.cpu) SELECT host FROM o",
    "union": "SELECT host FROM cpu UNION ALL SELECT host FROM other.iox.cpu",
    "join": "SELECT o.host FROM cpu JOIN other.iox.cpu o ON true",
    "system table": "SELECT * FROM other.system.tables",
}


@dataclass(frozen=True)
class Answer:
    """What a request got: an HTTP-style status and the body (or result rows) as text."""

    status: int
    text: str


class StartedTests:
    """How many tests this process has started (``tests/e2e/conftest.py`` ticks it).

    ``check_cell`` reuses the fingerprint of ``other`` taken at the end of the test just
    before, when that test was a non-admin cell on the same server: nothing ran in between,
    so it is what a fresh query would return, and the query (about 35 ms of the server's CPU,
    most of a cell's cost) runs once per cell instead of twice.
    """

    count = 0

    @classmethod
    def tick(cls) -> None:
        cls.count += 1


@dataclass
class Env:
    """The running server, each actor's token and a Flight client."""

    server: RunningServer
    tokens: dict[str, str | None]
    client: flight.FlightClient
    # (StartedTests.count, fingerprint) at the end of the last non-admin cell.
    last_fingerprint: tuple[int, list[dict[str, Any]]] | None = None

    def admin_sql(self, sql: str) -> list[dict[str, Any]]:
        """Rows of an admin query (to look at ``other`` without going through a cell)."""
        response = requests.get(
            f"{self.server.http_url}/api/v3/query_sql",
            params={"db": "mine", "q": sql},
            headers=bearer(self.tokens["admin"]),
            timeout=_TIMEOUT,
        )
        assert response.status_code == 200, response.text
        return response.json()

    def fingerprint(self) -> list[dict[str, Any]]:
        """What must not change in ``other``: row count, the secret row, the table list."""
        return self.admin_sql(
            "SELECT (SELECT count(*) FROM other.iox.cpu) AS n, "
            f"(SELECT max(usage) FROM other.iox.cpu WHERE host = '{SECRET}') AS secret, "
            "(SELECT string_agg(table_name, ',' ORDER BY table_name) "
            " FROM information_schema.tables "
            " WHERE table_catalog = 'other' AND table_schema = 'iox') AS tables"
        )

    def fingerprint_before_this_test(self) -> list[dict[str, Any]]:
        """``fingerprint()``, or the one the test just before this one ended with (see
        ``StartedTests``)."""
        if self.last_fingerprint is not None and self.last_fingerprint[0] == StartedTests.count - 1:
            return self.last_fingerprint[1]
        return self.fingerprint()


Request = Callable[[Env, "str | None"], Answer]


@dataclass(frozen=True)
class Case:
    """One request and the status each actor gets (``ACTORS`` order; ``-`` skips)."""

    name: str
    request: Request
    expect: str
    leak: str = SECRET

    def expected(self, actor: str) -> int | None:
        """The status ``actor`` must get, or None to skip the cell."""
        value = self.expect.split()[ACTORS.index(actor)]
        return None if value == "-" else int(value)


def cells(cases: Sequence[Case]) -> list[Any]:
    """``pytest.param(case, actor)`` for every cell that is not skipped."""
    return [
        pytest.param(case, actor, id=f"{case.name}-{actor}")
        for case in cases
        for actor in ACTORS
        if case.expected(actor) is not None
    ]


def check_cell(env: Env, case: Case, actor: str) -> None:
    """Run one cell: its status, no leak, and ``other`` unchanged for non-admins."""
    before = env.fingerprint_before_this_test() if actor != "admin" else None
    env.last_fingerprint = None
    answer = case.request(env, env.tokens[actor])
    assert answer.status == case.expected(actor), answer.text
    if actor != "admin":
        assert case.leak not in answer.text
        after = env.fingerprint()
        assert after == before
        env.last_fingerprint = (StartedTests.count, after)


def bearer(token: str | None) -> dict[str, str]:
    """The Authorization header of a token (none without one)."""
    return {"Authorization": f"Bearer {token}"} if token else {}


# --- HTTP -------------------------------------------------------------------------------


def http(
    method: str,
    path: str,
    params: Sequence[tuple[str, str]] | dict[str, str] | None = None,
    *,
    body: dict[str, Any] | None = None,
    form: dict[str, str] | None = None,
    data: str | None = None,
) -> Request:
    """An HTTP request; ``params`` may repeat a name (a list of pairs)."""

    def run(env: Env, token: str | None) -> Answer:
        response = requests.request(
            method,
            f"{env.server.http_url}{path}",
            params=params,
            json=body,
            data=form if form is not None else data,
            headers=bearer(token),
            timeout=_TIMEOUT,
        )
        return Answer(response.status_code, response.text)

    return run


def sql_http(sql: str, db: str = "mine") -> Request:
    """``GET /api/v3/query_sql?db=&q=``."""
    return http("GET", "/api/v3/query_sql", {"db": db, "q": sql})


def _post(env_url: str, path: str, token: str | None, **kwargs: Any) -> requests.Response:
    response = requests.post(f"{env_url}{path}", headers=bearer(token), timeout=_TIMEOUT, **kwargs)
    assert response.status_code < 300, response.text
    return response


@pytest.fixture(scope="module")
def auth_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    """``--auth required`` with ``mine`` and ``other`` (persisted), and the actors' tokens."""
    root = tmp_path_factory.mktemp("matrix")
    (root / "plugins").mkdir()
    (root / "plugins" / "echo.py").write_text(ECHO_PLUGIN)
    server = start_server(
        root / "data",
        "--no-persist-on-shutdown",
        "--auth",
        "required",
        "--plugin-dir",
        str(root / "plugins"),
    )
    url = server.http_url
    admin = _post(url, "/api/v3/configure/token/admin", None).json()["token"]

    def token(name: str, actions: list[str]) -> str:
        permissions = [{"database": "mine", "actions": actions}]
        body = {"name": name, "permissions": permissions}
        return _post(url, "/api/v3/configure/token", admin, json=body).json()["token"]

    _post(url, "/api/v3/write_lp", admin, params={"db": "mine"}, data=MINE_ROWS)
    _post(url, "/api/v3/write_lp", admin, params={"db": "other"}, data=OTHER_ROWS)
    _post(url, "/api/v3/persist", admin)
    for db in ("mine", "other"):  # request triggers served at /api/v3/engine/<db>_echo
        trigger = {"db": db, "trigger_name": "echo", "plugin_filename": "echo.py"}
        trigger["trigger_specification"] = f"request:{db}_echo"
        _post(url, "/api/v3/configure/processing_engine_trigger", admin, json=trigger)
    tokens = {
        "none": None,
        "wrong": "apiv3_not-a-token",
        "read": token("reader", ["read"]),
        "write": token("writer", ["write"]),
        "admin": admin,
    }
    with flight.FlightClient(server.flight_uri) as client:
        yield Env(server, tokens, client)
    server.stop()
