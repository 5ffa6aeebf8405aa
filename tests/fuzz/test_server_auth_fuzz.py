"""Fuzz a real server run with ``--auth required``, with every kind of caller.

Each fuzzed HTTP request or Flight call goes with no token, a wrong token, a token that
may read ``fuzz``, one that may write ``fuzz``, or the admin token. Whatever it is: no
5xx and no INTERNAL (as in ``test_server_fuzz.py``), and a caller that may not change
data changed none: the database list and the row counts of ``fuzz.cpu`` and
``other.cpu`` are the same after its call (a ``fuzz`` writer may change ``fuzz`` only).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.flight as flight
import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from flight_iox.launcher import RunningServer, start_server
from tests.fuzz.conftest import budget
from tests.fuzz.server_calls import (
    FLIGHT_CALLS,
    TIMEOUT,
    FlightCall,
    Request,
    is_internal_error,
    requests_,
    run_flight_call,
)

CALLERS = ["none", "wrong", "reader", "writer", "admin"]


@dataclass(frozen=True)
class Secured:
    """The server and its tokens by caller kind."""

    server: RunningServer
    tokens: dict[str, str]

    def header(self, caller: str) -> dict[str, str]:
        token = self.tokens.get(caller)
        return {"Authorization": f"Bearer {token}"} if token else {}

    def snapshot(self) -> tuple[object, ...]:
        """What a caller without the right may not change."""
        admin = self.header("admin")
        url = f"{self.server.http_url}/api/v3"
        listed = requests.get(f"{url}/configure/database", headers=admin, timeout=TIMEOUT)
        assert listed.status_code == 200, listed.text
        names = sorted(row["iox::database"] for row in listed.json())
        counts = []
        for database in ("fuzz", "other"):
            answer = requests.get(
                f"{url}/query_sql",
                params={"db": database, "q": "SELECT count(*) AS n FROM cpu"},
                headers=admin,
                timeout=TIMEOUT,
            )
            counts.append(
                answer.json()[0]["n"] if answer.status_code == 200 else answer.status_code
            )
        return (names, *counts)


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Secured]:
    server = start_server(
        tmp_path_factory.mktemp("fuzz-auth") / "data",
        "--no-persist-on-shutdown",
        *("--auth", "required", "--max-request-bytes", "1MiB"),
    )
    url = f"{server.http_url}/api/v3/configure/token"
    admin = requests.post(f"{url}/admin", timeout=TIMEOUT).json()["token"]
    tokens = {"admin": admin, "wrong": "apiv3_" + "x" * 40}
    for name, action in (("reader", "read"), ("writer", "write")):
        body = {"name": name, "permissions": [{"database": "fuzz", "actions": [action]}]}
        answer = requests.post(
            url, json=body, headers={"Authorization": f"Bearer {admin}"}, timeout=TIMEOUT
        )
        assert answer.status_code == 201, answer.text
        tokens[name] = answer.json()["token"]
    seed = "\n".join(
        f"cpu,host=h{i % 3} usage={i / 2},idle={i}i {1_700_000_000 + i}" for i in range(9)
    )
    for database in ("fuzz", "other"):
        answer = requests.post(
            f"{server.http_url}/api/v3/write_lp",
            params={"db": database, "precision": "s"},
            data=seed,
            headers={"Authorization": f"Bearer {admin}"},
            timeout=TIMEOUT,
        )
        assert answer.status_code == 204, answer.text
    yield Secured(server, tokens)
    server.stop()


def _unchanged(secured: Secured, caller: str, before: tuple[object, ...]) -> None:
    after = secured.snapshot()
    if caller in ("none", "wrong", "reader"):
        assert after == before, f"{caller} changed data"
    elif caller == "writer":
        assert (after[0], after[2]) == (before[0], before[2]), "writer changed another database"


@settings(max_examples=budget(ci=30, deep=2_000))
@given(requests_(), st.sampled_from(CALLERS))
def test_fuzzed_http_requests_by_every_caller(
    secured: Secured, request: Request, caller: str
) -> None:
    before = secured.snapshot()
    headers = {**request.headers, **secured.header(caller)}
    answer = requests.request(
        request.method,
        secured.server.http_url + request.path,
        params=request.query,
        headers=headers,
        data=request.body,
        timeout=TIMEOUT,
    )
    assert answer.status_code < 500 or answer.status_code == 501, answer.text[:2000]
    assert "Traceback" not in answer.text
    _unchanged(secured, caller, before)


@settings(max_examples=budget(ci=30, deep=2_000))
@given(FLIGHT_CALLS, st.sampled_from(CALLERS))
def test_fuzzed_flight_calls_by_every_caller(
    secured: Secured, call: FlightCall, caller: str
) -> None:
    before = secured.snapshot()
    token = secured.tokens.get(caller)
    auth = [(b"authorization", f"Bearer {token}".encode())] if token else []
    with flight.FlightClient(secured.server.flight_uri) as client:
        try:
            run_flight_call(client, call, extra_headers=auth)
        except (flight.FlightError, pa.ArrowException, OSError) as error:
            assert not is_internal_error(error), f"{type(error).__name__}: {error}"
    _unchanged(secured, caller, before)


def test_no_unexpected_errors_were_logged(secured: Secured) -> None:
    """Runs last: a 500 or INTERNAL the assertions could not see still shows in the log."""
    lines = secured.server.log().splitlines()
    unexpected = [line for line in lines if "unexpected error" in line]
    assert not unexpected, "\n".join(unexpected[:20])
