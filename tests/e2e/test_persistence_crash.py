"""``kill -9`` while persisting and compacting, repeatedly: no acknowledged point lost or doubled.

Writer threads send batches of unique keys to two databases and remember which
were acknowledged (204). A persist thread keeps calling ``POST /api/v3/persist``,
for everything or for one database alone, and a small row trigger makes the
background persister run too. At a random moment the server
gets ``SIGKILL``; it restarts on the same data folder, and the next round goes
on. At the end every acknowledged point is there exactly once, unacknowledged
ones at most once, and PyIceberg still loads and scans the tables.
"""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path

import pytest
import requests

from flight_iox.launcher import RunningServer, start_server
from tests.e2e.moto_s3 import MotoS3, moto_s3, set_aws_env
from tests.e2e.test_persistence import T0, persist, query, write
from tests.e2e.test_persistence_postgres import catalog_uri
from tests.e2e.test_persistence_s3 import pyiceberg_catalog

__all__ = ["catalog_uri", "moto_s3"]  # fixtures, imported for pytest

DATABASES = ("crash", "crash_b")  # writer w writes to DATABASES[w % 2]
WRITERS = 2
BATCH = 200
NS_PER_WRITER = 10**12


class Load:
    """Writers and a persist loop against one server, recording acknowledged keys."""

    def __init__(self, server: RunningServer, next_seq: list[int]) -> None:
        self.server = server
        self.next_seq = next_seq  # per writer, carried across rounds
        self.acked: set[tuple[str, int]] = set()
        self.sent: set[tuple[str, int]] = set()
        self.persists = 0
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._write, args=(w,), daemon=True) for w in range(WRITERS)
        ]
        self._threads.append(threading.Thread(target=self._persist, daemon=True))

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)

    def _write(self, writer: int) -> None:
        tag = f"w{writer}"
        while not self._stop.is_set():
            start = self.next_seq[writer]
            keys = [(tag, writer * NS_PER_WRITER + s) for s in range(start, start + BATCH)]
            body = "\n".join(f"m,writer={t} v={o}i {T0 + o}" for t, o in keys)
            self.sent.update(keys)
            self.next_seq[writer] = start + BATCH
            try:
                reply = requests.post(
                    f"{self.server.http_url}/api/v3/write_lp",
                    params={"db": DATABASES[writer % 2]}, data=body, timeout=30,
                )  # fmt: skip
            except requests.RequestException:
                return  # the server is gone: these keys are unacknowledged
            if reply.status_code == 204:
                self.acked.update(keys)

    def _persist(self) -> None:
        pick = random.Random(len(self.sent))
        while not self._stop.is_set():
            database = pick.choice([None, *DATABASES])  # one database commits alone, too
            action = pick.choice(["persist", "persist", "compact"])  # kill -9 lands in both
            try:
                requests.post(
                    f"{self.server.http_url}/api/v3/{action}",
                    params={"db": database} if database else {}, timeout=30,
                )  # fmt: skip
                self.persists += 1
            except requests.RequestException:
                return


def _run_rounds(tmp_path: Path, rounds: int, seed: int, extra: tuple[str, ...] = ()) -> None:
    rng = random.Random(seed)
    data_dir = tmp_path / "data"
    flags = ("--persist-max-rows", "500", *extra)
    next_seq = [0] * WRITERS
    acked: set[tuple[str, int]] = set()
    sent: set[tuple[str, int]] = set()
    for _ in range(rounds):
        server = start_server(data_dir, *flags, timeout=120)
        with Load(server, next_seq) as load:
            time.sleep(rng.uniform(0.2, 1.2))
            server.kill()
        acked |= load.acked
        sent |= load.sent
    assert acked, "no write was acknowledged"

    server = start_server(data_dir, *flags, timeout=120)
    try:
        found = [
            (row["writer"], row["v"])
            for database in DATABASES
            for row in query(server, database, "SELECT writer, v FROM m")
        ]
        assert len(found) == len(set(found)), "a point is there twice"
        missing = acked - set(found)
        assert not missing, f"{len(missing)} acknowledged points lost, e.g. {sorted(missing)[:5]}"
        assert set(found) <= sent
        exact = f"SELECT count(*) AS n FROM m WHERE CAST(time AS BIGINT) - v = {T0}"
        times = sum(query(server, database, exact)[0]["n"] for database in DATABASES)
        assert times == len(found)  # time and value stayed together, to the ns
        persist(server)
        catalog = pyiceberg_catalog(server.http_url)
    finally:
        server.stop()
    keys = set()
    for database in DATABASES:
        scan = catalog.load_table((database, "m")).scan(selected_fields=("writer", "v"))
        rows = scan.to_arrow().to_pylist()
        keys |= {(row["writer"], row["v"]) for row in rows}
    assert keys == set(found)  # raw files may repeat a replayed key; the set is the same


def test_kill_9_during_persistence_loses_and_doubles_nothing(tmp_path: Path) -> None:
    _run_rounds(tmp_path, rounds=5, seed=3)


def test_kill_9_during_persistence_through_the_encoder_process(tmp_path: Path) -> None:
    """Persists encoded in the child process (``persist/encoder.py``): a ``kill -9`` of the
    server mid-encode loses nothing either."""
    _run_rounds(tmp_path, rounds=4, seed=7, extra=("--persist-encoder-min-rows", "100"))


@pytest.mark.slow
def test_kill_9_during_persistence_many_rounds(tmp_path: Path) -> None:
    _run_rounds(tmp_path, rounds=20, seed=11)


@pytest.mark.slow
def test_kill_9_during_persistence_on_s3_and_postgres(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, moto_s3: MotoS3, catalog_uri: str
) -> None:
    set_aws_env(monkeypatch)
    flags = ("--catalog-uri", catalog_uri, *moto_s3.flags(prefix="crash"))
    _run_rounds(tmp_path, rounds=10, seed=5, extra=flags)


def test_kill_9_after_persisting_another_database_keeps_unpersisted_tables(
    tmp_path: Path,
) -> None:
    """A commit records the global WAL sequence; tables it did not cover must still replay."""
    data_dir = tmp_path / "data"
    server = start_server(data_dir, timeout=120)
    try:
        write(server, "first", f"t,k=a v=1 {T0}")  # never persisted, not in Iceberg yet
        write(server, "second", f"u,k=b v=2 {T0}")
        assert persist(server, "second")["rows"] == 1  # commits with the later sequence
    finally:
        server.kill()
    server = start_server(data_dir, timeout=120)
    try:
        assert query(server, "first", "SELECT k, v FROM t") == [{"k": "a", "v": 1.0}]
        assert query(server, "second", "SELECT k, v FROM u") == [{"k": "b", "v": 2.0}]
    finally:
        server.stop()
