"""kill -9 at random moments never loses an acknowledged write."""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path

import requests

from flight_iox.launcher import RunningServer, start_server

T0 = 1_700_000_000_000_000_000
WRITERS = 4
ROUNDS = 5


def _writer(
    server: RunningServer, writer: int, start: int, acked: list[int], stop: threading.Event
):
    session = requests.Session()
    n = start
    while not stop.is_set():
        lines = "\n".join(
            f"crash,writer=w{writer} seq={i}i {T0 + writer * 10**12 + i}" for i in range(n, n + 20)
        )
        try:
            reply = session.post(
                f"{server.http_url}/api/v3/write_lp", params={"db": "crash"}, data=lines, timeout=10
            )
        except requests.RequestException:
            return  # the server died mid-request: this batch was never acknowledged
        if reply.status_code != 204:
            return
        acked.extend(range(n, n + 20))
        n += 20


def _present(server: RunningServer) -> list[tuple[str, int]]:
    reply = requests.get(
        f"{server.http_url}/api/v3/query_sql",
        params={"db": "crash", "q": "SELECT writer, seq FROM crash"},
        timeout=60,
    )
    reply.raise_for_status()
    return [(row["writer"], row["seq"]) for row in reply.json()]


def test_kill_minus_nine_loses_no_acknowledged_write(tmp_path: Path) -> None:
    rng = random.Random(20261126)
    data_dir = tmp_path / "data"
    acked: dict[int, list[int]] = {w: [] for w in range(WRITERS)}
    for _ in range(ROUNDS):
        server = start_server(data_dir)
        stop = threading.Event()
        threads = [
            threading.Thread(
                target=_writer,
                args=(server, w, (max(acked[w]) + 1000) if acked[w] else 0, acked[w], stop),
            )
            for w in range(WRITERS)
        ]
        for thread in threads:
            thread.start()
        time.sleep(rng.uniform(0.3, 1.5))
        server.kill()
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    server = start_server(data_dir)
    try:
        present = _present(server)
    finally:
        server.stop()
    assert len(present) == len(set(present)), "a point is present more than once"
    present_set = set(present)
    missing = [(w, s) for w in acked for s in acked[w] if (f"w{w}", s) not in present_set]
    total = sum(len(v) for v in acked.values())
    assert total > 0, "no write was acknowledged: the test proved nothing"
    assert not missing, f"{len(missing)} of {total} acknowledged points lost, e.g. {missing[:5]}"
