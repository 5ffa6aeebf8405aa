"""Push subscriptions (InfluxDB 1.x's CREATE SUBSCRIPTION) against real HTTP receivers on loopback.

Each write is acknowledged by a real server and must arrive, as line protocol, at the
receivers: ALL to each, ANY to one; a dead receiver gets its writes once it is back; a
``kill -9`` of the server loses none (at-least-once: only writes delivered just before
the kill may come twice).

The tests that need nothing but a running server share one (``server``, each test in a
database of its own; it is never restarted, so its stop persists nothing).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from influxdb import InfluxDBClient

from flight_iox.launcher import RunningServer, start_server
from tests.e2e.receiver import Receiver
from tests.e2e.tokens import bearer, bootstrap_admin, grant


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(tmp_path_factory.mktemp("push") / "data", "--no-persist-on-shutdown")
    yield running
    running.stop()


def _query(server: RunningServer, text: str) -> dict[str, object]:
    response = requests.post(f"{server.http_url}/query", params={"q": text}, timeout=30)
    response.raise_for_status()
    result: dict[str, object] = response.json()["results"][0]
    return result


def _write(server: RunningServer, body: str, db: str = "db") -> None:
    response = requests.post(f"{server.http_url}/write", params={"db": db}, data=body, timeout=30)
    assert response.status_code == 204, response.text


def _rows(server: RunningServer, db: str = "db") -> list[dict[str, object]]:
    """``system.subscriptions`` (the server's) for the subscriptions of ``db``."""
    sql = f"SELECT * FROM system.subscriptions WHERE database = '{db}'"
    response = requests.post(
        f"{server.http_url}/api/v3/query_sql",
        json={"db": db, "q": sql, "format": "json"},
        timeout=30,
    )
    response.raise_for_status()
    rows: list[dict[str, object]] = response.json()
    return rows


def _influx(server: RunningServer, db: str) -> InfluxDBClient:
    host, port = server.http_url.removeprefix("http://").split(":")
    return InfluxDBClient(host=host, port=int(port), database=db)


def test_all_sends_every_write_to_every_destination(server: RunningServer, db_name: str) -> None:
    """After the DROP, a write must reach no receiver of the dropped subscription. It waits for
    that write to reach a new subscription's receiver (the subscriptions read one feed), not a
    fixed second; a delivery of the dropped one would have been under way by then."""
    db = db_name
    first, second = Receiver(), Receiver()
    client = _influx(server, db)
    client.create_database(db)
    client.query(
        f'CREATE SUBSCRIPTION "s" ON "{db}"."autogen" DESTINATIONS ALL \'{first.url}\', '
        f"'{second.url}'",
        method="POST",
    )
    listed = list(client.query("SHOW SUBSCRIPTIONS").get_points(db))
    assert listed == [
        {
            "retention_policy": "autogen",
            "name": "s",
            "mode": "ALL",
            "destinations": [first.url, second.url],
        }
    ]
    _write(server, 'cpu,host=a\\ b usage=1.5,n=3i,ok=true,s="x \\"y\\"" 1000', db)
    _write(server, "cpu,host=c usage=2 2000\nmem free=7u 3000", db)
    _write(server, "cpu v=1 1", db=f"{db}_other")  # another database: not this subscription's
    expected = [
        'cpu,host=a\\ b n=3i,ok=true,s="x \\"y\\"",usage=1.5 1000',
        "cpu,host=c usage=2 2000",
        "mem free=7u 3000",
    ]
    assert first.wait_for(3) == expected
    assert second.wait_for(3) == expected
    path, params, _, _ = first.requests[0]
    assert path == "/write"
    assert params == {"db": [db], "rp": ["autogen"], "precision": ["ns"]}
    rows = _rows(server, db)
    assert [r["destination"] for r in rows] == [first.url, second.url]
    assert all(r["delivered_writes"] == 2 and r["state"] == "ok" for r in rows)

    client.query(f'DROP SUBSCRIPTION "s" ON "{db}"."autogen"', method="POST")
    assert list(client.query("SHOW SUBSCRIPTIONS").get_points(db)) == []
    witness = Receiver()
    witnessed = f'CREATE SUBSCRIPTION "w" ON "{db}"."autogen" DESTINATIONS ALL \'{witness.url}\''
    client.query(witnessed, method="POST")
    _write(server, "cpu v=9 9", db)
    assert witness.wait_for(1) == ["cpu v=9 9"]
    # The subscription is gone: its deliverers are no longer listed (each subscription has
    # a delivery thread of its own, so the witness's delivery alone does not prove it).
    assert [r["destination"] for r in _rows(server, db)] == [witness.url]
    assert len(first.lines()) == 3 and len(second.lines()) == 3


def test_any_sends_each_write_to_one_destination_and_fails_over(
    server: RunningServer, db_name: str
) -> None:
    first, second = Receiver(), Receiver()
    _query(server, f"CREATE DATABASE {db_name}")
    destinations = f"'{first.url}', '{second.url}'"
    created = _query(
        server, f"CREATE SUBSCRIPTION s ON {db_name}.autogen DESTINATIONS ANY {destinations}"
    )
    assert "error" not in created
    for i in range(6):
        _write(server, f"m v={i} {i}", db_name)
        deadline = time.monotonic() + 30
        while len(first.lines()) + len(second.lines()) <= i and time.monotonic() < deadline:
            time.sleep(0.02)
    a, b = set(first.lines()), set(second.lines())
    assert a | b == {f"m v={i} {i}" for i in range(6)}
    assert not a & b  # each write went to one destination
    assert a and b  # round robin: both got some

    second.stop()  # failover: every write now reaches the first
    for i in range(6, 10):
        _write(server, f"m v={i} {i}", db_name)
    arrived = set(first.wait_for(len(a) + 4))
    assert {f"m v={i} {i}" for i in range(6, 10)} <= arrived


def test_dead_destination_gets_its_writes_when_it_comes_back(
    server: RunningServer, db_name: str
) -> None:
    db = db_name
    receiver = Receiver()
    _query(server, f"CREATE DATABASE {db}")
    _query(server, f"CREATE SUBSCRIPTION s ON {db} DESTINATIONS ALL '{receiver.url}'")
    receiver.stop()
    for i in range(5):
        _write(server, f"m v={i} {i}", db)
    deadline = time.monotonic() + 30
    while not (rows := _rows(server, db))[0]["failures"] and time.monotonic() < deadline:
        time.sleep(0.1)
    row = rows[0]
    assert row["state"] == "retrying" and row["lag_entries"] >= 1
    assert "ConnectionError" in str(row["last_error"]) and row["last_error_time"]
    receiver.start()  # the same port: the retries (with backoff) reach it
    assert receiver.wait_for(5) == [f"m v={i} {i}" for i in range(5)]
    deadline = time.monotonic() + 30
    while (row := _rows(server, db)[0])["lag_entries"] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert row["state"] == "ok" and row["lag_entries"] == 0

    receiver.failing = True  # answers 500: retried too, then delivered
    _write(server, "m v=5 5", db)
    time.sleep(0.5)
    receiver.failing = False
    assert receiver.wait_for(6)[-1] == "m v=5 5"


def test_kill_9_loses_no_acknowledged_write(data_dir: Path) -> None:
    receiver = Receiver()
    server = start_server(data_dir)
    _query(server, "CREATE DATABASE db")
    _query(server, f"CREATE SUBSCRIPTION s ON db.autogen DESTINATIONS ALL '{receiver.url}'")
    acknowledged: list[str] = []
    stop = threading.Event()

    def write_until_stopped(target: RunningServer, start: int) -> None:
        i = start
        while not stop.is_set():
            line = f"m v={i} {i}"
            try:
                _write(target, line)
            except requests.RequestException:
                return  # the server died under this write: it was never acknowledged
            acknowledged.append(line)
            i += 1

    writer = threading.Thread(target=write_until_stopped, args=(server, 0))
    writer.start()
    receiver.wait_for(50)
    server.kill()  # kill -9, mid-stream
    stop.set()
    writer.join()
    before = list(acknowledged)

    server = start_server(data_dir)
    try:
        assert _query(server, "SHOW SUBSCRIPTIONS")["series"]  # the definition survived
        stop.clear()
        writer = threading.Thread(target=write_until_stopped, args=(server, 100_000))
        writer.start()
        deadline = time.monotonic() + 30  # some writes after the restart (was: 1 s of them)
        while len(acknowledged) < len(before) + 20 and time.monotonic() < deadline:
            time.sleep(0.01)
        stop.set()
        writer.join()
        after = [line for line in acknowledged if line not in set(before)]
        assert after
        lines = receiver.wait_for(len(set(acknowledged)))
        deadline = time.monotonic() + 60
        while not set(acknowledged) <= set(lines) and time.monotonic() < deadline:
            time.sleep(0.1)
            lines = receiver.lines()
    finally:
        server.stop()
    received = set(lines)
    assert set(acknowledged) <= received  # no gap
    assert received - set(acknowledged) <= {f"m v={len(before)} {len(before)}"}  # in flight
    duplicates = {line for line in lines if lines.count(line) > 1}
    assert not duplicates & set(after)  # only writes delivered before the kill come twice
    order = [int(line.split()[1][2:]) for line in lines]
    assert sorted(set(order)) == sorted(set(order), key=order.index)  # first arrivals in order


def test_subscriptions_need_an_admin_token_and_valid_destinations(tmp_path: Path) -> None:
    server = start_server(tmp_path / "auth", "--auth", "required")
    try:
        admin = bootstrap_admin(server.http_url)
        headers = bearer(admin)
        requests.post(
            f"{server.http_url}/query", params={"q": "CREATE DATABASE db"}, headers=headers
        ).raise_for_status()
        actions = ["read", "write", "create", "delete"]
        writer = grant(server.http_url, admin, "dbtoken", "db", actions)
        text = "CREATE SUBSCRIPTION s ON db DESTINATIONS ALL 'http://127.0.0.1:9'"
        refused = requests.post(
            f"{server.http_url}/query", params={"q": text}, headers=bearer(writer)
        )
        assert refused.status_code == 403, refused.text
        for bad, message in [
            ("ftp://127.0.0.1:9", "http:// and https:// only"),
            ("udp://127.0.0.1:9", "http:// and https:// only"),
            ("http://", "no host"),
            ("http://h:99999", "invalid subscription URL"),
        ]:
            answer = requests.post(
                f"{server.http_url}/query",
                params={"q": f"CREATE SUBSCRIPTION s ON db DESTINATIONS ANY '{bad}'"},
                headers=headers,
            )
            assert message in answer.json()["results"][0]["error"], bad
        shown = requests.get(
            f"{server.http_url}/query", params={"q": "SHOW SUBSCRIPTIONS"}, headers=bearer(writer)
        )
        assert shown.status_code == 403
    finally:
        server.stop()


@pytest.mark.parametrize("hold_bytes", ["1GiB", "1"])
def test_a_persist_keeps_the_wal_a_subscription_needs_up_to_the_bound(
    tmp_path: Path, hold_bytes: str
) -> None:
    # Little feed memory: what the WAL deleted is not served from memory either.
    flags = ("--wal-segment-bytes", "2KiB", "--wal-hold-max-bytes", hold_bytes,
             "--wal-feed-memory", "1")  # fmt: skip
    server = start_server(tmp_path / "data", *flags)
    try:
        receiver = Receiver()
        _query(server, "CREATE DATABASE db")
        _query(server, f"CREATE SUBSCRIPTION s ON db DESTINATIONS ALL '{receiver.url}'")
        receiver.stop()
        for i in range(30):
            _write(server, f"m v={i} {i}")
        response = requests.post(f"{server.http_url}/api/v3/persist", timeout=60)
        assert response.status_code == 200, response.text
        segments = list((tmp_path / "data" / "wal").glob("*.wal"))
        receiver.start()
        if hold_bytes == "1GiB":  # held: every write arrives although it was persisted
            assert len(segments) > 5
            assert receiver.wait_for(30) == [f"m v={i} {i}" for i in range(30)]
            return
        # Past the bound: the deleted segments' writes are skipped, counted and reported.
        deadline = time.monotonic() + 30
        while not (row := _rows(server)[0])["lost_entries"] and time.monotonic() < deadline:
            time.sleep(0.1)
        assert 0 < row["lost_entries"] < 30
        assert "--wal-hold-max-bytes" in str(row["last_error"])
        lines = receiver.wait_for(30 - int(row["lost_entries"]))
        values = [int(line.split()[-1]) for line in lines]
        assert len(values) == 30 - row["lost_entries"] and values == sorted(values)
        assert values[-1] == 29  # the writes after the gap all arrive
    finally:
        server.stop()
