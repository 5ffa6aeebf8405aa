"""Authorization matrix rows for the read-only Iceberg REST catalog (``/iceberg``).

Built on ``auth_matrix.py`` (its server, actors and checks: status, no leak, ``other``
unchanged after every non-admin cell). A token lists and loads only the databases it may
read; a database it may not read answers 404 exactly as an unknown one, so its name never
leaks. Every write verb is 405 for every valid token, the admin's included.
"""

from __future__ import annotations

import pytest

from tests.e2e.auth_matrix import (
    Case,
    Env,
    auth_env,  # noqa: F401 (the module's server)
    cells,
    check_cell,
    http,
)

V1 = "/iceberg/v1"
LISTED_OTHER = '["other"]'  # a namespace listing's mark of database ``other``
READABLE_MINE = "401 401 200 404 200"  # the write token may not read ``mine``: not found
HIDDEN_OTHER = "401 401 404 404 200"
HEAD_MINE = "401 401 204 404 204"
HEAD_OTHER = "401 401 404 404 204"
READ_ONLY = "401 401 405 405 405"

CASES: list[Case] = [
    Case("iceberg config", http("GET", f"{V1}/config"), "401 401 200 200 200"),
    Case(
        "iceberg namespaces", http("GET", f"{V1}/namespaces"), "401 401 200 200 200", LISTED_OTHER
    ),
    Case("iceberg namespace mine", http("GET", f"{V1}/namespaces/mine"), READABLE_MINE),
    Case("iceberg namespace other", http("GET", f"{V1}/namespaces/other"), HIDDEN_OTHER),
    Case("iceberg head namespace mine", http("HEAD", f"{V1}/namespaces/mine"), HEAD_MINE),
    Case("iceberg head namespace other", http("HEAD", f"{V1}/namespaces/other"), HEAD_OTHER),
    Case("iceberg tables mine", http("GET", f"{V1}/namespaces/mine/tables"), READABLE_MINE),
    Case("iceberg tables other", http("GET", f"{V1}/namespaces/other/tables"), HIDDEN_OTHER, "cpu"),
    Case("iceberg load mine.cpu", http("GET", f"{V1}/namespaces/mine/tables/cpu"), READABLE_MINE),
    Case(
        "iceberg load other.cpu",
        http("GET", f"{V1}/namespaces/other/tables/cpu"),
        HIDDEN_OTHER,
        "metadata-location",
    ),
    Case("iceberg head other.cpu", http("HEAD", f"{V1}/namespaces/other/tables/cpu"), HEAD_OTHER),
    Case(
        "iceberg create namespace",
        http("POST", f"{V1}/namespaces", body={"namespace": ["x"]}),
        READ_ONLY,
    ),
    Case("iceberg drop namespace other", http("DELETE", f"{V1}/namespaces/other"), READ_ONLY),
    Case(
        "iceberg create table in other",
        http("POST", f"{V1}/namespaces/other/tables", body={"name": "t"}),
        READ_ONLY,
    ),
    Case(
        "iceberg commit other.cpu",
        http("POST", f"{V1}/namespaces/other/tables/cpu", body={"updates": []}),
        READ_ONLY,
    ),
    Case("iceberg drop other.cpu", http("DELETE", f"{V1}/namespaces/other/tables/cpu"), READ_ONLY),
    Case("iceberg rename", http("POST", f"{V1}/tables/rename", body={}), READ_ONLY),
    Case(
        "iceberg commit transaction", http("POST", f"{V1}/transactions/commit", body={}), READ_ONLY
    ),
]


@pytest.mark.parametrize(("case", "actor"), cells(CASES))
def test_iceberg_routes(auth_env: Env, case: Case, actor: str) -> None:  # noqa: F811
    check_cell(auth_env, case, actor)
