"""Authorization matrix rows for InfluxDB 2's API and for Flight SQL on the HTTP port.

Built on ``auth_matrix.py`` (its server, actors and checks: status, no leak, ``other``
unchanged after every non-admin cell). Buckets are databases: a listing shows what the token
may read, an ID resolves only among the buckets the token may use (else 404, so IDs reveal
nothing), and creating, deleting, changing retention and deleting rows need what the
database API and SQL ``DELETE`` need.
"""

from __future__ import annotations

import dataclasses

import pyarrow.flight as flight
import pytest

from flight_iox.http.v2_buckets import bucket_id
from tests.e2e.auth_matrix import (
    READS_MINE,
    READS_OTHER,
    SCRATCH_ROW,
    WRITES_MINE,
    WRITES_OTHER,
    Answer,
    Case,
    Env,
    Request,
    auth_env,  # noqa: F401 (the module's server)
    cells,
    check_cell,
    http,
)
from tests.e2e.auth_matrix_flight import (
    json_ticket,
)

OTHER, MINE = bucket_id("other"), bucket_id("mine")
LISTED_OTHER = '"name":"other"'  # a bucket listing's mark of database ``other``
RANGE = {"start": "1970-01-01T00:00:00Z", "stop": "2100-01-01T00:00:00Z"}


def on_http_port(request: Request) -> Request:
    """``request`` (a Flight call) sent to the HTTP address instead of the Flight port."""

    def run(env: Env, token: str | None) -> Answer:
        uri = "grpc://" + env.server.http_url.split("://", 1)[1]
        with flight.FlightClient(uri) as client:
            return request(dataclasses.replace(env, client=client), token)

    return run


CASES: list[Case] = [
    Case("v2 list buckets", http("GET", "/api/v2/buckets"), "401 401 200 200 200", LISTED_OTHER),
    Case(
        "v2 find bucket other by name",
        http("GET", "/api/v2/buckets", {"name": "other"}),
        "401 401 200 200 200",
        LISTED_OTHER,
    ),
    Case("v2 bucket other by id", http("GET", f"/api/v2/buckets/{OTHER}"), "401 401 404 404 200"),
    Case("v2 bucket mine by id", http("GET", f"/api/v2/buckets/{MINE}"), "401 401 200 403 200"),
    Case(
        "v2 delete bucket other",
        http("DELETE", f"/api/v2/buckets/{OTHER}"),
        "401 401 404 404 -",
    ),
    Case("v2 delete bucket mine", http("DELETE", f"/api/v2/buckets/{MINE}"), "401 401 403 403 -"),
    Case(
        "v2 create bucket other",
        http("POST", "/api/v2/buckets", body={"name": "other"}),
        "401 401 403 403 409",
    ),
    Case(
        "v2 create bucket",
        http("POST", "/api/v2/buckets", body={"name": "made_v2", "retentionRules": []}),
        "401 401 403 403 201",
    ),
    Case(
        "v2 retention of mine",
        http("PATCH", f"/api/v2/buckets/{MINE}", body={"retentionRules": []}),
        "401 401 403 403 200",
    ),
    Case(
        "v2 retention of other",
        http("PATCH", f"/api/v2/buckets/{OTHER}", body={"retentionRules": []}),
        "401 401 404 404 200",
    ),
    Case("v2 orgs", http("GET", "/api/v2/orgs"), "401 401 200 200 200"),
    Case("v2 create org", http("POST", "/api/v2/orgs", body={"name": "x"}), "401 401 422 422 422"),
    Case(
        "v2 delete rows of other",
        http("POST", "/api/v2/delete", {"bucket": "other"}, body=RANGE),
        "401 401 403 403 -",
    ),
    Case(
        "v2 delete rows of other by id",
        http("POST", "/api/v2/delete", {"bucketID": OTHER}, body=RANGE),
        "401 401 404 404 -",
    ),
    Case(
        "v2 delete rows of mine",
        http(
            "POST",
            "/api/v2/delete",
            {"bucket": "mine/autogen"},
            body=RANGE | {"predicate": 'host="none"'},
        ),
        "401 401 403 403 204",
    ),
    Case(
        "v2 write mine/rp",
        http("POST", "/api/v2/write", {"bucket": "mine/autogen"}, data=SCRATCH_ROW),
        WRITES_MINE,
    ),
    Case(
        "v2 write other/rp",
        http("POST", "/api/v2/write", {"bucket": "other/autogen"}, data=SCRATCH_ROW),
        WRITES_OTHER,
    ),
    Case("ready", http("GET", "/ready"), "200 401 200 200 200"),
    Case("ping", http("GET", "/ping"), "200 401 200 200 200"),
    Case("unknown v2 route", http("POST", "/api/v2/nosuch"), "404 404 404 404 404"),
    # --- Flight SQL on the HTTP port: the Flight server's checks, unchanged ------------------
    Case(
        "http port ticket mine",
        on_http_port(json_ticket(database="mine", sql_query="SELECT host FROM cpu")),
        READS_MINE,
    ),
    Case(
        "http port ticket other",
        on_http_port(json_ticket(database="other", sql_query="SELECT host FROM cpu")),
        READS_OTHER,
    ),
]


@pytest.mark.parametrize(("case", "actor"), cells(CASES))
def test_v2_routes(auth_env: Env, case: Case, actor: str) -> None:  # noqa: F811
    check_cell(auth_env, case, actor)
