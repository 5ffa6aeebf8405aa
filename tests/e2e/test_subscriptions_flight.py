"""Streaming subscriptions over Flight: a DoGet with a subscribe ticket, against a real server.

Rows arrive as they are acknowledged, projected and filtered, each message tagged with
its WAL sequence; the client helper (``adbc_driver_flight_iox.subscribe``) follows a
server through ``kill -9`` and a restart without a gap.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.flight as flight
import pytest
import requests

from adbc_driver_flight_iox.subscribe import SubscriptionBatch, subscribe
from flight_iox.launcher import RunningServer, start_server


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _write(server: RunningServer, body: str) -> None:
    response = requests.post(f"{server.http_url}/write", params={"db": "db"}, data=body, timeout=30)
    assert response.status_code == 204, response.text


def _ticket(**spec: object) -> flight.Ticket:
    return flight.Ticket(json.dumps({"subscribe": {"database": "db", **spec}}).encode())


def test_rows_stream_projected_and_filtered_with_their_sequence(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data")
    try:
        _write(server, "cpu,host=a usage=10,idle=1i 1\ncpu,host=b usage=95 2")
        client = flight.connect(server.flight_uri)
        where = "usage > 50 AND host <> 'c'"
        ticket = _ticket(table="cpu", columns=["host", "usage"], where=where, from_sequence=1)
        reader = client.do_get(ticket)
        assert reader.schema.names == ["host", "usage"]
        start = reader.read_chunk()
        assert start.data.num_rows == 0
        assert json.loads(start.app_metadata.to_pybytes()) == {"wal_sequence": 0}
        first = reader.read_chunk()  # the rows already written, from sequence 1
        assert first.data.to_pylist() == [{"host": "b", "usage": 95.0}]
        assert json.loads(first.app_metadata.to_pybytes()) == {"wal_sequence": 1}
        _write(server, "cpu,host=c usage=99 3\ncpu,host=d usage=60 4\ncpu,host=e usage=1 5")
        _write(server, "mem,host=d used=70 6")  # another table: only the position moves
        _write(server, "cpu,host=f usage=70 7")
        rows, sequences = [], []
        while len(rows) < 2:
            chunk = reader.read_chunk()
            rows += chunk.data.to_pylist()
            sequences.append(json.loads(chunk.app_metadata.to_pybytes())["wal_sequence"])
        assert rows == [{"host": "d", "usage": 60.0}, {"host": "f", "usage": 70.0}]
        assert sequences == sorted(sequences) and sequences[-1] == 4
        reader.cancel()

        for spec, message in [
            ({"table": "cpu", "where": "nosuch > 1"}, "No field named nosuch"),
            ({"table": "cpu", "where": "usage > 1; DROP TABLE cpu"}, "bad 'where' predicate"),
            ({"table": "cpu", "where": "host IN (SELECT host FROM other.iox.cpu)"}, "not found"),
            ({"table": "cpu", "columns": ["nope"]}, "not in table db.cpu"),
            ({"table": "cpu", "from_sequence": -1}, "from_sequence"),
            ({"table": "cpu", "limit": 3}, "unknown field"),
        ]:
            with pytest.raises(pa.ArrowException, match=message) as caught:
                client.do_get(_ticket(**spec)).read_chunk()
            assert "Traceback" not in str(caught.value)
        with pytest.raises(pa.ArrowException, match=r"table not found: db\.nope"):
            client.do_get(_ticket(table="nope")).read_chunk()
    finally:
        server.stop()


def test_the_client_resumes_after_kill_9_and_a_restart(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    port = _free_port()
    flight_addr = ("--flight-addr", f"127.0.0.1:{port}")
    server = start_server(data_dir, *flight_addr)
    _write(server, "cpu,host=a n=-1i 0")  # the table exists before the subscriber asks
    received: list[SubscriptionBatch] = []
    stop, opened = threading.Event(), threading.Event()

    def follow() -> None:
        # Heartbeats too: the stream's first message (no rows) says it is open.
        updates = subscribe(f"grpc://127.0.0.1:{port}", "db", "cpu", columns=["n"],
                            where="n >= 0", heartbeats=True, reconnect_delay=0.05)  # fmt: skip
        for update in updates:
            opened.set()
            if update.batch.num_rows:
                received.append(update)
            if stop.is_set():
                return

    def values() -> list[int]:
        return [v for update in list(received) for v in update.batch.column("n").to_pylist()]

    def wait_for(count: int) -> list[int]:
        deadline = time.monotonic() + 60
        while len(set(values())) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return values()

    follower = threading.Thread(target=follow, daemon=True)
    follower.start()
    assert opened.wait(60)  # the stream is open (it starts with the next write)
    for i in range(10):
        _write(server, f"cpu,host=a n={i}i {i + 1}")
    assert sorted(set(wait_for(10))) == list(range(10))
    server.kill()
    server = start_server(data_dir, *flight_addr)
    try:
        for i in range(10, 20):
            _write(server, f"cpu,host=a n={i}i {i + 1}")
        seen = wait_for(20)
        assert sorted(set(seen)) == list(range(20))  # no gap across the restart
        assert seen[:10] == list(range(10))  # in write order
        sequences = [u.sequence for u in received]
        assert sequences == sorted(sequences)

        # A new subscriber from an old sequence: the restarted server replays it from the WAL.
        # An update may carry several writes (a stream catching up under load), and its
        # sequence is its last write's, so the replay starts at that update's last value.
        update = next(u for u in received if u.batch.column("n").to_pylist()[-1] >= 5)
        first = update.batch.column("n").to_pylist()[-1]
        client = flight.connect(server.flight_uri)
        reader = client.do_get(_ticket(table="cpu", columns=["n"], from_sequence=update.sequence))
        replayed: list[int] = []
        while len(replayed) < 20 - first:
            replayed += reader.read_chunk().data.column("n").to_pylist()
        assert replayed == list(range(first, 20))
        reader.cancel()
        stop.set()
        _write(server, "cpu,host=a n=99i 99")  # wakes the follower so it sees the stop
    finally:
        server.stop()
