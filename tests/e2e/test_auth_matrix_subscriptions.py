"""Authorization matrix rows for subscriptions: InfluxQL's statements and Flight streams.

Built on ``auth_matrix.py`` (its server, actors and checks: status, no leak of ``other``'s
secret, ``other`` unchanged after every non-admin cell). Push subscriptions are admin-only
(docs/subscriptions.md#permissions); a Flight stream needs read on its database, checked
before anything is read, and its predicate cannot reach another database.
"""

from __future__ import annotations

import pytest

from tests.e2e.auth_matrix import (
    ADMIN_ONLY,
    AMBIGUOUS,
    NOT_IN_SCOPE,
    READS_MINE,
    READS_OTHER,
    Case,
    Env,
    auth_env,  # noqa: F401 (the module's server)
    cells,
    check_cell,
    http,
    sql_http,
)
from tests.e2e.auth_matrix_flight import (
    flight_subscribe,
)

CREATE = "CREATE SUBSCRIPTION s ON mine.autogen DESTINATIONS ALL 'http://127.0.0.1:9'"
CREATE_OTHER = "CREATE SUBSCRIPTION s ON other DESTINATIONS ANY 'http://127.0.0.1:9'"

CASES: list[Case] = [
    Case("influxql create subscription", http("POST", "/query", {"q": CREATE}), ADMIN_ONLY),
    Case(
        "influxql create subscription on other",
        http("POST", "/query", {"db": "mine", "q": CREATE_OTHER}),
        ADMIN_ONLY,
    ),
    Case(
        "influxql create subscription by GET",
        http("GET", "/query", {"q": CREATE}),
        "401 401 400 400 400",  # read-only: refused before any permission is looked at
    ),
    Case(
        "influxql show subscriptions",
        http("GET", "/query", {"q": "SHOW SUBSCRIPTIONS"}),
        ADMIN_ONLY,
    ),
    Case(
        "influxql drop subscription",
        http("POST", "/query", {"q": "DROP SUBSCRIPTION nosuch ON mine"}),
        ADMIN_ONLY,  # the admin's answer: 200 with "subscription not found"
    ),
    Case("system.subscriptions", sql_http("SELECT * FROM system.subscriptions"), NOT_IN_SCOPE),
    Case("flight subscribe mine", flight_subscribe(database="mine", table="cpu"), READS_MINE),
    Case("flight subscribe other", flight_subscribe(database="other", table="cpu"), READS_OTHER),
    Case(
        "flight subscribe header other",
        flight_subscribe([("database", "other")], table="cpu"),
        READS_OTHER,
    ),
    Case(
        "flight subscribe ticket and header differ",
        flight_subscribe([("database", "mine")], database="other", table="cpu"),
        AMBIGUOUS,
    ),
    Case(
        "flight subscribe where reads other",
        flight_subscribe(
            database="mine", table="cpu", where="host IN (SELECT host FROM other.iox.cpu)"
        ),
        "401 401 400 403 400",  # the predicate's session holds only the stream's rows
    ),
]


@pytest.mark.parametrize(("case", "actor"), cells(CASES))
def test_subscription_routes(auth_env: Env, case: Case, actor: str) -> None:  # noqa: F811
    check_cell(auth_env, case, actor)
