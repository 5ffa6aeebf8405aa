"""Authorization matrix rows for Flux (``POST /api/v2/query``).

Built on ``auth_matrix.py`` (its server, actors and checks: status, no leak of ``other``'s
secret, ``other`` unchanged after every non-admin cell). A bucket is refused where
``from`` (or a ``schema``/``v1`` function) names it, before any table is read, whichever
form the name takes (``db``, ``db/rp``, a variable, a second yield); ``buckets()`` and
``v1.databases()`` list only what the token may read.
"""

from __future__ import annotations

import pytest
import requests

from tests.e2e.auth_matrix import (
    LISTING,
    READS_MINE,
    READS_OTHER,
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

SCHEMA = 'import "influxdata/influxdb/schema"\n'
V1 = 'import "influxdata/influxdb/v1"\n'
EVER = "start: 0, stop: 2100-01-01T00:00:00Z"


def flux(query: str) -> Request:
    """``POST /api/v2/query`` with a JSON body, as influxdb-client sends it."""
    body = {"query": query, "dialect": {"annotations": ["datatype", "group", "default"]}}
    return http("POST", "/api/v2/query", {"org": "any"}, body=body)


def flux_text(query: str) -> Request:
    """``POST /api/v2/query`` with the Flux text as the body (``application/vnd.flux``)."""

    def run(env: Env, token: str | None) -> Answer:
        headers = {**bearer(token), "Content-Type": "application/vnd.flux"}
        url = f"{env.server.http_url}/api/v2/query"
        response = requests.post(url, data=query, headers=headers, timeout=30)
        return Answer(response.status_code, response.text)

    return run


CASES: list[Case] = [
    Case("flux from mine", flux(f'from(bucket: "mine") |> range({EVER})'), READS_MINE),
    Case("flux from other", flux(f'from(bucket: "other") |> range({EVER})'), READS_OTHER),
    Case(
        "flux from other/rp", flux(f'from(bucket: "other/autogen") |> range({EVER})'), READS_OTHER
    ),
    Case(
        "flux bucket in a variable",
        flux(f'b = "oth" + "er"\nfrom(bucket: b) |> range({EVER}) |> yield(name: "x")'),
        READS_OTHER,
    ),
    Case(
        "flux second yield reads other",
        flux(
            f'from(bucket: "mine") |> range({EVER}) |> yield(name: "a")\n'
            f'from(bucket: "other") |> range({EVER}) |> yield(name: "b")'
        ),
        READS_OTHER,
    ),
    Case(
        "flux pivot of other",
        flux(
            f'from(bucket: "other") |> range({EVER})'
            ' |> pivot(rowKey: ["_time"], columnKey: ["host"], valueColumn: "_value")'
        ),
        READS_OTHER,
    ),
    Case("flux text body other", flux_text(f'from(bucket: "other") |> range({EVER})'), READS_OTHER),
    Case("flux buckets()", flux("buckets()"), LISTING, leak="other"),
    Case("flux v1.databases()", flux(V1 + "v1.databases()"), LISTING, leak="other"),
    Case(
        "flux schema.tagValues other",
        flux(SCHEMA + f'schema.tagValues(bucket: "other", tag: "host", {EVER})'),
        READS_OTHER,
    ),
    Case(
        "flux schema.tagKeys other",
        flux(SCHEMA + 'schema.tagKeys(bucket: "other")'),
        READS_OTHER,
    ),
    Case(
        "flux v1.measurements mine",
        flux(V1 + f'v1.measurements(bucket: "mine", {EVER})'),
        READS_MINE,
    ),
]


@pytest.mark.parametrize(("case", "actor"), cells(CASES))
def test_flux_routes(auth_env: Env, case: Case, actor: str) -> None:  # noqa: F811
    check_cell(auth_env, case, actor)
