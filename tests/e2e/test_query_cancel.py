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

from flight_iox.flightsql.commands import pack
from flight_iox.flightsql.generated import FlightSql_pb2 as pb
from flight_iox.launcher import RunningServer, start_server

RUNAWAY = "SELECT sum(value % 7) FROM generate_series(1, 100000000000)"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(
        tmp_path_factory.mktemp("cancel") / "data",
        "--no-persist-on-shutdown",
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


def send_query(server: RunningServer, q: str) -> socket.socket:
    """Send a query on a raw connection (closing it is the disconnect)."""
    address = urlsplit(server.http_url)
    sock = socket.create_connection((address.hostname, address.port), timeout=120)
    target = "/api/v3/query_sql?" + urlencode({"db": "c", "q": q})
    sock.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    return sock


def read_reply(sock: socket.socket) -> tuple[int, bytes]:
    """The status and body of the reply on ``sock`` (the server closes after it)."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def gauge(server: RunningServer, name: str) -> float:
    """One unlabelled gauge of the server's ``/metrics`` (which takes no query slot)."""
    text = requests.get(f"{server.http_url}/metrics", timeout=30).text
    [value] = [line.split()[1] for line in text.splitlines() if line.startswith(f"{name} ")]
    return float(value)


def wait_for_gauge(server: RunningServer, name: str, value: float) -> None:
    """Until the gauge reads ``value`` (a query admitted, or queued, as the test needs)."""
    for _ in range(600):
        if gauge(server, name) == value:
            return
        time.sleep(0.05)
    raise AssertionError(f"{name} never read {value}")


def wait_until_busy(server: RunningServer) -> None:
    """Until the runaway holds the one slot.

    Read from the metrics rather than probed with queries: a probe that had to wait took the
    one place in the queue until the server noticed it was abandoned, so the query the test
    queued next could be refused instead (the flake this replaced).
    """
    wait_for_gauge(server, "flight_iox_query_slots_used", 1)


def test_http_disconnect_cancels_the_query_and_frees_its_slot(server: RunningServer) -> None:
    runaway = send_query(server, RUNAWAY)
    queued = None
    try:
        wait_until_busy(server)
        queued = send_query(server, "SELECT 2 AS two")  # takes the one place in the queue
        wait_for_gauge(server, "flight_iox_queries_waiting", 1)
        busy = sql(server, "SELECT 3 AS three")
        assert busy.status_code == 503
        assert int(busy.headers["Retry-After"]) >= 1
        assert "--max-concurrent-queries" in busy.json()["error"]
    finally:
        runaway.close()  # the client goes away: the runaway is cancelled, the queued one runs
    assert queued is not None
    with queued:
        status, body = read_reply(queued)
    assert status == 200 and b'"two"' in body


def test_flight_cancel_stops_the_query_and_frees_its_slot(server: RunningServer) -> None:
    client = flight.connect(server.flight_uri)
    body = {"database": "c", "sql_query": RUNAWAY, "query_type": "sql"}
    options = flight.FlightCallOptions(timeout=2)  # the client gives up: gRPC cancels the call
    with pytest.raises((flight.FlightTimedOutError, flight.FlightCancelledError)):
        client.do_get(flight.Ticket(json.dumps(body).encode()), options).read_all()
    reply = sql(server, "SELECT 4 AS four", timeout=120)  # waits for the slot if still held
    assert reply.status_code == 200 and reply.json() == [{"four": 4}]


def test_cancel_flight_info_stops_the_running_doget(server: RunningServer) -> None:
    client = flight.connect(server.flight_uri)
    options = flight.FlightCallOptions(headers=[(b"database", b"c")])
    command = pack(pb.CommandStatementQuery(query=RUNAWAY))
    info = client.get_flight_info(flight.FlightDescriptor.for_command(command), options)
    errors: list[BaseException] = []

    def read() -> None:
        try:
            client.do_get(info.endpoints[0].ticket, options).read_all()
        except flight.FlightError as error:
            errors.append(error)

    reader = threading.Thread(target=read)
    reader.start()
    wait_until_busy(server)
    request = pb.CancelFlightInfoRequest(info=info.serialize())
    [result] = client.do_action(flight.Action("CancelFlightInfo", request.SerializeToString()))
    status = pb.CancelFlightInfoResult.FromString(result.body.to_pybytes()).status
    assert status == pb.CANCEL_STATUS_CANCELLED
    reader.join(timeout=120)
    assert len(errors) == 1 and isinstance(errors[0], flight.FlightCancelledError)
    reply = sql(server, "SELECT 5 AS five", timeout=120)
    assert reply.status_code == 200 and reply.json() == [{"five": 5}]
    [again] = client.do_action(flight.Action("CancelFlightInfo", request.SerializeToString()))
    after = pb.CancelFlightInfoResult.FromString(again.body.to_pybytes()).status
    assert after == pb.CANCEL_STATUS_NOT_CANCELLABLE  # nothing runs any more
