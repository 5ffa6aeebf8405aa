"""Authorization matrix rows for replication: the promote route and the two Flight actions.

Built on ``auth_matrix.py`` (its server, actors and checks: status, no leak of ``other``'s
secret, ``other`` unchanged after every non-admin cell). Replication carries every
database's writes and moves a replica's WAL, so both actions and the promotion are
admin-only: a read or write token can neither pull entries nor ship one (the shipped
frame below writes a row into ``other``; the fingerprint check proves it was not applied).
The matrix server is not a replica, so the admin's append is refused with 421 (gRPC
FAILED_PRECONDITION, which pyarrow delivers as UNKNOWN with the message) and its
promotion answers ``"promoted": false``.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.flight as flight
import pytest

from flight_iox.ports import AcknowledgedWrite
from flight_iox.replication.protocol import (
    APPEND_ACTION,
    PULL_ACTION,
    PullRequest,
    encode_frame,
    payloads,
)
from tests.e2e.auth_matrix import (
    ADMIN_ONLY,
    NOT_IN_SCOPE,
    SECRET,
    Answer,
    Case,
    Env,
    auth_env,  # noqa: F401 (the module's server)
    bearer,
    cells,
    check_cell,
    http,
    sql_http,
)

_BATCH = pa.record_batch(
    {
        "host": pa.array([SECRET + "-shipped"]),
        "usage": pa.array([7.0]),
        "time": pa.array([9_000_000_000], pa.timestamp("ns")),
    }
)
FRAME = encode_frame(payloads([AcknowledgedWrite(1, "other", (("cpu", _BATCH),))]), {})
PULL = PullRequest("matrix", 0, limit=1, wait=0).encode()


def flight_action(name: str, body: bytes) -> Any:
    """One Flight action; its results' sizes (not their bytes: the admin's may hold any row)."""

    def run(env: Env, token: str | None) -> Answer:
        headers = [(k.lower().encode(), v.encode()) for k, v in bearer(token).items()]
        options = flight.FlightCallOptions(headers=headers, timeout=30)
        try:
            results = list(env.client.do_action(flight.Action(name, body), options))
        except flight.FlightUnauthenticatedError as error:
            return Answer(401, str(error))
        except flight.FlightUnauthorizedError as error:
            return Answer(403, str(error))
        except flight.FlightServerError as error:
            if "takes no shipped WAL entries" in str(error):
                return Answer(421, str(error))
            raise
        return Answer(200, str([len(r.body.to_pybytes()) for r in results]))

    return run


CASES: list[Case] = [
    Case("promote node", http("POST", "/api/v3/configure/node/promote"), ADMIN_ONLY),
    Case("system.replication", sql_http("SELECT * FROM system.replication"), NOT_IN_SCOPE),
    Case("flight replication append", flight_action(APPEND_ACTION, FRAME), "401 401 403 403 421"),
    Case("flight replication pull", flight_action(PULL_ACTION, PULL), ADMIN_ONLY),
]


@pytest.mark.parametrize(("case", "actor"), cells(CASES))
def test_replication_routes(auth_env: Env, case: Case, actor: str) -> None:  # noqa: F811
    check_cell(auth_env, case, actor)
