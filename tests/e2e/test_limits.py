"""Abusive requests get a clear error while a steady writer and reader never fail.

The expression that segfaulted DataFusion, a memory bomb, a runaway query, the ReDoS
pattern, oversized lines and values, a body of bad lines and idle connections, all against
one server. ``test_steady_traffic_never_failed`` runs last and checks the bystanders.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pyarrow as pa
import pyarrow.flight as flight
import pytest
import requests

from flight_iox.launcher import RunningServer, start_server

T0 = 1_700_000_000_000_000_000
SEGFAULT = "SELECT " + "+".join(["1"] * 4000)
SLOW_PLAN = "SELECT " + "+".join(["1"] * 2000)
MEMORY_BOMB = "SELECT array_agg(value) FROM generate_series(1, 1000000000)"
RUNAWAY = "SELECT sum(value % 7) FROM generate_series(1, 100000000000)"
REDOS = "/^(.|.|.|.|.|.|.|.)*!$/"


class SteadyTraffic:
    """A writer and a reader in threads, recording every failure they see."""

    def __init__(self, server: RunningServer) -> None:
        self.server = server
        self.failures: list[str] = []
        self.writes = 0
        self.reads = 0
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=f) for f in (self._write, self._read)]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)

    def _write(self) -> None:
        n = 0
        while not self._stop.is_set():
            n += 1
            try:
                reply = requests.post(
                    f"{self.server.http_url}/api/v3/write_lp",
                    params={"db": "steady"},
                    data=f"beat,src=w n={n}i {T0 + n}",
                    timeout=30,
                )
                if reply.status_code != 204:
                    self.failures.append(f"write {reply.status_code}: {reply.text}")
                self.writes += 1
            except requests.RequestException as error:
                self.failures.append(f"write: {error!r}")
            time.sleep(0.05)

    def _read(self) -> None:
        while not self._stop.is_set():
            try:
                reply = requests.get(
                    f"{self.server.http_url}/api/v3/query_sql",
                    params={"db": "steady", "q": "SELECT count(*) AS n FROM beat"},
                    timeout=30,
                )
                if reply.status_code != 200:
                    self.failures.append(f"read {reply.status_code}: {reply.text}")
                self.reads += 1
            except requests.RequestException as error:
                self.failures.append(f"read: {error!r}")
            time.sleep(0.05)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """The one server. The runaway queries and the idle connections wait out its query
    timeout (1.5 s; was 3) and idle timeout (0.5 s; was 1): what they prove does not depend
    on the length, and the memory bomb hits its 128 MiB well inside 1.5 s."""
    running = start_server(
        tmp_path_factory.mktemp("limits") / "data",
        "--no-persist-on-shutdown",
        *("--query-timeout", "1.5", "--query-memory-limit", "128MiB"),
        *("--max-line-bytes", "64KiB", "--max-tag-value-bytes", "1KiB"),
        *("--http-idle-timeout", "0.5"),
    )
    reply = requests.post(
        f"{running.http_url}/api/v3/write_lp", params={"db": "steady"}, data=f"beat n=0i {T0}"
    )
    assert reply.status_code == 204
    yield running
    running.stop()


@pytest.fixture(scope="module")
def traffic(server: RunningServer) -> Iterator[SteadyTraffic]:
    steady = SteadyTraffic(server)
    steady.start()
    yield steady
    steady.stop()


def sql(server: RunningServer, q: str, db: str = "steady", **kw: object) -> requests.Response:
    return requests.get(
        f"{server.http_url}/api/v3/query_sql", params={"db": db, "q": q}, timeout=60, **kw
    )


def ticket(q: str, db: str = "steady", query_type: str = "sql") -> flight.Ticket:
    body = {"database": db, "sql_query": q, "query_type": query_type}
    return flight.Ticket(json.dumps(body).encode())


@pytest.mark.parametrize("q", [SEGFAULT, SLOW_PLAN], ids=["4000-terms", "2000-terms"])
def test_deep_expressions_are_refused_over_http(
    server: RunningServer, traffic: SteadyTraffic, q: str
) -> None:
    reply = sql(server, q)
    assert reply.status_code == 400
    assert "--max-expression-depth" in reply.json()["error"]


def test_deep_expressions_are_refused_over_flight(
    server: RunningServer, traffic: SteadyTraffic
) -> None:
    client = flight.connect(server.flight_uri)
    with pytest.raises(pa.ArrowInvalid, match="--max-expression-depth"):
        client.do_get(ticket(SEGFAULT)).read_all()


def test_deep_influxql_is_refused(server: RunningServer, traffic: SteadyTraffic) -> None:
    q = "SELECT " + "+".join(["n"] * 4000) + " FROM beat"
    for path in ("/api/v3/query_influxql", "/query"):
        reply = requests.get(
            f"{server.http_url}{path}", params={"db": "steady", "q": q}, timeout=60
        )
        assert reply.status_code == 400
        assert "expression too deep" in reply.json()["error"]


def test_memory_bomb_gets_resources_exhausted(
    server: RunningServer, traffic: SteadyTraffic
) -> None:
    reply = sql(server, MEMORY_BOMB)
    assert reply.status_code == 507
    assert "--query-memory-limit" in reply.json()["error"]
    assert requests.get(f"{server.http_url}/health", timeout=10).status_code == 200


def test_runaway_query_times_out_over_http(server: RunningServer, traffic: SteadyTraffic) -> None:
    reply = sql(server, RUNAWAY)
    assert reply.status_code == 504
    assert "--query-timeout" in reply.json()["error"]


def test_runaway_query_times_out_over_flight(server: RunningServer, traffic: SteadyTraffic) -> None:
    client = flight.connect(server.flight_uri)
    with pytest.raises(flight.FlightTimedOutError, match="--query-timeout"):
        client.do_get(ticket(RUNAWAY)).read_all()


def test_redos_pattern_answers_and_health_stays_up(
    server: RunningServer, traffic: SteadyTraffic
) -> None:
    reply = requests.post(
        f"{server.http_url}/api/v3/write_lp", params={"db": "redos"}, data=f"abcdefghi v=1 {T0}"
    )
    assert reply.status_code == 204
    health: list[int] = []
    done = threading.Event()

    def poll_health() -> None:
        while not done.is_set():
            health.append(requests.get(f"{server.http_url}/health", timeout=10).status_code)

    poller = threading.Thread(target=poll_health)
    poller.start()
    try:
        for q in (f"SHOW MEASUREMENTS WITH MEASUREMENT =~ {REDOS}", f"SELECT * FROM {REDOS}"):
            reply = requests.get(
                f"{server.http_url}/query", params={"db": "redos", "q": q}, timeout=60
            )
            assert reply.status_code == 200
            assert reply.json() == {"results": [{"statement_id": 0}]}
    finally:
        done.set()
        poller.join()
    assert health and set(health) == {200}


def test_regex_re2_refuses_gets_400(server: RunningServer, traffic: SteadyTraffic) -> None:
    # Its own row: the database must exist whether or not the test above ran first.
    written = requests.post(
        f"{server.http_url}/api/v3/write_lp", params={"db": "redos"}, data=f"abcdefghi v=1 {T0}"
    )
    assert written.status_code == 204
    reply = requests.get(
        f"{server.http_url}/api/v3/query_influxql",
        params={"db": "redos", "q": r"SELECT * FROM /(a)\1/"},
        timeout=60,
    )
    assert reply.status_code == 400
    assert "invalid regex" in reply.json()["error"]


@pytest.mark.parametrize(
    "line,limit",
    [
        ("big,host=" + "x" * 2000 + f" v=1 {T0}", "--max-tag-value-bytes"),
        ("big,host=a v=1,pad=" + "1" * 70_000 + f" {T0}", "--max-line-bytes"),
    ],
    ids=["tag", "line"],
)
def test_oversized_values_are_rejected_per_line(
    server: RunningServer, traffic: SteadyTraffic, line: str, limit: str
) -> None:
    body = f"big,host=a v=1 {T0}\n{line}\n"
    reply = requests.post(
        f"{server.http_url}/api/v3/write_lp", params={"db": "caps"}, data=body, timeout=60
    )
    assert reply.status_code == 400
    [error] = reply.json()["data"]
    assert error["line_number"] == 2 and limit in error["error_message"]
    assert len(error["original_line"]) < 400


def test_a_body_of_bad_lines_gets_a_capped_answer(
    server: RunningServer, traffic: SteadyTraffic
) -> None:
    body = "\n".join(f"bad v=oops{i} {T0}" for i in range(20_000))
    reply = requests.post(
        f"{server.http_url}/api/v3/write_lp", params={"db": "caps"}, data=body, timeout=60
    )
    assert reply.status_code == 400
    payload = reply.json()
    assert len(payload["data"]) == 100 and payload["more_line_errors"] == 19_900
    assert "and 19900 more" in payload["error"]
    assert len(reply.content) < 64 * 1024


def _connect(server: RunningServer) -> socket.socket:
    address = urlsplit(server.http_url)
    sock = socket.create_connection((address.hostname, address.port), timeout=30)
    return sock


def test_idle_connection_is_closed(server: RunningServer, traffic: SteadyTraffic) -> None:
    with _connect(server) as sock:
        assert sock.recv(1024) == b""  # closed by the server, without a request


def test_trickled_headers_do_not_keep_a_connection(
    server: RunningServer, traffic: SteadyTraffic
) -> None:
    closed = False
    with _connect(server) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        for _ in range(300):  # a header byte every 0.1 s, never the blank line
            try:
                sock.sendall(b"X")
            except OSError:
                closed = True
                break
            time.sleep(0.1)
        if not closed:
            sock.settimeout(30)
            closed = sock.recv(1024) == b""
    assert closed


def test_steady_traffic_never_failed(traffic: SteadyTraffic) -> None:
    traffic.stop()
    assert traffic.failures == []
    assert traffic.writes > 0 and traffic.reads > 0
