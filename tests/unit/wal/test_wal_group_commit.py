"""Concurrent appenders share fsyncs and still get unique, contiguous, durable sequences."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from flight_iox.wal import WriteAheadLog
from tests.unit.wal.wal_testing import open_log


def _hammer(wal: WriteAheadLog, threads: int, per_thread: int) -> dict[int, bytes]:
    acknowledged: dict[int, bytes] = {}
    lock = threading.Lock()
    start = threading.Barrier(threads)

    def run(worker: int) -> None:
        start.wait()
        for i in range(per_thread):
            payload = f"worker {worker} append {i}".encode()
            sequence = wal.append(payload)
            with lock:
                assert sequence not in acknowledged
                acknowledged[sequence] = payload

    pool = [threading.Thread(target=run, args=(n,)) for n in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return acknowledged


@pytest.mark.parametrize("threads", [8, 16])
def test_concurrent_appends_share_fsyncs(tmp_path: Path, threads: int) -> None:
    per_thread = 40
    wal = open_log(tmp_path, segment_bytes=4096)
    acknowledged = _hammer(wal, threads, per_thread)
    appends = threads * per_thread
    assert sorted(acknowledged) == list(range(1, appends + 1))
    syncs = wal.sync_count
    assert 0 < syncs < appends, f"{syncs} fsyncs for {appends} appends"
    wal.close()

    replayed = list(WriteAheadLog(tmp_path).replay())
    assert {e.sequence: e.payload for e in replayed} == acknowledged
    assert len(WriteAheadLog(tmp_path).segment_paths()) > 1  # rotation happened under load


def test_lone_writer_fsyncs_every_append(tmp_path: Path) -> None:
    wal = open_log(tmp_path)
    for i in range(5):
        wal.append(b"x")
        assert wal.sync_count == i + 1  # durable on return, no batching delay
    wal.close()


def test_sync_false_does_not_fsync(tmp_path: Path) -> None:
    wal = open_log(tmp_path)
    wal.append(b"durable")
    before = wal.sync_count
    for _ in range(10):
        wal.append(b"fast", sync=False)
    assert wal.sync_count == before
    wal.append(b"durable again")  # covers the unsynced entries before it too
    assert wal.sync_count == before + 1
    wal.close()
    assert [e.sequence for e in WriteAheadLog(tmp_path).replay()] == list(range(1, 13))


def test_close_syncs_unsynced_entries(tmp_path: Path) -> None:
    wal = open_log(tmp_path)
    wal.append(b"fast", sync=False)
    before = wal.sync_count
    wal.close()
    assert wal.sync_count == before + 1


def test_without_group_commit_every_append_pays_its_own_fsync(tmp_path: Path) -> None:
    wal = open_log(tmp_path, group_commit=False)
    acknowledged = _hammer(wal, 8, 10)
    assert sorted(acknowledged) == list(range(1, 81))
    assert wal.sync_count == 80
    wal.close()
