"""Authorization matrix rows for the administration routes: tables, caches, backup, metrics.

Built on ``auth_matrix.py`` (its server, actors and checks: status, no leak of ``other``'s
secret, ``other`` unchanged after every non-admin cell). Each route that names a database
is also sent with ``db`` in both the body and the query string, which must be refused.
"""

from __future__ import annotations

import pytest

from tests.e2e.auth_matrix import (
    ADMIN_ONLY,
    AMBIGUOUS,
    Case,
    Env,
    auth_env,  # noqa: F401 (the module's server)
    cells,
    check_cell,
    http,
)

CREATED = "401 401 403 403 201"
MISSING = "401 401 403 403 404"
NOT_SERVED = "401 401 404 404 404"
OTHER_TABLE = {"db": "other", "table": "cpu"}
TRIGGER_ROUTE = "/api/v3/configure/processing_engine_trigger"
NEW_TRIGGER = {
    "db": "other",
    "trigger_name": "made_t",
    "plugin_filename": "echo.py",
    "trigger_specification": "every:1h",
    "disabled": True,
}
NO_TRIGGER = {"db": "other", "trigger_name": "nosuch"}
# The processing engine's routes (the fixture serves request:mine_echo and request:other_echo).
TRIGGER_CASES = [
    Case("create trigger in other", http("POST", TRIGGER_ROUTE, body=NEW_TRIGGER), CREATED),
    Case(
        "create trigger body and query",
        http("POST", TRIGGER_ROUTE, {"db": "mine"}, body=NEW_TRIGGER),
        AMBIGUOUS,
    ),
    Case("delete trigger of other", http("DELETE", TRIGGER_ROUTE, body=NO_TRIGGER), MISSING),
    Case("enable trigger of other", http("POST", f"{TRIGGER_ROUTE}/enable", NO_TRIGGER), MISSING),
    Case("disable trigger of other", http("POST", f"{TRIGGER_ROUTE}/disable", NO_TRIGGER), MISSING),
    Case(
        "upload a plugin file",
        http("PUT", "/api/v3/plugins/files", body={"plugin_name": "up.py", "content": "x = 1"}),
        ADMIN_ONLY,
    ),
    Case(
        "upload outside the plugin folder",
        http("PUT", "/api/v3/plugins/files", body={"plugin_name": "../up.py", "content": ""}),
        "401 401 403 403 400",
    ),
    Case("request trigger of mine", http("GET", "/api/v3/engine/mine_echo"), "401 401 403 200 200"),
    Case("request trigger of other", http("GET", "/api/v3/engine/other_echo"), ADMIN_ONLY),
    Case("request path served by none", http("POST", "/api/v3/engine/nosuch"), NOT_SERVED),
]
NEW_TABLE = {
    "db": "other",
    "table": "made_t",
    "tags": ["h"],
    "fields": [{"name": "v", "type": "float64"}],
}
TEMPLATED_TABLE = NEW_TABLE | {
    "table": "made_tpl",
    "partition_template": {"time": "hour", "buckets": {"h": 4}},
}

CASES: list[Case] = [
    Case(
        "create table in other",
        http("POST", "/api/v3/configure/table", body=NEW_TABLE),
        "401 401 403 403 201",
    ),
    Case(
        "create table with a template in other",
        http("POST", "/api/v3/configure/table", body=TEMPLATED_TABLE),
        "401 401 403 403 201",
    ),
    Case(
        "create table with a bad template in other",
        http(
            "POST",
            "/api/v3/configure/table",
            body=NEW_TABLE | {"table": "bad_t", "partition_template": {"time": "week"}},
        ),
        "401 401 403 403 400",
    ),
    Case(
        "create table body and query",
        http("POST", "/api/v3/configure/table", {"db": "mine"}, body=NEW_TABLE),
        AMBIGUOUS,
    ),
    Case(
        "drop table of other",
        http("DELETE", "/api/v3/configure/table", {"db": "other", "table": "cpu"}),
        "401 401 403 403 -",
    ),
    Case(
        "partitioning of other",
        http("GET", "/api/v3/configure/table", {"db": "other", "table": "cpu"}),
        ADMIN_ONLY,
    ),
    Case(
        "repartition other",
        http("PUT", "/api/v3/configure/table", body=OTHER_TABLE | {"partition_by": ["host"]}),
        ADMIN_ONLY,
    ),
    Case(
        "last cache on other",
        http("POST", "/api/v3/configure/last_cache", body=OTHER_TABLE | {"name": "lc_m"}),
        "401 401 403 403 201",
    ),
    Case(
        "last cache body and query",
        http(
            "POST",
            "/api/v3/configure/last_cache",
            {"db": "mine"},
            body=OTHER_TABLE | {"name": "lc_q"},
        ),
        AMBIGUOUS,
    ),
    Case(
        "distinct cache on other",
        http(
            "POST",
            "/api/v3/configure/distinct_cache",
            body=OTHER_TABLE | {"name": "dc_m", "columns": ["host"]},
        ),
        "401 401 403 403 201",
    ),
    Case(
        "delete a cache of other",
        http("DELETE", "/api/v3/configure/last_cache", body=OTHER_TABLE | {"name": "nosuch"}),
        "401 401 403 403 404",
    ),
    Case(
        "backup", http("POST", "/api/v3/backup", body={"to": "/nonexistent"}), "401 401 403 403 -"
    ),
    Case("metrics", http("GET", "/metrics"), ADMIN_ONLY, leak="other"),
    Case("cancel a query", http("DELETE", "/api/v3/query/nosuch"), "401 401 404 404 404"),
    *TRIGGER_CASES,
]


@pytest.mark.parametrize(("case", "actor"), cells(CASES))
def test_admin_routes(auth_env: Env, case: Case, actor: str) -> None:  # noqa: F811
    check_cell(auth_env, case, actor)
