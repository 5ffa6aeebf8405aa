"""A query whose client goes away is cancelled: its slot (one here) frees for the next query.

The server runs one query at a time with one waiting, and a timeout long enough that only a
cancellation can free the slot within the test's patience.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from urllib.parse import urlencode, urlsplit

import pyarrow.flight as flight
import pytest
import requests

from flight_iox.launcher import RunningServer, start_server

RUNAWAY = "SELECT sum(value % 7) FROM generate_series(1, 100000000000)"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(
        tmp_path_factory.mktemp("cancel") / "data",
        *("--max-concurrent-queries", "1", "--max-queued-queries", "1"),
        *("--query-timeout", "600"),
    )
    reply = requests.post(f"{running.http_url}/api/v3/write_lp", params={"db": "c"}, data="m v=1")
    assert reply.status_code == 204
    yield running
    running.stop()


def sql(server: RunningServer, q: str, timeout: float = 60) -> requests.Response:
    return requests.get(
        f"{server.http_url}/api/v3/query_sql", params={"db": "c", "q": q}, timeout=timeout
    )


def start_runaway_over_http(server: RunningServer) -> socket.socket:
    """Send the runaway query on a raw connection (closing it is the disconnect)."""
    address = urlsplit(server.http_url)
    sock = socket.create_connection((address.hostname, address.port), timeout=30)
    target = "/api/v3/query_sql?" + urlencode({"db": "c", "q": RUNAWAY})
    sock.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    return sock


def wait_until_busy(server: RunningServer) -> None:
    """Until the runaway holds the slot (a probe is refused or queued, not run)."""
    for _ in range(300):
        try:
            probe = requests.get(
                f"{server.http_url}/api/v3/query_sql",
                params={"db": "c", "q": "SELECT 1 AS one"},
                timeout=0.5,
            )
        except requests.Timeout:  # queued behind the runaway; gone, so it is cancelled
            time.sleep(1)  # let it leave the queue before the test fills it
            return
        if probe.status_code == 503:
            return
        time.sleep(0.1)
    raise AssertionError("the runaway query never took the slot")


def test_http_disconnect_cancels_the_query_and_frees_its_slot(server: RunningServer) -> None:
    runaway = start_runaway_over_http(server)
    try:
        wait_until_busy(server)
        queued: list[requests.Response] = []
        waiter = threading.Thread(target=lambda: queued.append(sql(server, "SELECT 2 AS two")))
        waiter.start()
        busy = None
        for _ in range(100):  # the waiter takes the one place in the queue
            busy = sql(server, "SELECT 3 AS three")
            if busy.status_code == 503:
                break
            time.sleep(0.1)
        assert busy is not None and busy.status_code == 503
        assert int(busy.headers["Retry-After"]) >= 1
        assert "--max-concurrent-queries" in busy.json()["error"]
    finally:
        runaway.close()  # the client goes away: the runaway is cancelled, the waiter runs
    waiter.join(timeout=120)
    assert [r.status_code for r in queued] == [200]
    assert queued[0].json() == [{"two": 2}]


def test_flight_cancel_stops_the_query_and_frees_its_slot(server: RunningServer) -> None:
    client = flight.connect(server.flight_uri)
    body = {"database": "c", "sql_query": RUNAWAY, "query_type": "sql"}
    options = flight.FlightCallOptions(timeout=2)  # the client gives up: gRPC cancels the call
    with pytest.raises((flight.FlightTimedOutError, flight.FlightCancelledError)):
        client.do_get(flight.Ticket(json.dumps(body).encode()), options).read_all()
    reply = sql(server, "SELECT 4 AS four", timeout=120)  # waits for the slot if still held
    assert reply.status_code == 200 and reply.json() == [{"four": 4}]
